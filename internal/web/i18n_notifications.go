package web

// The strings of the notification settings (notifications.go), French then English.
func init() {
	for k, v := range map[string][2]string{
		"notif.title":          {"Notifications", "Notifications"},
		"notif.link":           {"Choisir où recevoir les notifications (e-mail, téléphone mobile)", "Choose where notifications go (e-mail, mobile phone)"},
		"notif.lead":           {"carnet vous prévient quand il se passe quelque chose dans l'espace santé. Sans adresse e-mail, les avis importants sont envoyés par courrier.", "carnet tells you when something happens in the health space. Without an e-mail address, the important notices go by post."},
		"notif.contact":        {"Coordonnées", "Contact details"},
		"notif.email":          {"Adresse e-mail", "E-mail address"},
		"notif.email.hint":     {"Format attendu : nom@domaine.fr. Laisser vide pour ne plus recevoir d'e-mail.", "Expected format: name@domain.fr. Leave empty to receive no e-mail."},
		"notif.phone":          {"Téléphone mobile", "Mobile phone"},
		"notif.phone.hint":     {"Un numéro de mobile français : 06 12 34 56 78 ou +33 6 12 34 56 78. Laisser vide si aucun.", "A French mobile number: 06 12 34 56 78 or +33 6 12 34 56 78. Leave empty if none."},
		"notif.submit":         {"Enregistrer", "Save"},
		"notif.done":           {"Vos coordonnées sont enregistrées.", "Your contact details are saved."},
		"notif.invalid":        {"Rien n'a été modifié : corrigez le champ signalé.", "Nothing was changed: correct the field shown."},
		"notif.email.invalid":  {"Adresse e-mail non valide : une seule adresse, de la forme nom@domaine.fr, sans accent.", "Invalid e-mail address: a single address, like name@domain.fr, without accents."},
		"notif.phone.invalid":  {"Numéro non valide : un mobile français, commençant par 06 ou 07 (ou +33 6, +33 7), de 10 chiffres.", "Invalid number: a French mobile, starting with 06 or 07 (or +33 6, +33 7), of 10 digits."},
		"notif.what":           {"Ce que disent les notifications", "What the notifications say"},
		"notif.what.lead":      {"Les notifications ne contiennent jamais d'information de santé : ni document, ni résultat, ni nom de professionnel. Elles vous invitent à vous connecter pour en savoir plus.", "Notifications never hold health information: no document, no result, no professional's name. They ask you to sign in to learn more."},
		"notif.kind.created":   {"La création de l'espace, avec le code d'activation personnel et la date d'ouverture.", "The creation of the space, with the personal activation code and the opening date."},
		"notif.kind.opened":    {"L'ouverture de l'espace à la fin de la période d'opposition.", "The opening of the space at the end of the opt-out period."},
		"notif.kind.content":   {"« Du nouveau vous attend » : un document ou un message est arrivé, sans dire lequel.", "“Something new awaits you”: a document or a message arrived, without saying which."},
		"notif.kind.access":    {"Un professionnel a accédé pour la première fois au dossier, sans le nommer : l'historique dit qui, quand et pourquoi.", "A professional accessed the record for the first time, without naming them: the access trail says who, when and why."},
		"notif.kind.emergency": {"Un accès en urgence (bris de glace) au dossier.", "An emergency access (break-glass) to the record."},
		"notif.kind.card":      {"La carte d'urgence a été consultée.", "The emergency card was read."},
		"notif.kind.agenda":    {"Le rappel d'un rendez-vous ou d'une échéance de l'agenda, sans son contenu.", "The reminder of an appointment or a due date of the agenda, without its content."},
		"notif.kind.closed":    {"La fermeture de l'espace, avec la date de suppression des données.", "The closure of the space, with the date its data are deleted."},
	} {
		catalogue[k] = v
	}
}
