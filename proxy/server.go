// Package proxy is Portcullis's HTTP front: the sign-in routes, the pages,
// the forward-auth endpoints and the reverse proxy that passes signed-in
// users to the upstream with their identity in headers. It composes the
// providers and session packages; main wires it.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
	"github.com/portcullis/portcullis/users"
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
	// UpstreamTransport makes the requests to the upstream, as
	// httputil.ReverseProxy's Transport does: main builds it from
	// UPSTREAM_TIMEOUT, UPSTREAM_MAX_CONNS and the UPSTREAM_* TLS settings.
	// nil: defaultTransport.
	UpstreamTransport http.RoundTripper
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
		s.upstream = s.newReverseProxy(opts.Upstream, opts.UpstreamTransport)
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
