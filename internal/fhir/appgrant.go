package fhir

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
)

// An app's token carries the resource types it was granted with their SMART permissions
// (access.Actor.Resources, from its scope). The access decision knows actions and document
// classes only, so it would let an app granted "Observation.c" deposit documents, or one
// granted "Immunization.rs DocumentReference.crs" create vaccinations: the API checks the type
// and the interaction of each request first (least privilege), and the decision then decides
// within them. A refusal is traced in the chain of the patient who connected the app.

// interaction is the SMART permission letter a request needs on its resource type.
func interaction(method, id string) byte {
	switch {
	case method == http.MethodGet && id == "", method == http.MethodPost && id == "_search":
		return 's'
	case method == http.MethodGet:
		return 'r'
	case method == http.MethodPost:
		return 'c'
	case method == http.MethodPut, method == http.MethodPatch:
		return 'u'
	case method == http.MethodDelete:
		return 'd'
	}
	return 0
}

// granted reports whether resources (access.Actor.Resources) hold perm on typ.
func granted(resources []string, typ string, perm byte) bool {
	for _, g := range resources {
		t, perms, ok := strings.Cut(g, ".")
		if ok && t == typ && strings.IndexByte(perms, perm) >= 0 {
			return true
		}
	}
	return false
}

// appGrant checks an app's request against the resource types its token grants. It reads a
// transaction's body to tell PCH-01 (Observation) from ITI-65 (DocumentReference), and puts
// it back for the handler.
func (a *API) appGrant(r *http.Request, req record.Request) error {
	if req.Actor.Kind != audit.ActorApp {
		return nil
	}
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/fhir"), "/")
	typ, id, _ := strings.Cut(rest, "/")
	id, _, _ = strings.Cut(id, "/")
	perm := interaction(r.Method, id)
	switch typ {
	case "":
		raw, err := a.body(r)
		if err != nil {
			return err
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(raw)), int64(len(raw))
		typ, perm = "DocumentReference", 'c'
		if isPCH(raw) {
			typ = "Observation"
		}
	case "Patient":
		// The lookup by INS answers for the app's own patient only (record.LookupSpace), and
		// $everything is access.ActionExport, which no app is granted: the decision refuses.
		// Reading the Patient (patient_read.go), by id or searching by _id, shows the holder's
		// identity: the app needs Patient.r or Patient.s, which the decision alone (record.search,
		// granted with any data scope) would not tell.
		switch {
		case r.Method == http.MethodGet && id != "" && !strings.Contains(strings.TrimPrefix(rest, "Patient/"), "/"):
			perm = 'r'
		case r.Method == http.MethodGet && id == "" && r.URL.Query().Has("_id"):
			perm = 's'
		default:
			return nil
		}
	}
	ok := granted(req.Actor.Resources, typ, perm)
	if !ok && typ == "Binary" && perm == 'r' {
		// A document's content, reached from its DocumentReference's attachment.
		ok = granted(req.Actor.Resources, "DocumentReference", 'r')
	}
	if ok && perm != 0 {
		return nil
	}
	object := typ
	if id != "" && slices.Contains([]byte{'r', 'u', 'd'}, perm) {
		object += "/" + id
	}
	if err := a.d.Records.RefuseOutOfGrant(r.Context(), req, "fhir."+r.Method, object); err != nil {
		return err
	}
	return errs.E(errs.Forbidden, "not granted to this app by the patient: %s on %s", r.Method, typ)
}
