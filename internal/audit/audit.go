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
	"hash"
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
	return k.Sealer().Seal(chain, seq, prevHash, e)
}

// SealHead seals a chain head, so that the head cannot be rewound to hide a truncated tail.
func (k Key) SealHead(chain string, lastSeq int64, lastHash string) string {
	return k.Sealer().SealHead(chain, lastSeq, lastHash)
}

// Sealer computes seals under one key, many in a row: its HMAC is keyed once and reset
// between seals, and the fields are encoded into a buffer it keeps, where Key.Seal keyed a
// new HMAC (two SHA-256 blocks) and allocated for every field. A batch of traces or a check
// of the whole log uses one. Not safe for concurrent use.
type Sealer struct {
	mac hash.Hash
	buf []byte
}

// Sealer returns a sealer for k.
func (k Key) Sealer() *Sealer {
	return &Sealer{mac: hmac.New(sha256.New, k), buf: make([]byte, 0, 256)}
}

// Seal is Key.Seal.
func (s *Sealer) Seal(chain string, seq int64, prevHash string, e Entry) string {
	// Every field is length-prefixed, so no two different entries encode alike.
	b := appendField(s.buf[:0], "carnet-trace-v1")
	b = appendField(b, chain)
	b = appendNum(b, seq)
	b = appendField(b, prevHash)
	b = appendNum(b, e.At.UnixMicro())
	b = appendField(b, string(e.Actor.Kind))
	b = appendField(b, e.Actor.ID)
	b = appendField(b, e.Actor.Name)
	b = appendField(b, e.Actor.Org)
	b = appendField(b, string(e.Channel))
	b = appendField(b, e.Action)
	b = appendNum(b, e.PatientID)
	b = appendField(b, e.Object)
	b = appendField(b, string(e.Outcome))
	b = appendField(b, e.Reason)
	b = appendField(b, e.Detail)
	return s.sum(b)
}

// SealHead is Key.SealHead.
func (s *Sealer) SealHead(chain string, lastSeq int64, lastHash string) string {
	b := appendField(s.buf[:0], "carnet-trace-head-v1")
	b = appendField(b, chain)
	b = appendNum(b, lastSeq)
	b = appendField(b, lastHash)
	return s.sum(b)
}

func (s *Sealer) sum(b []byte) string {
	s.buf = b[:0] // keep what it grew to
	s.mac.Reset()
	s.mac.Write(b)
	var sum [sha256.Size]byte
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], s.mac.Sum(sum[:0]))
	return string(out[:])
}

// appendNum appends v's decimal digits as a field.
func appendNum(b []byte, v int64) []byte {
	var d [20]byte
	return appendField(b, string(strconv.AppendInt(d[:0], v, 10)))
}

// appendField appends s length-prefixed, so that no two different sequences of fields encode
// alike.
func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
