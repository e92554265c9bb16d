package web

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The professional's pages: find a patient by INS, read what the access decision allows,
// deposit a document, and in an emergency break the glass with a stated reason. A patient
// is named in URLs by the record's internal id, never by INS.

// pro runs h for a signed-in professional; anyone else is sent to sign in.
func (w *Web) pro(h func(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		if !ok || id.Kind != account.KindProfessional {
			q := url.Values{"retour": {r.URL.Path}}
			http.Redirect(rw, r, "/connexion?"+q.Encode(), http.StatusSeeOther)
			return
		}
		h(rw, r, id, record.Request{Actor: id.Actor(), Channel: audit.ChannelWeb})
	}
}

// proHome: GET /pro, the patient search.
func (w *Web) proHome(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	w.render(rw, r, http.StatusOK, "pro_home", struct {
		patientPage
		Error string
	}{patientPage: patientPage{Page: w.page(r, "pro.title"), Nav: "pro"}})
}

// proFind: POST /pro/recherche, a patient by INS: a traced existence test, then their page.
func (w *Web) proFind(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v := struct {
		patientPage
		Error string
	}{patientPage: patientPage{Page: w.page(r, "pro.title"), Nav: "pro"}}
	ins, err := identity.ParseINS(strings.ReplaceAll(r.PostFormValue("ins"), " ", ""))
	if err != nil {
		v.Error = v.T("pro.find.invalid")
		w.render(rw, r, http.StatusBadRequest, "pro_home", v)
		return
	}
	st, err := w.d.Records.LookupSpace(r.Context(), req, ins)
	if errs.Is(err, errs.NotFound) {
		v.Error = v.T("pro.find.none")
		w.render(rw, r, http.StatusNotFound, "pro_home", v)
		return
	}
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, "/pro/patients/"+strconv.FormatInt(st.PatientID, 10), http.StatusSeeOther)
}

// proPatientView is a patient's record as a professional sees it.
type proPatientView struct {
	patientPage
	PatientID  string
	Name, Born string
	State      string
	Documents  []docRow
	Refused    string // the decision's reason, said to the professional
	BreakGlass string // the reason stated for an emergency access in progress
	CanBreak   bool
	Error      string
	Deposited  bool
}

// proPatient: GET /pro/patients/{id}, and POST for an emergency access (the reason in the
// form, never in a URL).
func (w *Web) proPatient(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	pid, err := strconv.ParseInt(r.PathValue("patient"), 10, 64)
	if err != nil || pid <= 0 {
		w.fail(rw, r, errs.E(errs.NotFound, "no such patient"))
		return
	}
	p, sp, err := w.d.Spaces.Get(r.Context(), pid)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := proPatientView{patientPage: patientPage{Page: w.page(r, "pro.patient.title"), Nav: "pro"}, PatientID: strconv.FormatInt(pid, 10),
		Name: strings.TrimSpace(p.GivenNames + " " + p.BirthName), Born: frDate(p.BirthDate), Deposited: r.FormValue("fait") == "depot"}
	v.State = v.T("state." + string(sp.State))
	if r.Method == http.MethodPost {
		reason := strings.TrimSpace(r.PostFormValue("motif"))
		if reason == "" {
			v.Error = v.T("pro.breakglass.required")
			v.CanBreak = true
			w.render(rw, r, http.StatusBadRequest, "pro_patient", v)
			return
		}
		v.BreakGlass = reason
		req.BreakGlass = &access.BreakGlass{Reason: reason}
	}
	page, err := w.d.Records.Search(r.Context(), req, record.Query{PatientID: pid, All: true, Limit: 200})
	switch {
	case err == nil:
	case errs.Is(err, errs.Forbidden) || errs.Is(err, errs.Invalid):
		v.Refused = w.refusal(v.Lang, err)
		v.CanBreak = req.BreakGlass == nil
		w.render(rw, r, http.StatusForbidden, "pro_patient", v)
		return
	default:
		w.fail(rw, r, err)
		return
	}
	now := w.d.Clock.Now()
	for i := range page.Documents {
		v.Documents = append(v.Documents, w.docRow(v.Lang, &page.Documents[i], now))
	}
	w.render(rw, r, http.StatusOK, "pro_patient", v)
}

// refusal says a refused decision in the page's language, from its reason code.
func (w *Web) refusal(l Lang, err error) string {
	if reason := access.RefusalOf(err); reason != "" {
		fr, en := reason.Messages()
		if l == English {
			return en
		}
		return fr
	}
	return errs.MessageOf(err)
}

// proDocument: GET (or POST, under an emergency access) /pro/documents/{doc}/contenu: the
// bytes, read through the decision and traced.
func (w *Web) proDocument(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if r.Method == http.MethodPost {
		if reason := strings.TrimSpace(r.PostFormValue("motif")); reason != "" {
			req.BreakGlass = &access.BreakGlass{Reason: reason}
		}
	}
	d, b, err := w.d.Records.ReadAll(r.Context(), req, r.PathValue("doc"))
	if err != nil {
		if errs.Is(err, errs.Forbidden) {
			v := struct {
				Page
				Message string
			}{Page: w.page(r, "error.title")}
			v.Message = w.refusal(v.Lang, err)
			w.render(rw, r, http.StatusForbidden, "error", v)
			return
		}
		w.fail(rw, r, err)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", d.MimeType)
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'")
	h.Set("Content-Disposition", `attachment; filename="`+d.LogicalID+extensionOf(d.MimeType)+`"`)
	http.ServeContent(rw, r, "", d.Updated, bytes.NewReader(b))
}

// proDepositForm: GET /pro/patients/{patient}/depot.
func (w *Web) proDepositForm(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	w.render(rw, r, http.StatusOK, "pro_deposit", w.depositView(r, ""))
}

type depositView struct {
	patientPage
	PatientID string
	Types     []terminology.TypeCode
	Error     string
	Today     string
}

func (w *Web) depositView(r *http.Request, problem string) depositView {
	v := depositView{patientPage: patientPage{Page: w.page(r, "pro.deposit.title"), Nav: "pro"}, PatientID: r.PathValue("patient"),
		Error: problem, Today: w.d.Clock.Now().In(paris).Format("2006-01-02")}
	for _, t := range w.d.Catalog.Types() {
		if t.Space == terminology.SpaceDocuments || t.Space == terminology.SpaceProfile {
			v.Types = append(v.Types, t)
		}
	}
	return v
}

// proDeposit: POST /pro/patients/{patient}/depot, a document with its metadata.
func (w *Web) proDeposit(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	pid, err := strconv.ParseInt(r.PathValue("patient"), 10, 64)
	if err != nil || pid <= 0 {
		w.fail(rw, r, errs.E(errs.NotFound, "no such patient"))
		return
	}
	p, _, err := w.d.Spaces.Get(r.Context(), pid)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	max := w.d.Records.Policy().MaxSize
	r.Body = http.MaxBytesReader(rw, r.Body, max+1<<20)
	f, hdr, err := r.FormFile("fichier")
	if err != nil {
		w.render(rw, r, http.StatusBadRequest, "pro_deposit", w.depositView(r, w.page(r, "").T("pro.deposit.nofile")))
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		w.fail(rw, r, errs.E(errs.Invalid, "the file could not be read"))
		return
	}
	act, err := time.ParseInLocation("2006-01-02", r.PostFormValue("date_acte"), paris)
	if err != nil {
		w.render(rw, r, http.StatusBadRequest, "pro_deposit", w.depositView(r, w.page(r, "").T("pro.deposit.nodate")))
		return
	}
	dep := record.Deposit{INS: p.INS, Title: r.PostFormValue("titre"), Type: r.PostFormValue("type"), MimeType: hdr.Header.Get("Content-Type"),
		ServiceStart: act, Comments: r.PostFormValue("commentaire"), MasquePS: r.PostFormValue("masque") == "1",
		InvisiblePatient: r.PostFormValue("annonce") == "1"}
	if _, err := w.d.Records.Deposit(r.Context(), req, dep, b); err != nil {
		switch {
		case errs.Is(err, errs.Invalid) || errs.Is(err, errs.Conflict):
			w.render(rw, r, http.StatusBadRequest, "pro_deposit", w.depositView(r, errs.MessageOf(err)))
		case errs.Is(err, errs.Forbidden):
			w.render(rw, r, http.StatusForbidden, "pro_deposit", w.depositView(r, w.refusal(w.page(r, "").Lang, err)))
		default:
			w.fail(rw, r, err)
		}
		return
	}
	http.Redirect(rw, r, "/pro/patients/"+strconv.FormatInt(pid, 10)+"?fait=depot", http.StatusSeeOther)
}
