package web

import "net/http"

// contentSecurityPolicy allows only this site's own scripts, styles, fonts and images (and the
// DSFR's data: images); no inline script, no framing, forms posted here only.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
	"manifest-src 'self'"

// secure sets the headers every answer carries. Pages are never cached (they show health data);
// static files are, by the static handler.
func secure(h http.Header, tls, static bool) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// URLs name documents and patients' pages: they must not leave in a Referer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if tls {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if !static {
		h.Set("Cache-Control", "no-store")
	}
}
