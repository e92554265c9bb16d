package web

// The strings of the MSSanté directory page (directory.go), French then English, added to the
// catalogue.
func init() {
	for k, v := range map[string][2]string{
		"dir.title": {"Annuaire de la messagerie sécurisée", "Secure messaging directory"},
		"dir.lead": {"Trouvez l'adresse de messagerie sécurisée de santé (MSSanté) d'un professionnel ou d'une structure. Les adresses inscrites sur liste rouge n'apparaissent pas.",
			"Find the secure health messaging (MSSanté) address of a professional or an organisation. Addresses on the ex-directory list are not shown."},
		"dir.link":              {"Rechercher dans l'annuaire de la messagerie sécurisée", "Search the secure messaging directory"},
		"dir.name":              {"Nom", "Name"},
		"dir.name.hint":         {"Nom ou prénom, sans tenir compte des accents ni des majuscules", "Family or given name, regardless of accents and capitals"},
		"dir.profession":        {"Profession", "Profession"},
		"dir.profession.any":    {"Toutes les professions", "Any profession"},
		"dir.town":              {"Commune", "Town"},
		"dir.organisation":      {"Structure", "Organisation"},
		"dir.organisation.hint": {"Nom ou identifiant (FINESS…)", "Name or identifier (FINESS…)"},
		"dir.submit":            {"Rechercher", "Search"},
		"dir.invalid": {"La recherche n'est pas valide : vérifiez les champs (200 caractères au plus chacun) et la profession.",
			"The search is not valid: check the fields (at most 200 characters each) and the profession."},
		"dir.caption":          {"Boîtes aux lettres trouvées", "Mailboxes found"},
		"dir.col.name":         {"Nom", "Name"},
		"dir.col.profession":   {"Profession", "Profession"},
		"dir.col.organisation": {"Structure", "Organisation"},
		"dir.col.town":         {"Commune", "Town"},
		"dir.col.address":      {"Adresse MSSanté", "MSSanté address"},
		"dir.none":             {"Aucune boîte aux lettres ne correspond à cette recherche.", "No mailbox matches this search."},
		"dir.hidden":           {"Liste rouge (vous seul la voyez)", "Ex-directory (only you see it)"},
		"dir.kind.per":         {"Boîte personnelle", "Personal mailbox"},
		"dir.kind.org":         {"Boîte de structure", "Organisation mailbox"},
		"dir.kind.app":         {"Boîte applicative (sans réponse)", "Application mailbox (no reply)"},
		"dir.write":            {"Écrire à %s", "Write to %s"},
		"dir.pages":            {"Pages de résultats", "Result pages"},
		"dir.prev":             {"Page précédente", "Previous page"},
		"dir.next":             {"Page suivante", "Next page"},
		"dir.page":             {"Page %d", "Page %d"},
	} {
		catalogue[k] = v
	}
}
