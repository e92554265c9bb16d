package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// The profile's queries: versions with one current, the listing newest first and its cursor,
// a period and codes, identifiers and devices unique.
func TestProfileItems(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	p := space.Patient{INS: identity.INS{Matricule: "279035121518989", System: identity.OIDNIR}, BirthName: "X", GivenNames: "Y",
		BirthDate: t0, Sex: space.Female, CreatedAt: t0}
	if err := db.Update(ctx, func(tx *store.Tx) error { return tx.InsertPatient(ctx, &p) }); err != nil {
		t.Fatal(err)
	}
	by := profile.Author{Kind: audit.ActorPatient, ID: "account-1", Name: "Marie"}
	item := func(n int, code string, ident string) *profile.Item {
		at := t0.Add(time.Duration(n) * time.Hour)
		return &profile.Item{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), VersionID: fmt.Sprintf("10000000-0000-4000-8000-%012d", n),
			Version: 1, PatientID: p.ID, Section: profile.SectionMeasurements, Status: profile.Active, Class: "11", Type: "DOCPAT01",
			DepositedBy: access.DepositedByPatient, Author: by, ChangedBy: by, Written: at, Changed: at, Created: at, At: at,
			Identifier: ident, Measurement: &profile.Measurement{Code: code, Value: float64(60 + n), Unit: "kg", Taken: at}}
	}
	err := db.Update(ctx, func(tx *store.Tx) error {
		for n := 1; n <= 5; n++ {
			code := "29463-7"
			if n == 3 {
				code = "8867-4"
			}
			if err := tx.InsertProfileItem(ctx, item(n, code, fmt.Sprintf("urn:x|%d", n))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A new version of item 2, hidden; the first superseded.
	err = db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.SupersedeProfileItem(ctx, p.ID, item(2, "", "").VersionID); err != nil {
			return err
		}
		v2 := item(2, "29463-7", "urn:x|2")
		v2.VersionID, v2.Version, v2.Hidden = "20000000-0000-4000-8000-000000000002", 2, true
		return tx.InsertProfileItem(ctx, v2)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx *store.Tx) error {
		it, err := tx.ProfileItem(ctx, item(2, "", "").ID)
		if err != nil || it.Version != 2 || !it.Hidden || it.Measurement.Value != 62 || it.Author != by || !it.Measurement.Taken.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("current version: %+v %v", it, err)
		}
		vs, err := tx.ProfileItemVersions(ctx, item(2, "", "").ID)
		if err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[0].Hidden {
			t.Errorf("versions: %+v %v", vs, err)
		}
		q := profile.Query{PatientID: p.ID, Codes: []string{"29463-7"}, Limit: 2}
		page, err := tx.ProfileItems(ctx, q)
		if err != nil || len(page) != 2 || page[0].Version != 1 || page[0].At.Hour() != 5 || page[1].At.Hour() != 4 {
			t.Fatalf("first page: %+v %v", page, err)
		}
		q.AfterAt, q.AfterID = page[1].At, page[1].ID
		if page, err = tx.ProfileItems(ctx, q); err != nil || len(page) != 2 || page[0].At.Hour() != 2 || page[1].At.Hour() != 1 {
			t.Errorf("next page: %+v %v", page, err)
		}
		asc, err := tx.ProfileItems(ctx, profile.Query{PatientID: p.ID, Ascending: true, From: t0.Add(2 * time.Hour), To: t0.Add(4 * time.Hour)})
		if err != nil || len(asc) != 2 || asc[0].At.Hour() != 2 || asc[1].At.Hour() != 3 {
			t.Errorf("period: %+v %v", asc, err)
		}
		if it, err := tx.ProfileItemByIdentifier(ctx, "urn:x|3"); err != nil || it.Measurement.Code != "8867-4" {
			t.Errorf("by identifier: %+v %v", it, err)
		}
		if _, err := tx.ProfileItemByIdentifier(ctx, "urn:x|9"); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown identifier: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dup := item(6, "29463-7", "urn:x|1")
	if err := db.Update(ctx, func(tx *store.Tx) error { return tx.InsertProfileItem(ctx, dup) }); !errs.Is(err, errs.Conflict) {
		t.Errorf("an identifier twice: %v", err)
	}
	dev := profile.Device{ID: "d1", PatientID: p.ID, Identifier: "urn:x|dev", Manufacturer: "Acme", CreatedBy: by, Created: t0}
	if err := db.Update(ctx, func(tx *store.Tx) error { return tx.InsertProfileDevice(ctx, &dev) }); err != nil {
		t.Fatal(err)
	}
	dev.ID = "d2"
	if err := db.Update(ctx, func(tx *store.Tx) error { return tx.InsertProfileDevice(ctx, &dev) }); !errs.Is(err, errs.Conflict) {
		t.Errorf("a device identifier twice: %v", err)
	}
	err = db.View(ctx, func(tx *store.Tx) error {
		d, err := tx.ProfileDevice(ctx, "urn:x|dev")
		if err != nil || d.ID != "d1" || d.Manufacturer != "Acme" || d.CreatedBy != by || !d.Created.Equal(t0) {
			t.Errorf("device: %+v %v", d, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
