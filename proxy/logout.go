package proxy

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
)

// Sessions that end before their time: the ended list every session load
// consults (ended), OpenID Connect Back-Channel Logout
// (backchannelLogout) and Front-Channel Logout (frontchannelLogout), and
// the idle timeout (idle).

// EndedList is the list of sessions ended before their time.
// *session.Ended is one.
type EndedList interface {
	// Ends reports whether st has been ended; it is asked on every
	// request and must be cheap.
	Ends(st *session.State) bool
	// End ends the sessions endings name, on every replica that shares
	// the list; its error wraps session.ErrUnavailable when that can't
	// be done now.
	End(ctx context.Context, endings ...session.Ending) error
}

// SeenList remembers single-use ids (logout tokens' jti). *session.Seen
// is one.
type SeenList interface {
	FirstSeen(ctx context.Context, scope, id string, ttl time.Duration) (bool, error)
}

// A SeenForgetter is a SeenList that can forget an id again, for a
// logout token whose sessions could not be ended (503): the provider may
// send it again. *session.Seen is one.
type SeenForgetter interface {
	Forget(ctx context.Context, scope, id string) error
}

// A SessionEnder is a session store that finds and ends stored sessions
// itself, for every copy of their cookies; *session.RedisStore is one.
// The ended list ends them all the same: this frees their records at
// once.
type SessionEnder interface {
	Find(ctx context.Context, e session.Ending) ([]session.Live, error)
	EndStored(ctx context.Context, keys []string) (int, error)
}

// Ending says how sessions end before their time (logout.go).
type Ending struct {
	// Ended is consulted on every session load; nil: a list in this
	// process's memory.
	Ended EndedList
	// Seen keeps the logout tokens' jti; nil: in this process's memory.
	Seen SeenList
	// IdleTimeout ends a session unused this long (SESSION_IDLE_TIMEOUT);
	// 0: sessions don't end for being idle.
	IdleTimeout time.Duration
}

// seenTTL is how long a logout token's jti is remembered: past the
// latest time a token with that jti can still pass the iat check.
const seenTTL = 2*providers.LogoutIATWindow + time.Minute

// maxLogoutBody bounds a back-channel logout request's body.
const maxLogoutBody = 64 << 10

// newSessionID returns a new session id (State.ID).
func newSessionID() string { return rand.Text() }

// ended reports whether st was ended before its time, and says so in the
// log.
func (s *Server) ended(st *session.State) bool {
	if !s.ending.Ended.Ends(st) {
		return false
	}
	s.log.Info("session ended: ended by a logout or an administrator", "audit", "session_end", "provider", st.Provider, "user", st.User)
	return true
}

// idleInterval is how often a session's LastUsed advances: once a minute,
// or once per quarter of the idle timeout when that is shorter.
func idleInterval(timeout time.Duration) time.Duration {
	return min(time.Minute, timeout/4)
}

// idle is the idle-timeout decision for st at now: end is when st ends
// for being unused (zero when idle sessions don't end), ended whether
// that time has come, and due whether st's LastUsed should advance to
// now. It changes nothing: the session load advances LastUsed, and a
// reader that must not extend the session uses only end.
func (s *Server) idle(st *session.State, now time.Time) (end time.Time, ended, due bool) {
	timeout := s.ending.IdleTimeout
	if timeout <= 0 {
		return time.Time{}, false, false
	}
	last := st.LastUsed
	if last.Before(st.CreatedAt) {
		last = st.CreatedAt // made before the timeout was set
	}
	end = last.Add(timeout)
	return end, !now.Before(end), now.Sub(last) >= idleInterval(timeout)
}

// logoutError is a back-channel logout's error answer.
func logoutError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// backchannelLogout serves OpenID Connect Back-Channel Logout 1.0: a
// provider POSTs a logout_token naming sessions by sid or sub; once the
// token passed every check (VerifyLogoutToken) and its jti is new on
// every replica, those sessions end (the ended list). 200 on success, 400
// with a JSON error for a token refused, 503 when the ending can't be
// recorded now (Redis down, the provider's keys unreachable): the
// provider may retry then.
func (s *Server) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutBody)
	if err := r.ParseForm(); err != nil {
		logoutError(w, http.StatusBadRequest, "invalid_request", "the body is not a form of at most 64 KiB")
		return
	}
	tokens := r.PostForm["logout_token"]
	if len(tokens) != 1 || tokens[0] == "" {
		logoutError(w, http.StatusBadRequest, "invalid_request", "want exactly one logout_token in a form-encoded body")
		return
	}
	ctx := r.Context()
	// Every provider of the token's issuer is asked (two clients of one
	// issuer: the token's audience tells them apart); the first to accept
	// it decides. One that can't judge it now (its discovery not done, its
	// keys unreachable) keeps no other from accepting it: only when none
	// did is the answer 503, so that the provider tries again.
	var refused, unavailable error
	for i := range s.providerList {
		p := &s.providerList[i]
		v, ok := p.Provider.(providers.LogoutVerifier)
		if !ok {
			continue
		}
		claims, err := v.VerifyLogoutToken(ctx, tokens[0])
		switch {
		case err == nil:
			s.endByLogoutToken(w, r, p, claims)
			return
		case errors.Is(err, providers.ErrWrongIssuer):
			continue
		case errors.Is(err, providers.ErrTransient):
			s.log.Warn("back-channel logout: the provider's keys are unreachable", "provider", p.ID, "err", err)
			unavailable = err
			continue
		}
		s.log.Info("back-channel logout refused", "audit", "logout_refused", "provider", p.ID, "err", err)
		if refused == nil {
			refused = err
		}
	}
	if unavailable != nil {
		logoutError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the provider's keys can't be fetched now")
		return
	}
	if refused != nil {
		logoutError(w, http.StatusBadRequest, "invalid_request", refused.Error())
		return
	}
	s.log.Info("back-channel logout refused: no provider of that issuer", "audit", "logout_refused")
	logoutError(w, http.StatusBadRequest, "invalid_request", "the logout token's issuer is no provider configured here")
}

// endByLogoutToken ends the sessions a verified logout token names, once.
func (s *Server) endByLogoutToken(w http.ResponseWriter, r *http.Request, p *Provider, c *providers.LogoutClaims) {
	ctx := context.WithoutCancel(r.Context())
	first, err := s.ending.Seen.FirstSeen(ctx, c.Issuer, c.JTI, seenTTL)
	if err != nil {
		s.log.Warn("back-channel logout: can't check the token's jti", "provider", p.ID, "err", err)
		logoutError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the session store is unavailable right now")
		return
	}
	if !first {
		s.log.Info("back-channel logout refused: token replayed", "audit", "logout_refused", "provider", p.ID)
		logoutError(w, http.StatusBadRequest, "invalid_request", "logout token already used (jti seen before)")
		return
	}
	ending := session.Ending{Kind: session.EndSID, Provider: p.ID, Value: c.SID, Before: s.now()}
	by := "sid"
	if c.SID == "" {
		ending.Kind, ending.Value, by = session.EndSubject, c.Subject, "sub"
	}
	if err := s.ending.Ended.End(ctx, ending); err != nil {
		s.log.Warn("back-channel logout: can't end the sessions", "provider", p.ID, "err", err)
		if f, ok := s.ending.Seen.(SeenForgetter); ok {
			// The provider may send the token again: it must then work.
			if err := f.Forget(ctx, c.Issuer, c.JTI); err != nil {
				s.log.Warn("back-channel logout: can't forget the token's jti; the provider's next try will be refused", "provider", p.ID, "err", err)
			}
		}
		logoutError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the session store is unavailable right now")
		return
	}
	s.log.Info("sessions ended by back-channel logout", "audit", "session_end", "provider", p.ID, "by", by, "stored", s.endStored(ctx, ending))
	w.WriteHeader(http.StatusOK)
}

// endStored deletes the stored sessions e names, when the store keeps
// them (SessionEnder), and returns how many it deleted. Best effort: the
// ended list has ended them already.
func (s *Server) endStored(ctx context.Context, e session.Ending) int {
	ender, ok := s.sessions.(SessionEnder)
	if !ok {
		return 0
	}
	found, err := ender.Find(ctx, e)
	if err != nil {
		s.log.Warn("find the ended sessions in the store", "err", err)
		return 0
	}
	keys := make([]string, len(found))
	for i, l := range found {
		keys[i] = l.Key
	}
	n, err := ender.EndStored(ctx, keys)
	if err != nil {
		s.log.Warn("delete the ended sessions from the store", "err", err)
	}
	return n
}

// frontchannelLogout serves OpenID Connect Front-Channel Logout 1.0: the
// provider frames this page with its issuer and the session's sid; the
// browser's session ends when they match it (and the sid's sessions then
// end on every replica too). sid is required: without it a page anyone
// could link to would end sessions. iss, when given, must be a configured
// provider's issuer; without it (Microsoft Entra sends sid alone) the
// session's own provider is meant. The page may be framed by that
// provider's origin only, and is never cached.
func (s *Server) frontchannelLogout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	iss, sid := q.Get("iss"), q.Get("sid")
	h := w.Header()
	setSecurityHeaders(h)
	h.Del("X-Frame-Options") // frame-ancestors says who may frame it
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	frame := func(p *Provider) {
		ancestors := "'none'"
		if p != nil {
			if u, err := url.Parse(providerIssuer(p)); err == nil && u.Host != "" {
				ancestors = u.Scheme + "://" + u.Host
			}
		}
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors "+ancestors+"; base-uri 'none'")
	}
	var p *Provider
	if iss != "" {
		p = s.providerByIssuer(iss)
	}
	if sid == "" || (iss != "" && p == nil) {
		frame(p)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("<!doctype html><title>Sign-out</title><p>This sign-out request names no session of a provider configured here."))
		return
	}
	st, err := s.sessions.Load(r)
	if errors.Is(err, session.ErrUnavailable) {
		frame(p)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("<!doctype html><title>Sign-out</title><p>The session store is unavailable right now."))
		return
	}
	if err == nil && st != nil {
		// The session's own provider when iss is its issuer (two clients
		// of one issuer share it), or when there is no iss.
		if own, ok := s.providers[st.Provider]; ok && (iss == "" || providerIssuer(own) == iss) {
			p = own
		}
	}
	frame(p)
	if err == nil && p != nil && st.Provider == p.ID && st.SID != "" && st.SID == sid {
		ctx := context.WithoutCancel(r.Context())
		if err := s.ending.Ended.End(ctx, session.Ending{Kind: session.EndSID, Provider: p.ID, Value: sid, Before: s.now()}); err != nil {
			s.log.Warn("front-channel logout: can't end the session on other replicas", "provider", p.ID, "err", err)
		}
		s.sessions.Clear(w, r)
		s.log.Info("session ended by front-channel logout", "audit", "session_end", "provider", p.ID, "user", st.User)
	}
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("<!doctype html><title>Signed out</title><p>Signed out."))
}

// providerByIssuer returns the OpenID Connect provider whose issuer is
// iss, or nil.
func (s *Server) providerByIssuer(iss string) *Provider {
	for i := range s.providerList {
		p := &s.providerList[i]
		if iss != "" && providerIssuer(p) == iss {
			return p
		}
	}
	return nil
}

// providerIssuer returns p's OpenID Connect issuer, "" for a plain OAuth2
// provider.
func providerIssuer(p *Provider) string {
	if e, ok := p.Provider.(interface{ Endpoints() providers.Endpoints }); ok {
		return e.Endpoints().Issuer
	}
	return ""
}
