// Package session keeps a signed-in user's state: who they are and the
// provider's tokens. It encodes that state into encrypted, signed cookies
// (split into parts when large), binds pending sign-ins to the browser, and
// enforces the session's lifetime on the server. It knows nothing of any
// provider's wire format.
package session

import "time"

// State is one signed-in session.
type State struct {
	Provider   string // provider id
	UserID     string // the provider's unique user id
	User       string // the value of X-User
	Email      string
	Name       string
	GivenName  string
	FamilyName string
	Username   string // the provider's username claim
	Groups     []string
	Attributes map[string]string

	AccessToken  string
	RefreshToken string
	IDToken      string
	// Expiry is the access token's expiry; zero when the provider gave none.
	Expiry time.Time
	// CreatedAt is the sign-in time; the session ends COOKIE_EXPIRE after it.
	CreatedAt time.Time
	// LocalID is the user's id in the user registry; 0 without one.
	LocalID int64

	// ID names this session among the user's others (sessions end --id);
	// random, given at sign-in and kept by refreshes. Empty in sessions
	// made before it existed.
	ID string
	// SID and Subject are the ID token's sid and sub claims (empty without
	// an ID token), which back-channel and front-channel logout name a
	// session by; set at sign-in and updated by refreshes.
	SID     string
	Subject string
	// LastUsed is when the session was last used, to the minute or so
	// (SESSION_IDLE_TIMEOUT); zero when idle sessions don't end.
	LastUsed time.Time
}

// Flow is a sign-in in progress, bound to the browser that started it by the
// CSRF cookie: the callback must present the same State.
type Flow struct {
	State     string // the OAuth2 state parameter (random)
	Verifier  string // PKCE code verifier; empty without PKCE
	Nonce     string // OIDC nonce; empty for plain OAuth2
	Provider  string // provider id the flow was started for
	Redirect  string // validated rd to return to after sign-in
	CreatedAt time.Time
	// FormPost says the provider answers with a POST from its own site
	// (RESPONSE_MODE=form_post): while the CSRF cookie holds such a flow it
	// is SameSite=None; Secure, or the browser would not send it along.
	FormPost bool
	// Mode is how the sign-in ends: "" returns the browser to Redirect;
	// "popup" serves a page that tells the window which opened it the
	// outcome, then closes.
	Mode string
}

// subject is the provider's id of st's user: the ID token's sub, else
// the user id (one rule for the index, the ended list and their matching).
func (st *State) subject() string {
	if st.Subject != "" {
		return st.Subject
	}
	return st.UserID
}
