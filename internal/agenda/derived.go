package agenda

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/record"
)

// Hospital stays and consultations, read from the record's documents (issue 8): a stay report
// is a stay from its serviceStartTime to its serviceStopTime, a consultation report a
// consultation on its serviceStartTime. Which document types say so is data
// (data/care_events.tsv), not a list in code.
//
// They are derived when the agenda is read, never stored: the reading goes through the
// record's own search (record.Service.Search: its access decision on the record, then on each
// document, and its trace naming the documents shown), so an event is always exactly what the
// reader may see of the record now. A document masked from professionals, held back from the
// patient until its announcement, hidden from the representatives, replaced, archived or
// deleted makes no event for whoever cannot see it, with nothing to keep in step. Filing an
// event at deposit would have to follow every one of those changes, and each reader's view of
// them, by hand.
//
// One stay is often told by several reports (its report, the discharge letter, the admission
// report): the timeline shows it once, linked to each (mergeCare).

// The kinds derived from documents.
const (
	// KindStay: a hospital stay, from the report's service start to its stop.
	KindStay Kind = "stay"
	// KindConsultation: a consultation, on the report's service start.
	KindConsultation Kind = "consultation"
)

// SourceRecord is the source of the events derived from the record's documents: the event's
// reference is the document's uniqueId (kept across replacements), its Document the logicalId
// of the version read.
const SourceRecord = "record"

//go:embed data/care_events.tsv
var careEventsTSV []byte

// CareTypes maps the document types read as care events to the kind of event they make.
var CareTypes = mustCareTypes(careEventsTSV)

func mustCareTypes(b []byte) map[string]Kind {
	m, err := ParseCareTypes(b)
	if err != nil {
		panic(err)
	}
	return m
}

// ParseCareTypes reads the TSV of the document types read as care events.
func ParseCareTypes(b []byte) (map[string]Kind, error) {
	out := map[string]Kind{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("care events line %d: %d fields, not 3", n, len(f))
		}
		k := Kind(f[1])
		switch {
		case f[0] == "":
			return nil, fmt.Errorf("care events line %d: the type code is missing", n)
		case out[f[0]] != "":
			return nil, fmt.Errorf("care events line %d: type %q repeated", n, f[0])
		case k != KindStay && k != KindConsultation:
			return nil, fmt.Errorf("care events line %d: kind %q (stay or consultation)", n, f[1])
		}
		out[f[0]] = k
	}
	return out, sc.Err()
}

// Documents is what the agenda reads of the record: its search, decided and traced by the
// record (record.Service).
type Documents interface {
	Search(ctx context.Context, r record.Request, q record.Query) (record.Page, error)
}

// DocumentEvent is the event a document makes, and false when its type makes none.
func DocumentEvent(d *record.Document) (Event, bool) {
	k, ok := CareTypes[d.Type]
	if !ok || d.ServiceStart.IsZero() {
		return Event{}, false
	}
	e := Event{PatientID: d.PatientID, Kind: k, Start: d.ServiceStart, Class: d.Class, Type: d.Type,
		Source: SourceRecord, SourceRef: d.UniqueID, Document: d.LogicalID, Documents: []string{d.LogicalID},
		CreatedAt: d.Submitted}
	if k == KindStay && d.ServiceEnd.After(d.ServiceStart) {
		e.End = d.ServiceEnd
	}
	// The title in French, for the feed (French only); pages build theirs from the kind and
	// What, in their reader's language.
	e.What = truncate(strings.Join(strings.Fields(d.Title), " "), maxTitle)
	e.Title = k.Label()
	if e.What != "" {
		e.Title = truncate(k.Label()+" : "+e.What, maxTitle)
	}
	var by []string
	for _, a := range d.Authors {
		for _, s := range []string{a.Name, a.OrgName} {
			if s != "" && !slices.Contains(by, s) {
				by = append(by, s)
			}
		}
	}
	e.Detail = truncate(strings.Join(by, " · "), maxDetail)
	switch d.DepositedBy {
	case access.DepositedByProfessional:
		e.CreatedBy = audit.Actor{Kind: audit.ActorProfessional, ID: d.Depositor}
	case access.DepositedByPatient:
		e.CreatedBy = audit.Actor{Kind: audit.ActorPatient, ID: d.Depositor}
	default:
		e.CreatedBy = audit.Actor{Kind: audit.ActorSystem, ID: d.Depositor}
	}
	return e, true
}

// careTypeCodes lists the types of CareTypes, sorted: the record's search takes them as a filter.
var careTypeCodes = func() []string {
	var ts []string
	for t := range CareTypes {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}()

// fromDocuments returns the stays and consultations of the patient's record whose service
// period overlaps [from, to) and that the reader may see: the record's search, page after
// page, each page decided and traced by the record. Nothing is cut without a word: more than
// MaxEvents is refused as List refuses it.
func (s *Service) fromDocuments(ctx context.Context, r Request, patientID int64, from, to time.Time) ([]Event, error) {
	if s.docs == nil {
		return nil, nil
	}
	q := record.Query{PatientID: patientID, Types: careTypeCodes, ServiceFrom: from, ServiceTo: to, All: true,
		Limit: record.MaxLimit}
	rr := record.Request{Actor: r.Actor, Channel: r.Channel, BreakGlass: r.BreakGlass}
	var out []careEvent
	for {
		p, err := s.docs.Search(ctx, rr, q)
		if err != nil {
			return nil, err
		}
		for i := range p.Documents {
			if e, ok := DocumentEvent(&p.Documents[i]); ok {
				out = append(out, careEvent{Event: e, orgs: orgsOf(&p.Documents[i]), authors: authorsOf(&p.Documents[i])})
			}
		}
		if len(out) > MaxEvents {
			return nil, errTooMany()
		}
		if !p.More || len(p.Documents) == 0 {
			return mergeCare(out), nil
		}
		last := p.Documents[len(p.Documents)-1]
		q.AfterCreated, q.AfterID = last.Created, last.LogicalID
	}
}

// careEvent is an event read from a report, with who it is from, to merge it with the others
// of the same stay or consultation.
type careEvent struct {
	Event
	orgs    []string // the authors' organisations (IdNat_Struct, else name)
	authors []string // the authors' IdNat_PS
}

func orgsOf(d *record.Document) []string {
	var out []string
	for _, a := range d.Authors {
		o := a.OrgID
		if o == "" {
			o = strings.ToLower(strings.TrimSpace(a.OrgName))
		}
		if o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

func authorsOf(d *record.Document) []string {
	var out []string
	for _, a := range d.Authors {
		if a.ID != "" && !slices.Contains(out, a.ID) {
			out = append(out, a.ID)
		}
	}
	return out
}

// mergeCare makes one event of the reports of one stay or one consultation: a stay's report,
// its discharge letter and its admission report are three documents of one stay, which the
// timeline shows once, linked to each. Two events are one when they are of the same kind,
// their days overlap (a consultation has one day), and they are from the same organisation
// when both say which (a consultation: else from the same professional when both say who);
// what does not say is taken to be of the same care, as two stays cannot overlap. The merged
// event runs from the first start to the last end; it keeps the reference and the title of
// the report deposited first, so that its identity (the feed's UID) stays as reports are
// added, and the authors of all.
func mergeCare(in []careEvent) []Event {
	slices.SortStableFunc(in, func(a, b careEvent) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.SourceRef, b.SourceRef)
	})
	var groups []careEvent
	for _, e := range in {
		merged := false
		for g := len(groups) - 1; g >= 0 && !merged; g-- {
			if sameCare(&groups[g], &e) {
				groups[g] = mergeTwo(groups[g], e)
				merged = true
			}
		}
		if !merged {
			groups = append(groups, e)
		}
	}
	out := make([]Event, len(groups))
	for i := range groups {
		out[i] = groups[i].Event
	}
	return out
}

// sameCare reports whether a and b are reports of the same stay or consultation.
func sameCare(a, b *careEvent) bool {
	if a.Kind != b.Kind {
		return false
	}
	a0, a1 := careDays(&a.Event)
	b0, b1 := careDays(&b.Event)
	if a1 < b0 || b1 < a0 {
		return false
	}
	if len(a.orgs) > 0 && len(b.orgs) > 0 {
		return shares(a.orgs, b.orgs)
	}
	if a.Kind == KindConsultation && len(a.authors) > 0 && len(b.authors) > 0 {
		return shares(a.authors, b.authors)
	}
	return true
}

func shares(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// careDays are the first and last days of an event, as yyyymmdd: a date (midnight UTC) is its
// day, a time the day it is in Paris.
func careDays(e *Event) (int, int) {
	day := func(t time.Time) int {
		if u := t.UTC(); u.Hour() != 0 || u.Minute() != 0 || u.Second() != 0 {
			t = t.In(paris)
		} else {
			t = u
		}
		return t.Year()*10000 + int(t.Month())*100 + t.Day()
	}
	last := e.Start
	if e.End.After(last) {
		last = e.End
	}
	return day(e.Start), day(last)
}

// mergeTwo merges b into the group a.
func mergeTwo(a, b careEvent) careEvent {
	if b.CreatedAt.Before(a.CreatedAt) {
		// The report deposited first names the event: its reference, title and document.
		a.SourceRef, a.Title, a.What, a.Document, a.CreatedAt, a.CreatedBy, a.Class, a.Type =
			b.SourceRef, b.Title, b.What, b.Document, b.CreatedAt, b.CreatedBy, b.Class, b.Type
	}
	end := a.End
	for _, t := range []time.Time{b.Start, b.End} {
		if t.After(end) && t.After(a.Start) {
			end = t
		}
	}
	if b.Start.Before(a.Start) {
		a.Start = b.Start
	}
	if a.Kind == KindStay && end.After(a.Start) {
		a.End = end
	}
	for _, d := range b.Documents {
		if !slices.Contains(a.Documents, d) {
			a.Documents = append(a.Documents, d)
		}
	}
	// The first document stays first: the one the event is named after.
	if i := slices.Index(a.Documents, a.Document); i > 0 {
		a.Documents = append([]string{a.Document}, slices.Delete(slices.Clone(a.Documents), i, i+1)...)
	}
	parts := strings.Split(a.Detail, " · ")
	for _, p := range strings.Split(b.Detail, " · ") {
		if p != "" && !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	a.Detail = truncate(strings.Trim(strings.Join(parts, " · "), " ·"), maxDetail)
	a.orgs = append(a.orgs, b.orgs...)
	a.authors = append(a.authors, b.authors...)
	return a
}
