package mhdclient

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
)

// The Bundle decodes strictly as the server decodes it, and carries the document's bytes.
func TestProvideBundle(t *testing.T) {
	ins, err := identity.NewINS("279035121518989", identity.OIDTestNIR)
	if err != nil {
		t.Fatal(err)
	}
	pdf := PDF(100<<10, 42)
	if len(pdf) != 100<<10 || bytes.Equal(pdf, PDF(100<<10, 43)) || !bytes.Equal(pdf, PDF(100<<10, 42)) {
		t.Fatal("PDF: wrong size, or not distinct per seed, or not repeatable")
	}
	doc := NewDocument(ins, "810100534436", "CR", pdf, time.Now())
	raw, err := ProvideBundle(doc)
	if err != nil {
		t.Fatal(err)
	}
	var b r4.Bundle
	if err := r4.Decode(raw, &b); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for _, e := range b.Entry {
		_, v, err := e.DecodeResource()
		if err != nil {
			t.Fatal(err)
		}
		if bin, ok := v.(*r4.Binary); ok {
			got = bin.Data
		}
	}
	if !bytes.Equal(got, pdf) {
		t.Fatalf("the Binary holds %d bytes, not the document's %d", len(got), len(pdf))
	}
	if !json.Valid(raw) {
		t.Fatal("not JSON")
	}
}

// A journal keeps what was appended, and a torn last line is left out.
func TestJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	j, err := CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	r := Record{ID: "0b7e2b9c-7c57-4c27-9a62-4d35b7f0e4c1", Size: 3, SHA1: string(bytes.Repeat([]byte("a"), 40)),
		SHA256: string(bytes.Repeat([]byte("b"), 64)), INS: "279035121518989"}
	for i := 0; i < 3; i++ {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("torn 12 abc")
	f.Close()
	recs, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[2] != r {
		t.Fatalf("read back %d records: %+v", len(recs), recs)
	}
}
