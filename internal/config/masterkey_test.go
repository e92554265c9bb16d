package config

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
)

func TestMasterKeyGenerated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // absent: MasterKey creates it
	c := mustLoad(t, []string{"--data-dir", dir}, nil, "")
	k1, err := c.MasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != MasterKeySize || bytes.Equal(k1, make([]byte, MasterKeySize)) {
		t.Fatalf("key = %x", k1)
	}
	path := filepath.Join(dir, "master.key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("key file mode = %04o, want 0600", m)
		}
		if m := di.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("data dir mode = %04o, want no access for group and others", m)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only master.key (temporary file left behind?)", len(entries))
	}

	// A second call, and a second process, find the same key.
	k2, err := c.MasterKey()
	if err != nil {
		t.Fatal(err)
	}
	k3, err := mustLoad(t, []string{"--data-dir", dir}, nil, "").MasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) || !bytes.Equal(k1, k3) {
		t.Errorf("keys differ: %x %x %x", k1, k2, k3)
	}

	// The file is in the form master_key_file takes.
	k4, err := mustLoad(t, nil, map[string]string{"CARNET_MASTER_KEY_FILE": path}, "").MasterKey()
	if err != nil || !bytes.Equal(k1, k4) {
		t.Errorf("reading master.key as CARNET_MASTER_KEY_FILE: %x, %v", k4, err)
	}
}

func TestMasterKeyFileRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no group and other permission bits to check")
	}
	good := base64.StdEncoding.EncodeToString(testKey) + "\n"
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
	}{
		{"readable by group", good, 0o640, "has mode 0640: group and others may not have any access; run chmod 600"},
		{"readable by all", good, 0o644, "has mode 0644"},
		{"too short", base64.StdEncoding.EncodeToString(testKey[:31]), 0o600, "decodes to 31 bytes, want 32"},
		{"raw bytes", string(testKey), 0o600, "not base64"},
		{"empty", "", 0o600, "decodes to 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "master.key"), tt.content, tt.mode)
			_, err := mustLoad(t, []string{"--data-dir", dir}, nil, "").MasterKey()
			if err == nil {
				t.Fatal("MasterKey succeeded")
			}
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "master.key") {
				t.Errorf("err = %v (%s), want invalid with %q and the path", err, errs.CodeOf(err), tt.want)
			}
			if data, _ := os.ReadFile(filepath.Join(dir, "master.key")); string(data) != tt.content {
				t.Error("a refused key file was rewritten")
			}
		})
	}
}

func TestMasterKeyConfigured(t *testing.T) {
	dir := t.TempDir()
	c := mustLoad(t, []string{"--data-dir", dir}, map[string]string{"CARNET_MASTER_KEY": base64.RawURLEncoding.EncodeToString(testKey)}, "")
	k, err := c.MasterKey()
	if err != nil || !bytes.Equal(k, testKey) {
		t.Fatalf("MasterKey = %x, %v", k, err)
	}
	k[0] ^= 0xFF // the caller may wipe its copy
	if again, _ := c.MasterKey(); !bytes.Equal(again, testKey) {
		t.Error("MasterKey hands out its own storage")
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
		t.Errorf("a key file was created although a key is configured: %v", err)
	}
}
