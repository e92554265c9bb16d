package store_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkListing reads the 100 newest of a patient's 1,000 documents, and reports the CPU
// time per listing besides the wall time (the machine is shared: CPU time is steadier).
//
//	go test -run '^$' -bench Listing -benchtime 1000x ./internal/store/
func BenchmarkListing(b *testing.B) {
	ctx := context.Background()
	db := storetest.New(b)
	ins, err := identity.NewINS("279035121518989", identity.OIDTestNIR)
	if err != nil {
		b.Fatal(err)
	}
	p := space.Patient{INS: ins, BirthName: "X", GivenNames: "Y", BirthDate: t0, Sex: space.Female, CreatedAt: t0}
	if err := db.Update(ctx, func(tx *store.Tx) error { return tx.InsertPatient(ctx, &p) }); err != nil {
		b.Fatal(err)
	}
	err = db.Update(ctx, func(tx *store.Tx) error {
		for i := range 1000 {
			d := record.Document{PatientID: p.ID, INS: ins, UniqueID: fmt.Sprint("1.2.3.", i), LogicalID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
				EntryUUID: fmt.Sprintf("10000000-0000-4000-8000-%012d", i), Version: 1, Status: record.Approved, Title: "Compte rendu de consultation du docteur",
				Class: "10", Type: "11488-4", TypeSystem: "2.16.840.1.113883.6.1", Space: terminology.SpaceDocuments, MimeType: "application/pdf",
				Confidentiality: []record.Code{{Code: "N", System: record.ConfidentialitySystem}},
				Authors:         []record.Author{{Kind: record.AuthorProfessional, ID: "810001234565", Name: "Dr Paul Martin", Profession: "G15_10", Specialty: "G15_10/SM54", OrgID: "1750000001"}},
				Created:         t0.Add(-time.Duration(i) * time.Hour), ServiceStart: t0.Add(-time.Duration(i) * time.Hour), Submitted: t0, Updated: t0,
				DepositedBy: access.DepositedByProfessional, Depositor: "810001234565", BlobID: fmt.Sprintf("%032d", i), Size: 100000,
				SHA256: fmt.Sprintf("%064d", i), SHA1: fmt.Sprintf("%040d", i)}
			if err := tx.InsertDocument(ctx, &d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	q := record.Query{PatientID: p.ID, Statuses: []record.Status{record.Approved}, Limit: 100, CreatedFrom: t0.AddDate(-2, 0, 0)}
	b.ResetTimer()
	start := cpuTime()
	for range b.N {
		err := db.View(ctx, func(tx *store.Tx) error {
			docs, err := tx.SearchDocuments(ctx, q)
			if err == nil && len(docs) != 101 {
				err = fmt.Errorf("%d documents", len(docs))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N)/1000, "cpu-ms/op")
}
