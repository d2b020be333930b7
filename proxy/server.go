// Package proxy is Portcullis's HTTP front: the sign-in routes, the pages,
// the forward-auth endpoints and the reverse proxy that passes signed-in
// users to the upstream with their identity in headers. It composes the
// providers and session packages; main wires it.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
	"github.com/portcullis/portcullis/users"
)

// Sessions stores signed-in sessions. *session.CookieStore and
// *session.RedisStore are. IsOwnCookie names every cookie of ours, the
// sign-in flows' included, so that none reaches the upstream.
type Sessions interface {
	Load(r *http.Request) (*session.State, error)
	Save(w http.ResponseWriter, r *http.Request, s *session.State) error
	Clear(w http.ResponseWriter, r *http.Request)
	IsOwnCookie(name string) bool
}

// FlowStore binds pending sign-ins to the browser that started them.
// *session.Flows is one.
type FlowStore interface {
	Save(w http.ResponseWriter, r *http.Request, f *session.Flow) error
	Load(r *http.Request, state string) (*session.Flow, error)
	Clear(w http.ResponseWriter, r *http.Request, state string)
}

// Provider is one configured identity provider as the proxy uses it.
type Provider struct {
	ID          string // provider id: what X-User-Provider carries
	DisplayName string // label on the sign-in page
	// RedirectURL is the callback URL registered at the provider; empty:
	// PublicURL + /oauth2/callback, else derived from the request.
	RedirectURL string
	PKCE        bool
	// ResponseType is "code" or "token" (the implicit flow).
	ResponseType string
	// ClientID is sent to the provider's logout URL with the id token hint.
	ClientID string
	// Bearer validates machine clients' bearer tokens (BEARER_TOKENS);
	// nil: this provider's tokens are not accepted.
	Bearer BearerValidator
	// TokenCheck confirms that the access token an implicit-flow sign-in
	// (ResponseType "token") brings was issued to this client, and says
	// until when; required for that flow.
	TokenCheck TokenChecker
	// LogoutURL is the provider's end-session URL; empty: the provider's
	// own LogoutURL() (OIDC discovery), else sign-out stays local.
	LogoutURL string
	// UnverifiedByDefault counts an e-mail address as unverified when the
	// provider sends no verification flag (its preset documents that the
	// provider doesn't vouch for addresses: Microsoft).
	UnverifiedByDefault bool
	Provider            providers.Provider
}

// emailUnverified reports whether p doesn't vouch for id's e-mail address:
// the provider says so, or sends no flag and its preset counts that as no.
func (p *Provider) emailUnverified(id *providers.Identity) bool {
	if id.EmailVerified == nil {
		return p.UnverifiedByDefault
	}
	return !*id.EmailVerified
}

// Options configure a Server.
type Options struct {
	// Upstream is the app behind the proxy; nil serves forward-auth only.
	Upstream *url.URL
	// UpstreamTimeout bounds the wait for the upstream's response headers; 0: none.
	UpstreamTimeout time.Duration
	// UpstreamMaxConns bounds the connections open to the upstream at
	// once; requests beyond wait for one. 0: no limit.
	UpstreamMaxConns int
	// UpstreamTLS configures TLS to an https upstream (custom CA, client
	// certificate); nil: the system's defaults.
	UpstreamTLS *tls.Config
	// BodyReadTimeout bounds each wait for the next bytes of a request
	// body; 0: no bound. BodyMinRate, when set, is the slowest average rate
	// (bytes a second, counting only the time spent waiting for the
	// client) at which a body may arrive once reading it has waited
	// BodyReadTimeout in all: a body trickled in a byte at a time is cut
	// off like one that stalls. Either way the client gets 408.
	BodyReadTimeout time.Duration
	BodyMinRate     int
	// ReadTimeout is the server's whole-request read timeout (READ_TIMEOUT),
	// which the body's deadlines never extend; 0: none.
	ReadTimeout time.Duration
	// PublicURL is the external base URL; nil: taken from each request.
	PublicURL *url.URL
	Providers []Provider
	Sessions  Sessions
	Flows     FlowStore
	Rules     Rules
	// AllowedRedirectDomains are hosts rd may point to besides our own.
	AllowedRedirectDomains []string
	// AllowedHosts are the hosts (entries as in AllowedRedirectDomains)
	// whose requests may build our own URLs when PublicURL is nil, besides
	// loopback hosts and the hosts of the providers' RedirectURLs.
	AllowedHosts []string
	// ValidateExternalToken ends a session once the provider's access token
	// has expired (or is within RefreshSkew of it).
	ValidateExternalToken bool
	// RefreshSkew makes a token this close to expiry count as expired.
	RefreshSkew time.Duration
	// RefreshGrace keeps a session working this long past its token's
	// expiry while refreshes fail transiently.
	RefreshGrace time.Duration
	// Refresher runs refresh grants (one per refresh token at a time); nil:
	// one for this process.
	Refresher *session.Refresher
	// BearerTokens authenticates requests that carry Authorization: Bearer
	// by the token alone, with the providers' Bearer validators.
	BearerTokens bool
	// Assertions, when set, signs X-Portcullis-Assertion for upstreams and
	// serves its public keys at /.well-known/portcullis/jwks.json.
	Assertions *assertion.Signer
	// Registry, when set, admits users at sign-in (auto sign-up or known
	// users only) and names them; RegistryChecker ends the sessions of
	// users disabled since.
	Registry        Registry
	RegistryChecker ActiveChecker
	SignInOptions   users.SignInOptions
	// Routes are per-route rules, evaluated in order; the first match decides.
	Routes []Route
	// SkipAuthPreflight lets CORS preflight requests through unauthenticated.
	SkipAuthPreflight bool
	// TrustForwardedHeaders honours X-Forwarded-* from peers in
	// TrustedProxies (from any peer when that is empty).
	TrustForwardedHeaders bool
	TrustedProxies        []netip.Prefix
	// ReadyChecks must all pass for /ready to answer 200 (Redis, say).
	ReadyChecks []func(context.Context) error
	// AllowUnverifiedEmail admits users whose provider says email_verified=false.
	AllowUnverifiedEmail bool
	// UserFrom decides X-User and every header that names the user; ""
	// is UserFromAuto.
	UserFrom         UserFrom
	PassAccessToken  bool
	SetAuthorization bool
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
	opts       Options
	log        *slog.Logger
	now        func() time.Time
	providers  map[string]*Provider
	rules      Rules
	routeRules []Route
	attrKeys   map[string]string
	refresher  *session.Refresher
	spent      *spentStates
	machines   *machineUsers
	upstream   *httputil.ReverseProxy
	metrics    *metrics.Metrics
	handler    http.Handler
	draining   atomic.Bool
	ready      atomic.Bool

	// allowedHosts are ALLOWED_HOSTS and the providers' REDIRECT_URL hosts.
	allowedHosts []string

	// restricting are the routes that aren't public, for a request whose
	// path is unknown; foldRoutes says some route has a fold pattern.
	restricting []*Route
	foldRoutes  bool
	// methodRoutes says some route names methods; anyMethod lists them
	// and "" (any other), to judge a request whose method is unknown.
	methodRoutes bool
	anyMethod    []string
}

// New returns a Server for opts.
func New(opts Options) (*Server, error) {
	if len(opts.Providers) == 0 {
		return nil, errors.New("proxy: no provider configured")
	}
	if opts.Sessions == nil {
		return nil, errors.New("proxy: no session store")
	}
	if opts.Flows == nil {
		return nil, errors.New("proxy: no sign-in flow store")
	}
	switch opts.UserFrom {
	case "", UserFromAuto, UserFromEmail, UserFromID, UserFromUsername:
	default:
		return nil, fmt.Errorf("proxy: unknown UserFrom %q", opts.UserFrom)
	}
	s := &Server{
		opts:       opts,
		log:        opts.Logger,
		now:        opts.Now,
		providers:  make(map[string]*Provider, len(opts.Providers)),
		rules:      opts.Rules.normalized(),
		routeRules: make([]Route, len(opts.Routes)),
		attrKeys:   make(map[string]string, len(opts.AttributeNames)),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.spent = newSpentStates(15*time.Minute, 100000)
	s.machines = &machineUsers{ttl: time.Minute, entries: map[users.Identity]machineUser{}}
	s.refresher = opts.Refresher
	if s.refresher == nil {
		s.refresher = session.NewRefresher(session.RefreshOptions{Now: s.now})
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
		if p.ResponseType == "token" && p.TokenCheck == nil {
			return nil, fmt.Errorf("proxy: provider %q uses the implicit flow without a token check", p.ID)
		}
		s.providers[p.ID] = p
		if u, err := url.Parse(p.RedirectURL); err == nil && u.Host != "" {
			s.allowedHosts = append(s.allowedHosts, u.Host) // registered at the provider: ours
		}
	}
	s.allowedHosts = append(s.allowedHosts, opts.AllowedHosts...)
	for i, rt := range opts.Routes {
		if rt.Path == nil {
			return nil, fmt.Errorf("proxy: route %d has no path pattern", i)
		}
		rt.Rules = rt.Rules.normalized()
		rt.fold = foldPattern(rt.Path)
		s.foldRoutes = s.foldRoutes || rt.fold != nil
		s.methodRoutes = s.methodRoutes || len(rt.Methods) > 0
		for _, m := range rt.Methods {
			s.anyMethod = appendNew(s.anyMethod, m)
		}
		s.routeRules[i] = rt
	}
	for i := range s.routeRules {
		if !s.routeRules[i].Public {
			s.restricting = append(s.restricting, &s.routeRules[i])
		}
	}
	s.restricting = slices.Clip(s.restricting) // shared: an append must copy
	s.anyMethod = append(s.anyMethod, "")
	for _, name := range opts.AttributeNames {
		s.attrKeys[name] = http.CanonicalHeaderKey("X-User-Attr-" + name)
	}
	if opts.Upstream != nil {
		s.upstream = s.newReverseProxy(opts.Upstream, opts.UpstreamTimeout, opts.UpstreamMaxConns, opts.UpstreamTLS)
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

// routes is the mux of every route, with a way past its matching for the
// requests that come most.
func (s *Server) routes() http.Handler {
	mux := s.mux()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch shortcut(r) {
		case toAuth:
			s.auth(w, r)
		case toForwardAuth:
			s.forwardAuth(w, r)
		case toApp:
			s.protected(w, r)
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

// ownRoute is a route Portcullis answers itself.
type ownRoute struct {
	pattern string
	handler http.Handler
}

// ownRoutes are Portcullis's own routes, in one place: everything else is
// the application's (s.protected).
func (s *Server) ownRoutes() []ownRoute {
	routes := []ownRoute{
		{"GET /ping", http.HandlerFunc(s.ping)},
		{"GET /ready", http.HandlerFunc(s.readyz)},
		// The sign-in routes build our own URLs (the redirect URI, redirects
		// back to us): only on a host we know (knownHost).
		{"GET /oauth2/sign_in", s.onKnownHost(s.signIn)},
		{"GET /oauth2/start", s.onKnownHost(s.start)},
		{"GET /oauth2/callback", s.onKnownHost(s.callback)},
		{"POST /oauth2/callback", s.onKnownHost(s.callbackPost)},
		{"GET /oauth2/sign_out", s.onKnownHost(s.signOut)},
		{"POST /oauth2/sign_out", s.onKnownHost(s.signOut)},
		{"GET /oauth2/userinfo", http.HandlerFunc(s.userinfo)},
		// Any method: Envoy ext_authz checks with the request's own method.
		{"/oauth2/auth", http.HandlerFunc(s.auth)},
		{"/oauth2/forward-auth", http.HandlerFunc(s.forwardAuth)},
		{"/oauth2/", http.HandlerFunc(s.notFound)},
	}
	if s.opts.Assertions != nil {
		routes = append(routes, ownRoute{"GET /.well-known/portcullis/jwks.json", s.opts.Assertions})
	}
	return routes
}

// mux routes every request.
func (s *Server) mux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range s.ownRoutes() {
		mux.Handle(rt.pattern, rt.handler)
	}
	mux.HandleFunc("/", s.protected)
	return mux
}

// A destination is where shortcut sends a request.
type destination int

const (
	viaMux        destination = iota // anything else: the mux decides
	toAuth                           // s.auth
	toForwardAuth                    // s.forwardAuth
	toApp                            // s.protected
)

// shortcut chooses, cheaply, what the mux would choose for the requests
// that come most: forward-auth checks and the application's own. Anything
// unsure goes through the mux; TestShortcut and FuzzShortcut hold the two
// to the same answer, and TestShortcutKnowsOwnRoutes to ownRoutes.
func shortcut(r *http.Request) destination {
	p := r.URL.Path
	if r.URL.RawPath == "" { // to the mux an encoded "/" (%2F) separates nothing
		switch p {
		case "/oauth2/auth": // any method, and an exact path is a clean one
			return toAuth
		case "/oauth2/forward-auth":
			return toForwardAuth
		}
	}
	// The application's: a clean path (no empty or dot segment, which the
	// mux would redirect) outside every route of ours.
	if r.Method != http.MethodConnect &&
		len(p) > 0 && p[0] == '/' &&
		!strings.HasPrefix(p, "/oauth2") &&
		p != "/ping" && p != "/ready" &&
		!strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return toApp
	}
	return viaMux
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
	for _, check := range s.opts.ReadyChecks {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := check(ctx)
		cancel()
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + err.Error()))
			return
		}
	}
	w.Write([]byte("OK"))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, "Page not found", "There is no such page.")
}

// loadSession returns the request's session, or nil when there is none.
// A cookie that is invalid or expired is cleared on w. An access token that
// has expired is refreshed (the new cookie is set on w); when that is
// impossible the session ends. The error is non-nil only when the session
// store is unavailable.
func (s *Server) loadSession(w http.ResponseWriter, r *http.Request) (*session.State, error) {
	if s.opts.BearerTokens {
		if token, ok := bearerToken(r); ok {
			return s.bearerSession(w, r, token)
		}
	}
	st, err := s.opts.Sessions.Load(r)
	if errors.Is(err, session.ErrUnavailable) {
		s.log.Warn("session store unavailable", "err", err)
		return nil, err
	}
	if err != nil {
		if !errors.Is(err, session.ErrNoSession) {
			s.log.Debug("session rejected", "err", err)
			s.opts.Sessions.Clear(w, r)
		}
		return nil, nil
	}
	if !s.sameRule(st) {
		s.log.Info("session ended: made under another PORTCULLIS_USER_FROM or registry setting; the user signs in again", "audit", "session_end", "provider", st.Provider, "user", st.User)
		s.opts.Sessions.Clear(w, r)
		return nil, nil
	}
	if active, err := s.stillActive(r.Context(), st); err != nil {
		return nil, err
	} else if !active {
		s.log.Info("session ended: the user is disabled in the registry", "audit", "session_end", "user", st.User)
		s.opts.Sessions.Clear(w, r)
		return nil, nil
	}
	if !s.tokenExpired(st) {
		noteUser(w, st)
		return st, nil
	}
	st, err = s.refresh(w, r, st)
	if errors.Is(err, session.ErrUnavailable) {
		return nil, err
	}
	if st == nil {
		s.opts.Sessions.Clear(w, r)
	}
	noteUser(w, st)
	return st, nil
}

// tokenExpired reports whether st's access token counts as expired when
// the session's life follows the provider's token.
func (s *Server) tokenExpired(st *session.State) bool {
	return s.opts.ValidateExternalToken && !st.Expiry.IsZero() && !s.now().Before(st.Expiry.Add(-s.opts.RefreshSkew))
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
	fresh, err := s.refresher.Refresh(r.Context(), st, func(ctx context.Context, old *session.State) (*session.State, error) {
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
		s.log.Info("token refreshed", "audit", "refresh", "provider", old.Provider, "user", old.User)
		return &ns, nil
	})
	switch {
	case err == nil:
		if err := s.opts.Sessions.Save(w, r, fresh); err != nil {
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
		if s.now().Before(st.Expiry.Add(s.opts.RefreshGrace)) {
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

// storeUnavailable answers 503 when sessions can't be read or written.
func (s *Server) storeUnavailable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "5")
	s.fail(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
		"Portcullis cannot reach its session store right now. Try again in a moment.")
}

// protected serves every path that is not one of ours: signed-in and
// allowed users go to the upstream; others are sent to sign in (browsers)
// or refused with 401.
func (s *Server) protected(w http.ResponseWriter, r *http.Request) {
	// The path is judged in every way the upstream may read it (decide).
	var d decision
	if len(s.routeRules) > 0 { // no rules: no need to read the path at all
		var buf [4]string
		d = s.decide(s.methods(buf[:0], r.Method, r.Header), r.URL.Path, escapedPath(r.URL))
	}
	if d.public || s.opts.SkipAuthPreflight && s.preflight(r, r.Method) {
		if s.upstream == nil {
			s.notFound(w, r)
			return
		}
		s.serveUpstream(w, r, nil) // no identity; spoofed headers still stripped
		return
	}
	st, err := s.loadSession(w, r)
	if err != nil {
		s.authFailed(w, r, err)
		return
	}
	if st == nil {
		s.unauthenticated(w, r)
		return
	}
	if ok, why := s.allowed(st, d, nil); !ok {
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
	setSecurityHeaders(w.Header())
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

// ownHost is the host users reach us on, for building our own URLs and
// judging redirects: PUBLIC_URL's, else the request's Host when it is one
// we may trust (trustedHost), else "": nothing may be built from it.
func (s *Server) ownHost(r *http.Request) string {
	if s.opts.PublicURL != nil {
		return s.opts.PublicURL.Host
	}
	if s.trustedHost(r.Host) {
		return r.Host
	}
	return ""
}

// trustedHost reports whether a request's Host may name us when PUBLIC_URL
// is not set: a loopback host (localhost, 127.0.0.0/8, [::1]) on any port,
// or one matching ALLOWED_HOSTS or the host of a provider's REDIRECT_URL.
// Any other Host may be a client's invention: a redirect URI or a
// redirect built on it would send the browser, and the provider's code,
// wherever the client says.
func (s *Server) trustedHost(hostport string) bool {
	hp := strings.ToLower(hostport)
	host, port := splitHostPort(hp)
	if host == "" || strings.Contains(host, ":") && !strings.HasPrefix(hp, "[") {
		return false // an IPv6 address must be in brackets
	}
	if host == "localhost" {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback() {
		return true
	}
	return hostMatches(host, port, s.allowedHosts)
}

// knownHost reports whether Portcullis may build its own URLs for r. When
// it may not, it answers 400 naming the settings that would let it; the
// Host itself is neither shown nor used.
func (s *Server) knownHost(w http.ResponseWriter, r *http.Request) bool {
	if s.ownHost(r) != "" {
		return true
	}
	s.log.Info("request refused: its Host is not loopback, in PORTCULLIS_ALLOWED_HOSTS or PORTCULLIS_PUBLIC_URL's", "host", clean(r.Host, 100), "path", r.URL.Path)
	s.fail(w, r, http.StatusBadRequest, "Unknown site address",
		"Portcullis does not know this site's address, so it cannot sign you in here. "+
			"The operator should set PORTCULLIS_PUBLIC_URL to the URL users reach it on, "+
			"or list this host in PORTCULLIS_ALLOWED_HOSTS.")
	return false
}

// onKnownHost serves h only for requests on a host Portcullis may build
// its own URLs from (knownHost).
func (s *Server) onKnownHost(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.knownHost(w, r) {
			h(w, r)
		}
	})
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
	return s.baseURL(r) + "/oauth2/callback"
}

// baseURL is the external URL of this proxy, without a trailing slash:
// PUBLIC_URL, else the scheme of the request and its Host when that is
// trusted (knownHost has refused the request otherwise).
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != nil {
		return strings.TrimSuffix(s.opts.PublicURL.String(), "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + s.ownHost(r)
}
