package audit

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/errs"
)

// A checkpoint is a record of every chain head at one moment, kept outside the database (a
// file the operator archives elsewhere, a log line). The seals bind each trace to its chain,
// but someone who once saw a head row could cut a chain back to that head and put the old row
// back; against a checkpoint, every chain must still hold the trace it held then.
//
// Format: one line per head, "chain<TAB>seq<TAB>hash", then "mac<TAB><hex>", an HMAC with the
// chain key of everything before, so that the file itself cannot be edited to match.

// CheckpointWriter writes a checkpoint.
type CheckpointWriter struct {
	w   *bufio.Writer
	mac hash.Hash
}

// NewCheckpointWriter starts a checkpoint on w.
func NewCheckpointWriter(w io.Writer, key Key) *CheckpointWriter {
	return &CheckpointWriter{w: bufio.NewWriter(w), mac: hmac.New(sha256.New, key)}
}

// Add records a head.
func (c *CheckpointWriter) Add(h Head) error {
	line := fmt.Sprintf("%s\t%d\t%s\n", h.Chain, h.LastSeq, h.LastHash)
	c.mac.Write([]byte(line))
	_, err := c.w.WriteString(line)
	return err
}

// Close writes the MAC line and flushes.
func (c *CheckpointWriter) Close() error {
	if _, err := fmt.Fprintf(c.w, "mac\t%s\n", hex.EncodeToString(c.mac.Sum(nil))); err != nil {
		return err
	}
	return c.w.Flush()
}

// ReadCheckpoint calls fn for each head of a checkpoint, then checks the MAC: a checkpoint
// that was edited, truncated or made with another key is an error (and what fn was told
// must then be disregarded).
func ReadCheckpoint(r io.Reader, key Key, fn func(Head) error) error {
	mac := hmac.New(sha256.New, key)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		f := strings.Split(text, "\t")
		if len(f) == 2 && f[0] == "mac" {
			want, err := hex.DecodeString(f[1])
			if err != nil || !hmac.Equal(want, mac.Sum(nil)) || sc.Scan() {
				return errs.E(errs.Invalid, "the checkpoint was altered, or made with another key")
			}
			return nil
		}
		if len(f) != 3 {
			return errs.E(errs.Invalid, "checkpoint line %d is malformed", line)
		}
		seq, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || seq < 0 {
			return errs.E(errs.Invalid, "checkpoint line %d: bad position", line)
		}
		mac.Write([]byte(text + "\n"))
		if err := fn(Head{Chain: f[0], LastSeq: seq, LastHash: f[2]}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errs.E(errs.Invalid, "the checkpoint is truncated (no MAC line)")
}

// RolledBack reports a chain that no longer holds the trace a checkpoint recorded.
func (v *Verifier) RolledBack(h Head, now string) {
	detail := "the chain no longer reaches the position it had at the checkpoint"
	if now != "" {
		detail = "the trace at this position is not the one the checkpoint recorded"
	}
	v.report(Missing, h.Chain, h.LastSeq, 0, "%s: the chain was cut back or rewritten since", detail)
}
