package proxy

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/session"
	"github.com/portcullis/portcullis/users"
)

// The groups of Options, one a concern. The zero value of each is its
// default.

// Upstream is the app behind the proxy (upstream.go), or several, by
// path (upstreams.go).
type Upstream struct {
	// URL is the app's, for every path: the route of "/". nil, with no
	// Routes: no app, forward-auth only.
	URL *url.URL
	// Routes send requests to several upstreams by path (not with URL):
	// the longest route path that matches a request's path wins, and a
	// path none matches gets 404.
	Routes []UpstreamRoute
	// Transport makes the requests to the app, as httputil.ReverseProxy's
	// Transport does: main builds it from UPSTREAM_TIMEOUT,
	// UPSTREAM_MAX_CONNS and the UPSTREAM_* TLS settings. nil:
	// defaultTransport. A unix route gets a clone of it (when it is an
	// *http.Transport, else of defaultTransport) that dials its socket.
	Transport http.RoundTripper
}

// An UpstreamRoute sends the requests whose path it takes to URL.
type UpstreamRoute struct {
	// Path is "/" (every path), a prefix ending in "/" (the paths that
	// start with it: "/api/" takes /api/x, not /api), or a path without
	// one (itself and the paths under it: "/healthz" takes /healthz and
	// /healthz/x, not /healthzx), matched against the request's decoded
	// path, resolved (upstreamPath).
	Path string
	// URL is an http or https URL, a path in which other than "/"
	// replaces Path in the request's path (Path "/api/" with URL
	// http://api:8080/v1/ sends /api/x to /v1/x); unix:///path/to.sock,
	// HTTP over that Unix socket, Path kept; file:///path/to/dir/, the
	// regular files under that directory (files.go), served at Path; or
	// static://CODE, that status with an empty body (static:// alone:
	// 200).
	URL *url.URL
}

// Body bounds the time a request's body may take (body.go).
type Body struct {
	// ReadTimeout bounds each wait for the next bytes of a request body
	// (BODY_READ_TIMEOUT); 0: no bound. MinRate, when set, is the slowest
	// average rate (bytes a second, counting only the time spent waiting
	// for the client) at which a body may arrive once reading it has
	// waited ReadTimeout in all (BODY_MIN_RATE): a body trickled in a byte
	// at a time is cut off like one that stalls. Either way the client
	// gets 408.
	ReadTimeout time.Duration
	MinRate     int
	// ServerReadTimeout is the server's whole-request read timeout
	// (READ_TIMEOUT), which the body's deadlines never extend; 0: none.
	ServerReadTimeout time.Duration
}

// Site is where users reach Portcullis (site.go).
type Site struct {
	// PublicURL is the external base URL; nil: taken from each request.
	PublicURL *url.URL
	// AllowedHosts are the hosts (entries as in AllowedRedirectDomains)
	// whose requests may build our own URLs when PublicURL is nil, besides
	// loopback hosts and the hosts of the providers' RedirectURLs.
	AllowedHosts []string
	// AllowedRedirectDomains are hosts rd may point to besides our own.
	AllowedRedirectDomains []string
}

// Trust says whose X-Forwarded-* headers are believed (forwarded.go).
type Trust struct {
	// ForwardedHeaders honours X-Forwarded-* from peers in Proxies (from
	// any peer when that is empty).
	ForwardedHeaders bool
	Proxies          []netip.Prefix
}

// Access says who may pass where (access.go, authz.go).
type Access struct {
	// Rules apply to every signed-in user.
	Rules Rules
	// Emails, when set, replaces Rules.Emails with a list that may change
	// while the server runs (ALLOWED_EMAILS_FILE); empty, it admits no one
	// by address.
	Emails *EmailList
	// Routes are per-route rules, evaluated in order; the first match decides.
	Routes []Route
	// SkipAuthPreflight lets CORS preflight requests through unauthenticated.
	SkipAuthPreflight bool
	// BearerTokens authenticates requests that carry Authorization: Bearer
	// by the token alone, with the providers' Bearer validators.
	BearerTokens bool
	// AllowUnverifiedEmail admits users whose provider says email_verified=false.
	AllowUnverifiedEmail bool
}

// Tokens say how long a session follows the provider's tokens (refresh.go).
type Tokens struct {
	// ValidateExternal ends a session once the provider's access token
	// has expired (or is within RefreshSkew of it), unless a refresh
	// renews it.
	ValidateExternal bool
	// RefreshSkew makes a token this close to expiry count as expired.
	RefreshSkew time.Duration
	// RefreshGrace keeps a session working this long past its token's
	// expiry while refreshes fail transiently.
	RefreshGrace time.Duration
	// Refresher runs refresh grants (one per refresh token at a time); nil:
	// one for this process.
	Refresher *session.Refresher
}

// Identity says how the user is named and what the upstream is told
// (user.go, headers.go).
type Identity struct {
	// UserFrom decides X-User and every header that names the user; ""
	// is UserFromAuto.
	UserFrom         UserFrom
	PassAccessToken  bool
	SetAuthorization bool
	// AttributeNames are the CLAIM_ATTRIBUTES names, so their headers can be
	// prepared once.
	AttributeNames []string
	// Assertions, when set, signs X-Portcullis-Assertion for upstreams and
	// serves its public keys at /.well-known/portcullis/jwks.json.
	Assertions *assertion.Signer
	// ClientKeys are the public keys (JWKs) the providers' private_key_jwt
	// client assertions are signed with, served with the assertion keys
	// at /.well-known/portcullis/jwks.json, where a provider checks them.
	ClientKeys []json.RawMessage
	// NoIdentityHeaders leaves out the default identity set
	// (IDENTITY_HEADERS=off): the X-User… and X-Email headers,
	// X-Forwarded-User, -Email, -Preferred-Username and -Groups, and the
	// X-Auth-Request-… answers. PassAccessToken, SetAuthorization,
	// Assertions and the injected headers are not affected.
	NoIdentityHeaders bool
	// Inject are headers the upstream gets besides the default set
	// (INJECT_HEADERS), set after it: one that has a default header's name
	// takes that header over, even to leave it out.
	Inject []HeaderRule
	// AuthResponse are headers that 2xx answers of the forward-auth
	// endpoints carry besides the default set (AUTH_RESPONSE_HEADERS).
	AuthResponse []HeaderRule
	// BasicAuthPassword is the password of the basic: sources.
	BasicAuthPassword string
}

// A HeaderRule is one header Portcullis sets from the session: its Name,
// and the Source of its value, one of user, id, provider, email, name,
// given_name, family_name, username, groups (comma-joined), attr.NAME
// (a CLAIM_ATTRIBUTES value), access_token, id_token, bearer:access_token,
// bearer:id_token ("Bearer <token>"), basic:SOURCE ("Basic
// base64(value:BasicAuthPassword)", SOURCE one of the plain sources) or
// literal:TEXT. An empty value leaves the header out. A client's own
// header of that name, in any spelling, never reaches the upstream.
type HeaderRule struct {
	Name   string
	Source string
}

// Users is the user registry (registry.go).
type Users struct {
	// Registry, when set, admits users at sign-in (auto sign-up or known
	// users only) and names them; Checker ends the sessions of users
	// disabled since.
	Registry Registry
	Checker  ActiveChecker
	SignIn   users.SignInOptions
}

// Paths are where Portcullis's own endpoints live (routes.go).
type Paths struct {
	// Prefix holds every endpoint of Portcullis's but the health checks
	// (PROXY_PREFIX): Prefix+"/auth", Prefix+"/start", …; "": /oauth2.
	// It starts with "/" and does not end with one.
	Prefix string
	// Ping and Ready are the health checks' paths (PING_PATH,
	// READY_PATH); "": /ping and /ready. Off turns one off: its path is
	// then the application's, like any other.
	Ping, Ready string
}

// Off is the Ping or Ready path of a health check that is turned off.
const Off = "off"

// Pages are what Portcullis's own pages show (pages.go).
type Pages struct {
	SignInTitle   string // "": "Sign in"
	SignInLogoURL string
	// SignInBanner and SignInFooter are plain text shown above and below
	// the sign-in page's buttons (escaped: never HTML).
	SignInBanner, SignInFooter string
	// Templates replace the built-in sign-in page, error page or both
	// (ParseTemplates); nil: the built-in ones.
	Templates *Templates
}

// Apps serve single-page apps: the pop-up sign-in, /session, /token and
// portcullis.js (spa.go).
type Apps struct {
	// ExposeAccessToken answers the session's access token at
	// Prefix+"/token" to the app's own scripts (EXPOSE_ACCESS_TOKEN);
	// false: that path is 404.
	ExposeAccessToken bool
	// SessionLifetime is a session's longest life from its sign-in
	// (COOKIE_EXPIRE), which /session reports as expires_at; 0: the
	// session package's default, 168h.
	SessionLifetime time.Duration
}
