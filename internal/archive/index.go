package archive

import (
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// indexPage is the archive's index.html: what the archive holds, in French, readable in any
// browser without the network (no script, no outside resource).
var indexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>Mon espace santé — export du {{.At}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#161616}
table{border-collapse:collapse;width:100%;margin-bottom:2rem}
th,td{border:1px solid #ddd;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f6f6}
caption{text-align:left;font-weight:bold;padding:.5rem 0}
</style>
</head>
<body>
<h1>Mon espace santé</h1>
<p>Export de l'espace santé de <strong>{{.Name}}</strong>, né(e) le {{.BirthDate}}, INS {{.INS}}, fait le {{.At}}.</p>
<p>Cette archive contient {{len .Documents}} document(s) et {{len .Traces}} trace(s) d'accès.
Le fichier <code>bundle.json</code> reprend l'ensemble au format FHIR R4, lisible par les logiciels de santé ;
<code>manifest.json</code> donne l'empreinte SHA-256 de chaque fichier.</p>
<table>
<caption>Documents</caption>
<thead><tr><th scope="col">Date</th><th scope="col">Type</th><th scope="col">Titre</th><th scope="col">Auteur</th><th scope="col">Espace</th><th scope="col">État</th><th scope="col">Fichier</th></tr></thead>
<tbody>
{{range .Documents}}<tr><td>{{.Date}}</td><td>{{.Type}}</td><td>{{.Title}}</td><td>{{.Author}}</td><td>{{.Space}}</td><td>{{.State}}</td><td><a href="{{.Path}}">ouvrir</a></td></tr>
{{else}}<tr><td colspan="7">Aucun document.</td></tr>
{{end}}</tbody>
</table>
{{if .Profile}}<table>
<caption>Profil médical</caption>
<thead><tr><th scope="col">Date</th><th scope="col">Rubrique</th><th scope="col">Élément</th></tr></thead>
<tbody>
{{range .Profile}}<tr><td>{{.Date}}</td><td>{{.Section}}</td><td>{{.What}}</td></tr>
{{end}}</tbody>
</table>{{end}}
{{if .Messages}}<table>
<caption>Messagerie de santé</caption>
<thead><tr><th scope="col">Date</th><th scope="col">Sens</th><th scope="col">Correspondant</th><th scope="col">Objet</th><th scope="col">Message</th></tr></thead>
<tbody>
{{range .Messages}}<tr><td>{{.Date}}</td><td>{{.Direction}}</td><td>{{.Correspondent}}</td><td>{{.Subject}}</td><td><a href="{{.Path}}">ouvrir</a></td></tr>
{{end}}</tbody>
</table>
<p>Les messages sont au format <code>.eml</code>, que tout logiciel de messagerie ouvre, pièces jointes comprises.</p>{{end}}
{{if .Access}}<table>
<caption>Accès à mon dossier</caption>
<thead><tr><th scope="col">Professionnel (identifiant national)</th><th scope="col">Réglage</th><th scope="col">Depuis</th></tr></thead>
<tbody>
{{range .Access}}<tr><td>{{.Who}}</td><td>{{.What}}</td><td>{{.Since}}</td></tr>
{{end}}</tbody>
</table>{{end}}
{{if .Oppositions}}<p>{{.Oppositions}}</p>{{end}}
{{if .Card}}<p>Carte d'urgence : {{.Card}}</p>{{end}}
{{if .Events}}<table>
<caption>Agenda</caption>
<thead><tr><th scope="col">Date</th><th scope="col">Événement</th><th scope="col">Détail</th></tr></thead>
<tbody>
{{range .Events}}<tr><td>{{.Date}}</td><td>{{.Title}}</td><td>{{.Detail}}</td></tr>
{{end}}</tbody>
</table>{{end}}
<table>
<caption>Historique des accès</caption>
<thead><tr><th scope="col">Date</th><th scope="col">Qui</th><th scope="col">Action</th><th scope="col">Résultat</th></tr></thead>
<tbody>
{{range .Traces}}<tr><td>{{.At}}</td><td>{{.Who}}</td><td>{{.Action}}</td><td>{{.Outcome}}</td></tr>
{{else}}<tr><td colspan="4">Aucun accès.</td></tr>
{{end}}</tbody>
</table>
</body>
</html>
`))

type indexDoc struct{ Date, Type, Title, Author, Space, State, Path string }
type indexTrace struct{ At, Who, Action, Outcome string }
type indexEvent struct{ Date, Title, Detail string }
type indexItem struct{ Date, Section, What string }
type indexMessage struct{ Date, Direction, Correspondent, Subject, Path string }
type indexAccess struct{ Who, What, Since string }

// paris is the time zone the dates of the page are written in.
var paris = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.UTC
}()

func writeIndex(w io.Writer, c content, cat *terminology.Catalog) error {
	v := struct {
		Name, BirthDate, INS, At string
		Documents                []indexDoc
		Traces                   []indexTrace
		Events                   []indexEvent
		Profile                  []indexItem
		Messages                 []indexMessage
		Access                   []indexAccess
		Oppositions              string
		Card                     string
	}{
		Name:      strings.TrimSpace(c.patient.GivenNames + " " + c.patient.BirthName),
		BirthDate: c.patient.BirthDate.Format("02/01/2006"),
		INS:       c.patient.INS.Matricule,
		At:        c.at.In(paris).Format("02/01/2006 à 15:04"),
	}
	for i := range c.docs.Documents {
		d := &c.docs.Documents[i]
		typ := d.Type
		if t, err := cat.Type(d.Type); err == nil {
			typ = t.Label
		}
		var authors []string
		for _, a := range d.Authors {
			switch {
			case a.Name != "":
				authors = append(authors, a.Name)
			case a.OrgName != "":
				authors = append(authors, a.OrgName)
			}
		}
		state := "à jour"
		switch {
		case d.Status == record.Deprecated:
			state = "remplacé par une nouvelle version"
		case d.Archived:
			state = "archivé"
		}
		v.Documents = append(v.Documents, indexDoc{Date: d.ServiceStart.In(paris).Format("02/01/2006"), Type: typ, Title: d.Title,
			Author: strings.Join(authors, ", "), Space: spaceLabels[d.Space], State: state, Path: documentPath(d)})
	}
	for i := range c.profile {
		it := &c.profile[i]
		v.Profile = append(v.Profile, indexItem{Date: it.At.In(paris).Format("02/01/2006"), Section: it.Section.Label(), What: itemText(it)})
	}
	if c.mail != nil {
		for i, m := range c.mail.Messages {
			dir, subject := "reçu", m.Subject
			if !m.Incoming {
				dir = "envoyé"
			}
			if m.Unreadable {
				subject = "(message illisible)"
			}
			v.Messages = append(v.Messages, indexMessage{Date: m.At.In(paris).Format("02/01/2006 15:04"), Direction: dir,
				Correspondent: m.Correspondent, Subject: subject, Path: messagePath(i)})
		}
	}
	if a := c.access; a != nil {
		day := func(t time.Time) string { return t.In(paris).Format("02/01/2006") }
		for _, m := range a.MedecinsTraitants {
			v.Access = append(v.Access, indexAccess{m.IdNat, "médecin traitant", day(m.Since)})
		}
		for _, m := range a.CareTeam {
			what := "équipe de soins (désigné)"
			if m.Basis == access.CareDeposit {
				what = "équipe de soins (a déposé un document)"
			}
			v.Access = append(v.Access, indexAccess{m.IdNat, what, day(m.Since)})
		}
		for _, m := range a.Authorisations {
			what := "autorisé jusqu'au " + day(m.Until)
			switch {
			case m.State == access.AuthRefused:
				what = "autorisation refusée"
			case m.State == access.AuthExpired:
				what = "autorisation expirée le " + day(m.Until)
			case m.Until.IsZero():
				what = "autorisé"
			}
			v.Access = append(v.Access, indexAccess{m.IdNat, what, day(m.UpdatedAt)})
		}
		for _, m := range a.Blocked {
			v.Access = append(v.Access, indexAccess{m.IdNat, "bloqué", day(m.Since)})
		}
		if o := a.Oppositions; o.BreakGlass || o.Regulation {
			var what []string
			if o.BreakGlass {
				what = append(what, "à l'accès en urgence (bris de glace)")
			}
			if o.Regulation {
				what = append(what, "à l'accès par le médecin régulateur du SAMU")
			}
			v.Oppositions = "Vous vous opposez " + strings.Join(what, " et ") + "."
		}
	}
	if c.card != nil {
		var shown []string
		for _, sec := range c.card.Sections {
			shown = append(shown, strings.ToLower(sec.Label()))
		}
		state := "désactivée"
		if c.card.On {
			state = "activée"
		}
		v.Card = state + ", elle montre : " + strings.Join(shown, ", ") + ". Son lien n'est pas dans cette archive."
		if len(shown) == 0 {
			v.Card = state + ", elle ne montre aucune rubrique."
		}
	}
	for _, e := range c.events {
		v.Events = append(v.Events, indexEvent{Date: e.Start.In(paris).Format("02/01/2006"), Title: e.Title, Detail: e.Detail})
	}
	for _, t := range c.trail {
		outcome := "autorisé"
		switch t.Outcome {
		case audit.Denied:
			outcome = "refusé"
		case audit.Failed:
			outcome = "échoué"
		}
		v.Traces = append(v.Traces, indexTrace{At: t.At.In(paris).Format("02/01/2006 15:04"), Who: t.Who, Action: t.ActionLabel,
			Outcome: outcome + " — " + t.ReasonLabel})
	}
	return indexPage.Execute(w, v)
}

var spaceLabels = map[terminology.Space]string{
	terminology.SpaceDocuments:      "Documents de santé",
	terminology.SpaceProfile:        "Profil médical",
	terminology.SpaceReimbursements: "Remboursements",
	terminology.SpacePersonal:       "Espace personnel",
}

// itemText says a profile item in a few words, from what it holds: its text, or its code's
// display, or its value.
func itemText(it *profile.Item) string {
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
		return ""
	}
	switch {
	case it.Condition != nil:
		return pick(it.Condition.Text, it.Condition.Code.Display, it.Condition.Code.Code)
	case it.Treatment != nil:
		return strings.TrimSpace(pick(it.Treatment.Text, it.Treatment.Medication.Display, it.Treatment.Medication.Code) + " " + it.Treatment.Dosage)
	case it.Allergy != nil:
		return pick(it.Allergy.Text, it.Allergy.Substance.Display, it.Allergy.Substance.Code)
	case it.Family != nil:
		return strings.TrimSpace(pick(it.Family.Relationship.Display, it.Family.Relationship.Code) + " : " +
			pick(it.Family.Text, it.Family.Condition.Display, it.Family.Condition.Code))
	case it.Vaccination != nil:
		return pick(it.Vaccination.Text, it.Vaccination.Vaccine.Display, it.Vaccination.Vaccine.Code)
	case it.Measurement != nil:
		m := it.Measurement
		if len(m.Components) > 0 {
			parts := make([]string, len(m.Components))
			for i, c := range m.Components {
				parts[i] = strconv.FormatFloat(c.Value, 'f', -1, 64) + " " + c.Unit
			}
			return m.Code + " : " + strings.Join(parts, " / ")
		}
		return m.Code + " : " + strconv.FormatFloat(m.Value, 'f', -1, 64) + " " + m.Unit
	case it.Wish != nil:
		return pick(it.Wish.Text, it.Wish.Consent, it.Wish.Kind)
	case it.Contact != nil:
		return strings.TrimSpace(it.Contact.Name + " " + it.Contact.Phone)
	case it.BloodGroup != nil:
		return it.BloodGroup.ABO + " " + it.BloodGroup.Rh
	}
	return ""
}
