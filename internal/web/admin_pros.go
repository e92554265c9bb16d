package web

import (
	"crypto/rand"
	"net/http"
	"strings"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The operator's professionals page (/admin/professionnels): record a professional and their
// sign-in account, as `carnet account add-professional` does, and find the recorded ones. The
// account gets a random password nobody knows, and the professional a link to choose their
// own (the password reset of internal/auth): the operator never holds it. Both creations are
// traced as the operator by internal/account.

type adminProRow struct {
	IdNat, Name, Profession, Organisation, Email, Login string
}

type prosView struct {
	patientPage
	Professions []terminology.Profession
	// The form, as typed, and each field's problem.
	IdNat, Family, Given, Profession, Specialty, Org, Email string
	Account                                                 bool
	Errs                                                    map[string]string
	Done, Error                                             string
	// The list.
	QName, QIdNat string
	Rows          []adminProRow
}

func (w *Web) adminProsRoutes() {
	w.mux.HandleFunc("GET /admin/professionnels", w.operator(w.adminPros))
	w.mux.HandleFunc("POST /admin/professionnels", w.operator(w.adminProCreate))
}

// adminPros: GET /admin/professionnels?nom=…&idnat=…, the form and the list.
func (w *Web) adminPros(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	v := w.prosView(r)
	v.Account = true
	v.QName, v.QIdNat = r.URL.Query().Get("nom"), r.URL.Query().Get("idnat")
	w.renderPros(rw, r, http.StatusOK, v)
}

func (w *Web) prosView(r *http.Request) prosView {
	v := prosView{patientPage: patientPage{Page: w.page(r, "admin.pros.title"), Nav: "pros"}, Errs: map[string]string{}}
	for _, k := range []terminology.Kind{terminology.KindHealth, terminology.KindSocial} {
		for _, p := range w.d.Catalog.ProfessionsOf(k) {
			if p.Code == p.Profession {
				v.Professions = append(v.Professions, p)
			}
		}
	}
	return v
}

// renderPros lists the professionals the search names (the last recorded without one).
func (w *Web) renderPros(rw http.ResponseWriter, r *http.Request, status int, v prosView) {
	list, err := w.d.Directory.SearchProfessionals(r.Context(), account.ProfessionalQuery{Name: v.QName, IdNat: v.QIdNat})
	switch {
	case errs.Is(err, errs.Invalid):
		if v.Error == "" {
			v.Error = v.T("admin.pros.search.invalid")
		}
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
	case err != nil:
		w.fail(rw, r, err)
		return
	}
	for _, p := range list {
		row := adminProRow{IdNat: p.IdNat.String(), Name: strings.TrimSpace(p.FamilyName + " " + p.GivenName), Profession: p.Profession,
			Organisation: p.OrganisationName, Email: p.Email, Login: p.Login}
		if prof, err := w.d.Catalog.Profession(p.Profession); err == nil {
			row.Profession = prof.Label
		}
		if p.Specialty != "" {
			if spec, err := w.d.Catalog.Profession(p.Profession + "/" + p.Specialty); err == nil {
				row.Profession += " — " + spec.Label
			}
		}
		v.Rows = append(v.Rows, row)
	}
	w.render(rw, r, status, "admin_pros", v)
}

// parseIdNat reads an IdNat_PS, or an RPPS number alone (the prefix 8 added).
func parseIdNat(s string) (identity.IdNatPS, error) {
	s = strings.Join(strings.Fields(s), "")
	if rpps, err := identity.ParseRPPS(s); err == nil {
		return identity.ParseIdNatPS(string(identity.PSRPPS) + string(rpps))
	}
	return identity.ParseIdNatPS(s)
}

// adminProCreate: POST /admin/professionnels. Every field is checked first, each problem said
// next to its field; then the professional is recorded, then their account.
func (w *Web) adminProCreate(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	v := w.prosView(r)
	f := r.PostFormValue
	v.IdNat, v.Family, v.Given, v.Profession = strings.TrimSpace(f("idnat")), strings.TrimSpace(f("nom")), strings.TrimSpace(f("prenom")), f("profession")
	v.Specialty, v.Org, v.Email, v.Account = strings.ToUpper(strings.TrimSpace(f("specialite"))), strings.TrimSpace(f("organisation")), strings.TrimSpace(f("email")), f("compte") == "1"
	ctx := r.Context()

	p := account.Professional{FamilyName: v.Family, GivenName: v.Given, Profession: v.Profession, Specialty: v.Specialty}
	var err error
	if p.IdNat, err = parseIdNat(v.IdNat); err != nil {
		v.Errs["idnat"] = v.T("admin.pros.e.idnat")
	}
	if v.Family == "" || len(v.Family) > 100 {
		v.Errs["nom"] = v.T("admin.pros.e.name")
	}
	if v.Given == "" || len(v.Given) > 100 {
		v.Errs["prenom"] = v.T("admin.pros.e.name")
	}
	if prof, err := w.d.Catalog.Profession(v.Profession); err != nil || prof.Code != prof.Profession || prof.Kind == terminology.KindOther {
		v.Errs["profession"] = v.T("admin.pros.e.profession")
	} else if v.Specialty != "" {
		if _, err := w.d.Catalog.Profession(v.Profession + "/" + v.Specialty); err != nil {
			v.Errs["specialite"] = v.T("admin.pros.e.specialty")
		}
	}
	if v.Org != "" {
		if sid, err := identity.ParseStructureID(v.Org); err != nil {
			v.Errs["organisation"] = v.T("admin.pros.e.org")
		} else if o, err := w.d.Directory.OrganisationByStructureID(ctx, sid.String()); errs.Is(err, errs.NotFound) {
			v.Errs["organisation"] = v.T("admin.pros.e.org.unknown")
		} else if err != nil {
			w.fail(rw, r, err)
			return
		} else {
			p.OrganisationID = o.ID
		}
	}
	if email, err := space.NormaliseEmail(v.Email); err != nil || (v.Account && email == "") {
		v.Errs["email"] = v.T("admin.pros.e.email")
	} else {
		p.Email = strings.ToLower(email)
	}
	if len(v.Errs) > 0 {
		v.Error = v.T("admin.pros.invalid")
		w.renderPros(rw, r, http.StatusBadRequest, v)
		return
	}

	by := account.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: id.Actor().ID, Name: id.DisplayName}, Channel: audit.ChannelWeb}
	created, err := w.d.Directory.CreateProfessional(ctx, by, p)
	switch {
	case errs.Is(err, errs.Conflict):
		v.Errs["idnat"], v.Error = v.T("admin.pros.e.exists"), v.T("admin.pros.invalid")
		w.renderPros(rw, r, http.StatusConflict, v)
		return
	case errs.Is(err, errs.Invalid) || errs.Is(err, errs.NotFound):
		v.Error = errs.MessageOf(err)
		w.renderPros(rw, r, statusOf(err), v)
		return
	case err != nil:
		w.fail(rw, r, err)
		return
	}
	done := v.T("admin.pros.done", created.DisplayName(), created.IdNat.String())
	if v.Account {
		_, err := w.d.Directory.CreateAccount(ctx, by, account.NewAccount{Kind: account.KindProfessional, Login: p.Email,
			DisplayName: created.DisplayName(), Password: unknownPassword(), ProfessionalID: created.ID})
		switch {
		case errs.Is(err, errs.Conflict) || errs.Is(err, errs.Invalid):
			// The professional stays recorded: the account can be made from the command line.
			v.Error = v.T("admin.pros.account.failed", errs.MessageOf(err))
			v.Done = done
			w.renderPros(rw, r, statusOf(err), v)
			return
		case err != nil:
			w.fail(rw, r, err)
			return
		}
		done += " " + v.T("admin.pros.account.done", p.Email)
		// The link to choose a password; if the limits refuse it now, the professional asks
		// for one on the sign-in page ("mot de passe oublié") with the same address.
		if err := w.d.Auth.RequestReset(ctx, p.Email, w.d.HTTP.Client(r)); err != nil {
			done += " " + v.T("admin.pros.account.nolink")
		}
	}
	// A fresh form for the next one; the list shows the new professional first.
	next := w.prosView(r)
	next.Account, next.Done = true, done
	w.renderPros(rw, r, http.StatusOK, next)
}

// unknownPassword is a password nobody is told (two crypto/rand texts, 256 bits): the account is signed in
// to once its owner chose their own with the reset link.
func unknownPassword() string {
	return rand.Text() + rand.Text()
}
