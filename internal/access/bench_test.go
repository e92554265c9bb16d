package access_test

import (
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// BenchmarkDecide: one decision, a care-team nurse reading a report (the matrix consulted).
func BenchmarkDecide(b *testing.B) {
	in := inTeam(b, nurse, "G15_60")
	for b.Loop() {
		if d := access.Decide(in); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkDecideSearch100: a search by a care-team doctor, then one ActionList decision per
// hit, over 100 documents of varied types, a tenth of them masked.
func BenchmarkDecideSearch100(b *testing.B) {
	cat, err := terminology.Default()
	if err != nil {
		b.Fatal(err)
	}
	types := cat.Types()
	in := inTeam(b, drHouse, "G15_10/SM26")
	docs := make([]access.Object, 100)
	for i := range docs {
		docs[i] = doc(types[i%len(types)].Code)
		docs[i].Labels.MasquePS = i%10 == 0
	}
	b.ResetTimer()
	for b.Loop() {
		in.Action = access.ActionSearch
		if d := access.Decide(in); !d.Allowed {
			b.Fatal(d.Reason)
		}
		in.Action = access.ActionList
		for _, o := range docs {
			in.Object = o
			_ = access.Decide(in)
		}
	}
}
