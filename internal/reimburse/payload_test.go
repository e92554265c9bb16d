package reimburse

import (
	"bytes"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
)

// testFileID is a file identity as FileIDOf gives one.
const testFileID = "0123456789abcdef0123456789abcdef"

// An event filed before payloads named their row reads as it did, and names no row; a
// statement rebuilt from events that name their row renders as the one deposited with them.
func TestPayloadRow(t *testing.T) {
	old := []byte(`{"date":"2026-02-03","nature":"consultation","code_system":"NGAP","code":"GS","provider_name":"MARTIN Claire","paid":3000,"reimbursed":2100}`)
	a, err := decodePayload("R1", old)
	if err != nil || a.Reference != "R1" || a.Code != "GS" || a.Paid != 3000 || !a.Date.Equal(time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("an old payload: %+v %v", a, err)
	}
	if f, l, ok := payloadRow(old); ok {
		t.Fatalf("an old payload names a row: %q %d", f, l)
	}
	if f, l, ok := payloadRow(encodePayload(Act{Date: a.Date, Nature: "consultation", Line: 4}, "")); ok {
		t.Fatalf("a payload of a run without a file identity names a row: %q %d", f, l)
	}

	row := a
	row.Line = 12
	b := encodePayload(row, testFileID)
	if !bytes.Contains(b, []byte(`"file":"`+testFileID+`","line":12`)) {
		t.Fatalf("payload %s", b)
	}
	if f, l, ok := payloadRow(b); !ok || f != testFileID || l != 12 {
		t.Fatalf("row %q %d %v", f, l, ok)
	}
	back, err := decodePayload("R1", b)
	if err != nil || back != a {
		t.Fatalf("read back %+v %v, want %+v", back, err, a)
	}
	p := space.Patient{INS: identity.INS{Matricule: "180057512345678"}, BirthName: "DUPONT", GivenNames: "Marie"}
	month := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	issued := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	deposited := statement{Insurer: "Assurance Maladie", Patient: p, Month: month, Acts: []Act{row}, Issued: issued}.render()
	rebuilt := statement{Insurer: "Assurance Maladie", Patient: p, Month: month, Acts: []Act{back}, Issued: issued}.render()
	if !bytes.Equal(deposited, rebuilt) || bytes.Contains(rebuilt, []byte(testFileID)) {
		t.Fatalf("rebuilt statement:\n%s\nwant\n%s", rebuilt, deposited)
	}
}
