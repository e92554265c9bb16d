package web

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
)

// Passkeys (internal/auth/webauthn.go) in the pages: the second step of a sign-in when the
// prompt is a passkey, the fallback to a code by e-mail, and the patient's list of passkeys
// (add, delete). The ceremonies need JavaScript (static/carnet/passkey.js, no inline
// script: the CSP); the options come from the JSON endpoints below and the authenticator's
// answer is posted back in an ordinary form, so that errors are pages like any other. Without
// JavaScript the code by e-mail remains, and the list and deletion work.

// passkeyRoutes mounts the passkey pages.
func (w *Web) passkeyRoutes() {
	m := w.mux
	m.HandleFunc("GET /connexion/cle/options", w.passkeySigninOptions)
	m.HandleFunc("POST /connexion/cle", w.passkeySignin)
	m.HandleFunc("GET /connexion/code-courriel", w.codeInsteadForm)
	m.HandleFunc("POST /connexion/code-courriel", w.codeInstead)

	m.HandleFunc("GET /moi/cles-acces", w.patient(w.passkeysPage))
	m.HandleFunc("POST /moi/cles-acces/options", w.patient(w.passkeyOptions))
	m.HandleFunc("POST /moi/cles-acces", w.patient(w.passkeyAdd))
	m.HandleFunc("POST /moi/cles-acces/{id}/supprimer", w.patient(w.passkeyDelete))
}

// writeJSON answers an endpoint of passkey.js. Errors carry no text: the page holds the
// translated messages.
func writeJSON(rw http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_, _ = rw.Write(b)
}

// passkeySigninOptions: GET /connexion/cle/options, the PublicKeyCredentialRequestOptions
// of the pending sign-in (the challenge cookie names it), for navigator.credentials.get. A
// pending sign-in that awaits a code, or none, is 404: the page offers the code.
func (w *Web) passkeySigninOptions(rw http.ResponseWriter, r *http.Request) {
	pr, err := w.d.Auth.PendingPrompt(r.Context(), w.d.HTTP.ChallengeToken(r))
	switch {
	case err == nil && pr.Method == auth.MethodWebAuthn:
		writeJSON(rw, http.StatusOK, json.RawMessage(pr.Options))
	case err == nil || errs.Is(err, errs.Unauthenticated):
		writeJSON(rw, http.StatusNotFound, struct{}{})
	default:
		w.d.Log.Error("passkey options failed", "err", err)
		writeJSON(rw, http.StatusInternalServerError, struct{}{})
	}
}

// passkeySignin: POST /connexion/cle, the authenticator's assertion. It opens a session as
// the code's form does.
func (w *Web) passkeySignin(rw http.ResponseWriter, r *http.Request) {
	v := signinView{Page: w.page(r, "passkey.signin.title"), Return: returnTo(r)}
	si, err := w.d.Auth.CompleteSignIn(r.Context(), auth.Proof{Challenge: w.d.HTTP.ChallengeToken(r), Response: r.PostFormValue("reponse"),
		Previous: w.d.HTTP.SessionToken(r), Client: w.d.HTTP.Client(r)})
	if err != nil {
		v.Error = w.authError(rw, v.Lang, err, "passkey.signin.error")
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

// codeInsteadForm: GET /connexion/code-courriel, for a person whose passkey is not at hand
// (or whose browser runs no JavaScript): the password again, and the code goes by e-mail.
// The password is asked again because nothing of the first step is kept but its challenge.
func (w *Web) codeInsteadForm(rw http.ResponseWriter, r *http.Request) {
	if id, ok := auth.FromContext(r.Context()); ok {
		http.Redirect(rw, r, homeOf(id), http.StatusSeeOther)
		return
	}
	w.render(rw, r, http.StatusOK, "passkey_code", signinView{Page: w.page(r, "passkey.code.title"), Return: returnTo(r)})
}

// codeInstead: POST /connexion/code-courriel, a sign-in that asks for the code by e-mail
// (auth.Credentials.Method), then the code's page as after /connexion.
func (w *Web) codeInstead(rw http.ResponseWriter, r *http.Request) {
	v := signinView{Page: w.page(r, "passkey.code.title"), Identifier: r.PostFormValue("identifiant"), Return: returnTo(r)}
	p, err := w.d.Auth.SignIn(r.Context(), auth.Credentials{Identifier: v.Identifier, Password: r.PostFormValue("mot_de_passe"),
		Method: auth.MethodEmailCode, Client: w.d.HTTP.Client(r)})
	if err != nil {
		v.Error = w.authError(rw, v.Lang, err, "signin.error")
		w.render(rw, r, statusOf(err), "passkey_code", v)
		return
	}
	w.d.HTTP.SetChallenge(rw, p)
	q := url.Values{"retour": {v.Return}, "vers": {p.Prompt.Destination}}
	http.Redirect(rw, r, "/connexion/code?"+q.Encode(), http.StatusSeeOther)
}

// passkeyRow is a passkey in the list.
type passkeyRow struct {
	ID, Name, Kind, Created, LastUsed string
}

// passkeysPage: GET /moi/cles-acces, the person's passkeys.
func (w *Web) passkeysPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	w.renderPasskeys(rw, r, id, http.StatusOK, "")
}

func (w *Web) renderPasskeys(rw http.ResponseWriter, r *http.Request, id auth.Identity, status int, errMsg string) {
	keys, err := w.d.Auth.Passkeys(r.Context(), id)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := struct {
		patientPage
		Enabled     bool
		Full        bool
		Passkeys    []passkeyRow
		Done, Error string
	}{patientPage: w.patientPage(r, id, "passkey.title", "settings"), Enabled: w.d.Auth.PasskeysEnabled(),
		Full: len(keys) >= auth.MaxPasskeys, Error: errMsg}
	switch {
	case r.Method != http.MethodGet:
	case r.FormValue("ajoutee") == "1":
		v.Done = v.T("passkey.added")
	case r.FormValue("supprimee") == "1":
		v.Done = v.T("passkey.deleted")
	}
	for _, k := range keys {
		row := passkeyRow{ID: k.ID, Name: k.Name, Kind: v.T("passkey.kind.device"), Created: frDateTime(k.CreatedAt), LastUsed: v.T("passkey.never")}
		if k.BackedUp() {
			row.Kind = v.T("passkey.kind.synced")
		}
		if !k.LastUsedAt.IsZero() {
			row.LastUsed = frDateTime(k.LastUsedAt)
		}
		v.Passkeys = append(v.Passkeys, row)
	}
	w.render(rw, r, status, "passkeys", v)
}

// passkeyOptions: POST /moi/cles-acces/options (CSRF header), a registration ceremony begun:
// the options for navigator.credentials.create and the ceremony's token, posted back with
// the answer.
func (w *Web) passkeyOptions(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	reg, err := w.d.Auth.BeginPasskey(r.Context(), id)
	if err != nil {
		if statusOf(err) == http.StatusInternalServerError {
			w.d.Log.Error("passkey registration not begun", "err", err)
		}
		writeJSON(rw, statusOf(err), struct{}{})
		return
	}
	writeJSON(rw, http.StatusOK, struct {
		Token   string          `json:"token"`
		Options json.RawMessage `json:"options"`
	}{reg.Token, reg.Options})
}

// passkeyAdd: POST /moi/cles-acces, the authenticator's answer to the registration.
func (w *Web) passkeyAdd(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	_, err := w.d.Auth.FinishPasskey(r.Context(), id, w.d.HTTP.Client(r), r.PostFormValue("jeton"), r.PostFormValue("nom"),
		[]byte(r.PostFormValue("reponse")))
	if err != nil {
		status := statusOf(err)
		if status == http.StatusInternalServerError {
			w.fail(rw, r, err)
			return
		}
		l := language(r)
		msg := l.T("passkey.add.error")
		if errs.Is(err, errs.Conflict) {
			msg = l.T("passkey.add.conflict")
		}
		w.renderPasskeys(rw, r, id, status, msg)
		return
	}
	http.Redirect(rw, r, "/moi/cles-acces?ajoutee=1", http.StatusSeeOther)
}

// passkeyDelete: POST /moi/cles-acces/{id}/supprimer.
func (w *Web) passkeyDelete(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if err := w.d.Auth.DeletePasskey(r.Context(), id, w.d.HTTP.Client(r), r.PathValue("id")); err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, "/moi/cles-acces?supprimee=1", http.StatusSeeOther)
}
