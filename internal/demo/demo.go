// Package demo generates a synthetic French population and puts it into carnet through its
// own services (issue 11): people with valid INS of the demonstration OID, families whose
// children are represented by a parent, organisations with valid FINESS, professionals of
// every health profession with valid RPPS, care teams, médecins traitants, and documents of
// every professional type with real PDF bodies, deposited, masked and traced as in real life,
// and conversations between doctors and patients through the secure messaging (messages.go).
//
// The population is a function of a seed and a size: the same seed gives the same people,
// numbers, names and documents (only the store's own ids and the traces' times differ).
// Everything goes through the services — the access decision, the record, the trace log —
// so a seeded space is as real as one filled by hand; the price is the record's deposit rate.
package demo

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Options size the population.
type Options struct {
	Seed uint64
	// People is the number of adults; each family may add children (about one adult in four
	// has one or two).
	People int
	// DocumentsPerPerson is the mean number of documents a person's record gets (default 4).
	DocumentsPerPerson int
	// Password of the demonstration sign-ins (at least 12 characters); empty: no sign-in is
	// created.
	Password string
}

// Deps are the services the seeder goes through.
type Deps struct {
	Spaces   *space.Service
	Accounts *account.Service
	Auth     *auth.Service // activates the demonstration patient's space with a sign-in
	Records  *record.Service
	Access   *access.Service
	Catalog  *terminology.Catalog
	Clock    clock.Clock
	// Messages, when set, carries the conversations (Threads) through the messaging; nil: the
	// population gets no messages.
	Messages *mail.Portal
}

// SignIn is a demonstration account.
type SignIn struct {
	Role, Login, Password, Name string
}

// Report says what was created.
type Report struct {
	People, Children, Professionals, Organisations, Documents int
	// Messages sent, in Conversations of which Ended were closed by the professional ([FIN]).
	Messages, Conversations, Ended int
	SignIns                        []SignIn
	// INS of every person, in the order they were created (for tests and load tools).
	INS []identity.INS
}

// Person is a generated identity.
type Person struct {
	INS        identity.INS
	BirthName  string
	GivenNames string
	BirthDate  time.Time
	Sex        space.Sex
	Town       string
	Parent     int // index of the parent among the people, -1 for an adult
}

// Pro is a generated professional.
type Pro struct {
	IdNat      identity.IdNatPS
	Family     string
	Given      string
	Profession string // TRE_G15 code
	Specialty  string
	Org        int // index of the organisation
}

// Org is a generated organisation.
type Org struct {
	FINESS, Name, Town string
}

// Population is what a seed and a size give, before anything is stored.
type Population struct {
	People []Person
	Pros   []Pro
	Orgs   []Org
}

// Generate draws the population of opts, deterministically.
func Generate(opts Options, cat *terminology.Catalog, now time.Time) (Population, error) {
	if opts.People <= 0 {
		return Population{}, errs.E(errs.Invalid, "demo: at least one person")
	}
	r := rand.New(rand.NewPCG(opts.Seed, 0xca7e))
	var pop Population
	nOrgs := max(2, opts.People/25)
	for i := range nOrgs {
		t := towns[r.IntN(len(towns))]
		finess, err := withLuhn(fmt.Sprintf("%s0%05d", t.Dept, 10000+i*37%90000))
		if err != nil {
			return Population{}, err
		}
		kind := "Cabinet médical"
		if i%3 == 0 {
			kind = "Centre hospitalier"
		}
		pop.Orgs = append(pop.Orgs, Org{FINESS: finess, Name: kind + " de " + t.Name, Town: t.Name})
	}
	professions := healthProfessions(cat)
	nPros := max(len(professions), opts.People/8)
	for i := range nPros {
		prof := professions[i%len(professions)]
		if i >= len(professions) && r.IntN(2) == 0 {
			prof = "G15_10" // doctors are the most numerous
		}
		rpps, err := withLuhn(fmt.Sprintf("1%09d", 100000+i*7919%900000000))
		if err != nil {
			return Population{}, err
		}
		id, err := identity.ParseIdNatPS("8" + rpps)
		if err != nil {
			return Population{}, err
		}
		p := Pro{IdNat: id, Family: familyNames[r.IntN(len(familyNames))], Profession: prof, Org: r.IntN(nOrgs)}
		if r.IntN(2) == 0 {
			p.Given = femaleNames[r.IntN(len(femaleNames))]
		} else {
			p.Given = maleNames[r.IntN(len(maleNames))]
		}
		if prof == "G15_10" {
			p.Specialty = "SM54" // médecine générale
		}
		pop.Pros = append(pop.Pros, p)
	}
	seen := map[string]bool{}
	person := func(minAge, maxAge int, family string, parent int) (Person, error) {
		sex := space.Female
		given := femaleNames
		if r.IntN(2) == 0 {
			sex, given = space.Male, maleNames
		}
		age := minAge + r.IntN(maxAge-minAge+1)
		birth := time.Date(now.Year()-age, time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
		if birth.After(now) {
			birth = birth.AddDate(-1, 0, 0)
		}
		t := towns[r.IntN(len(towns))]
		sexDigit := "2"
		if sex == space.Male {
			sexDigit = "1"
		}
		for {
			nir := fmt.Sprintf("%s%02d%02d%s%s%03d", sexDigit, birth.Year()%100, int(birth.Month()), t.Dept, t.Commune, 1+r.IntN(999))
			if seen[nir] {
				continue
			}
			seen[nir] = true
			key, err := identity.INSKey(nir)
			if err != nil {
				return Person{}, err
			}
			ins, err := identity.NewINS(nir+key, identity.OIDDemoNIR)
			if err != nil {
				return Person{}, err
			}
			names := given[r.IntN(len(given))]
			if r.IntN(3) == 0 {
				names += " " + given[r.IntN(len(given))]
			}
			return Person{INS: ins, BirthName: family, GivenNames: names, BirthDate: birth, Sex: sex, Town: t.Name, Parent: parent}, nil
		}
	}
	for range opts.People {
		family := familyNames[r.IntN(len(familyNames))]
		adult, err := person(19, 90, family, -1)
		if err != nil {
			return Population{}, err
		}
		pop.People = append(pop.People, adult)
		if r.IntN(4) == 0 && now.Sub(adult.BirthDate) < 60*365*24*time.Hour {
			parent := len(pop.People) - 1
			for range 1 + r.IntN(2) {
				child, err := person(0, 17, family, parent)
				if err != nil {
					return Population{}, err
				}
				pop.People = append(pop.People, child)
			}
		}
	}
	return pop, nil
}

// healthProfessions are the professions (not specialties) of the health professions list.
func healthProfessions(cat *terminology.Catalog) []string {
	var out []string
	for _, p := range cat.ProfessionsOf(terminology.KindHealth) {
		if !strings.Contains(p.Code, "/") && strings.HasPrefix(p.Code, "G15_") {
			out = append(out, p.Code)
		}
	}
	if len(out) == 0 {
		out = []string{"G15_10"}
	}
	return out
}

// withLuhn appends the Luhn key to digits.
func withLuhn(digits string) (string, error) {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + strconv.Itoa((10-sum%10)%10), nil
}

// operator names the seeder in traces.
var operator = audit.Actor{Kind: audit.ActorOperator, ID: "demo", Name: "carnet demo seed"}
