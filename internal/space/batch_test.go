package space_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/space"
)

// A batch creates as one creation after the other would: a parent created by an earlier row
// represents a child of a later one, a repeated INS finds the space of its first row, and the
// notices, queued in the outbox, reach people with a code that opens their space.
func TestCreateBatchAsOneByOne(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	ctx := context.Background()
	mum := person(t, "2880675123456", "Inès", "ines@example.fr", time.Date(1988, 6, 1, 0, 0, 0, 0, time.UTC))
	child := person(t, "1250175123459", "Léo", "", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	postal := person(t, "1700175123460", "Paul", "", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC))
	postal.PostalAddress = "3 rue des Lilas, 75020 Paris"
	parent := []space.NewRepresentative{{INS: mum.INS.Matricule, Role: space.Parent}}
	rows := []space.NewSpace{
		{Patient: mum},
		{Patient: child, Representatives: parent},
		{Patient: mum},    // the same person again
		{Patient: postal}, // nobody to e-mail: a code for the letter
		{Patient: person(t, "1250175123461", "Tom", "", child.BirthDate), // the same parent twice
			Representatives: append(parent, parent...)},
	}
	out, err := e.svc.CreateBatch(ctx, operator, rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Created.Patient.ID == 0 || out[1].Created.Patient.ID == 0 || out[3].Created.ActivationCode == "" {
		t.Fatalf("creations: %+v", out)
	}
	if out[2].Existed == nil || out[2].Existed.ID != out[0].Created.Patient.ID {
		t.Fatalf("repeated INS: %+v", out[2])
	}
	if !errs.Is(out[4].Err, errs.Conflict) {
		t.Fatalf("the same representative twice: %v", out[4].Err)
	}
	if role, err := e.svc.ActsFor(ctx, out[0].Created.Patient.ID, out[1].Created.Patient.ID); err != nil || role != space.Parent {
		t.Fatalf("the mother of the same batch represents the child: %v %v", role, err)
	}
	e.hasTrace(t, out[1].Created.Patient.ID, "space.create", audit.Allowed)

	if n, err := jobs.FlushNotices(ctx, e.db, e.clock.Now()); n != 2 || err != nil {
		t.Fatalf("outbox: %d notice jobs, %v", n, err)
	}
	codeIn(t, e.waitMail(t, "ines@example.fr", "Création", "Léo, dont vous êtes représentant légal"))
	code := codeIn(t, e.waitMail(t, "ines@example.fr", "Création", "va créer votre espace santé"))
	if _, err := e.svc.Activate(ctx, operator, mum.INS, code); err != nil {
		t.Fatalf("activate with the code of the batch's notice: %v", err)
	}
	if _, err := e.svc.Activate(ctx, operator, postal.INS, out[3].Created.ActivationCode); err != nil {
		t.Fatalf("activate with the code of the postal notice: %v", err)
	}
	e.verifyLog(t)
}
