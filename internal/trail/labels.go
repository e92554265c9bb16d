package trail

import (
	"slices"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// actionLabels says in French what each traced action is. The names are those the services
// write (access.Action values, access.Trace* constants, the space, account and apitoken
// services, the messaging, the questionnaires); a new action without a label shows its
// family's, and fails TestEveryTracedActionHasALabel, which reads them in the code.
var actionLabels = map[string]string{
	string(access.ActionRead):       "Lecture d'un document",
	string(access.ActionList):       "Consultation de la fiche d'un document",
	string(access.ActionSearch):     "Recherche dans le dossier",
	string(access.ActionDeposit):    "Dépôt d'un document",
	string(access.ActionReplace):    "Dépôt d'une nouvelle version d'un document",
	string(access.ActionMask):       "Masquage d'un document aux professionnels",
	string(access.ActionUnmask):     "Fin du masquage d'un document",
	string(access.ActionArchive):    "Archivage d'un document",
	string(access.ActionDelete):     "Suppression d'un document",
	string(access.ActionSetLabel):   "Restriction de la visibilité d'un document",
	string(access.ActionClearLabel): "Levée d'une restriction de visibilité d'un document",

	string(access.ActionReadTraces):   "Consultation de l'historique des accès",
	string(access.ActionManageAccess): "Gestion des accès au dossier",
	string(access.ActionAdminister):   "Action administrative sur l'espace",
	string(access.ActionExport):       "Export de l'ensemble de l'espace santé",
	string(access.ActionImport):       "Import d'un dossier existant dans l'espace santé",
	"access.decide":                   "Demande d'accès",
	string(access.ActionReadMail):     "Lecture des messages de l'espace santé",
	string(access.ActionSendMail):     "Réponse à un professionnel par la messagerie",
	string(access.ActionWriteMail):    "Message d'un professionnel depuis le portail",
	"mail.deliver":                    "Réception d'un message",
	"mail.attachment_save":            "Enregistrement d'une pièce jointe dans le dossier",
	"mail.acknowledge":                "Accusé de réception d'un message envoyé à son expéditeur",
	"mail.xdm_file":                   "Classement dans le dossier des documents reçus par la messagerie",
	"mail.retention":                  "Suppression des messageries inutilisées (traitement périodique)",

	// The questionnaires (internal/questionnaire: its constants; the test holds them equal).
	"questionnaire.receive":         "Réception d'un questionnaire d'un professionnel",
	"questionnaire_response.read":   "Consultation d'une réponse à un questionnaire",
	"questionnaire_response.settle": "Vérification de l'envoi interrompu d'une réponse à un questionnaire",

	// The periodic jobs' and the operator's traces, on their own chains.
	"record.release":       "Mise à disposition des documents au terme du délai d'annonce (traitement périodique)",
	access.TraceMatrixLoad: "Chargement d'une matrice d'habilitations",
	audit.AnchorAction:     "Ouverture de l'historique des accès",
	"space.sweep":          "Ouverture et suppression des espaces à échéance (traitement périodique)",
	"professional.create":  "Enregistrement d'un professionnel",
	"account.create":       "Création d'un compte professionnel",
	"catalogue.add":        "Ajout d'une application au catalogue",
	"catalogue.update":     "Modification d'une application du catalogue",
	"catalogue.status":     "Changement du statut d'une application du catalogue",
	"catalogue.logo":       "Changement du logo d'une application du catalogue",

	access.TraceSettingsRead:          "Consultation des paramètres d'accès",
	access.TraceAuthorisationGrant:    "Autorisation d'accès donnée à un professionnel",
	access.TraceAuthorisationRenew:    "Autorisation d'accès renouvelée",
	access.TraceAuthorisationRefuse:   "Demande d'accès d'un professionnel refusée",
	access.TraceAuthorisationRevoke:   "Autorisation d'accès retirée",
	access.TraceBlock:                 "Blocage d'un professionnel",
	access.TraceUnblock:               "Fin du blocage d'un professionnel",
	access.TraceMedecinTraitantAdd:    "Désignation d'un médecin traitant",
	access.TraceMedecinTraitantRemove: "Fin de la désignation d'un médecin traitant",
	access.TraceOppositionsSet:        "Modification des oppositions aux accès en urgence",
	access.TraceCareTeamAdd:           "Entrée d'un professionnel dans l'équipe de soins",
	access.TraceCareTeamRemove:        "Retrait d'un professionnel de l'équipe de soins",

	"space.create":            "Création de l'espace santé",
	"space.activate":          "Activation de l'espace santé",
	"space.open":              "Ouverture de l'espace santé",
	"space.oppose":            "Opposition à la création de l'espace santé",
	"space.close":             "Clôture de l'espace santé",
	"space.close_and_delete":  "Clôture de l'espace santé et suppression des données",
	"space.request_deletion":  "Demande de suppression des données",
	"space.reopen":            "Réouverture de l'espace santé",
	"space.purge":             "Suppression définitive des données de l'espace",
	"space.notice":            "Envoi d'une notification",
	"access.alert":            "Alerte de vos médecins traitants après un accès en urgence",
	"mail.inactivity_warning": "Avertissement : messagerie inutilisée depuis près d'un an",
	"mail.inactivity_delete":  "Suppression des messages d'une messagerie inutilisée depuis un an",
	"space.lookup":            "Vérification de l'existence de l'espace santé",

	"representative.add":      "Ajout d'un représentant légal",
	"representative.remove":   "Retrait d'un représentant légal",
	"apitoken.issue":          "Création d'un jeton d'accès à l'API",
	"oauth.consent":           "Autorisation donnée à une application",
	"oauth.client_auth":       "Authentification d'une application",
	"oauth.client_register":   "Référencement d'une application",
	"oauth.client_disable":    "Désactivation d'une application",
	"oauth.client_secret":     "Renouvellement du secret d'une application",
	"auth.signin":             "Connexion",
	"auth.password":           "Vérification du mot de passe",
	"auth.code":               "Vérification du code de connexion",
	"auth.signout":            "Déconnexion",
	"auth.signout_everywhere": "Déconnexion de tous les appareils",
	"auth.session.revoke":     "Fermeture d'une connexion",
	"auth.session.rotate":     "Renouvellement de la connexion",
	"auth.reset.request":      "Demande de réinitialisation du mot de passe",
	"auth.reset":              "Changement du mot de passe par lien",
	"auth.activate":           "Activation de l'espace et choix des identifiants",
	"auth.passkey.register":   "Ajout d'une clé d'accès",
	"auth.passkey.use":        "Connexion avec une clé d'accès",
	"auth.passkey.delete":     "Suppression d'une clé d'accès",
	"auth.external":           "Connexion par un fournisseur d'identité",
	"auth.guessing":           "Tentatives répétées de connexion",
	"apitoken.revoke":         "Révocation d'un jeton d'accès à l'API",
	"profile.share.create":    "Création d'un code de partage de la synthèse du profil médical",
	"profile.share.revoke":    "Révocation d'un code de partage de la synthèse",
	"profile.share.use":       "Utilisation d'un code de partage de la synthèse par un professionnel",

	string(access.ActionReadEmergencyCard): "Consultation de votre carte d'urgence (QR code)",
	"emergency_card.settings":              "Modification du contenu de la carte d'urgence",
	"emergency_card.on":                    "Activation de la carte d'urgence",
	"emergency_card.off":                   "Désactivation de la carte d'urgence",
	"emergency_card.renew":                 "Renouvellement du lien de la carte d'urgence",
}

// familyLabels says what an action of a family is, for an action without a label of its own.
var familyLabels = map[string]string{
	"document":               "Action sur un document",
	"record":                 "Action sur le dossier",
	"access":                 "Action sur les accès au dossier",
	"space":                  "Action sur l'espace santé",
	"trace":                  "Action sur l'historique des accès",
	"representative":         "Action sur les représentants légaux",
	"apitoken":               "Action sur les jetons d'accès à l'API",
	"auth":                   "Connexion à l'espace",
	"oauth":                  "Accès d'une application",
	"mail":                   "Action sur la messagerie",
	"questionnaire":          "Action sur un questionnaire",
	"questionnaire_response": "Action sur une réponse à un questionnaire",
	"catalogue":              "Action sur le catalogue des applications",
}

// ActionLabel says in French what action is.
func ActionLabel(action string) string {
	if l, ok := actionLabels[action]; ok {
		return l
	}
	family, _, _ := strings.Cut(action, ".")
	if l, ok := familyLabels[family]; ok {
		return l
	}
	return action
}

// Actions returns the actions the trail has a label for, sorted.
func Actions() []string {
	out := make([]string, 0, len(actionLabels))
	for a := range actionLabels {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// otherReasons are the reason codes a trace may hold besides access's: the error codes of
// failures (audit.Failure) and what an action records of itself.
var otherReasons = map[string]string{
	"share":                      "Avec le code de partage que vous avez donné.",
	"share_used":                 "Refusé : ce code de partage avait déjà servi.",
	"share_expired":              "Refusé : ce code de partage avait expiré.",
	"share_revoked":              "Refusé : vous aviez révoqué ce code de partage.",
	string(errs.Invalid):         "Demande incorrecte : rien n'a été fait.",
	string(errs.NotFound):        "Introuvable : rien n'a été fait.",
	string(errs.Forbidden):       "Refusé : rien n'a été fait.",
	string(errs.Unauthenticated): "Identité non établie : rien n'a été fait.",
	string(errs.Conflict):        "Refusé, en conflit avec l'état du dossier : rien n'a été fait.",
	string(errs.Unavailable):     "Service indisponible : rien n'a été fait.",
	string(errs.Internal):        "Erreur du service : rien n'a été fait.",
	"existence_test":             "Test de l'existence de l'espace, sans accès à son contenu.",
	"not_own_patient":            "Refusé : cet espace n'est pas celui de la personne connectée.",
	"invalid_client":             "Refusé : l'application n'a pas pu s'authentifier.",

	// The questionnaires (internal/questionnaire).
	"not_sender":    "Refusé : seul le professionnel qui vous a envoyé le questionnaire (sa messagerie, ou celle de sa structure dont il est membre) lit votre réponse.",
	"reply_found":   "Le service s'était interrompu pendant l'envoi : votre réponse était bien partie, elle est enregistrée comme envoyée.",
	"reply_missing": "Le service s'était interrompu pendant l'envoi : votre réponse n'était pas partie, vous pouvez répondre à nouveau.",

	// The messaging's refusals (mail.Reason), traced on the patient's chain when a message to
	// or from their mailbox is refused.
	"bad_address":      "Refusé : l'adresse est incorrecte.",
	"unknown_mailbox":  "Refusé : cette messagerie n'existe pas.",
	"sender_domain":    "Refusé : l'expéditeur n'appartient pas à l'espace de confiance de la messagerie de santé.",
	"relay_denied":     "Refusé : ce destinataire est hors de l'espace de confiance de la messagerie de santé.",
	"space_not_open":   "Refusé : l'espace santé n'est pas ouvert.",
	"mailbox_disabled": "Refusé : cette messagerie ne reçoit plus de messages.",
	"no_reply":         "Refusé : cette adresse ne reçoit pas de réponse.",
	"patient_first":    "Refusé : vous pouvez répondre à un professionnel qui vous a écrit, tant qu'il n'a pas clos l'échange.",
	"sender_not_own":   "Refusé : un message ne part que de la messagerie de qui l'envoie.",
	"mailbox_full":     "Refusé : la messagerie est pleine.",
	"too_big":          "Refusé : le message est trop volumineux.",
	"malformed":        "Refusé : le message est illisible.",
	"too_many_rcpts":   "Refusé : le message a trop de destinataires.",
	"temporary":        "Échec temporaire du service : rien n'a été fait.",
}

// outcomeLabels say the outcome of a trace that records no reason.
var outcomeLabels = map[audit.Outcome]string{
	audit.Allowed: "Effectué.",
	audit.Denied:  "Refusé.",
	audit.Failed:  "Échec : rien n'a été fait.",
}

// ReasonLabel says in French why a trace's action was allowed or refused: the message the
// access decision gave for the reason (access.Reason.Messages, written to the requester), or
// what a failure or the outcome says.
func ReasonLabel(code string, outcome audit.Outcome) string {
	if fr, _ := access.Reason(code).Messages(); fr != "" {
		return fr
	}
	if l, ok := otherReasons[code]; ok {
		return l
	}
	return outcomeLabels[outcome]
}

// kindLabels say what an actor is, for a trace that holds no name.
var kindLabels = map[audit.ActorKind]string{
	audit.ActorPatient:        "Patient",
	audit.ActorRepresentative: "Représentant légal",
	audit.ActorProfessional:   "Professionnel",
	audit.ActorApp:            "Application",
	audit.ActorOperator:       "Exploitant du service",
	audit.ActorSystem:         "Traitement automatique",
	audit.ActorPublic:         "Personne non connectée (carte d'urgence)",
}

// KindLabel says in French what kind of actor k is.
func KindLabel(k audit.ActorKind) string { return kindLabels[k] }
