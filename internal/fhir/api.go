// Package fhir is the FHIR R4 API that professionals' software, business software and apps use:
// IHE MHD as the French PDSm guide profiles it (ITI-65 provide, ITI-105 simplified publish,
// ITI-67 find, ITI-68 retrieve), the masking PATCH, the Patient lookup by INS and the
// CapabilityStatement. It is a thin adapter: it authenticates the caller (a bearer token),
// reads the resources, and calls the record service, which decides access and traces. Every
// error is an OperationOutcome with its HTTP status.
package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/cda"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/terminology"
	"github.com/carnet-sante/carnet/internal/trail"
)

// Deps are what the API is built from.
type Deps struct {
	Records *record.Service
	Tokens  *apitoken.Service
	Catalog *terminology.Catalog
	Trail   *trail.Service
	// Exporter writes a whole space (Patient/{id}/$everything); nil leaves the operation out.
	Exporter Exporter
	// Profile serves the medical profile's resources and PCH-01 (profile.go); nil leaves them out.
	Profile *profile.Service
	// Agenda serves Appointment (appointment.go); nil leaves it out.
	Agenda *agenda.Service
	// BaseURL is the API's public base, e.g. "https://carnet.example/fhir".
	BaseURL string
	Version string
	Log     *slog.Logger
}

// API serves /fhir.
type API struct {
	d       Deps
	mux     *http.ServeMux
	maxBody int64
	dir     atomic.Pointer[directoryRef] // the MSSanté directory (directory.go), once given
	// questionnaires answers QuestionnaireResponse (questionnaire.go), once given
	questionnaires atomic.Pointer[questionnaireRef]
}

// New returns the API.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	d.BaseURL = strings.TrimSuffix(d.BaseURL, "/")
	a := &API{d: d, mux: http.NewServeMux()}
	// A document travels base64-encoded in JSON (4/3 of its size), with its metadata.
	a.maxBody = d.Records.Policy().MaxSize*4/3*int64(1) + 1<<20
	a.mux.HandleFunc("GET /fhir/metadata", a.metadata)
	a.mux.HandleFunc("POST /fhir", a.auth(a.transaction))
	a.mux.HandleFunc("POST /fhir/{$}", a.auth(a.transaction))
	a.mux.HandleFunc("POST /fhir/DocumentReference", a.auth(a.publish))
	a.mux.HandleFunc("GET /fhir/DocumentReference", a.auth(a.search))
	a.mux.HandleFunc("POST /fhir/DocumentReference/_search", a.auth(a.search))
	a.mux.HandleFunc("GET /fhir/DocumentReference/{id}", a.auth(a.read))
	a.mux.HandleFunc("PATCH /fhir/DocumentReference/{id}", a.auth(a.patch))
	a.mux.HandleFunc("DELETE /fhir/DocumentReference/{id}", a.auth(a.remove))
	a.mux.HandleFunc("GET /fhir/Binary/{id}", a.auth(a.binary))
	a.mux.HandleFunc("GET /fhir/Patient", a.auth(a.patients))
	a.mux.HandleFunc("GET /fhir/AuditEvent", a.auth(a.auditEvents))
	a.mux.HandleFunc("GET /fhir/Patient/{id}/$everything", a.auth(a.everything))
	a.mux.HandleFunc("GET /fhir/Patient/{id}", a.auth(a.patientRead)) // patient_read.go
	a.mux.HandleFunc("/fhir/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, errs.E(errs.NotFound, "no such FHIR interaction: %s %s", r.Method, r.URL.Path))
	})
	a.directoryRoutes()
	a.questionnaireRoutes()
	a.profileRoutes() // last: it puts a mux of its own in front of the one above
	// Appointment: a mux in front of the profile's, for the same reason.
	a.appointmentRoutes()
	return a
}

// ServeHTTP serves the API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

type ctxKey struct{}

// auth resolves the bearer token to the actor the request acts for.
func (a *API) auth(h func(http.ResponseWriter, *http.Request, record.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="carnet"`)
			a.writeOutcome(w, http.StatusUnauthorized, r4.Outcome(r4.SeverityError, r4.IssueLogin,
				"authentication required: send Authorization: Bearer <token>"))
			return
		}
		res, err := a.d.Tokens.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			if errs.Is(err, errs.Unauthenticated) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="carnet", error="invalid_token"`)
				a.writeOutcome(w, http.StatusUnauthorized, r4.Outcome(r4.SeverityError, r4.IssueLogin, errs.MessageOf(err)))
				return
			}
			a.fail(w, r, err)
			return
		}
		req := record.Request{Actor: res.Actor, Channel: audit.ChannelFHIR}
		// Break-glass: the professional states the reason of an emergency access in a header
		// (there is no standard MHD element for it).
		if reason := strings.TrimSpace(r.Header.Get("X-Carnet-Break-Glass")); reason != "" {
			req.BreakGlass = &access.BreakGlass{Reason: reason}
		}
		if err := a.appGrant(r, req); err != nil {
			a.fail(w, r, err) // appgrant.go: an app only uses the resource types it was granted
			return
		}
		h(w, r, req)
	}
}

// fail writes err as an OperationOutcome. Internal errors are logged (without health data:
// the error chain of our code names no patient) and not shown.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	if errs.Is(err, errs.Unauthenticated) {
		a.writeOutcome(w, http.StatusUnauthorized, r4.Outcome(r4.SeverityError, r4.IssueLogin, errs.MessageOf(err)))
		return
	}
	o, status := r4.FromError(err)
	if status >= 500 {
		a.d.Log.Error("fhir request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	a.writeOutcome(w, status, o)
}

func (a *API) writeOutcome(w http.ResponseWriter, status int, o *r4.OperationOutcome) {
	a.write(w, status, o)
}

func (a *API) write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception","diagnostics":"internal error"}]}`)
	}
	w.Header().Set("Content-Type", r4.MIMEFHIRJSON+"; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// body reads a request body, bounded.
func (a *API) body(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errs.E(errs.Invalid, "the request is larger than the %d bytes accepted", a.maxBody)
	}
	return b, err
}

func (a *API) metadata(w http.ResponseWriter, r *http.Request) {
	a.write(w, http.StatusOK, capability(a.d.BaseURL, a.d.Version, a.capabilities()...))
}

// transaction is ITI-65 (Provide Document Bundle): a transaction Bundle holding a
// SubmissionSet List, DocumentReferences and the Binaries they point at.
func (a *API) transaction(w http.ResponseWriter, r *http.Request, req record.Request) {
	raw, err := a.body(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var b r4.Bundle
	if err := r4.Decode(raw, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	items, refs, err := submission(&b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	docs, err := a.d.Records.DepositAll(r.Context(), req, items)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// The response: one entry per request entry, in order (FHIR transaction rules).
	resp := r4.Bundle{Type: r4.BundleTypeTransactionResponse, Timestamp: r4.InstantOf(time.Now().UTC())}
	now := r4.InstantOf(docs[0].Submitted)
	for _, ref := range refs {
		e := r4.BundleEntry{Response: &r4.BundleResponse{Status: "201 Created", LastModified: now}}
		switch {
		case ref.doc >= 0:
			d := docs[ref.doc]
			e.Response.Location = "DocumentReference/" + d.LogicalID + "/_history/" + strconv.Itoa(d.Version)
			e.Response.Etag = `W/"` + strconv.Itoa(d.Version) + `"`
		case ref.binary >= 0:
			e.Response.Location = "Binary/" + docs[ref.binary].LogicalID
		default:
			e.Response.Location = "List/" + docs[0].LogicalID
		}
		resp.Entry = append(resp.Entry, e)
	}
	a.write(w, http.StatusOK, resp)
}

// entryRef says which document each entry of a transaction became.
type entryRef struct{ doc, binary int }

// submission reads an ITI-65 Bundle into the items to deposit. Every problem is reported
// before anything is stored.
func submission(b *r4.Bundle) ([]record.Item, []entryRef, error) {
	if b.Type != r4.BundleTypeTransaction {
		return nil, nil, errs.E(errs.Invalid, "Bundle.type is %q: a provide document bundle is a transaction", b.Type)
	}
	var (
		list     *r4.List
		drs      []*r4.DocumentReference
		binaries = map[string]*r4.Binary{}
		refs     = make([]entryRef, len(b.Entry))
		drEntry  []int
		binEntry = map[string]int{}
	)
	for i := range b.Entry {
		e := &b.Entry[i]
		refs[i] = entryRef{doc: -1, binary: -1}
		if e.Request == nil || e.Request.Method != http.MethodPost {
			return nil, nil, errs.E(errs.Invalid, "Bundle.entry[%d].request: each entry is a POST", i)
		}
		rt, v, err := e.DecodeChecked() // r4.Decode walked the whole Bundle strictly
		if err != nil {
			return nil, nil, err
		}
		switch res := v.(type) {
		case *r4.List:
			if list != nil {
				return nil, nil, errs.E(errs.Invalid, "the bundle holds more than one List: one SubmissionSet is expected")
			}
			list = res
		case *r4.DocumentReference:
			drs = append(drs, res)
			drEntry = append(drEntry, i)
		case *r4.Binary:
			if e.FullURL == "" {
				return nil, nil, errs.E(errs.Invalid, "Bundle.entry[%d]: a Binary needs a fullUrl for its DocumentReference to point at", i)
			}
			binaries[e.FullURL] = res
			binEntry[e.FullURL] = i
		default:
			return nil, nil, errs.E(errs.Invalid, "Bundle.entry[%d]: a %s has no place in a provide document bundle", i, rt)
		}
	}
	if list == nil {
		return nil, nil, errs.E(errs.Invalid, "the bundle holds no List: the SubmissionSet is required")
	}
	if len(drs) == 0 {
		return nil, nil, errs.E(errs.Invalid, "the bundle holds no DocumentReference")
	}
	if list.Subject == nil || list.Subject.Identifier == nil {
		return nil, nil, errs.E(errs.Invalid, "List.subject: the patient's INS (identifier) is required")
	}
	ins, err := insOf(list.Subject.Identifier)
	if err != nil {
		return nil, nil, errs.E(errs.Invalid, "List.subject: %s", errs.MessageOf(err))
	}
	used := map[string]bool{}
	items := make([]record.Item, len(drs))
	for i, dr := range drs {
		dep, err := depositOf(dr, ins)
		if err != nil {
			return nil, nil, errs.E(errs.Invalid, "DocumentReference %d: %s", i+1, errs.MessageOf(err))
		}
		if len(dr.Content) != 1 {
			return nil, nil, errs.E(errs.Invalid, "DocumentReference %d: exactly one content is expected", i+1)
		}
		att := dr.Content[0].Attachment
		var content []byte
		switch {
		case len(att.Data) > 0:
			content = att.Data
		case att.URL != "":
			bin, ok := binaries[att.URL]
			if !ok {
				return nil, nil, errs.E(errs.Invalid, "DocumentReference %d: content.attachment.url %q names no Binary of the bundle", i+1, att.URL)
			}
			if used[att.URL] {
				return nil, nil, errs.E(errs.Invalid, "DocumentReference %d: the Binary %q is already another document's", i+1, att.URL)
			}
			used[att.URL] = true
			content = bin.Data
			if bin.ContentType != "" && dep.MimeType != "" && !strings.EqualFold(bin.ContentType, dep.MimeType) {
				return nil, nil, errs.E(errs.Invalid, "DocumentReference %d: the Binary is %s, the attachment says %s", i+1, bin.ContentType, dep.MimeType)
			}
			refs[binEntry[att.URL]].binary = i
		default:
			return nil, nil, errs.E(errs.Invalid, "DocumentReference %d: the document's bytes are missing (no Binary, no data)", i+1)
		}
		items[i] = record.Item{Deposit: dep, Content: content}
		for _, rel := range dr.RelatesTo {
			if rel.Code == "replaces" {
				id := strings.TrimPrefix(rel.Target.Reference, "DocumentReference/")
				if id == "" || strings.Contains(id, "/") {
					return nil, nil, errs.E(errs.Invalid, "DocumentReference %d: relatesTo.target must be DocumentReference/<id>", i+1)
				}
				items[i].Replaces = id
			}
		}
		refs[drEntry[i]].doc = i
	}
	for url := range binaries {
		if !used[url] {
			return nil, nil, errs.E(errs.Invalid, "the Binary %q is no document's content", url)
		}
	}
	return items, refs, nil
}

// publish is ITI-105 (Simplified Publish): one DocumentReference with its bytes inline.
func (a *API) publish(w http.ResponseWriter, r *http.Request, req record.Request) {
	raw, err := a.body(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var dr r4.DocumentReference
	if err := r4.Decode(raw, &dr); err != nil {
		a.fail(w, r, err)
		return
	}
	if dr.Subject == nil || dr.Subject.Identifier == nil {
		a.fail(w, r, errs.E(errs.Invalid, "DocumentReference.subject: the patient's INS (identifier) is required"))
		return
	}
	ins, err := insOf(dr.Subject.Identifier)
	if err != nil {
		a.fail(w, r, errs.E(errs.Invalid, "DocumentReference.subject: %s", errs.MessageOf(err)))
		return
	}
	dep, err := depositOf(&dr, ins)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if len(dr.Content) != 1 || len(dr.Content[0].Attachment.Data) == 0 {
		a.fail(w, r, errs.E(errs.Invalid, "DocumentReference.content.attachment.data: the document's bytes are required inline"))
		return
	}
	item := record.Item{Deposit: dep, Content: dr.Content[0].Attachment.Data}
	for _, rel := range dr.RelatesTo {
		if rel.Code == "replaces" {
			item.Replaces = strings.TrimPrefix(rel.Target.Reference, "DocumentReference/")
		}
	}
	docs, err := a.d.Records.DepositAll(r.Context(), req, []record.Item{item})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := docs[0]
	w.Header().Set("Location", a.d.BaseURL+"/DocumentReference/"+d.LogicalID+"/_history/"+strconv.Itoa(d.Version))
	w.Header().Set("ETag", `W/"`+strconv.Itoa(d.Version)+`"`)
	a.write(w, http.StatusCreated, documentReference(&d, a.d.Catalog, a.d.BaseURL))
}

func (a *API) read(w http.ResponseWriter, r *http.Request, req record.Request) {
	d, err := a.d.Records.Get(r.Context(), req, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", `W/"`+strconv.Itoa(d.Version)+`"`)
	a.write(w, http.StatusOK, documentReference(&d, a.d.Catalog, a.d.BaseURL))
}

// binary is ITI-68 (Retrieve Document): the bytes, checked against their hashes before the
// first byte is sent (a corrupted blob is an error, never content).
func (a *API) binary(w http.ResponseWriter, r *http.Request, req record.Request) {
	d, b, err := a.d.Records.ReadAll(r.Context(), req, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	accept := r.Header.Get("Accept")
	if d.CDALevel > 0 && (strings.Contains(accept, "text/html") || d.CDALevel == 1 && wantsWrapped(accept)) {
		a.cdaView(w, r, d, b, accept)
		return
	}
	if wantsFHIR(accept) {
		a.write(w, http.StatusOK, r4.Binary{ID: d.LogicalID, ContentType: d.MimeType, Data: b,
			SecurityContext: &r4.Reference{Reference: "DocumentReference/" + d.LogicalID}})
		return
	}
	w.Header().Set("Content-Type", d.MimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Content-Disposition", "attachment")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// cdaView shows a CDA document as people read it: the sections of a level 3 document as HTML,
// the PDF or image a level 1 document wraps as itself.
func (a *API) cdaView(w http.ResponseWriter, r *http.Request, d record.Document, b []byte, accept string) {
	doc, err := record.ParseCDA(b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	if doc.Level == 1 && !strings.Contains(accept, "text/html") {
		w.Header().Set("Content-Type", doc.MediaType)
		w.Header().Set("Content-Length", strconv.Itoa(len(doc.Content)))
		w.Write(doc.Content)
		return
	}
	var page bytes.Buffer
	page.WriteString("<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Document</title></head><body>\n")
	if err := cda.RenderHTML(&page, doc); err != nil {
		a.fail(w, r, err)
		return
	}
	page.WriteString("\n</body></html>\n")
	// The document's own text is escaped by RenderHTML; nothing in the page runs.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page.Bytes())
}

func wantsWrapped(accept string) bool {
	return strings.Contains(accept, "application/pdf") || strings.Contains(accept, "image/")
}

func wantsFHIR(accept string) bool {
	return strings.Contains(accept, r4.MIMEFHIRJSON) || strings.Contains(accept, "application/json")
}

// remove deletes a document (its author, or the patient's own deposit).
func (a *API) remove(w http.ResponseWriter, r *http.Request, req record.Request) {
	if err := a.d.Records.Delete(r.Context(), req, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// patch applies a JSON Patch (RFC 6902) to a DocumentReference's securityLabel: adding or
// removing a visibility label (MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX).
// Each change is a new metadata version. Other paths are refused.
func (a *API) patch(w http.ResponseWriter, r *http.Request, req record.Request) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	if ct != "application/json-patch+json" {
		a.fail(w, r, errs.E(errs.Invalid, "a PATCH is a JSON Patch (Content-Type: application/json-patch+json)"))
		return
	}
	raw, err := a.body(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	cur, err := a.d.Records.Get(r.Context(), req, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	want, archive, err := patchLabels(raw, documentReference(&cur, a.d.Catalog, a.d.BaseURL).SecurityLabel)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if archive && !cur.Archived {
		if cur, err = a.d.Records.Archive(r.Context(), req, id); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	have := map[access.Label]bool{}
	for _, l := range labelCodes {
		have[l.label] = l.on(cur.Labels)
	}
	d := cur
	for _, l := range labelCodes {
		if want[l.label] == have[l.label] {
			continue
		}
		if want[l.label] {
			d, err = a.d.Records.SetLabel(r.Context(), req, id, l.label)
		} else {
			d, err = a.d.Records.ClearLabel(r.Context(), req, id, l.label)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
	}
	w.Header().Set("ETag", `W/"`+strconv.Itoa(d.Version)+`"`)
	a.write(w, http.StatusOK, documentReference(&d, a.d.Catalog, a.d.BaseURL))
}

// patchLabels applies the patch operations to the current securityLabel and returns the
// visibility labels wanted, and whether the document is to be archived (adding the PDSm
// extension isArchived = true). The confidentiality codes may not change.
func patchLabels(raw []byte, cur []r4.CodeableConcept) (map[access.Label]bool, bool, error) {
	archive := false
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ops); err != nil || len(ops) == 0 {
		return nil, false, errs.E(errs.Invalid, "the body is not a JSON Patch (an array of operations)")
	}
	labels := append([]r4.CodeableConcept(nil), cur...)
	for i, op := range ops {
		switch {
		case op.Op == "add" && (op.Path == "/extension/-" || op.Path == "/extension/0"):
			var ext r4.Extension
			if err := json.Unmarshal(op.Value, &ext); err != nil || ext.URL != r4.ExtPDSmIsArchived || ext.ValueBoolean == nil || !*ext.ValueBoolean {
				return nil, false, errs.E(errs.Invalid, "operation %d: the only extension that can be added is %s = true (archiving)", i+1, r4.ExtPDSmIsArchived)
			}
			archive = true
		case op.Op == "add" && (op.Path == "/securityLabel/-" || strings.HasPrefix(op.Path, "/securityLabel/")):
			var cc r4.CodeableConcept
			if err := json.Unmarshal(op.Value, &cc); err != nil || len(cc.Coding) != 1 {
				return nil, false, errs.E(errs.Invalid, "operation %d: the value is one CodeableConcept with one coding", i+1)
			}
			labels = append(labels, cc)
		case op.Op == "remove" && strings.HasPrefix(op.Path, "/securityLabel/"):
			n, err := strconv.Atoi(strings.TrimPrefix(op.Path, "/securityLabel/"))
			if err != nil || n < 0 || n >= len(labels) {
				return nil, false, errs.E(errs.Invalid, "operation %d: no securityLabel at %s", i+1, op.Path)
			}
			labels = append(labels[:n], labels[n+1:]...)
		case op.Op == "replace" && op.Path == "/securityLabel":
			if err := json.Unmarshal(op.Value, &labels); err != nil {
				return nil, false, errs.E(errs.Invalid, "operation %d: the value is a list of CodeableConcept", i+1)
			}
		default:
			return nil, false, errs.E(errs.Invalid, "operation %d: only the visibility labels in securityLabel can be patched (%s %s)", i+1, op.Op, op.Path)
		}
	}
	want := map[access.Label]bool{}
	conf := func(ccs []r4.CodeableConcept) []string {
		var out []string
		for _, cc := range ccs {
			for _, c := range cc.Coding {
				if !isVisibilitySystem(c.System) {
					out = append(out, c.System+"|"+c.Code)
				}
			}
		}
		return out
	}
	if fmt.Sprint(conf(labels)) != fmt.Sprint(conf(cur)) {
		return nil, false, errs.E(errs.Invalid, "the confidentiality codes cannot be patched: replace the document")
	}
	for _, cc := range labels {
		for _, c := range cc.Coding {
			if !isVisibilitySystem(c.System) {
				continue
			}
			l := access.Label(c.Code)
			switch l {
			case access.LabelMasquePS, access.LabelInvisiblePatient, access.LabelInvisibleRepresentants:
				want[l] = true
			default:
				return nil, false, errs.E(errs.Invalid, "unknown visibility label %q", c.Code)
			}
		}
	}
	return want, archive, nil
}
