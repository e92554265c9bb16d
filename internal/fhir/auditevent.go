package fhir

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/trail"
)

// The access trail as FHIR AuditEvent (issue "Access control": the same trail as the portal's,
// for the patient's own apps). A patient's token reads the whole trail of their space; a
// professional's, the traces of their own actions; anyone else is refused (403). Each search
// is itself traced.

// Our code systems and extensions on AuditEvent.
const (
	// TraceActionSystem codes AuditEvent.subtype: the trace's action ("document.read").
	TraceActionSystem = "https://carnet-sante.org/fhir/CodeSystem/trace-action"
	// ActorKindSystem codes AuditEvent.agent.type: patient, representative, professional, app,
	// operator, system; and organisation for the professional's organisation.
	ActorKindSystem = "https://carnet-sante.org/fhir/CodeSystem/actor-kind"
	// ActorIDSystem, followed by the actor kind, is the identifier system of an agent that has
	// no national identifier (everyone but professionals): the id the trace holds.
	ActorIDSystem = "https://carnet-sante.org/fhir/sid/actor/"
	// ChannelExtension (valueCode) says through what the agent acted: web, fhir, smtp, imap,
	// cli, job.
	ChannelExtension = "https://carnet-sante.org/fhir/StructureDefinition/audit-channel"
	// ReasonExtension (valueCode) is the reason code of the decision (access.Reason) or of the
	// failure (not_found, conflict…); outcomeDesc says it in French.
	ReasonExtension = "https://carnet-sante.org/fhir/StructureDefinition/audit-reason"
	// BasisExtension (valueCode) is the ground the actor had (care_team, authorisation,
	// break_glass…), kept when a later check refused.
	BasisExtension = "https://carnet-sante.org/fhir/StructureDefinition/audit-basis"
	// FirstAccessExtension (valueBoolean true) marks the first access of a professional to the
	// patient's data.
	FirstAccessExtension = "https://carnet-sante.org/fhir/StructureDefinition/audit-first-access"
)

// HL7 code systems of AuditEvent.
const (
	systemSourceType = "http://terminology.hl7.org/CodeSystem/security-source-type"
	systemEntityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole = "http://terminology.hl7.org/CodeSystem/object-role"
)

// auditEventParams are the AuditEvent search parameters we support.
var auditEventParams = map[string]bool{
	"patient": true, "patient.identifier": true, "date": true, "agent": true, "agent.identifier": true,
	"subtype": true, "action": true, "outcome": true, "entity": true, "_count": true, "_cursor": true, "_format": true,
}

// auditEvents is GET /fhir/AuditEvent: a page of the patient's trail, newest first.
func (a *API) auditEvents(w http.ResponseWriter, r *http.Request, req record.Request) {
	if a.d.Trail == nil {
		a.fail(w, r, errs.E(errs.Unavailable, "the access trail is not available on this server"))
		return
	}
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, errs.E(errs.Invalid, "the search parameters do not parse"))
		return
	}
	pid, f, err := a.trailQuery(r.Context(), r.Form, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := a.d.Trail.List(r.Context(), req.Actor, req.Channel, pid, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	b := r4.Bundle{Type: r4.BundleTypeSearchset, Timestamp: r4.InstantOf(time.Now().UTC())}
	b.Link = append(b.Link, r4.BundleLink{Relation: "self", URL: a.d.BaseURL + "/AuditEvent?" + r.Form.Encode()})
	if page.Next != 0 {
		next := cloneValues(r.Form)
		next.Set("_cursor", strconv.FormatInt(page.Next, 10))
		b.Link = append(b.Link, r4.BundleLink{Relation: "next", URL: a.d.BaseURL + "/AuditEvent?" + next.Encode()})
	} else if f.Before == 0 {
		total := len(page.Items)
		b.Total = &total // exact only when the whole result is on this first page
	}
	for _, it := range page.Items {
		ev := auditEvent(it, pid)
		e := r4.BundleEntry{FullURL: a.d.BaseURL + "/AuditEvent/" + ev.ID, Search: &r4.BundleSearch{Mode: "match"}}
		if err := e.SetResource(ev); err != nil {
			a.fail(w, r, err)
			return
		}
		b.Entry = append(b.Entry, e)
	}
	a.write(w, http.StatusOK, b)
}

// trailQuery reads the search parameters into the patient and the trail's filter.
func (a *API) trailQuery(ctx context.Context, form url.Values, req record.Request) (int64, trail.Filter, error) {
	var f trail.Filter
	for k := range form {
		if !auditEventParams[k] {
			return 0, f, errs.E(errs.Invalid, "unknown search parameter %q", k)
		}
	}
	one := func(name string) (string, error) {
		vs := splitAll(form[name])
		if len(vs) > 1 {
			return "", errs.E(errs.Invalid, "%s: one value only", name)
		}
		if len(vs) == 0 {
			return "", nil
		}
		return vs[0], nil
	}
	var pid int64
	switch {
	case form.Get("patient.identifier") != "":
		ins, err := identity.ParseFHIRIdentifier(form.Get("patient.identifier"))
		if err != nil {
			return 0, f, err
		}
		// The trail's own decision traces the read: no lookup trace too.
		if pid, err = a.d.Records.PatientID(ctx, ins); err != nil {
			return 0, f, err
		}
	case form.Get("patient") != "":
		id, err := strconv.ParseInt(strings.TrimPrefix(form.Get("patient"), "Patient/"), 10, 64)
		if err != nil || id <= 0 {
			return 0, f, errs.E(errs.Invalid, "patient must be Patient/<id>")
		}
		pid = id
	default:
		return 0, f, errs.E(errs.Invalid, "the patient is required: patient=Patient/<id> or patient.identifier=urn:oid:…|<INS>")
	}
	var err error
	if f.From, f.To, err = dateRange(form["date"]); err != nil {
		return 0, f, err
	}
	agent, err := one("agent.identifier")
	if err != nil {
		return 0, f, err
	}
	if agent == "" {
		// agent is a reference parameter; our agents have no resource, so it takes their
		// identifier as agent.identifier does.
		if agent, err = one("agent"); err != nil {
			return 0, f, err
		}
	}
	f.ActorID = tokenCode(agent)
	for _, s := range splitAll(form["subtype"]) {
		if sys, _, ok := strings.Cut(s, "|"); ok && sys != "" && sys != TraceActionSystem {
			return 0, f, errs.E(errs.Invalid, "subtype: the system is %s", TraceActionSystem)
		}
		f.Actions = append(f.Actions, tokenCode(s))
	}
	if codes := splitAll(form["action"]); len(codes) > 0 {
		if len(f.Actions) > 0 {
			return 0, f, errs.E(errs.Invalid, "action and subtype cannot be combined: give the actions as subtype")
		}
		for _, c := range codes {
			c = tokenCode(c)
			n := len(f.Actions)
			for _, act := range trail.Actions() {
				if auditAction(act) == c {
					f.Actions = append(f.Actions, act)
				}
			}
			if len(f.Actions) == n {
				return 0, f, errs.E(errs.Invalid, "action %q: C, R, U, D or E", c)
			}
		}
	}
	outcome, err := one("outcome")
	if err != nil {
		return 0, f, err
	}
	switch tokenCode(outcome) {
	case "":
	case r4.AuditOutcomeSuccess:
		f.Outcome = audit.Allowed
	case r4.AuditOutcomeMinorFailure:
		f.Outcome = audit.Denied
	case r4.AuditOutcomeSeriousFailure:
		f.Outcome = audit.Failed
	default:
		return 0, f, errs.E(errs.Invalid, "outcome %q: 0 (allowed), 4 (refused) or 8 (failed)", outcome)
	}
	entity, err := one("entity")
	if err != nil {
		return 0, f, err
	}
	if entity != "" {
		id, ok := strings.CutPrefix(strings.TrimPrefix(entity, a.d.BaseURL+"/"), "DocumentReference/")
		if !ok || id == "" || strings.Contains(id, "/") {
			return 0, f, errs.E(errs.Invalid, "entity must be DocumentReference/<id>")
		}
		f.Object = "document/" + id
	}
	if c := form.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return 0, f, errs.E(errs.Invalid, "_count must be a positive number")
		}
		f.Limit = min(n, trail.MaxLimit)
	}
	if c := form.Get("_cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n <= 0 {
			return 0, f, errs.E(errs.Invalid, "_cursor is not one this server gave")
		}
		f.Before = n
	}
	return pid, f, nil
}

// auditEvent writes one trace of the patient's trail as an AuditEvent.
func auditEvent(it trail.Item, patientID int64) r4.AuditEvent {
	ev := r4.AuditEvent{
		ID:          strconv.FormatInt(it.ID, 10),
		Type:        auditType(it),
		Subtype:     []r4.Coding{{System: TraceActionSystem, Code: it.Action, Display: it.ActionLabel}},
		Action:      auditAction(it.Action),
		Recorded:    r4.InstantOf(it.At.UTC()),
		Outcome:     auditOutcome(it.Outcome),
		OutcomeDesc: it.ReasonLabel,
		Source: r4.AuditEventSource{Observer: r4.Reference{Display: "carnet"},
			Type: []r4.Coding{{System: systemSourceType, Code: "4", Display: "Application Server"}}},
	}
	if it.Reason != "" {
		ev.Extension = append(ev.Extension, r4.Extension{URL: ReasonExtension, ValueCode: it.Reason})
	}
	if it.Basis != "" {
		ev.Extension = append(ev.Extension, r4.Extension{URL: BasisExtension, ValueCode: string(it.Basis)})
	}
	if it.FirstAccess {
		ev.Extension = append(ev.Extension, r4.Extension{URL: FirstAccessExtension, ValueBoolean: r4.Ptr(true)})
	}
	if it.Emergency {
		// An emergency access, allowed or asked for: break-glass or regulation (CSP L1111-17 I).
		ev.PurposeOfEvent = []r4.CodeableConcept{{Coding: []r4.Coding{{System: r4.SystemV3ActReason, Code: "ETREAT",
			Display: "Emergency Treatment"}}, Text: it.Statement}}
	}

	who := &r4.Reference{Identifier: &r4.Identifier{System: ActorIDSystem + string(it.Actor.Kind), Value: it.Actor.ID}, Display: it.Who}
	if it.Actor.Kind == audit.ActorProfessional {
		who.Identifier.System = r4.SystemIdNatPS
	}
	agent := r4.AuditEventAgent{
		Type:      &r4.CodeableConcept{Coding: []r4.Coding{{System: ActorKindSystem, Code: string(it.Actor.Kind), Display: trail.KindLabel(it.Actor.Kind)}}},
		Who:       who,
		Name:      it.Who,
		Requestor: true,
	}
	if it.Channel != "" {
		agent.Extension = []r4.Extension{{URL: ChannelExtension, ValueCode: string(it.Channel)}}
	}
	ev.Agent = []r4.AuditEventAgent{agent}
	if it.Actor.Org != "" {
		ev.Agent = append(ev.Agent, r4.AuditEventAgent{
			Type: &r4.CodeableConcept{Coding: []r4.Coding{{System: ActorKindSystem, Code: "organisation", Display: "Organisation"}}},
			Who:  &r4.Reference{Identifier: &r4.Identifier{System: r4.SystemIdNatStruc, Value: it.Actor.Org}},
		})
	}

	ev.Entity = []r4.AuditEventEntity{{
		What: &r4.Reference{Reference: "Patient/" + strconv.FormatInt(patientID, 10)},
		Type: &r4.Coding{System: systemEntityType, Code: "1", Display: "Person"},
		Role: &r4.Coding{System: systemObjectRole, Code: "1", Display: "Patient"},
	}}
	switch idnat, isPro := strings.CutPrefix(it.Object, "professional/"); {
	case it.Document != "":
		ev.Entity = append(ev.Entity, r4.AuditEventEntity{
			What: &r4.Reference{Reference: "DocumentReference/" + it.Document},
			Type: &r4.Coding{System: systemEntityType, Code: "2", Display: "System Object"},
			Role: &r4.Coding{System: systemObjectRole, Code: "3", Display: "Report"},
		})
	case isPro && idnat != "":
		ev.Entity = append(ev.Entity, r4.AuditEventEntity{
			What: &r4.Reference{Identifier: &r4.Identifier{System: r4.SystemIdNatPS, Value: idnat}},
			Type: &r4.Coding{System: systemEntityType, Code: "1", Display: "Person"},
		})
	case it.Object != "" && it.Object != "record":
		// What else was acted on, by our name: the space, the access settings, the trail…
		ev.Entity = append(ev.Entity, r4.AuditEventEntity{
			Type: &r4.Coding{System: systemEntityType, Code: "2", Display: "System Object"},
			Name: it.Object,
		})
	}
	return ev
}

// auditType is the event type: a RESTful operation when it came through this API, else the
// DICOM audit event ID of its family (DICOM PS3.15 A.5.1).
func auditType(it trail.Item) r4.Coding {
	if it.Channel == audit.ChannelFHIR {
		return r4.Coding{System: r4.SystemAuditEventType, Code: "rest", Display: "RESTful Operation"}
	}
	dcm := func(code, display string) r4.Coding {
		return r4.Coding{System: r4.SystemDICOMAuditEventIDs, Code: code, Display: display}
	}
	family, _, _ := strings.Cut(it.Action, ".")
	switch {
	case it.Action == "record.search" || it.Action == "document.list" || it.Action == "space.lookup":
		return dcm("110112", "Query")
	case family == "document" || family == "record" || family == "space" || family == "trace" || family == "representative":
		return dcm("110110", "Patient Record")
	case family == "access":
		return dcm("110136", "Security Roles Changed")
	case family == "apitoken":
		return dcm("110137", "User Security Attributes Changed")
	}
	return dcm("110100", "Application Activity")
}

// auditAction is the R4 audit-event-action of a trace's action: C, R, U, D, or E for a query
// and what is neither (FHIR R4: "E: … perform a query/search operation").
func auditAction(action string) string {
	switch action {
	case "document.deposit", "document.replace", "space.create", "apitoken.issue", "representative.add":
		return r4.AuditActionCreate
	case "document.read", "document.list", "access.settings_read":
		return r4.AuditActionRead
	case "document.delete", "space.purge", "space.close_and_delete", "representative.remove":
		return r4.AuditActionDelete
	case "record.search", "trace.read", "space.lookup", "space.notice", "access.decide", "access.alert":
		return r4.AuditActionExecute
	}
	switch family, _, _ := strings.Cut(action, "."); family {
	case "document", "access", "space", "apitoken":
		return r4.AuditActionUpdate
	}
	return r4.AuditActionExecute
}

func auditOutcome(o audit.Outcome) string {
	switch o {
	case audit.Allowed:
		return r4.AuditOutcomeSuccess
	case audit.Denied:
		return r4.AuditOutcomeMinorFailure
	}
	return r4.AuditOutcomeSeriousFailure
}
