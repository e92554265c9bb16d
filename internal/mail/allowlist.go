package mail

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// AllowlistNamespace is the namespace of the published allowlist (ListeBlancheMSSante).
const AllowlistNamespace = "https://listeblanche.mssante.fr/schema"

// AllowlistEntry is one Domaine of the allowlist: a domain of the trust space and the
// certificate of the operator that relays for it. A domain served by several relays (one
// certificate each) has one entry per certificate.
type AllowlistEntry struct {
	Domain             string // Nom, lower case
	Description        string
	OperatorDN         string // DNCertificatOperateur, as published
	ResponsibleContact string // ResponsableContact
	SupportContact     string
	UpdatedAt          time.Time // DateMAJ
}

// Allowlist is a whole published allowlist.
type Allowlist struct {
	GeneratedAt time.Time // DateDeGeneration
	Entries     []AllowlistEntry
	Read        int // Domaine elements read: entries, the same domain and certificate again, skipped ones
	// Skipped says which entries were left out, and why: the published file of 2025-03-14
	// has a Nom that is an address, not a domain ("sessad@ase.ditepbeziers.mssante.fr").
	Skipped []string
}

// Domains returns the distinct domains, sorted.
func (l Allowlist) Domains() []string {
	out := make([]string, 0, len(l.Entries))
	for _, e := range l.Entries {
		out = append(out, e.Domain)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// AllowlistLimits bound what DecodeAllowlist reads, so that a corrupt or hostile file cannot
// exhaust memory: the published file is 3.7 MB and 6,554 entries (2025).
type AllowlistLimits struct {
	MaxBytes   int64 // default 64 MiB
	MaxEntries int   // default 100,000
	MaxField   int   // bytes of one field, default 2,048
}

func (l AllowlistLimits) withDefaults() AllowlistLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 20
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 100_000
	}
	if l.MaxField <= 0 {
		l.MaxField = 2048
	}
	return l
}

func badAllowlist(format string, args ...any) error {
	return refuse(ReasonBadAllowlist, "allowlist: "+format, args...)
}

// DecodeAllowlist reads a ListeBlancheMSSante document as a stream, one token at a time,
// within lim. Unknown elements are skipped (a later version of the format may add some);
// a document that is not the allowlist, an entry without a valid domain name, a date that is
// not RFC 3339, a DOCTYPE (entities are a way to blow up a parser) or anything beyond the
// limits refuses the whole file: an allowlist is replaced whole or not at all. An entry whose
// fields are unreadable (a Nom that is no domain name, a DateMAJ that is no date) is left
// out and listed in Skipped, unless there are so many (over 1 %, and over 10) that the file
// must be wrong. The same domain and certificate twice make one entry, the last one.
func DecodeAllowlist(r io.Reader, lim AllowlistLimits) (Allowlist, error) {
	lim = lim.withDefaults()
	lr := &io.LimitedReader{R: r, N: lim.MaxBytes + 1}
	d := xml.NewDecoder(lr)
	d.Strict = true
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		return nil, badAllowlist("encoding %q is not supported (UTF-8 only)", label)
	}
	var out Allowlist
	seen := map[[2]string]int{}
	var path []string // local names of the open elements
	var cur *AllowlistEntry
	var bad string // why the current entry is unreadable
	n := 0         // entries seen
	listClosed := false
	var text strings.Builder
	for {
		tok, err := d.Token()
		if lr.N <= 0 {
			return Allowlist{}, badAllowlist("the file is larger than %d bytes", lim.MaxBytes)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		var syn *xml.SyntaxError
		if errors.As(err, &syn) && syn.Msg == "unexpected EOF" && at(path, "ListeBlancheMSSante") && listClosed {
			// The published file of 2025-03-14 ends after </ListeDomaines>, without closing its
			// root: every entry is there, and it must import.
			break
		}
		if err != nil {
			var r *Refusal
			if errors.As(err, &r) {
				return Allowlist{}, err
			}
			return Allowlist{}, badAllowlist("not well-formed XML (%s)", errMessage(err))
		}
		switch t := tok.(type) {
		case xml.Directive:
			return Allowlist{}, badAllowlist("a DOCTYPE or other directive is not accepted")
		case xml.StartElement:
			if len(path) == 0 && (t.Name.Local != "ListeBlancheMSSante" || t.Name.Space != AllowlistNamespace) {
				return Allowlist{}, badAllowlist("the root element is not ListeBlancheMSSante in namespace %s", AllowlistNamespace)
			}
			if len(path) > 0 && t.Name.Space != AllowlistNamespace {
				if err := d.Skip(); err != nil {
					return Allowlist{}, badAllowlist("not well-formed XML (%s)", errMessage(err))
				}
				continue
			}
			path = append(path, t.Name.Local)
			text.Reset()
			if at(path, "ListeBlancheMSSante", "ListeDomaines", "Domaine") {
				if len(seen) >= lim.MaxEntries {
					return Allowlist{}, badAllowlist("more than %d entries", lim.MaxEntries)
				}
				cur = &AllowlistEntry{}
			}
		case xml.CharData:
			if text.Len()+len(t) > lim.MaxField {
				return Allowlist{}, badAllowlist("a field is longer than %d bytes", lim.MaxField)
			}
			text.Write(t)
		case xml.EndElement:
			v := strings.TrimSpace(text.String())
			text.Reset()
			switch {
			case at(path, "ListeBlancheMSSante", "ListeDomaines"):
				listClosed = true
			case at(path, "ListeBlancheMSSante", "DateDeGeneration"):
				ts, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return Allowlist{}, badAllowlist("DateDeGeneration is not an RFC 3339 date")
				}
				out.GeneratedAt = ts.UTC()
			case cur != nil && len(path) == 4:
				if err := setField(cur, path[3], v); err != nil && bad == "" {
					bad = err.Error()
				}
			case cur != nil && len(path) == 3:
				n++
				if bad == "" && cur.Domain == "" {
					bad = "no Nom (domain)"
				}
				if bad != "" {
					out.Skipped = append(out.Skipped, fmt.Sprintf("entry %d: %s", n, bounded(bad, 200)))
					if len(out.Skipped) > 10 && len(out.Skipped)*100 > n {
						return Allowlist{}, badAllowlist("too many unreadable entries (%d of %d), the last: %s", len(out.Skipped), n, out.Skipped[len(out.Skipped)-1])
					}
					cur, bad = nil, ""
					path = path[:len(path)-1]
					continue
				}
				key := [2]string{cur.Domain, cur.OperatorDN}
				if i, dup := seen[key]; dup {
					out.Entries[i] = *cur
				} else {
					seen[key] = len(out.Entries)
					out.Entries = append(out.Entries, *cur)
				}
				cur = nil
			}
			path = path[:len(path)-1]
		}
	}
	out.Read = n
	if out.GeneratedAt.IsZero() {
		return Allowlist{}, badAllowlist("DateDeGeneration is missing")
	}
	if len(out.Entries) == 0 {
		return Allowlist{}, badAllowlist("no Domaine entry: an empty allowlist would cut carnet off the trust space")
	}
	return out, nil
}

func at(path []string, want ...string) bool { return slices.Equal(path, want) }

func setField(e *AllowlistEntry, name, v string) error {
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return errors.New(name + " is not UTF-8 text")
	}
	// Line breaks occur in the published descriptions: a field is kept as one line.
	v = strings.Join(strings.Fields(v), " ")
	switch name {
	case "Nom":
		d := strings.ToLower(v)
		if err := checkDomain(d); err != nil {
			return fmt.Errorf("Nom %q is not a domain name", bounded(v, 100))
		}
		e.Domain = d
	case "Description":
		e.Description = v
	case "DNCertificatOperateur":
		e.OperatorDN = v
	case "ResponsableContact":
		e.ResponsibleContact = v
	case "SupportContact":
		e.SupportContact = v
	case "DateMAJ":
		if v == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return errors.New("DateMAJ is not an RFC 3339 date")
		}
		e.UpdatedAt = t.UTC()
	}
	return nil
}

// errMessage shortens a parser's error for a refusal message.
func errMessage(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// AllowlistStatus describes the allowlist in force.
type AllowlistStatus struct {
	GeneratedAt time.Time
	ImportedAt  time.Time
	Entries     int
	Domains     int
}

// AllowlistReport says what a refresh changed.
type AllowlistReport struct {
	GeneratedAt time.Time
	Entries     int
	Domains     int
	Added       []string // domains that were not in the allowlist before
	Removed     []string // domains that are no longer in it
	Skipped     []string // unreadable entries left out
}

// RefreshAllowlist reads a published allowlist from r and makes it the allowlist in force,
// atomically (one transaction: a relay checking a domain meanwhile sees the old list or the
// new one), and reports the domains added and removed. An unreadable file changes nothing.
// Traced on the operator's chain.
func (s *Service) RefreshAllowlist(ctx context.Context, by By, r io.Reader) (AllowlistReport, error) {
	list, derr := DecodeAllowlist(r, AllowlistLimits{})
	var rep AllowlistReport
	err := s.do(ctx, by, "mail.allowlist_refresh", "allowlist", func(tx Tx, e *audit.Entry) error {
		if derr != nil {
			return derr
		}
		added, removed, err := tx.ReplaceAllowlist(ctx, list, s.clock.Now())
		if err != nil {
			return err
		}
		rep = AllowlistReport{GeneratedAt: list.GeneratedAt, Entries: len(list.Entries), Domains: len(list.Domains()),
			Added: added, Removed: removed, Skipped: list.Skipped}
		e.Detail = "generated=" + list.GeneratedAt.Format(time.RFC3339) + " entries=" + itoa(rep.Entries) +
			" added=" + itoa(len(added)) + " removed=" + itoa(len(removed)) + " skipped=" + itoa(len(list.Skipped))
		return nil
	})
	return rep, err
}

// AllowlistStatus returns what is in force.
func (s *Service) AllowlistStatus(ctx context.Context) (AllowlistStatus, error) {
	var st AllowlistStatus
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		var err error
		st, err = tx.AllowlistStatus(ctx)
		return err
	})
	return st, err
}

// Allowed reports whether domain belongs to the trust space: this operator's own domains, or
// an allowlisted one.
func (s *Service) Allowed(ctx context.Context, domain string) (bool, error) {
	domain = strings.ToLower(domain)
	if s.IsLocal(domain) {
		return true, nil
	}
	var ok bool
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		var err error
		ok, err = tx.AllowedDomain(ctx, domain)
		return err
	})
	if err != nil {
		return false, errs.Wrap(errs.Unavailable, err, "read the allowlist")
	}
	return ok, nil
}
