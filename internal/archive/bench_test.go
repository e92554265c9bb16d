package archive_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/archive/archivetest"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// benchSpace is a space with docs documents of size bytes and items profile items, and its
// archive.
func benchSpace(b *testing.B, docs, size, items int) (*instance, int64, []byte) {
	b.Helper()
	ctx := context.Background()
	in := &instance{Env: recordtest.New(b)}
	in.archive, _ = archivetest.New(b, in.Env)
	ins := recordtest.TestINS(b, 7)
	pid := in.Patient(b, ins)
	doctor := recordtest.Doctor(recordtest.RPPS(b, 1))
	for i := range docs {
		if _, err := in.Records.Deposit(ctx, doctor, recordtest.Report(ins, fmt.Sprintf("Compte rendu %d", i)), recordtest.PDF(size, i)); err != nil {
			b.Fatal(err)
		}
	}
	medical, err := profile.NewService(profile.Deps{Store: in.DB.Profile(), Access: in.Access, Catalog: in.Catalog, Clock: in.Clock})
	if err != nil {
		b.Fatal(err)
	}
	holder := recordtest.Holder(pid)
	pr := profile.Request{Actor: holder.Actor, Channel: audit.ChannelWeb}
	for i := range items {
		if _, err := medical.Add(ctx, pr, pid, profile.Item{Section: profile.SectionMeasurements, Measurement: &profile.Measurement{
			Code: "29463-7", Value: 60 + float64(i%30), Unit: "kg", Taken: in.Clock.Now().Add(-time.Duration(i) * time.Hour)}}); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := in.archive.Export(ctx, holder, pid, &buf); err != nil {
		b.Fatal(err)
	}
	return in, pid, buf.Bytes()
}

// BenchmarkExport writes the archive of a space of 200 documents of 50 kB and 500 profile
// items: every read decided and traced, every blob read back and hashed.
func BenchmarkExport(b *testing.B) {
	in, pid, _ := benchSpace(b, 200, 50_000, 500)
	ctx := context.Background()
	holder := recordtest.Holder(pid)
	for b.Loop() {
		var buf bytes.Buffer
		if err := in.archive.Export(ctx, holder, pid, &buf); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(uncompressed(b, buf.Bytes()))
	}
}

// BenchmarkImport brings that archive into a fresh space of another instance, each time.
func BenchmarkImport(b *testing.B) {
	a, _, zipped := benchSpace(b, 200, 50_000, 500)
	ctx := context.Background()
	b.SetBytes(uncompressed(b, zipped))
	for b.Loop() {
		b.StopTimer()
		in := &instance{Env: recordtest.New(b)}
		in.archive, _ = archivetest.New(b, in.Env)
		in.Clock.Advance(a.Clock.Now().Sub(in.Clock.Now()))
		pid := in.Patient(b, recordtest.TestINS(b, 7))
		b.StartTimer()
		rep, err := in.archive.Import(ctx, operator(""), pid, bytes.NewReader(zipped), int64(len(zipped)), archive.DefaultLimits(20<<20))
		if err != nil || rep.Imported != 200 || rep.ProfileImported != 500 {
			b.Fatalf("import: %+v %v", rep, err)
		}
	}
}

// uncompressed is the size of what an archive holds: the figure a rate is about (synthetic
// documents compress far better than real ones).
func uncompressed(b *testing.B, zipped []byte) int64 {
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, f := range zr.File {
		n += int64(f.UncompressedSize64)
	}
	return n
}
