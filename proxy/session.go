package proxy

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/session"
)

// The session load: every request's session, from a bearer token or the
// session store, checked against this configuration and the registry, and
// refreshed when its token has expired (refresh.go).

// loadSession returns the request's session, or nil when there is none.
// A cookie that is invalid or expired is cleared on w. An access token that
// has expired is refreshed (the new cookie is set on w); when that is
// impossible the session ends. A session ended before its time (the ended
// list, the idle timeout) ends. The session's last use advances when it
// is due (SESSION_IDLE_TIMEOUT). The error is non-nil only when the
// session store is unavailable.
func (s *Server) loadSession(w http.ResponseWriter, r *http.Request) (*session.State, error) {
	return s.load(w, r, true)
}

// peekSession is loadSession without advancing the session's last use,
// for readers that must not extend it.
func (s *Server) peekSession(w http.ResponseWriter, r *http.Request) (*session.State, error) {
	return s.load(w, r, false)
}

func (s *Server) load(w http.ResponseWriter, r *http.Request, touch bool) (*session.State, error) {
	if token, ok := s.bearerRequest(r); ok {
		return s.bearerSession(w, r, token)
	}
	st, err := s.sessions.Load(r)
	if errors.Is(err, session.ErrUnavailable) {
		s.log.Warn("session store unavailable", "err", err)
		return nil, err
	}
	if err != nil {
		if !errors.Is(err, session.ErrNoSession) {
			s.log.Debug("session rejected", "err", err)
			s.sessions.Clear(w, r)
		}
		return nil, nil
	}
	if s.ended(st) {
		s.sessions.Clear(w, r)
		return nil, nil
	}
	touched := false
	if s.ending.IdleTimeout > 0 {
		now := s.now()
		_, idle, due := s.idle(st, now)
		if idle {
			s.log.Info("session ended: unused for PORTCULLIS_SESSION_IDLE_TIMEOUT", "audit", "session_end", "provider", st.Provider, "user", st.User)
			s.sessions.Clear(w, r)
			return nil, nil
		}
		if due && touch {
			st.LastUsed, touched = now, true
			if st.ID == "" {
				st.ID = newSessionID() // a session from before sessions had ids
			}
		}
	}
	if !s.sameRule(st) {
		s.log.Info("session ended: made under another PORTCULLIS_USER_FROM or registry setting; the user signs in again", "audit", "session_end", "provider", st.Provider, "user", st.User)
		s.sessions.Clear(w, r)
		return nil, nil
	}
	if active, err := s.stillActive(r.Context(), st); err != nil {
		return nil, err
	} else if !active {
		s.log.Info("session ended: the user is disabled in the registry", "audit", "session_end", "user", st.User)
		s.sessions.Clear(w, r)
		return nil, nil
	}
	if !s.tokenExpired(st) {
		if touched {
			s.saveTouched(w, r, st)
		}
		noteUser(w, st)
		return st, nil
	}
	// A refresh saves the session, with its last use advanced.
	st, err = s.refresh(w, r, st)
	if errors.Is(err, session.ErrUnavailable) {
		return nil, err
	}
	if st == nil {
		s.sessions.Clear(w, r)
	}
	noteUser(w, st)
	return st, nil
}

// saveTouched stores st with its last use advanced; a failure only means
// that it advances on a later request.
func (s *Server) saveTouched(w http.ResponseWriter, r *http.Request, st *session.State) {
	if err := s.sessions.Save(w, r, st); err != nil {
		s.log.Warn("save the session's last use", "provider", st.Provider, "err", err)
	}
}

// storeUnavailable answers 503 when sessions can't be read or written.
func (s *Server) storeUnavailable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "5")
	s.fail(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
		"Portcullis cannot reach its session store right now. Try again in a moment.")
}
