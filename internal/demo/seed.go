package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The demonstration sign-ins' logins.
const (
	PatientLogin      = "patient@demo.carnet.test"
	ProfessionalLogin = "medecin@demo.carnet.test"
	OperatorLogin     = "exploitant@demo.carnet.test"
)

// Seed generates the population of opts and puts it into carnet through the services.
// Running it again with the same options creates nothing twice (what exists is left as it
// is). progress, when set, is told how many people are done.
func Seed(ctx context.Context, d Deps, opts Options, progress func(done, total int)) (Report, error) {
	if opts.DocumentsPerPerson <= 0 {
		opts.DocumentsPerPerson = 4
	}
	if opts.Password != "" && len(opts.Password) < 12 {
		return Report{}, errs.E(errs.Invalid, "demo: the sign-ins' password has at least 12 characters")
	}
	now := d.Clock.Now()
	pop, err := Generate(opts, d.Catalog, now)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	accBy := account.By{Actor: operator, Channel: audit.ChannelCLI}
	spaceBy := space.By{Actor: operator, Channel: audit.ChannelCLI}

	orgIDs := make([]int64, len(pop.Orgs))
	for i, o := range pop.Orgs {
		sid := identity.StructureID{Kind: identity.StructFINESS, ID: o.FINESS}
		got, err := d.Accounts.CreateOrganisation(ctx, accBy, account.Organisation{StructureID: sid, Name: o.Name, Town: o.Town})
		if errs.Is(err, errs.Conflict) {
			got, err = d.Accounts.OrganisationByStructureID(ctx, sid.String())
		} else if err == nil {
			rep.Organisations++
		}
		if err != nil {
			return rep, fmt.Errorf("organisation %s: %w", o.FINESS, err)
		}
		orgIDs[i] = got.ID
	}
	var doctors []Pro
	proIDs := make([]int64, len(pop.Pros))
	for i, p := range pop.Pros {
		got, err := d.Accounts.CreateProfessional(ctx, accBy, account.Professional{IdNat: p.IdNat, FamilyName: p.Family, GivenName: p.Given,
			Profession: p.Profession, Specialty: p.Specialty, OrganisationID: orgIDs[p.Org]})
		switch {
		case err == nil:
			rep.Professionals++
			proIDs[i] = got.ID
		case errs.Is(err, errs.Conflict):
		default:
			return rep, fmt.Errorf("professional %s: %w", p.IdNat, err)
		}
		if p.Profession == "G15_10" {
			doctors = append(doctors, p)
		}
	}
	if len(doctors) == 0 {
		doctors = pop.Pros
	}

	r := rand.New(rand.NewPCG(opts.Seed, 0xd0c5))
	threads := map[int][]Thread{}
	if d.Messages != nil {
		for _, th := range Threads(pop, opts.Seed) {
			threads[th.Person] = append(threads[th.Person], th)
		}
	}
	types := documentTypes(d.Catalog)
	pids := make([]int64, len(pop.People))
	for i, p := range pop.People {
		n := space.NewSpace{Patient: space.Patient{INS: p.INS, BirthName: p.BirthName, GivenNames: p.GivenNames, BirthDate: p.BirthDate, Sex: p.Sex}}
		if p.Parent >= 0 {
			n.Representatives = []space.NewRepresentative{{INS: pop.People[p.Parent].INS.Matricule, Role: space.Parent}}
		}
		c, err := d.Spaces.Create(ctx, spaceBy, n)
		var exists *space.ExistsError
		switch {
		case errors.As(err, &exists):
			if pids[i], err = d.Records.PatientID(ctx, p.INS); err != nil {
				return rep, err
			}
			rep.INS = append(rep.INS, p.INS)
			continue // seeded before
		case err != nil:
			return rep, fmt.Errorf("space of person %d: %w", i, err)
		}
		pids[i] = c.Patient.ID
		rep.INS = append(rep.INS, p.INS)
		if p.Parent >= 0 {
			rep.Children++
		} else {
			rep.People++
		}
		if i == 0 && opts.Password != "" && d.Auth != nil {
			if _, err := d.Auth.Activate(ctx, auth.Activation{INS: p.INS.Matricule, Code: c.ActivationCode, Email: PatientLogin,
				Password: opts.Password, Client: auth.Client{Addr: "127.0.0.1", Channel: audit.ChannelCLI}}); err != nil {
				return rep, fmt.Errorf("demonstration patient: %w", err)
			}
		} else if _, err := d.Spaces.Activate(ctx, spaceBy, p.INS, c.ActivationCode); err != nil {
			return rep, fmt.Errorf("open the space of person %d: %w", i, err)
		}
		// The record: documents by doctors (who join the care team by depositing), a médecin
		// traitant for adults, a document masked now and then.
		var mt Pro
		for k := range 1 + r.IntN(2*opts.DocumentsPerPerson) {
			doc := doctors[r.IntN(len(doctors))]
			if k == 0 {
				mt = doc
			}
			t := types[r.IntN(len(types))]
			act := now.Add(-time.Duration(1+r.IntN(3*365*24)) * time.Hour).Truncate(time.Minute)
			title := fmt.Sprintf("%s du %s", t.Label, act.Format("02/01/2006"))
			if len(title) > 200 {
				title = title[:200]
			}
			body := PDF(title, []string{
				"Patient : " + p.GivenNames + " " + p.BirthName + ", né(e) le " + p.BirthDate.Format("02/01/2006"),
				"Auteur : Dr " + doc.Given + " " + doc.Family,
				"Document de démonstration généré par carnet : aucune donnée réelle.",
				"Motif : " + motives[r.IntN(len(motives))],
				"Conclusion : " + conclusions[r.IntN(len(conclusions))],
			})
			req := record.Request{Channel: audit.ChannelFHIR, Actor: access.Actor{Kind: audit.ActorProfessional, ID: doc.IdNat.String(),
				Name: "Dr " + doc.Given + " " + doc.Family, Profession: doc.Profession, Specialty: specialty(doc)}}
			dd, err := d.Records.Deposit(ctx, req, record.Deposit{INS: p.INS, Title: title, Type: t.Code, MimeType: "application/pdf",
				ServiceStart: act, Created: act.Add(2 * time.Hour)}, body)
			if err != nil {
				return rep, fmt.Errorf("document %d of person %d: %w", k, i, err)
			}
			rep.Documents++
			if p.Parent < 0 && r.IntN(6) == 0 {
				if _, err := d.Records.Mask(ctx, holder(pids[i]), dd.LogicalID); err != nil {
					return rep, fmt.Errorf("mask: %w", err)
				}
			}
		}
		if p.Parent < 0 && mt.IdNat.String() != "" {
			h := holder(pids[i])
			if err := d.Access.DesignateMedecinTraitant(ctx, h.Actor, h.Channel, pids[i], mt.IdNat.String()); err != nil {
				return rep, fmt.Errorf("médecin traitant: %w", err)
			}
		}
		if ths := threads[i]; len(ths) > 0 {
			n, err := messages(ctx, d.Messages, pop, ths, pids[i])
			rep.Messages += n
			if err != nil {
				return rep, fmt.Errorf("messages of person %d: %w", i, err)
			}
			for _, th := range ths {
				rep.Conversations++
				if th.Ended() {
					rep.Ended++
				}
			}
		}
		if progress != nil {
			progress(i+1, len(pop.People))
		}
	}

	if opts.Password != "" {
		rep.SignIns = append(rep.SignIns, SignIn{Role: "patient", Login: PatientLogin, Password: opts.Password,
			Name: pop.People[0].GivenNames + " " + pop.People[0].BirthName})
		if id := proIDs[indexOf(pop.Pros, doctors[0])]; id != 0 {
			if _, err := d.Accounts.CreateAccount(ctx, accBy, account.NewAccount{Kind: account.KindProfessional, Login: ProfessionalLogin,
				DisplayName: "Dr " + doctors[0].Given + " " + doctors[0].Family, Password: opts.Password, ProfessionalID: id}); err != nil &&
				!errs.Is(err, errs.Conflict) {
				return rep, fmt.Errorf("demonstration professional: %w", err)
			}
		}
		rep.SignIns = append(rep.SignIns, SignIn{Role: "professional", Login: ProfessionalLogin, Password: opts.Password,
			Name: "Dr " + doctors[0].Given + " " + doctors[0].Family})
		if _, err := d.Accounts.CreateAccount(ctx, accBy, account.NewAccount{Kind: account.KindOperator, Login: OperatorLogin,
			DisplayName: "Exploitation (démonstration)", Password: opts.Password}); err != nil && !errs.Is(err, errs.Conflict) {
			return rep, fmt.Errorf("demonstration operator: %w", err)
		}
		rep.SignIns = append(rep.SignIns, SignIn{Role: "operator", Login: OperatorLogin, Password: opts.Password, Name: "Exploitation"})
	}
	return rep, nil
}

func holder(pid int64) record.Request {
	return record.Request{Channel: audit.ChannelWeb, Actor: access.Actor{Kind: audit.ActorPatient, ID: fmt.Sprintf("patient-%d", pid), PatientID: pid}}
}

func specialty(p Pro) string {
	if p.Specialty == "" {
		return ""
	}
	return p.Profession + "/" + p.Specialty
}

func indexOf(pros []Pro, p Pro) int {
	for i, q := range pros {
		if q.IdNat == p.IdNat {
			return i
		}
	}
	return 0
}

// documentTypes are the types professionals deposit (Documents de santé), every one of them.
func documentTypes(cat *terminology.Catalog) []terminology.TypeCode {
	var out []terminology.TypeCode
	for _, t := range cat.Types() {
		if t.Space == terminology.SpaceDocuments && !strings.HasPrefix(t.Code, "DOCPAT") {
			out = append(out, t)
		}
	}
	return out
}

var (
	motives = []string{"suivi d'hypertension artérielle", "bilan annuel", "douleur thoracique atypique", "contrôle post-opératoire",
		"suivi de diabète de type 2", "toux persistante", "entorse de la cheville", "fatigue inexpliquée", "vaccination", "lombalgie"}
	conclusions = []string{"examen normal, pas de traitement", "adaptation du traitement, revoir dans 3 mois", "examens complémentaires demandés",
		"évolution favorable", "orientation vers un spécialiste", "surveillance simple"}
)
