package oauth

import "context"

// Description is what the app catalogue (internal/catalogue) says of an app, for its consent
// page: who publishes it, and for each data category it asks for, why and what it covers.
type Description struct {
	Publisher  string
	Categories map[string]CategoryText // by document class code
}

// CategoryText is one category's words on the consent page.
type CategoryText struct {
	Justification string // the publisher's reason
	Includes      string // what it covers of the medical profile, "" when nothing
}

// Describe returns an app's description; an error (NotFound) when the app is not a referenced
// app of the catalogue, which then cannot be connected.
type Describe func(ctx context.Context, clientID string) (Description, error)
