package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
)

// insOf reads an INS from a FHIR Identifier.
func insOf(id *r4.Identifier) (identity.INS, error) {
	if id == nil {
		return identity.INS{}, errs.E(errs.Invalid, "the patient's INS is missing")
	}
	return identity.FromFHIR(id.System, id.Value)
}

// searchParams are the ITI-67 parameters we support (MHD "Find Document References", PDSm).
var searchParams = map[string]bool{
	"patient.identifier": true, "patient": true, "status": true, "type": true, "category": true,
	"creation": true, "date": true, "period": true, "security-label": true, "author.identifier": true,
	"setting": true, "facility": true, "event": true, "format": true, "related": true,
	"_count": true, "_archived": true, "_cursor": true, "_format": true,
}

// search is ITI-67 (Find Document References).
func (a *API) search(w http.ResponseWriter, r *http.Request, req record.Request) {
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, errs.E(errs.Invalid, "the search parameters do not parse"))
		return
	}
	q, err := a.query(r.Context(), r.Form, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := a.d.Records.Search(r.Context(), req, q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	links := []r4.BundleLink{{Relation: "self", URL: a.d.BaseURL + "/DocumentReference?" + r.Form.Encode()}}
	total := -1
	if page.More {
		last := page.Documents[len(page.Documents)-1]
		next := cloneValues(r.Form)
		next.Set("_cursor", strconv.FormatInt(last.Created.UnixMicro(), 10)+"."+last.LogicalID)
		links = append(links, r4.BundleLink{Relation: "next", URL: a.d.BaseURL + "/DocumentReference?" + next.Encode()})
	} else if q.AfterID == "" {
		total = len(page.Documents) // exact only when the whole result is on this first page
	}
	body, err := a.searchset(links, total, page.Documents)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", r4.MIMEFHIRJSON+"; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// searchset writes a searchset Bundle of DocumentReferences. It is written by hand, each
// resource encoded once: encoding a Bundle of raw entries with encoding/json validates and
// compacts every entry again, which cost more than the search itself.
func (a *API) searchset(links []r4.BundleLink, total int, docs []record.Document) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(2048 + 2048*len(docs))
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","timestamp":`)
	ts, _ := json.Marshal(r4.InstantOf(time.Now().UTC()))
	b.Write(ts)
	if total >= 0 {
		b.WriteString(`,"total":`)
		b.WriteString(strconv.Itoa(total))
	}
	l, err := json.Marshal(links)
	if err != nil {
		return nil, err
	}
	b.WriteString(`,"link":`)
	b.Write(l)
	if len(docs) > 0 {
		b.WriteString(`,"entry":[`)
		for i := range docs {
			if i > 0 {
				b.WriteByte(',')
			}
			u, _ := json.Marshal(a.d.BaseURL + "/DocumentReference/" + docs[i].LogicalID)
			res, err := documentReference(&docs[i], a.d.Catalog, a.d.BaseURL).MarshalJSON()
			if err != nil {
				return nil, err
			}
			b.WriteString(`{"fullUrl":`)
			b.Write(u)
			b.WriteString(`,"resource":`)
			b.Write(res)
			b.WriteString(`,"search":{"mode":"match"}}`)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// query reads the search parameters into a record query. The patient is required (MHD), by
// INS (patient.identifier) or by id (patient=Patient/<id> as returned by the Patient lookup).
func (a *API) query(ctx context.Context, form url.Values, req record.Request) (record.Query, error) {
	var q record.Query
	for k := range form {
		if !searchParams[strings.Split(k, ":")[0]] {
			return q, errs.E(errs.Invalid, "unknown search parameter %q", k)
		}
	}
	switch {
	case form.Get("patient.identifier") != "":
		ins, err := identity.ParseFHIRIdentifier(form.Get("patient.identifier"))
		if err != nil {
			return q, err
		}
		// The search's own decision traces the access to this patient: no lookup trace too.
		if q.PatientID, err = a.d.Records.PatientID(ctx, ins); err != nil {
			return q, err
		}
	case form.Get("patient") != "":
		id, err := strconv.ParseInt(strings.TrimPrefix(form.Get("patient"), "Patient/"), 10, 64)
		if err != nil || id <= 0 {
			return q, errs.E(errs.Invalid, "patient must be Patient/<id>")
		}
		q.PatientID = id
	default:
		return q, errs.E(errs.Invalid, "the patient is required: patient.identifier=urn:oid:…|<INS> or patient=Patient/<id>")
	}
	for _, s := range splitAll(form["status"]) {
		switch s {
		case r4.DocumentStatusCurrent:
			q.Statuses = append(q.Statuses, record.Approved)
		case r4.DocumentStatusSuperseded:
			q.Statuses = append(q.Statuses, record.Deprecated)
		default:
			return q, errs.E(errs.Invalid, "status %q: current or superseded", s)
		}
	}
	for _, t := range splitAll(form["type"]) {
		q.Types = append(q.Types, tokenCode(t))
	}
	for _, c := range splitAll(form["category"]) {
		q.Classes = append(q.Classes, tokenCode(c))
	}
	for _, l := range splitAll(form["security-label"]) {
		code := tokenCode(l)
		switch access.Label(code) {
		case access.LabelMasquePS, access.LabelInvisiblePatient, access.LabelInvisibleRepresentants:
			q.Labels = append(q.Labels, access.Label(code))
		default:
			return q, errs.E(errs.Invalid, "security-label %q: one of the visibility labels", code)
		}
	}
	if v := form.Get("author.identifier"); v != "" {
		id, err := identity.ParseIdNatPS(tokenCode(v))
		if err != nil {
			return q, err
		}
		q.Author = id.String()
	}
	var err error
	if q.CreatedFrom, q.CreatedTo, err = dateRange(append(form["creation"], form["date"]...)); err != nil {
		return q, err
	}
	if q.ServiceFrom, q.ServiceTo, err = dateRange(form["period"]); err != nil {
		return q, err
	}
	switch form.Get("_archived") {
	case "", "false":
	case "true":
		q.Archived = record.OnlyArchived
	case "any":
		q.Archived = record.AnyArchived
	default:
		return q, errs.E(errs.Invalid, "_archived: true, false or any")
	}
	if c := form.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return q, errs.E(errs.Invalid, "_count must be a positive number")
		}
		q.Limit = min(n, record.MaxLimit)
	}
	if c := form.Get("_cursor"); c != "" {
		us, id, ok := strings.Cut(c, ".")
		n, err := strconv.ParseInt(us, 10, 64)
		if !ok || err != nil {
			return q, errs.E(errs.Invalid, "_cursor is not one this server gave")
		}
		q.AfterCreated, q.AfterID = time.UnixMicro(n).UTC(), id
	}
	for _, p := range []string{"setting", "facility", "event", "format", "related"} {
		if form.Get(p) != "" {
			return q, errs.E(errs.Invalid, "the search parameter %q is not supported yet", p)
		}
	}
	return q, nil
}

func splitAll(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// tokenCode returns the code of a token parameter ("system|code" or "code").
func tokenCode(t string) string {
	if _, code, ok := strings.Cut(t, "|"); ok {
		return code
	}
	return t
}

// dateRange reads date parameters with the prefixes ge, gt, le, lt, eq (or none) into a
// half-open range [from, to).
func dateRange(vs []string) (from, to time.Time, err error) {
	for _, v := range vs {
		prefix := "eq"
		if len(v) > 2 && strings.Contains("ge gt le lt eq", v[:2]) && (v[2] >= '0' && v[2] <= '9') {
			prefix, v = v[:2], v[2:]
		}
		lo, hi, perr := parseFHIRDate(v)
		if perr != nil {
			return from, to, errs.E(errs.Invalid, "date %q: %s", v, perr.Error())
		}
		switch prefix {
		case "ge":
			from = lo
		case "gt":
			from = hi
		case "le":
			to = hi
		case "lt":
			to = lo
		case "eq":
			from, to = lo, hi
		}
	}
	return from, to, nil
}

// parseFHIRDate reads a FHIR date or dateTime and returns the range it covers.
func parseFHIRDate(v string) (time.Time, time.Time, error) {
	for _, f := range []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{time.RFC3339, func(t time.Time) time.Time { return t.Add(time.Second) }},
		{time.RFC3339Nano, func(t time.Time) time.Time { return t.Add(time.Microsecond) }},
	} {
		if t, err := time.Parse(f.layout, v); err == nil {
			return t.UTC(), f.next(t).UTC(), nil
		}
	}
	return time.Time{}, time.Time{}, errs.E(errs.Invalid, "not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime with its zone)")
}

// patients answers Patient?identifier=<INS>: whether the patient has a space, and its state.
func (a *API) patients(w http.ResponseWriter, r *http.Request, req record.Request) {
	if r.URL.Query().Has("_id") {
		a.patientsByID(w, r, req) // patient_read.go
		return
	}
	v := r.URL.Query().Get("identifier")
	if v == "" {
		a.fail(w, r, errs.E(errs.Invalid, "identifier is required: urn:oid:1.2.250.1.213.1.4.8|<INS>"))
		return
	}
	for k := range r.URL.Query() {
		if k != "identifier" && k != "_format" {
			a.fail(w, r, errs.E(errs.Invalid, "unknown search parameter %q", k))
			return
		}
	}
	ins, err := identity.ParseFHIRIdentifier(v)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	b := r4.Bundle{Type: r4.BundleTypeSearchset, Timestamp: r4.InstantOf(time.Now().UTC()),
		Link: []r4.BundleLink{{Relation: "self", URL: a.d.BaseURL + "/Patient?" + r.URL.Query().Encode()}}}
	st, err := a.d.Records.LookupSpace(r.Context(), req, ins)
	switch {
	case errs.Is(err, errs.NotFound):
		zero := 0
		b.Total = &zero
		a.write(w, http.StatusOK, b)
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	one := 1
	b.Total = &one
	active := st.State == "open"
	p := r4.Patient{ID: strconv.FormatInt(st.PatientID, 10), Identifier: []r4.Identifier{*insIdentifier(st.INS)}, Active: &active,
		Extension: []r4.Extension{{URL: SpaceStateExtension, ValueCode: string(st.State)}}}
	e := r4.BundleEntry{FullURL: a.d.BaseURL + "/Patient/" + p.ID, Search: &r4.BundleSearch{Mode: "match"}}
	if err := e.SetResource(p); err != nil {
		a.fail(w, r, err)
		return
	}
	b.Entry = append(b.Entry, e)
	a.write(w, http.StatusOK, b)
}

// SpaceStateExtension carries the state of the patient's space (pending, open, opposed,
// closed, purged) on the Patient resource.
const SpaceStateExtension = "https://carnet-sante.org/fhir/StructureDefinition/space-state"
