package notify

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
)

func MustOutbox(tb testing.TB, dir string, clk clock.Clock) *Outbox {
	tb.Helper()
	o, err := NewOutbox(Config{OutboxDir: dir, From: testFrom}, clk)
	if err != nil {
		tb.Fatalf("NewOutbox: %v", err)
	}
	return o
}

// dirEntries lists every name in dir, temporary files included, so that a leftover shows.
func dirEntries(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatalf("ReadDir: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestOutboxWritesReadableFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox") // missing: NewOutbox creates it
	clk := clock.NewFake(testDate)
	o := MustOutbox(t, dir, clk)

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("outbox folder not created: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("outbox folder mode = %o, want 700", perm)
	}

	m := testMessage()
	m.Date = time.Time{} // stamped by the clock
	if err := o.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	names := dirEntries(t, dir)
	if want := []string{"20260314T093000Z-notice-42.eml"}; !slices.Equal(names, want) {
		t.Fatalf("outbox holds %q, want %q", names, want)
	}
	path := filepath.Join(dir, names[0])
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != testMessageBytes {
		t.Errorf("file holds\n%q\nwant\n%q", raw, testMessageBytes)
	}
	p := MustParse(t, raw)
	if p.subject != "Du nouveau dans votre espace santé" {
		t.Errorf("subject read back as %q", p.subject)
	}
	wantBody := "Bonjour,\r\n\r\nUn nouveau document est disponible dans votre espace santé.\r\nConnectez-vous pour le consulter.\r\n"
	if p.body != wantBody {
		t.Errorf("body read back as %q, want %q", p.body, wantBody)
	}
	if ct := p.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v (%v), want 0600: it holds a patient's address", info.Mode().Perm(), err)
	}
}

// TestOutboxSameIDOverwrites: a retried job sends the same notice again; the outbox must then
// hold one file, with the last content.
func TestOutboxSameIDOverwrites(t *testing.T) {
	t.Run("same Date", func(t *testing.T) {
		dir := t.TempDir()
		clk := clock.NewFake(testDate)
		o := MustOutbox(t, dir, clk)
		m := testMessage()
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		clk.Advance(26 * time.Hour) // the retry comes the next day; m.Date is the job's
		m.Text = "Deuxième essai."
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		names := dirEntries(t, dir)
		if len(names) != 1 {
			t.Fatalf("outbox holds %q, want one file", names)
		}
		raw, err := os.ReadFile(filepath.Join(dir, names[0]))
		if err != nil {
			t.Fatal(err)
		}
		if p := MustParse(t, raw); p.body != "Deuxième essai.\r\n" {
			t.Errorf("file body = %q, want the second send's", p.body)
		}
	})
	t.Run("Date from the clock", func(t *testing.T) {
		dir := t.TempDir()
		clk := clock.NewFake(testDate.Add(300 * time.Millisecond))
		o := MustOutbox(t, dir, clk)
		m := testMessage()
		m.Date = time.Time{}
		for range 2 {
			if err := o.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			clk.Advance(500 * time.Millisecond) // within the same second
		}
		if names := dirEntries(t, dir); len(names) != 1 {
			t.Fatalf("outbox holds %q, want one file", names)
		}
	})
	t.Run("Date from the clock, retried the next day", func(t *testing.T) {
		dir := t.TempDir()
		clk := clock.NewFake(testDate)
		o := MustOutbox(t, dir, clk)
		m := testMessage()
		m.Date = time.Time{}
		for range 3 {
			if err := o.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			clk.Advance(24 * time.Hour)
		}
		names := dirEntries(t, dir)
		if want := []string{"20260316T093000Z-notice-42.eml"}; !slices.Equal(names, want) {
			t.Fatalf("outbox holds %q, want only the newest %q", names, want)
		}
	})
	t.Run("an older retry does not replace a newer copy", func(t *testing.T) {
		dir := t.TempDir()
		o := MustOutbox(t, dir, clock.NewFake(testDate))
		m := testMessage()
		m.Date = testDate.Add(time.Hour)
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		m.Date = testDate
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		names := dirEntries(t, dir)
		if want := []string{"20260314T103000Z-notice-42.eml"}; !slices.Equal(names, want) {
			t.Fatalf("outbox holds %q, want %q", names, want)
		}
	})
	t.Run("different IDs", func(t *testing.T) {
		dir := t.TempDir()
		o := MustOutbox(t, dir, clock.NewFake(testDate))
		// "42" is a suffix of "notice-42": each must keep its own file.
		for _, id := range []string{"a", "b", "42", "notice-42"} {
			m := testMessage()
			m.ID = id
			if err := o.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		if names := dirEntries(t, dir); len(names) != 4 {
			t.Fatalf("outbox holds %q, want four files", names)
		}
	})
}

func TestOutboxRefusesWithoutWriting(t *testing.T) {
	dir := t.TempDir()
	o := MustOutbox(t, dir, clock.NewFake(testDate))
	m := testMessage()
	m.Subject = "Bonjour\r\nBcc: spy@evil.test"
	if err := o.Send(context.Background(), m); !errs.Is(err, errs.Invalid) {
		t.Errorf("Send error = %v, want code invalid", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Send(ctx, testMessage()); !errs.Is(err, errs.Unavailable) {
		t.Errorf("Send with cancelled context: error = %v, want code unavailable", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("outbox holds %q after refusals, want nothing", names)
	}
}

func TestOutboxUnwritableFolderIsTemporary(t *testing.T) {
	dir := t.TempDir()
	o := MustOutbox(t, dir, clock.NewFake(testDate))
	// Removing the folder under the Outbox stands for a disk or mount problem: the job
	// should retry, not drop the notice.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := o.Send(context.Background(), testMessage()); !errs.Is(err, errs.Unavailable) {
		t.Errorf("Send error = %v, want code unavailable", err)
	}
}

func TestNewSelectsOutboxByDefault(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{OutboxDir: dir}, clock.NewFake(testDate))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, ok := s.(*Outbox); !ok {
		t.Fatalf("New gave %T, want *Outbox", s)
	}
	if err := s.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "20260314T093000Z-notice-42.eml"))
	if err != nil {
		t.Fatal(err)
	}
	from, err := MustParse(t, raw).header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "noreply@carnet.invalid" {
		t.Errorf("From = %v (%v), want the default sender", from, err)
	}
}

// TestOutboxConcurrentRetries: attempts of one notice racing with different dates must leave
// exactly one file, never none.
func TestOutboxConcurrentRetries(t *testing.T) {
	dir := t.TempDir()
	o := MustOutbox(t, dir, clock.NewFake(testDate))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			m := testMessage()
			m.Date = testDate.Add(time.Duration(i) * time.Minute)
			if err := o.Send(context.Background(), m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	names := dirEntries(t, dir)
	if want := []string{"20260314T093700Z-notice-42.eml"}; !slices.Equal(names, want) {
		t.Fatalf("outbox holds %q, want %q", names, want)
	}
}
