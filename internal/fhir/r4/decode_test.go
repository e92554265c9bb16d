package r4_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
)

const minimalDoc = `{"resourceType":"DocumentReference","status":"current",` +
	`"content":[{"attachment":{"contentType":"text/plain","url":"Binary/b1"}}]}`

// withDoc puts extra elements in minimalDoc, before status.
func withDoc(extra string) string {
	return strings.Replace(minimalDoc, `"status"`, extra+`,"status"`, 1)
}

func TestDecodeRefuses(t *testing.T) {
	deep := strings.Repeat(`{"url":"http://x","extension":[`, 40) + `{"url":"y","valueString":"z"}` + strings.Repeat(`]}`, 40)
	tests := []struct {
		name string
		in   string
		typ  r4.IssueType
		expr string
	}{
		{"unknown top-level element", withDoc(`"SECRET":"SECRET"`), r4.IssueStructure, "DocumentReference.SECRET"},
		{"unknown nested element", strings.Replace(minimalDoc, `"url":"Binary/b1"`, `"url":"Binary/b1","uri":"SECRET"`, 1), r4.IssueStructure, "DocumentReference.content[0].attachment.uri"},
		{"element name in another case", strings.Replace(minimalDoc, `"status"`, `"Status"`, 1), r4.IssueStructure, "DocumentReference.Status"},
		{"duplicate element", withDoc(`"status":"superseded"`), r4.IssueStructure, "DocumentReference.status"},
		{"null", withDoc(`"description":null`), r4.IssueStructure, "DocumentReference.description"},
		{"empty string", withDoc(`"description":""`), r4.IssueStructure, "DocumentReference.description"},
		{"empty array", withDoc(`"author":[]`), r4.IssueStructure, "DocumentReference.author"},
		{"empty object", withDoc(`"subject":{}`), r4.IssueStructure, "DocumentReference.subject"},
		{"number for a string", withDoc(`"description":42`), r4.IssueStructure, "DocumentReference.description"},
		{"object for an array", withDoc(`"author":{"reference":"Practitioner/1"}`), r4.IssueStructure, "DocumentReference.author"},
		{"string for a boolean", `{"resourceType":"Patient","active":"true"}`, r4.IssueStructure, "Patient.active"},
		{"instant without seconds", withDoc(`"date":"2025-03-12T10:15+01:00"`), r4.IssueStructure, "DocumentReference.date"},
		{"instant without offset", withDoc(`"date":"2025-03-12T10:15:00"`), r4.IssueStructure, "DocumentReference.date"},
		{"impossible day", `{"resourceType":"Patient","birthDate":"2023-02-30"}`, r4.IssueStructure, "Patient.birthDate"},
		{"date with a time", `{"resourceType":"Patient","birthDate":"2023-02-03T10:00:00Z"}`, r4.IssueStructure, "Patient.birthDate"},
		{"bad id", withDoc(`"id":"a/b"`), r4.IssueStructure, "DocumentReference.id"},
		{"fractional integer", strings.Replace(minimalDoc, `"url":"Binary/b1"`, `"url":"Binary/b1","size":1.5`, 1), r4.IssueStructure, "DocumentReference.content[0].attachment.size"},
		{"integer out of range", `{"resourceType":"Patient","multipleBirthInteger":99999999999999999999}`, r4.IssueStructure, "Patient.multipleBirthInteger"},
		{"integer past 32 bits", strings.Replace(minimalDoc, `"url":"Binary/b1"`, `"url":"Binary/b1","size":3000000000`, 1), r4.IssueStructure, "DocumentReference.content[0].attachment.size"},
		{"bad base64", `{"resourceType":"Binary","contentType":"text/plain","data":"a b"}`, r4.IssueStructure, "Binary.data"},
		{"base64 data after padding", `{"resourceType":"Binary","contentType":"text/plain","data":"aA==aGVs"}`, r4.IssueStructure, "Binary.data"},
		{"primitive extension", withDoc(`"_status":{"extension":[{"url":"http://x","valueString":"y"}]}`), r4.IssueNotSupported, "DocumentReference._status"},
		{"missing required element", `{"resourceType":"DocumentReference","status":"current"}`, r4.IssueRequired, "DocumentReference.content"},
		{"missing required nested element", strings.Replace(minimalDoc, `"status":"current",`, `"status":"current","relatesTo":[{"code":"replaces"}],`, 1), r4.IssueRequired, "DocumentReference.relatesTo[0].target"},
		{"extension without url", withDoc(`"extension":[{"valueString":"x"}]`), r4.IssueRequired, "DocumentReference.extension[0].url"},
		{"extension with two values", withDoc(`"extension":[{"url":"http://x","valueString":"x","valueCode":"y"}]`), r4.IssueStructure, "DocumentReference.extension[0]"},
		{"extension with value and extensions", withDoc(`"extension":[{"url":"http://x","valueString":"x","extension":[{"url":"a","valueCode":"b"}]}]`), r4.IssueInvariant, "DocumentReference.extension[0]"},
		{"extension with nothing", withDoc(`"extension":[{"url":"http://x"}]`), r4.IssueInvariant, "DocumentReference.extension[0]"},
		{"extension on a Bundle", `{"resourceType":"Bundle","type":"collection","extension":[{"url":"http://x","valueString":"y"}]}`, r4.IssueStructure, "Bundle.extension"},
		{"no resourceType", `{"status":"current"}`, r4.IssueRequired, ""},
		{"resourceType not a string", `{"resourceType":1}`, r4.IssueStructure, "resourceType"},
		{"unknown resource type", `{"resourceType":"Dossier"}`, r4.IssueNotSupported, "resourceType"},
		{"resource type not modelled", `{"resourceType":"Encounter","status":"finished"}`, r4.IssueNotSupported, ""},
		{"not an object", `["resourceType"]`, r4.IssueStructure, ""},
		{"malformed JSON", `{"resourceType":"Patient",`, r4.IssueStructure, ""},
		{"trailing data", minimalDoc + `{}`, r4.IssueStructure, ""},
		{"invalid UTF-8", "{\"resourceType\":\"Patient\",\"gender\":\"\xff\"}", r4.IssueStructure, ""},
		{"bad contained resource", withDoc(`"contained":[{"resourceType":"Patient","id":"p","sexe":"F"}]`), r4.IssueStructure, "DocumentReference.contained[0].sexe"},
		{"contained without resourceType", withDoc(`"contained":[{"id":"p"}]`), r4.IssueRequired, "DocumentReference.contained[0]"},
		{"contained of a non-R4 type", withDoc(`"contained":[{"resourceType":"Dossier","id":"p"}]`), r4.IssueNotSupported, "DocumentReference.contained[0].resourceType"},
		{"null inside an unmodelled contained resource", withDoc(`"contained":[{"resourceType":"Practitioner","id":"p","name":null}]`), r4.IssueStructure, "DocumentReference.contained[0].name"},
		{"bad Bundle entry", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + withDoc(`"docStatus":7`) + `,"request":{"method":"POST","url":"DocumentReference"}}]}`, r4.IssueStructure, "Bundle.entry[0].resource.docStatus"},
		{"resourceType of an entry that differs from its name", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Binary","resourceType":"Patient"}}]}`, r4.IssueStructure, ""},
		{"too deep", withDoc(`"extension":[` + deep + `]`), r4.IssueTooCostly, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := r4.DecodeResource([]byte(tt.in))
			if err == nil {
				t.Fatalf("accepted: %s", tt.in)
			}
			t.Log(err)
			var de *r4.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("not a DecodeError: %T %v", err, err)
			}
			if de.Type != tt.typ {
				t.Errorf("type %q, want %q (%v)", de.Type, tt.typ, err)
			}
			if tt.expr != "" && de.Expression != tt.expr {
				t.Errorf("expression %q, want %q (%v)", de.Expression, tt.expr, err)
			}
			if strings.Contains(tt.in, "SECRET") && strings.Count(err.Error(), "SECRET") > strings.Count(de.Expression, "SECRET") {
				t.Errorf("the error echoes a value: %v", err)
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("errs code %q, want invalid", errs.CodeOf(err))
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct{ name, in string }{
		{"minimal", minimalDoc},
		{"extension and modifierExtension", withDoc(`"extension":[{"url":"http://x","valueString":"y"}],"modifierExtension":[{"url":"http://m","valueBoolean":true}]`)},
		{"nested extensions", withDoc(`"extension":[{"url":"http://x","extension":[{"url":"a","valueCode":"b"},{"url":"c","valueQuantity":{"value":1.50,"unit":"kg"}}]}]`)},
		{"extension of a value type not modelled", withDoc(`"extension":[{"url":"http://x","valueDecimal":0.10}]`)},
		{"extension on an element", strings.Replace(minimalDoc, `"url":"Binary/b1"`, `"url":"Binary/b1","extension":[{"url":"http://x","valueCode":"y"}]`, 1)},
		{"contained resource of a type not modelled", withDoc(`"contained":[{"resourceType":"Practitioner","id":"p","qualification":[{"code":{"text":"x"}}]}]`)},
		{"partial dates", `{"resourceType":"Patient","birthDate":"1980","deceasedDateTime":"2024-05"}`},
		{"leap day", `{"resourceType":"Patient","birthDate":"2024-02-29"}`},
		{"instant with fraction and Z", withDoc(`"date":"2025-03-12T09:15:00.123456Z"`)},
		{"escaped characters", withDoc(`"description":"ligne 1\nligne 2 \u00e9\u2028 \"cité\""`)},
		{"base64 with line breaks", `{"resourceType":"Binary","contentType":"text/plain","data":"aGVs\r\nbG8="}`},
		{"search score", `{"resourceType":"Bundle","type":"searchset","total":0,"entry":[{"resource":` + minimalDoc + `,"search":{"mode":"match","score":0.75}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := r4.DecodeResource([]byte(tt.in)); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	l := r4.Limits{MaxBytes: 100}
	_, _, err := l.DecodeResource([]byte(minimalDoc + strings.Repeat(" ", 100)))
	var de *r4.DecodeError
	if !errors.As(err, &de) || de.Type != r4.IssueTooLong {
		t.Fatalf("size limit: %v", err)
	}
	if _, status := r4.FromError(err); status != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d", status)
	}
	l = r4.Limits{MaxDepth: 3}
	if _, _, err := l.DecodeResource([]byte(minimalDoc)); !errors.As(err, &de) || de.Type != r4.IssueTooCostly {
		t.Fatalf("depth 3 (resource, content, array element, attachment): %v", err)
	}
	l = r4.Limits{MaxDepth: 4}
	if _, _, err := l.DecodeResource([]byte(minimalDoc)); err != nil {
		t.Fatalf("depth 4: %v", err)
	}
}

func TestDecodeIntoType(t *testing.T) {
	var p r4.Patient
	err := r4.Decode([]byte(minimalDoc), &p)
	var de *r4.DecodeError
	if !errors.As(err, &de) || de.Type != r4.IssueInvalid {
		t.Fatalf("a DocumentReference decoded as a Patient: %v", err)
	}
	if err := r4.Decode([]byte(minimalDoc), r4.DocumentReference{}); err == nil {
		t.Fatal("decoded into a value")
	}
	var d r4.DocumentReference
	if err := r4.Decode([]byte(minimalDoc), &d); err != nil || d.Content[0].Attachment.URL != "Binary/b1" {
		t.Fatalf("%v %+v", err, d)
	}
}
