package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/auth"
)

// FuzzParseSecret: a cookie, a challenge or a reset link is outside input. Anything is
// refused or read without panicking, and only a canonical 32-byte base64url string is read.
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{"", strings.Repeat("A", 43), strings.Repeat("_", 43), strings.Repeat("A", 42) + "B",
		strings.Repeat("A", 44), "Zm9v", strings.Repeat("=", 43), strings.Repeat("é", 22)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hash, err := auth.ParseSecret(s)
		if err != nil {
			if hash != "" {
				t.Fatal("a hash with an error")
			}
			return
		}
		raw, derr := base64.RawURLEncoding.DecodeString(s)
		if derr != nil || len(raw) != 32 || base64.RawURLEncoding.EncodeToString(raw) != s {
			t.Fatalf("accepted a non-canonical secret %q", s)
		}
		if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
			t.Fatalf("hash %q", hash)
		}
	})
}

// FuzzParseIdentifier: what a person types in the identifier field. Anything is refused or
// read without panicking, and the canonical form reads back as itself.
func FuzzParseIdentifier(f *testing.F) {
	for _, s := range []string{"", "marie@example.fr", " Marie@Example.FR ", "279035121518989", "2 79 03 51 215 189 89",
		"2A9035121518989", "10100534436", "810100534436", "0751234567", "3750100125/9762", "@", "a@", "x@y@z", "12345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := auth.ParseIdentifier(s)
		if err != nil {
			if strings.Contains(err.Error(), s) && len(s) > 3 {
				t.Fatalf("the error echoes the input: %v", err)
			}
			return
		}
		again, err := auth.ParseIdentifier(id.Value)
		if err != nil || again != id {
			t.Fatalf("%q → %+v → %+v, %v", s, id, again, err)
		}
	})
}
