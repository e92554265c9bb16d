package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/store"
)

// hookStore runs before once, just before the next write transaction: what another request
// commits between authenticateClient's read of the client and the transaction that issues.
type hookStore struct {
	oauth.Store
	mu     sync.Mutex
	before func()
}

func (s *hookStore) UpdateOAuth(ctx context.Context, fn func(oauth.Tx) error) error {
	s.mu.Lock()
	f := s.before
	s.before = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return s.Store.UpdateOAuth(ctx, fn)
}

// A code not yet exchanged when the app is suspended gives nothing, even once the app is
// referenced anew; a code exchanged after the operator narrowed the app's registration gives
// no more than the registration now allows.
func TestCodesDieWithSuspensionAndNarrowing(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.patient(1)
	c, secret := e.app("journal-sante", oauth.Confidential, "patient/DocumentReference.crs patient/AuditEvent.rs")
	e.who = holder(pid)
	conf := e.appConfig(c, secret, "patient/DocumentReference.rs", "patient/AuditEvent.rs")

	verifier := oauth2.GenerateVerifier()
	code := e.authorize(conf, verifier, "s1")
	if err := e.registry.Disable(ctx, operator, audit.ChannelCLI, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.DB.Update(ctx, func(tx *store.Tx) error { return tx.EnableOAuthClient(ctx, c.ID) }); err != nil {
		t.Fatal(err)
	}
	if tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatalf("a code from before the suspension gave a token: %+v", tok)
	}

	// Consent to documents and the trail twice, one exchanged at once (with a refresh token);
	// the operator then withdraws the trail from the app.
	conf.Scopes = append(conf.Scopes, "offline_access")
	verifier = oauth2.GenerateVerifier()
	code = e.authorize(conf, verifier, "s2")
	v3 := oauth2.GenerateVerifier()
	before, err := conf.Exchange(ctx, e.authorize(conf, v3, "s3"), oauth2.VerifierOption(v3))
	if err != nil || before.RefreshToken == "" {
		t.Fatalf("exchange before the narrowing: %+v %v", before, err)
	}
	narrowed := c
	narrowed.Scope = "patient/DocumentReference.crs offline_access"
	if err := e.DB.Update(ctx, func(tx *store.Tx) error { return tx.UpdateOAuthClient(ctx, narrowed) }); err != nil {
		t.Fatal(err)
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Extra("scope"); got != "patient/DocumentReference.rs offline_access" {
		t.Errorf("scope after the narrowing: %v", got)
	}
	// A refresh under the grant made before the narrowing: no more than the registration now.
	st, _, r := e.post("/oauth/token", c.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {before.RefreshToken}})
	if st != http.StatusOK || r["scope"] != "patient/DocumentReference.rs offline_access" {
		t.Errorf("refresh after the narrowing: %d %v", st, r)
	}
	if st, body := e.fhirGet(tok.AccessToken, "/AuditEvent?patient=Patient/"+strconv.FormatInt(pid, 10)); st != http.StatusForbidden {
		t.Errorf("the trail with a narrowed registration: %d %.200s", st, body)
	}
	grants, err := e.registry.Grants(ctx, pid)
	if err != nil || len(grants) != 2 || strings.Contains(grants[0].Scope, "AuditEvent") == strings.Contains(grants[1].Scope, "AuditEvent") {
		t.Errorf("grants: %+v %v", grants, err)
	}
}

// A suspension committed after authenticateClient read the client but before the token is
// issued is not followed by a live token: the issuing transaction reads the client again.
func TestSuspensionBetweenAuthenticationAndIssue(t *testing.T) {
	e := newEnv(t)
	_, profID := e.professional(1)
	c, secret := e.register(oauth.Client{ID: "lgc-martin", Name: "LGC cabinet Martin", Type: oauth.Confidential,
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scope: "system/DocumentReference.cruds",
		Subject: apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: profID}})
	hs := &hookStore{Store: e.DB.OAuth()}
	srv, err := oauth.New(oauth.Config{Issuer: e.srv.URL, ConsentKey: make([]byte, 32)}, oauth.Deps{Store: hs, Clock: e.Clock,
		Catalog: e.Catalog, SignedIn: e.signedIn, SignIn: func(http.ResponseWriter, *http.Request, string) {}})
	if err != nil {
		t.Fatal(err)
	}
	hts := httptest.NewServer(srv)
	t.Cleanup(hts.Close)
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: hts.URL + "/oauth/token"}
	if _, err := cc.Token(ctx); err != nil {
		t.Fatalf("before the suspension: %v", err)
	}
	hs.mu.Lock()
	hs.before = func() {
		if err := e.registry.Disable(ctx, operator, audit.ChannelCLI, c.ID); err != nil {
			t.Error(err)
		}
	}
	hs.mu.Unlock()
	tok, err := cc.Token(ctx)
	if err == nil {
		st, _ := e.fhirGet(tok.AccessToken, "/DocumentReference?patient.identifier="+url.QueryEscape("urn:oid:1.2.250.1.213.1.4.8|1"))
		t.Fatalf("a token issued after the suspension: FHIR says %d", st)
	}
	if !strings.Contains(err.Error(), "unauthorized_client") {
		t.Errorf("refusal: %v", err)
	}
	var live int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM api_tokens WHERE client_id = $1 AND revoked_at IS NULL`, c.ID).Scan(&live); err != nil || live != 0 {
		t.Errorf("live tokens of the suspended client: %d %v", live, err)
	}
}
