package space_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

func TestChildSpaceManagedByParents(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	ctx := context.Background()
	mum, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2880675123456", "Inès", "ines@example.fr", time.Date(1988, 6, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	born := start.AddDate(0, 0, -3).Truncate(24 * time.Hour)
	child := person(t, "1260175123459", "Léo", "", born)
	child.BirthName = "MARTIN"
	c, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: child,
		Representatives: []space.NewRepresentative{{INS: mum.Patient.INS.Matricule, Role: space.Parent}}})
	if err != nil {
		t.Fatal(err)
	}
	// The child's notice goes to the parent.
	mail := e.waitMail(t, "ines@example.fr", "Création", "Léo, dont vous êtes représentant légal")
	codeIn(t, mail)
	// A minor needs a representative; a curator is for adults.
	orphan := person(t, "1260175123460", "Tom", "", born)
	if _, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: orphan}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("minor without a representative: %v", err)
	}
	if _, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: orphan,
		Representatives: []space.NewRepresentative{{INS: mum.Patient.INS.Matricule, Role: space.Curator}}}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("curator of a minor: %v", err)
	}
	if role, err := e.svc.ActsFor(ctx, mum.Patient.ID, c.Patient.ID); err != nil || role != space.Parent {
		t.Fatalf("parent acts for child: %v %v", role, err)
	}
	reps, err := e.svc.Represented(ctx, mum.Patient.ID)
	if err != nil || len(reps) != 1 || reps[0].PatientID != c.Patient.ID {
		t.Fatalf("represented: %+v %v", reps, err)
	}
	// The child cannot act for the parent.
	if _, err := e.svc.ActsFor(ctx, c.Patient.ID, mum.Patient.ID); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("child acts for parent: %v", err)
	}
	// A parent is refused for an adult; a guardian is accepted.
	if err := e.svc.AddRepresentative(ctx, operator, mum.Patient.ID, space.NewRepresentative{INS: c.Patient.INS.Matricule, Role: space.Parent}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("parent of an adult: %v", err)
	}
	// At 18, parental representation ends by itself.
	e.clock.Set(born.AddDate(18, 0, 0).Add(-time.Hour))
	if _, err := e.svc.ActsFor(ctx, mum.Patient.ID, c.Patient.ID); err != nil {
		t.Fatalf("the day before majority: %v", err)
	}
	e.clock.Set(born.AddDate(18, 0, 0))
	if _, err := e.svc.ActsFor(ctx, mum.Patient.ID, c.Patient.ID); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("parent still acts for an adult child: %v", err)
	}
	if reps, _ := e.svc.Represented(ctx, mum.Patient.ID); len(reps) != 0 {
		t.Fatalf("switcher still lists the adult child: %+v", reps)
	}
	// Now an adult (say protected), the child gets a guardian; it can be removed.
	if err := e.svc.AddRepresentative(ctx, operator, c.Patient.ID, space.NewRepresentative{INS: "urn:oid:1.2.250.1.213.1.4.10|" + mum.Patient.INS.Matricule, Role: space.Guardian}); !errs.Is(err, errs.Conflict) {
		// mum is still linked as parent: the link must be removed first
		t.Fatalf("second link for the same person: %v", err)
	}
	if err := e.svc.RemoveRepresentative(ctx, operator, c.Patient.ID, mum.Patient.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddRepresentative(ctx, operator, c.Patient.ID, space.NewRepresentative{INS: mum.Patient.INS.Matricule, Role: space.Guardian}); err != nil {
		t.Fatalf("guardian: %v", err)
	}
	if role, err := e.svc.ActsFor(ctx, mum.Patient.ID, c.Patient.ID); err != nil || role != space.Guardian {
		t.Fatalf("guardian acts: %v %v", role, err)
	}
	e.verifyLog(t)
}

// A queued notice survives a restart: it is worked by the next process.
func TestNoticeSurvivesRestart(t *testing.T) {
	e := newEnv(t) // queue built but never started: the "process" dies before working
	ctx := context.Background()
	if _, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2790351215189", "Marie", "marie@example.fr", time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC))}); err != nil {
		t.Fatal(err)
	}
	e.queue = e.newQueue(t) // the next process
	e.start(t)
	e.waitMail(t, "marie@example.fr", "Création")
}
