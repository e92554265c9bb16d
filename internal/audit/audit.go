// Package audit is in charge of the trace log: what a trace says, how traces are chained so
// that any change is detected, and the verification that `carnet audit verify` runs.
//
// DESIGN invariant 2: every action on a patient's data, allowed or refused, writes one trace in
// the same transaction as the action. Traces form one hash chain per patient (and one for
// actions on no patient): each trace's hash is an HMAC-SHA256, keyed by a key derived from the
// master key, over the previous hash, its position and its content. Without the key, a row
// can be neither forged nor re-chained after an edit; with per-patient chains, writers on
// different patients never wait for each other, and a chain lives beside its patient when the
// database is sharded by patient.
package audit

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// ActorKind says who acted.
type ActorKind string

const (
	ActorPatient        ActorKind = "patient"
	ActorRepresentative ActorKind = "representative"
	ActorProfessional   ActorKind = "professional"
	ActorApp            ActorKind = "app"
	ActorOperator       ActorKind = "operator"
	ActorSystem         ActorKind = "system" // a background job
	// ActorPublic is someone not signed in: the rescuer who scans a patient's emergency card
	// (internal/emergency). Its ID is the network prefix the scan came from, never more.
	ActorPublic ActorKind = "public"
)

// Channel says through what the action came.
type Channel string

const (
	ChannelWeb  Channel = "web"
	ChannelFHIR Channel = "fhir"
	ChannelSMTP Channel = "smtp"
	ChannelIMAP Channel = "imap"
	ChannelCLI  Channel = "cli"
	ChannelJob  Channel = "job"
)

// Outcome of the action.
type Outcome string

const (
	Allowed Outcome = "allowed"
	Denied  Outcome = "denied"
	Failed  Outcome = "failed"
)

// Actor identifies who acted, as the trace shows it to the patient.
type Actor struct {
	Kind ActorKind
	ID   string // stable identifier: IdNat_PS, account id, app id, job name
	Name string // display name at the time of the action
	Org  string // organisation, if any
}

// System is the actor of background jobs.
func System(job string) Actor { return Actor{Kind: ActorSystem, ID: job, Name: "carnet"} }

// Entry is one trace before it is chained.
type Entry struct {
	At        time.Time
	Actor     Actor
	Channel   Channel
	Action    string // e.g. "space.open", "document.read"
	PatientID int64  // 0 when the action concerns no patient
	Object    string // what was acted on, e.g. "space", "document/<uuid>"
	Outcome   Outcome
	Reason    string // the reason code of the decision or of the failure
	Detail    string // what the actor stated, when a rule asks for it (a break-glass reason)
}

// Validate checks that an entry says enough to be useful to the patient.
func (e Entry) Validate() error {
	switch {
	case e.At.IsZero():
		return errs.E(errs.Internal, "trace without a time")
	case e.Actor.Kind == "" || e.Actor.ID == "":
		return errs.E(errs.Internal, "trace without an actor")
	case e.Channel == "":
		return errs.E(errs.Internal, "trace without a channel")
	case e.Action == "":
		return errs.E(errs.Internal, "trace without an action")
	case e.Action == AnchorAction:
		return errs.E(errs.Internal, "anchors are written by the trace log itself")
	case e.Outcome != Allowed && e.Outcome != Denied && e.Outcome != Failed:
		return errs.E(errs.Internal, "trace with outcome %q", e.Outcome)
	}
	return nil
}

// ChainOf names the chain an entry belongs to: its patient's, or, for an action on no
// patient, its actor's (so that no single chain serialises every operator's work).
func ChainOf(e Entry) string {
	if e.PatientID != 0 {
		return "p" + strconv.FormatInt(e.PatientID, 10)
	}
	return "a/" + string(e.Actor.Kind) + "/" + e.Actor.ID
}

// AnchorAction is the action of the trace that records a chain's creation.
const AnchorAction = "trace.chain_open"

// RootAnchor records the creation of the anchor chains themselves, so that an anchor chain
// cannot vanish with the chains it anchors.
const RootAnchor = "anchor/root"

// AnchorChain names the chain that records the creation of chain: for an ordinary chain, one
// of 16 anchor chains, so that creating chains (one per new patient) does not queue on one
// lock; for an anchor chain, the root.
func AnchorChain(chain string) string {
	if IsAnchorChain(chain) {
		return RootAnchor
	}
	h := sha256.Sum256([]byte(chain))
	return fmt.Sprintf("anchor/%02d", h[0]%16)
}

// IsAnchorChain reports whether chain is an anchor chain (the root included).
func IsAnchorChain(chain string) bool { return strings.HasPrefix(chain, "anchor/") }

// Anchor returns the entry that records the creation of chain.
func Anchor(chain string, at time.Time, ch Channel) Entry {
	return Entry{At: at, Actor: System("trace-log"), Channel: ch, Action: AnchorAction, Object: chain, Outcome: Allowed}
}

// Trace is a chained entry as stored.
type Trace struct {
	ID       int64 // row id, in insertion order
	Chain    string
	Seq      int64 // 1, 2, … within the chain
	Entry    Entry
	PrevHash string // hex; "" for the first of a chain
	Hash     string // hex
}

// Key is the secret that keys the chain.
type Key []byte

// DeriveKey derives the chain key from the master key, so one configured secret serves
// several purposes without one use revealing another's key (RFC 5869).
func DeriveKey(master []byte) (Key, error) {
	if len(master) < 32 {
		return nil, errs.E(errs.Invalid, "master key too short: %d bytes, want 32", len(master))
	}
	k, err := hkdf.Key(sha256.New, master, nil, "carnet trace chain v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive trace chain key: %w", err)
	}
	return k, nil
}

// Seal computes the hash of an entry at position seq of a chain after prevHash.
func (k Key) Seal(chain string, seq int64, prevHash string, e Entry) string {
	m := hmac.New(sha256.New, k)
	field := func(s string) { writeField(m, s) }
	num := func(v int64) { field(strconv.FormatInt(v, 10)) }
	// Every field is length-prefixed, so no two different entries encode alike.
	field("carnet-trace-v1")
	field(chain)
	num(seq)
	field(prevHash)
	num(e.At.UnixMicro())
	field(string(e.Actor.Kind))
	field(e.Actor.ID)
	field(e.Actor.Name)
	field(e.Actor.Org)
	field(string(e.Channel))
	field(e.Action)
	num(e.PatientID)
	field(e.Object)
	field(string(e.Outcome))
	field(e.Reason)
	field(e.Detail)
	return hex.EncodeToString(m.Sum(nil))
}

// SealHead seals a chain head, so that the head cannot be rewound to hide a truncated tail.
func (k Key) SealHead(chain string, lastSeq int64, lastHash string) string {
	m := hmac.New(sha256.New, k)
	for _, f := range []string{"carnet-trace-head-v1", chain, strconv.FormatInt(lastSeq, 10), lastHash} {
		writeField(m, f)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// writeField writes s length-prefixed, so that no two different sequences of fields encode
// alike.
func writeField(w io.Writer, s string) {
	var n [binary.MaxVarintLen64]byte
	w.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	io.WriteString(w, s)
}
