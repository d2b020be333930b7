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
	"net/url"
	"slices"
	"sync/atomic"
	"time"

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

// Options configure a Server: the providers and the session store it
// needs, and a group of settings for each concern, whose zero value is
// the default (options.go).
type Options struct {
	Providers []Provider
	Sessions  Sessions
	// Upstream is the app behind the proxy; none: forward-auth only.
	Upstream Upstream
	// Body bounds the time a request's body may take.
	Body Body
	// Site is where users reach Portcullis: the hosts its own URLs and
	// redirects may name.
	Site Site
	// Trust says whose X-Forwarded-* headers are believed.
	Trust Trust
	// Access says who may pass where.
	Access Access
	// Tokens say how long a session follows the provider's tokens, and how
	// they are refreshed.
	Tokens Tokens
	// Identity says how the user is named and what the upstream is told.
	Identity Identity
	// Users is the user registry; none by default.
	Users Users
	// Pages are what Portcullis's own pages show.
	Pages Pages
	// ReadyChecks must all pass for /ready to answer 200 (Redis, say).
	ReadyChecks []func(context.Context) error
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
	switch opts.Identity.UserFrom {
	case "", UserFromAuto, UserFromEmail, UserFromID, UserFromUsername:
	default:
		return nil, fmt.Errorf("proxy: unknown UserFrom %q", opts.Identity.UserFrom)
	}
	s := &Server{
		opts:       opts,
		log:        opts.Logger,
		now:        opts.Now,
		providers:  make(map[string]*Provider, len(opts.Providers)),
		rules:      opts.Access.Rules.normalized(),
		routeRules: make([]Route, len(opts.Access.Routes)),
		attrKeys:   make(map[string]string, len(opts.Identity.AttributeNames)),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.spent = newSpentStates(15*time.Minute, 100000)
	s.machines = &machineUsers{ttl: time.Minute, entries: map[users.Identity]machineUser{}}
	s.refresher = opts.Tokens.Refresher
	if s.refresher == nil {
		s.refresher = session.NewRefresher(session.RefreshOptions{Now: s.now})
	}
	if s.opts.Pages.SignInTitle == "" {
		s.opts.Pages.SignInTitle = "Sign in"
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
	s.allowedHosts = append(s.allowedHosts, opts.Site.AllowedHosts...)
	for i, rt := range opts.Access.Routes {
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
	for _, name := range opts.Identity.AttributeNames {
		s.attrKeys[name] = http.CanonicalHeaderKey("X-User-Attr-" + name)
	}
	if opts.Upstream.URL != nil {
		s.upstream = s.newReverseProxy(opts.Upstream.URL, opts.Upstream.Transport)
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
