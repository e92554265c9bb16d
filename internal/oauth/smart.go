package oauth

import "net/http"

// smartConfiguration is SMART App Launch 2.x discovery (§"SMART on FHIR well-known URI"):
// what a SMART client library reads to find the endpoints and what the server supports. It is
// served at the server's root, and SmartConfiguration serves it relative to the FHIR base
// ([base]/.well-known/smart-configuration, where SMART clients look first). The capabilities are those carnet has: standalone launch of a patient app
// (no EHR launch, no OpenID Connect), public and confidential clients, refresh tokens
// (offline_access), SMART v2 permissions in scopes (permission-v2), and the patient's
// context chosen at authorisation (context-standalone-patient: the token answer's patient).
func (s *Server) smartConfiguration(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.cfg.Issuer,
		"authorization_endpoint":                s.cfg.Issuer + "/oauth/authorize",
		"token_endpoint":                        s.cfg.Issuer + "/oauth/token",
		"introspection_endpoint":                s.cfg.Issuer + "/oauth/introspect",
		"revocation_endpoint":                   s.cfg.Issuer + "/oauth/revoke",
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"grant_types_supported":                 []string{string(GrantAuthorizationCode), string(GrantClientCredentials), string(GrantRefreshToken)},
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      SupportedScopes(),
		"capabilities": []string{"launch-standalone", "client-public", "client-confidential-symmetric", "context-standalone-patient",
			"permission-offline", "permission-patient", "permission-v2", "permission-v1"},
	})
}

// SmartConfiguration is the discovery document's handler, for mounting under the FHIR base.
func (s *Server) SmartConfiguration() http.Handler { return http.HandlerFunc(s.smartConfiguration) }

// SupportedScopes lists the scopes a client may ask, as discovery documents them: SMART v2
// permissions on the resources carnet serves (a category restricts DocumentReference).
func SupportedScopes() []string {
	out := []string{"launch/patient", "offline_access",
		"patient/DocumentReference.crs", "patient/DocumentReference.rs", "patient/DocumentReference.c", "patient/AuditEvent.rs", "patient/Patient.rs", "patient/*.rs"}
	for _, r := range profileResources {
		if r == "Binary" {
			out = append(out, "patient/Binary.r")
			continue
		}
		out = append(out, "patient/"+r+".crs")
	}
	return append(out, "system/DocumentReference.cruds", "system/*.cruds")
}
