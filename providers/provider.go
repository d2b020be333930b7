// Package providers signs users in against OAuth2 and OpenID Connect identity
// providers: it builds authorization URLs, exchanges codes for tokens, fetches
// and maps the user's profile, and classifies provider errors. It knows the
// presets (Preset), and Build turns one provider's settings, under its
// preset, into the provider. It knows nothing of HTTP routing or sessions.
package providers

import (
	"context"
	"time"

	"golang.org/x/oauth2"
)

// A Provider signs a user in against one identity provider.
type Provider interface {
	AuthCodeURL(state string, opts ...oauth2.AuthCodeOption) string
	Exchange(ctx context.Context, code string, opts ...oauth2.AuthCodeOption) (*Tokens, error)
	Identify(ctx context.Context, t *Tokens) (*Identity, error)
}

// A Refresher renews tokens; providers without refresh tokens don't implement it.
type Refresher interface {
	Refresh(ctx context.Context, t *Tokens) (*Tokens, error)
}

// Tokens are what the provider's token endpoint returned.
type Tokens struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	IDToken      string
	// Expiry is when the access token expires; zero when the provider gave no expires_in.
	Expiry time.Time
	// UserID is the token response's TOKEN_USER_ID_FIELD (WeChat openid, Mercado Libre user_id), if configured.
	UserID string
	// Nonce is the nonce sent in the authorization request; Identify checks
	// the ID token carries it. It is empty on refresh, where no nonce is
	// checked.
	Nonce string
}

// A NonceUser is a Provider that wants a nonce in the authorization request
// (OpenID Connect). When UsesNonce reports true, the caller generates an
// unguessable nonce per sign-in, sends it as the nonce parameter of the
// authorization URL, and sets Tokens.Nonce to it before calling Identify.
type NonceUser interface {
	UsesNonce() bool
}

// Identity is the user's profile, mapped from the provider's answer by Claims.
type Identity struct {
	ID    string
	Email string
	// EmailVerified is nil when the provider sent no verification flag.
	EmailVerified *bool
	Name          string
	GivenName     string
	FamilyName    string
	Username      string
	Picture       string
	Locale        string
	Groups        []string
	// Attributes are the CLAIM_ATTRIBUTES, by attribute name.
	Attributes map[string]string
}
