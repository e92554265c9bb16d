package fhir

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/questionnaire"
	"github.com/carnet-sante/carnet/internal/record"
)

// QuestionnaireResponse (issue 6): the patients' answers to the questionnaires professionals
// sent them through their mailbox, read by the sender only — the owner of the PER mailbox it
// came from or a member of the ORG one (internal/questionnaire decides and traces each read).
// Read by id and searched by patient and by questionnaire; never written through the API: a
// response is made by the patient in the portal.

type questionnaireRef struct{ s *questionnaire.Service }

// SetQuestionnaires gives the API the questionnaires' service: `carnet serve` starts the
// messaging, which answers them, after the API is built. Until it is given, the resource is
// not found.
func (a *API) SetQuestionnaires(s *questionnaire.Service) {
	a.questionnaires.Store(&questionnaireRef{s: s})
}

func (a *API) questionnaireService(w http.ResponseWriter, r *http.Request) *questionnaire.Service {
	if ref := a.questionnaires.Load(); ref != nil && ref.s != nil {
		return ref.s
	}
	a.fail(w, r, errs.E(errs.NotFound, "no such FHIR interaction: %s %s", r.Method, r.URL.Path))
	return nil
}

// questionnaireRoutes mounts QuestionnaireResponse on the API's own mux.
func (a *API) questionnaireRoutes() {
	a.mux.HandleFunc("GET /fhir/QuestionnaireResponse/{id}", a.auth(a.responseRead))
	a.mux.HandleFunc("GET /fhir/QuestionnaireResponse", a.auth(a.responseSearch))
	a.mux.HandleFunc("POST /fhir/QuestionnaireResponse/_search", a.auth(a.responseSearch))
}

// questionnaireCapability declares QuestionnaireResponse in the CapabilityStatement: what
// questionnaireRoutes and responseSearch serve.
func questionnaireCapability() r4.CapabilityStatementResource {
	param := func(name, typ, doc string) r4.CapabilityStatementSearchParam {
		return r4.CapabilityStatementSearchParam{Name: name, Type: typ, Documentation: doc}
	}
	return r4.CapabilityStatementResource{
		Type:        "QuestionnaireResponse",
		Profile:     "http://hl7.org/fhir/StructureDefinition/QuestionnaireResponse",
		Interaction: []r4.CapabilityStatementInteraction{{Code: "read"}, {Code: "search-type"}},
		SearchParam: []r4.CapabilityStatementSearchParam{
			param("patient", "reference", "Patient/<id> as the Patient lookup returns it."),
			param("subject", "reference", "as patient."),
			param("patient.identifier", "token", "the patient's INS: urn:oid:1.2.250.1.213.1.4.8|<INS>."),
			param("subject.identifier", "token", "as patient.identifier."),
			param("questionnaire", "reference", "the questionnaire's canonical url: every version, or url|version for one."),
			param("_count", "number", "how many responses, newest first: 20 by default, at most 100 (no next page)."),
		},
		Documentation: "The patients' answers to the questionnaires a professional sent to their mailbox, answered in the portal " +
			"and sent back as a reply: read and found by the sender only (the owner of the PER mailbox the questionnaire came " +
			"from, or a member of the ORG mailbox); each read traced on the patient's trail. Never written through the API.",
	}
}

// responseRead serves GET QuestionnaireResponse/{id}.
func (a *API) responseRead(w http.ResponseWriter, r *http.Request, req record.Request) {
	s := a.questionnaireService(w, r)
	if s == nil {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.fail(w, r, errs.E(errs.NotFound, "no such QuestionnaireResponse"))
		return
	}
	resp, err := s.Response(r.Context(), req.Actor, req.Channel, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.write(w, http.StatusOK, resp)
}

// responseSearch serves GET QuestionnaireResponse?patient=…&questionnaire=…: the sender's
// responses, newest first.
func (a *API) responseSearch(w http.ResponseWriter, r *http.Request, req record.Request) {
	s := a.questionnaireService(w, r)
	if s == nil {
		return
	}
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, errs.E(errs.Invalid, "the search parameters do not parse"))
		return
	}
	var (
		patientID int64
		canonical string
		count     = 20
	)
	for key, vs := range r.Form {
		if len(vs) != 1 {
			a.fail(w, r, errs.E(errs.Invalid, "the search parameter %q is given more than once", key))
			return
		}
		v := strings.TrimSpace(vs[0])
		var err error
		switch key {
		case "patient", "subject":
			if !strings.Contains(v, "/") {
				v = "Patient/" + v
			}
			patientID, err = a.patientOf(r.Context(), &r4.Reference{Reference: v})
		case "patient.identifier", "subject.identifier":
			var ins identity.INS
			if ins, err = identity.ParseFHIRIdentifier(v); err == nil {
				sys, val := ins.FHIR()
				patientID, err = a.patientOf(r.Context(), &r4.Reference{Identifier: &r4.Identifier{System: sys, Value: val}})
			}
		case "questionnaire":
			if v == "" {
				err = errs.E(errs.Invalid, "questionnaire: the canonical url of the questionnaire")
			}
			canonical = v
		case "_count":
			if count, err = strconv.Atoi(v); err != nil || count < 1 {
				err = errs.E(errs.Invalid, "_count must be a positive integer")
			}
		case "_format":
		default:
			err = errs.E(errs.Invalid, "unknown search parameter %q (supported: patient, subject, patient.identifier, questionnaire, _count)", key)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
	}
	rs, err := s.Responses(r.Context(), req.Actor, req.Channel, patientID, canonical, count)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	total := len(rs)
	b := r4.Bundle{Type: r4.BundleTypeSearchset, Total: &total, Timestamp: r4.InstantOf(time.Now().UTC()),
		Link: []r4.BundleLink{{Relation: "self", URL: a.d.BaseURL + "/QuestionnaireResponse?" + r.Form.Encode()}}}
	for _, resp := range rs {
		raw, err := json.Marshal(resp)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		b.Entry = append(b.Entry, r4.BundleEntry{FullURL: a.d.BaseURL + "/QuestionnaireResponse/" + resp.ID, Resource: raw,
			Search: &r4.BundleSearch{Mode: "match"}})
	}
	a.write(w, http.StatusOK, b)
}
