package web

// The strings of the questionnaires' pages (questionnaire.go), French then English, added to
// the catalogue.
func init() {
	for k, v := range map[string][2]string{
		"q.title":          {"Questionnaire", "Questionnaire"},
		"q.untitled":       {"Questionnaire sans titre", "Untitled questionnaire"},
		"q.offer":          {"Questionnaire à remplir : %s", "Questionnaire to fill in: %s"},
		"q.offer.answered": {"Questionnaire rempli : %s", "Questionnaire filled in: %s"},
		"q.offer.open":     {"Remplir le questionnaire", "Fill in the questionnaire"},
		"q.offer.see":      {"Voir mes réponses", "See my answers"},
		"q.from":           {"Envoyé par %s le %s.", "Sent by %s on %s."},
		"q.lead":           {"Vos réponses seront envoyées au professionnel qui vous a adressé ce questionnaire, en réponse à son message. Vous ne pourrez plus les modifier ensuite.", "Your answers will be sent to the professional who sent you this questionnaire, as a reply to their message. You will not be able to change them afterwards."},
		"q.required.note":  {"Les champs marqués d'un astérisque (*) sont obligatoires.", "Fields marked with an asterisk (*) are required."},
		"q.required":       {"obligatoire", "required"},
		"q.submit":         {"Envoyer mes réponses", "Send my answers"},
		"q.yes":            {"Oui", "Yes"},
		"q.no":             {"Non", "No"},
		"q.other":          {"Autre réponse", "Other answer"},
		"q.noanswer":       {"Pas de réponse", "No answer"},
		"q.done":           {"Vos réponses ont été envoyées au professionnel.", "Your answers were sent to the professional."},
		"q.answered":       {"Vous avez répondu à ce questionnaire le %s. Vos réponses :", "You answered this questionnaire on %s. Your answers:"},
		"q.back":           {"Revenir à la conversation", "Back to the conversation"},
		"q.errors":         {"Certaines réponses sont à corriger : voyez les messages sous les champs concernés.", "Some answers need correcting: see the messages under the fields concerned."},
		"q.refused":        {"Vos réponses n'ont pas été envoyées : %s", "Your answers were not sent: %s"},
		"q.ended":          {"le professionnel a clos cet échange : ce questionnaire ne peut plus recevoir de réponse.", "the professional closed this exchange: this questionnaire can no longer be answered."},
		"q.closed.ended":   {"Le professionnel a clos cet échange : ce questionnaire ne peut plus recevoir de réponse.", "The professional closed this exchange: this questionnaire can no longer be answered."},
		"q.closed.noreply": {"Ce questionnaire vient d'une adresse qui ne reçoit pas de réponse : il ne peut pas être rempli ici.", "This questionnaire comes from an address that receives no replies: it cannot be filled in here."},
		"q.already":        {"ce questionnaire a déjà reçu votre réponse.", "this questionnaire already has your answer."},
		"q.unreadable":     {"Ce questionnaire ne peut pas être affiché pour le moment.", "This questionnaire cannot be shown for now."},
		"q.hint.date":      {"Format attendu : jj/mm/aaaa", "Expected format: dd/mm/yyyy"},
		"q.hint.datetime":  {"Date et heure", "Date and time"},
		"q.hint.integer":   {"Un nombre entier", "A whole number"},
		"q.hint.decimal":   {"Un nombre, par exemple 72,5", "A number, for example 72.5"},
		"q.hint.max":       {"%d caractères au plus", "At most %d characters"},
		"q.hint.repeats":   {"Plusieurs réponses possibles", "Several answers possible"},
		"q.err.required":   {"Cette question est obligatoire : répondez-y.", "This question is required: answer it."},
		"q.err.one":        {"Une seule réponse est possible.", "Only one answer is possible."},
		"q.err.boolean":    {"Choisissez oui ou non.", "Choose yes or no."},
		"q.err.integer":    {"Saisissez un nombre entier, sans virgule.", "Enter a whole number, without decimals."},
		"q.err.decimal":    {"Saisissez un nombre, par exemple 72,5.", "Enter a number, for example 72.5."},
		"q.err.date":       {"Saisissez une date valide, au format jj/mm/aaaa.", "Enter a valid date, as dd/mm/yyyy."},
		"q.err.datetime":   {"Saisissez une date et une heure valides.", "Enter a valid date and time."},
		"q.err.toolong":    {"La réponse est trop longue.", "The answer is too long."},
		"q.err.choice":     {"Choisissez parmi les réponses proposées.", "Choose among the answers offered."},
		"q.err.line":       {"La réponse doit tenir sur une ligne.", "The answer must fit on one line."},
		"q.err.other":      {"Cette réponse n'est pas valide.", "This answer is not valid."},
	} {
		catalogue[k] = v
	}
}
