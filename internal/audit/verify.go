package audit

import (
	"crypto/hmac"
	"fmt"
)

// ProblemKind classifies what verification found.
type ProblemKind string

const (
	Altered   ProblemKind = "altered"   // a trace's content no longer matches its hash
	Missing   ProblemKind = "missing"   // traces were deleted from the chain
	Inserted  ProblemKind = "inserted"  // a trace was added that the chain does not account for
	Reordered ProblemKind = "reordered" // traces were moved relative to each other
	Broken    ProblemKind = "broken"    // a link does not match the trace before it
)

// Problem is one finding, naming the trace concerned.
type Problem struct {
	Kind    ProblemKind
	Chain   string
	Seq     int64
	TraceID int64
	Detail  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: chain %s, trace #%d (id %d): %s", p.Kind, p.Chain, p.Seq, p.TraceID, p.Detail)
}

// Head is a chain's head as stored.
type Head struct {
	Chain    string
	LastSeq  int64
	LastHash string
}

// Verifier checks chains one trace at a time, in (chain, seq) order, in constant memory.
type Verifier struct {
	key      Key
	problems []Problem
	checked  int64
	chains   int64

	chain    string
	expected int64 // next seq expected in the current chain
	prevHash string
	prevID   int64
}

// NewVerifier returns a verifier for chains sealed with key.
func NewVerifier(key Key) *Verifier { return &Verifier{key: key} }

// Add checks the next trace. Traces must come ordered by chain, then seq.
func (v *Verifier) Add(t Trace) {
	if t.Chain != v.chain {
		v.chain, v.expected, v.prevHash, v.prevID = t.Chain, 1, "", 0
		v.chains++
	}
	v.checked++
	report := func(k ProblemKind, format string, args ...any) {
		v.problems = append(v.problems, Problem{Kind: k, Chain: t.Chain, Seq: t.Seq, TraceID: t.ID, Detail: fmt.Sprintf(format, args...)})
	}
	if t.Seq > v.expected {
		report(Missing, "traces #%d to #%d of the chain are gone", v.expected, t.Seq-1)
	}
	// Within a chain, appends are serialised, so row ids grow with seq: a smaller id than the
	// trace before means rows were moved.
	if v.prevID != 0 && t.ID < v.prevID {
		report(Reordered, "written before the trace now preceding it (id %d)", v.prevID)
	}
	contentOK := hmac.Equal([]byte(v.key.Seal(t.Chain, t.Seq, t.PrevHash, t.Entry)), []byte(t.Hash))
	linkOK := t.PrevHash == v.prevHash
	switch {
	case !contentOK:
		report(Altered, "its content or position does not match its seal")
	case !linkOK && t.Seq == v.expected:
		report(Broken, "it does not follow the trace before it")
	}
	v.expected = t.Seq + 1
	v.prevHash = t.Hash
	v.prevID = t.ID
}

// EndChain compares the last trace seen of a chain with the chain's head. Call it for every
// head, in chain order, after the chain's traces (a head with no traces is checked too).
func (v *Verifier) EndChain(h Head, lastSeen int64, lastHash string) {
	switch {
	case lastSeen < h.LastSeq:
		v.problems = append(v.problems, Problem{Kind: Missing, Chain: h.Chain, Seq: lastSeen + 1,
			Detail: fmt.Sprintf("the chain ends at #%d but its head records #%d: traces at the end are gone", lastSeen, h.LastSeq)})
	case lastSeen > h.LastSeq:
		v.problems = append(v.problems, Problem{Kind: Inserted, Chain: h.Chain, Seq: h.LastSeq + 1,
			Detail: fmt.Sprintf("traces after #%d are not recorded in the chain head", h.LastSeq)})
	case lastSeen > 0 && lastHash != h.LastHash:
		v.problems = append(v.problems, Problem{Kind: Altered, Chain: h.Chain, Seq: lastSeen,
			Detail: "the last trace does not match the chain head"})
	}
}

// Orphan reports traces of a chain that has no head.
func (v *Verifier) Orphan(chain string, count int64) {
	v.problems = append(v.problems, Problem{Kind: Inserted, Chain: chain,
		Detail: fmt.Sprintf("%d traces belong to a chain that has no head", count)})
}

// Result is the outcome of a verification.
type Result struct {
	Traces   int64
	Chains   int64
	Problems []Problem
}

// OK reports an intact log.
func (r Result) OK() bool { return len(r.Problems) == 0 }

// Result returns what was found.
func (v *Verifier) Result() Result {
	return Result{Traces: v.checked, Chains: v.chains, Problems: v.problems}
}
