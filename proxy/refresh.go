package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
)

// The refresh decision: when a session's access token counts as expired
// (tokenExpired), and what a refresh makes of the session (refresh): the
// renewed session, the old one within REFRESH_GRACE, or its end.

// tokenExpired reports whether st's access token counts as expired when
// the session's life follows the provider's token.
func (s *Server) tokenExpired(st *session.State) bool {
	return s.tokens.ValidateExternal && !st.Expiry.IsZero() && !s.now().Before(st.Expiry.Add(-s.tokens.RefreshSkew))
}

// refresh renews st's tokens. It returns the session to go on with: the
// refreshed one, the old one while a transient failure is within
// REFRESH_GRACE, or nil when the session has ended.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request, st *session.State) (*session.State, error) {
	p, ok := s.providers[st.Provider]
	var refresher providers.Refresher
	if ok {
		refresher, ok = p.Provider.(providers.Refresher)
	}
	if !ok || st.RefreshToken == "" {
		s.refreshResult(st.Provider, "no_refresh_token")
		s.log.Info("session ended: access token expired and there is no refresh token", "audit", "session_end", "provider", st.Provider, "user", st.User)
		return nil, nil
	}
	// The function below runs once per grant at the provider, whichever
	// requests (or replicas) share its outcome: grants are counted there.
	fresh, err := s.tokens.Refresher.Refresh(r.Context(), st, func(ctx context.Context, old *session.State) (*session.State, error) {
		t, err := refresher.Refresh(ctx, &providers.Tokens{
			AccessToken: old.AccessToken, RefreshToken: old.RefreshToken, IDToken: old.IDToken, Expiry: old.Expiry,
		})
		if err != nil {
			result := "transient"
			if errors.Is(err, providers.ErrDeadGrant) {
				result, err = "invalid_grant", fmt.Errorf("%w: %w", session.ErrRefreshDead, err)
			}
			s.refreshResult(old.Provider, result)
			s.log.Warn("token refresh failed", "provider", old.Provider, "user", old.User, "err", err)
			return nil, err
		}
		s.refreshResult(old.Provider, "ok")
		ns := *old // same identity, same sign-in time: a refresh never extends COOKIE_EXPIRE
		ns.AccessToken, ns.RefreshToken, ns.IDToken, ns.Expiry = t.AccessToken, t.RefreshToken, t.IDToken, t.Expiry
		if t.IDToken != "" && t.IDToken != old.IDToken {
			// A new ID token may carry a changed identity (OIDC), judged and
			// named as at sign-in.
			if id, err := p.Provider.Identify(ctx, t); err == nil && id.ID == old.UserID {
				fresh, err := s.renamed(p, id, t, old)
				if err != nil {
					return nil, fmt.Errorf("%w: %w", session.ErrRefreshDead, err)
				}
				ns = *fresh
			} else if err == nil {
				s.log.Warn("identity after refresh not updated: the provider names another user", "provider", old.Provider)
			} else {
				s.log.Warn("identity after refresh not updated", "provider", old.Provider, "err", err)
			}
		}
		if ns.ID == "" {
			ns.ID = newSessionID() // a session from before sessions had ids
		}
		s.log.Info("token refreshed", "audit", "refresh", "provider", old.Provider, "user", old.User)
		return &ns, nil
	})
	switch {
	case err == nil:
		if err := s.sessions.Save(w, r, fresh); err != nil {
			s.log.Warn("save refreshed session", "provider", st.Provider, "err", err)
			switch {
			case errors.Is(err, session.ErrUnavailable):
				return nil, err
			case errors.Is(err, session.ErrExpired):
				return nil, nil // signed out elsewhere while refreshing
			}
		}
		return fresh, nil
	case errors.Is(err, errRenamed):
		s.log.Info("session ended: "+err.Error(), "audit", "session_end", "provider", st.Provider, "user", st.User)
		return nil, nil
	case errors.Is(err, session.ErrRefreshDead):
		s.log.Info("session ended: the provider refused the refresh token", "audit", "session_end", "provider", st.Provider, "user", st.User)
		return nil, nil
	default:
		if s.now().Before(st.Expiry.Add(s.tokens.RefreshGrace)) {
			return st, nil // keep working within the grace; retried after the backoff
		}
		s.log.Info("session ended: refresh kept failing past the grace period", "audit", "session_end", "provider", st.Provider, "user", st.User, "err", err)
		return nil, nil
	}
}

// renamed is the session old continues as, now that p identified its
// user anew as id (with tokens t): named by USER_FROM as at sign-in. An
// error says the session must end: sign-in would refuse the user now, or
// USER_FROM now wants the registry's name, which old doesn't carry.
func (s *Server) renamed(p *Provider, id *providers.Identity, t *providers.Tokens, old *session.State) (*session.State, error) {
	if s.unverifiedRefused(p, id) {
		return nil, fmt.Errorf("%w: the provider no longer vouches for the user's e-mail address", errRenamed)
	}
	ns, ok := s.newState(p, id, t, old.CreatedAt)
	if !ok {
		return nil, fmt.Errorf("%w: no e-mail address to name the user by (PORTCULLIS_USER_FROM=email)", errRenamed)
	}
	// The same session: its id and last use go on, and its provider
	// session's sid and sub unless the new ID token names them.
	ns.ID, ns.LastUsed = old.ID, old.LastUsed
	ns.SID, ns.Subject = cmp.Or(ns.SID, old.SID), cmp.Or(ns.Subject, old.Subject)
	if old.LocalID != 0 {
		// The registry checks the user, and may name them.
		ns.LocalID = old.LocalID
		if s.namesByRegistry(id.Username) {
			if !s.namesByRegistry(old.Username) {
				return nil, fmt.Errorf("%w: the user is now named by the registry and signs in again", errRenamed)
			}
			ns.User = old.User
		}
	}
	return ns, nil
}

// errRenamed: a refresh succeeded, but the identity it brought can't go on
// as the session (see renamed).
var errRenamed = errors.New("the refreshed identity can't continue the session")

// refreshResult counts one refresh grant at provider (or, with
// no_refresh_token, a session that needed one and had none).
func (s *Server) refreshResult(provider, result string) {
	s.metrics.Refreshes.WithLabelValues(provider, result).Inc()
}
