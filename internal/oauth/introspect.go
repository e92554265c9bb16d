package oauth

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// introspection is RFC 7662 §2.2's answer.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Iss       string `json:"iss,omitempty"`
	// Patient is SMART's: the FHIR id of the patient an app's token acts for.
	Patient string `json:"patient,omitempty"`
	// ActorKind says what sub is: professional, operator, patient or app.
	ActorKind string `json:"carnet_actor_kind,omitempty"`
}

// introspect is RFC 7662. Only a confidential client may ask, and it learns only of its own
// tokens, unless it is a resource server registered with MayIntrospect. Anything else,
// unknown, expired, revoked or another client's, is {"active": false} (§2.2), never an error.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fr, e := readForm(r)
	if e != nil {
		writeError(w, e)
		return
	}
	c, e := s.authenticateClient(ctx, r, fr.Creds, false)
	if e != nil {
		writeError(w, e)
		return
	}
	tok := fr.Form.Get("token")
	if tok == "" {
		writeError(w, invalidRequest("token is required"))
		return
	}
	res, err := s.lookup(ctx, tok)
	if err != nil {
		writeError(w, s.internal(ctx, r, err))
		return
	}
	now := s.d.Clock.Now()
	out := introspection{Active: false}
	switch {
	case res.access != nil:
		t := res.access
		if t.Active(now) && (c.MayIntrospect || t.Token.ClientID != "" && t.Token.ClientID == c.ID) {
			out = introspection{Active: true, Scope: t.Token.Scope, ClientID: t.Token.ClientID, TokenType: "Bearer",
				Exp: t.Token.ExpiresAt.Unix(), Iat: t.Token.CreatedAt.Unix(), Iss: s.cfg.Issuer, Sub: t.Actor.ID,
				ActorKind: string(t.Actor.Kind)}
			if t.Actor.Kind == audit.ActorApp {
				out.Sub, out.Patient = "patient-"+strconv.FormatInt(t.Actor.PatientID, 10), strconv.FormatInt(t.Actor.PatientID, 10)
			}
		}
	case res.refresh != nil:
		rt, g := res.refresh, res.grant
		if rt.UsedAt.IsZero() && now.Before(rt.ExpiresAt) && g.RevokedAt.IsZero() && (c.MayIntrospect || g.ClientID == c.ID) {
			pid := strconv.FormatInt(g.PatientID, 10)
			out = introspection{Active: true, Scope: g.Scope, ClientID: g.ClientID, Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(),
				Iss: s.cfg.Issuer, Sub: "patient-" + pid, Patient: pid, ActorKind: string(audit.ActorApp)}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// found is what a presented token is, if anything.
type found struct {
	access  *apitoken.Resolved
	refresh *Refresh
	grant   Grant
}

// lookup finds an access token or a refresh token by its secret; neither is no error.
func (s *Server) lookup(ctx context.Context, tok string) (found, error) {
	var f found
	if len(tok) > 256 {
		return f, nil
	}
	hash := apitoken.Hash(tok)
	err := s.d.Store.ViewOAuth(ctx, func(tx Tx) error {
		switch {
		case strings.HasPrefix(tok, apitoken.Prefix):
			res, err := tx.APIToken(ctx, hash)
			if err == nil {
				f.access = &res
			}
			return err
		case strings.HasPrefix(tok, RefreshPrefix):
			rt, err := tx.OAuthRefresh(ctx, hash)
			if err != nil {
				return err
			}
			g, err := tx.OAuthGrant(ctx, rt.GrantID)
			if err == nil {
				f.refresh, f.grant = &rt, g
			}
			return err
		}
		return nil
	})
	if errs.Is(err, errs.NotFound) {
		return found{}, nil
	}
	return f, err
}

// revoke is RFC 7009. A client revokes its own tokens: an access token alone, or a refresh
// token with its whole grant and the access tokens issued under it (§2.1). An unknown token,
// or another client's, is answered 200 all the same (§2.2), and left alone.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fr, e := readForm(r)
	if e != nil {
		writeError(w, e)
		return
	}
	c, e := s.authenticateClient(ctx, r, fr.Creds, true)
	if e != nil {
		writeError(w, e)
		return
	}
	tok := fr.Form.Get("token")
	if tok == "" {
		writeError(w, invalidRequest("token is required"))
		return
	}
	res, err := s.lookup(ctx, tok)
	if err != nil {
		writeError(w, s.internal(ctx, r, err))
		return
	}
	now := s.d.Clock.Now()
	e2 := audit.Entry{At: now, Actor: c.actor(), Channel: audit.ChannelFHIR, Action: "apitoken.revoke", Detail: "oauth revocation"}
	switch {
	case res.access != nil && res.access.Token.ClientID == c.ID && res.access.Token.RevokedAt.IsZero():
		t := res.access
		e2.Object = "apitoken/" + t.Token.ID
		if t.Actor.Kind == audit.ActorApp {
			e2.PatientID = t.Actor.PatientID
		}
		err = audit.Do(ctx, s.d.Store.UpdateOAuth, e2, func(tx Tx, _ *audit.Entry) error {
			return tx.RevokeAPIToken(ctx, t.Token.ID, now)
		})
	case res.refresh != nil && res.grant.ClientID == c.ID && res.grant.RevokedAt.IsZero():
		e2.Object, e2.PatientID = "oauth-grant/"+res.grant.ID, res.grant.PatientID
		err = audit.Do(ctx, s.d.Store.UpdateOAuth, e2, func(tx Tx, _ *audit.Entry) error {
			return tx.RevokeOAuthGrant(ctx, res.grant.ID, now, "revoked by the client")
		})
	}
	if err != nil {
		writeError(w, s.internal(ctx, r, err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
