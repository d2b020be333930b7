package proxy

import (
	"errors"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
)

// What the app's own scripts may ask: the session's status (/session),
// which neither renews nor extends it, and its access token (/token,
// EXPOSE_ACCESS_TOKEN), to same-origin requests only.

// sessionStatus answers GET /session: who is signed in and until when. It
// neither refreshes nor extends the session (readSession). For a bearer
// token the session's ends are null and token_expires_at is the token's
// expiry, when the provider said it.
func (s *Server) sessionStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.readSession(w, r)
	if err != nil {
		s.authFailed(w, r, err)
		return
	}
	if st == nil {
		s.writeUnauthenticated(w, "/", "")
		return
	}
	var idle, expires *string
	if _, bearer := s.bearerRequest(r); !bearer {
		// A bearer token has no session to end: only its own expiry.
		if end, _, _ := s.idle(st, s.now()); !end.IsZero() {
			idle = rfc3339(end)
		}
		if !st.CreatedAt.IsZero() {
			expires = rfc3339(st.CreatedAt.Add(s.apps.SessionLifetime))
		}
	}
	writeJSON(w, http.StatusOK, sessionAnswer{
		SignedIn: true, User: st.User, Email: st.Email, Provider: st.Provider,
		ExpiresAt: expires, TokenExpiresAt: rfc3339(st.Expiry), IdleExpiresAt: idle,
	})
}

// sessionAnswer is /session's body. A time that does not apply is null.
type sessionAnswer struct {
	SignedIn       bool    `json:"signed_in"`
	User           string  `json:"user"`
	Email          string  `json:"email"`
	Provider       string  `json:"provider"`
	ExpiresAt      *string `json:"expires_at"`
	TokenExpiresAt *string `json:"token_expires_at"`
	IdleExpiresAt  *string `json:"idle_expires_at"`
}

// rfc3339 writes t in RFC 3339, in UTC; nil for the zero time.
func rfc3339(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := t.UTC().Format(time.RFC3339)
	return &v
}

// readSession is loadSession without refreshing or writing anything: the
// request's session as it stands, nil when there is none or it has ended
// (its token expired with no way to renew it). A session read here is not
// used, so it is neither extended nor renewed: nothing is saved, no
// refresh grant is made, and a session that loadSession would clear is
// only reported as absent.
// Like peekSession it never advances the last use; unlike it, it never
// refreshes, writes or clears a cookie: a session the ended list names or
// whose idle end has passed is only reported as absent.
func (s *Server) readSession(w http.ResponseWriter, r *http.Request) (*session.State, error) {
	if token, ok := s.bearerRequest(r); ok {
		return s.bearerSession(w, r, token)
	}
	st, err := s.sessions.Load(r)
	if err != nil {
		if errors.Is(err, session.ErrUnavailable) {
			return nil, err
		}
		return nil, nil
	}
	if !s.sameRule(st) || s.ending.Ended.Ends(st) {
		return nil, nil
	}
	if _, idle, _ := s.idle(st, s.now()); idle {
		return nil, nil
	}
	if active, err := s.stillActive(r.Context(), st); err != nil || !active {
		return nil, err
	}
	if s.tokenExpired(st) && !s.canRefresh(st) {
		return nil, nil // the next request ends it
	}
	noteUser(w, st)
	return st, nil
}

// canRefresh reports whether st's tokens could be renewed.
func (s *Server) canRefresh(st *session.State) bool {
	p, ok := s.providers[st.Provider]
	if !ok || st.RefreshToken == "" {
		return false
	}
	_, ok = p.Provider.(providers.Refresher)
	return ok
}

// accessToken answers GET /token (EXPOSE_ACCESS_TOKEN): the session's
// access token, renewed first when it is due, for the app's own scripts to
// call the provider's APIs. Only the app's own pages may read it: a
// request must say it is same-origin (Sec-Fetch-Site), or, from a client
// that doesn't send Sec-Fetch-Site, carry X-Requested-With (a header no
// other site's page can add without a CORS preflight, which Portcullis
// never grants); any Origin it names must be ours. No CORS header is ever
// set.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if !s.apps.ExposeAccessToken {
		s.notFound(w, r)
		return
	}
	if !s.ownScript(r) {
		s.log.Info("access token refused: not a same-origin request", "sec_fetch_site", clean(r.Header.Get("Sec-Fetch-Site"), 20))
		writeJSON(w, http.StatusForbidden, map[string]any{
			"error": "forbidden", "message": "the access token is served to this site's own scripts only", "status": http.StatusForbidden,
		})
		return
	}
	st, err := s.loadSession(w, r) // renews an expired token (VALIDATE_EXTERNAL_TOKEN)
	if err != nil {
		s.authFailed(w, r, err)
		return
	}
	if st != nil && !s.tokens.ValidateExternal && s.tokenDue(st) && s.canRefresh(st) {
		// The session outlives its token here; the script still wants a
		// live one.
		fresh, err := s.refresh(w, r, st)
		if err != nil {
			s.authFailed(w, r, err)
			return
		}
		if fresh == nil {
			// The session has ended (the provider refused the refresh
			// token, the user changed, …): here as on any other request.
			s.sessions.Clear(w, r)
		}
		st = fresh
	}
	if st == nil || st.AccessToken == "" {
		s.writeUnauthenticated(w, "/", "")
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenAnswer{AccessToken: st.AccessToken, ExpiresAt: rfc3339(st.Expiry)})
}

// tokenAnswer is /token's body.
type tokenAnswer struct {
	AccessToken string  `json:"access_token"`
	ExpiresAt   *string `json:"expires_at"`
}

// tokenDue reports whether st's access token has expired or is within
// REFRESH_SKEW of it, whether or not the session follows it.
func (s *Server) tokenDue(st *session.State) bool {
	return !st.Expiry.IsZero() && !s.now().Before(st.Expiry.Add(-s.tokens.RefreshSkew))
}

// ownScript reports whether r comes from a script of our own origin:
// Sec-Fetch-Site says same-origin, or (from a client that sends no
// Sec-Fetch-Site) it carries X-Requested-With; and an Origin, if any,
// is ours.
func (s *Server) ownScript(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
	case "":
		if r.Header.Get("X-Requested-With") == "" {
			return false
		}
	default: // cross-site, same-site (another origin), none (typed in)
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		return origin == s.ownOrigin(r)
	}
	return true
}
