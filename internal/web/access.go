package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
)

// The patient's page of who may access their record (issue 5): their médecins traitants,
// their care team, the professionals they authorised or refused, those they blocked, and
// their oppositions to emergency access. Every change is an access decision of its own
// (access.ActionManageAccess), traced; reading the page is traced too.

// proRow is a professional on one of the lists.
type proRow struct {
	IdNat, Name, Profession, Since, Detail string
}

type accessView struct {
	patientPage
	MedecinsTraitants, CareTeam, Authorised, Refused, Blocked []proRow
	BreakGlassOpposed, RegulationOpposed                      bool
	Done, Error                                               string
}

// accessPage: GET /moi/professionnels.
func (w *Web) accessPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	w.renderAccess(rw, r, id, req, http.StatusOK, "")
}

func (w *Web) renderAccess(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request, status int, problem string) {
	st, err := w.d.Access.Settings(r.Context(), req.Actor, req.Channel, req.Actor.PatientID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := accessView{patientPage: w.patientPage(r, id, "access.title", "access"), BreakGlassOpposed: st.Oppositions.BreakGlass,
		RegulationOpposed: st.Oppositions.Regulation, Error: problem}
	if done := r.FormValue("fait"); done != "" && problem == "" {
		v.Done = v.T("access.done")
	}
	var ids []string
	for _, m := range st.MedecinsTraitants {
		ids = append(ids, m.IdNat)
	}
	for _, m := range st.CareTeam {
		ids = append(ids, m.IdNat)
	}
	for _, a := range st.Authorisations {
		ids = append(ids, a.IdNat)
	}
	for _, m := range st.Blocked {
		ids = append(ids, m.IdNat)
	}
	names, err := w.d.Directory.Professionals(r.Context(), ids)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	row := func(idnat string, since time.Time, detail string) proRow {
		p := proRow{IdNat: idnat, Name: idnat, Since: frDate(since), Detail: detail}
		if d, ok := names[idnat]; ok {
			p.Name = d.DisplayName()
			if prof, err := w.d.Catalog.Profession(d.Profession); err == nil {
				p.Profession = prof.Label
			}
		}
		return p
	}
	for _, m := range st.MedecinsTraitants {
		v.MedecinsTraitants = append(v.MedecinsTraitants, row(m.IdNat, m.Since, ""))
	}
	for _, m := range st.CareTeam {
		v.CareTeam = append(v.CareTeam, row(m.IdNat, m.Since, v.T("access.basis."+string(m.Basis))))
	}
	for _, a := range st.Authorisations {
		switch a.State {
		case access.AuthRefused:
			v.Refused = append(v.Refused, row(a.IdNat, a.UpdatedAt, ""))
		case access.AuthExpired:
			v.Authorised = append(v.Authorised, row(a.IdNat, a.GrantedAt, v.T("access.expired", frDate(a.Until))))
		default:
			v.Authorised = append(v.Authorised, row(a.IdNat, a.GrantedAt, v.T("access.until", frDate(a.Until))))
		}
	}
	for _, m := range st.Blocked {
		v.Blocked = append(v.Blocked, row(m.IdNat, m.Since, ""))
	}
	w.render(rw, r, status, "access", v)
}

// accessChange: POST /moi/professionnels/{action}: one change of the settings.
func (w *Web) accessChange(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	action := r.PathValue("action")
	ctx, a, ch, pid := r.Context(), req.Actor, req.Channel, req.Actor.PatientID
	var err error
	if action == "oppositions" {
		err = w.d.Access.SetOppositions(ctx, a, ch, pid, r.PostFormValue("bris_de_glace") == "1", r.PostFormValue("regulation") == "1")
	} else {
		idnat, perr := professionalID(r.PostFormValue("professionnel"))
		if perr != nil {
			w.renderAccess(rw, r, id, req, http.StatusBadRequest, w.page(r, "").T("access.bad.id"))
			return
		}
		switch action {
		case "medecin-traitant":
			err = w.d.Access.DesignateMedecinTraitant(ctx, a, ch, pid, idnat)
		case "medecin-traitant-retirer":
			err = w.d.Access.RemoveMedecinTraitant(ctx, a, ch, pid, idnat)
		case "autoriser":
			_, err = w.d.Access.GrantAuthorisation(ctx, a, ch, pid, idnat, 0)
		case "retirer-autorisation":
			err = w.d.Access.RevokeAuthorisation(ctx, a, ch, pid, idnat)
		case "bloquer":
			err = w.d.Access.Block(ctx, a, ch, pid, idnat)
		case "debloquer":
			err = w.d.Access.Unblock(ctx, a, ch, pid, idnat)
		case "retirer-equipe":
			err = w.d.Access.RemoveFromCareTeam(ctx, a, ch, pid, idnat)
		default:
			w.notFound(rw, r)
			return
		}
	}
	switch {
	case err == nil:
		http.Redirect(rw, r, baseOf(r)+"/professionnels?fait=1", http.StatusSeeOther)
	case errs.Is(err, errs.Invalid) || errs.Is(err, errs.Conflict) || errs.Is(err, errs.NotFound):
		w.renderAccess(rw, r, id, req, statusOf(err), errs.MessageOf(err))
	case errs.Is(err, errs.Forbidden):
		w.renderAccess(rw, r, id, req, http.StatusForbidden, w.refusal(w.page(r, "").Lang, err))
	default:
		w.fail(rw, r, err)
	}
}

// professionalID reads what a patient typed to name a professional: an RPPS (11 digits) or
// an IdNat_PS, as on the professional's card or letterhead.
func professionalID(s string) (string, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if len(s) == 11 && !slices.ContainsFunc([]byte(s), func(c byte) bool { return c < '0' || c > '9' }) {
		s = "8" + s
	}
	id, err := identity.ParseIdNatPS(s)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}
