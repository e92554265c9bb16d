package web

// The strings of the emergency card's pages (emergency.go), French then English, added to the
// catalogue. The public card shows its headings in both languages whatever the reader's: the
// "card.public.*" and "card.section.*" keys are read in each.
func init() {
	for k, v := range map[string][2]string{
		"card.title": {"Ma carte d'urgence", "My emergency card"},
		"card.lead": {"Une carte d'urgence montre à qui la lit — secours, soignants, passants — l'essentiel pour vous soigner quand vous ne pouvez pas parler : allergies, groupe sanguin, traitements en cours, personnes à prévenir, volontés. On la lit sans se connecter, en scannant son QR code : vous choisissez ce qu'elle montre, et chaque lecture apparaît dans votre historique des accès.",
			"An emergency card shows whoever reads it — rescuers, carers, passers-by — what matters to treat you when you cannot speak: allergies, blood group, current treatments, people to call, wishes. It is read without signing in, by scanning its QR code: you choose what it shows, and every reading appears in your access history."},
		"card.home":          {"Carte d'urgence (QR code) : choisir ce que voient les secours", "Emergency card (QR code): choose what rescuers see"},
		"card.state.none":    {"Vous n'avez pas encore de carte d'urgence.", "You have no emergency card yet."},
		"card.state.on":      {"Votre carte d'urgence est activée : son lien et son QR code montrent ce que vous avez choisi ci-dessous.", "Your emergency card is on: its link and QR code show what you chose below."},
		"card.state.off":     {"Votre carte d'urgence est désactivée : son lien ne montre plus rien. Réactivée, elle refonctionne avec le même lien.", "Your emergency card is off: its link shows nothing. Turned on again, it works with the same link."},
		"card.turnon":        {"Activer ma carte d'urgence", "Turn my emergency card on"},
		"card.turnoff":       {"Désactiver la carte", "Turn the card off"},
		"card.renew":         {"Renouveler le lien", "Renew the link"},
		"card.renew.hint":    {"Un nouveau lien et un nouveau QR code : l'ancien cesse aussitôt de fonctionner (carte perdue, téléphone volé). Pour revoir le QR code, renouvelez le lien : il n'est montré qu'une fois, nous n'en gardons qu'une empreinte.", "A new link and QR code: the old one stops working at once (a lost card, a stolen phone). To see the QR code again, renew the link: it is shown once, we keep only a fingerprint of it."},
		"card.done.on":       {"Votre carte d'urgence est activée.", "Your emergency card is on."},
		"card.done.off":      {"Votre carte d'urgence est désactivée : son lien ne montre plus rien.", "Your emergency card is off: its link shows nothing."},
		"card.done.saved":    {"Vos choix sont enregistrés : la carte les montre dès maintenant.", "Your choices are saved: the card shows them from now on."},
		"card.done.renew":    {"Nouveau lien créé : l'ancien ne fonctionne plus.", "New link made: the old one no longer works."},
		"card.qr.title":      {"Le QR code de votre carte", "Your card's QR code"},
		"card.qr.text":       {"Imprimez la carte ci-dessous (fonction Imprimer de votre navigateur : seule la carte est imprimée, au format carte bancaire) et gardez-la avec vos papiers, ou enregistrez une capture d'écran de ce QR code sur votre téléphone. Ce QR code n'est montré que maintenant.", "Print the card below (your browser's Print function: only the card is printed, credit-card size) and keep it with your papers, or save a screenshot of this QR code on your phone. This QR code is shown only now."},
		"card.qr.alt":        {"QR code menant à la carte d'urgence de %s", "QR code leading to the emergency card of %s"},
		"card.qr.link":       {"Lien de la carte :", "The card's link:"},
		"card.print.head":    {"CARTE D'URGENCE / EMERGENCY CARD", "CARTE D'URGENCE / EMERGENCY CARD"},
		"card.print.scan":    {"Scannez pour lire mes informations médicales d'urgence. Scan for my emergency medical information.", "Scannez pour lire mes informations médicales d'urgence. Scan for my emergency medical information."},
		"card.choose":        {"Ce que montre la carte", "What the card shows"},
		"card.choose.lead":   {"Cochez les rubriques et les éléments à montrer. Un élément ajouté plus tard à une rubrique cochée apparaît sur la carte, sauf s'il est masqué aux professionnels.", "Tick the sections and items to show. An item added later to a ticked section appears on the card, unless it is hidden from professionals."},
		"card.hidden.note":   {"Les éléments que vous avez masqués aux professionnels ne sont pas sur la carte, sauf si vous les cochez ici : la carte est lue par des personnes que vous ne connaissez pas.", "Items you hid from professionals are not on the card unless you tick them here: the card is read by people you do not know."},
		"card.hidden":        {"masqué aux professionnels : cochez pour le montrer sur la carte", "hidden from professionals: tick to show it on the card"},
		"card.section.show":  {"Montrer la rubrique « %s »", "Show the “%s” section"},
		"card.section.empty": {"Rien dans votre profil médical pour cette rubrique.", "Nothing in your medical profile for this section."},
		"card.save":          {"Enregistrer mes choix", "Save my choices"},
		"card.preview":       {"Aperçu : ce que lit la personne qui scanne", "Preview: what the person who scans reads"},
		"card.profile.link":  {"Compléter mon profil médical", "Complete my medical profile"},

		"card.public.title":               {"Carte d'urgence", "Emergency card"},
		"card.public.lead":                {"Informations choisies par la personne elle-même pour les secours. Elles peuvent être incomplètes : elles ne remplacent pas un examen.", "Information chosen by the person themselves for rescuers. It may be incomplete: it does not replace an examination."},
		"card.public.born":                {"née ou né en %d", "born in %d"},
		"card.public.nothing":             {"Rien n'est renseigné dans cette rubrique.", "Nothing is given in this section."},
		"card.public.call":                {"En cas d'urgence vitale, appelez le 15 (SAMU) ou le 112.", "In a life-threatening emergency, call 15 (SAMU) or 112."},
		"card.public.traced":              {"Cette consultation est enregistrée et la personne en est informée.", "This reading is recorded and the person is told."},
		"card.section.allergies":          {"Allergies et intolérances", "Allergies and intolerances"},
		"card.section.blood_group":        {"Groupe sanguin", "Blood group"},
		"card.section.treatments":         {"Traitements en cours", "Current treatments"},
		"card.section.emergency_contacts": {"Personnes à prévenir", "Emergency contacts"},
		"card.section.wishes":             {"Volontés", "Wishes and advance directives"},
		"card.severe":                     {"sévère", "severe"},
		"card.wish.advance_directives":    {"Directives anticipées", "Advance directives"},
		"card.wish.organ_donation":        {"Don d'organes", "Organ donation"},
		"card.wish.other":                 {"Volonté", "Wish"},
		"card.wish.yes":                   {"accepte", "consents"},
		"card.wish.no":                    {"refuse", "refuses"},
	} {
		catalogue[k] = v
	}
}
