package password

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/errs"
)

// phc is a decoded argon2id hash. The string form follows the PHC string format
// (github.com/P-H-C/phc-string-format, the "argon2" section) as written by the reference
// implementation: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<tag>, salt and tag
// in standard base64 without padding.
type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// b64 is the PHC "B64" encoding. Strict refuses non-zero padding bits, so that each
// hash has exactly one spelling and parse(s).String() == s.
var b64 = base64.RawStdEncoding.Strict()

// maxEncoded bounds the stored string before we split it: the longest hash we accept,
// with the ceilings of phc fields, is well under 256 bytes.
const maxEncoded = 256

func (h phc) String() string {
	var b strings.Builder
	b.WriteString("$argon2id$v=19$m=")
	b.WriteString(strconv.FormatUint(uint64(h.memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(h.time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(h.threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.key))
	return b.String()
}

// malformed builds the error of a hash that cannot be read. The message names the part at
// fault and never quotes the hash.
func malformed(format string, args ...any) error {
	return errs.E(errs.Invalid, "stored password hash: "+format, args...)
}

// parse reads an argon2id PHC string and checks its parameters against the ceilings of
// this package before anything is allocated for hashing.
func parse(encoded string) (phc, error) {
	if len(encoded) > maxEncoded {
		return phc{}, malformed("longer than %d bytes", maxEncoded)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return phc{}, malformed("want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	switch parts[1] {
	case "argon2id":
	case "argon2i", "argon2d":
		return phc{}, malformed("variant %s is not supported, only argon2id", parts[1])
	default:
		return phc{}, malformed("not an argon2id hash")
	}
	// Only version 0x13 = 19 (RFC 9106 §3.1); x/crypto/argon2 implements no other, and a
	// missing version would mean 0x10 to the reference implementation.
	if parts[2] != "v=19" {
		return phc{}, malformed("version must be v=19")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return phc{}, malformed("parameters must be m=…,t=…,p=… (no keyid or data)")
	}
	var h phc
	var values [3]uint32
	for i, name := range [3]string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return phc{}, malformed("parameter %d must be %s=", i+1, name)
		}
		n, err := decimal(v)
		if err != nil {
			return phc{}, malformed("parameter %s is not a decimal number", name)
		}
		values[i] = n
	}
	if err := checkCost(values[0], values[1], values[2]); err != nil {
		return phc{}, errs.Wrap(errs.Invalid, err, "stored password hash: parameters out of bounds")
	}
	h.memory, h.time, h.threads = values[0], values[1], uint8(values[2])

	salt, err := decodeB64(parts[4])
	if err != nil {
		return phc{}, malformed("salt is not unpadded base64")
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return phc{}, malformed("salt must be %d to %d bytes", minSaltLen, maxSaltLen)
	}
	key, err := decodeB64(parts[5])
	if err != nil {
		return phc{}, malformed("hash is not unpadded base64")
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return phc{}, malformed("hash must be %d to %d bytes", minKeyLen, maxKeyLen)
	}
	h.salt, h.key = salt, key
	return h, nil
}

// decodeB64 decodes PHC "B64". The alphabet is checked first because encoding/base64
// skips carriage returns and line feeds anywhere in its input: without this, "\r" inside
// a salt would give a second spelling of the same hash (found by FuzzParsePHC).
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, base64.CorruptInputError(i)
		}
	}
	return b64.DecodeString(s)
}

// decimal reads a PHC decimal: digits only, no sign, no leading zero (PHC string format,
// "Decimal Encoding"), and fitting in 32 bits.
func decimal(s string) (uint32, error) {
	if s == "" || len(s) > 10 || s[0] == '0' && len(s) > 1 {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}
