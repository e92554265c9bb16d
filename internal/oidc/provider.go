package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// relyingParty is carnet as the client of one provider. The provider's discovery document
// is read on first use and kept; a failed read is retried after discoveryRetry.
type relyingParty struct {
	cfg Provider
	svc *Service

	mu       sync.Mutex
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	oauth    *oauth2.Config
	userInfo bool
	failedAt time.Time
	lastErr  error
}

const discoveryRetry = 30 * time.Second

func newRelyingParty(p Provider, s *Service) *relyingParty { return &relyingParty{cfg: p, svc: s} }

// ctx carries the HTTP client to go-oidc and oauth2, with the call's deadline.
func (rp *relyingParty) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(gooidc.ClientContext(parent, rp.svc.client), rp.svc.cfg.HTTPTimeout)
}

// ready reads the discovery document if it has not been read yet.
func (rp *relyingParty) ready(ctx context.Context) error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.provider != nil {
		return nil
	}
	now := rp.svc.clock.Now()
	if rp.lastErr != nil && now.Sub(rp.failedAt) < discoveryRetry {
		return rp.lastErr
	}
	c, cancel := rp.ctx(ctx)
	defer cancel()
	// go-oidc checks that the document's issuer is the configured one (Discovery §4.3), and
	// keeps the HTTP client (not the deadline) for the keys it fetches later.
	p, err := gooidc.NewProvider(c, rp.cfg.Issuer)
	if err != nil {
		rp.failedAt, rp.lastErr = now, fmt.Errorf("discover %s: %w", rp.cfg.Issuer, err)
		return rp.lastErr
	}
	var meta struct {
		UserInfo string `json:"userinfo_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		rp.failedAt, rp.lastErr = now, fmt.Errorf("discover %s: %w", rp.cfg.Issuer, err)
		return rp.lastErr
	}
	rp.provider, rp.lastErr = p, nil
	rp.userInfo = meta.UserInfo != "" && !rp.cfg.SkipUserInfo
	rp.verifier = p.Verifier(&gooidc.Config{ClientID: rp.cfg.ClientID, Now: rp.svc.clock.Now})
	rp.oauth = &oauth2.Config{ClientID: rp.cfg.ClientID, ClientSecret: rp.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: rp.cfg.RedirectURL, Scopes: rp.cfg.Scopes}
	return nil
}

// authURL is where the browser goes to sign in: an authorization request of the code flow
// (Core §3.1.2.1) with PKCE S256, the state, the nonce and, when required, acr_values.
func (rp *relyingParty) authURL(f flow) string {
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier), gooidc.Nonce(f.Nonce)}
	if rp.cfg.ACR != "" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", rp.cfg.ACR))
	}
	return rp.oauth.AuthCodeURL(f.State, opts...)
}

// refusal is a failed check of the provider's answer: reason is traced, code tells the
// person (messages in http.go).
type refusal struct {
	reason string
	code   string
	cause  error
}

func (r *refusal) Error() string {
	if r.cause != nil {
		return r.reason + ": " + r.cause.Error()
	}
	return r.reason
}

func (r *refusal) Unwrap() error { return r.cause }

func refuse(code, reason string, cause error) *refusal {
	return &refusal{reason: reason, code: code, cause: cause}
}

// assertion is what the provider vouched for, once checked.
type assertion struct {
	Subject string
	ACR     string
	Claims  map[string]any // the ID token's over the UserInfo answer's
}

// redeem exchanges the code for tokens (with the PKCE verifier), checks the ID token, and
// reads the UserInfo answer.
func (rp *relyingParty) redeem(ctx context.Context, f flow, code string) (assertion, error) {
	c, cancel := rp.ctx(ctx)
	defer cancel()
	tok, err := rp.oauth.Exchange(c, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			// The provider refused the code: used already, expired, or not ours.
			return assertion{}, refuse(codeToken, "code_refused", err)
		}
		return assertion{}, refuse(codeUnavailable, "token_endpoint", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return assertion{}, refuse(codeToken, "no_id_token", nil)
	}
	idt, err := rp.verifier.Verify(c, raw)
	if err != nil {
		var exp *gooidc.TokenExpiredError
		if errors.As(err, &exp) {
			return assertion{}, refuse(codeToken, "id_token_expired", err)
		}
		return assertion{}, refuse(codeToken, "id_token_invalid", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return assertion{}, refuse(codeToken, "nonce", nil)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return assertion{}, refuse(codeToken, "at_hash", err)
		}
	}
	if idt.Subject == "" || len(idt.Subject) > 255 {
		return assertion{}, refuse(codeToken, "subject", nil)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return assertion{}, refuse(codeToken, "id_token_claims", err)
	}
	a := assertion{Subject: idt.Subject, Claims: claims}
	a.ACR, _ = claims["acr"].(string)
	if !rp.acrEnough(a.ACR) {
		return a, refuse(codeACR, "acr", fmt.Errorf("acr %q below %q", a.ACR, rp.cfg.ACR))
	}
	if rp.userInfo {
		ui, err := rp.provider.UserInfo(c, oauth2.StaticTokenSource(tok))
		if err != nil {
			return a, refuse(codeUnavailable, "userinfo", err)
		}
		if ui.Subject != idt.Subject {
			return a, refuse(codeToken, "userinfo_subject", nil) // Core §5.3.2
		}
		uic := map[string]any{}
		if err := ui.Claims(&uic); err != nil {
			return a, refuse(codeToken, "userinfo_claims", err)
		}
		for k, v := range claims {
			uic[k] = v
		}
		a.Claims = uic
	}
	return a, nil
}

// acrEnough reports whether an ID token's acr reaches the required level. Without a
// requirement anything goes; with one, a missing or unknown level is refused.
func (rp *relyingParty) acrEnough(acr string) bool {
	if rp.cfg.ACR == "" {
		return true
	}
	got := slices.Index(rp.cfg.ACRLevels, strings.TrimSpace(acr))
	return got >= 0 && got >= slices.Index(rp.cfg.ACRLevels, rp.cfg.ACR)
}
