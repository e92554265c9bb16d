package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
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

func TestMasterKeyHex(t *testing.T) {
	for _, v := range []string{hex.EncodeToString(testKey), strings.ToUpper(hex.EncodeToString(testKey))} {
		k, err := mustLoad(t, nil, map[string]string{"CARNET_MASTER_KEY": v}, "").MasterKey()
		if err != nil || !bytes.Equal(k, testKey) {
			t.Fatalf("hex master key: %x, %v", k, err)
		}
	}
	// 64 characters that are not all hex are read as base64, and are 48 bytes.
	_, err := load(t, nil, map[string]string{"CARNET_MASTER_KEY": "g" + hex.EncodeToString(testKey)[1:]}, "")
	if err == nil || !strings.Contains(err.Error(), "decodes to 48 bytes") {
		t.Fatalf("64 characters of base64: %v", err)
	}
}

func TestPreviousMasterKeys(t *testing.T) {
	k1, k2, k3 := testKey, bytes.Repeat([]byte{0x11}, MasterKeySize), bytes.Repeat([]byte{0xEE}, MasterKeySize)
	dir := t.TempDir()
	file := filepath.Join(dir, "previous")
	writeFile(t, file, "# retired 2025-11, key id 0123456789abcdef\r\n"+
		base64.StdEncoding.EncodeToString(k1)+"\r\n\n  "+
		hex.EncodeToString(k2)+"  \n"+
		"# the one before\n"+base64.RawURLEncoding.EncodeToString(k3)+"\n", 0o600)
	// The master.key that carnet generates is a valid list of one.
	generated := filepath.Join(t.TempDir(), "data")
	old, err := mustLoad(t, []string{"--data-dir", generated}, nil, "").MasterKey()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want [][]byte
	}{
		{"file form", []string{"--previous-master-keys-file", file}, nil, "", [][]byte{k1, k2, k3}},
		{"env _FILE", nil, map[string]string{"CARNET_PREVIOUS_MASTER_KEYS_FILE": file}, "", [][]byte{k1, k2, k3}},
		{"config file _file", nil, nil, "previous_master_keys_file = " + file, [][]byte{k1, k2, k3}},
		{"env value, commas and spaces", nil, map[string]string{"CARNET_PREVIOUS_MASTER_KEYS": hex.EncodeToString(k3) + ", " + base64.URLEncoding.EncodeToString(k1) + " " + hex.EncodeToString(k2)}, "", [][]byte{k3, k1, k2}},
		{"a former master.key", []string{"--previous-master-keys-file", filepath.Join(generated, "master.key")}, nil, "", [][]byte{old}},
		{"none", nil, nil, "", [][]byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.args, tt.env, tt.file)
			got := c.PreviousMasterKeys()
			if len(got) != len(tt.want) {
				t.Fatalf("%d keys, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Errorf("key %d = %x, want %x", i, got[i], tt.want[i])
				}
			}
			if len(got) > 0 {
				got[0][0] ^= 0xFF // the caller may wipe its copy
				if again := c.PreviousMasterKeys(); !bytes.Equal(again[0], tt.want[0]) {
					t.Error("PreviousMasterKeys hands out its own storage")
				}
			}
		})
	}
}

// FuzzDecodeKeyList: previous_master_keys never panics, yields only 32-byte keys, and its
// errors never quote what they were given.
func FuzzDecodeKeyList(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString(testKey) + "\n# old\n" + hex.EncodeToString(testKey))
	f.Add(base64.RawURLEncoding.EncodeToString(testKey) + ", " + base64.StdEncoding.EncodeToString(testKey[:16]))
	f.Add("#\n\n,, \t")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := decodeKeyList(s)
		if err != nil {
			for _, field := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\t' }) {
				if len(field) >= 16 && strings.Contains(err.Error(), field) {
					t.Fatalf("error %q quotes its input", err)
				}
			}
			return
		}
		for i, k := range keys {
			if len(k) != MasterKeySize {
				t.Fatalf("key %d has %d bytes", i, len(k))
			}
		}
	})
}
