package oidc

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
)

// The codes of the refusals a person can meet. They are stable: a sign-in page may carry one
// in its address (/connexion?erreur=oidc-<code>) and show Message(code, label).
const (
	codeState           = "etat"
	codeProvider        = "refus-fournisseur"
	codeToken           = "jeton"
	codeACR             = "niveau"
	codeClaims          = "donnees"
	codeUnknownPro      = "professionnel-inconnu"
	codeProfession      = "profession"
	codeNoAccount       = "sans-compte"
	codeNoMatch         = "aucun-espace"
	codeAmbiguous       = "plusieurs-espaces"
	codeNotActivated    = "espace-non-active"
	codeLinkedElsewhere = "deja-lie"
	codeDisabled        = "compte-desactive"
	codeThrottled       = "trop-de-tentatives"
	codeUnavailable     = "indisponible"
	codeUnknownProvider = "fournisseur-inconnu"
)

var messages = map[string]struct {
	status int
	text   string // %s is the provider's name
}{
	codeState:           {http.StatusBadRequest, "Cette connexion a expiré ou a déjà servi. Recommencez depuis la page de connexion."},
	codeProvider:        {http.StatusUnauthorized, "La connexion a été annulée ou refusée par %s."},
	codeToken:           {http.StatusUnauthorized, "%s n'a pas pu confirmer votre identité. Recommencez depuis la page de connexion."},
	codeACR:             {http.StatusForbidden, "Le moyen de connexion choisi chez %s n'offre pas le niveau de sécurité exigé. Choisissez-en un plus sûr (carte CPS ou e-CPS pour les professionnels)."},
	codeClaims:          {http.StatusForbidden, "%s n'a pas transmis les informations nécessaires pour vous reconnaître."},
	codeUnknownPro:      {http.StatusForbidden, "Votre identifiant national (RPPS ou ADELI) transmis par %s ne figure pas dans l'annuaire de carnet. Demandez à l'opérateur de vous inscrire."},
	codeProfession:      {http.StatusForbidden, "La profession transmise par %s ne correspond pas à celle de l'annuaire de carnet. Demandez à l'opérateur de vérifier votre inscription."},
	codeNoAccount:       {http.StatusForbidden, "Vous figurez dans l'annuaire de carnet mais n'y avez pas encore de compte. Demandez à l'opérateur de vous en ouvrir un."},
	codeNoMatch:         {http.StatusForbidden, "Aucun espace santé ne correspond à l'identité transmise par %s (nom de naissance, premier prénom, date de naissance et sexe). Connectez-vous avec votre identifiant et votre mot de passe."},
	codeAmbiguous:       {http.StatusForbidden, "Plusieurs espaces santé correspondent à l'identité transmise par %s : la connexion par ce moyen n'est pas possible pour vous. Connectez-vous avec votre identifiant et votre mot de passe."},
	codeNotActivated:    {http.StatusForbidden, "Votre espace santé n'est pas encore activé. Activez-le avec le code reçu par courrier ou par courriel, puis connectez-vous."},
	codeLinkedElsewhere: {http.StatusForbidden, "Cet espace santé est déjà relié à une autre identité %s. Connectez-vous avec votre identifiant et votre mot de passe."},
	codeDisabled:        {http.StatusForbidden, "Ce compte est désactivé."},
	codeThrottled:       {http.StatusTooManyRequests, "Trop de tentatives de connexion depuis votre adresse. Réessayez dans quelques instants."},
	codeUnavailable:     {http.StatusServiceUnavailable, "%s ne répond pas pour le moment. Réessayez dans quelques instants."},
	codeUnknownProvider: {http.StatusNotFound, "Ce moyen de connexion n'existe pas."},
}

// Message returns the French text of a refusal code, naming the provider by label; "" for
// an unknown code.
func Message(code, label string) string {
	m, ok := messages[code]
	if !ok {
		return ""
	}
	if strings.Contains(m.text, "%s") {
		return strings.Replace(m.text, "%s", label, 1)
	}
	return m.text
}

// Failure is a refusal as the person is told of it.
type Failure struct {
	Code       string // one of the codes above, e.g. "aucun-espace"
	Status     int    // the HTTP status of the answer
	Message    string // French, safe to show: no trait, no secret
	Provider   string // the provider's label, "" when unknown
	RetryAfter time.Duration
}

func failure(code string, rp *relyingParty) Failure {
	label := "Le fournisseur d'identité"
	if rp != nil && rp.cfg.Label != "" {
		label = rp.cfg.Label
	}
	f := Failure{Code: code, Status: messages[code].status, Message: Message(code, label)}
	if rp != nil {
		f.Provider = rp.cfg.Label
	}
	return f
}

// start: GET /connexion/oidc/{provider}?retour=/path. It seals a new flow (state, nonce,
// PKCE verifier, where to go back) in the flow cookie and sends the browser to the provider.
func (s *Service) start(w http.ResponseWriter, r *http.Request) {
	rp := s.providers[r.PathValue("provider")]
	if rp == nil {
		s.onError(w, r, failure(codeUnknownProvider, nil))
		return
	}
	if err := rp.ready(r.Context()); err != nil {
		s.log.Warn("oidc provider unreachable", "provider", rp.cfg.Name, "err", err)
		s.onError(w, r, failure(codeUnavailable, rp))
		return
	}
	ret := r.URL.Query().Get("retour")
	if !localPath(ret) {
		ret = ""
	}
	f := flow{Provider: rp.cfg.Name, State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Return: ret, Expires: s.clock.Now().Add(s.cfg.StateTTL).Unix()}
	v, err := s.sealer.seal(f)
	if err != nil {
		s.log.Error("oidc flow not sealed", "err", err)
		s.onError(w, r, failure(codeUnavailable, rp))
		return
	}
	s.setFlow(w, v)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, rp.authURL(f), http.StatusFound)
}

// callback: GET /connexion/oidc/{provider}/retour?code=…&state=…, the provider's answer. The
// flow cookie is spent whatever happens; every outcome is traced.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	// The code is in this address: no page this answer leads to may pass it on.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	rp := s.providers[r.PathValue("provider")]
	if rp == nil {
		s.onError(w, r, failure(codeUnknownProvider, nil))
		return
	}
	ctx := r.Context()
	x := auth.External{Method: Method(rp.cfg.Name), Client: s.http.Client(r)}
	if err := s.auth.AdmitExternal(ctx, x.Client); err != nil {
		f := failure(codeUnavailable, rp)
		if d, ok := auth.RetryAfter(err); ok {
			f = failure(codeThrottled, rp)
			f.RetryAfter = d
			w.Header().Set("Retry-After", auth.RetryAfterHeader(d))
		} else {
			s.log.Error("oidc callback not admitted", "provider", rp.cfg.Name, "err", err)
		}
		s.onError(w, r, f)
		return
	}
	sealed := s.flowValue(r)
	s.clearFlow(w)
	q := r.URL.Query()
	fl, err := s.sealer.open(sealed, s.clock.Now())
	if err != nil {
		reason := "state_invalid"
		switch {
		case sealed == "":
			reason = "state_missing"
		case errors.Is(err, errFlowExpired):
			reason = "state_expired"
		}
		s.refused(ctx, w, r, rp, x, refuse(codeState, reason, err))
		return
	}
	if fl.Provider != rp.cfg.Name || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(fl.State)) != 1 {
		s.refused(ctx, w, r, rp, x, refuse(codeState, "state_mismatch", nil))
		return
	}
	if e := q.Get("error"); e != "" {
		x.Detail = "error=" + printable(e, 64)
		s.refused(ctx, w, r, rp, x, refuse(codeProvider, "provider_error", errors.New(printable(q.Get("error_description"), 200))))
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 2048 {
		s.refused(ctx, w, r, rp, x, refuse(codeToken, "no_code", nil))
		return
	}
	if err := rp.ready(ctx); err != nil {
		s.refused(ctx, w, r, rp, x, refuse(codeUnavailable, "discovery", err))
		return
	}
	a, err := rp.redeem(ctx, fl, code)
	if a.Subject != "" {
		x.Detail = "subject=" + subjectRef(rp.cfg.Name, a.Subject) + " acr=" + printable(a.ACR, 32)
	}
	if err != nil {
		s.refused(ctx, w, r, rp, x, err)
		return
	}
	accountID, detail, err := s.mapAccount(ctx, rp.cfg, a)
	x.AccountID, x.Detail = accountID, strings.TrimSpace(x.Detail+" "+detail)
	if err != nil {
		s.refused(ctx, w, r, rp, x, err)
		return
	}
	x.Previous = s.http.SessionToken(r)
	si, err := s.auth.SignInExternal(ctx, x)
	if err != nil {
		if errs.Is(err, errs.Forbidden) { // a disabled account, traced by auth
			s.onError(w, r, failure(codeDisabled, rp))
			return
		}
		s.log.Error("oidc session not opened", "provider", rp.cfg.Name, "err", err)
		s.onError(w, r, failure(codeUnavailable, rp))
		return
	}
	s.log.Info("oidc sign-in", "provider", rp.cfg.Name, "account", si.Identity.AccountID, "session", si.Identity.Session.ID)
	s.http.SetSession(w, si)
	dest := fl.Return
	if dest == "" {
		dest = home(si.Identity.Kind)
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}

// refused traces a refusal and tells the person. A fault of ours or of the provider's
// (unreachable, a store error) is logged as such and answered "unavailable".
func (s *Service) refused(ctx context.Context, w http.ResponseWriter, r *http.Request, rp *relyingParty, x auth.External, err error) {
	var ref *refusal
	if !errors.As(err, &ref) {
		s.log.Error("oidc sign-in failed", "provider", rp.cfg.Name, "err", err)
		ref = refuse(codeUnavailable, "internal", err)
	}
	// The cause may quote the provider's answer, never a trait: mapping refusals carry none.
	s.log.Info("oidc sign-in refused", "provider", rp.cfg.Name, "reason", ref.reason, "account", x.AccountID, "err", ref.cause)
	if terr := s.auth.RefuseExternal(ctx, x, ref.reason); terr != nil {
		s.log.Error("oidc refusal not traced", "provider", rp.cfg.Name, "err", terr)
		s.onError(w, r, failure(codeUnavailable, rp))
		return
	}
	s.onError(w, r, failure(ref.code, rp))
}

// home is the first page of a signed-in person.
func home(k account.Kind) string {
	switch k {
	case account.KindPatient:
		return "/moi"
	case account.KindProfessional:
		return "/pro"
	}
	return "/"
}

// printable keeps what a provider sent fit for a trace or a log line: printable ASCII, cut.
func printable(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != ' ' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

//go:embed templates/failure.html
var templateFS embed.FS

var failurePage = template.Must(template.ParseFS(templateFS, "templates/failure.html"))

// renderFailure is the default refusal page: the message, and the way back to sign-in.
func renderFailure(w http.ResponseWriter, _ *http.Request, f Failure) {
	var buf bytes.Buffer
	if err := failurePage.Execute(&buf, f); err != nil {
		http.Error(w, f.Message, f.Status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(f.Status)
	_, _ = w.Write(buf.Bytes())
}
