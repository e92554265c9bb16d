package space

import (
	"fmt"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/notify"
)

// The notices carry no health content (DOMAIN: "The patient is notified on their personal
// e-mail, without any health content"): only that a space exists or changed, and where to go.

var frenchMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet",
	"août", "septembre", "octobre", "novembre", "décembre"}

func frenchDate(t time.Time) string {
	t = t.In(paris)
	return fmt.Sprintf("%d %s %d", t.Day(), frenchMonths[t.Month()-1], t.Year())
}

var paris = func() *time.Location {
	if loc, err := time.LoadLocation("Europe/Paris"); err == nil {
		return loc
	}
	return time.UTC
}()

func creationNotice(to, name, code, publicURL string, opensAt time.Time, forChild bool, id string) notify.Message {
	var b strings.Builder
	whose := "votre espace santé"
	if forChild {
		whose = "l'espace santé de " + name + ", dont vous êtes représentant légal,"
		fmt.Fprintf(&b, "Bonjour,\n\n")
	} else {
		fmt.Fprintf(&b, "Bonjour %s,\n\n", name)
	}
	fmt.Fprintf(&b, "L'Assurance Maladie va créer %s sur carnet.\n", whose)
	fmt.Fprintf(&b, "Sans opposition de votre part, il sera ouvert automatiquement le %s.\n\n", frenchDate(opensAt))
	fmt.Fprintf(&b, "Pour l'activer dès maintenant ou vous y opposer, rendez-vous sur %s\n", publicURL)
	fmt.Fprintf(&b, "avec ce code d'activation : %s\n\n", code)
	fmt.Fprintf(&b, "Ce code est personnel : ne le communiquez à personne.\n")
	fmt.Fprintf(&b, "Vous pourrez fermer cet espace à tout moment.\n\n-- \ncarnet\n")
	return notify.Message{To: to, Subject: "Création de votre espace santé", Text: b.String(), ID: id}
}

func openedNotice(to, name, publicURL, id string) notify.Message {
	text := fmt.Sprintf("Bonjour %s,\n\nVotre espace santé est désormais ouvert.\n"+
		"Connectez-vous sur %s pour le consulter et choisir qui peut y accéder.\n"+
		"Vous pouvez le fermer à tout moment.\n\n-- \ncarnet\n", name, publicURL)
	return notify.Message{To: to, Subject: "Votre espace santé est ouvert", Text: text, ID: id}
}

func newContentNotice(to, name, publicURL, id string) notify.Message {
	text := fmt.Sprintf("Bonjour %s,\n\nDu nouveau vous attend dans votre espace santé.\n"+
		"Connectez-vous sur %s pour le consulter.\n\n-- \ncarnet\n", name, publicURL)
	return notify.Message{To: to, Subject: "Du nouveau dans votre espace santé", Text: text, ID: id}
}

func closureNotice(to, name, publicURL string, purgeAt time.Time, deletion bool, id string) notify.Message {
	var what string
	if deletion {
		what = fmt.Sprintf("Ses données seront supprimées au plus tard le %s.", frenchDate(purgeAt))
	} else {
		what = fmt.Sprintf("Ses données sont archivées jusqu'au %s ; vous pouvez le rouvrir d'ici là.", frenchDate(purgeAt))
	}
	text := fmt.Sprintf("Bonjour %s,\n\nVotre espace santé a été fermé. %s\n"+
		"Si vous n'êtes pas à l'origine de cette demande, rendez-vous sur %s.\n\n-- \ncarnet\n", name, what, publicURL)
	return notify.Message{To: to, Subject: "Fermeture de votre espace santé", Text: text, ID: id}
}
