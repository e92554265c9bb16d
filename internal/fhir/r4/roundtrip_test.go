package r4_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
)

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sameJSON reports whether a and b hold the same JSON value, numbers compared as written.
func sameJSON(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	var va, vb any
	for _, p := range []struct {
		data []byte
		v    *any
	}{{a, &va}, {b, &vb}} {
		dec := json.NewDecoder(bytes.NewReader(p.data))
		dec.UseNumber()
		if err := dec.Decode(p.v); err != nil {
			tb.Fatalf("not JSON: %v", err)
		}
	}
	return reflect.DeepEqual(va, vb)
}

// Every testdata file decodes strictly, re-encodes to the same JSON, and both are valid FHIR R4
// for the independent validator.
func TestRoundTripTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in := mustRead(t, filepath.Base(f))
			rt, v, err := r4.DecodeResource(in)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if v.(r4.Resource).ResourceType() != rt {
				t.Fatalf("decoded a %T for %s", v, rt)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !sameJSON(t, in, out) {
				t.Errorf("round trip changed the resource:\n in: %s\nout: %s", compact(t, in), out)
			}
			if !bytes.HasPrefix(out, []byte(`{"resourceType":"`+rt+`"`)) {
				t.Errorf("resourceType is not written first: %.80s", out)
			}
			fhirtest.ValidateAll(t, in, out)
		})
	}
}

func compact(tb testing.TB, b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		tb.Fatal(err)
	}
	return buf.String()
}

// The ITI-65 bundle decodes into the values a Document Recipient works with.
func TestProvideBundleContent(t *testing.T) {
	var b r4.Bundle
	if err := r4.Decode(mustRead(t, "iti65-provide-bundle.json"), &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != r4.BundleTypeTransaction || len(b.Entry) != 3 {
		t.Fatalf("type %q, %d entries", b.Type, len(b.Entry))
	}
	if b.Meta == nil || b.Meta.Profile[0] != r4.ProfilePDSmProvideDocumentBundle {
		t.Errorf("profile: %+v", b.Meta)
	}
	byType := map[string]any{}
	for _, e := range b.Entry {
		rt, v, err := e.DecodeResource()
		if err != nil {
			t.Fatalf("entry %s: %v", e.FullURL, err)
		}
		if e.Request == nil || e.Request.Method != "POST" || e.Request.URL != rt {
			t.Errorf("entry %s: request %+v", rt, e.Request)
		}
		byType[rt] = v
	}

	ss := byType["List"].(*r4.List)
	if ss.Code.Coding[0].System != r4.SystemMHDListTypes || ss.Code.Coding[0].Code != r4.ListTypeSubmissionSet {
		t.Errorf("submission set code: %+v", ss.Code)
	}
	src := r4.FindExtension(ss.Extension, r4.ExtMHDSourceID)
	if src == nil || src.ValueIdentifier == nil || src.ValueIdentifier.Value != "urn:oid:1.2.250.1.999.42.1" {
		t.Errorf("sourceId: %+v", src)
	}
	if dt := r4.FindExtension(ss.Extension, r4.ExtMHDDesignationType); dt == nil || dt.ValueCodeableConcept.Coding[0].Code != "11488-4" {
		t.Errorf("designationType: %+v", dt)
	}
	if a := r4.FindExtension(ss.Extension, r4.ExtPDSmIsArchived); a == nil || a.ValueBoolean == nil || *a.ValueBoolean {
		t.Errorf("isArchived: %+v", a)
	}
	if len(ss.Contained) != 2 || ss.Source.Reference != "#auteur" {
		t.Errorf("author: %d contained, source %+v", len(ss.Contained), ss.Source)
	}

	doc := byType["DocumentReference"].(*r4.DocumentReference)
	bin := byType["Binary"].(*r4.Binary)
	if doc.Status != r4.DocumentStatusCurrent || doc.MasterIdentifier.Value != "urn:oid:1.2.250.1.999.42.1.20250312.1" {
		t.Errorf("document: %+v", doc)
	}
	att := doc.Content[0].Attachment
	sum := sha1.Sum(bin.Data)
	if !bytes.Equal(att.Hash, sum[:]) || att.Size == nil || *att.Size != int64(len(bin.Data)) {
		t.Errorf("attachment hash/size do not describe the Binary (%d bytes)", len(bin.Data))
	}
	if !strings.HasPrefix(string(bin.Data), "Compte rendu de consultation") {
		t.Errorf("binary data not decoded from base64: %q", bin.Data)
	}
	start, err := doc.Context.Period.Start.Time(time.UTC)
	if err != nil || !start.Equal(time.Date(2025, 3, 12, 8, 30, 0, 0, time.UTC)) {
		t.Errorf("serviceStartTime = %v, %v", start, err)
	}
	var patient r4.Patient
	if err := r4.Decode(doc.Contained[0], &patient); err != nil {
		t.Fatalf("contained patient: %v", err)
	}
	if patient.Identifier[0].System != r4.SystemINSNIRTest || patient.BirthDate != "1980-01-15" {
		t.Errorf("sourcePatientInfo: %+v", patient)
	}
}

// An extension of a value type that the model does not have passes through unchanged, its
// decimal digits included.
func TestExtensionOtherValueKept(t *testing.T) {
	_, v, err := r4.DecodeResource(mustRead(t, "patient-ins.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := v.(*r4.Patient)
	ext := r4.FindExtension(p.Extension, "https://example.org/fhir/StructureDefinition/weight-at-birth")
	if ext == nil || ext.OtherValue == nil || ext.OtherValue.Name != "valueDecimal" || string(ext.OtherValue.JSON) != "3.250" {
		t.Fatalf("valueDecimal: %+v", ext)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"valueDecimal":3.250}`)) {
		t.Errorf("decimal precision lost: %s", out)
	}

	bad := r4.Extension{URL: "http://x", OtherValue: &r4.RawValue{Name: "valueString", JSON: json.RawMessage(`"a"`)}}
	if _, err := json.Marshal(bad); err == nil {
		t.Error("OtherValue naming a modelled value[x] was accepted")
	}
}

// Resources built in Go write valid FHIR: required elements present, optional empty ones left
// out, resourceType first.
func TestBuiltResourcesAreValid(t *testing.T) {
	now := time.Date(2025, 3, 12, 10, 15, 1, 532_000_000, time.FixedZone("CET", 3600))
	ss := r4.List{
		Meta: &r4.Meta{Profile: []string{r4.ProfilePDSmSubmissionSet}},
		Extension: []r4.Extension{{
			URL:             r4.ExtMHDSourceID,
			ValueIdentifier: &r4.Identifier{System: r4.SystemRFC3986, Value: "urn:oid:1.2.250.1.999.42.1"},
		}},
		Identifier: []r4.Identifier{{System: r4.SystemRFC3986, Value: "urn:uuid:0f4e2c1a-8d7b-4a55-9e61-3b2a1c0d9e8f"}},
		Status:     "current",
		Mode:       r4.ListModeWorking,
		Code:       &r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemMHDListTypes, Code: r4.ListTypeSubmissionSet}}},
		Date:       r4.DateTimeOf(now),
		Entry:      []r4.ListEntry{{Item: r4.Reference{Reference: "DocumentReference/doc-1"}}},
	}
	searchset := r4.Bundle{Type: r4.BundleTypeSearchset, Total: r4.Ptr(0),
		Link: []r4.BundleLink{{Relation: "self", URL: "https://carnet.example.fr/fhir/DocumentReference?status=current"}}}
	var withEntry r4.Bundle
	withEntry.Type = r4.BundleTypeSearchset
	withEntry.Total = r4.Ptr(1)
	e := r4.BundleEntry{FullURL: "https://carnet.example.fr/fhir/List/ss-1", Search: &r4.BundleSearch{Mode: "match"}}
	if err := e.SetResource(ss); err != nil {
		t.Fatal(err)
	}
	withEntry.Entry = append(withEntry.Entry, e)
	audit := r4.AuditEvent{
		Type:     r4.Coding{System: r4.SystemAuditEventType, Code: "rest"},
		Action:   r4.AuditActionRead,
		Recorded: r4.InstantOf(now),
		Outcome:  r4.AuditOutcomeSuccess,
		Agent:    []r4.AuditEventAgent{{Who: &r4.Reference{Display: "Dr Dupont"}, Requestor: false}},
		Source:   r4.AuditEventSource{Observer: r4.Reference{Display: "carnet"}},
	}
	capability := r4.CapabilityStatement{
		Status: "active", Date: "2025-03-01", Kind: "instance", FHIRVersion: r4.FHIRVersion,
		Format:         []string{r4.MIMEFHIRJSON},
		Implementation: &r4.CapabilityStatementImplementation{Description: "carnet"},
		Rest: []r4.CapabilityStatementRest{{Mode: "server", Resource: []r4.CapabilityStatementResource{{
			Type: "DocumentReference", Interaction: []r4.CapabilityStatementInteraction{{Code: "read"}},
		}}}},
	}
	outcome, status := r4.FromError(&r4.DecodeError{Type: r4.IssueStructure, Expression: "DocumentReference.foo", Message: "unknown element"})
	if status != 400 {
		t.Errorf("status %d", status)
	}
	resources := []r4.Resource{ss, searchset, withEntry, audit, capability, *outcome,
		*r4.Outcome(r4.SeverityError, r4.IssueNotFound, "no such document"),
		r4.Binary{ContentType: "application/pdf", Data: []byte("%PDF-1.7\n")},
	}
	for _, r := range resources {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%s: %v", r.ResourceType(), err)
		}
		if !bytes.HasPrefix(b, []byte(`{"resourceType":"`+r.ResourceType()+`"`)) {
			t.Errorf("resourceType is not written first: %.80s", b)
		}
		fhirtest.Validate(t, b)
		// What the server writes, it reads back.
		if _, _, err := r4.DecodeResource(b); err != nil {
			t.Errorf("%s does not decode: %v", r.ResourceType(), err)
		}
	}
	if b, _ := json.Marshal(searchset); !bytes.Contains(b, []byte(`"total":0`)) {
		t.Errorf("a total of 0 must be written: %s", b)
	}
	if b, _ := json.Marshal(audit); !bytes.Contains(b, []byte(`"requestor":false`)) {
		t.Errorf("requestor is required, false included: %s", b)
	}
}

// UnmarshalJSON refuses JSON of another resource type even outside the strict decoder.
func TestUnmarshalWrongResourceType(t *testing.T) {
	var d r4.DocumentReference
	if err := json.Unmarshal([]byte(`{"resourceType":"Patient","id":"x"}`), &d); err == nil {
		t.Fatal("a Patient decoded into a DocumentReference")
	}
	if err := json.Unmarshal([]byte(`{"status":"current"}`), &d); err != nil || d.Status != "current" {
		t.Fatalf("without resourceType: %v %+v", err, d)
	}
}
