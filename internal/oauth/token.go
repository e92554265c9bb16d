package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// RefreshPrefix starts every refresh token. It differs from apitoken.Prefix, so that a
// refresh token presented as a bearer token is refused at once, and introspection and
// revocation tell the two apart without a hint.
const RefreshPrefix = "carnetrt_"

// tokenResponse is RFC 6749 §5.1's, with SMART's patient (the FHIR id of the patient the
// token acts for).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	Patient      string `json:"patient,omitempty"`
}

// token is the token endpoint (RFC 6749 §3.2).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
	if err != nil {
		writeError(w, invalidRequest("the request body could not be read"))
		return
	}
	tr, e := parseTokenRequest(r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body)
	if e != nil {
		writeError(w, e)
		return
	}
	c, e := s.authenticateClient(ctx, r, tr.Creds, true)
	if e != nil {
		writeError(w, e)
		return
	}
	var resp tokenResponse
	switch tr.GrantType {
	case GrantClientCredentials:
		resp, e = s.clientCredentials(ctx, r, c, tr)
	case GrantAuthorizationCode:
		resp, e = s.authorizationCode(ctx, r, c, tr)
	case GrantRefreshToken:
		resp, e = s.refreshToken(ctx, r, c, tr)
	}
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// issueEntry is the trace of a token request by c, before its outcome is known.
func (s *Server) issueEntry(c Client, g GrantType, patientID int64, now time.Time) audit.Entry {
	return audit.Entry{At: now, Actor: c.actor(), Channel: audit.ChannelFHIR, Action: "apitoken.issue", PatientID: patientID,
		Object: "oauth-client/" + c.ID, Detail: "grant=" + string(g)}
}

// refuse traces a refused token request in a transaction of its own and returns oe.
func (s *Server) refuse(ctx context.Context, e audit.Entry, oe *Error) *Error {
	e.Outcome, e.Reason = audit.Denied, oe.Code+": "+oe.Description
	s.trace(ctx, e)
	return oe
}

// requestedScope is what a client asks (its whole registration when it names no scope),
// checked against its registration.
func (s *Server) requestedScope(c Client, raw string, has bool) (Scope, *Error) {
	allowed, err := ParseScope(c.Scope, s.d.Catalog)
	if err != nil {
		return Scope{}, oerr(http.StatusInternalServerError, ErrServerError, "the client's registered scope does not parse")
	}
	app := !c.Allows(GrantClientCredentials)
	if !has {
		if app {
			allowed = allowed.forApp()
		}
		return allowed, nil
	}
	req, err := ParseScope(raw, s.d.Catalog)
	if err != nil {
		return Scope{}, invalidScope(errs.MessageOf(err))
	}
	if app {
		req = req.forApp()
	}
	if req, err = req.within(allowed); err != nil {
		return Scope{}, invalidScope(errs.MessageOf(err))
	}
	if req.Empty() {
		return Scope{}, invalidScope("the scope asks for no data")
	}
	return req, nil
}

// clientCredentials is RFC 6749 §4.4: the client acts for its own subject, a professional or
// an operator account. No refresh token (§4.4.3): the client asks again.
func (s *Server) clientCredentials(ctx context.Context, r *http.Request, c Client, tr tokenRequest) (tokenResponse, *Error) {
	now := s.d.Clock.Now()
	e := s.issueEntry(c, GrantClientCredentials, 0, now)
	if !c.Allows(GrantClientCredentials) {
		return tokenResponse{}, s.refuse(ctx, e, oerr(http.StatusBadRequest, ErrUnauthorizedClient, "this client may not use client_credentials"))
	}
	scope, oe := s.requestedScope(c, tr.Scope, tr.HasScope)
	if oe != nil {
		return tokenResponse{}, s.refuse(ctx, e, oe)
	}
	secret, hash, tok, err := apitoken.Mint(apitoken.Token{Subject: c.Subject, Label: c.Name, ClientID: c.ID, Scope: scope.String()},
		now, s.cfg.AccessTokenTTL)
	if err != nil {
		return tokenResponse{}, s.internal(ctx, r, err)
	}
	e.Object = "apitoken/" + tok.ID
	e.Detail += fmt.Sprintf(" subject=%s %d scope=%s", c.Subject.Kind, c.Subject.ProfessionalID+c.Subject.AccountID, tok.Scope)
	err = audit.Do(ctx, s.d.Store.UpdateOAuth, e, func(tx Tx, _ *audit.Entry) error {
		allowed, why, err := s.currentClient(ctx, tx, c)
		if err != nil {
			return err
		}
		if why == "" {
			if _, err := scope.within(allowed); err != nil {
				why = "scope beyond the client's registration"
			}
		}
		if why != "" {
			return errs.E(errs.Forbidden, "%s", why)
		}
		if err := tx.InsertAPIToken(ctx, hash, tok); err != nil {
			return err
		}
		res, err := tx.APIToken(ctx, hash)
		if err != nil {
			return err
		}
		if res.Disabled {
			return errs.E(errs.Forbidden, "the client's account is disabled")
		}
		return nil
	})
	switch {
	case audit.IsRefusal(err):
		return tokenResponse{}, oerr(http.StatusBadRequest, ErrUnauthorizedClient, "the client or its subject is unavailable")
	case err != nil:
		return tokenResponse{}, s.internal(ctx, r, err)
	}
	return tokenResponse{AccessToken: secret, TokenType: "Bearer", ExpiresIn: int64(s.cfg.AccessTokenTTL / time.Second), Scope: tok.Scope}, nil
}

// currentClient re-reads c in the transaction that issues a token, and holds it until the
// commit (Tx.OAuthClient): authenticateClient read it in a transaction of its own, and a
// suspension committed in between must not be followed by a live token ("revoked at once",
// issue 9). It returns the client's registered scope as it is now, and why it may not have a
// token ("" when it may).
func (s *Server) currentClient(ctx context.Context, tx Tx, c Client) (Scope, string, error) {
	cur, _, err := tx.OAuthClient(ctx, c.ID)
	switch {
	case errs.Is(err, errs.NotFound):
		return Scope{}, "client removed", nil
	case err != nil:
		return Scope{}, "", err
	case !cur.Enabled():
		return Scope{}, "client disabled", nil
	}
	allowed, err := ParseScope(cur.Scope, s.d.Catalog)
	if err != nil {
		return Scope{}, "", fmt.Errorf("registered scope of client %s: %w", c.ID, err)
	}
	if !cur.Allows(GrantClientCredentials) {
		allowed = allowed.forApp()
	}
	return allowed, "", nil
}

// suspended is the answer to a client suspended while its request was under way.
func suspended() *Error {
	return oerr(http.StatusBadRequest, ErrUnauthorizedClient, "this client is suspended")
}

// pkceMatches checks RFC 7636 §4.6 for S256, in constant time.
func pkceMatches(verifier, challenge string) bool {
	h := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(h[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// authorizationCode is RFC 6749 §4.1.3 with RFC 7636 §4.5. A code is spent by any attempt to
// redeem it, right or wrong; a second use of a code that was exchanged revokes what it gave
// (§4.1.2). The exchange, the grant, the tokens and the trace commit together.
func (s *Server) authorizationCode(ctx context.Context, r *http.Request, c Client, tr tokenRequest) (tokenResponse, *Error) {
	now := s.d.Clock.Now()
	if !c.Allows(GrantAuthorizationCode) {
		return tokenResponse{}, s.refuse(ctx, s.issueEntry(c, GrantAuthorizationCode, 0, now),
			oerr(http.StatusBadRequest, ErrUnauthorizedClient, "this client may not use authorization_code"))
	}
	codeHash := apitoken.Hash(tr.Code)
	var (
		resp    tokenResponse
		refusal *Error
	)
	err := s.d.Store.UpdateOAuth(ctx, func(tx Tx) error {
		resp, refusal = tokenResponse{}, nil
		e := s.issueEntry(c, GrantAuthorizationCode, 0, now)
		deny := func(oe *Error, why string) error {
			refusal = oe
			e.Outcome, e.Reason = audit.Denied, oe.Code+": "+why
			_, err := tx.AppendTrace(ctx, e)
			return err
		}
		// The client first: Disable locks it before it drops the codes, so taking them in the
		// same order cannot deadlock.
		allowed, suspendedWhy, err := s.currentClient(ctx, tx, c)
		if err != nil {
			return err
		}
		code, err := tx.OAuthCode(ctx, codeHash)
		if errs.Is(err, errs.NotFound) {
			return deny(invalidGrant("the code is unknown, expired or used"), "unknown code")
		} else if err != nil {
			return err
		}
		e.PatientID = code.PatientID
		if suspendedWhy != "" {
			return deny(suspended(), suspendedWhy)
		}
		reused := func() error {
			if code.GrantID != "" {
				if err := tx.RevokeOAuthGrant(ctx, code.GrantID, now, "authorization code reused"); err != nil {
					return err
				}
				e.Detail += " revoked=oauth-grant/" + code.GrantID
			}
			return deny(invalidGrant("the code is unknown, expired or used"), "code used twice")
		}
		if !code.UsedAt.IsZero() {
			return reused()
		}
		why := ""
		switch {
		case code.ClientID != c.ID:
			why = "code of another client"
		case !now.Before(code.ExpiresAt):
			why = "code expired"
		case tr.RedirectURI != code.RedirectURI:
			why = "redirect_uri differs from the authorisation request's"
		case !pkceMatches(tr.CodeVerifier, code.Challenge):
			why = "code_verifier does not match the code_challenge"
		}
		grantID := ""
		if why == "" {
			grantID = "g-" + randomHex(12)
		}
		first, err := tx.UseOAuthCode(ctx, codeHash, now, grantID)
		if err != nil {
			return err
		}
		if !first {
			return reused()
		}
		if why != "" {
			return deny(invalidGrant("the code is unknown, expired or used, or the request does not match it"), why)
		}
		consented, err := ParseScope(code.Scope, s.d.Catalog)
		if err != nil {
			return fmt.Errorf("stored scope of a code: %w", err)
		}
		// The operator may have narrowed the app's registration since the consent: the grant
		// is what the patient consented to within what the app may have now.
		scope := consented.intersect(allowed)
		if scope.Empty() {
			return deny(invalidGrant("the client is no longer registered for what was granted"), "grant beyond the client's registration")
		}
		g := Grant{ID: grantID, ClientID: c.ID, PatientID: code.PatientID, ByRepresentative: code.ByRepresentative,
			GrantedBy: code.GrantedBy, Scope: scope.String(), CreatedAt: now}
		if err := tx.InsertOAuthGrant(ctx, g); err != nil {
			return err
		}
		resp, err = s.issueApp(ctx, tx, c, g, scope, scope.Offline, now, &e)
		if err != nil {
			return err
		}
		e.Outcome = audit.Allowed
		_, err = tx.AppendTrace(ctx, e)
		return err
	})
	if err != nil {
		return tokenResponse{}, s.internal(ctx, r, err)
	}
	if refusal != nil {
		return tokenResponse{}, refusal
	}
	return resp, nil
}

// issueApp mints an app's access token under grant g, within scope, and a refresh token when
// the grant is offline and the client may refresh; e is the trace to complete.
func (s *Server) issueApp(ctx context.Context, tx Tx, c Client, g Grant, scope Scope, offline bool, now time.Time, e *audit.Entry) (tokenResponse, error) {
	subject := apitoken.Subject{Kind: audit.ActorApp, PatientID: g.PatientID, Scopes: scope.Actions(), Classes: scope.AppClasses(),
		ByRepresentative: g.ByRepresentative}
	secret, hash, tok, err := apitoken.Mint(apitoken.Token{Subject: subject, Label: c.Name, ClientID: c.ID, Scope: scope.String()},
		now, s.cfg.AccessTokenTTL)
	if err != nil {
		return tokenResponse{}, err
	}
	if err := tx.InsertAPIToken(ctx, hash, tok); err != nil {
		return tokenResponse{}, err
	}
	if err := tx.LinkOAuthToken(ctx, tok.ID, g.ID); err != nil {
		return tokenResponse{}, err
	}
	resp := tokenResponse{AccessToken: secret, TokenType: "Bearer", ExpiresIn: int64(s.cfg.AccessTokenTTL / time.Second),
		Scope: tok.Scope, Patient: strconv.FormatInt(g.PatientID, 10)}
	if offline && c.Allows(GrantRefreshToken) {
		rt := newSecret(RefreshPrefix)
		if err := tx.InsertOAuthRefresh(ctx, apitoken.Hash(rt), Refresh{GrantID: g.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL)}); err != nil {
			return tokenResponse{}, err
		}
		resp.RefreshToken = rt
	}
	e.Object = "apitoken/" + tok.ID
	e.Detail += " oauth-grant=" + g.ID + " scope=" + tok.Scope
	if resp.RefreshToken != "" {
		e.Detail += " refresh"
	}
	return resp, nil
}

// refreshToken is RFC 6749 §6 with rotation: each refresh token is used once and gives the
// next; a second use means it leaked, and revokes the grant and everything issued under it
// (RFC 9700 §4.14.2).
func (s *Server) refreshToken(ctx context.Context, r *http.Request, c Client, tr tokenRequest) (tokenResponse, *Error) {
	now := s.d.Clock.Now()
	if !c.Allows(GrantRefreshToken) {
		return tokenResponse{}, s.refuse(ctx, s.issueEntry(c, GrantRefreshToken, 0, now),
			oerr(http.StatusBadRequest, ErrUnauthorizedClient, "this client may not use refresh_token"))
	}
	rtHash := apitoken.Hash(tr.RefreshToken)
	var (
		resp    tokenResponse
		refusal *Error
	)
	err := s.d.Store.UpdateOAuth(ctx, func(tx Tx) error {
		resp, refusal = tokenResponse{}, nil
		e := s.issueEntry(c, GrantRefreshToken, 0, now)
		deny := func(oe *Error, why string) error {
			refusal = oe
			e.Outcome, e.Reason = audit.Denied, oe.Code+": "+why
			_, err := tx.AppendTrace(ctx, e)
			return err
		}
		gone := invalidGrant("the refresh token is unknown, expired or revoked")
		allowed, suspendedWhy, err := s.currentClient(ctx, tx, c)
		if err != nil {
			return err
		}
		rt, err := tx.OAuthRefresh(ctx, rtHash)
		if errs.Is(err, errs.NotFound) {
			return deny(gone, "unknown refresh token")
		} else if err != nil {
			return err
		}
		g, err := tx.OAuthGrant(ctx, rt.GrantID)
		if err != nil {
			return err
		}
		e.PatientID = g.PatientID
		e.Object = "oauth-grant/" + g.ID
		revoke := func(why string) error {
			if err := tx.RevokeOAuthGrant(ctx, g.ID, now, why); err != nil {
				return err
			}
			return deny(gone, why+": grant revoked")
		}
		switch {
		case g.ClientID != c.ID:
			return revoke("refresh token of another client")
		case !g.RevokedAt.IsZero():
			return deny(gone, "grant revoked")
		case !rt.UsedAt.IsZero():
			return revoke("refresh token used twice")
		case !now.Before(rt.ExpiresAt):
			return deny(gone, "refresh token expired")
		case suspendedWhy != "":
			return deny(suspended(), suspendedWhy)
		}
		granted, err := ParseScope(g.Scope, s.d.Catalog)
		if err != nil {
			return fmt.Errorf("stored scope of a grant: %w", err)
		}
		// Never beyond the app's registration as it is now (the operator may have narrowed it
		// since the grant); the grant itself keeps what the patient consented to.
		granted = granted.intersect(allowed)
		if granted.Empty() {
			return deny(gone, "grant beyond the client's registration")
		}
		scope := granted
		if tr.HasScope {
			// §6: a narrower scope for this access token; the grant keeps its own.
			req, err := ParseScope(tr.Scope, s.d.Catalog)
			if err == nil {
				req, err = req.forApp().within(granted)
			}
			if err == nil && req.Empty() {
				err = errs.E(errs.Invalid, "the scope asks for no data")
			}
			if err != nil {
				return deny(invalidScope(errs.MessageOf(err)), "scope beyond the grant")
			}
			scope = req
		}
		first, err := tx.UseOAuthRefresh(ctx, rtHash, now)
		if err != nil {
			return err
		}
		if !first {
			return revoke("refresh token used twice")
		}
		resp, err = s.issueApp(ctx, tx, c, g, scope, granted.Offline, now, &e)
		if err != nil {
			return err
		}
		e.Outcome = audit.Allowed
		_, err = tx.AppendTrace(ctx, e)
		return err
	})
	if err != nil {
		return tokenResponse{}, s.internal(ctx, r, err)
	}
	if refusal != nil {
		return tokenResponse{}, refusal
	}
	return resp, nil
}
