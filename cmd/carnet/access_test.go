package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The operator prints the matrix in force, loads an edited copy under a new version, and the
// server's matrix is then that one; a version reused with other cells is refused.
func TestAccessMatrixCommands(t *testing.T) {
	dir := t.TempDir()
	db := dbArgs(t, dir)
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, db...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, def, errOut := cmd("access", "matrix", "show")
	if code != 0 || !strings.Contains(def, "version\tdefault-v1") {
		t.Fatalf("show: %d %.300s %s", code, def, errOut)
	}
	edited := strings.Replace(def, "version\tdefault-v1", "version\tcpam-2026-11", 1)
	edited = strings.Replace(edited, "\nG15_21\tclass:11\tallow", "\nG15_21\tclass:11\tdeny", 1)
	file := filepath.Join(dir, "matrix.tsv")
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cmd("access", "matrix", "load", file); code != 0 || !strings.Contains(out, "matrix cpam-2026-11 in force") {
		t.Fatalf("load: %d %s %s", code, out, errOut)
	}
	if code, out, _ := cmd("access", "matrix", "show"); code != 0 || !strings.Contains(out, "version\tcpam-2026-11") {
		t.Fatalf("show after load: %d %.200s", code, out)
	}
	if code, out, _ := cmd("access", "matrix", "list"); code != 0 || !strings.Contains(out, "* cpam-2026-11") {
		t.Fatalf("list: %d %s", code, out)
	}
	// Same version, other cells: refused.
	if err := os.WriteFile(file, []byte(strings.Replace(edited, "\tdeny", "\tallow", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cmd("access", "matrix", "load", file); code == 0 || !strings.Contains(errOut, "new version") {
		t.Fatalf("reused version: %d %s", code, errOut)
	}
	// A broken file names its line and changes nothing.
	if err := os.WriteFile(file, []byte("version\tbroken\nG99_99\tclass:10\tallow\tx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cmd("access", "matrix", "load", file); code == 0 || !strings.Contains(errOut, "line") {
		t.Fatalf("broken: %d %s", code, errOut)
	}
	if code, out, _ := cmd("access", "matrix", "show"); code != 0 || !strings.Contains(out, "version\tcpam-2026-11") {
		t.Fatalf("show after a refused load: %d %.200s", code, out)
	}
}
