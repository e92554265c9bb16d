package access

import "github.com/carnet-sante/carnet/internal/audit"

// Card is what the decision needs to know of the patient's emergency card (internal/emergency)
// to let the public read it: the card service fills it from the card as stored, after finding
// it by the hash of the link's token.
type Card struct {
	// On: the patient turned the card on and has not turned it off since.
	On bool
	// TokenMatches: the link's token is the card's current one (compared in constant time).
	TokenMatches bool
}

// emergencyCard decides the reading of an emergency card, and any action of the public. The
// link is the patient's consent, given beforehand to whoever holds their card (our default:
// no text covers it; it is the patient's own choice of what to show, like a card in a wallet).
// So the public reads the card, and nothing else, while the card is on and the token is its
// current one; nobody else reads a card this way: the patient sees their card on their own
// page, professionals read the profile on their own grounds.
func emergencyCard(in Input, d Decision) Decision {
	if in.Actor.Kind != audit.ActorPublic || in.Action != ActionReadEmergencyCard {
		return d.deny(ReasonActionNotPermitted)
	}
	if !in.Card.On || !in.Card.TokenMatches {
		return d.deny(ReasonEmergencyCardOff)
	}
	return d.allow(ReasonEmergencyCard)
}
