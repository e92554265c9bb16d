// Package catalogue is the catalogue of referenced health apps (issue 9): the operator records
// an app (its publisher, what it is for, its logo, its website and privacy policy, the data
// categories it asks for with the reason for each, its redirect URIs and SMART scopes) and
// moves it through its statuses; patients browse the referenced ones, connect them and review
// what each was granted.
//
// An app is an OAuth client of internal/oauth, created through its Registry and stored in the
// same transaction as the catalogue's entry: the client's scope is the app's SMART scopes
// restricted to its data categories, so the consent page offers exactly those categories and
// the tokens carry what the patient kept of them (the access decision then enforces it on
// every FHIR endpoint). Only a referenced app's client is enabled: a candidate cannot be
// connected yet, and suspending or withdrawing an app disables its client, which revokes every
// grant, refresh token and access token it holds in the same transaction.
//
// The data categories are the access decision's: document classes (TRE_A03), which is what an
// app's grant names (access.Actor.Classes). The medical profile's sections are decided as the
// documents of a class (internal/profile categories.go), so a category also says which sections
// of the profile it opens; the pages say so in plain words.
//
// Every change is traced with the operator as actor (catalogue.add, catalogue.update,
// catalogue.status, catalogue.logo).
package catalogue

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // the logo formats accepted
	_ "image/png"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Status is where an app stands in the catalogue.
type Status string

const (
	// Candidate: recorded, under review; not shown to patients, not connectable.
	Candidate Status = "candidate"
	// Referenced: shown in the catalogue and connectable.
	Referenced Status = "referenced"
	// Suspended: hidden and disconnected from every space at once; may be referenced again.
	Suspended Status = "suspended"
	// Withdrawn: hidden and disconnected for good.
	Withdrawn Status = "withdrawn"
)

// transitions are the status changes allowed. A withdrawn app stays withdrawn (a publisher
// who comes back is a new candidate, reviewed anew); a candidate is referenced or turned
// down (withdrawn); a referenced app is suspended while a problem is looked into, then
// referenced again or withdrawn.
var transitions = map[Status][]Status{
	Candidate:  {Referenced, Withdrawn},
	Referenced: {Suspended, Withdrawn},
	Suspended:  {Referenced, Withdrawn},
	Withdrawn:  nil,
}

// Statuses lists the statuses in their order.
func Statuses() []Status { return []Status{Candidate, Referenced, Suspended, Withdrawn} }

// Valid reports whether s is a status.
func (s Status) Valid() bool { _, ok := transitions[s]; return ok }

// CanBecome reports whether an app of status s may be given status to.
func (s Status) CanBecome(to Status) bool { return slices.Contains(transitions[s], to) }

// Next lists the statuses s may become.
func (s Status) Next() []Status { return slices.Clone(transitions[s]) }

// Label is the status in French.
func (s Status) Label() string {
	switch s {
	case Candidate:
		return "Candidate"
	case Referenced:
		return "Référencée"
	case Suspended:
		return "Suspendue"
	case Withdrawn:
		return "Retirée"
	}
	return string(s)
}

// English is the status in English.
func (s Status) English() string {
	switch s {
	case Candidate:
		return "Candidate"
	case Referenced:
		return "Referenced"
	case Suspended:
		return "Suspended"
	case Withdrawn:
		return "Withdrawn"
	}
	return string(s)
}

// Category is what an app is for, the catalogue's shelves.
type Category struct {
	Code, Label, English string
}

// categories are the catalogue's shelves. Our default, from the kinds of apps the national
// catalogue lists (measurements and connected devices, chronic disease follow-up, prevention,
// pregnancy and children, medication, mental health), plus "other".
var categories = []Category{
	{"mesures", "Mesures et objets connectés", "Measurements and connected devices"},
	{"maladie-chronique", "Suivi d'une maladie chronique", "Chronic disease follow-up"},
	{"prevention", "Prévention et bien-être", "Prevention and well-being"},
	{"grossesse-enfance", "Grossesse et enfance", "Pregnancy and children"},
	{"medicaments", "Médicaments", "Medication"},
	{"sante-mentale", "Santé mentale", "Mental health"},
	{"autre", "Autre", "Other"},
}

// Categories lists the catalogue's shelves.
func Categories() []Category { return slices.Clone(categories) }

// CategoryOf returns the shelf of code.
func CategoryOf(code string) (Category, bool) {
	i := slices.IndexFunc(categories, func(c Category) bool { return c.Code == code })
	if i < 0 {
		return Category{}, false
	}
	return categories[i], true
}

// DataCategory is a category of data an app asks for, and why.
type DataCategory struct {
	Class         string // document class code (TRE_A03)
	Justification string // the publisher's reason, in plain French
}

// App is an app of the catalogue.
type App struct {
	ID            string // its OAuth client id
	Name          string
	Publisher     string
	Category      string // a Categories code
	Description   string
	Website       string
	PrivacyPolicy string
	Data          []DataCategory // sorted by class
	RedirectURIs  []string
	// Scopes are the SMART scopes as recorded (patient/DocumentReference.rs patient/Observation.c);
	// ClientScope the OAuth client's, restricted to Data's classes.
	Scopes      string
	ClientScope string
	Public      bool // a public client (PKCE only, no secret)
	Offline     bool // may hold a refresh token (offline_access)
	Status      Status
	LogoType    string // "" when it has no logo
	CreatedAt   time.Time
	UpdatedAt   time.Time
	StatusAt    time.Time
}

// Classes returns the classes the app asks for.
func (a App) Classes() []string {
	out := make([]string, len(a.Data))
	for i, d := range a.Data {
		out[i] = d.Class
	}
	return out
}

// Justification returns the reason given for class, "" when the app does not ask for it.
func (a App) Justification(class string) string {
	for _, d := range a.Data {
		if d.Class == class {
			return d.Justification
		}
	}
	return ""
}

// Input is what the operator writes of an app.
type Input struct {
	ID            string // the client id to use; "" gets a random one (Add only)
	Name          string
	Publisher     string
	Category      string
	Description   string
	Website       string
	PrivacyPolicy string
	Data          []DataCategory
	RedirectURIs  []string
	Scopes        string
	Public        bool
	Offline       bool
}

// Filter selects apps.
type Filter struct {
	Status   Status // "" is every status
	Category string // "" is every category
	Query    string // words to find in the name, publisher or description, accents and case ignored
}

// Logo limits: small enough to keep in the database and serve from it.
const (
	MaxLogoBytes = 256 << 10
	maxLogoSide  = 1024
)

// Tx is what the service needs of a store transaction: the OAuth client's, and the catalogue's.
type Tx interface {
	oauth.Tx
	InsertCatalogueApp(ctx context.Context, a App) error
	// UpdateCatalogueApp replaces what the catalogue holds of an app (not its status or logo).
	UpdateCatalogueApp(ctx context.Context, a App) error
	// CatalogueApp returns an app with its client's name, redirect URIs, type, grants and scope.
	CatalogueApp(ctx context.Context, id string) (App, error)
	// CatalogueApps lists the apps of status (every status when ""), by name.
	CatalogueApps(ctx context.Context, status Status) ([]App, error)
	SetCatalogueStatus(ctx context.Context, id string, s Status, at time.Time) error
	SetCatalogueLogo(ctx context.Context, id, contentType string, data []byte, at time.Time) error
	// CatalogueLogo returns an app's logo; NotFound when it has none.
	CatalogueLogo(ctx context.Context, id string) (string, []byte, error)
}

// Store opens transactions.
type Store interface {
	UpdateCatalogue(ctx context.Context, fn func(Tx) error) error
	ViewCatalogue(ctx context.Context, fn func(Tx) error) error
}

// Service is the catalogue.
type Service struct {
	store    Store
	clock    clock.Clock
	cat      *terminology.Catalog
	registry *oauth.Registry
}

// NewService returns the catalogue. registry is the OAuth server's (oauth.Server.Registry).
func NewService(st Store, clk clock.Clock, cat *terminology.Catalog, registry *oauth.Registry) *Service {
	return &Service{store: st, clock: clk, cat: cat, registry: registry}
}

// check validates in and returns the OAuth client it makes.
func (s *Service) check(in *Input) (oauth.Client, error) {
	clean := func(v string) string { return strings.TrimSpace(v) }
	in.Name, in.Publisher, in.Category = clean(in.Name), clean(in.Publisher), clean(in.Category)
	in.Description, in.Website, in.PrivacyPolicy, in.Scopes = clean(in.Description), clean(in.Website), clean(in.PrivacyPolicy), clean(in.Scopes)
	if !printable(in.Publisher, 1, 100) {
		return oauth.Client{}, errs.E(errs.Invalid, "the publisher is 1 to 100 printable characters")
	}
	if _, ok := CategoryOf(in.Category); !ok {
		return oauth.Client{}, errs.E(errs.Invalid, "unknown app category %q: one of %s", clipped(in.Category), categoryCodes())
	}
	if !text(in.Description, 1, 2000) {
		return oauth.Client{}, errs.E(errs.Invalid, "the description is 1 to 2000 characters, lines allowed")
	}
	if err := httpsURL("website", in.Website); err != nil {
		return oauth.Client{}, err
	}
	if err := httpsURL("privacy policy", in.PrivacyPolicy); err != nil {
		return oauth.Client{}, err
	}
	in.Data = slices.Clone(in.Data) // trimmed and sorted below: the caller's stays as given
	if len(in.Data) > 64 {
		return oauth.Client{}, errs.E(errs.Invalid, "at most 64 data categories")
	}
	var classes []string
	for i := range in.Data {
		d := &in.Data[i]
		d.Class, d.Justification = clean(d.Class), clean(d.Justification)
		if _, err := s.cat.Class(d.Class); err != nil {
			return oauth.Client{}, errs.E(errs.Invalid, "data category %q is not a document class (TRE_A03)", clipped(d.Class))
		}
		if slices.Contains(classes, d.Class) {
			return oauth.Client{}, errs.E(errs.Invalid, "data category %s is given twice", d.Class)
		}
		if !printable(d.Justification, 10, 500) {
			return oauth.Client{}, errs.E(errs.Invalid, "the justification of data category %s is 10 to 500 printable characters", d.Class)
		}
		classes = append(classes, d.Class)
	}
	slices.SortFunc(in.Data, func(a, b DataCategory) int { return strings.Compare(a.Class, b.Class) })
	slices.Sort(classes)
	sc, err := oauth.ParseScope(in.Scopes, s.cat)
	if err != nil {
		return oauth.Client{}, err
	}
	if sc.Context != oauth.ContextPatient || sc.Empty() {
		return oauth.Client{}, errs.E(errs.Invalid, "an app's scopes are SMART patient/ scopes, e.g. patient/DocumentReference.rs patient/Observation.c")
	}
	if sc.Classes != nil {
		return oauth.Client{}, errs.E(errs.Invalid, "the scopes name no category: the data categories say which, each with its justification")
	}
	if sc.HasData() && len(classes) == 0 {
		return oauth.Client{}, errs.E(errs.Invalid, "an app reading or writing data names the data categories it asks for")
	}
	if !sc.HasData() && len(classes) > 0 {
		return oauth.Client{}, errs.E(errs.Invalid, "data categories are given but no scope reads or writes them")
	}
	sc.Classes = classes
	// offline_access among the scopes is how SMART asks to stay connected: the same as Offline.
	in.Offline = in.Offline || sc.Offline
	sc.Offline = in.Offline
	c := oauth.Client{ID: in.ID, Name: in.Name, Type: oauth.Confidential, RedirectURIs: in.RedirectURIs, Scope: sc.String(),
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode}}
	if in.Public {
		c.Type = oauth.Public
	}
	if in.Offline {
		c.GrantTypes = append(c.GrantTypes, oauth.GrantRefreshToken)
	}
	return c, nil
}

// Add records a new app, a candidate: its OAuth client is created disabled (nobody can connect
// it until it is referenced). It returns the app and, for a confidential client, its secret,
// shown once.
func (s *Service) Add(ctx context.Context, by audit.Actor, ch audit.Channel, in Input) (App, string, error) {
	c, err := s.check(&in)
	if err != nil {
		return App{}, "", err
	}
	c, secret, hash, err := s.registry.Prepare(c)
	if err != nil {
		return App{}, "", err
	}
	now := s.clock.Now()
	a := App{ID: c.ID, Name: c.Name, Publisher: in.Publisher, Category: in.Category, Description: in.Description,
		Website: in.Website, PrivacyPolicy: in.PrivacyPolicy, Data: in.Data, RedirectURIs: c.RedirectURIs, Scopes: in.Scopes,
		ClientScope: c.Scope, Public: in.Public, Offline: in.Offline, Status: Candidate, CreatedAt: now, UpdatedAt: now, StatusAt: now}
	e := audit.Entry{At: now, Actor: by, Channel: ch, Action: "catalogue.add", Object: "app/" + c.ID,
		Detail: fmt.Sprintf("%s (%s) status=%s scope=%s", clipped(a.Name), clipped(a.Publisher), a.Status, c.Scope)}
	err = audit.Do(ctx, s.store.UpdateCatalogue, e, func(tx Tx, _ *audit.Entry) error {
		if err := tx.InsertOAuthClient(ctx, c, hash); err != nil {
			return err
		}
		if err := tx.DisableOAuthClient(ctx, c.ID, now); err != nil {
			return err
		}
		return tx.InsertCatalogueApp(ctx, a)
	})
	if err != nil {
		return App{}, "", err
	}
	return a, secret, nil
}

// Update replaces what the operator wrote of an app (its id, client type and status stay).
// When the scope its client may be granted changes, the grants patients gave under the former
// one are revoked: they consented to something else, and connect the app again.
func (s *Service) Update(ctx context.Context, by audit.Actor, ch audit.Channel, id string, in Input) (App, error) {
	in.ID = id
	c, err := s.check(&in)
	if err != nil {
		return App{}, err
	}
	if c, _, _, err = s.registry.Prepare(c); err != nil {
		return App{}, err
	}
	now := s.clock.Now()
	var a App
	e := audit.Entry{At: now, Actor: by, Channel: ch, Action: "catalogue.update", Object: "app/" + id}
	err = audit.Do(ctx, s.store.UpdateCatalogue, e, func(tx Tx, e *audit.Entry) error {
		cur, err := tx.CatalogueApp(ctx, id)
		if err != nil {
			return err
		}
		if cur.Public != in.Public {
			return errs.E(errs.Invalid, "an app's client type (public or confidential) cannot change: record a new app")
		}
		if cur.Status == Withdrawn {
			return errs.E(errs.Conflict, "a withdrawn app is not changed any more")
		}
		a = cur
		a.Name, a.Publisher, a.Category, a.Description = c.Name, in.Publisher, in.Category, in.Description
		a.Website, a.PrivacyPolicy, a.Data, a.RedirectURIs = in.Website, in.PrivacyPolicy, in.Data, c.RedirectURIs
		a.Scopes, a.ClientScope, a.Offline, a.UpdatedAt = in.Scopes, c.Scope, in.Offline, now
		if err := tx.UpdateOAuthClient(ctx, c); err != nil {
			return err
		}
		if err := tx.UpdateCatalogueApp(ctx, a); err != nil {
			return err
		}
		e.Detail = fmt.Sprintf("%s (%s) scope=%s", clipped(a.Name), clipped(a.Publisher), c.Scope)
		if cur.ClientScope != c.Scope {
			// Disabling revokes every grant and token; a referenced app is enabled again at once.
			if err := tx.DisableOAuthClient(ctx, id, now); err != nil {
				return err
			}
			if cur.Status == Referenced {
				if err := tx.EnableOAuthClient(ctx, id); err != nil {
					return err
				}
			}
			e.Detail += " grants revoked (scope changed)"
		}
		return nil
	})
	if err != nil {
		return App{}, err
	}
	return a, nil
}

// SetStatus moves an app to status to, if the transition is allowed. Referencing enables its
// OAuth client; suspending or withdrawing disables it, which revokes every grant and token of
// the app in the same transaction: its next call is refused.
func (s *Service) SetStatus(ctx context.Context, by audit.Actor, ch audit.Channel, id string, to Status, reason string) (App, error) {
	reason = strings.TrimSpace(reason)
	if !to.Valid() {
		return App{}, errs.E(errs.Invalid, "unknown status %q: candidate, referenced, suspended or withdrawn", clipped(string(to)))
	}
	if !printable(reason, 0, 500) {
		return App{}, errs.E(errs.Invalid, "the reason is at most 500 printable characters")
	}
	now := s.clock.Now()
	var a App
	e := audit.Entry{At: now, Actor: by, Channel: ch, Action: "catalogue.status", Object: "app/" + id}
	err := audit.Do(ctx, s.store.UpdateCatalogue, e, func(tx Tx, e *audit.Entry) error {
		cur, err := tx.CatalogueApp(ctx, id)
		if err != nil {
			return err
		}
		e.Detail = fmt.Sprintf("%s %s -> %s", clipped(cur.Name), cur.Status, to)
		if reason != "" {
			e.Detail += " reason=" + reason
		}
		if !cur.Status.CanBecome(to) {
			return errs.E(errs.Conflict, "an app %s cannot become %s (allowed: %s)", cur.Status, to, joinStatuses(cur.Status.Next()))
		}
		if err := tx.SetCatalogueStatus(ctx, id, to, now); err != nil {
			return err
		}
		if to == Referenced {
			err = tx.EnableOAuthClient(ctx, id)
		} else {
			err = tx.DisableOAuthClient(ctx, id, now)
		}
		if err != nil {
			return err
		}
		a = cur
		a.Status, a.StatusAt = to, now
		return nil
	})
	if err != nil {
		return App{}, err
	}
	return a, nil
}

// SetLogo replaces an app's logo: a PNG or JPEG, at most MaxLogoBytes and 1024 pixels a side,
// whose content is decoded to be sure it is the image it claims (no SVG: it can carry
// scripts). It is served with the type found here, never one the uploader gave.
func (s *Service) SetLogo(ctx context.Context, by audit.Actor, ch audit.Channel, id string, data []byte) error {
	typ, err := CheckLogo(data)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	e := audit.Entry{At: now, Actor: by, Channel: ch, Action: "catalogue.logo", Object: "app/" + id,
		Detail: fmt.Sprintf("%s %d bytes", typ, len(data))}
	return audit.Do(ctx, s.store.UpdateCatalogue, e, func(tx Tx, _ *audit.Entry) error {
		if _, err := tx.CatalogueApp(ctx, id); err != nil {
			return err
		}
		return tx.SetCatalogueLogo(ctx, id, typ, data, now)
	})
}

// CheckLogo returns the content type of an acceptable logo, or why it is not.
func CheckLogo(data []byte) (string, error) {
	if len(data) == 0 || len(data) > MaxLogoBytes {
		return "", errs.E(errs.Invalid, "a logo is a PNG or JPEG image of at most %d KiB", MaxLogoBytes>>10)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "png" && format != "jpeg") {
		return "", errs.E(errs.Invalid, "a logo is a PNG or JPEG image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxLogoSide || cfg.Height > maxLogoSide {
		return "", errs.E(errs.Invalid, "a logo is at most %d pixels a side", maxLogoSide)
	}
	// Decoding it whole proves the image data is complete and sound, not only its header. It
	// does not prove the file is nothing else: a decoder stops at the image's end (PNG's IEND,
	// JPEG's EOI) and ignores what follows, so a polyglot's tail (HTML, a script, an archive)
	// passes. What makes that harmless is how the logo is served: its checked type with
	// nosniff and a sandboxing CSP (web appLogo), never as a page.
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return "", errs.E(errs.Invalid, "the logo image is damaged")
	}
	return "image/" + format, nil
}

// Logo returns an app's logo and its content type. publicOnly: only a referenced app's (the
// patients' pages).
func (s *Service) Logo(ctx context.Context, id string, publicOnly bool) (string, []byte, error) {
	var (
		typ  string
		data []byte
	)
	err := s.store.ViewCatalogue(ctx, func(tx Tx) error {
		a, err := tx.CatalogueApp(ctx, id)
		if err != nil {
			return err
		}
		if publicOnly && a.Status != Referenced {
			return errs.E(errs.NotFound, "no such app")
		}
		typ, data, err = tx.CatalogueLogo(ctx, id)
		return err
	})
	return typ, data, err
}

// Get returns an app, whatever its status (the operator's view).
func (s *Service) Get(ctx context.Context, id string) (App, error) {
	var a App
	err := s.store.ViewCatalogue(ctx, func(tx Tx) error {
		var err error
		a, err = tx.CatalogueApp(ctx, id)
		return err
	})
	return a, err
}

// Referenced returns a referenced app (the patients' view); NotFound for any other.
func (s *Service) Referenced(ctx context.Context, id string) (App, error) {
	a, err := s.Get(ctx, id)
	if err == nil && a.Status != Referenced {
		err = errs.E(errs.NotFound, "no such app in the catalogue")
	}
	return a, err
}

// List returns the apps f selects, by name.
func (s *Service) List(ctx context.Context, f Filter) ([]App, error) {
	var all []App
	err := s.store.ViewCatalogue(ctx, func(tx Tx) error {
		var err error
		all, err = tx.CatalogueApps(ctx, f.Status)
		return err
	})
	if err != nil {
		return nil, err
	}
	words := strings.Fields(fold(f.Query))
	out := all[:0]
	for _, a := range all {
		if f.Category != "" && a.Category != f.Category {
			continue
		}
		hay := fold(a.Name + " " + a.Publisher + " " + a.Description)
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(hay, w)
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// Catalogue is what patients browse: the referenced apps of category (all when ""), matching query.
func (s *Service) Catalogue(ctx context.Context, category, query string) ([]App, error) {
	if len(query) > 200 {
		query = query[:200]
	}
	return s.List(ctx, Filter{Status: Referenced, Category: category, Query: query})
}

// Description is what the consent page shows of an app (oauth.Deps.Describe).
func (s *Service) Description(ctx context.Context, clientID string) (oauth.Description, error) {
	a, err := s.Referenced(ctx, clientID)
	if err != nil {
		return oauth.Description{}, err
	}
	d := oauth.Description{Publisher: a.Publisher, Categories: map[string]oauth.CategoryText{}}
	for _, dc := range a.Data {
		d.Categories[dc.Class] = oauth.CategoryText{Justification: dc.Justification, Includes: s.Includes(dc.Class)}
	}
	return d, nil
}

// Includes says in French what a category covers of the medical profile, "" when nothing.
func (s *Service) Includes(class string) string {
	var sections []string
	for _, sec := range profile.Sections() {
		if sec.Class() == class {
			sections = append(sections, strings.ToLower(sec.Label()))
		}
	}
	if len(sections) == 0 {
		return ""
	}
	return "Dans votre profil médical : " + strings.Join(sections, ", ") + "."
}

// ClassLabel is a class's French label.
func (s *Service) ClassLabel(class string) string {
	if c, err := s.cat.Class(class); err == nil {
		return c.Label
	}
	return class
}

// Connection is an app a patient connected: the grant and what it allows.
type Connection struct {
	Grant   oauth.Grant
	App     App      // zero when the client is not (or no longer) in the catalogue
	Classes []string // the categories granted; nil with AllClasses (every category) or without Data
	// AllClasses: the grant reads or writes data of every category; Data: of any category
	// (a grant of the trail of accesses alone has none).
	AllClasses, Data bool
	// Unreadable: the grant's scope no longer parses (a vocabulary changed since): the page
	// says so rather than guessing what it allows. Its tokens carry what they were issued with.
	Unreadable bool
	Actions    []access.Action
	Offline    bool
	// Identity: the grant reads the holder's identity (SMART patient/Patient.r).
	Identity   bool
	Active     bool
	AppMissing bool
}

// Connected lists the apps connected to a patient's space, the active ones first, newest
// first. The grants and their apps are read in one transaction, so that a page never shows a
// grant with the app as it was before or after another change.
func (s *Service) Connected(ctx context.Context, patientID int64) ([]Connection, error) {
	var out []Connection
	err := s.store.ViewCatalogue(ctx, func(tx Tx) error {
		out = nil
		grants, err := tx.OAuthGrants(ctx, patientID)
		if err != nil {
			return err
		}
		apps := map[string]App{}
		for _, g := range grants {
			c := Connection{Grant: g, Active: g.RevokedAt.IsZero()}
			if sc, err := oauth.ParseScope(g.Scope, s.cat); err == nil {
				c.Classes, c.Actions, c.Offline, c.Identity = sc.Classes, sc.Actions(), sc.Offline, sc.Patient != 0
				c.Data = sc.HasData()
				c.AllClasses = c.Data && sc.Classes == nil
			} else {
				c.Unreadable = true
			}
			a, seen := apps[g.ClientID]
			if !seen {
				a, err = tx.CatalogueApp(ctx, g.ClientID)
				switch {
				case errs.Is(err, errs.NotFound):
					a = App{}
				case err != nil:
					return err
				}
				apps[g.ClientID] = a
			}
			c.App, c.AppMissing = a, a.ID == ""
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Connection) int {
		switch {
		case a.Active == b.Active:
			return 0
		case a.Active:
			return -1
		}
		return 1
	})
	return out, nil
}

// Disconnect revokes a patient's grant to an app (the "connected apps" page): its tokens stop
// at once. by is the patient or their representative, acting for patientID.
func (s *Service) Disconnect(ctx context.Context, by audit.Actor, ch audit.Channel, patientID int64, grantID string) error {
	return s.registry.RevokeGrant(ctx, by, ch, patientID, grantID)
}

// fold lowers s and strips its accents, for search.
func fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

func printable(s string, min, max int) bool {
	n := utf8.RuneCountInString(s)
	return utf8.ValidString(s) && n >= min && n <= max && strings.IndexFunc(s, unicode.IsControl) < 0
}

// text is printable but for line breaks.
func text(s string, min, max int) bool {
	return printable(strings.NewReplacer("\r\n", " ", "\n", " ").Replace(s), min, max)
}

func httpsURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(s) > 512 || strings.ContainsAny(s, " \t\r\n") {
		return errs.E(errs.Invalid, "the %s is an https address of at most 512 characters", what)
	}
	return nil
}

func clipped(s string) string {
	if utf8.RuneCountInString(s) > 80 {
		return string([]rune(s)[:80]) + "…"
	}
	return s
}

func categoryCodes() string {
	codes := make([]string, len(categories))
	for i, c := range categories {
		codes[i] = c.Code
	}
	return strings.Join(codes, ", ")
}

func joinStatuses(ss []Status) string {
	if len(ss) == 0 {
		return "none"
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
