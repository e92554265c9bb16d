package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
)

const exportUsage = `usage: carnet export --ins INS --legal-request REF --to FILE [flags]

Writes a patient's whole space into FILE, a zip archive: index.html (a page in French
listing everything), bundle.json (FHIR R4: Patient, DocumentReference, the profile's
resources, AuditEvent), record.json (the documents' metadata as the record keeps them),
traces.json (the trail), agenda.json (the agenda's events), profile.json (the medical
profile's items), mail.json and mail/ (the secure mailbox's messages, as .eml files),
access.json (who may see the record: care team, blocked professionals, oppositions),
documents/ (the original bytes) and manifest.json (the SHA-256 of every file).

The operator exports a space only on a legal request (a judge's requisition): its
reference is required and written in the patient's trail with the export. The patient
takes the same archive themselves through Patient/{id}/$everything (Accept:
application/zip). FILE must not exist; nothing is left behind on a refusal or a failure.

The settings are those of ` + "`carnet serve --help`" + `.`

const importUsage = `usage: carnet import --ins INS FILE [flags]

Brings a former record into a patient's open space: FILE is an archive written by carnet
export (or by the patient's own download), or an IHE XDM package (IHE_XDM.ZIP). Each
document, agenda event, profile item and message keeps what it was (identifiers, authors,
dates, labels, status, folder); each is traced in the patient's trail. Of the access
settings, what restricts access (blocked professionals, refused authorisations, oppositions
to emergency access) is added to the space's own, once; what gives access (médecins
traitants, care team, authorisations) is left for the patient, who alone gives access to
their record. A space that has its blood group or its trusted person keeps its own. Running
it twice imports nothing twice; an interrupted import run again ends in the same state.

The settings are those of ` + "`carnet serve --help`" + `.`

// openRecordServices opens what the export and import commands work with.
func openRecordServices(ctx context.Context, name string, args []string, stderr io.Writer, flags func(*flag.FlagSet)) (*admin, *recordServices, *flag.FlagSet, error) {
	a, fs, err := openAdmin(ctx, name, args, stderr, flags)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg := a.cfg
	blobs, err := blob.NewFS(filepath.Join(cfg.DataDir, "blobs"), a.key.master, blob.WithPreviousKeys(cfg.PreviousMasterKeys()...))
	if err != nil {
		a.db.Close()
		return nil, nil, nil, err
	}
	rs, err := newRecordServices(ctx, a.db, clock.System{}, cfg, a.key, a.spaces, blobs, newLogger(cfg, stderr))
	if err != nil {
		a.db.Close()
		return nil, nil, nil, err
	}
	return a, rs, fs, nil
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var insFlag, legal, to string
	a, rs, _, err := openRecordServices(ctx, "export", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&insFlag, "ins", "", "the patient's INS (matricule, or urn:oid:OID|matricule)")
		fs.StringVar(&legal, "legal-request", "", "reference of the legal request (judge's requisition) the export answers")
		fs.StringVar(&to, "to", "", "the archive to write (a new file)")
	})
	if err != nil {
		return err
	}
	defer a.db.Close()
	if insFlag == "" || to == "" {
		fmt.Fprintln(stderr, exportUsage)
		return errUsage
	}
	ins, err := parseINSFlag(insFlag)
	if err != nil {
		return err
	}
	pid, err := rs.records.PatientID(ctx, ins)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return errs.E(errs.Invalid, "cannot create %s: %v", to, err)
	}
	req := record.Request{Actor: a.operator(legal), Channel: audit.ChannelCLI}
	err = rs.archive.Export(ctx, req, pid, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(to)
		return err
	}
	st, _ := os.Stat(to)
	fmt.Fprintf(stdout, "space exported to %s (%d bytes); the export is in the patient's trail\n", to, st.Size())
	return nil
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var insFlag string
	a, rs, fs, err := openRecordServices(ctx, "import", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&insFlag, "ins", "", "the patient's INS (matricule, or urn:oid:OID|matricule)")
	})
	if err != nil {
		return err
	}
	defer a.db.Close()
	if insFlag == "" || fs.NArg() != 1 {
		fmt.Fprintln(stderr, importUsage)
		return errUsage
	}
	ins, err := parseINSFlag(insFlag)
	if err != nil {
		return err
	}
	pid, err := rs.records.PatientID(ctx, ins)
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return errs.E(errs.Invalid, "cannot open %s: %v", fs.Arg(0), err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	req := record.Request{Actor: a.operator(""), Channel: audit.ChannelCLI}
	rep, err := rs.archive.Import(ctx, req, pid, f, st.Size(), archive.DefaultLimits(rs.records.Policy().MaxSize))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d document(s) imported, %d already present\n", rep.Format, rep.Imported, rep.Present)
	if rep.Format == archive.Format {
		fmt.Fprintf(stdout, "agenda: %d event(s) imported, %d already present, %d refused\n", rep.EventsImported, rep.EventsPresent, rep.EventsRefused)
		fmt.Fprintf(stdout, "profile: %d item(s) imported, %d already present, %d left out (the space has its own)\n",
			rep.ProfileImported, rep.ProfilePresent, rep.ProfileKept)
		fmt.Fprintf(stdout, "mailbox: %d message(s) imported, %d already present\n", rep.MailImported, rep.MailPresent)
		switch {
		case rep.SettingsDone:
			fmt.Fprintln(stdout, "access settings: imported into this space before, left as the patient has them")
		default:
			fmt.Fprintf(stdout, "access settings: %d added, %d kept as the space has them, %d grant(s) left for the patient\n",
				rep.SettingsAdded, rep.SettingsKept, rep.SettingsLeft)
		}
	}
	return nil
}

// operator is the person at the terminal as the access decision knows them.
func (a *admin) operator(legalRequest string) access.Actor {
	return access.Actor{Kind: a.by.Kind, ID: a.by.ID, Name: a.by.Name, LegalRequest: strings.TrimSpace(legalRequest)}
}
