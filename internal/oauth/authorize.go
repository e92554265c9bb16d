package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// authRequest is a checked authorisation request (RFC 6749 §4.1.1, RFC 7636 §4.3).
type authRequest struct {
	Client      Client
	RedirectURI string
	State       string
	Challenge   string
	RawScope    string // as asked, "" when not given
	Scope       Scope  // what is asked, within the registration
	// Description is the catalogue's, when the server has one.
	Description *Description
}

// params are the request's parameters, for the sign-in return URL and the consent form.
func (a authRequest) params() url.Values {
	v := url.Values{"response_type": {"code"}, "client_id": {a.Client.ID}, "redirect_uri": {a.RedirectURI},
		"code_challenge": {a.Challenge}, "code_challenge_method": {"S256"}}
	if a.State != "" {
		v.Set("state", a.State)
	}
	if a.RawScope != "" {
		v.Set("scope", a.RawScope)
	}
	return v
}

// authParams are the parameters of an authorisation request and of the consent form that may
// appear once only (RFC 6749 §3.1). The consent's checkboxes (perm, category) repeat.
var authParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
	"code_challenge_method", "csrf", "decision"}

// pageError is an error shown on a page of ours instead of being sent to the client: the
// client or its redirect URI cannot be trusted with it (RFC 6749 §4.1.2.1).
type pageError struct {
	Status  int
	Title   string
	Message string
}

// authorize is the authorisation endpoint (RFC 6749 §3.1): GET or POST of the request, and
// POST of the consent form (with decision).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	}
	if err := r.ParseForm(); err != nil {
		s.showError(w, pageError{http.StatusBadRequest, "Demande invalide", "La demande de l'application est illisible."})
		return
	}
	for _, p := range authParams {
		if len(r.Form[p]) > 1 {
			s.showError(w, pageError{http.StatusBadRequest, "Demande invalide", "Un paramètre de la demande est répété."})
			return
		}
	}
	a, pe, oe := s.parseAuthorize(ctx, r.Form)
	if pe != nil {
		s.showError(w, *pe)
		return
	}
	if oe != nil {
		s.redirect(w, r, a.RedirectURI, url.Values{"error": {oe.Code}, "error_description": {oe.Description}}, a.State)
		return
	}
	actor, ok := s.d.SignedIn(r)
	if !ok {
		s.d.SignIn(w, r, s.authorizePath()+"?"+a.params().Encode())
		return
	}
	if !eligible(actor) {
		s.showError(w, pageError{http.StatusForbidden, "Accès réservé",
			"Seul le titulaire de l'espace santé, ou son représentant légal, peut y connecter une application."})
		return
	}
	if r.Method == http.MethodPost && r.Form.Has("decision") {
		s.decide(w, r, a, actor)
		return
	}
	s.showConsent(w, a, actor)
}

func (s *Server) authorizePath() string {
	u, _ := url.Parse(s.cfg.Issuer)
	return u.Path + "/oauth/authorize"
}

// eligible: only the holder of a space, or a representative acting for them now, connects an
// app to it.
func eligible(a access.Actor) bool {
	switch {
	case a.ID == "" || a.PatientID <= 0:
		return false
	case a.Kind == audit.ActorPatient:
		return true
	case a.Kind == audit.ActorRepresentative:
		return a.RepresentationCurrent
	}
	return false
}

// parseAuthorize checks a request. An unknown client or a redirect URI that is not one of
// the client's is shown on our page; anything else is an error for the client, sent to its
// redirect URI.
func (s *Server) parseAuthorize(ctx context.Context, f url.Values) (authRequest, *pageError, *Error) {
	a := authRequest{RedirectURI: f.Get("redirect_uri"), State: f.Get("state"), Challenge: f.Get("code_challenge"), RawScope: f.Get("scope")}
	unknown := &pageError{http.StatusBadRequest, "Application inconnue",
		"Cette application n'est pas référencée, ou n'est plus autorisée à se connecter aux espaces santé."}
	id := f.Get("client_id")
	if !validClientID(id) {
		return a, unknown, nil
	}
	var c Client
	err := s.d.Store.ViewOAuth(ctx, func(tx Tx) error {
		var err error
		c, _, err = tx.OAuthClient(ctx, id)
		return err
	})
	switch {
	case errs.Is(err, errs.NotFound):
		return a, unknown, nil
	case err != nil:
		s.d.Log.Error("oauth: read client", "err", err)
		return a, &pageError{http.StatusServiceUnavailable, "Service indisponible", "Réessayez dans quelques instants."}, nil
	case !c.Enabled() || !c.Allows(GrantAuthorizationCode):
		return a, unknown, nil
	}
	if s.d.Describe != nil {
		d, err := s.d.Describe(ctx, c.ID)
		switch {
		case errs.Is(err, errs.NotFound):
			return a, unknown, nil
		case err != nil:
			s.d.Log.Error("oauth: describe client", "err", err)
			return a, &pageError{http.StatusServiceUnavailable, "Service indisponible", "Réessayez dans quelques instants."}, nil
		}
		a.Description = &d
	}
	a.Client = c
	registered := false
	for _, u := range c.RedirectURIs {
		registered = registered || redirectMatches(u, a.RedirectURI) // exact, but a loopback's port (loopback.go)
	}
	if !registered {
		return a, &pageError{http.StatusBadRequest, "Adresse de retour inconnue",
			"L'adresse de retour demandée n'est pas enregistrée pour cette application. Aucune donnée n'a été transmise."}, nil
	}
	switch {
	case f.Get("response_type") != "code":
		return a, nil, oerr(http.StatusBadRequest, ErrUnsupportedResponseType, "response_type is code")
	case a.Challenge == "":
		return a, nil, invalidRequest("code_challenge is required (PKCE, RFC 7636)")
	case f.Get("code_challenge_method") != "S256":
		return a, nil, invalidRequest("code_challenge_method is S256; plain is not supported")
	case !validChallenge(a.Challenge):
		return a, nil, invalidRequest("code_challenge is BASE64URL(SHA-256(code_verifier)), 43 characters")
	case len(a.State) > 1024 || !printable(a.State):
		a.State = ""
		return a, nil, invalidRequest("state is at most 1024 printable characters")
	}
	sc, oe := s.requestedScope(c, a.RawScope, a.RawScope != "")
	if oe != nil {
		return a, nil, oe
	}
	a.Scope = sc
	return a, nil, nil
}

// redirect sends the browser back to the client with params, state and iss (RFC 9207).
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to string, params url.Values, state string) {
	u, err := url.Parse(to)
	if err != nil {
		s.showError(w, pageError{http.StatusBadRequest, "Adresse de retour inconnue", "L'adresse de retour est invalide."})
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", s.cfg.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, u.String(), status)
}

// The consent form's CSRF token: the expiry and an HMAC over the signed-in actor, the
// request's parameters and the expiry. A form made for one person and one request is worth
// nothing for another, and nothing after consentTTL. It needs no state on the server, which
// the session layer (not ours) would otherwise have to keep.
func (s *Server) csrfToken(actor access.Actor, a authRequest, exp time.Time) string {
	return strconv.FormatInt(exp.Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(s.csrfMAC(actor, a, exp.Unix()))
}

func (s *Server) csrfMAC(actor access.Actor, a authRequest, exp int64) []byte {
	m := hmac.New(sha256.New, s.cfg.ConsentKey)
	for _, f := range []string{"carnet oauth consent v1", string(actor.Kind), actor.ID, strconv.FormatInt(actor.PatientID, 10),
		a.params().Encode(), strconv.FormatInt(exp, 10)} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return m.Sum(nil)
}

func (s *Server) checkCSRF(tok string, actor access.Actor, a authRequest) bool {
	expStr, macStr, ok := strings.Cut(tok, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil || !s.d.Clock.Now().Before(time.Unix(exp, 0)) {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(macStr)
	return err == nil && hmac.Equal(got, s.csrfMAC(actor, a, exp))
}

type checkbox struct {
	ID, Value, Label string
	Checked          bool
	// A category's justification and what it covers of the profile (the catalogue's words).
	Why, Includes string
}

type hiddenField struct{ Name, Value string }

// consentView is the consent page's model.
type consentView struct {
	AppName        string
	Representative bool
	Action         string
	Hidden         []hiddenField
	Perms          []checkbox
	Categories     []checkbox
	AllCategories  bool
	RedirectHost   string
	Publisher      string
}

func (s *Server) showConsent(w http.ResponseWriter, a authRequest, actor access.Actor) {
	v := consentView{AppName: a.Client.Name, Representative: actor.Kind == audit.ActorRepresentative, Action: s.authorizePath()}
	params := a.params()
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v.Hidden = append(v.Hidden, hiddenField{k, params.Get(k)})
	}
	v.Hidden = append(v.Hidden, hiddenField{"csrf", s.csrfToken(actor, a, s.d.Clock.Now().Add(consentTTL))})
	for _, p := range a.Scope.permItems() {
		v.Perms = append(v.Perms, checkbox{ID: "perm-" + p, Value: p, Label: permLabels[p], Checked: true})
	}
	if a.Scope.classed() {
		v.AllCategories = a.Scope.Classes == nil
		for _, c := range s.d.Catalog.Classes() {
			if v.AllCategories || slices.Contains(a.Scope.Classes, c.Code) {
				box := checkbox{ID: "category-" + c.Code, Value: c.Code, Label: c.Label, Checked: true}
				if a.Description != nil {
					t := a.Description.Categories[c.Code]
					box.Why, box.Includes = t.Justification, t.Includes
				}
				v.Categories = append(v.Categories, box)
			}
		}
	}
	if a.Description != nil {
		v.Publisher = a.Description.Publisher
	}
	if u, err := url.Parse(a.RedirectURI); err == nil {
		v.RedirectHost = u.Host
		if v.RedirectHost == "" {
			v.RedirectHost = u.Scheme
		}
	}
	s.render(w, http.StatusOK, "consent.html", v)
}

func (s *Server) showError(w http.ResponseWriter, pe pageError) {
	s.render(w, pe.Status, "error.html", pe)
}

// decide handles the consent form: on approval a single-use code bound to the client, the
// redirect URI, the PKCE challenge, the patient and what they ticked; on refusal
// access_denied. Both are traced in the patient's chain.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, a authRequest, actor access.Actor) {
	ctx := r.Context()
	if !s.checkCSRF(r.Form.Get("csrf"), actor, a) {
		s.showError(w, pageError{http.StatusForbidden, "Formulaire expiré",
			"Ce formulaire a expiré ou ne vient pas de cette page. Recommencez depuis l'application."})
		return
	}
	now := s.d.Clock.Now()
	e := audit.Entry{At: now, Actor: actor.Audit(), Channel: audit.ChannelWeb, Action: "oauth.consent", PatientID: actor.PatientID,
		Object: "oauth-client/" + a.Client.ID}
	var granted Scope
	switch r.Form.Get("decision") {
	case "allow":
		var all []string
		for _, c := range s.d.Catalog.Classes() {
			all = append(all, c.Code)
		}
		granted = a.Scope.narrow(r.Form["perm"], r.Form["category"], all)
	case "deny":
	default:
		s.showError(w, pageError{http.StatusBadRequest, "Demande invalide", "Choisissez « Autoriser » ou « Refuser »."})
		return
	}
	if granted.Empty() {
		e.Outcome, e.Reason, e.Detail = audit.Denied, ErrAccessDenied, "asked="+a.Scope.String()
		s.trace(ctx, e)
		s.redirect(w, r, a.RedirectURI, url.Values{"error": {ErrAccessDenied}}, a.State)
		return
	}
	code := newSecret("")
	c := Code{ClientID: a.Client.ID, RedirectURI: a.RedirectURI, Challenge: a.Challenge, PatientID: actor.PatientID,
		ByRepresentative: actor.Kind == audit.ActorRepresentative, GrantedBy: actor.ID, Scope: granted.String(),
		CreatedAt: now, ExpiresAt: now.Add(CodeTTL)}
	e.Detail = "scope=" + c.Scope
	err := audit.Do(ctx, s.d.Store.UpdateOAuth, e, func(tx Tx, _ *audit.Entry) error {
		return tx.InsertOAuthCode(ctx, apitoken.Hash(code), c)
	})
	if err != nil {
		s.d.Log.Error("oauth: store code", "err", err)
		s.redirect(w, r, a.RedirectURI, url.Values{"error": {ErrServerError}}, a.State)
		return
	}
	s.redirect(w, r, a.RedirectURI, url.Values{"code": {code}}, a.State)
}
