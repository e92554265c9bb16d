package oauth

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Error is an OAuth error response (RFC 6749 §5.2, RFC 7009 §2.2.1): the error code, a
// description that is safe to show (ASCII, no quote or backslash, §5.2), and the status.
type Error struct {
	Status      int
	Code        string
	Description string
	// RetryAfter, when set, is sent as Retry-After (rate limiting).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// The error codes of RFC 6749 §5.2 and §4.1.2.1.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrInvalidScope            = "invalid_scope"
	ErrAccessDenied            = "access_denied"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrServerError             = "server_error"
	ErrTemporarilyUnavailable  = "temporarily_unavailable"
)

func oerr(status int, code, desc string) *Error {
	return &Error{Status: status, Code: code, Description: safeDescription(desc)}
}

func invalidRequest(desc string) *Error { return oerr(http.StatusBadRequest, ErrInvalidRequest, desc) }
func invalidGrant(desc string) *Error   { return oerr(http.StatusBadRequest, ErrInvalidGrant, desc) }
func invalidScope(desc string) *Error   { return oerr(http.StatusBadRequest, ErrInvalidScope, desc) }

// clientAuthFailed is the one answer to every failed client authentication, whatever failed.
func clientAuthFailed() *Error {
	return oerr(http.StatusUnauthorized, ErrInvalidClient, "client authentication failed")
}

// safeDescription keeps the characters RFC 6749 §5.2 allows in error_description.
func safeDescription(s string) string {
	b := []byte(s)
	out := b[:0]
	for _, c := range b {
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			out = append(out, c)
		}
	}
	return string(out)
}

// writeJSON writes a token-endpoint style answer: JSON, never cached (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(b)
}

// writeError writes e; invalid_client carries the challenge of the authentication scheme
// (RFC 6749 §5.2: 401 with WWW-Authenticate).
func writeError(w http.ResponseWriter, e *Error) {
	if e.Code == ErrInvalidClient {
		w.Header().Set("WWW-Authenticate", `Basic realm="carnet"`)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	writeJSON(w, e.Status, body)
}

// maxForm bounds a form request's body: the longest legitimate one (a refresh with a scope)
// is well under 4 KiB.
const maxForm = 16 << 10

// credentials are the client's, as the request presents them (RFC 6749 §2.3.1).
type credentials struct {
	ID     string
	Secret string
	Method string // client_secret_basic, client_secret_post, or none (a public client)
}

// formRequest is a parsed POST to the token, introspection or revocation endpoint.
type formRequest struct {
	Form  url.Values // one value a parameter
	Creds credentials
}

// parseForm reads a form request to a back-channel endpoint from its Authorization header,
// Content-Type and body: application/x-www-form-urlencoded (RFC 6749 §3.2), each parameter
// at most once, and the client's credentials by exactly one method (§2.3). It is pure, for
// the fuzz test.
func parseForm(authorization, contentType string, body []byte) (formRequest, *Error) {
	var fr formRequest
	if len(body) > maxForm {
		return fr, invalidRequest("the request body is too large")
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return fr, invalidRequest("the request is application/x-www-form-urlencoded")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return fr, invalidRequest("the form does not parse")
	}
	for k, vs := range form {
		if len(vs) > 1 {
			return fr, invalidRequest("parameter " + clip(k) + " is repeated")
		}
		if !printable(vs[0]) {
			return fr, invalidRequest("parameter " + clip(k) + " holds a control character")
		}
	}
	fr.Form = form
	if authorization != "" {
		scheme, rest, _ := strings.Cut(authorization, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return fr, clientAuthFailed()
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return fr, clientAuthFailed()
		}
		id, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return fr, clientAuthFailed()
		}
		// §2.3.1: both are form-urlencoded before they are joined.
		if id, err = url.QueryUnescape(id); err != nil {
			return fr, clientAuthFailed()
		}
		if secret, err = url.QueryUnescape(secret); err != nil {
			return fr, clientAuthFailed()
		}
		if form.Has("client_secret") {
			return fr, invalidRequest("one client authentication method at a time")
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return fr, invalidRequest("client_id differs from the authenticated client")
		}
		fr.Creds = credentials{ID: id, Secret: secret, Method: "client_secret_basic"}
	} else {
		fr.Creds = credentials{ID: form.Get("client_id"), Secret: form.Get("client_secret"), Method: "none"}
		if form.Has("client_secret") {
			fr.Creds.Method = "client_secret_post"
		}
	}
	if fr.Creds.ID == "" || !printable(fr.Creds.ID) || !printable(fr.Creds.Secret) {
		return fr, clientAuthFailed()
	}
	return fr, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// tokenRequest is a parsed token request (RFC 6749 §4.1.3, §4.4.2, §6).
type tokenRequest struct {
	formRequest
	GrantType    GrantType
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
	HasScope     bool
}

// parseTokenRequest reads a token request; every error is the RFC 6749 §5.2 answer.
func parseTokenRequest(authorization, contentType string, body []byte) (tokenRequest, *Error) {
	fr, e := parseForm(authorization, contentType, body)
	if e != nil {
		return tokenRequest{}, e
	}
	f := fr.Form
	tr := tokenRequest{formRequest: fr, GrantType: GrantType(f.Get("grant_type")), Code: f.Get("code"),
		RedirectURI: f.Get("redirect_uri"), CodeVerifier: f.Get("code_verifier"), RefreshToken: f.Get("refresh_token"),
		Scope: f.Get("scope"), HasScope: f.Has("scope")}
	switch tr.GrantType {
	case "":
		return tr, invalidRequest("grant_type is required")
	case GrantClientCredentials:
	case GrantAuthorizationCode:
		if tr.Code == "" || tr.RedirectURI == "" || tr.CodeVerifier == "" {
			return tr, invalidRequest("code, redirect_uri and code_verifier are required")
		}
		if !validVerifier(tr.CodeVerifier) {
			return tr, invalidRequest("code_verifier is 43 to 128 unreserved characters (RFC 7636 section 4.1)")
		}
	case GrantRefreshToken:
		if tr.RefreshToken == "" {
			return tr, invalidRequest("refresh_token is required")
		}
	default:
		return tr, oerr(http.StatusBadRequest, ErrUnsupportedGrantType, "grant types: client_credentials, authorization_code, refresh_token")
	}
	return tr, nil
}

// validVerifier checks RFC 7636 §4.1: code-verifier = 43*128unreserved.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// validChallenge checks an S256 code_challenge: BASE64URL(SHA-256), 43 characters.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}
