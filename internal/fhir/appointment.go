package fhir

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
)

// Appointments and convocations that professionals' software sends to the patient's agenda
// (FHIR Appointment; issue 8): create, update (a new time, a cancellation), read and search by
// patient and date. The agenda service decides each write as depositing a "Notification de
// rendez-vous" into the patient's record, and each read as reading the agenda, and traces them.

// SystemRPPS is the RPPS number's system, accepted besides the IdNat_PS (8 + RPPS).
const SystemRPPS = "https://rpps.esante.gouv.fr"

// appointmentElements are the Appointment elements the agenda keeps; any other is refused,
// so that a client never believes something was stored that was not.
var appointmentElements = []string{"status", "serviceType", "description", "start", "end", "minutesDuration", "comment",
	"participant", "created"}

// appointmentRoutes serves Appointment when the API has an agenda: a mux in front of the
// API's own, as profileRoutes does (the CapabilityStatement lists it: capabilities).
func (a *API) appointmentRoutes() {
	if a.d.Agenda == nil {
		return
	}
	inner, outer := a.mux, http.NewServeMux()
	outer.HandleFunc("POST /fhir/Appointment", a.auth(a.appointmentWrite))
	outer.HandleFunc("PUT /fhir/Appointment/{id}", a.auth(a.appointmentWrite))
	outer.HandleFunc("GET /fhir/Appointment/{id}", a.auth(a.appointmentRead))
	outer.HandleFunc("GET /fhir/Appointment", a.auth(a.appointmentSearch))
	outer.HandleFunc("POST /fhir/Appointment/_search", a.auth(a.appointmentSearch))
	outer.Handle("/", inner)
	a.mux = outer
}

func agendaRequest(req record.Request) agenda.Request {
	return agenda.Request{Actor: req.Actor, Channel: req.Channel, BreakGlass: req.BreakGlass}
}

// appointmentWrite is the create (POST) and the update (PUT, the id in the path).
func (a *API) appointmentWrite(w http.ResponseWriter, r *http.Request, req record.Request) {
	raw, err := a.body(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ap, ref, err := DecodeAppointment(raw)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if id := r.PathValue("id"); id != "" {
		ap.ID = id
		// If-Match (W/"<version>") makes the update conditional on the version the client read.
		if m := strings.TrimSpace(r.Header.Get("If-Match")); m != "" {
			v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(m, "W/"), `"`))
			if err != nil || v < 1 {
				a.fail(w, r, errs.E(errs.Invalid, `If-Match is W/"<version>"`))
				return
			}
			ap.IfVersion = v
		}
	}
	pid, err := a.patientOf(r.Context(), ref)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, created, err := a.d.Agenda.FileAppointment(r.Context(), agendaRequest(req), pid, ap)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", a.d.BaseURL+"/Appointment/"+out.ID+"/_history/"+strconv.Itoa(out.Version))
	}
	w.Header().Set("ETag", `W/"`+strconv.Itoa(out.Version)+`"`)
	a.write(w, status, EncodeAppointment(&out))
}

func (a *API) appointmentRead(w http.ResponseWriter, r *http.Request, req record.Request) {
	ap, err := a.d.Agenda.Appointment(r.Context(), agendaRequest(req), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", `W/"`+strconv.Itoa(ap.Version)+`"`)
	a.write(w, http.StatusOK, EncodeAppointment(&ap))
}

// appointmentSearch: by patient (required) and date (the appointment's start).
func (a *API) appointmentSearch(w http.ResponseWriter, r *http.Request, req record.Request) {
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, errs.E(errs.Invalid, "the search parameters do not parse"))
		return
	}
	var ref *r4.Reference
	for key, vs := range r.Form {
		switch key {
		case "patient":
			ref = &r4.Reference{Reference: vs[0]}
		case "patient.identifier":
			ins, err := identity.ParseFHIRIdentifier(vs[0])
			if err != nil {
				a.fail(w, r, err)
				return
			}
			sys, val := ins.FHIR()
			ref = &r4.Reference{Identifier: &r4.Identifier{System: sys, Value: val}}
		case "date", "_format":
		default:
			a.fail(w, r, errs.E(errs.Invalid, "unknown search parameter %q", key))
			return
		}
	}
	if ref == nil {
		a.fail(w, r, errs.E(errs.Invalid, "the patient is required: patient=Patient/<id> or patient.identifier=urn:oid:…|<INS>"))
		return
	}
	pid, err := a.patientOf(r.Context(), ref)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	from, to, err := dateRange(r.Form["date"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		a.fail(w, r, errs.E(errs.Invalid, "date: the period is empty"))
		return
	}
	list, err := a.d.Agenda.Appointments(r.Context(), agendaRequest(req), pid, from, to)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	b := r4.Bundle{Type: r4.BundleTypeSearchset, Timestamp: r4.InstantOf(time.Now().UTC()), Total: r4.Ptr(0),
		Link: []r4.BundleLink{{Relation: "self", URL: a.d.BaseURL + "/Appointment?" + r.Form.Encode()}}}
	for i := range list {
		e := r4.BundleEntry{FullURL: a.d.BaseURL + "/Appointment/" + list[i].ID, Search: &r4.BundleSearch{Mode: "match"}}
		if err := e.SetResource(EncodeAppointment(&list[i])); err != nil {
			a.fail(w, r, err)
			return
		}
		b.Entry = append(b.Entry, e)
	}
	*b.Total = len(b.Entry)
	a.write(w, http.StatusOK, b)
}

// DecodeAppointment reads an Appointment as professionals' software sends it: strictly (an
// unknown element is refused), with a status of booked, proposed or cancelled, a start, one
// patient participant (Patient/<id> or the INS as an identifier), and at most one
// practitioner (by RPPS), location and organisation. Every problem is reported at once.
func DecodeAppointment(raw []byte) (agenda.Appointment, *r4.Reference, error) {
	var res r4.Appointment
	if err := decodeAs(raw, &res, appointmentElements...); err != nil {
		return agenda.Appointment{}, nil, err
	}
	var p readProblems
	ap := agenda.Appointment{Status: res.Status, Description: res.Description, Comment: res.Comment}
	switch res.Status {
	case agenda.StatusBooked, agenda.StatusProposed, agenda.StatusCancelled:
	case "":
		p.add("the status is required")
	default:
		p.add("status %q: the agenda takes booked, proposed or cancelled", res.Status)
	}
	if res.Start == "" {
		p.add("the start is required")
	} else if t, err := res.Start.Time(); err != nil {
		p.add("start %q is not an instant", string(res.Start))
	} else {
		ap.Start = t.UTC()
	}
	if res.End != "" {
		if t, err := res.End.Time(); err != nil {
			p.add("end %q is not an instant", string(res.End))
		} else {
			ap.End = t.UTC()
		}
	}
	if res.MinutesDuration != nil {
		switch m := *res.MinutesDuration; {
		case m <= 0 || m > 60*24*366:
			p.add("minutesDuration must be positive and under a year")
		case ap.End.IsZero() && !ap.Start.IsZero():
			ap.End = ap.Start.Add(time.Duration(m) * time.Minute)
		}
	}
	switch len(res.ServiceType) {
	case 0:
	case 1:
		st := res.ServiceType[0]
		if len(st.Coding) > 1 {
			p.add("serviceType: one coding is kept, not %d", len(st.Coding))
		} else if len(st.Coding) == 1 {
			ap.ServiceSystem, ap.ServiceCode, ap.ServiceDisplay = st.Coding[0].System, st.Coding[0].Code, st.Coding[0].Display
		}
		if st.Text != "" {
			ap.ServiceDisplay = st.Text
		}
	default:
		p.add("one serviceType is kept, not %d", len(res.ServiceType))
	}
	var patient *r4.Reference
	if len(res.Participant) == 0 {
		p.add("the participants are required: the patient at least")
	}
	for i, part := range res.Participant {
		ref := part.Actor
		if ref == nil {
			p.add("participant %d: the actor is required", i+1)
			continue
		}
		typ := ref.Type
		if typ == "" {
			typ, _, _ = strings.Cut(ref.Reference, "/")
		}
		if typ == "" && ref.Identifier != nil {
			// A logical reference without a type: the identifier's system says who it is.
			switch ref.Identifier.System {
			case SystemIdNatPS, SystemRPPS:
				typ = "Practitioner"
			default:
				if _, err := identity.FromFHIR(ref.Identifier.System, ref.Identifier.Value); err == nil {
					typ = "Patient"
				}
			}
		}
		switch typ {
		case "Patient":
			if patient != nil {
				p.add("participant %d: one patient per appointment", i+1)
			}
			patient = &r4.Reference{Reference: ref.Reference, Identifier: ref.Identifier}
		case "Practitioner", "PractitionerRole":
			if ap.RPPS != "" || ap.PractitionerName != "" {
				p.add("participant %d: one practitioner is kept", i+1)
			}
			if ref.Identifier != nil {
				switch ref.Identifier.System {
				case SystemIdNatPS, SystemRPPS:
					ap.RPPS = ref.Identifier.Value
					if _, err := identity.ParseIdNatPS(ref.Identifier.Value); err != nil && !isRPPS(ref.Identifier.Value) {
						p.add("participant %d: %q is not an RPPS number", i+1, ref.Identifier.Value)
					}
				default:
					p.add("participant %d: a practitioner is named by RPPS (%s or %s)", i+1, SystemIdNatPS, SystemRPPS)
				}
			}
			ap.PractitionerName = ref.Display
			if ap.RPPS == "" && ap.PractitionerName == "" {
				p.add("participant %d: the practitioner needs an RPPS identifier or a display name", i+1)
			}
		case "Location":
			if ap.Location != "" {
				p.add("participant %d: one location is kept", i+1)
			}
			if ap.Location = ref.Display; ap.Location == "" {
				p.add("participant %d: the location needs a display name", i+1)
			}
		case "Organization":
			if ap.Organization != "" {
				p.add("participant %d: one organization is kept", i+1)
			}
			if ap.Organization = ref.Display; ap.Organization == "" {
				p.add("participant %d: the organization needs a display name", i+1)
			}
			if ref.Identifier != nil {
				ap.OrganizationID = ref.Identifier.System + "|" + ref.Identifier.Value
			}
		default:
			p.add("participant %d: the actor must be a Patient, Practitioner, PractitionerRole, Location or Organization", i+1)
		}
	}
	if patient == nil && len(res.Participant) > 0 {
		p.add("the patient is required among the participants")
	}
	if err := p.err("Appointment"); err != nil {
		return agenda.Appointment{}, nil, err
	}
	return ap, patient, nil
}

// isRPPS reports whether v is an RPPS number: 11 digits.
func isRPPS(v string) bool {
	if len(v) != 11 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// EncodeAppointment writes an appointment as an R4 Appointment.
func EncodeAppointment(ap *agenda.Appointment) r4.Appointment {
	res := r4.Appointment{ID: ap.ID, Status: ap.Status, Description: ap.Description, Comment: ap.Comment,
		Meta:    &r4.Meta{VersionID: strconv.Itoa(ap.Version), LastUpdated: r4.InstantOf(ap.Updated.UTC())},
		Start:   r4.InstantOf(ap.Start.UTC()),
		Created: r4.DateTimeOf(ap.Created.UTC())}
	if !ap.End.IsZero() {
		res.End = r4.InstantOf(ap.End.UTC())
	}
	if ap.ServiceCode != "" || ap.ServiceDisplay != "" {
		cc := r4.CodeableConcept{Text: ap.ServiceDisplay}
		if ap.ServiceCode != "" {
			cc.Coding = []r4.Coding{{System: ap.ServiceSystem, Code: ap.ServiceCode}}
		}
		res.ServiceType = []r4.CodeableConcept{cc}
	}
	status := "accepted"
	switch ap.Status {
	case agenda.StatusProposed:
		status = "needs-action"
	case agenda.StatusCancelled:
		status = "declined"
	}
	res.Participant = append(res.Participant, r4.AppointmentParticipant{
		Actor: &r4.Reference{Reference: "Patient/" + strconv.FormatInt(ap.PatientID, 10), Type: "Patient"}, Status: status})
	if ap.RPPS != "" || ap.PractitionerName != "" {
		ref := &r4.Reference{Type: "Practitioner", Display: ap.PractitionerName}
		if ap.RPPS != "" {
			sys := SystemRPPS
			if !isRPPS(ap.RPPS) {
				sys = SystemIdNatPS
			}
			ref.Identifier = &r4.Identifier{System: sys, Value: ap.RPPS}
		}
		res.Participant = append(res.Participant, r4.AppointmentParticipant{Actor: ref, Status: "accepted"})
	}
	if ap.Location != "" {
		res.Participant = append(res.Participant, r4.AppointmentParticipant{
			Actor: &r4.Reference{Type: "Location", Display: ap.Location}, Status: "accepted"})
	}
	if ap.Organization != "" {
		ref := &r4.Reference{Type: "Organization", Display: ap.Organization}
		if sys, val, ok := strings.Cut(ap.OrganizationID, "|"); ok && sys != "" && val != "" {
			ref.Identifier = &r4.Identifier{System: sys, Value: val}
		}
		res.Participant = append(res.Participant, r4.AppointmentParticipant{Actor: ref, Status: "accepted"})
	}
	return res
}

// appointmentCapability declares Appointment in the CapabilityStatement.
func appointmentCapability() r4.CapabilityStatementResource {
	return r4.CapabilityStatementResource{
		Type: "Appointment",
		Documentation: "Appointments and convocations in the patient's agenda, sent by professionals' software: status " +
			"booked, proposed or cancelled; participants: the Patient (Patient/<id> or the INS as an identifier), a " +
			"Practitioner by RPPS, a Location and an Organization by name. Each write is decided as depositing a " +
			"\"Notification de rendez-vous\" (LOINC 56446-8) and traced.",
		Interaction: []r4.CapabilityStatementInteraction{{Code: "read"}, {Code: "create"}, {Code: "update"}, {Code: "search-type"}},
		SearchParam: []r4.CapabilityStatementSearchParam{
			{Name: "patient", Type: "reference", Documentation: "Patient/<id> (one of patient or patient.identifier is required)"},
			{Name: "patient.identifier", Type: "token", Documentation: "the patient's INS: urn:oid:…|<INS>"},
			{Name: "date", Type: "date", Documentation: "the appointment's start (ge, gt, le, lt, eq)"},
		},
	}
}
