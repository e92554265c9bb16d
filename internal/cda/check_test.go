package cda

import (
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/identity"
)

func TestCheck(t *testing.T) {
	other := mustINSKey(t, "1850775123456")
	testNIR := identity.INS{Matricule: testINS, System: identity.OIDTestNIR}
	withIDs := func(ids string) string {
		return doc("{{recordTarget}}", `<recordTarget><patientRole>`+ids+`<patient/></patientRole></recordTarget>`)
	}
	tests := []struct {
		name     string
		doc      string
		want     identity.INS
		typeCode string
		err      string // "" when Check must accept
	}{
		{name: "same patient and type", doc: doc(), want: testNIR, typeCode: "11488-4"},
		{name: "deposit INS without system", doc: doc(), want: identity.INS{Matricule: testINS}, typeCode: "11488-4"},
		{name: "local code", doc: doc("{{code}}", "SYNTH"), want: testNIR, typeCode: "SYNTH"},
		{name: "other patient", doc: doc(), want: identity.INS{Matricule: other, System: identity.OIDNIR}, typeCode: "11488-4",
			err: "the document's patient (recordTarget) is not the patient of the deposit"},
		{name: "same digits, real NIR instead of test NIR", doc: doc(), want: identity.INS{Matricule: testINS, System: identity.OIDNIR}, typeCode: "11488-4",
			err: "is not the patient of the deposit"},
		{name: "NIA instead of NIR", doc: doc("{{insRoot}}", "1.2.250.1.213.1.4.9", "{{ins}}", other), want: identity.INS{Matricule: other, System: identity.OIDNIR}, typeCode: "11488-4",
			err: "is not the patient of the deposit"},
		{name: "no INS", doc: doc("{{insRoot}}", "1.2.3.4"), want: testNIR, typeCode: "11488-4",
			err: "has no INS"},
		{name: "no id at all", doc: withIDs(""), want: testNIR, typeCode: "11488-4", err: "has no INS"},
		{name: "invalid INS", doc: doc("{{ins}}", testINS[:13]+"00"), want: testNIR, typeCode: "11488-4",
			err: "patient INS (recordTarget) is not valid"},
		{name: "second INS of another patient", typeCode: "11488-4", want: testNIR,
			doc: withIDs(`<id root="` + testINSOID + `" extension="` + testINS + `"/><id root="1.2.250.1.213.1.4.8" extension="` + other + `"/>`),
			err: "second INS that is not the patient of the deposit"},
		{name: "second INS invalid", typeCode: "11488-4", want: testNIR,
			doc: withIDs(`<id root="` + testINSOID + `" extension="` + testINS + `"/><id root="1.2.250.1.213.1.4.8" extension="123"/>`),
			err: "second INS"},
		{name: "second INS the same", typeCode: "11488-4", want: testNIR,
			doc: withIDs(`<id root="` + testINSOID + `" extension="` + testINS + `"/><id root="` + testINSOID + `" extension="` + testINS + `"/>`)},
		{name: "deposit without INS", doc: doc(), typeCode: "11488-4", err: "names no patient INS"},
		{name: "other type", doc: doc(), want: testNIR, typeCode: "11502-2",
			err: `the document's code "11488-4" does not match the typeCode "11502-2"`},
		{name: "type code case", doc: doc("{{code}}", "synth"), want: testNIR, typeCode: "SYNTH",
			err: `code "synth" does not match the typeCode "SYNTH"`},
		{name: "long code cut", doc: doc("{{code}}", strings.Repeat("9", 100)), want: testNIR, typeCode: "SYNTH",
			err: `code "` + strings.Repeat("9", 40) + `…" does not match`},
		// The patient is checked before the type: a document about someone else says so first.
		{name: "both wrong", doc: doc(), want: identity.INS{Matricule: other}, typeCode: "11502-2", err: "not the patient of the deposit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, tt.doc)
			err := d.Check(tt.want, tt.typeCode)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			mustInvalid(t, err, tt.err)
			if strings.Contains(err.Error(), other) {
				t.Errorf("error %q quotes an INS", err)
			}
		})
	}
}
