package fhir

import (
	"net/http"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/record"
)

// A SMART patient app reads the Patient of its launch context first (the token response's
// patient): GET Patient/{id} answers the holder's identity, as $everything writes it
// (patientResource), to whoever the record service lets read the record (record.ReadHolder
// decides and traces); everyone else gets 404, whether the patient exists or not. An app
// needs Patient.r (Patient.s for the search by _id) on top: appgrant.go checks it.

// patientRead serves GET Patient/{id}.
func (a *API) patientRead(w http.ResponseWriter, r *http.Request, req record.Request) {
	id, ok := parsePatientID(r.PathValue("id"))
	if !ok {
		a.fail(w, r, errs.E(errs.NotFound, "no such patient"))
		return
	}
	h, err := a.d.Records.ReadHolder(r.Context(), req, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.write(w, http.StatusOK, patientResource(h.Patient, h.State))
}

// patientsByID serves Patient?_id=<id>: the same read as a searchset, empty when the patient
// may not be read (a search answers nothing rather than 404).
func (a *API) patientsByID(w http.ResponseWriter, r *http.Request, req record.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "_id" && k != "_format" {
			a.fail(w, r, errs.E(errs.Invalid, "Patient?_id= takes no other search parameter than _format, not %q", k))
			return
		}
	}
	if len(q["_id"]) != 1 {
		a.fail(w, r, errs.E(errs.Invalid, "_id is given once"))
		return
	}
	b := r4.Bundle{Type: r4.BundleTypeSearchset, Timestamp: r4.InstantOf(time.Now().UTC()),
		Link: []r4.BundleLink{{Relation: "self", URL: a.d.BaseURL + "/Patient?" + q.Encode()}}}
	total := 0
	b.Total = &total
	if id, ok := parsePatientID(q.Get("_id")); ok {
		h, err := a.d.Records.ReadHolder(r.Context(), req, id)
		switch {
		case errs.Is(err, errs.NotFound):
		case err != nil:
			a.fail(w, r, err)
			return
		default:
			p := patientResource(h.Patient, h.State)
			e := r4.BundleEntry{FullURL: a.d.BaseURL + "/Patient/" + p.ID, Search: &r4.BundleSearch{Mode: "match"}}
			if err := e.SetResource(p); err != nil {
				a.fail(w, r, err)
				return
			}
			b.Entry = append(b.Entry, e)
			total = 1
		}
	}
	a.write(w, http.StatusOK, b)
}

// parsePatientID reads a Patient's logical id: carnet's are positive decimal integers, written
// without sign nor leading zero (strconv.FormatInt), so that one patient has one id.
func parsePatientID(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
