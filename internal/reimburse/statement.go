package reimburse

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/space"
)

// StatementUniqueID is the uniqueId of a person's statement of a month: an OID under the 2.25
// arc (ITU-T X.667) of a name-based UUID (RFC 9562 version 8) of the INS matricule and the
// month, so that the same month always names the same document, on any instance (an export
// re-imported elsewhere keeps it), and a re-run replaces the statement instead of adding one.
func StatementUniqueID(matricule string, month time.Time) string {
	h := sha256.Sum256([]byte("carnet reimbursement statement v1\x00" + matricule + "\x00" + month.Format("2006-01")))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return "2.25." + new(big.Int).SetBytes(b).String()
}

// monthNames are the French names of the months.
var monthNames = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
	"octobre", "novembre", "décembre"}

// monthName writes a month in French: "mars 2026".
func monthName(m time.Time) string {
	return monthNames[m.Month()-1] + " " + fmt.Sprint(m.Year())
}

// StatementTitle is the title of the statement of a month.
func StatementTitle(month time.Time) string {
	return "Relevé de remboursements — " + monthName(month)
}

// frDate writes a date the French way.
func frDate(t time.Time) string { return t.Format("02/01/2006") }

// statement is what the month's document says.
type statement struct {
	Insurer string
	Patient space.Patient
	Month   time.Time
	Acts    []Act // every act of the month, in any order
	Issued  time.Time
}

// render writes the statement as plain text in French. The same statement always renders to
// the same bytes.
func (s statement) render() []byte {
	acts := slices.Clone(s.Acts)
	slices.SortFunc(acts, func(a, b Act) int {
		if c := a.Date.Compare(b.Date); c != 0 {
			return c
		}
		return strings.Compare(a.Reference, b.Reference)
	})
	var b strings.Builder
	title := StatementTitle(s.Month)
	b.WriteString(title + "\n" + strings.Repeat("=", len([]rune(title))) + "\n\n")
	fmt.Fprintf(&b, "Organisme : %s\n", s.Insurer)
	if name := patientName(s.Patient); name != "" {
		fmt.Fprintf(&b, "Bénéficiaire : %s\n", name)
	}
	fmt.Fprintf(&b, "INS : %s\n", s.Patient.INS.Matricule)
	last := s.Month.AddDate(0, 1, -1)
	fmt.Fprintf(&b, "Période : du %s au %s\n\n", frDate(s.Month), frDate(last))
	b.WriteString("Soins remboursés\n----------------\n\n")
	var paid, reimbursed Cents
	for _, a := range acts {
		when := frDate(a.Date)
		if !a.End.IsZero() {
			when = "du " + when + " au " + frDate(a.End)
		}
		fmt.Fprintf(&b, "%s  %s\n", when, actLabel(a))
		var parts []string
		if a.Code != "" {
			parts = append(parts, "Code "+string(a.CodeSystem)+" "+a.Code)
		}
		if a.ProviderID != "" {
			parts = append(parts, providerKind(a.ProviderID)+" "+a.ProviderID)
		}
		parts = append(parts, "Payé "+a.Paid.String(), "Remboursé "+a.Reimbursed.String(), "Référence "+a.Reference)
		fmt.Fprintf(&b, "            %s\n\n", strings.Join(parts, " · "))
		paid += a.Paid
		reimbursed += a.Reimbursed
	}
	n := "acte"
	if len(acts) > 1 {
		n = "actes"
	}
	fmt.Fprintf(&b, "Total : %d %s · payé %s · remboursé %s\n\n", len(acts), n, paid, reimbursed)
	fmt.Fprintf(&b, "Relevé établi le %s par %s. Il remplace toute version précédente du relevé de ce mois.\n",
		frDate(s.Issued), s.Insurer)
	return []byte(b.String())
}

// actLabel names an act: its nature and who performed it.
func actLabel(a Act) string {
	if a.ProviderName == "" {
		return a.Nature.Label()
	}
	return a.Nature.Label() + " — " + a.ProviderName
}

// patientName is the person's first given name and their used (else birth) name.
func patientName(p space.Patient) string {
	given, _, _ := strings.Cut(strings.TrimSpace(p.GivenNames), " ")
	family := p.UsedName
	if family == "" {
		family = p.BirthName
	}
	return strings.TrimSpace(given + " " + family)
}

// payload is what an act's agenda event keeps of it, to rebuild its month's statement, and
// the row it was filed from (File, Line), to judge that row when its file is run again
// (sortOut). The statement is rendered from the act alone: File and Line never enter it, so
// a statement rebuilt from events renders as the one deposited with them. Events filed before
// File and Line were recorded, or by a run given no file identity, have neither.
type payload struct {
	Date         string     `json:"date"`
	End          string     `json:"end,omitempty"`
	Nature       Nature     `json:"nature"`
	CodeSystem   CodeSystem `json:"code_system,omitempty"`
	Code         string     `json:"code,omitempty"`
	ProviderID   string     `json:"provider_id,omitempty"`
	ProviderName string     `json:"provider_name,omitempty"`
	Paid         Cents      `json:"paid"`
	Reimbursed   Cents      `json:"reimbursed"`
	File         string     `json:"file,omitempty"` // Options.FileID of the run that filed it
	Line         int64      `json:"line,omitempty"` // the act's line in that file
}

// encodePayload is the payload of act a, read from the file named file (Options.FileID, ""
// when the run has none: then neither the file nor the line is recorded).
func encodePayload(a Act, file string) []byte {
	p := payload{Date: a.Date.Format("2006-01-02"), Nature: a.Nature, CodeSystem: a.CodeSystem, Code: a.Code,
		ProviderID: a.ProviderID, ProviderName: a.ProviderName, Paid: a.Paid, Reimbursed: a.Reimbursed}
	if !a.End.IsZero() {
		p.End = a.End.Format("2006-01-02")
	}
	if file != "" {
		p.File, p.Line = file, a.Line
	}
	b, _ := json.Marshal(p) // plain fields: cannot fail
	return b
}

// decodePayload returns the act an event's payload keeps, its reference ref. What it returns
// is what the statement is rendered from: the act's row (Line) is left out.
func decodePayload(ref string, b []byte) (Act, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return Act{}, fmt.Errorf("act %s: %w", ref, err)
	}
	a := Act{Nature: p.Nature, CodeSystem: p.CodeSystem, Code: p.Code, ProviderID: p.ProviderID,
		ProviderName: p.ProviderName, Paid: p.Paid, Reimbursed: p.Reimbursed, Reference: ref}
	var err error
	if a.Date, err = time.Parse("2006-01-02", p.Date); err != nil {
		return Act{}, fmt.Errorf("act %s: date: %w", ref, err)
	}
	if p.End != "" {
		if a.End, err = time.Parse("2006-01-02", p.End); err != nil {
			return Act{}, fmt.Errorf("act %s: end: %w", ref, err)
		}
	}
	return a, nil
}

// payloadRow returns the file and line an event's payload says the act was filed from; ok is
// false when it says neither (an older event, a run without a file identity, a payload that
// does not read).
func payloadRow(b []byte) (file string, line int64, ok bool) {
	var p struct {
		File string `json:"file"`
		Line int64  `json:"line"`
	}
	if json.Unmarshal(b, &p) != nil || p.File == "" || p.Line <= 0 {
		return "", 0, false
	}
	return p.File, p.Line, true
}

// providerKind names the identifier of who performed an act.
func providerKind(id string) string {
	if len(id) == 9 {
		return "FINESS"
	}
	return "IdNat_PS"
}
