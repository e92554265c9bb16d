package mhdclient

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Record is one acknowledged deposit: what the server said it keeps, and what was sent.
type Record struct {
	ID     string // DocumentReference logical id
	Size   int64
	SHA1   string // hex, of the bytes sent
	SHA256 string // hex
	INS    string // the patient's matricule
}

func (r Record) line() string {
	return fmt.Sprintf("%s %d %s %s %s\n", r.ID, r.Size, r.SHA1, r.SHA256, r.INS)
}

func parseRecord(s string) (Record, error) {
	f := strings.Fields(s)
	if len(f) != 5 {
		return Record{}, fmt.Errorf("want 5 fields, got %d", len(f))
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n < 0 || len(f[2]) != 40 || len(f[3]) != 64 {
		return Record{}, errors.New("bad size or hash")
	}
	return Record{ID: f[0], Size: n, SHA1: f[2], SHA256: f[3], INS: f[4]}, nil
}

// Journal appends the acknowledged deposits to a file, one line each, and makes each line
// durable (fsync) before Append returns: what the journal holds, the server acknowledged, even
// if the load generator is killed too. Appends from many goroutines share fsyncs (group
// commit): one fsync covers every line written before it started.
type Journal struct {
	f *os.File

	mu      sync.Mutex // guards the file offset and written
	written uint64     // lines written so far

	syncMu sync.Mutex // one fsync at a time
	synced uint64     // lines known durable
	err    error      // the first fsync failure: the journal is then unusable
}

// CreateJournal opens path for appending, creating it if needed.
func CreateJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &Journal{f: f}, nil
}

// Append writes r and returns once it is on disk.
func (j *Journal) Append(r Record) error {
	j.mu.Lock()
	_, err := io.WriteString(j.f, r.line())
	if err != nil {
		j.mu.Unlock()
		return fmt.Errorf("journal: %w", err)
	}
	j.written++
	mine := j.written
	j.mu.Unlock()

	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.synced >= mine {
		return nil // a later fsync covered it
	}
	j.mu.Lock()
	upto := j.written
	j.mu.Unlock()
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("journal: %w", err)
		return j.err
	}
	j.synced = upto
	return nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// ReadJournal reads every complete line of the journal at path. A last line without its
// newline is the write of a killed load generator that never returned: it is left out.
func ReadJournal(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 {
		b = b[:i+1]
	}
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		r, err := parseRecord(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("journal %s line %d: %w", path, n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
