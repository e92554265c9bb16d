package cda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
)

// sharedData finds shared/data by walking up from the working directory, or skips the test.
// The CI-SIS example documents live there (../shared/data/README.md); the repository must
// not copy them.
func sharedData(tb testing.TB, elem ...string) string {
	tb.Helper()
	dir, ok := findSharedData()
	if !ok {
		wd, _ := os.Getwd()
		tb.Skipf("reference data not found: no shared/data in %s or any folder above it (expected ../shared/data from the repository root)", wd)
	}
	return filepath.Join(append([]string{dir}, elem...)...)
}

func findSharedData() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		candidate := filepath.Join(dir, "shared", "data")
		if fi, err := os.Stat(candidate); err == nil && fi.IsDir() {
			return candidate, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// exampleFiles lists the CI-SIS example documents, or skips.
func exampleFiles(tb testing.TB) []string {
	tb.Helper()
	dir := sharedData(tb, "cda")
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no example document in %s", dir)
	}
	slices.Sort(files)
	return files
}

func mustParse(tb testing.TB, doc string) *Document {
	tb.Helper()
	d, err := Parse(strings.NewReader(doc), 0)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return d
}

// mustInvalid checks that err is an errs.Invalid whose message holds want and none of the
// personal data of the test documents.
func mustInvalid(tb testing.TB, err error, want string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("no error, want one saying %q", want)
	}
	if !errs.Is(err, errs.Invalid) {
		tb.Fatalf("error %v has code %s, want %s", err, errs.CodeOf(err), errs.Invalid)
	}
	var e *errs.Error
	if !errors.As(err, &e) || !strings.HasPrefix(e.Message, "CDA: ") && !strings.HasPrefix(e.Message, "not an HL7 timestamp") {
		tb.Errorf("message %q does not say it is about the CDA document", errs.MessageOf(err))
	}
	if !strings.Contains(err.Error(), want) {
		tb.Errorf("error %q, want it to say %q", err, want)
	}
	for _, secret := range personalData {
		if strings.Contains(err.Error(), secret) {
			tb.Errorf("error %q quotes personal data %q", err, secret)
		}
	}
}

// The personal data of the test documents below, which no error may quote.
var personalData = []string{"279035121518989", "PATIENTE", "ALICE", "19790328", "1979"}

const (
	testINS    = "279035121518989" // the CI-SIS test identity
	testINSOID = "1.2.250.1.213.1.4.10"
)

// minimalDoc is the smallest document Parse accepts, with every header field carnet reads.
const minimalDoc = `<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="CDA.xsl"?>
<!-- a comment -->
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <id root="1.2.250.1.999.1" extension="doc-42"/>
  <code code="{{code}}" codeSystem="2.16.840.1.113883.6.1" displayName="CR de consultation"/>
  <title>{{title}}</title>
  <effectiveTime value="{{time}}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25" displayName="Normal"/>
  <languageCode code="fr-FR"/>
  <setId root="1.2.250.1.999.2"/>
  <versionNumber value="{{version}}"/>
  {{recordTarget}}
  <author>
    <time value="20240105101500+0100"/>
    <assignedAuthor>
      <id root="1.2.3.4.5" extension="local-7"/>
      <id root="1.2.250.1.71.4.2.1" extension="810001234567"/>
      <code code="G15_10/SM26" codeSystem="1.2.250.1.213.1.1.4.5" displayName="Médecin - Qualifié en Médecine Générale (SM)"/>
      <assignedPerson><name><prefix>M</prefix><given>Jean</given><family>DUPONT</family><suffix>DR</suffix></name></assignedPerson>
      <representedOrganization><id root="1.2.250.1.71.4.2.2" extension="1750803447"/><name>Cabinet du Dr DUPONT</name></representedOrganization>
    </assignedAuthor>
  </author>
  <author>
    <time value="20240105"/>
    <assignedAuthor>
      <id root="1.2.3.4.6" extension="lis-1"/>
      <assignedAuthoringDevice><manufacturerModelName>Modèle</manufacturerModelName><softwareName>Logiciel LAB</softwareName></assignedAuthoringDevice>
    </assignedAuthor>
  </author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="1.2.250.1.213.4.1" extension="1"/><name>Hébergeur</name>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <legalAuthenticator>
    <time value="20240105103000+0100"/>
    <signatureCode code="S"/>
    <assignedEntity><id root="1.2.250.1.71.4.2.1" extension="810001234567"/>
      <assignedPerson><name><given>Jean</given><family>DUPONT</family></name></assignedPerson>
    </assignedEntity>
  </legalAuthenticator>
  <documentationOf><serviceEvent>
    <code code="11429006" codeSystem="2.16.840.1.113883.6.96" displayName="consultation"/>
    <effectiveTime><low value="20240105093000+0100"/><high value="20240105100000+0100"/></effectiveTime>
    <performer typeCode="PRF"><time><high value="20250101"/></time><assignedEntity><id root="1.2.250.1.71.4.2.1" extension="810001234567"/>
      <representedOrganization><standardIndustryClassCode code="AMBULATOIRE" codeSystem="1.2.250.1.213.1.1.4.9" displayName="Ambulatoire"/></representedOrganization>
    </assignedEntity></performer>
  </serviceEvent></documentationOf>
  <documentationOf><serviceEvent>
    <code code="18723-7" codeSystem="2.16.840.1.113883.6.1"/>
    <effectiveTime><low value="20240104"/><high value="20240106120000+0100"/></effectiveTime>
  </serviceEvent></documentationOf>
  <componentOf><encompassingEncounter><effectiveTime><low value="20240105"/></effectiveTime>
    <location><healthCareFacility><code code="SA07" codeSystem="1.2.250.1.71.4.2.4" displayName="Cabinet individuel"/></healthCareFacility></location>
  </encompassingEncounter></componentOf>
  <component>{{body}}</component>
</ClinicalDocument>
`

const defaultRecordTarget = `<recordTarget><patientRole>
    <id root="{{insRoot}}" extension="{{ins}}"/>
    <id root="1.2.3.4.567" extension="IPP-1"/>
    <patient>
      <name><family qualifier="BR">PATIENTE</family><given>ALICE MARIE</given><given qualifier="BR">ALICE</given>
        <family qualifier="CL">USAGE</family><given qualifier="CL">ALI</given></name>
      <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="{{birth}}"/>
    </patient>
  </patientRole></recordTarget>`

const defaultBody = `<structuredBody>
    <component><section>
      <id root="1.2.3"/>
      <code code="29299-5" codeSystem="2.16.840.1.113883.6.1" displayName="Motif"/>
      <title>Motif de la consultation</title>
      <text><paragraph>Douleur <content styleCode="Bold">thoracique</content>.</paragraph></text>
      <entry><observation/></entry>
      <entry><observation/></entry>
      <component><section><title>Sous-section</title><text>Texte</text></section></component>
    </section></component>
    <component><section><code code="X" displayName="Sans titre"/><text>Rien</text></section></component>
  </structuredBody>`

// doc returns minimalDoc with its placeholders filled: the defaults, overridden by kv pairs.
func doc(kv ...string) string {
	vals := map[string]string{
		"{{recordTarget}}": defaultRecordTarget,
		"{{body}}":         defaultBody,
		"{{code}}":         "11488-4",
		"{{title}}":        "Compte rendu de consultation",
		"{{time}}":         "20240105103000+0100",
		"{{version}}":      "2",
		"{{insRoot}}":      testINSOID,
		"{{ins}}":          testINS,
		"{{birth}}":        "19790328",
	}
	if len(kv)%2 != 0 {
		panic("doc: odd number of arguments")
	}
	for i := 0; i < len(kv); i += 2 {
		if _, ok := vals[kv[i]]; !ok {
			panic(fmt.Sprintf("doc: unknown placeholder %s", kv[i]))
		}
		vals[kv[i]] = kv[i+1]
	}
	// recordTarget and body first: their own placeholders are filled afterwards.
	s := strings.NewReplacer("{{recordTarget}}", vals["{{recordTarget}}"], "{{body}}", vals["{{body}}"]).Replace(minimalDoc)
	var pairs []string
	for k, v := range vals {
		pairs = append(pairs, k, v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// withBody returns the minimal document with a structured body of one section whose
// narrative block is text.
func withBody(text string) string {
	return doc("{{body}}", `<structuredBody><component><section><title>S</title><text>`+text+`</text></section></component></structuredBody>`)
}
