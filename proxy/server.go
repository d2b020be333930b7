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
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

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

// An Ender is a session store whose sign-out can fail: End is Clear
// that reports a session not ended everywhere (the store unreachable),
// keeping the cookies so that the sign-out can be tried again. Sign-out
// then answers 503. *session.RedisStore is one.
type Ender interface {
	End(w http.ResponseWriter, r *http.Request) error
}

var _ Ender = (*session.RedisStore)(nil)

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
	// PublicURL + Paths.Prefix + /callback, else derived from the request.
	RedirectURL string
	PKCE        bool
	// ResponseType is "code" or "token" (the implicit flow).
	ResponseType string
	// ResponseMode is the response_mode the authorization URL asks for:
	// "form_post" makes the provider POST its answer to the callback from
	// its own site, which only such a provider's sign-ins may do (their
	// CSRF cookie is then SameSite=None; Secure); "query" or "" (none
	// sent) have it answer in the callback's query.
	ResponseMode string
	// PassthroughParams are the query parameters that /oauth2/start
	// forwards to the authorization URL (AUTH_PASSTHROUGH_PARAMS), by
	// exact name, the first value of each, at most maxPassthroughValue
	// bytes; a client's value replaces an AUTH_PARAMS one. No name the
	// sign-in itself sets may be among them (providers.ProtectedAuthParam).
	PassthroughParams []string
	// LogoutRedirectURL is the post_logout_redirect_uri sent to the
	// provider's end-session URL (LOGOUT_REDIRECT_URL): "" sends the
	// sign-out's rd (made absolute; "/" by default), "none" sends none, and
	// an absolute URL is sent as is.
	LogoutRedirectURL string
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
	// LogoutRedirectParam names the end-session URL's parameter that says
	// where to send the browser back, for providers whose sign-out is not
	// OpenID Connect's (Cognito: logout_uri, sent with client_id and no
	// id_token_hint); empty: post_logout_redirect_uri, with id_token_hint
	// and client_id.
	LogoutRedirectParam string
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
	// Flows keep the sign-ins in progress (the state and PKCE verifier).
	Flows FlowStore
	// Upstream is the app behind the proxy, or several by path; none:
	// forward-auth only.
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
	// Paths are where Portcullis's own endpoints live.
	Paths Paths
	// Pages are what Portcullis's own pages show.
	Pages Pages
	// Apps serve single-page apps: pop-up sign-in, session status, tokens.
	Apps Apps
	// Ending says how sessions end before their time: logouts, the
	// ended list, the idle timeout (logout.go).
	Ending Ending
	// ReadyChecks must all pass for /ready to answer 200 (Redis, say).
	ReadyChecks []func(context.Context) error
	// Metrics are updated as requests are served; nil: a private set.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Server serves Portcullis's routes and proxies everything else. New
// settles each group of Options into a field of its own, defaults filled
// in and what can be prepared prepared, so requests read no options.
type Server struct {
	log      *slog.Logger
	now      func() time.Time
	metrics  *metrics.Metrics
	sessions Sessions
	flows    FlowStore
	// providerList are the providers in their configured order (the
	// sign-in page's, the bearer tokens'); providers finds them by id.
	providerList []Provider
	providers    map[string]*Provider
	// upstreams are the app's routes; none: forward-auth only.
	upstreams   upstreams
	body        Body
	site        site
	trust       Trust
	access      access
	tokens      Tokens // with a Refresher
	identity    identity
	users       Users
	pages       Pages // with a SignInTitle and Templates
	apps        Apps  // with a SessionLifetime
	paths       paths
	ending      Ending // with an Ended and a Seen list
	readyChecks []func(context.Context) error

	// skipSignIn sends browsers straight to the only provider: there is
	// nothing else to show on the sign-in page (no custom template, no
	// banner, no footer).
	skipSignIn bool

	// ownMux routes what the shortcut leaves (routes.go); labels are its
	// patterns' metric labels.
	ownMux *http.ServeMux
	labels map[string]string

	spent    *spentStates
	machines *machineUsers
	handler  http.Handler
	draining atomic.Bool
}

// site is Options.Site as New settles it.
type site struct {
	Site
	// base is PublicURL without a trailing slash; "" without PublicURL.
	base string
	// knownHosts are AllowedHosts and the hosts of the providers'
	// REDIRECT_URLs.
	knownHosts []string
}

// identity is Options.Identity as New settles it.
type identity struct {
	Identity
	// attrKeys are the headers of the AttributeNames (X-User-Attr-…).
	attrKeys map[string]string
	// inject and answer are Inject and AuthResponse compiled; own are
	// their names, which clients may not send.
	inject, answer []headerRule
	own            ownNames
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
	switch opts.Identity.UserFrom {
	case "", UserFromAuto, UserFromEmail, UserFromID, UserFromUsername:
	default:
		return nil, fmt.Errorf("proxy: unknown UserFrom %q", opts.Identity.UserFrom)
	}
	s := &Server{
		log:          opts.Logger,
		now:          opts.Now,
		metrics:      opts.Metrics,
		sessions:     opts.Sessions,
		flows:        opts.Flows,
		providerList: slices.Clone(opts.Providers),
		providers:    make(map[string]*Provider, len(opts.Providers)),
		body:         opts.Body,
		site:         site{Site: opts.Site},
		trust:        opts.Trust,
		tokens:       opts.Tokens,
		identity:     identity{Identity: opts.Identity, attrKeys: make(map[string]string, len(opts.Identity.AttributeNames))},
		users:        opts.Users,
		pages:        opts.Pages,
		apps:         opts.Apps,
		ending:       opts.Ending,
		readyChecks:  opts.ReadyChecks,
		spent:        newSpentStates(15*time.Minute, 100000),
		machines:     &machineUsers{ttl: time.Minute, entries: map[users.Identity]machineUser{}},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if s.tokens.Refresher == nil {
		s.tokens.Refresher = session.NewRefresher(session.RefreshOptions{Now: s.now})
	}
	if s.ending.Ended == nil {
		s.ending.Ended = session.NewEnded(session.EndedOptions{Now: s.now})
	}
	if s.ending.Seen == nil {
		s.ending.Seen = session.NewSeen(nil, s.now)
	}
	if s.pages.SignInTitle == "" {
		s.pages.SignInTitle = "Sign in"
	}
	if s.apps.SessionLifetime <= 0 {
		s.apps.SessionLifetime = 168 * time.Hour
	}
	if s.pages.Templates == nil {
		s.pages.Templates = &Templates{}
	}
	s.skipSignIn = len(s.providerList) == 1 && s.pages.Templates.signIn == nil &&
		s.pages.SignInBanner == "" && s.pages.SignInFooter == ""
	for i := range s.providerList {
		p := &s.providerList[i]
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
		if err := checkFlowSettings(p); err != nil {
			return nil, err
		}
		s.providers[p.ID] = p
		if u, err := url.Parse(p.RedirectURL); err == nil && u.Host != "" {
			s.site.knownHosts = append(s.site.knownHosts, u.Host) // registered at the provider: ours
		}
	}
	s.site.knownHosts = append(s.site.knownHosts, opts.Site.AllowedHosts...)
	if opts.Site.PublicURL != nil {
		s.site.base = strings.TrimSuffix(opts.Site.PublicURL.String(), "/")
	}
	var err error
	if s.paths, err = newPaths(opts.Paths); err != nil {
		return nil, err
	}
	if s.access, err = newAccess(opts.Access); err != nil {
		return nil, err
	}
	for _, name := range opts.Identity.AttributeNames {
		s.identity.attrKeys[name] = http.CanonicalHeaderKey("X-User-Attr-" + name)
	}
	if s.identity.inject, err = compileHeaderRules(opts.Identity.Inject, opts.Identity.BasicAuthPassword); err != nil {
		return nil, err
	}
	if s.identity.answer, err = compileHeaderRules(opts.Identity.AuthResponse, opts.Identity.BasicAuthPassword); err != nil {
		return nil, err
	}
	for _, rules := range [][]headerRule{s.identity.inject, s.identity.answer} {
		for _, r := range rules {
			s.identity.own.add(r.key)
		}
	}
	if s.upstreams, err = s.newUpstreams(opts.Upstream); err != nil {
		return nil, err
	}
	s.ownMux, s.labels = s.mux(), s.routeLabels()
	s.handler = s.instrument(s.metrics, s.routes())
	return s, nil
}

// checkFlowSettings checks p's response mode, passthrough parameters and
// logout redirect (config reports the same problems naming the variables).
func checkFlowSettings(p *Provider) error {
	var errs []error
	switch p.ResponseMode {
	case "", "query":
	case formPost:
		if p.ResponseType == "token" {
			errs = append(errs, fmt.Errorf("proxy: provider %q: form_post is for the code flow", p.ID))
		}
	default:
		errs = append(errs, fmt.Errorf("proxy: provider %q: unknown response mode %q", p.ID, p.ResponseMode))
	}
	for _, name := range p.PassthroughParams {
		switch {
		case !validParamName(name):
			errs = append(errs, fmt.Errorf("proxy: provider %q: passthrough parameter %q is not a parameter name", p.ID, name))
		case providers.ProtectedAuthParam(name, ""):
			errs = append(errs, fmt.Errorf("proxy: provider %q: passthrough parameter %q is the sign-in's own", p.ID, name))
		}
	}
	if p.LogoutRedirectURL != "" && p.LogoutRedirectURL != LogoutRedirectNone {
		if u, err := url.Parse(p.LogoutRedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("proxy: provider %q: logout redirect %q is not an absolute http(s) URL", p.ID, p.LogoutRedirectURL))
		}
	}
	return errors.Join(errs...)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Drain makes /ready answer 503 from now on, for a graceful shutdown.
func (s *Server) Drain() { s.draining.Store(true) }
