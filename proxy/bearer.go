package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
	"github.com/portcullis/portcullis/users"
)

// BearerValidator checks a machine client's bearer token at a provider and
// says whom it belongs to, and since when it is known (the ended list
// judges it by that). *providers.BearerValidator is one.
type BearerValidator interface {
	Verify(ctx context.Context, token string) (providers.BearerVerdict, error)
}

// A BearerForgetter is a BearerValidator that can drop its cached verdict
// on a token, so that the token's next use is checked at the provider
// again (a token revoked at sign-out is refused then).
// *providers.BearerValidator is one.
type BearerForgetter interface {
	Forget(token string)
}

// forgetBearer drops every provider's cached verdict on token: sign-out
// has revoked it, and this replica must not accept it for the rest of a
// cache entry's life. Other replicas' caches keep it up to a minute
// (README "Machine clients").
func (s *Server) forgetBearer(token string) {
	if token == "" {
		return
	}
	for i := range s.providerList {
		if f, ok := s.providerList[i].Bearer.(BearerForgetter); ok {
			f.Forget(token)
		}
	}
}

var (
	// errBearerRejected: the client sent a bearer token no provider accepts.
	errBearerRejected = errors.New("bearer token rejected")
	// errBearerUnavailable: the token could not be checked (provider down).
	errBearerUnavailable = errors.New("bearer token cannot be checked now")
)

// bearerRequest returns the bearer token r is authenticated by: with
// BEARER_TOKENS, that of its "Authorization: Bearer" header.
func (s *Server) bearerRequest(r *http.Request) (string, bool) {
	if !s.access.BearerTokens {
		return "", false
	}
	return bearerToken(r)
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// bearerCreated is the time a bearer token's state counts as signed in
// at, for the ended list: the earlier of the token's issue time (iat) and
// the time this replica first accepted it, whichever are known — never
// now, which would put every ending's cut-off before it. Zero (no
// validator said either) is before every cut-off: any ending ends it.
func bearerCreated(v providers.BearerVerdict) time.Time {
	switch {
	case v.IssuedAt.IsZero():
		return v.FirstVerified
	case v.FirstVerified.IsZero() || v.IssuedAt.Before(v.FirstVerified):
		return v.IssuedAt
	}
	return v.FirstVerified
}

// bearerSession authenticates a machine client by its bearer token, trying
// each provider that can validate tokens: the first that accepts it wins.
// The session lives only for this request: no cookie, no refresh. The
// ended list judges it as a session signed in when the token was issued
// (bearerCreated): an ending refuses the tokens of before its cut-off.
func (s *Server) bearerSession(w http.ResponseWriter, r *http.Request, token string) (*session.State, error) {
	transient := false
	for i := range s.providerList {
		p := &s.providerList[i]
		if p.Bearer == nil {
			continue
		}
		v, err := p.Bearer.Verify(r.Context(), token)
		id := v.Identity
		if err != nil {
			if errors.Is(err, providers.ErrTransient) {
				transient = true
			}
			s.log.Debug("bearer token not accepted", "provider", p.ID, "err", err)
			continue
		}
		if p.emailUnverified(id) && id.Email != "" && !s.access.AllowUnverifiedEmail {
			id.Email = "" // not vouched for: the rules can't rely on it
		}
		st, ok := s.newState(p, id, &providers.Tokens{AccessToken: token, Expiry: v.Expiry}, bearerCreated(v))
		if !ok {
			return nil, errBearerRejected // USER_FROM=email, and no address to name the user by
		}
		if s.users.Registry != nil {
			// Machine clients must be registered users (no sign-up by token).
			localID, name, err := s.machines.lookup(r.Context(), s.users.Registry, users.Identity{Provider: p.ID, ExternalID: id.ID}, s.now())
			switch {
			case errors.Is(err, users.ErrNotFound):
				return nil, errBearerRejected
			case err != nil:
				return nil, errBearerUnavailable
			}
			st.LocalID = localID
			st.User, _ = s.userName(p, id, name)
			if active, err := s.stillActive(r.Context(), st); err != nil {
				return nil, errBearerUnavailable
			} else if !active {
				return nil, errBearerRejected
			}
		}
		if s.ending.Ended.Ends(st) {
			// Debug: a client retrying its token would fill the log.
			s.log.Debug("bearer token refused: its sessions were ended by a logout or an administrator", "provider", p.ID, "user", st.User)
			return nil, errBearerRejected
		}
		noteUser(w, st)
		return st, nil
	}
	if transient {
		return nil, errBearerUnavailable
	}
	return nil, errBearerRejected
}

// authFailed answers a request whose credentials can't be used: a rejected
// bearer token gets 401 (never a redirect: the client is a program), a
// provider or store that can't be reached 503.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errBearerRejected):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		s.writeUnauthenticated(w, "/", "the bearer token is not valid")
	case errors.Is(err, errBearerUnavailable):
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"error": "temporarily_unavailable", "message": "the bearer token cannot be checked now", "status": http.StatusServiceUnavailable,
		})
	case errors.Is(err, errRegistryUnavailable):
		w.Header().Set("Retry-After", "5")
		s.fail(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"Portcullis cannot reach the user registry right now. Try again in a moment.")
	default:
		s.storeUnavailable(w, r)
	}
}

// assertionFor signs the identity of st for the upstream; "" when
// assertions are off or signing failed (logged; the upstream then finds no
// assertion and refuses, which fails closed).
func (s *Server) assertionFor(st *session.State) string {
	if s.identity.Assertions == nil {
		return ""
	}
	tok, err := s.identity.Assertions.Sign(assertion.Claims{
		Subject:    st.UserID,
		User:       st.User,
		Email:      st.Email,
		Name:       st.Name,
		GivenName:  st.GivenName,
		FamilyName: st.FamilyName,
		Username:   st.Username,
		Groups:     st.Groups,
		Provider:   st.Provider,
		Attributes: st.Attributes,
	})
	if err != nil {
		s.log.Error("sign identity assertion", "err", err)
		return ""
	}
	return tok
}
