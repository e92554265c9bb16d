package audit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
)

// referenceSeal is the seal as carnet first wrote it (field by field into a new HMAC): every
// chain stored since is sealed so, and the Sealer must give the same bytes.
func referenceSeal(k audit.Key, fields ...string) string {
	m := hmac.New(sha256.New, k)
	for _, s := range fields {
		var n [binary.MaxVarintLen64]byte
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		io.WriteString(m, s)
	}
	return hex.EncodeToString(m.Sum(nil))
}

func TestSealerMatchesTheStoredEncoding(t *testing.T) {
	k := audit.Key([]byte("0123456789abcdef0123456789abcdef"))
	long := strings.Repeat("é", 300) // a field longer than one varint byte and the sealer's first buffer
	entries := []audit.Entry{
		{At: time.Date(2026, 11, 26, 9, 0, 0, 123456000, time.UTC), Actor: audit.Actor{Kind: "professional", ID: "810001234567", Name: "Dr A", Org: "CH X"},
			Channel: "fhir", Action: "document.read", PatientID: 42, Object: "doc/1", Outcome: audit.Allowed},
		{At: time.Unix(0, 0).UTC(), Actor: audit.System("trace-log"), Channel: "cli", Action: audit.AnchorAction, Object: "p42", Outcome: audit.Allowed},
		{At: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), Actor: audit.Actor{Kind: "patient", ID: "7", Name: long}, Channel: "web", Action: "x",
			PatientID: -3, Outcome: audit.Denied, Reason: "r", Detail: long},
	}
	s := k.Sealer() // one sealer for all, as a batch uses it: nothing of a seal may leak into the next
	for i, e := range entries {
		for _, prev := range []string{"", strings.Repeat("ab", 32)} {
			want := referenceSeal(k, "carnet-trace-v1", "p42", strconv.Itoa(i+1), prev, strconv.FormatInt(e.At.UnixMicro(), 10),
				string(e.Actor.Kind), e.Actor.ID, e.Actor.Name, e.Actor.Org, string(e.Channel), e.Action,
				strconv.FormatInt(e.PatientID, 10), e.Object, string(e.Outcome), e.Reason, e.Detail)
			if got := s.Seal("p42", int64(i+1), prev, e); got != want {
				t.Errorf("entry %d: sealer %s, stored encoding %s", i, got, want)
			}
			if got := k.Seal("p42", int64(i+1), prev, e); got != want {
				t.Errorf("entry %d: key %s, stored encoding %s", i, got, want)
			}
		}
		want := referenceSeal(k, "carnet-trace-head-v1", "p42", strconv.Itoa(i+10), long)
		if got := s.SealHead("p42", int64(i+10), long); got != want {
			t.Errorf("head %d: sealer %s, stored encoding %s", i, got, want)
		}
	}
}

// go test -run '^$' -bench Seal ./internal/audit/
func BenchmarkSeal(b *testing.B) {
	k := audit.Key([]byte("0123456789abcdef0123456789abcdef"))
	e := audit.Entry{At: time.Now(), Actor: audit.Actor{Kind: "operator", ID: "cnam", Name: "Assurance Maladie"}, Channel: "cli",
		Action: "space.create", PatientID: 123456, Outcome: audit.Allowed}
	b.Run("key", func(b *testing.B) {
		for b.Loop() {
			k.Seal("p123456", 1, "", e)
		}
	})
	b.Run("sealer", func(b *testing.B) {
		s := k.Sealer()
		for b.Loop() {
			s.Seal("p123456", 1, "", e)
		}
	})
}
