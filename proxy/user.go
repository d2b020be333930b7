package proxy

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
)

// UserFrom says what X-User is (PORTCULLIS_USER_FROM), and with it every
// header and answer that names the user: X-Forwarded-User,
// X-Auth-Request-User, the assertion's user, /oauth2/userinfo's user and
// the audit log lines.
type UserFrom string

// The USER_FROM values. Under auto, email and id two people never get the
// same X-User: e-mail addresses (with one "@", and no ":" before it) are
// used only when the provider vouches for them, so the same address is
// the same person whichever provider vouched for it; ids are unique at
// their provider, and with several providers (or when an id holds an "@",
// under auto) they are written <provider id>:<user id>, which no address
// can be.
const (
	// UserFromAuto names the user by the registry when there is one, else
	// by an e-mail address the provider vouches for, else by the
	// provider's user id.
	UserFromAuto UserFrom = "auto"
	// UserFromEmail names the user by an e-mail address the provider
	// vouches for; a user without one can't sign in.
	UserFromEmail UserFrom = "email"
	// UserFromID names the user by the provider's user id.
	UserFromID UserFrom = "id"
	// UserFromUsername names the user by the username claim, else as auto.
	// Many providers let users choose or change it, so two people can get
	// the same X-User over time.
	UserFromUsername UserFrom = "username"
)

// userName returns the X-User of id, signed in at p, by USER_FROM.
// registered is the registry's name for the user ("" without a registry,
// or not yet known). ok is false under USER_FROM=email when p vouches for
// no e-mail address of id.
func (s *Server) userName(p *Provider, id *providers.Identity, registered string) (name string, ok bool) {
	switch s.identity.UserFrom {
	case UserFromEmail:
		if s.trustedEmail(p, id) {
			return id.Email, true
		}
		return "", false
	case UserFromID:
		return s.idName(p.ID, id.ID, false), true
	case UserFromUsername:
		if id.Username != "" {
			return id.Username, true
		}
	}
	switch {
	case registered != "":
		return registered, true
	case s.trustedEmail(p, id):
		return id.Email, true
	}
	return s.idName(p.ID, id.ID, true), true
}

// namesByRegistry reports whether USER_FROM names the user whose username
// claim is username by the registry's name.
func (s *Server) namesByRegistry(username string) bool {
	if s.users.Registry == nil {
		return false
	}
	switch s.identity.UserFrom {
	case UserFromEmail, UserFromID:
		return false
	case UserFromUsername:
		return username == ""
	}
	return true
}

// trustedEmail reports whether id's e-mail address can name the user: p
// vouches for it, and it has the shape of an address.
func (s *Server) trustedEmail(p *Provider, id *providers.Identity) bool {
	return id.Email != "" && !p.emailUnverified(id) && nameableEmail(id.Email)
}

// nameableEmail reports whether an e-mail address can be an X-User: one
// "@" with something on each side, no ":" before it (so it can't read as
// a <provider id>:<user id>), no white space or control character. It
// runs for every request (sameRule), so it reads e once.
func nameableEmail(e string) bool {
	at, wide := -1, false
	for i := 0; i < len(e); i++ {
		switch c := e[i]; {
		case c <= ' ' || c == 0x7f:
			return false
		case c >= utf8.RuneSelf:
			wide = true
		case c == '@':
			if at >= 0 {
				return false
			}
			at = i
		case c == ':' && at < 0:
			return false
		}
	}
	return at > 0 && at < len(e)-1 && !(wide && strings.ContainsFunc(e, unicode.IsSpace))
}

// idName writes a provider's user id as an X-User: <provider id>:<user id>
// when several providers are configured, or, under auto, when the id
// holds an "@" and could otherwise be taken for someone's address.
func (s *Server) idName(provider, userID string, auto bool) string {
	if s.prefixID(userID, auto) {
		return provider + ":" + userID
	}
	return userID
}

func (s *Server) prefixID(userID string, auto bool) bool {
	return len(s.providerList) > 1 || auto && strings.IndexByte(userID, '@') >= 0
}

// isIDName reports whether user is idName(provider, userID, auto), without
// building it.
func (s *Server) isIDName(user, provider, userID string, auto bool) bool {
	if !s.prefixID(userID, auto) {
		return user == userID
	}
	return len(user) == len(provider)+1+len(userID) &&
		strings.HasPrefix(user, provider) && user[len(provider)] == ':' && strings.HasSuffix(user, userID)
}

// sameRule reports whether st is a session this configuration makes: its
// X-User is one USER_FROM gives its identity, and with a registry it was
// admitted by the registry. A session made under another rule (before an
// upgrade that changed the default, or before USER_FROM or the registry
// changed) is not a session here: its user signs in again. This runs for
// every request, so it builds nothing.
func (s *Server) sameRule(st *session.State) bool {
	if s.users.Registry != nil && st.LocalID == 0 {
		return false
	}
	switch s.identity.UserFrom {
	case UserFromEmail:
		return st.User == st.Email && nameableEmail(st.Email)
	case UserFromID:
		return s.isIDName(st.User, st.Provider, st.UserID, false)
	case UserFromUsername:
		if st.Username != "" {
			return st.User == st.Username
		}
	}
	if s.users.Registry != nil {
		return st.User != "" // the registry's name
	}
	return st.User == st.Email && nameableEmail(st.Email) || s.isIDName(st.User, st.Provider, st.UserID, true)
}
