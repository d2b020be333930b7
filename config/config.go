// Package config reads Portcullis's configuration from environment variables
// (with a _FILE twin for each), checks it, and reports every problem at once,
// each naming its variable. It imports no other package of Portcullis: main
// maps the result onto the options of the proxy, session and providers
// packages.
package config

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"time"
)

// Prefix starts every variable's name.
const Prefix = "PORTCULLIS_"

// Config is the validated configuration: the global variables and the
// providers.
//
// Struct tags drive everything: env and envDefault for
// github.com/caarlos0/env, doc for Reference, refDefault where the default
// is prose rather than a value, and secret for Settings ("true": the whole
// value is hidden; "password": a URL's password is hidden).
type Config struct {
	// Upstream are the routes of PORTCULLIS_UPSTREAM: a single URL is the
	// route of "/".
	Upstream      []UpstreamRoute `env:"UPSTREAM" doc:"the app behind the proxy: one URL (http, https, unix:///path/to.sock for HTTP over a Unix socket, file:///path/to/dir/ for the files under a directory, never listed, static://CODE for that status and no body), or a comma list of PATH=URL routes, the longest matching path winning: /api/=http://api:8080 takes /api/… (not /api), /healthz=… takes /healthz and /healthz/…, / takes the rest; a URL path other than / replaces the route's path (/api/=http://api:8080/v1/ sends /api/x to /v1/x). A path no route takes gets 404 once signed in. Empty: forward-auth only, no proxying"`
	Listen        string          `env:"LISTEN" envDefault:":4180" doc:"main listener: host:port, or unix:/path/to.sock for a Unix socket (mode 0660: Portcullis's user and group may connect; a socket left by a server that is gone is removed, anything else at the path refused). A peer on a socket has no address: none is appended to X-Forwarded-For, and it matches no TRUSTED_PROXIES entry (leave that empty to trust the socket's peers with TRUST_FORWARDED_HEADERS)"`
	MetricsListen string          `env:"METRICS_LISTEN" envDefault:":9180" doc:"listener for Prometheus /metrics, host:port; off disables it"`
	TLSCertFile   string          `env:"TLS_CERT_FILE" doc:"PEM certificate (its chain after it) to serve HTTPS, and HTTP/2, on LISTEN, with TLS_KEY_FILE. Both files are read again when they change (checked every 2 s), without a restart or a dropped connection; a pair that does not load leaves the one in use (logged). METRICS_LISTEN stays plain HTTP"`
	TLSKeyFile    string          `env:"TLS_KEY_FILE" doc:"PEM private key of TLS_CERT_FILE"`
	TLSMinVersion string          `env:"TLS_MIN_VERSION" envDefault:"1.2" doc:"oldest TLS version LISTEN accepts with TLS_CERT_FILE: 1.2 or 1.3"`
	ProxyPrefix   string          `env:"PROXY_PREFIX" envDefault:"/oauth2" doc:"where Portcullis's own endpoints live: PREFIX/auth, PREFIX/start, PREFIX/callback, …; a path like /sso (no / at the end). Paths under /oauth2/ then reach the app like any other"`
	PingPath      string          `env:"PING_PATH" envDefault:"/ping" doc:"liveness check path (200 OK, always); off turns it off, and the app's own path of that name then reaches the app"`
	ReadyPath     string          `env:"READY_PATH" envDefault:"/ready" doc:"readiness check path (200 when ready, 503 before and while shutting down); off turns it off, and the app's own path of that name then reaches the app"`
	PublicURL     *url.URL        `env:"PUBLIC_URL" secret:"password" doc:"external base URL, e.g. https://app.example.com; the redirect URI is PUBLIC_URL + PROXY_PREFIX + /callback (https://app.example.com/oauth2/callback) unless a provider sets REDIRECT_URL, and redirects may point to its host. Empty: derived from each request whose Host is loopback or in ALLOWED_HOSTS; other hosts get 400"`
	AllowedHosts  []string        `env:"ALLOWED_HOSTS" doc:"without PUBLIC_URL: the Host values besides loopback (localhost, 127.0.0.0/8, [::1], any port) and the hosts of providers' REDIRECT_URL on which Portcullis signs users in and builds its URLs (redirect URI, redirects back): host, .host (and its subdomains), host:port, host:* (a bare host matches no port, as browsers send it for 80 and 443). Ignored with PUBLIC_URL"`

	CookieSecret string `env:"COOKIE_SECRET" secret:"true" refDefault:"required" doc:"session cookie secret: standard or URL-safe base64 of 32 bytes, else a raw string of at least 32 bytes (try: openssl rand -base64 32); encryption and signing keys are derived from it. A comma list is a rotation: the first encodes, all decode"`
	// CookieSecrets are the decoded COOKIE_SECRET entries, 32 bytes or
	// more each, the one to encode with first. Never printed.
	CookieSecrets  [][]byte      `env:"-"`
	CookieName     string        `env:"COOKIE_NAME" envDefault:"_portcullis" doc:"session cookie name; parts are NAME_0, NAME_1, … when the value exceeds one cookie"`
	CookieDomain   string        `env:"COOKIE_DOMAIN" doc:"cookie Domain attribute; empty: host-only cookie"`
	CookiePath     string        `env:"COOKIE_PATH" envDefault:"/" doc:"cookie Path attribute"`
	CookieSecure   bool          `env:"COOKIE_SECURE" envDefault:"true" doc:"cookie Secure attribute (cookies are always HttpOnly); browsers drop Secure cookies sent over plain http except on localhost, so check and the start-up log warn when PUBLIC_URL is http:// on another host"`
	CookieSameSite http.SameSite `env:"COOKIE_SAMESITE" envDefault:"lax" doc:"cookie SameSite attribute: lax, strict or none (none requires COOKIE_SECURE=true)"`
	CookieExpire   time.Duration `env:"COOKIE_EXPIRE" envDefault:"168h" doc:"longest life of a session, counted from sign-in and enforced by the server; refreshes never extend it"`
	// SessionIdleTimeout ends sessions unused this long (README "Ending
	// sessions").
	SessionIdleTimeout time.Duration `env:"SESSION_IDLE_TIMEOUT" envDefault:"0" doc:"a session unused this long ends, whatever its tokens say; its last use advances at most once a minute (or once per quarter of the timeout when shorter), which rewrites the cookie or the Redis record then. 0: off"`

	SessionStore string `env:"SESSION_STORE" envDefault:"cookie" doc:"cookie (stateless, tokens encrypted in the cookie) or redis (the cookie holds only a ticket; needs REDIS_URL, REDIS_SENTINEL_ADDRS or REDIS_CLUSTER_ADDRS)"`
	RedisURL     string `env:"REDIS_URL" secret:"password" doc:"one Redis server, redis:// or rediss:// (TLS) URL, for the redis store and for cross-replica refresh locking"`
	// The other Redis topologies, and how to reach them; see the README's
	// "Redis" section.
	RedisSentinelAddrs    []string      `env:"REDIS_SENTINEL_ADDRS" doc:"instead of REDIS_URL: host:port of Redis Sentinels (comma list; one is enough, the others are learnt from it) watching the master named REDIS_SENTINEL_MASTER"`
	RedisSentinelMaster   string        `env:"REDIS_SENTINEL_MASTER" doc:"the master's name at the Sentinels (their sentinel monitor NAME line); required with REDIS_SENTINEL_ADDRS"`
	RedisClusterAddrs     []string      `env:"REDIS_CLUSTER_ADDRS" doc:"instead of REDIS_URL: host:port of some of a Redis Cluster's nodes (comma list; the others are learnt from them)"`
	RedisUsername         string        `env:"REDIS_USERNAME" doc:"ACL user on the Redis data nodes (not the Sentinels); with REDIS_URL, instead of a user in the URL"`
	RedisPassword         string        `env:"REDIS_PASSWORD" secret:"true" doc:"password of REDIS_USERNAME, else of the default user, on the Redis data nodes; with REDIS_URL, instead of a password in the URL"`
	RedisSentinelPassword string        `env:"REDIS_SENTINEL_PASSWORD" secret:"true" doc:"the Sentinels' own password (their requirepass), when they have one"`
	RedisTLS              bool          `env:"REDIS_TLS" envDefault:"false" doc:"TLS to every Redis node and Sentinel; a rediss:// REDIS_URL means it too"`
	RedisCA               string        `env:"REDIS_CA" secret:"true" doc:"PEM CA certificates trusted for Redis's TLS besides the system's; use REDIS_CA_FILE for a file"`
	RedisFailoverWait     time.Duration `env:"REDIS_FAILOVER_WAIT" envDefault:"10s" doc:"how long a request that needs Redis retries while it has no master (the network fails, a replica answers READONLY, a Cluster answers CLUSTERDOWN) before it gets 503; set it longer than a failover takes (Sentinel: down-after-milliseconds plus a few seconds; Cluster: cluster-node-timeout plus a few seconds). 0: 503 at once"`

	ValidateExternalToken bool          `env:"VALIDATE_EXTERNAL_TOKEN" envDefault:"true" doc:"true: the session lives as long as the provider's access token, refreshed when it expires; false: only COOKIE_EXPIRE bounds it"`
	RefreshSkew           time.Duration `env:"REFRESH_SKEW" envDefault:"30s" doc:"an access token this close to expiry counts as expired"`
	RefreshGrace          time.Duration `env:"REFRESH_GRACE" envDefault:"5m" doc:"how long after the access token's expiry a session whose refresh fails transiently keeps working"`

	AllowedEmailDomains []string `env:"ALLOWED_EMAIL_DOMAINS" refDefault:"— (all)" doc:"e-mail domains allowed after sign-in"`
	AllowedEmails       []string `env:"ALLOWED_EMAILS" refDefault:"— (all)" doc:"e-mail addresses allowed after sign-in; ALLOWED_EMAILS_FILE takes oauth2-proxy's authenticated-emails-file (one a line, # comments), read again within 2 s of a change (a file that turns unreadable or holds a bad entry keeps the last good list, with a warning), and a file that lists no address admits no one by address"`
	AllowedGroups       []string `env:"ALLOWED_GROUPS" refDefault:"— (all)" doc:"groups allowed after sign-in (a user needs one of them)"`
	// AllowedEmailsFile is ALLOWED_EMAILS_FILE's path when AllowedEmails
	// was read from it: the list is then the file's, even when it names no
	// one (which admits no one by address), and is re-read as it changes.
	AllowedEmailsFile string `env:"-"`

	AutoSignup            bool          `env:"AUTO_SIGNUP" envDefault:"true" doc:"with a user registry: true creates unknown users at their first sign-in; false admits only users already in the registry"`
	UsersCheckInterval    time.Duration `env:"USERS_CHECK_INTERVAL" envDefault:"1m" doc:"with a registry: how often an open session's user is checked (a disabled user loses access within this time, with no query per request)"`
	UsersMaxStale         time.Duration `env:"USERS_MAX_STALE" envDefault:"5m" doc:"with a registry it can't reach: how long open sessions keep working on the last known answer before getting 503"`
	LinkByVerifiedEmail   bool          `env:"LINK_BY_VERIFIED_EMAIL" envDefault:"false" doc:"with a registry: link an unknown identity to the one active user with the same e-mail when a provider in TRUSTED_EMAIL_PROVIDERS says it is verified. Risk: whoever controls that address there gets the account"`
	TrustedEmailProviders []string      `env:"TRUSTED_EMAIL_PROVIDERS" doc:"provider ids trusted to verify e-mail addresses for LINK_BY_VERIFIED_EMAIL"`
	UsersDB               string        `env:"USERS_DB" secret:"password" doc:"user registry: a file path (embedded) or postgres://…; empty: no registry"`

	// SkipAuthRoutes bypass authentication when the method (if given) and
	// the path pattern both match.
	SkipAuthRoutes    []Route `env:"SKIP_AUTH_ROUTES" doc:"comma list of METHOD=regex or regex (RE2, matched against the path) that bypass authentication; METHOD is letters only"`
	SkipAuthPreflight bool    `env:"SKIP_AUTH_PREFLIGHT" envDefault:"false" doc:"let CORS preflight requests (OPTIONS with Origin and Access-Control-Request-Method) through without authentication"`
	// Routes are the PORTCULLIS_ROUTE_<N> rules, in order of N.
	Routes                 []RouteRule `env:"-"`
	AllowedRedirectDomains []string    `env:"ALLOWED_REDIRECT_DOMAINS" doc:"hosts that rd may point to besides the request's own: host, .host (and its subdomains), host:port, host:*"`

	PassAccessToken       bool           `env:"PASS_ACCESS_TOKEN" envDefault:"false" doc:"send X-Forwarded-Access-Token upstream"`
	ExposeAccessToken     bool           `env:"EXPOSE_ACCESS_TOKEN" envDefault:"false" doc:"serve the session's access token (refreshed first when due) as JSON at PROXY_PREFIX/token to the app's own scripts, for calling the provider's APIs from the browser: same-origin requests only (Sec-Fetch-Site: same-origin, or X-Requested-With), never with CORS headers; false: that path is 404"`
	SetAuthorization      bool           `env:"SET_AUTHORIZATION" envDefault:"false" doc:"send Authorization: Bearer <access token> upstream"`
	InjectHeaders         []HeaderRule   `env:"INJECT_HEADERS" secret:"headers" doc:"more headers for the upstream, a comma list of Name=source: Remote-User=user,X-WEBAUTH-USER=email,Authorization=bearer:id_token. Sources: user, id, provider, email, name, given_name, family_name, username, groups (comma-joined), attr.NAME (a CLAIM_ATTRIBUTES value), access_token, id_token, bearer:access_token, bearer:id_token (Bearer <token>), basic:SOURCE (Basic base64(value:BASIC_AUTH_PASSWORD)) or literal:TEXT. An empty value leaves the header out; a name of the default set takes that header over. A client's own header of any of these names is removed, in every spelling"`
	AuthResponseHeaders   []HeaderRule   `env:"AUTH_RESPONSE_HEADERS" secret:"headers" doc:"the same as INJECT_HEADERS, on the 2xx answers of /oauth2/auth and /oauth2/forward-auth, for the ingress to copy to the app"`
	IdentityHeaders       string         `env:"IDENTITY_HEADERS" envDefault:"on" doc:"off leaves out the default identity headers (X-User…, X-Email, X-Forwarded-User, -Email, -Preferred-Username, -Groups, and the X-Auth-Request-… answers), for an app that is told only what INJECT_HEADERS and AUTH_RESPONSE_HEADERS choose; X-Forwarded-For, -Host, -Proto, PASS_ACCESS_TOKEN, SET_AUTHORIZATION and ASSERTION are not affected"`
	BasicAuthPassword     string         `env:"BASIC_AUTH_PASSWORD" secret:"true" doc:"the password of the basic: header sources (a legacy app's shared password; BASIC_AUTH_PASSWORD_FILE for a file)"`
	BearerTokens          bool           `env:"BEARER_TOKENS" envDefault:"false" doc:"accept Authorization: Bearer from machine clients, validated against the provider: JWTs locally against its JWKS, opaque tokens at INTROSPECTION_URL (only tokens issued to this client; see BEARER_ALLOW_UNBOUND), results cached briefly by a hash of the token"`
	BearerAllowUnbound    bool           `env:"BEARER_ALLOW_UNBOUND" envDefault:"false" doc:"accept an opaque bearer or implicit-flow token of a provider that has no way to tell whose token it is (no introspection endpoint, no check of its own) when its userinfo URL accepts it. Risk: that includes tokens the provider issued to other apps, so anyone holding a user's token for any app gets in as that user. check and the start-up log warn"`
	TrustForwardedHeaders bool           `env:"TRUST_FORWARDED_HEADERS" envDefault:"false" doc:"honour X-Forwarded-Proto/Host/Uri/Method from the peer; in proxy mode, pass its X-Forwarded-For (with its address appended), -Host and -Proto to the upstream instead of setting them from the connection"`
	TrustedProxies        []netip.Prefix `env:"TRUSTED_PROXIES" refDefault:"— (any peer, when trusting is on)" doc:"comma list of CIDRs or IPs of peers whose X-Forwarded-* are honoured"`
	AllowUnverifiedEmail  bool           `env:"ALLOW_UNVERIFIED_EMAIL" envDefault:"false" doc:"admit users whose provider says their e-mail is not verified"`
	UserFrom              string         `env:"USER_FROM" envDefault:"auto" doc:"what X-User (and X-Forwarded-User, X-Auth-Request-User, the assertion's user) is: auto (the registry's user name; else an e-mail address the provider vouches for; else the provider's user id, written PROVIDER_ID:USER_ID with several providers), email (sign-in refused without such an address), id (the provider's user id, PROVIDER_ID:USER_ID with several providers) or username (the username claim, else as auto; users can change it at many providers, so check and the start-up log warn)"`

	// ProviderIDs is PORTCULLIS_PROVIDERS as given; Providers is the result.
	ProviderIDs       []string      `env:"PROVIDERS" doc:"comma list of provider ids (lower-case letters and digits) for several providers; each is then configured with PORTCULLIS_<ID>_ variables. An id that would give one of them the name of a global variable or its _FILE twin is refused (upstream: PORTCULLIS_UPSTREAM_CLIENT_KEY_FILE is UPSTREAM_CLIENT_KEY's twin)"`
	ProviderTimeout   time.Duration `env:"PROVIDER_TIMEOUT" envDefault:"10s" doc:"bound on every call to a provider (token, userinfo, discovery, JWKS, revoke)"`
	UpstreamTimeout   time.Duration `env:"UPSTREAM_TIMEOUT" envDefault:"0" refDefault:"0 (none)" doc:"response-header timeout toward the upstream"`
	UpstreamMaxConns  int           `env:"UPSTREAM_MAX_CONNS" envDefault:"0" refDefault:"0 (no limit)" doc:"most connections open to the upstream at once; requests beyond wait for one, as long as their client does (UPSTREAM_TIMEOUT starts once they have one). Bounds memory under bursts (see BENCHMARKS.md); long-polling and server-sent-event requests hold one each (WebSockets don't). An HTTP/2 (https) upstream multiplexes requests over its connections, so there it bounds connections, not requests"`
	ReadHeaderTimeout time.Duration `env:"READ_HEADER_TIMEOUT" envDefault:"10s" doc:"how long a client may take to send a request's headers (slow-loris bound)"`
	ReadTimeout       time.Duration `env:"READ_TIMEOUT" envDefault:"0" refDefault:"0 (none)" doc:"how long a client may take to send a whole request, body included; 0 leaves large uploads unbounded (BODY_READ_TIMEOUT and BODY_MIN_RATE still cut off slow ones)"`
	BodyReadTimeout   time.Duration `env:"BODY_READ_TIMEOUT" envDefault:"20s" doc:"longest Portcullis waits for the next bytes of a request body; a body that stalls this long, or that averages less than BODY_MIN_RATE once this much waiting has passed, is cut off with 408, freeing its connection to the upstream. Only time spent waiting for the client counts; WebSockets are not affected. 0: no bound (then slow uploads can hold every UPSTREAM_MAX_CONNS connection)"`
	BodyMinRate       int           `env:"BODY_MIN_RATE" envDefault:"1024" doc:"slowest average rate, in bytes a second, at which a request body may arrive once BODY_READ_TIMEOUT of waiting has passed: each byte received buys the client 1/BODY_MIN_RATE s more. 0: only BODY_READ_TIMEOUT applies"`
	WriteTimeout      time.Duration `env:"WRITE_TIMEOUT" envDefault:"0" refDefault:"0 (none)" doc:"how long writing a response may take; 0 keeps streaming responses and WebSockets open"`
	IdleTimeout       time.Duration `env:"IDLE_TIMEOUT" envDefault:"120s" doc:"how long an idle keep-alive connection stays open"`
	MaxHeaderBytes    int           `env:"MAX_HEADER_BYTES" envDefault:"65536" doc:"largest request header block accepted; large enough for split session cookies"`

	UpstreamCA                 string `env:"UPSTREAM_CA" secret:"true" doc:"PEM CA certificates trusted for an https upstream besides the system's; use UPSTREAM_CA_FILE for a file"`
	UpstreamClientCert         string `env:"UPSTREAM_CLIENT_CERT" doc:"PEM client certificate for mutual TLS to the upstream (UPSTREAM_CLIENT_CERT_FILE for a file)"`
	UpstreamClientKey          string `env:"UPSTREAM_CLIENT_KEY" secret:"true" doc:"PEM private key of UPSTREAM_CLIENT_CERT (UPSTREAM_CLIENT_KEY_FILE for a file)"`
	UpstreamInsecureSkipVerify bool   `env:"UPSTREAM_INSECURE_SKIP_VERIFY" envDefault:"false" doc:"do not verify the upstream's certificate: for tests only, logged as a warning at start-up"`

	Assertion         bool          `env:"ASSERTION" envDefault:"false" doc:"send X-Portcullis-Assertion upstream (and on forward-auth answers): a short-lived JWT signed by Portcullis carrying the identity; public keys at /.well-known/portcullis/jwks.json"`
	AssertionAudience string        `env:"ASSERTION_AUDIENCE" doc:"aud claim of the assertion; empty: none"`
	AssertionTTL      time.Duration `env:"ASSERTION_TTL" envDefault:"60s" doc:"lifetime of an assertion"`
	AssertionKey      string        `env:"ASSERTION_KEY" secret:"true" doc:"PEM private key (EC, RSA or Ed25519) that signs assertions, shared by all replicas (ASSERTION_KEY_FILE for a file); empty: a key generated at start, different per replica"`

	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s" doc:"on SIGTERM, how long in-flight requests may finish (while /ready answers 503)"`

	LogLevel  slog.Level `env:"LOG_LEVEL" envDefault:"info" doc:"debug, info, warn or error"`
	LogFormat string     `env:"LOG_FORMAT" envDefault:"json" doc:"json or text"`

	SignInTitle   string `env:"SIGN_IN_TITLE" envDefault:"Sign in" doc:"title of the sign-in page"`
	SignInLogoURL string `env:"SIGN_IN_LOGO_URL" doc:"logo on the sign-in page: an http(s) URL, a data: URL or a path starting with /; empty: no logo"`
	SignInBanner  string `env:"SIGN_IN_BANNER" doc:"plain text shown above the sign-in page's buttons (never HTML: markup is shown as written; line breaks are kept); with it the page is shown even with one provider"`
	SignInFooter  string `env:"SIGN_IN_FOOTER" doc:"plain text shown below the sign-in page's buttons, like SIGN_IN_BANNER; also in a custom error.html's data"`
	TemplatesDir  string `env:"TEMPLATES_DIR" doc:"directory with sign_in.html, error.html or both (Go html/template) replacing the built-in pages; their data is in the README (Pages). A template that does not parse, or fails on sample data, stops the start. With sign_in.html the page is shown even with one provider"`

	// Providers holds one provider per PROVIDERS id, or the single
	// provider read with the PORTCULLIS_ prefix. Never empty after Load.
	Providers []Provider `env:"-"`
}

// Provider is one identity provider's settings, as the environment gave
// them. A setting left empty (a URL, DISPLAY_NAME, SCOPES, TOKEN_METHOD, a
// CLAIM_* list, PKCE) takes its preset's value, else the generic default,
// or comes from discovery: main maps these fields onto the providers
// package's settings, which applies the preset.
type Provider struct {
	// ID names the provider in X-User-Provider, in the registry and in
	// /oauth2/start?provider=: the listed id, or with a single provider
	// its PROVIDER value.
	ID string `env:"-"`
	// Prefix is what its variables start with: "PORTCULLIS_" or
	// "PORTCULLIS_<ID>_".
	Prefix string `env:"-"`

	Preset           string   `env:"PROVIDER" envDefault:"oauth2" doc:"preset: oauth2 (generic), oidc, google, github, microsoft, facebook, linkedin, gitlab, slack, fitbit, mercadolibre, wechat, keycloak, auth0, okta, cognito, gitea, bitbucket, discord or apple; a preset fills the defaults of the other provider variables, any of which can be overridden"`
	DisplayName      string   `env:"DISPLAY_NAME" refDefault:"preset's" doc:"label on the sign-in page"`
	ClientID         string   `env:"CLIENT_ID" refDefault:"required" doc:"client id registered at the provider"`
	ClientSecret     string   `env:"CLIENT_SECRET" secret:"true" refDefault:"required (not with RESPONSE_TYPE=token, TOKEN_AUTH_STYLE private_key_jwt, client_assertion or none, or PROVIDER=apple)" doc:"client secret registered at the provider"`
	IssuerURL        string   `env:"ISSUER_URL" secret:"password" refDefault:"preset's" doc:"OIDC issuer: discovery, ID token verification, JWKS; required for oidc. An endpoint URL set explicitly wins over discovery"`
	Tenant           string   `env:"TENANT" envDefault:"common" doc:"Microsoft Entra tenant: common, organizations, consumers or a tenant id"`
	AuthURL          string   `env:"AUTH_URL" secret:"password" refDefault:"preset/discovery" doc:"authorization endpoint; required for oauth2"`
	TokenURL         string   `env:"TOKEN_URL" secret:"password" refDefault:"preset/discovery" doc:"token endpoint; required for oauth2"`
	UserinfoURL      string   `env:"USERINFO_URL" secret:"password" refDefault:"preset/discovery" doc:"userinfo endpoint; required for oauth2"`
	RefreshURL       string   `env:"REFRESH_URL" secret:"password" refDefault:"TOKEN_URL" doc:"where refresh-token grants go"`
	LogoutURL        string   `env:"LOGOUT_URL" secret:"password" refDefault:"preset/discovery" doc:"provider sign-out (end-session) URL"`
	RevokeURL        string   `env:"REVOKE_URL" secret:"password" refDefault:"preset/discovery" doc:"RFC 7009 token revocation URL"`
	IntrospectionURL string   `env:"INTROSPECTION_URL" secret:"password" refDefault:"preset/discovery" doc:"where opaque bearer and implicit-flow tokens are checked, with the client's credentials, and accepted only when issued to this client: an RFC 7662 introspection endpoint (active, client_id or aud), by default OIDC discovery's introspection_endpoint; for the google, github, facebook and discord presets their provider's own check (tokeninfo; USERINFO_URL's sibling applications/{client_id}/token; USERINFO_URL's sibling debug_token; oauth2/@me beside USERINFO_URL's parent)"`
	BearerAudiences  []string `env:"BEARER_AUDIENCES" doc:"audiences accepted besides CLIENT_ID: a bearer JWT's aud, or an introspection answer's client_id or aud, must name CLIENT_ID or one of these"`
	RedirectURL      string   `env:"REDIRECT_URL" secret:"password" refDefault:"PUBLIC_URL + PROXY_PREFIX + /callback" doc:"redirect URI, must equal what is registered at the provider; without it and without PUBLIC_URL the proxy derives it from each request"`

	Scopes       []string `env:"SCOPES" refDefault:"preset's" doc:"scopes, space- or comma-separated"`
	ResponseType string   `env:"RESPONSE_TYPE" envDefault:"code" doc:"code (authorization code) or token (implicit: the token comes in the URL fragment, and the provider must confirm it is this client's: INTROSPECTION_URL or the preset's check)"`
	PKCE         *bool    `env:"PKCE" refDefault:"preset's, else true" doc:"send a PKCE S256 code_challenge (true or false)"`
	ResponseMode string   `env:"RESPONSE_MODE" refDefault:"preset's, else none" doc:"response_mode asked of the provider: form_post (the provider POSTs code and state to the callback from its own site; the sign-in flow cookie is then SameSite=None; Secure, so sign-in needs https or localhost) or query; unset, none is sent (the provider's default)"`
	// AuthPassthroughParams are the query parameters /oauth2/start
	// forwards to the authorization URL.
	AuthPassthroughParams []string `env:"AUTH_PASSTHROUGH_PARAMS" doc:"query parameters of /oauth2/start forwarded to the authorization URL, an allow-list: login_hint,prompt,kc_idp_hint,domain_hint,ui_locales. Names match exactly; the first value of each, at most 1024 bytes, replaces an AUTH_PARAMS value. The sign-in's own parameters (client_id, redirect_uri, response_type, response_mode, scope, state, nonce, code_challenge, request…) are refused"`
	// LogoutRedirectURL is the post_logout_redirect_uri sent to the
	// provider's logout: "" (rd), "none" or an absolute URL.
	LogoutRedirectURL string `env:"LOGOUT_REDIRECT_URL" refDefault:"rd, else PUBLIC_URL/" doc:"post_logout_redirect_uri sent to the provider's logout URL (register it there): an absolute URL, or none to send none, for providers that refuse one not registered"`

	TokenMethod       string `env:"TOKEN_METHOD" refDefault:"preset's, else POST" doc:"GET or POST; GET for token endpoints that take a query string (WeChat)"`
	TokenAuthStyle    string `env:"TOKEN_AUTH_STYLE" refDefault:"preset's, else auto" doc:"how the client authenticates at the token, refresh, introspection and revocation endpoints: header (HTTP Basic), params (in the form), auto, private_key_jwt (an RFC 7523 assertion signed with CLIENT_KEY_FILE; its public key is served at /.well-known/portcullis/jwks.json), client_assertion (the JWT in CLIENT_ASSERTION_FILE, read for each call) or none (a public client; needs PKCE)"`
	ClientIDParam     string `env:"CLIENT_ID_PARAM" refDefault:"preset's, else client_id" doc:"parameter name of the client id, in the authorization URL and token requests"`
	ClientSecretParam string `env:"CLIENT_SECRET_PARAM" refDefault:"preset's, else client_secret" doc:"parameter name of the client secret in token requests"`

	ProviderCAFile      string `env:"PROVIDER_CA_FILE" doc:"PEM bundle trusted for every call to this provider (discovery, JWKS, token, userinfo, introspection, revocation), besides the system roots"`
	ProviderCertFile    string `env:"PROVIDER_CERT_FILE" doc:"client certificate (PEM) for mutual TLS to the provider; needs PROVIDER_KEY_FILE"`
	ProviderKeyFile     string `env:"PROVIDER_KEY_FILE" doc:"private key (PEM, unencrypted) of PROVIDER_CERT_FILE"`
	ClientKeyFile       string `env:"CLIENT_KEY_FILE" doc:"private key (PEM, unencrypted) signing TOKEN_AUTH_STYLE=private_key_jwt assertions (RSA: RS256, EC P-256: ES256) and the apple preset's client secret (EC P-256, Apple's .p8)"`
	ClientKeyID         string `env:"CLIENT_KEY_ID" refDefault:"the key's RFC 7638 thumbprint" doc:"kid of CLIENT_KEY_FILE's signatures; required for apple (Apple's Key ID)"`
	ClientAssertionFile string `env:"CLIENT_ASSERTION_FILE" doc:"file holding the JWT that TOKEN_AUTH_STYLE=client_assertion sends, read for each call (a Kubernetes projected service-account token, an Entra federated credential)"`
	AppleTeamID         string `env:"APPLE_TEAM_ID" doc:"apple: the Apple Developer Team ID, issuer of the client secret Portcullis signs"`

	AuthParams     url.Values `env:"AUTH_PARAMS" secret:"params" doc:"extra authorization URL parameters, query-string form: access_type=offline&prompt=consent"`
	TokenParams    url.Values `env:"TOKEN_PARAMS" secret:"params" doc:"extra token request parameters, query-string form"`
	UserinfoParams url.Values `env:"USERINFO_PARAMS" secret:"params" doc:"extra userinfo request parameters, query-string form"`

	UserinfoMethod      string `env:"USERINFO_METHOD" refDefault:"preset's, else GET" doc:"GET or POST"`
	UserinfoToken       string `env:"USERINFO_TOKEN" refDefault:"preset's, else header" doc:"how the access token reaches the userinfo URL: header (Bearer), query or body"`
	UserinfoTokenParam  string `env:"USERINFO_TOKEN_PARAM" refDefault:"preset's, else access_token" doc:"parameter name of the access token with USERINFO_TOKEN query or body"`
	TokenUserIDField    string `env:"TOKEN_USER_ID_FIELD" doc:"field of the token response carrying the user id (WeChat openid, Mercado Libre user_id)"`
	UserinfoUserIDParam string `env:"USERINFO_USER_ID_PARAM" doc:"send the TOKEN_USER_ID_FIELD value to the userinfo URL under this parameter name"`

	ClaimID            []string `env:"CLAIM_ID" refDefault:"preset's, else sub,id" doc:"path(s) in the userinfo JSON (dot paths, first non-empty wins) of the unique user id; sign-in fails without it"`
	ClaimEmail         []string `env:"CLAIM_EMAIL" refDefault:"preset's, else email" doc:"path(s) of the e-mail address"`
	ClaimEmailVerified []string `env:"CLAIM_EMAIL_VERIFIED" refDefault:"preset's, else email_verified" doc:"path(s) of the e-mail verified flag"`
	ClaimName          []string `env:"CLAIM_NAME" refDefault:"preset's, else name" doc:"path(s) of the full name; a path may join several with + (first_name+last_name), their values separated by a space"`
	ClaimGivenName     []string `env:"CLAIM_GIVEN_NAME" refDefault:"preset's, else given_name" doc:"path(s) of the given name"`
	ClaimFamilyName    []string `env:"CLAIM_FAMILY_NAME" refDefault:"preset's, else family_name" doc:"path(s) of the family name"`
	ClaimUsername      []string `env:"CLAIM_USERNAME" refDefault:"preset's, else preferred_username" doc:"path(s) of the username"`
	ClaimGroups        []string `env:"CLAIM_GROUPS" refDefault:"preset's, else groups" doc:"path(s) of the groups"`
	ClaimPicture       []string `env:"CLAIM_PICTURE" refDefault:"preset's, else picture" doc:"path(s) of the picture URL"`
	ClaimLocale        []string `env:"CLAIM_LOCALE" refDefault:"preset's, else locale" doc:"path(s) of the locale"`
	// ClaimAttributes are the extra attributes, each sent as
	// X-User-Attr-<Name>.
	ClaimAttributes []Attribute `env:"CLAIM_ATTRIBUTES" doc:"extra attributes, Name=path,…, each sent as X-User-Attr-<Name>: Dept=org.department,Amount=salaryAmount"`
	// ClaimValues maps provider values to ours: lower-case field or
	// attribute name → provider's value (IN) → value sent (OUT).
	ClaimValues map[string]map[string]string `env:"CLAIM_VALUES" doc:"value mapping for a field or attribute, NAME:OUT=IN,…, several joined by ; — Gender:M=male,M=hombre,F=female"`
}

// A Route is one PORTCULLIS_SKIP_AUTH_ROUTES entry.
type Route struct {
	Method string         // upper-case; empty: any method
	Path   *regexp.Regexp // matched against the request path
}

// String returns the route as written in the environment.
func (r Route) String() string {
	if r.Method == "" {
		return r.Path.String()
	}
	return r.Method + "=" + r.Path.String()
}

// An Attribute is one CLAIM_ATTRIBUTES entry: the value at Path in the
// userinfo JSON, sent upstream as X-User-Attr-<Name>.
type Attribute struct {
	Name string
	Path string
}
