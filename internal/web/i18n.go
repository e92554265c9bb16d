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
	// dict builds the map a sub-template takes: dict "Key" value "Key2" value2.
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
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

	"site.you":        {"Vous", "You"},
	"nav.label":       {"Mon espace", "My space"},
	"nav.home":        {"Accueil", "Home"},
	"nav.documents":   {"Documents", "Documents"},
	"nav.trail":       {"Historique des accès", "Access history"},
	"nav.settings":    {"Connexions", "Sign-ins"},
	"error.title":     {"Une erreur est survenue", "Something went wrong"},
	"error.forbidden": {"Cette action ne vous est pas permise.", "You may not do this."},
	"error.internal":  {"Le service rencontre un problème. Réessayez dans un instant.", "The service has a problem. Try again in a moment."},

	"signin.title":                  {"Connexion à Mon espace santé", "Sign in to My health space"},
	"signin.legend":                 {"Vos identifiants", "Your credentials"},
	"signin.identifier":             {"Identifiant", "Identifier"},
	"signin.identifier.hint":        {"Votre adresse électronique ou votre matricule INS (15 chiffres). Professionnel : votre RPPS.", "Your e-mail address or your INS number (15 digits). Professionals: your RPPS."},
	"signin.password":               {"Mot de passe", "Password"},
	"signin.submit":                 {"Continuer", "Continue"},
	"signin.error":                  {"Identifiant inconnu ou mot de passe incorrect.", "Unknown identifier or wrong password."},
	"signin.invalid":                {"Cet identifiant n'a pas le bon format : adresse électronique, matricule INS ou RPPS.", "This identifier is not in the right form: e-mail address, INS number or RPPS."},
	"signin.throttled":              {"Trop de tentatives. Réessayez dans %d secondes.", "Too many attempts. Try again in %d seconds."},
	"signin.first":                  {"Première connexion ?", "First time here?"},
	"signin.activate":               {"Activer mon espace avec le code reçu", "Activate my space with the code I received"},
	"activation.title":              {"Activer mon espace santé", "Activate my health space"},
	"activation.lead":               {"Munissez-vous du courrier ou du courriel qui vous a annoncé la création de votre espace : il contient votre code d'activation.", "Have at hand the letter or e-mail that announced your space: it holds your activation code."},
	"activation.ins":                {"Matricule INS", "INS number"},
	"activation.ins.hint":           {"15 caractères, sur votre carte Vitale ou le courrier reçu.", "15 characters, on your health insurance card or the letter you received."},
	"activation.code":               {"Code d'activation", "Activation code"},
	"activation.email":              {"Adresse électronique", "E-mail address"},
	"activation.email.hint":         {"Elle servira à vous connecter et à recevoir vos codes de connexion.", "You will sign in with it and receive your sign-in codes there."},
	"activation.password":           {"Mot de passe", "Password"},
	"activation.password.hint":      {"12 caractères au moins ; une phrase facile à retenir convient très bien.", "At least 12 characters; a sentence easy to remember is fine."},
	"activation.confirm":            {"Confirmez le mot de passe", "Confirm the password"},
	"activation.submit":             {"Activer mon espace", "Activate my space"},
	"activation.mismatch":           {"Les deux mots de passe ne sont pas identiques.", "The two passwords differ."},
	"activation.error":              {"Ce matricule INS et ce code d'activation ne correspondent pas.", "This INS number and activation code do not match."},
	"activation.done":               {"Votre espace est activé. Connectez-vous avec votre adresse électronique et votre mot de passe.", "Your space is activated. Sign in with your e-mail address and password."},
	"signin.forgot":                 {"Mot de passe oublié ?", "Forgot your password?"},
	"signin.reset":                  {"Votre mot de passe est changé. Connectez-vous avec le nouveau.", "Your password is changed. Sign in with the new one."},
	"forgot.title":                  {"Mot de passe oublié", "Forgotten password"},
	"forgot.lead":                   {"Indiquez votre identifiant : si un compte lui correspond, vous recevrez par courriel un lien pour choisir un nouveau mot de passe.", "Give your identifier: if an account matches it, you will receive by e-mail a link to choose a new password."},
	"forgot.submit":                 {"Recevoir un lien", "Send me a link"},
	"forgot.sent":                   {"Si un compte correspond à cet identifiant, un lien vient de lui être envoyé par courriel. Il est valable 30 minutes.", "If an account matches this identifier, a link has just been sent to it by e-mail. It is valid for 30 minutes."},
	"reset.title":                   {"Choisir un nouveau mot de passe", "Choose a new password"},
	"reset.submit":                  {"Enregistrer", "Save"},
	"reset.error":                   {"Ce lien n'est plus valable : demandez-en un nouveau.", "This link is no longer valid: ask for a new one."},
	"pro.title":                     {"Trouver un patient", "Find a patient"},
	"pro.nav.label":                 {"Espace professionnel", "Professional space"},
	"pro.nav.find":                  {"Trouver un patient", "Find a patient"},
	"pro.find.ins":                  {"Matricule INS du patient", "The patient's INS number"},
	"pro.find.hint":                 {"15 caractères, tel que votre logiciel l'a qualifié.", "15 characters, as your software qualified it."},
	"pro.find.submit":               {"Rechercher", "Search"},
	"pro.find.invalid":              {"Ce matricule INS n'est pas valide.", "This INS number is not valid."},
	"pro.find.none":                 {"Aucun espace santé pour ce matricule INS.", "No health space for this INS number."},
	"pro.patient.title":             {"Dossier du patient", "The patient's record"},
	"pro.patient.born":              {"Né(e) le %s", "Born on %s"},
	"pro.patient.space":             {"espace santé", "health space"},
	"pro.refused":                   {"Accès refusé", "Access refused"},
	"pro.hidden.note":               {"Les documents que le patient a masqués, ou que votre profession ne permet pas de consulter, n'apparaissent pas.", "Documents the patient hid, or which your profession may not read, are not shown."},
	"pro.breakglass.title":          {"Accès en urgence (bris de glace)", "Emergency access (break-glass)"},
	"pro.breakglass.warning":        {"À n'utiliser que si l'état du patient comporte un risque immédiat pour sa santé et qu'il ne peut pas donner son accord. Votre accès et son motif sont tracés ; le patient et son médecin traitant en sont informés.", "Only when the patient's condition is an immediate risk to their health and they cannot consent. Your access and its reason are traced; the patient and their regular doctor are told."},
	"pro.breakglass.reason":         {"Motif (obligatoire)", "Reason (required)"},
	"pro.breakglass.submit":         {"Accéder en urgence", "Access in an emergency"},
	"pro.breakglass.required":       {"Un accès en urgence exige d'en indiquer le motif.", "An emergency access requires a stated reason."},
	"pro.breakglass.active":         {"Accès en urgence en cours", "Emergency access in progress"},
	"pro.breakglass.traced":         {"Motif déclaré : « %s ». Chaque consultation est tracée.", "Stated reason: “%s”. Every reading is traced."},
	"pro.deposit.title":             {"Déposer un document", "Deposit a document"},
	"pro.deposit.comment":           {"Commentaire", "Comment"},
	"pro.deposit.announce":          {"Rendre le document invisible au patient jusqu'à la consultation d'annonce", "Keep the document from the patient until the announcement consultation"},
	"pro.deposit.announce.hint":     {"Il deviendra visible au plus tard dans un mois.", "It becomes visible one month later at the latest."},
	"pro.deposit.mask":              {"Masquer aux autres professionnels, à la demande du patient", "Hide from other professionals, at the patient's request"},
	"pro.deposit.file.hint":         {"PDF, document CDA (XML), JPEG ou PNG.", "PDF, CDA document (XML), JPEG or PNG."},
	"pro.deposit.submit":            {"Déposer", "Deposit"},
	"pro.deposit.nofile":            {"Choisissez le fichier à déposer.", "Choose the file to deposit."},
	"pro.deposit.nodate":            {"Indiquez la date de l'acte.", "Give the date of the act."},
	"pro.deposit.done":              {"Le document est déposé dans le dossier du patient.", "The document is deposited in the patient's record."},
	"state.pending":                 {"en cours de création", "being created"},
	"state.open":                    {"ouvert", "open"},
	"state.opposed":                 {"refusé par le patient", "refused by the patient"},
	"state.closed":                  {"clôturé", "closed"},
	"state.purged":                  {"supprimé", "deleted"},
	"nav.access":                    {"Mes professionnels", "My professionals"},
	"access.title":                  {"Qui peut accéder à mon dossier", "Who may access my record"},
	"access.lead":                   {"Les professionnels qui vous soignent accèdent à votre dossier selon leur profession. Vous pouvez en autoriser d'autres, en bloquer, et vous opposer aux accès en urgence.", "The professionals who care for you access your record as their profession allows. You may authorise others, block some, and object to emergency access."},
	"access.done":                   {"C'est enregistré.", "Saved."},
	"access.none":                   {"Aucun.", "None."},
	"access.since":                  {"depuis le %s", "since %s"},
	"access.mt":                     {"Mon médecin traitant", "My regular doctor (médecin traitant)"},
	"access.mt.text":                {"Il voit tout votre dossier, y compris les documents que vous masquez aux autres professionnels.", "They see your whole record, including the documents you hide from other professionals."},
	"access.remove":                 {"Retirer", "Remove"},
	"access.team":                   {"Mon équipe de soins", "My care team"},
	"access.team.text":              {"Les professionnels qui vous ont soigné et ont déposé un document, ou que vous avez désignés.", "The professionals who cared for you and deposited a document, or whom you named."},
	"access.team.remove":            {"Retirer de l'équipe", "Remove from the team"},
	"access.basis.deposit":          {"a déposé un document", "deposited a document"},
	"access.basis.designated":       {"désigné par vous", "named by you"},
	"access.authorised":             {"Professionnels que j'ai autorisés", "Professionals I authorised"},
	"access.until":                  {"jusqu'au %s", "until %s"},
	"access.expired":                {"expirée le %s", "expired on %s"},
	"access.revoke":                 {"Retirer l'autorisation", "Withdraw the authorisation"},
	"access.refused":                {"Demandes que j'ai refusées", "Requests I refused"},
	"access.blocked":                {"Professionnels bloqués", "Blocked professionals"},
	"access.blocked.text":           {"Un professionnel bloqué n'a aucun accès à votre dossier, même en urgence.", "A blocked professional has no access to your record at all, even in an emergency."},
	"access.unblock":                {"Débloquer", "Unblock"},
	"access.add":                    {"Ajouter un professionnel", "Add a professional"},
	"access.rpps":                   {"Numéro RPPS du professionnel", "The professional's RPPS number"},
	"access.rpps.hint":              {"11 chiffres, sur son ordonnance ou sa carte.", "11 digits, on their prescription or card."},
	"access.authorise":              {"L'autoriser pour un an", "Authorise them for a year"},
	"access.designate":              {"Le désigner comme médecin traitant", "Name them as my regular doctor"},
	"access.block":                  {"Le bloquer", "Block them"},
	"access.bad.id":                 {"Ce numéro RPPS n'est pas valide.", "This RPPS number is not valid."},
	"access.emergency":              {"Accès en urgence", "Emergency access"},
	"access.emergency.legend":       {"Je m'oppose :", "I object to:"},
	"access.oppose.breakglass":      {"à l'accès en urgence (bris de glace)", "emergency access (break-glass)"},
	"access.oppose.breakglass.hint": {"Si votre état présente un risque immédiat et que vous ne pouvez pas donner votre accord, un professionnel ne pourra pas consulter votre dossier.", "If your condition is an immediate risk and you cannot consent, no professional will be able to read your record."},
	"access.oppose.regulation":      {"à l'accès du médecin régulateur du SAMU - Centre 15", "access by the regulating doctor of the SAMU - Centre 15"},
	"access.oppose.regulation.hint": {"Lors d'un appel au 15, le médecin régulateur ne pourra pas consulter votre dossier.", "When someone calls 15, the regulating doctor will not be able to read your record."},
	"access.save":                   {"Enregistrer", "Save"},
	"admin.nav.label":               {"Administration", "Administration"},
	"admin.matrix.title":            {"Matrice d'habilitation", "Habilitation matrix"},
	"admin.matrix.lead":             {"Quelles catégories de documents chaque profession peut consulter. Chaque décision d'accès nomme la version de la matrice qu'elle a appliquée.", "Which categories of documents each profession may read. Every access decision names the version of the matrix it applied."},
	"admin.matrix.inforce":          {"Version appliquée par le serveur : %s", "Version the server decides with: %s"},
	"admin.matrix.versions":         {"Versions chargées", "Versions loaded"},
	"admin.matrix.none":             {"Aucune : le serveur applique la matrice par défaut.", "None: the server applies the default matrix."},
	"admin.matrix.col.version":      {"Version", "Version"},
	"admin.matrix.col.loaded":       {"Chargée le", "Loaded on"},
	"admin.matrix.col.by":           {"Par", "By"},
	"admin.matrix.col.digest":       {"Empreinte", "Digest"},
	"admin.matrix.active":           {"en vigueur", "in force"},
	"admin.matrix.current":          {"Matrice en vigueur", "Matrix in force"},
	"admin.matrix.download":         {"Télécharger (TSV)", "Download (TSV)"},
	"admin.matrix.load":             {"Charger une nouvelle version", "Load a new version"},
	"admin.matrix.file":             {"Fichier TSV", "TSV file"},
	"admin.matrix.file.hint":        {"Le format du téléchargement ci-dessus ; changez la ligne de version avec les cellules.", "The format of the download above; change the version line with the cells."},
	"admin.matrix.submit":           {"Charger", "Load"},
	"admin.matrix.nofile":           {"Choisissez le fichier de la matrice.", "Choose the matrix file."},
	"admin.matrix.loaded":           {"La matrice %s (%d cellules) est en vigueur ; le serveur l'appliquera à son prochain démarrage.", "Matrix %s (%d cells) is in force; the server applies it from its next start."},
	"switch.label":                  {"Espaces que je gère", "Spaces I manage"},
	"switch.me":                     {"Mon espace", "My space"},
	"switch.acting":                 {"Vous agissez pour %s, en tant que représentant légal.", "You act for %s, as their legal representative."},
	"nav.space":                     {"Mon espace", "My space"},
	"space.title":                   {"Mon espace santé : le garder, le fermer", "My health space: keep it, close it"},
	"space.state":                   {"État de votre espace : %s", "State of your space: %s"},
	"space.purge":                   {"ses données seront supprimées le %s", "its data will be deleted on %s"},
	"space.export.before":           {"Avant toute décision, vous pouvez télécharger l'ensemble de votre espace.", "Before deciding anything, you can download your whole space."},
	"space.close":                   {"Fermer mon espace", "Close my space"},
	"space.close.explain":           {"Une fois fermé, plus aucun professionnel ne peut consulter ni alimenter votre dossier, et vous ne recevez plus de messages. Vous pouvez le rouvrir tant que ses données sont conservées.", "Once closed, no professional can read or add to your record, and you receive no more messages. You can reopen it as long as its data are kept."},
	"space.close.legend":            {"Que deviennent mes données ?", "What happens to my data?"},
	"space.mode.archive":            {"Les conserver 10 ans, puis les supprimer", "Keep them 10 years, then delete them"},
	"space.mode.archive.hint":       {"C'est le choix par défaut : vous pourrez rouvrir votre espace pendant 10 ans.", "The default: you can reopen your space for 10 years."},
	"space.mode.delete":             {"Les supprimer dans les 3 mois", "Delete them within 3 months"},
	"space.mode.delete.hint":        {"Vous pourrez encore rouvrir votre espace pendant ces 3 mois ; après, tout est définitivement supprimé.", "You can still reopen your space during these 3 months; after that, everything is deleted for good."},
	"space.confirm":                 {"J'ai compris les conséquences de la fermeture de mon espace", "I understand what closing my space means"},
	"space.confirm.missing":         {"Cochez la case pour confirmer que vous avez compris les conséquences.", "Tick the box to confirm you understand what it means."},
	"space.close.submit":            {"Fermer mon espace", "Close my space"},
	"space.closed.done":             {"Votre espace est fermé.", "Your space is closed."},
	"space.reopen":                  {"Rouvrir mon espace", "Reopen my space"},
	"space.reopen.explain":          {"Votre espace retrouve ses documents et son historique, et les professionnels peuvent de nouveau y accéder selon vos réglages.", "Your space gets its documents and history back, and professionals may access it again as you set."},
	"space.reopen.submit":           {"Rouvrir", "Reopen"},
	"space.reopened.done":           {"Votre espace est rouvert.", "Your space is open again."},
	"space.delete":                  {"Demander la suppression de mes données", "Ask for my data to be deleted"},
	"space.delete.explain":          {"Vos données seront supprimées dans les 3 mois au lieu de 10 ans.", "Your data will be deleted within 3 months instead of 10 years."},
	"space.delete.submit":           {"Demander la suppression", "Ask for deletion"},
	"space.deletion.done":           {"La suppression de vos données est demandée.", "The deletion of your data is requested."},
	"signin.with":                   {"Se connecter avec %s", "Sign in with %s"},
	"signin.or":                     {"ou", "or"},
	"code.title":                    {"Code de vérification", "Verification code"},
	"code.sent":                     {"Nous venons d'envoyer un code à %s. Il est valable quelques minutes.", "We have just sent a code to %s. It is valid for a few minutes."},
	"code.sent.nodest":              {"Nous venons de vous envoyer un code. Il est valable quelques minutes.", "We have just sent you a code. It is valid for a few minutes."},
	"code.label":                    {"Code reçu", "Code received"},
	"code.hint":                     {"6 chiffres", "6 digits"},
	"code.submit":                   {"Se connecter", "Sign in"},
	"code.error":                    {"Ce code est incorrect ou a expiré.", "This code is wrong or has expired."},
	"code.restart":                  {"Recommencer la connexion", "Start the sign-in again"},

	"me.title":          {"Mon espace santé", "My health space"},
	"me.hello":          {"Bonjour %s", "Hello %s"},
	"me.documents":      {"Derniers documents", "Latest documents"},
	"me.documents.none": {"Aucun document pour le moment.", "No document yet."},
	"me.documents.all":  {"Tous mes documents", "All my documents"},
	"me.accesses":       {"Derniers accès de professionnels", "Latest accesses by professionals"},
	"me.accesses.none":  {"Aucun professionnel n'a encore accédé à votre dossier.", "No professional has accessed your record yet."},
	"me.accesses.all":   {"Tout l'historique des accès", "The whole access history"},
	"me.export":         {"Emporter mes données", "Take my data with me"},
	"me.export.text":    {"Téléchargez en une archive l'ensemble de votre espace : vos documents, leurs informations et l'historique des accès.", "Download your whole space as one archive: your documents, their details and the access history."},
	"me.export.button":  {"Télécharger mon espace", "Download my space"},
	"me.import":         {"Retrouver mon ancien dossier", "Bring back my former record"},
	"me.import.text": {"Vous aviez déjà un espace santé ? Déposez l'archive que vous en avez téléchargée : les documents que vous y aviez déposés, votre agenda, votre profil médical, vos messages et vos réglages d'accès sont repris. Les documents de vos professionnels et de l'Assurance Maladie sont repris par l'opérateur du service, à votre demande. Rien n'est importé deux fois.",
		"Did you already have a health space? Upload the archive you downloaded from it: the documents you had deposited, your agenda, medical profile, messages and access settings are brought back. The documents of your professionals and of the health insurer are brought back by the service's operator, at your request. Nothing is imported twice."},
	"import.left": {"%d document(s) de vos professionnels ou de l'Assurance Maladie et %d élément(s) de profil écrits par un professionnel ne sont pas repris : rien dans un fichier ne garantit qui les a déposés. L'opérateur du service peut les reprendre, à votre demande.",
		"%d document(s) of your professionals or the health insurer and %d profile item(s) written by a professional are not brought back: nothing in a file vouches for who deposited them. The service's operator can bring them back, at your request."},
	"me.import.file":        {"Archive (.zip)", "Archive (.zip)"},
	"me.import.hint":        {"Jusqu'à 1 Go.", "Up to 1 GB."},
	"me.import.button":      {"Importer", "Import"},
	"import.title":          {"Import de votre ancien dossier", "Import of your former record"},
	"import.done":           {"L'import est terminé.", "The import is done."},
	"import.documents":      {"Documents : %d importé(s), %d déjà présent(s).", "Documents: %d imported, %d already there."},
	"import.events":         {"Agenda : %d événement(s) importé(s), %d déjà présent(s).", "Agenda: %d event(s) imported, %d already there."},
	"import.events.refused": {"%d événement(s) de l'Assurance Maladie ne peuvent être repris que par elle.", "%d event(s) of the health insurer can only be filed by it."},
	"import.profile":        {"Profil médical : %d élément(s) importé(s), %d déjà présent(s).", "Medical profile: %d item(s) imported, %d already there."},
	"import.profile.kept":   {"%d élément(s) laissé(s) de côté : votre espace a déjà son groupe sanguin ou sa personne de confiance.", "%d item(s) left out: your space already has its blood group or its trusted person."},
	"import.mail":           {"Messagerie : %d message(s) importé(s), %d déjà présent(s).", "Messages: %d imported, %d already there."},
	"import.settings":       {"Réglages d'accès : %d repris, %d laissé(s) tel(s) que votre espace les a.", "Access settings: %d brought back, %d left as your space has them."},
	"import.settings.done":  {"Réglages d'accès : déjà repris d'un import précédent ; vos réglages actuels sont conservés.", "Access settings: already brought back by an earlier import; your current settings are kept."},
	"import.trail":          {"Chaque élément importé figure dans l'historique des accès.", "Each item imported is in the access history."},
	"import.back":           {"Retour à mon espace", "Back to my space"},

	"space.documents_sante":  {"Documents de santé", "Health documents"},
	"space.profil_medical":   {"Profil médical", "Medical profile"},
	"space.remboursements":   {"Remboursements", "Reimbursements"},
	"space.espace_personnel": {"Espace personnel", "Personal space"},

	"docs.title":         {"Mes documents", "My documents"},
	"docs.spaces":        {"Parties du dossier", "Parts of the record"},
	"docs.search":        {"Rechercher dans les titres", "Search the titles"},
	"docs.search.button": {"Rechercher", "Search"},
	"docs.archived":      {"Afficher les documents archivés", "Show the archived documents"},
	"docs.caption":       {"Documents", "Documents"},
	"docs.col.date":      {"Date", "Date"},
	"docs.col.title":     {"Titre", "Title"},
	"docs.col.type":      {"Type", "Type"},
	"docs.col.author":    {"Auteur", "Author"},
	"docs.col.state":     {"État", "State"},
	"docs.none":          {"Aucun document ici.", "No document here."},
	"docs.uploaded":      {"Votre document a été ajouté à votre espace personnel.", "Your document was added to your personal space."},
	"docs.upload":        {"Ajouter un document", "Add a document"},
	"docs.upload.title":  {"Titre", "Title"},
	"docs.upload.type":   {"Nature du document", "Kind of document"},
	"docs.upload.file":   {"Fichier", "File"},
	"docs.upload.hint":   {"PDF, JPEG ou PNG.", "PDF, JPEG or PNG."},
	"docs.upload.submit": {"Ajouter", "Add"},
	"doc.title":          {"Document", "Document"},
	"doc.breadcrumb":     {"Vous êtes ici :", "You are here:"},
	"doc.by.you":         {"Vous", "You"},
	"doc.new":            {"Nouveau", "New"},
	"doc.masked":         {"Masqué", "Hidden"},
	"doc.archived":       {"Archivé", "Archived"},
	"doc.date":           {"Date de l'acte", "Date of the act"},
	"doc.space":          {"Partie du dossier", "Part of the record"},
	"doc.download":       {"Télécharger", "Download"},
	"doc.preview":        {"Aperçu", "Preview"},
	"doc.mask":           {"Masquer ce document", "Hide this document"},
	"doc.mask.title":     {"Masquer ce document aux professionnels", "Hide this document from professionals"},
	"doc.mask.explain":   {"Les professionnels qui vous soignent ne le verront plus. Son auteur et votre médecin traitant le verront toujours : c'est la loi (article L1111-15 du code de la santé publique).", "The professionals who care for you will no longer see it. Its author and your regular doctor (médecin traitant) still will: this is the law (article L1111-15 of the public health code)."},
	"doc.masked.title":   {"Ce document est masqué", "This document is hidden"},
	"doc.masked.who":     {"Seuls son auteur et votre médecin traitant peuvent le voir, en plus de vous.", "Only its author and your regular doctor can see it, besides you."},
	"doc.unmask":         {"Ne plus masquer", "Stop hiding it"},
	"doc.masked.done":    {"Le document est masqué aux professionnels, sauf à son auteur et à votre médecin traitant.", "The document is hidden from professionals, except its author and your regular doctor."},
	"doc.unmasked.done":  {"Le document est de nouveau visible par les professionnels autorisés.", "The document is visible again to the professionals allowed."},

	"trail.title":          {"Historique des accès", "Access history"},
	"trail.lead":           {"Chaque consultation, dépôt ou modification de votre dossier est enregistré ici, avec qui l'a fait et à quel titre.", "Every reading, deposit or change of your record is listed here, with who did it and on what ground."},
	"trail.filter.who":     {"Qui", "Who"},
	"trail.filter.all":     {"Tout le monde", "Everyone"},
	"trail.filter.pro":     {"Les professionnels", "Professionals"},
	"trail.filter.me":      {"Moi", "Me"},
	"trail.filter.refused": {"Seulement les accès refusés", "Refused accesses only"},
	"trail.filter.apply":   {"Filtrer", "Filter"},
	"trail.caption":        {"Accès à votre dossier", "Accesses to your record"},
	"trail.col.when":       {"Quand", "When"},
	"trail.col.who":        {"Qui", "Who"},
	"trail.col.what":       {"Quoi", "What"},
	"trail.col.outcome":    {"Résultat", "Outcome"},
	"trail.allowed":        {"Autorisé", "Allowed"},
	"trail.refused":        {"Refusé", "Refused"},
	"trail.emergency":      {"Urgence", "Emergency"},
	"trail.none":           {"Aucun accès.", "No access."},
	"trail.older":          {"Accès plus anciens", "Older accesses"},

	"sessions.title":      {"Mes connexions", "My sign-ins"},
	"sessions.lead":       {"Les appareils où vous êtes connecté. Fermez une connexion que vous ne reconnaissez pas.", "The devices where you are signed in. Close a sign-in you do not recognise."},
	"sessions.caption":    {"Connexions actives", "Active sign-ins"},
	"sessions.col.device": {"Appareil", "Device"},
	"sessions.col.since":  {"Depuis", "Since"},
	"sessions.col.last":   {"Dernière activité", "Last activity"},
	"sessions.col.action": {"Action", "Action"},
	"sessions.current":    {"Cette connexion", "This sign-in"},
	"sessions.close":      {"Fermer", "Close"},
	"sessions.everywhere": {"Me déconnecter partout", "Sign out everywhere"},
}
