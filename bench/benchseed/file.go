package benchseed

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/carnet-sante/carnet/internal/identity"
)

// File is what `mhdload seed` writes and the load, search and verify commands read: the
// professional's bearer token and the INS of the seeded patients. It holds a secret: it is
// written owner-only.
//
//	# a comment line
//	token carnet_…
//	professional 819990000010
//	hot 270017510000094 1000      (the hot patient's INS and documents)
//	ins 270017500000051           (one line per patient)
//	domain carnet.localhost       (the server's mail domain: patients are <INS>@patient.<domain>)
//	mailbox bench.1@carnet.localhost ABCD-EFGH-…   (a PER mailbox and its app password)
//	app 270017500000051 carnet_…  (a connected app's token for that patient)
type File struct {
	Token        string
	Professional string // IdNat_PS
	Hot          identity.INS
	HotDocs      int
	Patients     []identity.INS
	Domain       string
	Mailboxes    []Mailbox
	Apps         []App
}

// App is a measurement app's token for one patient (AppTokens).
type App struct {
	INS   identity.INS
	Token string
}

// Write writes f to path, with header as its first (comment) line.
func (f *File) Write(path string, header string) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "# %s\ntoken %s\nprofessional %s\n", header, f.Token, f.Professional)
	if f.Hot.Matricule != "" {
		fmt.Fprintf(w, "hot %s %d\n", f.Hot.Matricule, f.HotDocs)
	}
	for _, p := range f.Patients {
		fmt.Fprintf(w, "ins %s\n", p.Matricule)
	}
	if f.Domain != "" {
		fmt.Fprintf(w, "domain %s\n", f.Domain)
	}
	for _, m := range f.Mailboxes {
		fmt.Fprintf(w, "mailbox %s %s\n", m.Address, m.Password)
	}
	for _, a := range f.Apps {
		fmt.Fprintf(w, "app %s %s\n", a.INS.Matricule, a.Token)
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ReadFile reads a seed file.
func ReadFile(path string) (*File, error) {
	if path == "" {
		return nil, fmt.Errorf("a seed file is required (the file mhdload seed wrote)")
	}
	in, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	f := &File{}
	sc := bufio.NewScanner(in)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		bad := fmt.Errorf("%s line %d: %q", path, n, line)
		switch {
		case fields[0] == "token" && len(fields) == 2:
			f.Token = fields[1]
		case fields[0] == "professional" && len(fields) == 2:
			f.Professional = fields[1]
		case fields[0] == "hot" && len(fields) == 3:
			ins, err := identity.NewINS(fields[1], identity.OIDTestNIR)
			if err != nil {
				return nil, bad
			}
			f.Hot = ins
			if _, err := fmt.Sscan(fields[2], &f.HotDocs); err != nil {
				return nil, bad
			}
		case fields[0] == "ins" && len(fields) == 2:
			ins, err := identity.NewINS(fields[1], identity.OIDTestNIR)
			if err != nil {
				return nil, bad
			}
			f.Patients = append(f.Patients, ins)
		case fields[0] == "domain" && len(fields) == 2:
			f.Domain = fields[1]
		case fields[0] == "mailbox" && len(fields) == 3:
			f.Mailboxes = append(f.Mailboxes, Mailbox{Address: fields[1], Password: fields[2]})
		case fields[0] == "app" && len(fields) == 3:
			ins, err := identity.NewINS(fields[1], identity.OIDTestNIR)
			if err != nil {
				return nil, bad
			}
			f.Apps = append(f.Apps, App{INS: ins, Token: fields[2]})
		default:
			return nil, bad
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if f.Token == "" {
		return nil, fmt.Errorf("%s holds no token", path)
	}
	return f, nil
}
