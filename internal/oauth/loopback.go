package oauth

import (
	"strconv"
	"strings"
)

// redirectMatches reports whether asked, the redirect_uri of an authorisation request, is
// registered: exactly (RFC 9700 §4.1.3), or, for a loopback redirect URI on an IP literal,
// with any port (RFC 8252 §7.3): a native app listens on whatever port the system gives it at
// the time of the request, so it cannot register one. Everything else (scheme, address, path,
// query) must be the registered URI's, character for character. "localhost" gets no such
// leeway: RFC 8252 §8.3 advises against it, as it may resolve elsewhere than the loopback.
func redirectMatches(registered, asked string) bool {
	if registered == asked {
		return true
	}
	regHost, regRest, ok := loopbackParts(registered)
	if !ok {
		return false
	}
	host, rest, ok := loopbackParts(asked)
	return ok && host == regHost && rest == regRest
}

// loopbackParts splits an http URI on 127.0.0.1 or [::1] into its host and what follows its
// authority, with a port that is a valid one or none; ok is false for any other URI.
func loopbackParts(s string) (host, rest string, ok bool) {
	after, found := strings.CutPrefix(s, "http://")
	if !found || strings.ContainsAny(s, "#\\ \t\r\n") {
		return "", "", false
	}
	end := strings.IndexAny(after, "/?")
	if end < 0 {
		end = len(after)
	}
	authority, rest := after[:end], after[end:]
	for _, h := range []string{"127.0.0.1", "[::1]"} {
		port, found := strings.CutPrefix(authority, h)
		if !found {
			continue
		}
		if port == "" {
			return h, rest, true
		}
		digits, found := strings.CutPrefix(port, ":")
		if !found || digits == "" || len(digits) > 5 || strings.Trim(digits, "0123456789") != "" {
			return "", "", false
		}
		if n, err := strconv.Atoi(digits); err != nil || n < 1 || n > 65535 {
			return "", "", false
		}
		return h, rest, true
	}
	return "", "", false
}
