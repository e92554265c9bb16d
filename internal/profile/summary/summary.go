// Package summary writes the summary of a patient's medical profile as a PDF document (A4, in
// French): identity, then the allergies first — what a carer must know before anything else —,
// the treatments, the history, the family history, the vaccinations, the latest measurements,
// the blood group, the wishes, the emergency contacts and the trusted person, with the date it
// was generated and its page numbers. The patient downloads it, files it in their record as a
// DOCPAT08 document ("Profil médical", deposited by the patient), or shares it.
//
// The text is set in the Go fonts (golang.org/x/image/font/gofont, BSD licence, embedded in
// the binary and in the document) so that French accents print whatever the reader has
// installed.
package summary

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/profile"
)

// Identity is who the summary is about.
type Identity struct {
	Name      string // given names then birth name
	BirthDate time.Time
	Sex       string // in words, "Femme", "Homme", "" when not said
	INS       string // the matricule, "" to leave it out
}

// Summary is what the document shows.
type Summary struct {
	Identity Identity
	// Items are the profile's active items the reader may see, any section, any order.
	Items []profile.Item
	// Latest is the most recent measurement of each measure (profile.Service.Latest).
	Latest    []profile.Item
	Measures  *profile.Measures
	Generated time.Time
	Loc       *time.Location // of the dates written; Europe/Paris's when nil
}

// Collect reads what a summary shows of the patient's profile as the actor may see it: the
// items of every section and the latest measurements, each reading decided and traced by the
// profile service (a search of the profile).
func Collect(ctx context.Context, svc *profile.Service, r profile.Request, patientID int64) ([]profile.Item, []profile.Item, error) {
	var sections []profile.Section
	for _, s := range profile.Sections() {
		if s != profile.SectionMeasurements {
			sections = append(sections, s)
		}
	}
	page, err := svc.List(ctx, r, profile.Query{PatientID: patientID, Sections: sections, Limit: profile.MaxLimit})
	if err != nil {
		return nil, nil, err
	}
	latest, err := svc.Latest(ctx, r, patientID)
	if err != nil {
		return nil, nil, err
	}
	return page.Items, latest, nil
}

// paris is the time zone of the dates written.
var paris = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.UTC
}()

// Render writes the summary as a PDF.
func Render(s Summary) ([]byte, error) {
	loc := s.Loc
	if loc == nil {
		loc = paris
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 20)
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.SetTitle("Synthèse du profil médical", true)
	pdf.SetCreator("carnet", true)
	pdf.SetCreationDate(s.Generated)
	pdf.SetModificationDate(s.Generated)
	pdf.AliasNbPages("{nb}")
	generated := s.Generated.In(loc).Format("02/01/2006 à 15:04")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-14)
		pdf.SetFont("go", "", 8)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 5, "Synthèse générée le "+generated+" — "+s.Identity.Name, "", 0, "L", false, 0, "")
		pdf.CellFormat(0, 5, fmt.Sprintf("Page %d/{nb}", pdf.PageNo()), "", 0, "R", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("go", "B", 18)
	pdf.SetTextColor(0, 0, 145)
	pdf.MultiCell(0, 9, "Synthèse du profil médical", "", "L", false)
	pdf.SetTextColor(0, 0, 0)
	pdf.SetFont("go", "", 11)
	pdf.MultiCell(0, 6, s.Identity.Name, "", "L", false)
	var id []string
	if !s.Identity.BirthDate.IsZero() {
		id = append(id, "Né(e) le "+s.Identity.BirthDate.Format("02/01/2006"))
	}
	if s.Identity.Sex != "" {
		id = append(id, s.Identity.Sex)
	}
	if s.Identity.INS != "" {
		id = append(id, "INS "+s.Identity.INS)
	}
	if len(id) > 0 {
		pdf.MultiCell(0, 6, strings.Join(id, " · "), "", "L", false)
	}
	pdf.SetFont("go", "", 9)
	pdf.SetTextColor(90, 90, 90)
	pdf.MultiCell(0, 5, "Document établi à partir du profil médical de Mon espace santé le "+generated+
		". Chaque information indique qui l'a saisie et quand.", "", "L", false)
	pdf.SetTextColor(0, 0, 0)
	pdf.Ln(3)

	bySection := map[profile.Section][]profile.Item{}
	for _, it := range s.Items {
		bySection[it.Section] = append(bySection[it.Section], it)
	}
	section := func(title, empty string, lines [][2]string) {
		if pdf.GetY() > 250 {
			pdf.AddPage()
		}
		pdf.Ln(2)
		pdf.SetFont("go", "B", 13)
		pdf.SetFillColor(232, 237, 255)
		pdf.CellFormat(0, 8, title, "", 1, "L", true, 0, "")
		pdf.Ln(1)
		if len(lines) == 0 {
			pdf.SetFont("go", "", 10)
			pdf.MultiCell(0, 5.5, empty, "", "L", false)
			return
		}
		for _, l := range lines {
			pdf.SetFont("go", "B", 10)
			pdf.MultiCell(0, 5.5, "• "+l[0], "", "L", false)
			if l[1] != "" {
				pdf.SetFont("go", "", 9)
				pdf.SetX(22)
				pdf.MultiCell(0, 5, l[1], "", "L", false)
			}
			pdf.Ln(0.8)
		}
	}
	describe := func(sec profile.Section) [][2]string {
		var out [][2]string
		for _, it := range bySection[sec] {
			title, detail := Describe(&it, s.Measures)
			by := "Saisi par " + AuthorName(it.Author) + " le " + it.Written.In(loc).Format("02/01/2006")
			if detail != "" {
				detail += " — "
			}
			out = append(out, [2]string{title, detail + by})
		}
		return out
	}
	section("Allergies et intolérances", "Aucune allergie ni intolérance renseignée.", describe(profile.SectionAllergies))
	section("Traitements en cours", "Aucun traitement renseigné.", describe(profile.SectionTreatments))
	section("Antécédents médicaux et chirurgicaux", "Aucun antécédent renseigné.", describe(profile.SectionHistory))
	section("Antécédents familiaux", "Aucun antécédent familial renseigné.", describe(profile.SectionFamilyHistory))
	section("Vaccinations", "Aucune vaccination renseignée.", describe(profile.SectionVaccinations))
	var measures [][2]string
	for _, it := range s.Latest {
		title, _ := Describe(&it, s.Measures)
		measures = append(measures, [2]string{title, "Mesuré le " + it.Measurement.Taken.In(loc).Format("02/01/2006 à 15:04") +
			" — saisi par " + AuthorName(it.Author)})
	}
	section("Dernières mesures", "Aucune mesure renseignée.", measures)
	section("Groupe sanguin", "Groupe sanguin non renseigné.", describe(profile.SectionBloodGroup))
	section("Volontés", "Aucune volonté renseignée.", describe(profile.SectionWishes))
	section("Contacts en cas d'urgence", "Aucun contact renseigné.", describe(profile.SectionEmergencyContacts))
	section("Personne de confiance", "Aucune personne de confiance désignée.", describe(profile.SectionTrustedPerson))

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return buf.Bytes(), nil
}

// AuthorName says who wrote an item, in French.
func AuthorName(a profile.Author) string {
	switch a.Kind {
	case audit.ActorPatient:
		return "le patient"
	case audit.ActorRepresentative:
		if a.Name != "" {
			return a.Name + " (représentant légal)"
		}
		return "un représentant légal"
	case audit.ActorApp:
		if a.Name != "" {
			return "l'application " + a.Name
		}
		return "une application"
	}
	if a.Name != "" {
		return a.Name
	}
	return "un professionnel de santé"
}

// Number writes a value the French way: 72,5.
func Number(v float64) string {
	s := strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	return strings.Replace(s, ".", ",", 1)
}

// frDate writes a possibly partial date the French way.
func frDate(d profile.Date) string {
	switch len(d) {
	case 10:
		return string(d[8:10]) + "/" + string(d[5:7]) + "/" + string(d[0:4])
	case 7:
		return string(d[5:7]) + "/" + string(d[0:4])
	}
	return string(d)
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " · ")
}

func name(text string, c profile.Code) string {
	switch {
	case text != "":
		return text
	case c.Display != "":
		return c.Display
	}
	return c.Code
}

// relationships says the HL7 v3 RoleCode relatives in French.
var relationships = map[string]string{
	"MTH": "Mère", "FTH": "Père", "SIS": "Sœur", "BRO": "Frère", "GRMTH": "Grand-mère", "GRFTH": "Grand-père",
	"CHILD": "Enfant", "DAU": "Fille", "SON": "Fils", "SPS": "Conjoint(e)", "FRND": "Ami(e)", "AUNT": "Tante",
	"UNCLE": "Oncle", "COUSN": "Cousin(e)", "SIB": "Frère ou sœur", "PRN": "Parent", "FAMMEMB": "Membre de la famille",
	"NBOR": "Voisin(e)",
}

// Relationship says a relationship in French.
func Relationship(c profile.Code) string {
	if l, ok := relationships[c.Code]; ok {
		return l
	}
	return name("", c)
}

// Describe says an item in French: a title (what it is) and details.
func Describe(it *profile.Item, measures *profile.Measures) (string, string) {
	switch {
	case it.Allergy != nil:
		a := it.Allergy
		kind := "Allergie"
		if a.Type == "intolerance" {
			kind = "Intolérance"
		}
		crit := map[string]string{"high": "gravité élevée", "low": "gravité faible", "unable-to-assess": "gravité inconnue"}[a.Criticality]
		status := map[string]string{"inactive": "inactive", "resolved": "résolue"}[a.Status]
		detail := join(crit, status, prefix("Réaction : ", a.Reaction), prefix("Depuis ", frDate(a.Onset)), a.Note)
		return kind + " : " + name(a.Text, a.Substance), detail
	case it.Treatment != nil:
		t := it.Treatment
		status := map[string]string{"completed": "terminé", "stopped": "arrêté"}[t.Status]
		return name(t.Text, t.Medication), join(t.Dosage, prefix("Pour ", t.Reason), prefix("Depuis ", frDate(t.Start)),
			prefix("Jusqu'au ", frDate(t.End)), status, t.Note)
	case it.Condition != nil:
		c := it.Condition
		kind := "Antécédent médical"
		if c.Surgical {
			kind = "Antécédent chirurgical"
		}
		status := map[string]string{"resolved": "guéri"}[c.Status]
		return name(c.Text, c.Code), join(kind, prefix("Depuis ", frDate(c.Onset)), prefix("Jusqu'en ", frDate(c.End)), status, c.Note)
	case it.Family != nil:
		f := it.Family
		age := ""
		if f.OnsetAge > 0 {
			age = "à " + strconv.Itoa(f.OnsetAge) + " ans"
		}
		return Relationship(f.Relationship) + " : " + name(f.Text, f.Condition), join(age, f.Note)
	case it.Vaccination != nil:
		v := it.Vaccination
		dose := ""
		if v.Dose > 0 {
			dose = "dose " + strconv.Itoa(v.Dose)
		}
		return name(v.Text, v.Vaccine) + " — " + frDate(v.Date), join(dose, prefix("Lot ", v.Lot), v.Note)
	case it.Measurement != nil:
		m := it.Measurement
		label, unit, value := m.Code, m.Unit, Number(m.Value)
		if measures != nil {
			if ms, ok := measures.Get(m.Code); ok {
				label, unit = ms.Label, ms.Display
				if len(ms.Components) > 0 {
					var vs []string
					for _, c := range ms.Components {
						v, _ := m.ValueOf(c.Code)
						vs = append(vs, Number(v))
					}
					value = strings.Join(vs, "/")
				}
			}
		}
		return label + " : " + value + " " + unit, m.Note
	case it.BloodGroup != nil:
		return "Groupe " + it.BloodGroup.String(), ""
	case it.Wish != nil:
		w := it.Wish
		switch w.Kind {
		case profile.WishAdvanceDirectives:
			return "Directives anticipées", join(w.Text, prefix("Rédigées le ", frDate(w.Date)))
		case profile.WishOrganDonation:
			pos := "Accepte le don d'organes"
			if w.Consent == "no" {
				pos = "Refuse le don d'organes"
			}
			return pos, join(w.Text, prefix("Le ", frDate(w.Date)))
		}
		return "Volonté", join(w.Text, prefix("Le ", frDate(w.Date)))
	case it.Contact != nil:
		c := it.Contact
		rel := ""
		if !c.Relationship.IsZero() {
			rel = Relationship(c.Relationship)
		}
		return c.Name, join(rel, c.Phone, c.Email, c.Note)
	}
	return string(it.Section), ""
}

func prefix(p, v string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	return p + v
}
