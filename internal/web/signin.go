package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
)

// signinView is the sign-in form, and the code form of its second step.
type signinView struct {
	Page
	Error       string
	Identifier  string // as typed, to fill the form again (never a password)
	Destination string // where the code went, masked
	Return      string
	Activated   bool // just activated their space: sign in now
	Reset       bool // just chose a new password
	Providers   []SignInProvider
}

// returnTo is where a page sends a person once signed in: a path of this site, else their home.
func returnTo(r *http.Request) string {
	if p := r.FormValue("retour"); localPath(p) {
		return p
	}
	return "/moi"
}

// signinForm: GET /connexion.
func (w *Web) signinForm(rw http.ResponseWriter, r *http.Request) {
	if id, ok := auth.FromContext(r.Context()); ok {
		http.Redirect(rw, r, homeOf(id), http.StatusSeeOther)
		return
	}
	w.render(rw, r, http.StatusOK, "signin", signinView{Page: w.page(r, "signin.title"), Return: returnTo(r),
		Activated: r.FormValue("active") == "1", Reset: r.FormValue("reinit") == "1", Providers: w.d.SignInWith})
}

// signin: POST /connexion, the identifier and the password. A correct pair starts the second
// factor; every wrong one gets the same answer (auth.SignIn makes it so).
func (w *Web) signin(rw http.ResponseWriter, r *http.Request) {
	v := signinView{Page: w.page(r, "signin.title"), Identifier: r.PostFormValue("identifiant"), Return: returnTo(r)}
	p, err := w.d.Auth.SignIn(r.Context(), auth.Credentials{Identifier: v.Identifier, Password: r.PostFormValue("mot_de_passe"),
		Client: w.d.HTTP.Client(r)})
	if err != nil {
		v.Error = w.authError(rw, v.Lang, err, "signin.error")
		w.render(rw, r, statusOf(err), "signin", v)
		return
	}
	w.d.HTTP.SetChallenge(rw, p)
	q := url.Values{"retour": {v.Return}, "vers": {p.Prompt.Destination}}
	http.Redirect(rw, r, "/connexion/code?"+q.Encode(), http.StatusSeeOther)
}

// codeForm: GET /connexion/code.
func (w *Web) codeForm(rw http.ResponseWriter, r *http.Request) {
	if w.d.HTTP.ChallengeToken(r) == "" {
		http.Redirect(rw, r, "/connexion", http.StatusSeeOther)
		return
	}
	w.render(rw, r, http.StatusOK, "code", signinView{Page: w.page(r, "code.title"), Destination: r.FormValue("vers"), Return: returnTo(r)})
}

// code: POST /connexion/code, the one-time code. It opens a session under a new id.
func (w *Web) code(rw http.ResponseWriter, r *http.Request) {
	v := signinView{Page: w.page(r, "code.title"), Destination: r.FormValue("vers"), Return: returnTo(r)}
	si, err := w.d.Auth.CompleteSignIn(r.Context(), auth.Proof{Challenge: w.d.HTTP.ChallengeToken(r), Response: r.PostFormValue("code"),
		Previous: w.d.HTTP.SessionToken(r), Client: w.d.HTTP.Client(r)})
	if err != nil {
		v.Error = w.authError(rw, v.Lang, err, "code.error")
		w.render(rw, r, statusOf(err), "code", v)
		return
	}
	w.d.HTTP.ClearChallenge(rw)
	w.d.HTTP.SetSession(rw, si)
	back := v.Return
	if back == "/moi" {
		back = homeOf(si.Identity)
	}
	http.Redirect(rw, r, back, http.StatusSeeOther)
}

// signout: POST /deconnexion.
func (w *Web) signout(rw http.ResponseWriter, r *http.Request) {
	if id, ok := auth.FromContext(r.Context()); ok {
		if err := w.d.Auth.SignOut(r.Context(), id, w.d.HTTP.Client(r)); err != nil {
			w.fail(rw, r, err)
			return
		}
	}
	w.d.HTTP.ClearSession(rw)
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

// homeOf is the first page of a signed-in person.
func homeOf(id auth.Identity) string {
	switch id.Kind {
	case account.KindPatient:
		return "/moi"
	case account.KindProfessional:
		return "/pro"
	case account.KindOperator:
		return "/admin"
	}
	return "/"
}

// authError is what a failed sign-in step says: a wait to respect, or the one answer to
// every wrong credential.
func (w *Web) authError(rw http.ResponseWriter, l Lang, err error, key string) string {
	if d, ok := auth.RetryAfter(err); ok {
		rw.Header().Set("Retry-After", auth.RetryAfterHeader(d))
		return l.T("signin.throttled", int(d.Seconds()+0.5))
	}
	if errs.Is(err, errs.Invalid) {
		return l.T("signin.invalid")
	}
	return l.T(key)
}

// statusOf maps an error to the page's status.
func statusOf(err error) int {
	if _, ok := auth.RetryAfter(err); ok {
		return http.StatusTooManyRequests
	}
	switch errs.CodeOf(err) {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// activationView is the activation form of a space created by opt-out.
type activationView struct {
	Page
	Error      string
	INS, Email string // as typed, to fill the form again
}

// activationForm: GET /activation.
func (w *Web) activationForm(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, r, http.StatusOK, "activation", activationView{Page: w.page(r, "activation.title")})
}

// activate: POST /activation. The notice's code proves the person holds it; they choose the
// e-mail address and password they will sign in with, and sign in as usual after (which
// proves the address reaches them).
func (w *Web) activate(rw http.ResponseWriter, r *http.Request) {
	v := activationView{Page: w.page(r, "activation.title"), INS: strings.TrimSpace(r.PostFormValue("ins")),
		Email: strings.TrimSpace(r.PostFormValue("email"))}
	if r.PostFormValue("mot_de_passe") != r.PostFormValue("confirmation") {
		v.Error = v.T("activation.mismatch")
		w.render(rw, r, http.StatusBadRequest, "activation", v)
		return
	}
	_, err := w.d.Auth.Activate(r.Context(), auth.Activation{INS: strings.ReplaceAll(v.INS, " ", ""), Code: strings.TrimSpace(r.PostFormValue("code")),
		Email: v.Email, Password: r.PostFormValue("mot_de_passe"), Client: w.d.HTTP.Client(r)})
	if err != nil {
		switch {
		case errs.Is(err, errs.Invalid):
			v.Error = errs.MessageOf(err)
		default:
			v.Error = w.authError(rw, v.Lang, err, "activation.error")
		}
		w.render(rw, r, statusOf(err), "activation", v)
		return
	}
	http.Redirect(rw, r, "/connexion?active=1", http.StatusSeeOther)
}

// resetView is the forgotten-password form and the new-password form.
type resetView struct {
	Page
	Error, Done string
	Token       string
}

// forgotForm: GET /mot-de-passe/oubli.
func (w *Web) forgotForm(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, r, http.StatusOK, "forgot", resetView{Page: w.page(r, "forgot.title")})
}

// forgot: POST /mot-de-passe/oubli. The answer is the same whether an account exists or not
// (auth.RequestReset sends the link, or nothing, after answering).
func (w *Web) forgot(rw http.ResponseWriter, r *http.Request) {
	v := resetView{Page: w.page(r, "forgot.title")}
	if err := w.d.Auth.RequestReset(r.Context(), r.PostFormValue("identifiant"), w.d.HTTP.Client(r)); err != nil && !errs.Is(err, errs.Invalid) {
		if _, ok := auth.RetryAfter(err); !ok {
			w.fail(rw, r, err)
			return
		}
	}
	v.Done = v.T("forgot.sent")
	w.render(rw, r, http.StatusOK, "forgot", v)
}

// resetForm: GET /mot-de-passe/nouveau?token=…, the link of the e-mail.
func (w *Web) resetForm(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, r, http.StatusOK, "reset", resetView{Page: w.page(r, "reset.title"), Token: r.FormValue("token")})
}

// reset: POST /mot-de-passe/nouveau.
func (w *Web) reset(rw http.ResponseWriter, r *http.Request) {
	v := resetView{Page: w.page(r, "reset.title"), Token: r.PostFormValue("token")}
	if r.PostFormValue("mot_de_passe") != r.PostFormValue("confirmation") {
		v.Error = v.T("activation.mismatch")
		w.render(rw, r, http.StatusBadRequest, "reset", v)
		return
	}
	if err := w.d.Auth.ResetPassword(r.Context(), v.Token, r.PostFormValue("mot_de_passe"), w.d.HTTP.Client(r)); err != nil {
		if errs.Is(err, errs.Invalid) {
			v.Error = errs.MessageOf(err)
		} else {
			v.Error = w.authError(rw, v.Lang, err, "reset.error")
		}
		w.render(rw, r, statusOf(err), "reset", v)
		return
	}
	http.Redirect(rw, r, "/connexion?reinit=1", http.StatusSeeOther)
}
