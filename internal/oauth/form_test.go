package oauth

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

const formType = "application/x-www-form-urlencoded"

func TestParseTokenRequest(t *testing.T) {
	verifier := strings.Repeat("v", 43)
	for _, tc := range []struct {
		name, auth, ctype, body string
		code                    string // "" when accepted
		method, id, secret      string
	}{
		{"basic", basic("lgc", "s3cr:et+/"), formType, "grant_type=client_credentials", "", "client_secret_basic", "lgc", "s3cr:et+/"},
		{"post", "", formType + "; charset=utf-8", "grant_type=client_credentials&client_id=lgc&client_secret=x", "", "client_secret_post", "lgc", "x"},
		{"public", "", formType, "grant_type=refresh_token&refresh_token=r&client_id=app", "", "none", "app", ""},
		{"code", "", formType, "grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Fa%2Fcb&code_verifier=" + verifier + "&client_id=app", "", "none", "app", ""},
		{"json body", "", "application/json", `{"grant_type":"client_credentials"}`, "invalid_request", "", "", ""},
		{"repeated parameter", "", formType, "grant_type=client_credentials&grant_type=password&client_id=a", "invalid_request", "", "", ""},
		{"two methods", basic("lgc", "x"), formType, "grant_type=client_credentials&client_secret=x", "invalid_request", "", "", ""},
		{"client_id differs from basic", basic("lgc", "x"), formType, "grant_type=client_credentials&client_id=other", "invalid_request", "", "", ""},
		{"no client", "", formType, "grant_type=client_credentials", "invalid_client", "", "", ""},
		{"bearer header", "Bearer abc", formType, "grant_type=client_credentials", "invalid_client", "", "", ""},
		{"bad base64", "Basic !!!", formType, "grant_type=client_credentials", "invalid_client", "", "", ""},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("lgc")), formType, "grant_type=client_credentials", "invalid_client", "", "", ""},
		{"no grant type", "", formType, "client_id=a", "invalid_request", "", "", ""},
		{"password grant", "", formType, "grant_type=password&client_id=a", "unsupported_grant_type", "", "", ""},
		{"code without verifier", "", formType, "grant_type=authorization_code&code=c&redirect_uri=x&client_id=a", "invalid_request", "", "", ""},
		{"short verifier", "", formType, "grant_type=authorization_code&code=c&redirect_uri=x&client_id=a&code_verifier=abc", "invalid_request", "", "", ""},
		{"refresh without token", "", formType, "grant_type=refresh_token&client_id=a", "invalid_request", "", "", ""},
		{"control character", "", formType, "grant_type=client_credentials&client_id=a%0Ab", "invalid_request", "", "", ""},
		{"bad escape", "", formType, "grant_type=%zz", "invalid_request", "", "", ""},
		{"too large", "", formType, "grant_type=client_credentials&client_id=a&x=" + strings.Repeat("a", maxForm), "invalid_request", "", "", ""},
	} {
		tr, e := parseTokenRequest(tc.auth, tc.ctype, []byte(tc.body))
		switch {
		case tc.code == "" && e != nil:
			t.Errorf("%s: %v", tc.name, e)
		case tc.code != "" && (e == nil || e.Code != tc.code):
			t.Errorf("%s: %v, want %s", tc.name, e, tc.code)
		case tc.code == "" && (tr.Creds.Method != tc.method || tr.Creds.ID != tc.id || tr.Creds.Secret != tc.secret):
			t.Errorf("%s: credentials %+v", tc.name, tr.Creds)
		}
	}
}

// FuzzParseTokenRequest: the token request parser never panics, and what it accepts holds
// together: one authentication method, a known grant type with its parameters, a printable
// client id, every parameter once.
func FuzzParseTokenRequest(f *testing.F) {
	f.Add(basic("lgc", "secret"), formType, []byte("grant_type=client_credentials&scope=system%2F*.rs"))
	f.Add("", formType, []byte("grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fa%2Fcb&client_id=app&code_verifier="+strings.Repeat("a", 43)))
	f.Add("", formType+"; charset=utf-8", []byte("grant_type=refresh_token&refresh_token=carnetrt_x&client_id=app&client_secret=s"))
	f.Add("Basic Og==", formType, []byte("grant_type=client_credentials"))
	f.Add("basic "+base64.StdEncoding.EncodeToString([]byte("%zz:x")), formType, []byte("a=1;b=2"))
	f.Fuzz(func(t *testing.T, auth, ctype string, body []byte) {
		tr, e := parseTokenRequest(auth, ctype, body)
		if e != nil {
			if e.Code == "" || e.Status < 400 || safeDescription(e.Description) != e.Description {
				t.Fatalf("malformed error %+v", e)
			}
			return
		}
		if len(body) > maxForm || tr.Creds.ID == "" || !printable(tr.Creds.ID) || !printable(tr.Creds.Secret) {
			t.Fatalf("accepted %q: %+v", body, tr.Creds)
		}
		if auth != "" && (tr.Creds.Method != "client_secret_basic" || tr.Form.Has("client_secret")) {
			t.Fatalf("two authentication methods: %q %+v", auth, tr.Creds)
		}
		for k, vs := range tr.Form {
			if len(vs) != 1 {
				t.Fatalf("parameter %q repeated", k)
			}
		}
		switch tr.GrantType {
		case GrantClientCredentials:
		case GrantAuthorizationCode:
			if tr.Code == "" || tr.RedirectURI == "" || !validVerifier(tr.CodeVerifier) {
				t.Fatalf("code request accepted without its parameters: %+v", tr)
			}
		case GrantRefreshToken:
			if tr.RefreshToken == "" {
				t.Fatal("refresh without a token")
			}
		default:
			t.Fatalf("grant type %q accepted", tr.GrantType)
		}
	})
}
