package terminology

import (
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
)

func mustDefault(tb testing.TB) *Catalog {
	tb.Helper()
	c, err := Default()
	if err != nil {
		tb.Fatalf("Default: %v", err)
	}
	return c
}

// The embedded tables parse, and hold what the value sets hold: J07 has 114 type codes; J01 has
// 396 codes and J48 54, 42 of them in both, so 408 professions.
func TestDefaultParses(t *testing.T) {
	c := mustDefault(t)
	if got := len(c.Types()); got != 114 {
		t.Errorf("%d type codes, want 114", got)
	}
	if got := len(c.Classes()); got != 11 {
		t.Errorf("%d classes, want 11", got)
	}
	if got := len(c.Professions()); got != 408 {
		t.Errorf("%d professions, want 408", got)
	}
	c2 := mustDefault(t)
	if c != c2 {
		t.Error("Default parsed the tables twice")
	}
}

func TestEveryTypeHasValidClassAndSpace(t *testing.T) {
	c := mustDefault(t)
	for _, tc := range c.Types() {
		if tc.Code == "" || tc.System == "" || tc.Label == "" {
			t.Errorf("%+v: empty field", tc)
		}
		cl, err := c.Class(tc.Class)
		if err != nil {
			t.Errorf("%s: class %q: %v", tc.Code, tc.Class, err)
		} else if cl.System != ClassSystem {
			t.Errorf("%s: class system %q", tc.Code, cl.System)
		}
		if !tc.Space.Valid() {
			t.Errorf("%s: space %q", tc.Code, tc.Space)
		}
	}
}

// The mapping examples of DOMAIN.md "Documents (the DMP)", with the classes of the national
// correspondence ASS_X04 (version 20230331120000) where DOMAIN.md leaves the class open.
func TestDomainExamples(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		code  string
		class string
		space Space
	}{
		{"11488-4", "10", SpaceDocuments},   // CR de consultation
		{"11490-0", "10", SpaceDocuments},   // lettre de liaison de sortie
		{"34112-3", "10", SpaceDocuments},   // CR d'hospitalisation
		{"11502-2", "10", SpaceDocuments},   // CR de biologie
		{"18748-4", "31", SpaceDocuments},   // CR d'imagerie: imaging class in X04
		{"34874-8", "10", SpaceDocuments},   // CR opératoire
		{"15507-7", "10", SpaceDocuments},   // passage aux urgences
		{"34794-8", "10", SpaceDocuments},   // RCP
		{"34133-9", "11", SpaceDocuments},   // synthèse d'épisode
		{"60591-5", "11", SpaceProfile},     // VSM
		{"57833-6", "42", SpaceDocuments},   // prescription de produits de santé
		{"57828-6", "42", SpaceDocuments},   // prescription (autre)
		{"57832-8", "42", SpaceDocuments},   // prescription de soins
		{"60593-1", "43", SpaceDocuments},   // dispensation
		{"11369-6", "52", SpaceProfile},     // historique des vaccinations: 52 in X04
		{"87273-9", "52", SpaceProfile},     // note de vaccination
		{"18776-5", "44", SpaceProfile},     // PPS
		{"56445-0", "11", SpaceProfile},     // bilan médicamenteux
		{"52040-3", "31", SpaceDocuments},   // image non DICOM
		{"SYNTH", "11", SpaceProfile},       // the CI-SIS VSM example is coded SYNTH
		{"CERT_DECL", "52", SpaceDocuments}, //
		{"PROT_ALD", "44", SpaceProfile},    // protocole de soins ALD, a care plan
		{"REMB", "60", SpaceReimbursements},
		{"EXPPAT_1", "90", SpacePersonal},
		{"EXPPAT_3", "90", SpacePersonal}, // directives anticipées
		// X04 classes the patient's deposits by their nature, not under 90.
		{"DOCPAT01", "11", SpacePersonal},
		{"DOCPAT08", "11", SpacePersonal}, // the profile summary the patient deposits stays in the personal space
		{"DOCPAT09", "95", SpacePersonal},
		{"PRESC-BIO", "42", SpaceDocuments},
		{"PRESC-KINE", "42", SpaceDocuments},
		{"PRESC-INF", "42", SpaceDocuments},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			tc, err := c.Type(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if tc.Class != tt.class || tc.Space != tt.space {
				t.Errorf("%s → class %s, space %s; want %s, %s", tt.code, tc.Class, tc.Space, tt.class, tt.space)
			}
		})
	}
}

func TestEveryPatientDepositGoesToPersonalSpace(t *testing.T) {
	c := mustDefault(t)
	n := 0
	for _, tc := range c.Types() {
		patient := strings.HasPrefix(tc.Code, "DOCPAT") || strings.HasPrefix(tc.Code, "EXPPAT_")
		if patient {
			n++
		}
		if patient != (tc.Space == SpacePersonal) {
			t.Errorf("%s %q: space %s", tc.Code, tc.Label, tc.Space)
		}
		if (tc.Code == "REMB") != (tc.Space == SpaceReimbursements) {
			t.Errorf("%s: space %s", tc.Code, tc.Space)
		}
	}
	if n != 12 {
		t.Errorf("%d DOCPAT/EXPPAT codes, want 12", n)
	}
}

func TestUnknownCodesNameTheCode(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"type", func() error { _, err := c.Type("99999-9"); return err }, "99999-9"},
		{"type empty", func() error { _, err := c.Type(""); return err }, `""`},
		{"class", func() error { _, err := c.Class("99"); return err }, "99"},
		{"profession", func() error { _, err := c.Profession("G15_99"); return err }, "G15_99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("err = %v, want errs.Invalid", err)
			}
			if msg := errs.MessageOf(err); !strings.Contains(msg, tt.code) {
				t.Errorf("message %q does not name %s", msg, tt.code)
			}
		})
	}
	_, err := c.Type("99999-9")
	if got, want := errs.MessageOf(err), `unknown document type code "99999-9"`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestProfessions(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		code, label, profession string
		kind                    Kind
	}{
		{"G15_10", "Médecin", "G15_10", KindHealth},
		{"G15_10/SM03", "Médecin - Biologie médicale (SM)", "G15_10", KindHealth},
		{"G15_60", "Infirmier", "G15_60", KindHealth},
		{"G15_21/G", "Pharmacien biologiste", "G15_21", KindHealth},
		{"G16_10", "Médecin en formation", "G16_10", KindHealth},
		{"93", "Psychologue", "93", KindSocial},
		{"41", "Assistant de service social", "41", KindSocial},
		{"53", "Accompagnant éducatif et social", "53", KindSocial},               // only in J48
		{"331", "Secrétaire assistante médico-administrative", "331", KindSocial}, // J01's label wins
		{"ALIM_AM", "Alimentation automatique à partir du Système d'Information de l'Assurance Maladie", "", KindOther},
		{"EXP_PATIENT", "Expression personnelle du patient", "", KindOther},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			p, err := c.Profession(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if p.Label != tt.label || p.Profession != tt.profession || p.Kind != tt.kind {
				t.Errorf("%+v; want label %q, profession %q, kind %s", p, tt.label, tt.profession, tt.kind)
			}
		})
	}

	total := 0
	for _, k := range []Kind{KindHealth, KindSocial, KindOther} {
		ps := c.ProfessionsOf(k)
		if len(ps) == 0 {
			t.Errorf("no profession of kind %s", k)
		}
		for _, p := range ps {
			if p.Kind != k {
				t.Errorf("ProfessionsOf(%s) returned %+v", k, p)
			}
		}
		total += len(ps)
	}
	if total != len(c.Professions()) {
		t.Errorf("kinds cover %d professions of %d", total, len(c.Professions()))
	}
	if got := len(c.ProfessionsOf(KindOther)); got != 7 {
		t.Errorf("%d authors of kind other, want the 7 of TRE_A00", got)
	}
	if ps := c.ProfessionsOf("nurse"); len(ps) != 0 {
		t.Errorf("unknown kind returned %d professions", len(ps))
	}
}

// Every specialty belongs to a profession that is itself in the table.
func TestSpecialtiesHaveTheirProfession(t *testing.T) {
	c := mustDefault(t)
	for _, p := range c.Professions() {
		if p.Profession == "" {
			continue
		}
		parent, err := c.Profession(p.Profession)
		if err != nil {
			t.Errorf("%s: profession %s: %v", p.Code, p.Profession, err)
			continue
		}
		if parent.Kind != p.Kind || parent.Profession != parent.Code {
			t.Errorf("%s: profession %+v", p.Code, parent)
		}
	}
}

// The catalog is shared between goroutines: what accessors return must not reach into it.
func TestAccessorsReturnCopies(t *testing.T) {
	c := mustDefault(t)
	types := c.Types()
	types[0].Label = "changed"
	classes := c.Classes()
	classes[0].Label = "changed"
	ps := c.Professions()
	ps[0].Label = "changed"
	if c.Types()[0].Label == "changed" || c.Classes()[0].Label == "changed" || c.Professions()[0].Label == "changed" {
		t.Error("an accessor returned the catalog's own slice")
	}
}

func TestSpaces(t *testing.T) {
	for _, s := range Spaces() {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	for _, s := range []Space{"", "documents", "Profil_medical"} {
		if s.Valid() {
			t.Errorf("%q valid", s)
		}
	}
}
