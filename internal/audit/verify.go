package audit

import (
	"crypto/hmac"
	"fmt"
)

// ProblemKind classifies what verification found.
type ProblemKind string

const (
	Altered   ProblemKind = "altered"   // a trace's content no longer matches its seal
	Missing   ProblemKind = "missing"   // traces, or a whole chain, were deleted
	Inserted  ProblemKind = "inserted"  // a trace or chain was added that the log does not account for
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
	Seal     string
}

// Verifier checks chains one trace at a time, in (chain, seq) order, in constant memory.
type Verifier struct {
	sealer   *Sealer // the key's: one goroutine uses a verifier
	problems []Problem
	checked  int64
	chains   int64

	chain    string
	expected int64 // next seq expected in the current chain
	prevHash string
	prevID   int64
}

// NewVerifier returns a verifier for chains sealed with key.
func NewVerifier(key Key) *Verifier { return &Verifier{sealer: key.Sealer()} }

func (v *Verifier) report(k ProblemKind, chain string, seq, id int64, format string, args ...any) {
	v.problems = append(v.problems, Problem{Kind: k, Chain: chain, Seq: seq, TraceID: id, Detail: fmt.Sprintf(format, args...)})
}

// Add checks the next trace. Traces must come ordered by chain, then seq.
func (v *Verifier) Add(t Trace) {
	if t.Chain != v.chain {
		v.chain, v.expected, v.prevHash, v.prevID = t.Chain, 1, "", 0
		v.chains++
	}
	v.checked++
	report := func(k ProblemKind, format string, args ...any) { v.report(k, t.Chain, t.Seq, t.ID, format, args...) }
	switch {
	case t.Seq < v.expected:
		report(Inserted, "a trace at position #%d where #%d was expected", t.Seq, v.expected)
	case t.Seq > v.expected:
		report(Missing, "traces #%d to #%d of the chain are gone", v.expected, t.Seq-1)
	}
	// Within a chain, appends are serialised, so row ids grow with seq: a smaller id than the
	// trace before means rows were moved. Ids are not sealed, so this names the kind of
	// tampering; the seals are what detect it.
	if v.prevID != 0 && t.ID < v.prevID {
		report(Reordered, "written before the trace now preceding it (id %d)", v.prevID)
	}
	switch {
	case !hmac.Equal([]byte(v.sealer.Seal(t.Chain, t.Seq, t.PrevHash, t.Entry)), []byte(t.Hash)):
		report(Altered, "its content or position does not match its seal")
	case t.PrevHash != v.prevHash && t.Seq == v.expected:
		report(Broken, "it does not follow the trace before it")
	}
	if t.Seq >= v.expected {
		v.expected = t.Seq + 1
	}
	v.prevHash = t.Hash
	v.prevID = t.ID
}

// EndChain compares the last trace seen of a chain with the chain's head, whose seal it
// checks. Call it after the chain's traces (and for a head left with no trace at all).
func (v *Verifier) EndChain(h Head, lastSeen int64, lastHash string) {
	switch {
	case !hmac.Equal([]byte(v.sealer.SealHead(h.Chain, h.LastSeq, h.LastHash)), []byte(h.Seal)):
		v.report(Altered, h.Chain, h.LastSeq, 0, "the chain head was changed (its seal does not match): the end of the chain may have been cut")
	case lastSeen < h.LastSeq:
		v.report(Missing, h.Chain, lastSeen+1, 0, "the chain ends at #%d but its head records #%d: traces at the end are gone", lastSeen, h.LastSeq)
	case lastSeen > h.LastSeq:
		v.report(Inserted, h.Chain, h.LastSeq+1, 0, "traces after #%d are not recorded in the chain head", h.LastSeq)
	case lastSeen > 0 && lastHash != h.LastHash:
		v.report(Altered, h.Chain, lastSeen, 0, "the last trace does not match the chain head")
	}
}

// Orphan reports traces of a chain that has no head.
func (v *Verifier) Orphan(chain string, count int64) {
	v.report(Inserted, chain, 0, 0, "%d traces belong to a chain that has no head", count)
}

// Unanchored reports a chain whose creation no anchor chain records.
func (v *Verifier) Unanchored(chain string) {
	v.report(Inserted, chain, 0, 0, "the chain's creation is not recorded in %s", AnchorChain(chain))
}

// Vanished reports a chain whose creation is recorded but which is gone, head and all.
func (v *Verifier) Vanished(chain string, anchorID int64) {
	v.report(Missing, chain, 0, anchorID, "the whole chain is gone: its creation is recorded (trace id %d of %s)", anchorID, AnchorChain(chain))
}

// Unreadable reports a row that could not even be read (a column of the wrong type).
func (v *Verifier) Unreadable(err error) {
	v.report(Altered, "?", 0, 0, "a row of the log cannot be read: %v", err)
}

// Untraced reports a patient who has no chain: every creation writes one.
func (v *Verifier) Untraced(patientID int64) {
	v.report(Missing, ChainOf(Entry{PatientID: patientID}), 0, 0, "patient %d exists but their whole chain is gone", patientID)
}

// RootMissing reports a log whose root anchor is gone while other chains remain.
func (v *Verifier) RootMissing() {
	v.report(Missing, RootAnchor, 0, 0, "the root anchor chain is gone")
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
