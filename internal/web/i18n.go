package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

// Lang is a language of the pages.
type Lang string

const (
	French  Lang = "fr"
	English Lang = "en"
)

// langCookie keeps the visitor's choice of language.
const langCookie = "carnet_lang"

func parseLang(s string) (Lang, bool) {
	switch Lang(s) {
	case French, English:
		return Lang(s), true
	}
	return "", false
}

// language is the visitor's language: their choice (the cookie), else the first of French or
// English their browser prefers, else French.
func language(r *http.Request) Lang {
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := parseLang(c.Value); ok {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if l, ok := parseLang(base); ok {
			return l
		}
	}
	return French
}

// T returns the text of key in l, formatted with args. A key missing from the catalogue shows
// as itself between question marks, which the catalogue's test forbids.
func (l Lang) T(key string, args ...any) string {
	m, ok := catalogue[key]
	if !ok {
		return "?" + key + "?"
	}
	s := m[0]
	if l == English {
		s = m[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Other is the language the switcher offers.
func (l Lang) Other() Lang {
	if l == English {
		return French
	}
	return English
}

// funcs are the template functions.
var funcs = template.FuncMap{
	// safe marks a catalogue string holding markup of ours (a <br>) as HTML. Only for strings
	// of the catalogue, never for anything a user wrote.
	"safe": func(s string) template.HTML { return template.HTML(s) },
}

// catalogue holds every string of the pages: French, then English.
var catalogue = map[string][2]string{
	"site.name":        {"carnet", "carnet"},
	"site.tagline":     {"Mon espace santé", "My health space"},
	"site.home":        {"Accueil", "Home"},
	"site.home.title":  {"Accueil — Mon espace santé", "Home — My health space"},
	"site.republic":    {"République<br>Française", "République<br>Française"},
	"site.skip":        {"Accès rapide", "Skip links"},
	"site.skip.main":   {"Contenu", "Content"},
	"site.skip.footer": {"Pied de page", "Footer"},
	"site.lang":        {"Langue", "Language"},
	"site.lang.switch": {"English", "Français"},
	"site.footer.text": {"carnet est un logiciel libre d'espace numérique de santé : vos documents, votre profil médical, vos messages et l'historique de chaque accès à vos données.",
		"carnet is free software for a personal health space: your documents, your medical profile, your messages and the record of every access to your data."},
	"site.signin":  {"Se connecter", "Sign in"},
	"site.signout": {"Se déconnecter", "Sign out"},

	"home.title": {"Mon espace santé", "My health space"},
	"home.lead": {"Un espace personnel et sécurisé pour conserver vos documents de santé et les partager avec les professionnels qui vous soignent.",
		"A personal and secure space to keep your health documents and share them with the professionals who care for you."},
	"home.documents":       {"Vos documents", "Your documents"},
	"home.documents.text":  {"Comptes rendus, ordonnances, résultats : déposés par vos soignants ou par vous.", "Reports, prescriptions, results: deposited by those who care for you, or by you."},
	"home.trail":           {"Qui a consulté votre dossier", "Who read your record"},
	"home.trail.text":      {"Chaque accès à vos données est tracé, et vous pouvez le consulter à tout moment.", "Every access to your data is recorded, and you can read it at any time."},
	"home.control":         {"Vous décidez", "You decide"},
	"home.control.text":    {"Masquez un document, bloquez un professionnel, exportez tout votre espace.", "Hide a document, block a professional, export your whole space."},
	"error.notfound.title": {"Page introuvable", "Page not found"},
	"error.notfound.text":  {"La page que vous cherchez n'existe pas ou a été déplacée.", "The page you are looking for does not exist or has moved."},
	"error.back":           {"Retour à l'accueil", "Back to the home page"},
}
