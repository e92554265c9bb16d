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
		Source: SourceRecord, SourceRef: d.UniqueID, Document: d.LogicalID, CreatedAt: d.Submitted}
	if k == KindStay && d.ServiceEnd.After(d.ServiceStart) {
		e.End = d.ServiceEnd
	}
	what := strings.TrimSpace(d.Title)
	if what == "" {
		what = k.Label()
	}
	e.Title = truncate(k.Label()+" : "+what, maxTitle)
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
	var out []Event
	for {
		p, err := s.docs.Search(ctx, rr, q)
		if err != nil {
			return nil, err
		}
		for i := range p.Documents {
			if e, ok := DocumentEvent(&p.Documents[i]); ok {
				out = append(out, e)
			}
		}
		if len(out) > MaxEvents {
			return nil, errTooMany()
		}
		if !p.More || len(p.Documents) == 0 {
			return out, nil
		}
		last := p.Documents[len(p.Documents)-1]
		q.AfterCreated, q.AfterID = last.Created, last.LogicalID
	}
}
