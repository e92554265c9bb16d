package audit_test

import (
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
)

var key = audit.Key([]byte("0123456789abcdef0123456789abcdef"))

// chain builds n correctly sealed traces of one chain.
func chain(name string, n int) []audit.Trace {
	var out []audit.Trace
	prev := ""
	for i := 1; i <= n; i++ {
		e := audit.Entry{At: time.Unix(int64(i), 0).UTC(), Actor: audit.System("t"), Channel: audit.ChannelJob,
			Action: "space.open", PatientID: 1, Object: "space", Outcome: audit.Allowed}
		t := audit.Trace{ID: int64(i), Chain: name, Seq: int64(i), Entry: e, PrevHash: prev}
		t.Hash = key.Seal(name, t.Seq, prev, e)
		prev = t.Hash
		out = append(out, t)
	}
	return out
}

func head(ts []audit.Trace) audit.Head {
	last := ts[len(ts)-1]
	return audit.Head{Chain: last.Chain, LastSeq: last.Seq, LastHash: last.Hash, Seal: key.SealHead(last.Chain, last.Seq, last.Hash)}
}

func run(ts []audit.Trace, h audit.Head) audit.Result {
	v := audit.NewVerifier(key)
	var lastSeq int64
	var lastHash string
	for _, t := range ts {
		v.Add(t)
		lastSeq, lastHash = t.Seq, t.Hash
	}
	v.EndChain(h, lastSeq, lastHash)
	return v.Result()
}

func TestVerifier(t *testing.T) {
	cases := []struct {
		name   string
		mutate func([]audit.Trace, *audit.Head) []audit.Trace
		want   audit.ProblemKind // "" for intact
	}{
		{"intact", func(ts []audit.Trace, _ *audit.Head) []audit.Trace { return ts }, ""},
		{"seq zero forged", func(ts []audit.Trace, _ *audit.Head) []audit.Trace {
			f := ts[0]
			f.Seq, f.ID = 0, 99
			return append([]audit.Trace{f}, ts...)
		}, audit.Inserted},
		{"duplicate position", func(ts []audit.Trace, _ *audit.Head) []audit.Trace {
			d := ts[1]
			d.ID = 98
			return append(ts[:2:2], append([]audit.Trace{d}, ts[2:]...)...)
		}, audit.Inserted},
		{"content changed", func(ts []audit.Trace, _ *audit.Head) []audit.Trace {
			ts[2].Entry.Outcome = audit.Denied
			return ts
		}, audit.Altered},
		{"middle removed", func(ts []audit.Trace, _ *audit.Head) []audit.Trace {
			return append(ts[:2:2], ts[3:]...)
		}, audit.Missing},
		{"head rewound", func(ts []audit.Trace, h *audit.Head) []audit.Trace {
			ts = ts[:3]
			h.LastSeq, h.LastHash = 3, ts[2].Hash
			return ts
		}, audit.Altered},
		{"tail removed", func(ts []audit.Trace, _ *audit.Head) []audit.Trace { return ts[:3] }, audit.Missing},
		{"head with no trace left", func(ts []audit.Trace, _ *audit.Head) []audit.Trace { return nil }, audit.Missing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := chain("p1", 5)
			h := head(ts)
			res := run(c.mutate(ts, &h), h)
			if c.want == "" {
				if !res.OK() {
					t.Fatalf("intact chain reported: %v", res.Problems)
				}
				return
			}
			for _, p := range res.Problems {
				if p.Kind == c.want {
					return
				}
			}
			t.Fatalf("want a %s problem, got %v", c.want, res.Problems)
		})
	}
}

func TestChainNames(t *testing.T) {
	p := audit.Entry{PatientID: 42, Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op"}}
	if got := audit.ChainOf(p); got != "p42" {
		t.Fatalf("patient chain %q", got)
	}
	p.PatientID = 0
	if got := audit.ChainOf(p); got != "a/operator/op" {
		t.Fatalf("actor chain %q", got)
	}
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		a := audit.AnchorChain("p" + string(rune('a'+i%26)) + time.Unix(int64(i), 0).String())
		if !audit.IsAnchorChain(a) {
			t.Fatalf("anchor %q", a)
		}
		seen[a] = true
	}
	if len(seen) != 16 {
		t.Fatalf("anchors spread over %d chains, want 16", len(seen))
	}
}

func TestDeriveKey(t *testing.T) {
	if _, err := audit.DeriveKey([]byte("short")); err == nil {
		t.Fatal("a short master key was accepted")
	}
	a, _ := audit.DeriveKey([]byte("0123456789abcdef0123456789abcdef"))
	b, _ := audit.DeriveKey([]byte("0123456789abcdef0123456789abcdeX"))
	if len(a) != 32 || string(a) == string(b) {
		t.Fatal("derived keys do not depend on the master key")
	}
}
