package fhir

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
)

// IHE PCH-01 "Communicate PCD Data", the FHIR variant (IHE PCH, after the Continua/PCHA
// guidelines): an app or a gateway pushes a transaction Bundle of a personal health device's
// measurements — Observations — and the Device that took them, created on its first push only
// (a conditional create: request.ifNoneExist "identifier=<system>|<value>"). The answers:
//
//	200  a transaction-response, one entry per request entry, in order: 201 Created for what
//	     was stored, 200 OK for the Device found and for a measurement sent again unchanged
//	403  no consent: an app without the scope or the class, a professional the access decision
//	     refuses (blocked, authorisation refused)
//	409  an identifier conflict: the Device's is bound to another patient, or an Observation's
//	     is stored already with other content
//	422  an invalid bundle: no Device, an Observation not pointing at it, an unknown code, a unit
//	     that is not the measure's, an implausible value
//
// every error an OperationOutcome. Nothing is stored unless everything is.

// transactions sends a transaction on the base to ITI-65 (the API's own handler, inner) or to
// PCH-01, by what its entries hold.
func (a *API) transactions(inner http.Handler) http.HandlerFunc {
	pch := a.auth(a.pch)
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			inner.ServeHTTP(w, r) // it answers 401 without reading the body
			return
		}
		raw, err := a.body(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(raw)), int64(len(raw))
		if isPCH(raw) {
			pch(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	}
}

// isPCH reports whether a transaction holds measurements or a device rather than documents.
// A quoted resource type cannot occur in base64 (a provide bundle's documents), so the bytes
// are looked at first and the entries read only when one may be there.
func isPCH(raw []byte) bool {
	if !bytes.Contains(raw, []byte(`"Observation"`)) && !bytes.Contains(raw, []byte(`"Device"`)) {
		return false
	}
	var peek struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(raw, &peek) != nil {
		return false // the ITI-65 handler says what is wrong
	}
	for _, e := range peek.Entry {
		switch e.Resource.ResourceType {
		case "List", "DocumentReference", "Binary":
			return false
		}
	}
	for _, e := range peek.Entry {
		switch e.Resource.ResourceType {
		case "Observation", "Device":
			return true
		}
	}
	return false
}

// pch is PCH-01.
func (a *API) pch(w http.ResponseWriter, r *http.Request, req record.Request) {
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
	p, err := readPCH(&b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	pid, err := a.patientOf(r.Context(), p.subject)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.d.Profile.Push(r.Context(), profileRequest(req), pid, p.device, p.items)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	resp := r4.Bundle{Type: r4.BundleTypeTransactionResponse, Timestamp: r4.InstantOf(time.Now().UTC())}
	for i := range b.Entry {
		e := r4.BundleEntry{Response: &r4.BundleResponse{}}
		switch n := p.item[i]; {
		case n < 0:
			e.Response.Status, e.Response.Location = status(out.DeviceCreated), "Device/"+out.Device.ID
			e.Response.LastModified = r4.InstantOf(out.Device.Created)
		default:
			it := &out.Items[n]
			e.Response.Status = status(out.Created[n])
			e.Response.Location = "Observation/" + it.ID + "/_history/" + strconv.Itoa(it.Version)
			e.Response.Etag = `W/"` + strconv.Itoa(it.Version) + `"`
			e.Response.LastModified = r4.InstantOf(it.Changed)
		}
		resp.Entry = append(resp.Entry, e)
	}
	a.write(w, http.StatusOK, resp)
}

func status(created bool) string {
	if created {
		return "201 Created"
	}
	return "200 OK"
}

// pchPush is a PCH-01 bundle read: the device, the measurements, the patient they are for,
// and, for each entry, the measurement it became (-1 for the Device).
type pchPush struct {
	device  profile.Device
	items   []profile.Item
	subject *r4.Reference
	item    []int
}

// readPCH reads a PCH-01 transaction. Every problem is Invalid (422), reported before
// anything is decided.
func readPCH(b *r4.Bundle) (pchPush, error) {
	var p pchPush
	if b.Type != r4.BundleTypeTransaction {
		return p, errs.E(errs.Invalid, "Bundle.type is %q: PCH-01 is a transaction", b.Type)
	}
	var (
		devURL  string
		devSeen bool
		obs     []*r4.Observation
		obsAt   []int
	)
	p.item = make([]int, len(b.Entry))
	for i := range b.Entry {
		e := &b.Entry[i]
		if e.Request == nil || e.Request.Method != http.MethodPost {
			return p, errs.E(errs.Invalid, "Bundle.entry[%d].request: each entry is a POST", i)
		}
		rt, v, err := e.DecodeChecked() // r4.Decode walked the whole Bundle strictly
		if err != nil {
			return p, err
		}
		switch res := v.(type) {
		case *r4.Device:
			if devSeen {
				return p, errs.E(errs.Invalid, "the bundle holds more than one Device")
			}
			devSeen, devURL, p.item[i] = true, e.FullURL, -1
			if p.device, err = deviceOf(res, e.Request); err != nil {
				return p, errs.E(errs.Invalid, "Bundle.entry[%d]: %s", i, errs.MessageOf(err))
			}
		case *r4.Observation:
			if e.Request.URL != "Observation" {
				return p, errs.E(errs.Invalid, "Bundle.entry[%d].request.url: an Observation is created at Observation", i)
			}
			p.item[i] = len(obs)
			obs, obsAt = append(obs, res), append(obsAt, i)
		default:
			return p, errs.E(errs.Invalid, "Bundle.entry[%d]: a %s has no place in a PCH-01 bundle (Observations and their Device)", i, rt)
		}
	}
	switch {
	case !devSeen:
		return p, errs.E(errs.Invalid, "the bundle holds no Device: a measurement names the device that took it")
	case len(obs) == 0:
		return p, errs.E(errs.Invalid, "the bundle holds no Observation")
	}
	for n, o := range obs {
		at := "Bundle.entry[" + strconv.Itoa(obsAt[n]) + "].resource"
		if o.Device == nil || devURL == "" || o.Device.Reference != devURL {
			return p, errs.E(errs.Invalid, "%s.device must point at the bundle's Device (its fullUrl)", at)
		}
		if o.Subject == nil {
			return p, errs.E(errs.Invalid, "%s.subject: the patient is required", at)
		}
		if p.subject == nil {
			p.subject = o.Subject
		} else if !sameRef(p.subject, o.Subject) {
			return p, errs.E(errs.Invalid, "%s.subject: the measurements of one bundle are for one patient", at)
		}
		if err := onlyElements(b.Entry[obsAt[n]].Resource, "Observation", observationKept...); err != nil {
			return p, errs.E(errs.Invalid, "%s: %s", at, errs.MessageOf(err))
		}
		it, err := observationItem(o)
		if err != nil {
			return p, errs.E(errs.Invalid, "%s: %s", at, errs.MessageOf(err))
		}
		if it.Section != profile.SectionMeasurements {
			return p, errs.E(errs.Invalid, "%s: PCH-01 carries measurements", at)
		}
		if ine := b.Entry[obsAt[n]].Request.IfNoneExist; ine != "" && !matchesIdentifier(ine, it.Identifier) {
			return p, errs.E(errs.Invalid, "Bundle.entry[%d].request.ifNoneExist: the profile matches an Observation on its identifier, identifier=<system>|<value>", obsAt[n])
		}
		p.items = append(p.items, it)
	}
	return p, nil
}

// deviceOf reads the Device of a push: its identifier (the one the conditional create matches),
// maker, model, name and kind.
func deviceOf(d *r4.Device, req *r4.BundleRequest) (profile.Device, error) {
	var out profile.Device
	if req.URL != "Device" {
		return out, errs.E(errs.Invalid, "request.url: a Device is created at Device")
	}
	switch {
	case len(d.Identifier) == 0:
		return out, errs.E(errs.Invalid, "the Device has no identifier: a pushed measurement names the device that took it")
	case d.Identifier[0].System == "" || d.Identifier[0].Value == "":
		return out, errs.E(errs.Invalid, "the Device identifier needs a system and a value")
	}
	out.Identifier = d.Identifier[0].System + "|" + d.Identifier[0].Value
	if ine := req.IfNoneExist; ine != "" && !matchesIdentifier(ine, out.Identifier) {
		return out, errs.E(errs.Invalid, "request.ifNoneExist: the Device is matched on its identifier, identifier=<system>|<value>")
	}
	out.Manufacturer, out.Model = d.Manufacturer, d.ModelNumber
	if len(d.DeviceName) > 0 {
		out.Name = d.DeviceName[0].Name
	}
	out.Type, _ = codeOfConcept(d.Type)
	return out, nil
}

func sameRef(a, b *r4.Reference) bool {
	if a.Reference != "" || b.Reference != "" {
		return a.Reference == b.Reference
	}
	return a.Identifier != nil && b.Identifier != nil && a.Identifier.System == b.Identifier.System &&
		a.Identifier.Value == b.Identifier.Value
}

// matchesIdentifier reports whether a conditional create's query (request.ifNoneExist) is the
// search on identifier ("system|value"), the one match the profile makes.
func matchesIdentifier(ifNoneExist, identifier string) bool {
	q, err := url.ParseQuery(ifNoneExist)
	return err == nil && len(q) == 1 && len(q["identifier"]) == 1 && q.Get("identifier") == identifier && identifier != ""
}
