package questionnaire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// preadmission is a pre-admission form using every item type we support.
const preadmission = `{"resourceType":"Questionnaire","id":"preadmission","url":"https://hopital.example/fhir/Questionnaire/preadmission",
"version":"2","status":"active","title":"Questionnaire de pré-admission","item":[
 {"linkId":"intro","type":"display","text":"Merci de remplir ce questionnaire avant votre hospitalisation."},
 {"linkId":"vous","type":"group","text":"Vous","item":[
   {"linkId":"poids","type":"decimal","text":"Votre poids (kg)","required":true},
   {"linkId":"taille","type":"integer","text":"Votre taille (cm)"},
   {"linkId":"derniere","type":"date","text":"Date de votre dernière hospitalisation"}]},
 {"linkId":"allergie","type":"boolean","text":"Avez-vous des allergies ?","required":true},
 {"linkId":"allergies","type":"text","text":"Lesquelles ?","maxLength":500},
 {"linkId":"arrivee","type":"dateTime","text":"Heure d'arrivée souhaitée"},
 {"linkId":"regime","type":"choice","text":"Régime alimentaire","required":true,"answerOption":[
   {"valueCoding":{"system":"http://hopital.example/regimes","code":"N","display":"Normal"}},
   {"valueCoding":{"system":"http://hopital.example/regimes","code":"SS","display":"Sans sel"}}]},
 {"linkId":"contact","type":"open-choice","text":"Personne à prévenir","answerOption":[{"valueString":"Conjoint"},{"valueString":"Enfant"}]},
 {"linkId":"symptomes","type":"choice","repeats":true,"text":"Symptômes actuels","answerOption":[
   {"valueString":"Fièvre"},{"valueString":"Toux"},{"valueString":"Douleur"}]},
 {"linkId":"medecin","type":"string","text":"Votre médecin traitant","maxLength":20}
]}`

func TestParseAcceptsEverySupportedItem(t *testing.T) {
	q, err := Parse([]byte(preadmission))
	if err != nil {
		t.Fatal(err)
	}
	if q.Canonical() != "https://hopital.example/fhir/Questionnaire/preadmission|2" || q.DisplayTitle() != "Questionnaire de pré-admission" {
		t.Fatalf("questionnaire: %q %q", q.Canonical(), q.DisplayTitle())
	}
	qs := q.Questions()
	var ids []string
	for _, it := range qs {
		ids = append(ids, it.LinkID)
	}
	if strings.Join(ids, ",") != "poids,taille,derniere,allergie,allergies,arrivee,regime,contact,symptomes,medecin" {
		t.Fatalf("questions: %v", ids)
	}
	if !qs[0].Required || qs[8].Repeats != true || qs[9].MaxLength != 20 || len(qs[6].Options) != 2 || qs[6].Options[1].Label() != "Sans sel" {
		t.Fatalf("items: %+v", qs)
	}
	if !IsQuestionnaire([]byte(preadmission)) || IsQuestionnaire([]byte(`{"resourceType":"Patient"}`)) {
		t.Fatal("IsQuestionnaire")
	}
}

func with(item string) string {
	return `{"resourceType":"Questionnaire","status":"active","item":[` + item + `]}`
}

func TestParseRefusals(t *testing.T) {
	deep := `{"linkId":"x","type":"string","text":"x"}`
	for i := 0; i < MaxItemDepth+1; i++ {
		deep = `{"linkId":"g` + strings.Repeat("i", i) + `","type":"group","text":"g","item":[` + deep + `]}`
	}
	for _, c := range []struct {
		name, json, code, says string
	}{
		{"not json", `{"resourceType":`, codeInvalid, "JSON"},
		{"another resource", `{"resourceType":"Patient"}`, codeInvalid, "Questionnaire"},
		{"no status", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"string","text":"a"}]}`, codeInvalid, "statut"},
		{"no item", `{"resourceType":"Questionnaire","status":"active"}`, codeInvalid, "aucune question"},
		{"only display", with(`{"linkId":"a","type":"display","text":"a"}`), codeInvalid, "aucune question"},
		{"no linkId", with(`{"type":"string","text":"a"}`), codeInvalid, "linkId"},
		{"duplicate linkId", with(`{"linkId":"a","type":"string","text":"a"},{"linkId":"a","type":"integer","text":"b"}`), codeInvalid, "déjà"},
		{"attachment", with(`{"linkId":"a","type":"attachment","text":"a"}`), codeUnsupported, `"attachment"`},
		{"quantity", with(`{"linkId":"a","type":"quantity","text":"a"}`), codeUnsupported, "quantity"},
		{"enableWhen", with(`{"linkId":"a","type":"boolean","text":"a"},{"linkId":"b","type":"string","text":"b","enableWhen":[{"question":"a","operator":"=","answerBoolean":true}]}`), codeUnsupported, "enableWhen"},
		{"answerValueSet", with(`{"linkId":"a","type":"choice","text":"a","answerValueSet":"http://x/vs"}`), codeUnsupported, "answerValueSet"},
		{"choice without options", with(`{"linkId":"a","type":"choice","text":"a"}`), codeInvalid, "answerOption"},
		{"integer option", with(`{"linkId":"a","type":"choice","text":"a","answerOption":[{"valueInteger":1}]}`), codeUnsupported, "valueCoding"},
		{"two values", with(`{"linkId":"a","type":"choice","text":"a","answerOption":[{"valueString":"x","valueCoding":{"code":"x"}}]}`), codeInvalid, "une et une seule"},
		{"repeating string", with(`{"linkId":"a","type":"string","text":"a","repeats":true}`), codeUnsupported, "multiples"},
		{"maxLength on integer", with(`{"linkId":"a","type":"integer","text":"a","maxLength":3}`), codeInvalid, "maxLength"},
		{"modifierExtension", with(`{"linkId":"a","type":"string","text":"a","modifierExtension":[{"url":"http://x"}]}`), codeUnsupported, "modificatrice"},
		{"question under question", with(`{"linkId":"a","type":"boolean","text":"a","item":[{"linkId":"b","type":"string","text":"b"}]}`), codeUnsupported, "sous-questions"},
		{"empty group", with(`{"linkId":"a","type":"group","text":"a"}`), codeInvalid, "groupe"},
		{"initial", with(`{"linkId":"a","type":"string","text":"a","initial":[{"valueString":"x"}]}`), codeUnsupported, "initiales"},
		{"groups too deep", with(deep), codeTooBig, "niveaux"},
		{"JSON too deep", strings.Repeat("[", MaxJSONDepth+1), codeTooBig, "profondément"},
		{"too large", `{"resourceType":"Questionnaire","title":"` + strings.Repeat("a", MaxBytes) + `"}`, codeTooBig, "Ko"},
		{"not UTF-8", "{\"resourceType\":\"Questionnaire\",\"title\":\"\xff\"}", codeInvalid, "UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.json))
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("err = %v, want a Problem", err)
			}
			if p.Code != c.code || !strings.Contains(p.Failure(), c.says) || !strings.HasPrefix(p.Failure(), c.code+"^") {
				t.Fatalf("failure %q, want code %s saying %q", p.Failure(), c.code, c.says)
			}
		})
	}
}

func TestBuildChecksAnswers(t *testing.T) {
	q, err := Parse([]byte(preadmission))
	if err != nil {
		t.Fatal(err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	if paris == nil {
		paris = time.UTC
	}
	_, err = Build(q, Answers{"taille": {Values: []string{"un mètre"}}, "regime": {Options: []int{5}},
		"medecin": {Values: []string{strings.Repeat("x", 21)}}, "derniere": {Values: []string{"31/02/2024"}},
		"symptomes": {Options: []int{0, 0}}, "allergies": {Values: []string{"a"}}, "arrivee": {Values: []string{"demain"}}}, paris)
	var fe FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v", err)
	}
	want := FieldErrors{"poids": ErrRequired, "allergie": ErrRequired, "taille": ErrInteger, "regime": ErrChoice, "medecin": ErrTooLong,
		"derniere": ErrDate, "symptomes": ErrChoice, "arrivee": ErrDateTime}
	if len(fe) != len(want) {
		t.Fatalf("errors %v, want %v", fe, want)
	}
	for k, v := range want {
		if fe[k] != v {
			t.Fatalf("errors %v, want %v", fe, want)
		}
	}
	items, err := Build(q, Answers{"poids": {Values: []string{"72,5"}}, "taille": {Values: []string{"172"}},
		"derniere": {Values: []string{"2024-02-29"}}, "allergie": {Values: []string{"true"}}, "allergies": {Values: []string{"Pénicilline\nArachide"}},
		"arrivee": {Values: []string{"2026-03-10T08:30"}}, "regime": {Options: []int{1}}, "contact": {Values: []string{"Ma sœur"}},
		"symptomes": {Options: []int{0, 2}}, "medecin": {Values: []string{""}}}, paris)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(items)
	for _, want := range []string{`{"linkId":"vous","text":"Vous","item":[{"linkId":"poids","text":"Votre poids (kg)","answer":[{"valueDecimal":72.5}]}`,
		`{"valueInteger":172}`, `{"valueDate":"2024-02-29"}`, `{"valueBoolean":true}`, `"valueString":"Pénicilline\nArachide"`,
		`{"valueDateTime":"2026-03-10T08:30:00+01:00"}`, `{"valueCoding":{"system":"http://hopital.example/regimes","code":"SS","display":"Sans sel"}}`,
		`"answer":[{"valueString":"Ma sœur"}]`, `"answer":[{"valueString":"Fièvre"},{"valueString":"Douleur"}]`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("items %s\nwithout %s", b, want)
		}
	}
	if strings.Contains(string(b), "medecin") || strings.Contains(string(b), "intro") {
		t.Fatalf("an unanswered question or a display item is in the response: %s", b)
	}
	// A one-line answer with a line break, two answers to a single question.
	_, err = Build(q, Answers{"poids": {Values: []string{"70"}}, "allergie": {Values: []string{"non"}}, "regime": {Options: []int{0, 1}},
		"medecin": {Values: []string{"Dr\nX"}}}, paris)
	if !errors.As(err, &fe) || fe["regime"] != ErrOne || fe["medecin"] != ErrLine || len(fe) != 2 {
		t.Fatalf("err = %v", err)
	}
}

// The parser of questionnaires from outside never panics; what it accepts has questions, and
// answers checked against it never panic either.
func FuzzParse(f *testing.F) {
	f.Add([]byte(preadmission))
	f.Add([]byte(with(`{"linkId":"a","type":"choice","text":"a","answerOption":[{"valueString":"x"}]}`)))
	f.Add([]byte(with(`{"linkId":"g","type":"group","item":[{"linkId":"a","type":"date","text":"a","required":true}]}`)))
	f.Add([]byte(`{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"a","type":"attachment"}]}`))
	f.Add([]byte(`[[[[{"resourceType":"Questionnaire"}]]]]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := Parse(b)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || p.Failure() == "" {
				t.Fatalf("not a Problem: %v", err)
			}
			return
		}
		qs := q.Questions()
		if len(qs) == 0 {
			t.Fatal("accepted without a question")
		}
		a := Answers{}
		for i, it := range qs {
			a[it.LinkID] = Answer{Options: []int{i % 3}, Values: []string{string(b[:min(len(b), i)])}}
		}
		_, _ = Build(q, a, time.UTC)
		_, _ = Build(q, nil, time.UTC)
	})
}
