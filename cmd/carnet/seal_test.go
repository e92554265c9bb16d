package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// Rotating the master key keeps the trace log verifiable when seal_key holds the key the seals
// were made with; without it, the check sees every chain as altered.
func TestMasterKeyRotationKeepsTheSeals(t *testing.T) {
	dir := t.TempDir()
	keys := t.TempDir()
	writeKey(t, filepath.Join(keys, "a"))
	writeKey(t, filepath.Join(keys, "b"))
	db := dbArgs(t, dir)
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, db...), &out, &errb)
		return code, out.String(), errb.String()
	}
	withA := []string{"--master-key-file", filepath.Join(keys, "a")}
	if code, out, errOut := cmd(append([]string{"space", "create", "--ins", "279035121518989", "--birth-name", "DUPONT",
		"--given-names", "Marie", "--birth-date", "1979-03-05", "--sex", "F"}, withA...)...); code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	if code, out, _ := cmd(append([]string{"audit", "verify"}, withA...)...); code != 0 {
		t.Fatalf("verify under A: %d %s", code, out)
	}
	rotated := []string{"--master-key-file", filepath.Join(keys, "b"), "--previous-master-keys-file", filepath.Join(keys, "a")}
	if code, _, _ := cmd(append([]string{"audit", "verify"}, rotated...)...); code == 0 {
		t.Fatal("the seals verified under another key")
	}
	t.Setenv("CARNET_SEAL_KEY_FILE", filepath.Join(keys, "a"))
	if code, out, errOut := cmd(append([]string{"audit", "verify"}, rotated...)...); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify after the rotation, with seal_key: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := cmd(append([]string{"space", "show", "--ins", "279035121518989"}, rotated...)...); code != 0 {
		t.Fatalf("show after the rotation: %d %s %s", code, out, errOut)
	}
	if code, out, _ := cmd(append([]string{"audit", "verify"}, rotated...)...); code != 0 {
		t.Fatalf("verify after more traces: %d %s", code, out)
	}
}
