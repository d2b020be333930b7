// Package users is Portcullis's user registry: the people who may sign in,
// each with a stable local id and user name, the profile and custom
// attributes their provider last reported, a status (active or disabled),
// and the provider identities linked to them.
//
// A Registry is kept in SQLite (a file, through the pure-Go
// modernc.org/sqlite driver) or in PostgreSQL (through pgx), with the same
// schema and behaviour on both; Open migrates the schema. SignIn is what
// the proxy calls when a provider has identified someone; the other methods
// are for administrators. A Checker answers "is this user still active?"
// for open sessions without querying the database on every request.
//
// The registry never stores provider tokens.
package users

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is whether a user may sign in.
type Status string

// The statuses a user can have.
const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool { return s == StatusActive || s == StatusDisabled }

// A User is one person in the registry.
type User struct {
	// ID is the stable local id. It never changes and is never reused, even
	// after the user is deleted.
	ID int64 `json:"id"`
	// Name is the unique user name: X-User when a registry is on.
	Name string `json:"name"`

	// The profile, as the provider last reported it.
	Email       string `json:"email,omitempty"`
	GivenName   string `json:"given_name,omitempty"`
	FamilyName  string `json:"family_name,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Picture     string `json:"picture,omitempty"`
	Locale      string `json:"locale,omitempty"`
	// Attributes are the CLAIM_ATTRIBUTES values, by attribute name.
	Attributes map[string]string `json:"attributes,omitempty"`

	Status     Status    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	LastSignIn time.Time `json:"last_sign_in,omitzero"` // zero: never signed in

	// Identities are the provider identities linked to the user, sorted by
	// provider and external id.
	Identities []Identity `json:"identities"`
}

// Active reports whether the user may sign in.
func (u *User) Active() bool { return u.Status == StatusActive }

// An Identity is one user account at one provider. It is linked to at most
// one user.
type Identity struct {
	// Provider is the provider id (X-User-Provider).
	Provider string `json:"provider"`
	// ExternalID is the provider's unique user id (X-User-Id).
	ExternalID string `json:"external_id"`
}

// String returns the identity as PROVIDER:EXTERNAL_ID.
func (id Identity) String() string { return id.Provider + ":" + id.ExternalID }

// ParseIdentity parses PROVIDER:EXTERNAL_ID, splitting at the first colon
// (provider ids have none; external ids may).
func ParseIdentity(s string) (Identity, error) {
	p, ext, ok := strings.Cut(s, ":")
	id := Identity{Provider: p, ExternalID: ext}
	if !ok {
		return Identity{}, errorf(ErrInvalid, "identity %q is not PROVIDER:EXTERNAL_ID", s)
	}
	if err := id.validate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

func (id Identity) validate() error {
	switch {
	case id.Provider == "":
		return errorf(ErrInvalid, "identity %q has no provider", id.String())
	case id.ExternalID == "":
		return errorf(ErrInvalid, "identity %q has no external id", id.String())
	case strings.Contains(id.Provider, ":"):
		return errorf(ErrInvalid, "provider id %q contains a colon", id.Provider)
	}
	return nil
}

func sortIdentities(ids []Identity) {
	slices.SortFunc(ids, func(a, b Identity) int {
		if c := strings.Compare(a.Provider, b.Provider); c != 0 {
			return c
		}
		return strings.Compare(a.ExternalID, b.ExternalID)
	})
}

// A Profile is what a provider said about the person signing in, mapped
// through the claim settings.
type Profile struct {
	Provider   string // provider id
	ExternalID string // the provider's unique user id
	// Username is the username claim; the first choice for a new user's
	// name.
	Username      string
	Email         string
	EmailVerified bool // the provider vouches for Email
	GivenName     string
	FamilyName    string
	DisplayName   string
	Picture       string
	Locale        string
	Attributes    map[string]string
}

// Identity returns the profile's provider identity.
func (p *Profile) Identity() Identity {
	return Identity{Provider: p.Provider, ExternalID: p.ExternalID}
}

// SignInOptions say who SignIn lets in.
type SignInOptions struct {
	// AutoSignup creates a user for an identity the registry doesn't know.
	// Off, only users already in the registry may sign in.
	AutoSignup bool
	// LinkByVerifiedEmail links an unknown identity to the one active user
	// with the same e-mail address, when the provider says the address is
	// verified and is in TrustedEmailProviders. Off by default: it hands the
	// account to whoever controls that address at that provider, so turn it
	// on only for providers that verify addresses and never recycle them.
	LinkByVerifiedEmail bool
	// TrustedEmailProviders are the provider ids whose email_verified
	// LinkByVerifiedEmail believes. Empty: none.
	TrustedEmailProviders []string
}

// Errors the registry returns, checked with errors.Is; the errors returned
// carry a message with the details.
var (
	// ErrNotFound: no such user, or the identity isn't linked to the user.
	ErrNotFound = errors.New("not found")
	// ErrExists: the user name is taken, or the identity is already linked
	// (the message names the user it is linked to).
	ErrExists = errors.New("already exists")
	// ErrDisabled: the user is disabled and may not sign in.
	ErrDisabled = errors.New("user is disabled")
	// ErrNotRegistered: the identity is unknown and sign-up is off.
	ErrNotRegistered = errors.New("account is not registered")
	// ErrInvalid: a malformed user name, identity or status.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: the database could not be reached (or stayed busy).
	ErrUnavailable = errors.New("registry unreachable")
	// ErrSchemaTooNew: the database was migrated by a newer Portcullis.
	ErrSchemaTooNew = errors.New("database schema is newer than this portcullis")
	// ErrCorrupt: the file is not a database, or is damaged.
	ErrCorrupt = errors.New("not a database or damaged")
)

// A regError is one of the registry's errors (kind, for errors.Is) with its
// own message.
type regError struct {
	kind error
	msg  string
}

func (e *regError) Error() string { return e.msg }
func (e *regError) Unwrap() error { return e.kind }

func errorf(kind error, format string, a ...any) error {
	return &regError{kind: kind, msg: fmt.Sprintf(format, a...)}
}
