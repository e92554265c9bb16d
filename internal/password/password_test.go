package password

import (
	"regexp"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
)

// referenceVector was produced by the reference implementation's command-line tool
// (phc-winner-argon2, release 20171227):
//
//	echo -n "correct horse battery staple" | argon2 "somesalt16bytes!" -id -t 2 -k 19456 -p 1 -l 32 -e
//
// so that a hash written by another argon2id library, and ours read by one, agree.
const (
	referencePassword = "correct horse battery staple"
	referenceVector   = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxNmJ5dGVzIQ$W2/hNMtQKxyFQI3cOFyMdL9hfH0kK/3DKouGLtcZUyw"
)

// cheap are small parameters for tests that do not care about cost.
func cheap() Params {
	p := DefaultParams()
	p.Memory, p.Time = 64, 1
	return p
}

func mustHash(tb testing.TB, plain string, p Params) string {
	tb.Helper()
	h, err := Hash(plain, p)
	if err != nil {
		tb.Fatalf("Hash: %v", err)
	}
	return h
}

var phcShape = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashAndVerifyWithDefaults(t *testing.T) {
	const plain = "a long enough passphrase"
	h := mustHash(t, plain, DefaultParams())
	if !phcShape.MatchString(h) {
		t.Fatalf("hash %q is not in the PHC form of the defaults", h)
	}
	if strings.Contains(h, plain) {
		t.Fatal("hash contains the password")
	}
	ok, rehash, err := Verify(plain, h)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = Verify(plain+"!", h)
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	if other := mustHash(t, plain, DefaultParams()); other == h {
		t.Fatal("two hashes of the same password are equal: the salt is not random")
	}
}

func TestReferenceVector(t *testing.T) {
	ok, rehash, err := Verify(referencePassword, referenceVector)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(reference) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, _, err = Verify("correct horse battery stapled", referenceVector)
	if err != nil || ok {
		t.Fatalf("Verify(other password, reference) = %v, %v", ok, err)
	}
	h, err := parse(referenceVector)
	if err != nil {
		t.Fatal(err)
	}
	if string(h.salt) != "somesalt16bytes!" || h.String() != referenceVector {
		t.Fatalf("parse/String of the reference vector: salt %q, %q", h.salt, h.String())
	}
}

func TestNeedsRehash(t *testing.T) {
	const plain = "an older strong password"
	tests := []struct {
		name   string
		change func(*Params)
	}{
		{"memory", func(p *Params) { p.Memory = 128 }},
		{"time", func(p *Params) { p.Time = 2 }},
		{"threads", func(p *Params) { p.Threads = 2 }},
		{"salt length", func(p *Params) { p.SaltLen = 32 }},
		{"key length", func(p *Params) { p.KeyLen = 64 }},
	}
	old := cheap()
	h := mustHash(t, plain, old)
	if ok, rehash, err := old.Verify(plain, h); !ok || rehash || err != nil {
		t.Fatalf("same params: %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := cheap()
			tt.change(&target)
			ok, rehash, err := target.Verify(plain, h)
			if err != nil || !ok || !rehash {
				t.Fatalf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = target.Verify("not the password", h)
			if err != nil || ok || rehash {
				t.Fatalf("wrong password: %v, %v, %v; no rehash may be asked", ok, rehash, err)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	p := cheap()
	tests := []struct {
		name  string
		plain string
		ok    bool
		msg   string
	}{
		{"empty", "", false, "at least 12 characters"},
		{"11 characters", "abcdefghijk", false, "at least 12 characters"},
		{"12 characters", "abcdefghijkl", true, ""},
		{"12 accented characters count as 12", strings.Repeat("é", 12), true, ""},
		{"11 accented characters are 22 bytes but too short", strings.Repeat("é", 11), false, "at least 12"},
		{"1024 bytes", strings.Repeat("x", 1024), true, ""},
		{"1025 bytes", strings.Repeat("x", 1025), false, "at most 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Hash(tt.plain, p)
			if tt.ok {
				if err != nil {
					t.Fatalf("Hash refused: %v", err)
				}
				if ok, _, err := p.Verify(tt.plain, h); !ok || err != nil {
					t.Fatalf("Verify = %v, %v", ok, err)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), tt.msg) {
				t.Fatalf("Hash error %v (code %s), want invalid mentioning %q", err, errs.CodeOf(err), tt.msg)
			}
			if tt.plain != "" && strings.Contains(err.Error(), tt.plain) {
				t.Fatal("error message echoes the password")
			}
		})
	}
	t.Run("short old password still verifies", func(t *testing.T) {
		old := cheap()
		old.MinLength = 6
		h := mustHash(t, "sixsix", old)
		if ok, _, err := cheap().Verify("sixsix", h); !ok || err != nil {
			t.Fatalf("Verify = %v, %v; the minimum must not apply at login", ok, err)
		}
	})
	t.Run("over-long login attempt refused before hashing", func(t *testing.T) {
		h := mustHash(t, "abcdefghijkl", p)
		ok, _, err := p.Verify(strings.Repeat("x", 1025), h)
		if ok || !errs.Is(err, errs.Invalid) {
			t.Fatalf("Verify = %v, %v; want false and an invalid error", ok, err)
		}
	})
}

func TestParamsValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Params)
	}{
		{"time 0", func(p *Params) { p.Time = 0 }},
		{"time too high", func(p *Params) { p.Time = maxTime + 1 }},
		{"threads 0", func(p *Params) { p.Threads = 0 }},
		{"threads too high", func(p *Params) { p.Threads = maxThreads + 1 }},
		{"memory over 1 GiB", func(p *Params) { p.Memory = 1<<20 + 1 }},
		{"memory under 8 KiB per lane", func(p *Params) { p.Memory, p.Threads = 31, 4 }},
		{"salt too short", func(p *Params) { p.SaltLen = 7 }},
		{"key too short", func(p *Params) { p.KeyLen = 15 }},
		{"key too long", func(p *Params) { p.KeyLen = 65 }},
		{"no minimum", func(p *Params) { p.MinLength = 0 }},
		{"maximum under minimum", func(p *Params) { p.MaxBytes = 11 }},
		{"maximum absurd", func(p *Params) { p.MaxBytes = 1 << 20 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.change(&p)
			if err := p.Validate(); !errs.Is(err, errs.Invalid) {
				t.Fatalf("Validate = %v, want invalid", err)
			}
			if _, err := Hash("abcdefghijkl", p); !errs.Is(err, errs.Internal) {
				t.Fatalf("Hash with bad params = %v, want an internal error", err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	const salt, tag = "c29tZXNhbHQxNmJ5dGVzIQ", "W2/hNMtQKxyFQI3cOFyMdL9hfH0kK/3DKouGLtcZUyw"
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + tag }
	tests := []struct {
		name, in, msg string
	}{
		{"empty", "", "want $argon2id"},
		{"bcrypt", "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "want $argon2id"},
		{"no leading dollar", with("m=19456,t=2,p=1")[1:], "want $argon2id"},
		{"argon2i", strings.Replace(with("m=19456,t=2,p=1"), "argon2id", "argon2i", 1), "variant argon2i"},
		{"other scheme", strings.Replace(with("m=19456,t=2,p=1"), "argon2id", "scrypt", 1), "not an argon2id"},
		{"version 16", strings.Replace(with("m=19456,t=2,p=1"), "v=19", "v=16", 1), "v=19"},
		{"version missing", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + tag, "want $argon2id"},
		{"parameters out of order", with("t=2,m=19456,p=1"), "must be m="},
		{"keyid parameter", with("m=19456,t=2,p=1,keyid=abc"), "no keyid"},
		{"leading zero", with("m=019456,t=2,p=1"), "not a decimal"},
		{"sign", with("m=+19456,t=2,p=1"), "not a decimal"},
		{"empty value", with("m=,t=2,p=1"), "not a decimal"},
		{"overflows 32 bits", with("m=4294967296,t=2,p=1"), "not a decimal"},
		{"memory over 1 GiB", with("m=1048577,t=2,p=1"), "out of bounds"},
		{"memory at 4 GiB", with("m=4294967295,t=2,p=1"), "out of bounds"},
		{"time 0", with("m=19456,t=0,p=1"), "out of bounds"},
		{"time absurd", with("m=19456,t=4000000000,p=1"), "out of bounds"},
		{"threads 0", with("m=19456,t=2,p=0"), "out of bounds"},
		{"threads over a byte", with("m=19456,t=2,p=256"), "out of bounds"},
		{"memory under 8 KiB per lane", with("m=15,t=2,p=2"), "out of bounds"},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + tag, "salt is not"},
		{"salt not base64", "$argon2id$v=19$m=19456,t=2,p=1$c29tZ*Nh$" + tag, "salt is not"},
		{"salt with stray bits", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxNmJ5dGVzIR$" + tag, "salt is not"},
		{"salt too short", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNh$" + tag, "salt must be"},
		{"empty hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$", "hash must be"},
		{"hash too short", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$W2/hNMtQKxyFQI3c", "hash must be"},
		{"hash not base64", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$W2/h NMtQ", "hash is not"},
		{"line break in salt", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNh\nbHQxNmJ5dGVzIQ$" + tag, "salt is not"},
		{"carriage return in hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$\r" + tag, "hash is not"},
		{"extra field", with("m=19456,t=2,p=1") + "$x", "want $argon2id"},
		{"too long", with("m=19456,t=2,p=1") + strings.Repeat("A", 300), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.in)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err)+" "+err.Error(), tt.msg) {
				t.Fatalf("parse error %v (code %s), want invalid mentioning %q", err, errs.CodeOf(err), tt.msg)
			}
			if strings.Contains(err.Error(), tag) || (len(tt.in) > 0 && strings.Contains(err.Error(), tt.in)) {
				t.Fatal("error message quotes the stored hash")
			}
			ok, rehash, verr := Verify(referencePassword, tt.in)
			if ok || rehash || !errs.Is(verr, errs.Invalid) {
				t.Fatalf("Verify on a malformed hash = %v, %v, %v", ok, rehash, verr)
			}
		})
	}
}

func FuzzParsePHC(f *testing.F) {
	for _, s := range []string{
		referenceVector,
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$W2/hNMtQKxyFQI3cOFyMdL9hfH0kK/3DKouGLtcZUyw",
		"$argon2id$v=19$m=1048576,t=16,p=64$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQxNmJ5dGVzIQ$W2/hNMtQKxyFQI3cOFyMdL9hfH0kK/3DKouGLtcZUyw",
		"$argon2id$v=19$m=0,t=0,p=0$$", "$", "", "$$$$$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parse(s)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("parse error %v has code %s, want invalid", err, errs.CodeOf(err))
			}
			return
		}
		// Anything accepted is within the bounds that make a Verify affordable…
		if h.memory > maxMemory || h.time < 1 || h.time > maxTime || h.threads < 1 || h.threads > maxThreads ||
			h.memory < 8*uint32(h.threads) || len(h.salt) < minSaltLen || len(h.key) < minKeyLen {
			t.Fatalf("accepted out-of-bounds hash %+v", h)
		}
		// …and has exactly one spelling.
		if got := h.String(); got != s {
			t.Fatalf("String() = %q, want the input %q", got, s)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	p := DefaultParams()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Hash("correct horse battery staple", p); err != nil {
			b.Fatal(err)
		}
	}
}
