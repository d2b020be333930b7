// Package proxy is Portcullis's HTTP front: the sign-in routes, the pages,
// the forward-auth endpoints and the reverse proxy that passes signed-in
// users to the upstream with their identity in headers. It composes the
// providers and session packages; main wires it.
package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
)

// Sessions stores signed-in sessions and the pending sign-ins bound to a
// browser. *session.CookieStore is one.
type Sessions interface {
	Load(r *http.Request) (*session.State, error)
	Save(w http.ResponseWriter, r *http.Request, s *session.State) error
	Clear(w http.ResponseWriter, r *http.Request)
	IsOwnCookie(name string) bool
	SaveFlow(w http.ResponseWriter, r *http.Request, f *session.Flow) error
	LoadFlow(r *http.Request, state string) (*session.Flow, error)
	ClearFlow(w http.ResponseWriter, r *http.Request, state string)
}

// Provider is one configured identity provider as the proxy uses it.
type Provider struct {
	ID          string // provider id: what X-User-Provider carries
	DisplayName string // label on the sign-in page
	// RedirectURL is the callback URL registered at the provider; empty:
	// PublicURL + /oauth2/callback, else derived from the request.
	RedirectURL string
	PKCE        bool
	Provider    providers.Provider
}

// Options configure a Server.
type Options struct {
	// Upstream is the app behind the proxy; nil serves forward-auth only.
	Upstream *url.URL
	// UpstreamTimeout bounds the wait for the upstream's response headers; 0: none.
	UpstreamTimeout time.Duration
	// PublicURL is the external base URL; nil: taken from each request.
	PublicURL *url.URL
	Providers []Provider
	Sessions  Sessions
	Rules     Rules
	// AllowedRedirectDomains are hosts rd may point to besides our own.
	AllowedRedirectDomains []string
	// ValidateExternalToken ends a session once the provider's access token
	// has expired (or is within RefreshSkew of it).
	ValidateExternalToken bool
	RefreshSkew           time.Duration
	// AllowUnverifiedEmail admits users whose provider says email_verified=false.
	AllowUnverifiedEmail bool
	PassAccessToken      bool
	SetAuthorization     bool
	// AttributeNames are the CLAIM_ATTRIBUTES names, so their headers can be
	// prepared once.
	AttributeNames []string
	SignInTitle    string
	SignInLogoURL  string
	// Metrics are updated as requests are served; nil: a private set.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Server serves Portcullis's routes and proxies everything else.
type Server struct {
	opts      Options
	log       *slog.Logger
	now       func() time.Time
	providers map[string]*Provider
	rules     Rules
	attrKeys  map[string]string
	upstream  *httputil.ReverseProxy
	metrics   *metrics.Metrics
	handler   http.Handler
	draining  atomic.Bool
	ready     atomic.Bool
}

// New returns a Server for opts.
func New(opts Options) (*Server, error) {
	if len(opts.Providers) == 0 {
		return nil, errors.New("proxy: no provider configured")
	}
	if opts.Sessions == nil {
		return nil, errors.New("proxy: no session store")
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		now:       opts.Now,
		providers: make(map[string]*Provider, len(opts.Providers)),
		rules:     opts.Rules.normalized(),
		attrKeys:  make(map[string]string, len(opts.AttributeNames)),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.SignInTitle == "" {
		s.opts.SignInTitle = "Sign in"
	}
	for i := range opts.Providers {
		p := &s.opts.Providers[i]
		if p.Provider == nil || p.ID == "" {
			return nil, fmt.Errorf("proxy: provider %d is incomplete", i)
		}
		if _, dup := s.providers[p.ID]; dup {
			return nil, fmt.Errorf("proxy: provider id %q appears twice", p.ID)
		}
		if p.DisplayName == "" {
			p.DisplayName = p.ID
		}
		s.providers[p.ID] = p
	}
	for _, name := range opts.AttributeNames {
		s.attrKeys[name] = http.CanonicalHeaderKey("X-User-Attr-" + name)
	}
	if opts.Upstream != nil {
		s.upstream = s.newReverseProxy(opts.Upstream, opts.UpstreamTimeout)
	}
	if s.opts.Metrics == nil {
		s.opts.Metrics = metrics.New()
	}
	s.metrics = s.opts.Metrics
	s.handler = s.instrument(s.metrics, s.routes())
	s.ready.Store(true)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// SetReady marks the server ready or not for /ready (for example while a
// provider's discovery is pending).
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Drain makes /ready answer 503 from now on, for a graceful shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// routes registers every route in one place.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", s.ping)
	mux.HandleFunc("GET /ready", s.readyz)
	mux.HandleFunc("GET /oauth2/sign_in", s.signIn)
	mux.HandleFunc("GET /oauth2/start", s.start)
	mux.HandleFunc("GET /oauth2/callback", s.callback)
	mux.HandleFunc("GET /oauth2/sign_out", s.signOut)
	mux.HandleFunc("POST /oauth2/sign_out", s.signOut)
	mux.HandleFunc("GET /oauth2/userinfo", s.userinfo)
	mux.HandleFunc("GET /oauth2/auth", s.auth)
	mux.HandleFunc("/oauth2/", s.notFound)
	mux.HandleFunc("/", s.protected)
	return mux
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.draining.Load() || !s.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready"))
		return
	}
	w.Write([]byte("OK"))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, "Page not found", "There is no such page.")
}

// loadSession returns the request's session, or nil. A cookie that is
// invalid or expired is cleared on w.
func (s *Server) loadSession(w http.ResponseWriter, r *http.Request) *session.State {
	st, err := s.opts.Sessions.Load(r)
	if err == nil && s.tokenExpired(st) {
		err = errTokenExpired
	}
	if err != nil {
		if !errors.Is(err, session.ErrNoSession) {
			s.log.Debug("session ended", "err", err)
			s.opts.Sessions.Clear(w, r)
		}
		return nil
	}
	return st
}

var errTokenExpired = errors.New("the provider's access token has expired")

// tokenExpired reports whether st's access token counts as expired when
// the session's life follows the provider's token.
func (s *Server) tokenExpired(st *session.State) bool {
	return s.opts.ValidateExternalToken && !st.Expiry.IsZero() && !s.now().Before(st.Expiry.Add(-s.opts.RefreshSkew))
}

// protected serves every path that is not one of ours: signed-in and
// allowed users go to the upstream; others are sent to sign in (browsers)
// or refused with 401.
func (s *Server) protected(w http.ResponseWriter, r *http.Request) {
	st := s.loadSession(w, r)
	if st == nil {
		s.unauthenticated(w, r)
		return
	}
	if ok, why := s.rules.Allow(st); !ok {
		s.fail(w, r, http.StatusForbidden, "Access denied", why)
		return
	}
	if s.upstream == nil {
		s.fail(w, r, http.StatusNotFound, "Page not found", "This Portcullis serves sign-in and forward-auth only; it has no upstream to show.")
		return
	}
	s.serveUpstream(w, r, st)
}

// unauthenticated sends a browser to sign in, coming back to where it was,
// and answers anyone else 401.
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if !wantsHTML(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error": "unauthorized", "message": "sign in first", "status": http.StatusUnauthorized,
		})
		return
	}
	rd := r.URL.RequestURI()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rd = "/" // a form POST can't be replayed after sign-in
	}
	http.Redirect(w, r, s.signInURL(rd), http.StatusFound)
}

// signInURL is where a browser goes to sign in: the provider's start
// endpoint when there is one provider, the sign-in page otherwise.
func (s *Server) signInURL(rd string) string {
	q := url.Values{"rd": {rd}}
	if len(s.opts.Providers) == 1 {
		return "/oauth2/start?" + q.Encode()
	}
	return "/oauth2/sign_in?" + q.Encode()
}

// ownHost is the host users reach us on, for redirect checks.
func (s *Server) ownHost(r *http.Request) string {
	if s.opts.PublicURL != nil {
		return s.opts.PublicURL.Host
	}
	return r.Host
}

// redirectTarget validates an rd value.
func (s *Server) redirectTarget(r *http.Request, rd string) string {
	return safeRedirect(rd, s.ownHost(r), s.opts.AllowedRedirectDomains)
}

// callbackURL is the redirect URI for p, as registered at the provider.
func (s *Server) callbackURL(r *http.Request, p *Provider) string {
	if p.RedirectURL != "" {
		return p.RedirectURL
	}
	if s.opts.PublicURL != nil {
		return strings.TrimSuffix(s.opts.PublicURL.String(), "/") + "/oauth2/callback"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/oauth2/callback"
}
