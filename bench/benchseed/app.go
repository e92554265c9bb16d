package benchseed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// AppClientID is the measurement app AppTokens registers.
const AppClientID = "bench-mesures"

// appScope is what the app asks and each patient grants: creating Observations (PCH-01).
const appScope = "patient/Observation.c"

// AppTokens registers a measurement app (an OAuth client for the authorisation code flow, as
// `carnet oauth add` does) and, for each patient, records their consent as the token endpoint
// does when it exchanges the code the consent page gave: a grant of patient/Observation.c, an
// access token of ttl linked to it, and the trace of the issue on the patient's chain. The
// tokens are what the FHIR API accepts from a connected app (PCH-01 measurement pushes); the
// consent pages themselves are not run (they need a browser session per patient).
func AppTokens(ctx context.Context, db *store.DB, patients []Patient, ttl time.Duration) ([]string, error) {
	cat, err := terminology.Default()
	if err != nil {
		return nil, err
	}
	reg := oauth.NewRegistry(db.OAuth(), clock.System{}, cat)
	c, err := reg.Client(ctx, AppClientID)
	if err != nil {
		c, _, err = reg.Register(ctx, operator, audit.ChannelCLI, oauth.Client{ID: AppClientID, Name: "Mesures (charge mixte)",
			Type: oauth.Public, RedirectURIs: []string{"http://127.0.0.1/mesures/retour"},
			GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode}, Scope: appScope})
		if err != nil {
			return nil, fmt.Errorf("register the measurement app: %w", err)
		}
	}
	scope, err := oauth.ParseScope(appScope, cat)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(patients))
	err = db.OAuth().UpdateOAuth(ctx, func(tx oauth.Tx) error {
		out = out[:0]
		for _, p := range patients {
			now := time.Now().UTC()
			var id [12]byte
			rand.Read(id[:])
			g := oauth.Grant{ID: "g-" + hex.EncodeToString(id[:]), ClientID: c.ID, PatientID: p.ID,
				GrantedBy: "patient-" + strconv.FormatInt(p.ID, 10), Scope: scope.String(), CreatedAt: now}
			if err := tx.InsertOAuthGrant(ctx, g); err != nil {
				return err
			}
			secret, hash, tok, err := apitoken.Mint(apitoken.Token{Subject: apitoken.Subject{Kind: audit.ActorApp, PatientID: p.ID,
				Scopes: scope.Actions(), Classes: scope.AppClasses()}, Label: c.Name, ClientID: c.ID, Scope: scope.String()}, now, ttl)
			if err != nil {
				return err
			}
			if err := tx.InsertAPIToken(ctx, hash, tok); err != nil {
				return err
			}
			if err := tx.LinkOAuthToken(ctx, tok.ID, g.ID); err != nil {
				return err
			}
			if _, err := tx.AppendTrace(ctx, audit.Entry{At: now, Actor: audit.Actor{Kind: audit.ActorApp, ID: c.ID, Name: c.Name},
				Channel: audit.ChannelFHIR, Action: "apitoken.issue", PatientID: p.ID, Object: "apitoken/" + tok.ID,
				Outcome: audit.Allowed, Detail: "grant=authorization_code oauth-grant=" + g.ID + " scope=" + tok.Scope + " benchseed"}); err != nil {
				return err
			}
			out = append(out, secret)
		}
		return nil
	})
	return out, err
}
