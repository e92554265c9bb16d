package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/blob"
)

// writeKey writes a new random master key to a file as carnet keeps them, and returns both.
func writeKey(t *testing.T, path string) []byte {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

// A rotation end to end: blobs written under key A; B made current with A as previous;
// `carnet blobs rewrap`; A removed; everything reads back, and `carnet blobs verify` agrees.
func TestBlobsRewrapAndVerify(t *testing.T) {
	dir := t.TempDir()
	keys := t.TempDir()
	ctx := context.Background()
	keyA := writeKey(t, filepath.Join(keys, "a"))
	keyB := writeKey(t, filepath.Join(keys, "b"))
	withA := []string{"--master-key-file", filepath.Join(keys, "a")}
	withB := []string{"--master-key-file", filepath.Join(keys, "b")}
	withBA := append(withB[:2:2], "--previous-master-keys-file", filepath.Join(keys, "a"))
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append(args, "--data-dir", dir), &out, &errb)
		return code, out.String(), errb.String()
	}

	if code, _, errOut := cmd(append([]string{"blobs", "verify"}, withA...)...); code != 1 || !strings.Contains(errOut, "no blob directory") {
		t.Fatalf("verify without a store: %d %s", code, errOut)
	}

	// Blobs written the way serve writes them, under A.
	blobDir := filepath.Join(dir, "blobs")
	sA, err := blob.NewFS(blobDir, keyA)
	if err != nil {
		t.Fatal(err)
	}
	contents := map[blob.Ref][]byte{}
	for i := range 6 {
		data := bytes.Repeat([]byte{byte(i)}, i*40000+1)
		ref, err := sA.Put(ctx, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		contents[ref] = data
	}

	code, out, errOut := cmd(append([]string{"blobs", "verify"}, withA...)...)
	if code != 0 || !strings.Contains(out, "6 blobs") || !strings.Contains(out, "all intact") || !strings.Contains(out, "current master key "+blob.KeyID(keyA)) {
		t.Fatalf("verify under A: %d %s %s", code, out, errOut)
	}
	// B alone cannot open them: every one is listed, and the exit status says so.
	code, out, errOut = cmd(append([]string{"blobs", "verify"}, withB...)...)
	if code != 1 || !strings.Contains(errOut, "6 of 6 blobs are corrupted") {
		t.Fatalf("verify under B alone: %d %s %s", code, out, errOut)
	}
	for ref := range contents {
		if !strings.Contains(out, "blob corrupted: blob "+ref.ID+": its data key is wrapped under master key "+blob.KeyID(keyA)+", which is not configured") {
			t.Errorf("verify under B does not list %s:\n%s", ref.ID, out)
		}
	}
	// With A as previous, everything reads but still needs a rewrap.
	code, out, errOut = cmd(append([]string{"blobs", "verify"}, withBA...)...)
	if code != 0 || !strings.Contains(out, "previous keys: "+blob.KeyID(keyA)) || !strings.Contains(out, "6 blobs are not yet wrapped under the current master key") {
		t.Fatalf("verify under B with A: %d %s %s", code, out, errOut)
	}

	code, out, errOut = cmd(append([]string{"blobs", "rewrap"}, withBA...)...)
	if code != 0 || !strings.Contains(out, "6 blobs in ") || !strings.Contains(out, "6 rewrapped, 0 already") || !strings.Contains(out, "no longer needed") {
		t.Fatalf("rewrap: %d %s %s", code, out, errOut)
	}
	code, out, errOut = cmd(append([]string{"blobs", "rewrap"}, withBA...)...)
	if code != 0 || !strings.Contains(out, "0 rewrapped, 6 already") {
		t.Fatalf("second rewrap: %d %s %s", code, out, errOut)
	}

	// A is gone from the configuration: verify passes, and every byte reads back under B.
	code, out, errOut = cmd(append([]string{"blobs", "verify"}, withB...)...)
	if code != 0 || !strings.Contains(out, "all intact") || strings.Contains(out, "not yet wrapped") {
		t.Fatalf("verify under B after rewrap: %d %s %s", code, out, errOut)
	}
	sB, err := blob.NewFS(blobDir, keyB)
	if err != nil {
		t.Fatal(err)
	}
	for ref, data := range contents {
		rc, err := sB.Open(ctx, ref)
		if err != nil {
			t.Fatalf("open %s under B: %v", ref.ID, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %s under B: %v, %d bytes of %d", ref.ID, err, len(got), len(data))
		}
	}

	// A damaged blob is named, and fails the run.
	var victim blob.Ref
	for ref := range contents {
		victim = ref
		break
	}
	path := filepath.Join(blobDir, victim.ID[:2], victim.ID[2:4], victim.ID)
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file[len(file)-1] ^= 1
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = cmd(append([]string{"blobs", "verify"}, withB...)...)
	if code != 1 || !strings.Contains(out, "blob corrupted: blob "+victim.ID+": segment") || !strings.Contains(out, "1 bad") || !strings.Contains(errOut, "1 of 6 blobs") {
		t.Fatalf("verify with a damaged blob: %d %s %s", code, out, errOut)
	}
}

func TestBlobsUsage(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{"blobs"}, {"blobs", "shred"}} {
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage: carnet blobs rewrap|verify") {
			t.Fatalf("%v: %d %s", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"blobs", "--help"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "rewrap") {
		t.Fatalf("blobs --help: %d %s", code, errb.String())
	}
	// A key given on the command line is refused: a secret has no flag.
	if code := run(ctx, []string{"blobs", "rewrap", "--data-dir", t.TempDir(), "--previous-master-keys", hex.EncodeToString(make([]byte, 32))}, &out, &errb); code != 1 {
		t.Fatalf("previous key as a flag: %d", code)
	}
}
