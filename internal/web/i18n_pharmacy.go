package web

// The strings of the page where a patient writes to a pharmacy (messages_pharmacy.go).
func init() {
	for k, v := range map[string][2]string{
		"pharmacy.link":  {"Écrire à une pharmacie", "Write to a pharmacy"},
		"pharmacy.title": {"Écrire à une pharmacie", "Write to a pharmacy"},
		"pharmacy.lead": {"Vous pouvez écrire à une pharmacie qui reçoit les messages des patients, par exemple pour lui envoyer votre ordonnance. La pharmacie vous répond dans votre messagerie.",
			"You can write to a pharmacy that receives patients' messages, for example to send it your prescription. The pharmacy answers in your messages."},
		"pharmacy.search":         {"Trouver la pharmacie", "Find the pharmacy"},
		"pharmacy.search.name":    {"Nom de la pharmacie", "The pharmacy's name"},
		"pharmacy.search.town":    {"Commune", "Town"},
		"pharmacy.search.submit":  {"Rechercher", "Search"},
		"pharmacy.search.invalid": {"Indiquez une partie du nom de la pharmacie ou de sa commune (100 caractères au plus).", "Give part of the pharmacy's name or of its town (at most 100 characters)."},
		"pharmacy.none":           {"Aucune pharmacie recevant les messages des patients ne correspond à cette recherche.", "No pharmacy receiving patients' messages matches this search."},
		"pharmacy.choose":         {"Pharmacie destinataire", "The pharmacy to write to"},
		"pharmacy.subject":        {"Objet", "Subject"},
		"pharmacy.body":           {"Votre message", "Your message"},
		"pharmacy.files.hint":     {"Votre ordonnance par exemple : PDF, JPEG ou PNG, 5 fichiers et 10 Mo au plus.", "Your prescription for example: PDF, JPEG or PNG, at most 5 files and 10 MB."},
		"pharmacy.send":           {"Envoyer à la pharmacie", "Send to the pharmacy"},
		"pharmacy.done":           {"Votre message a été envoyé à la pharmacie. Sa réponse arrivera dans votre messagerie.", "Your message was sent to the pharmacy. Its answer will come in your messages."},
		"pharmacy.refused":        {"Votre message n'a pas été envoyé : %s", "Your message was not sent: %s"},
		"pharmacy.notpharmacy":    {"choisissez une pharmacie dans les résultats de la recherche.", "choose a pharmacy in the search results."},
	} {
		catalogue[k] = v
	}
}
