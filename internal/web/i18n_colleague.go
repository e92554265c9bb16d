package web

// The strings of the page where a professional writes to a colleague (colleague.go).
func init() {
	for k, v := range map[string][2]string{
		"colleague.nav":   {"Écrire à un confrère", "Write to a colleague"},
		"colleague.title": {"Écrire à un confrère", "Write to a colleague"},
		"colleague.lead": {"Le message part de votre boîte aux lettres MSSanté nominative (créée à votre premier envoi si vous n'en avez pas) vers la boîte d'un professionnel ou d'une structure de l'espace de confiance MSSanté.",
			"The message leaves from your nominative MSSanté mailbox (made at your first message if you have none) to the mailbox of a professional or an organisation of the MSSanté trust space."},
		"colleague.to":        {"Adresse MSSanté du destinataire", "The recipient's MSSanté address"},
		"colleague.to.hint":   {"Par exemple prenom.nom@hopital.mssante.fr ; retrouvez-la dans l'annuaire.", "For example firstname.name@hospital.mssante.fr; find it in the directory."},
		"colleague.done":      {"Votre message est envoyé.", "Your message is sent."},
		"colleague.patient":   {"c'est l'adresse d'un patient : écrivez-lui depuis la page de son dossier.", "this is a patient's address: write to them from their record's page."},
		"colleague.directory": {"Chercher une adresse dans l'annuaire", "Find an address in the directory"},
	} {
		catalogue[k] = v
	}
}
