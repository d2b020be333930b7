package proxy

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
	"github.com/portcullis/portcullis/users"
)

// Registry is the user registry as sign-in uses it. *users.Registry is one.
type Registry interface {
	SignIn(ctx context.Context, p users.Profile, opts users.SignInOptions) (*users.User, error)
	Lookup(ctx context.Context, id users.Identity) (*users.User, error)
}

// ActiveChecker says whether a registry user may still use an open
// session, from a cache refreshed at most every so often (*users.Checker).
type ActiveChecker interface {
	Active(ctx context.Context, userID int64) (bool, error)
}

// errRegistryUnavailable: the registry can't be reached and the last
// known answer is too old.
var errRegistryUnavailable = errors.New("user registry unavailable")

// formNames are an identity's names (full, given, family).
type formNames [3]string

func namesOf(id *providers.Identity) formNames {
	return formNames{id.Name, id.GivenName, id.FamilyName}
}

// registerSignIn admits id through the registry and makes st the
// registry's user: X-User becomes the registry's user name where USER_FROM
// says so. It writes the refusal and returns false when the user may not
// come in.
//
// beforeForm, when not nil, holds id's names before the callback's form
// (Apple's user field) filled some. Apple sends that field on the first
// sign-in only, and the user can write anything in their own POST: once
// the registry holds a name for them, the form's names are ignored, in the
// registry and in st, and the registry's kept.
func (s *Server) registerSignIn(w http.ResponseWriter, r *http.Request, p *Provider, id *providers.Identity, st *session.State, beforeForm *formNames) bool {
	if s.users.Registry == nil {
		return true
	}
	if beforeForm != nil && s.registryHoldsName(r.Context(), users.Identity{Provider: p.ID, ExternalID: id.ID}) {
		id.Name, id.GivenName, id.FamilyName = beforeForm[0], beforeForm[1], beforeForm[2]
		st.Name, st.GivenName, st.FamilyName = beforeForm[0], beforeForm[1], beforeForm[2]
	}
	verified := id.EmailVerified != nil && *id.EmailVerified // auto-linking trusts only an explicit flag
	u, err := s.users.Registry.SignIn(r.Context(), users.Profile{
		Provider:      p.ID,
		ExternalID:    id.ID,
		Username:      id.Username,
		Email:         id.Email,
		EmailVerified: verified,
		GivenName:     id.GivenName,
		FamilyName:    id.FamilyName,
		DisplayName:   id.Name,
		Picture:       id.Picture,
		Locale:        id.Locale,
		Attributes:    id.Attributes,
	}, s.users.SignIn)
	switch {
	case err == nil:
		st.LocalID = u.ID
		// Names the provider did not send this time (Apple sends them on
		// the first sign-in only) come from the registry, which kept them.
		for _, f := range [][2]*string{{&st.Name, &u.DisplayName}, {&st.GivenName, &u.GivenName}, {&st.FamilyName, &u.FamilyName}} {
			if *f[0] == "" {
				*f[0] = *f[1]
			}
		}
		st.User, _ = s.userName(p, id, u.Name)
		return true
	case errors.Is(err, users.ErrNotRegistered):
		s.log.Info("sign-in denied: not registered", "audit", "denial", "provider", p.ID)
		s.signInResult(p.ID, metrics.SignInDenied)
		s.fail(w, r, http.StatusForbidden, "Account not registered",
			"Your account is not registered; ask an administrator.")
	case errors.Is(err, users.ErrDisabled):
		s.log.Info("sign-in denied: account disabled", "audit", "denial", "provider", p.ID)
		s.signInResult(p.ID, metrics.SignInDenied)
		s.fail(w, r, http.StatusForbidden, "Account disabled",
			"Your account is disabled; ask an administrator.")
	default:
		s.log.Warn("user registry sign-in failed", "provider", p.ID, "err", err)
		s.signInResult(p.ID, metrics.SignInError)
		w.Header().Set("Retry-After", "5")
		s.fail(w, r, http.StatusServiceUnavailable, "Sign-in is unavailable",
			"The user registry can't be reached right now. Try again in a moment.")
	}
	return false
}

// registryHoldsName reports whether the registry's user of identity has a
// name. A registry that can't answer counts as holding one: the form's
// names are then not trusted (and the sign-in itself fails on it).
func (s *Server) registryHoldsName(ctx context.Context, identity users.Identity) bool {
	u, err := s.users.Registry.Lookup(ctx, identity)
	switch {
	case errors.Is(err, users.ErrNotFound):
		return false
	case err != nil:
		return true
	}
	return u.DisplayName != "" || u.GivenName != "" || u.FamilyName != ""
}

// stillActive asks the checker whether st's registry user may go on. A
// disabled or deleted user's session ends (false, nil); a registry that
// has been unreachable for too long gives an error (503, session kept).
func (s *Server) stillActive(ctx context.Context, st *session.State) (bool, error) {
	if s.users.Checker == nil || st.LocalID == 0 {
		return true, nil
	}
	ok, err := s.users.Checker.Active(ctx, st.LocalID)
	if err != nil {
		s.log.Warn("user registry check failed", "err", err)
		return false, errRegistryUnavailable
	}
	return ok, nil
}

// machineUsers maps bearer-token identities to registry users, remembered
// for a short while so machine clients don't cost a query per request.
type machineUsers struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[users.Identity]machineUser
}

type machineUser struct {
	id      int64
	name    string
	err     error
	expires time.Time
}

func (m *machineUsers) lookup(ctx context.Context, reg Registry, id users.Identity, now time.Time) (int64, string, error) {
	m.mu.Lock()
	e, ok := m.entries[id]
	m.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.id, e.name, e.err
	}
	u, err := reg.Lookup(ctx, id)
	e = machineUser{err: err, expires: now.Add(m.ttl)}
	if err == nil {
		e.id, e.name = u.ID, u.Name
	} else if !errors.Is(err, users.ErrNotFound) {
		return 0, "", err // transient: not remembered
	}
	m.mu.Lock()
	if len(m.entries) >= 10000 {
		clear(m.entries)
	}
	m.entries[id] = e
	m.mu.Unlock()
	return e.id, e.name, e.err
}
