package providers

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/sync/singleflight"
)

// Defaults and bounds of BearerConfig.
const (
	DefaultBearerCacheTTL  = time.Minute
	MaxBearerCacheTTL      = 5 * time.Minute
	DefaultBearerCacheSize = 10000
	// BearerFailureTTL bounds how long a rejected token's verdict is
	// remembered, so that a client retrying a bad token does not reach the
	// provider on every request.
	BearerFailureTTL = 10 * time.Second
	// BearerLeeway is the clock skew allowed on a token's exp and nbf.
	BearerLeeway = 30 * time.Second
	// MaxBearerTokenBytes bounds the tokens Validate looks at.
	MaxBearerTokenBytes = 16 << 10
)

// defaultBearerAlgs are the JWT signing algorithms accepted when
// BearerConfig.Algorithms is empty.
var defaultBearerAlgs = []string{oidc.RS256, oidc.ES256, oidc.PS256}

// BearerConfig configures a BearerValidator. Only Provider, or
// IntrospectionURL, or a JWKS (JWKSURL, or OIDC) is required; the rest
// have defaults. Build passes a provider's own values: its id, client,
// claims, HTTP client and, for OpenID Connect, the provider as OIDC.
type BearerConfig struct {
	// Provider identifies an opaque token's holder when there is no
	// IntrospectionURL and no OIDC: its Identify is called with the token
	// as the access token (the generic provider's userinfo call, mapped by
	// its own claims; GitHub's extra calls too). The generic, GitHub and
	// OIDC providers also fill the fields left empty that they know of:
	// ID, ClientID, ClientSecret, Claims, HTTPClient, MaxResponseBytes, and
	// OIDC for an *OIDC.
	Provider Provider
	// OIDC is the OpenID Connect provider whose tokens these are, if they
	// are. Once its discovery has succeeded it supplies the JWKS URL and
	// issuer (when JWKSURL is empty), the introspection endpoint (when
	// IntrospectionURL is empty) and the userinfo endpoint, which checks
	// opaque tokens with their answer mapped by Claims; before, every
	// token is a transient failure. It is the Provider when that is nil.
	OIDC *OIDC
	// ID names the provider in errors; default "bearer".
	ID string
	// ClientID and ClientSecret authenticate introspection calls; ClientID
	// is the default audience.
	ClientID, ClientSecret string
	// Claims maps the claims of JWTs, introspection answers and OIDC
	// userinfo answers onto an Identity; empty path lists get the defaults
	// (Claims.WithDefaults).
	Claims Claims
	// JWKSURL and Issuer check JWTs locally: the signature against the key
	// set at JWKSURL (fetched again when a token names an unknown key, at
	// most once per JWKSMinInterval), and
	// iss against Issuer. Both or neither; neither with a non-OIDC provider
	// sends every token to introspection or userinfo.
	JWKSURL, Issuer string
	// Audiences (BEARER_AUDIENCES) are accepted besides ClientID: a JWT's
	// aud must name ClientID or one of them, and so must an introspection
	// answer's client_id or aud.
	Audiences []string
	// Algorithms are the JWT signing algorithms accepted; default RS256,
	// ES256, PS256. "none" and the HMAC algorithms are never accepted.
	Algorithms []string
	// IntrospectionURL is an RFC 7662 endpoint: opaque tokens are checked
	// there with client authentication, and accepted only when active and
	// issued to this client (see Audiences). Empty: the endpoint an *OIDC
	// Provider discovered, if any.
	IntrospectionURL string
	// TokenCheck is how the provider tells whose an opaque token is, at
	// IntrospectionURL: RFC 7662 (CheckIntrospection, the default) or the
	// provider's own check (the google, github, facebook and discord
	// presets), for which IntrospectionURL is required (Resolve gives the
	// github, facebook and discord presets theirs, beside USERINFO_URL);
	// "{client_id}" in it is replaced by the client id.
	TokenCheck TokenCheck
	// OpaqueAccessTokens says the provider's access tokens are never JWTs
	// (Google's are opaque): a JWT it signed for this client can only be
	// an ID token, so every bearer JWT is refused.
	OpaqueAccessTokens bool
	// AccessTokenClaims, when not empty, are claims of which a JWT access
	// token of the provider always carries one and its ID tokens none
	// (Microsoft's scp and roles): a JWT with none of them, non-empty, is
	// refused as an ID token.
	AccessTokenClaims []string
	// TokenKindClaim, when set, names a claim of the provider's JWTs that
	// says which kind of token each is; a JWT whose value of it is not
	// AccessTokenKind is no access token (Gitea's tt: 0 access, 1
	// refresh). With IntrospectJWTs it is read unverified, to refuse.
	TokenKindClaim, AccessTokenKind string
	// ClientIDClaim names the claim that says which client a JWT access
	// token was issued to when it has no aud claim at all (Cognito's
	// client_id): ClientID or one of Audiences must be its value then.
	// A JWT that has an aud is judged by its aud alone.
	ClientIDClaim string
	// IntrospectJWTs checks JWTs at the introspection endpoint too, as
	// opaque tokens, instead of against the JWKS: for providers whose JWT
	// access tokens are not meant to be checked by others (Okta's org
	// authorization server) or name no client (see Preset.IntrospectJWTs).
	// A JWT whose own claims mark it as no access token (an ID token's, or
	// none of AccessTokenClaims) is refused without asking.
	IntrospectJWTs bool
	// IntrospectedClaims, when not empty, are claims of which an
	// introspection answer about one of the provider's access tokens
	// always carries one, and an answer about its refresh tokens none
	// (Okta's jti: its answers carry an access token's JWT claims, and its
	// refresh tokens are opaque): an answer with none of them, non-empty,
	// is refused.
	IntrospectedClaims []string
	// AllowUnbound (BEARER_ALLOW_UNBOUND) accepts an opaque token of a
	// provider with no way to tell whose it is — no introspection endpoint
	// — when the provider's userinfo endpoint accepts it, which it does
	// for tokens it issued to any app. Off, such tokens are refused.
	AllowUnbound bool
	// IntrospectionAuth is how the client authenticates to
	// IntrospectionURL: HTTP Basic (AuthStyleAuto, AuthStyleHeader) or form
	// parameters (AuthStyleParams) named ClientIDParam and
	// ClientSecretParam (defaults client_id, client_secret).
	IntrospectionAuth                AuthStyle
	ClientIDParam, ClientSecretParam string
	// auth is the provider's secretless client authentication (Build).
	auth *clientAuth
	// CacheTTL is how long a validated token is remembered (never beyond
	// its expiry); default 1m, at most 5m. Rejections are remembered for
	// at most BearerFailureTTL; failures to reach the provider not at all.
	CacheTTL time.Duration
	// CacheSize bounds the number of remembered tokens; default 10000. The
	// least recently used are evicted first.
	CacheSize int
	// HTTPClient makes every call; nil: a client with a 10s timeout.
	HTTPClient *http.Client
	// MaxResponseBytes bounds every answer; 0 means 1 MiB.
	MaxResponseBytes int64
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// BearerValidator authenticates machine clients by the bearer token they
// present, accepting only tokens the provider issued to this client. JWTs
// are verified locally against the provider's JWKS (signature with an
// accepted algorithm, issuer, audience, expiry and nbf; not an ID token);
// other tokens are checked at the introspection endpoint (active, and
// issued to this client) or, without one and only with AllowUnbound, at
// the provider's userinfo endpoint. Verdicts are cached by the SHA-256 of the
// token — never the token itself — and concurrent validations of one token
// share one check. It is safe for concurrent use.
type BearerValidator struct {
	id                               string
	provider                         Provider
	oidc                             *OIDC
	claims                           Claims
	audiences                        []string // ClientID and Audiences
	opaqueOnly                       bool     // OpaqueAccessTokens
	accessClaims                     []string // AccessTokenClaims
	introspectJWTs                   bool
	clientIDClaim                    string
	kindClaim, accessKind            string // TokenKindClaim, AccessTokenKind
	introspectedClaims               []string
	algs                             []string
	jwksURL                          string
	issuer                           string
	introspectURL                    string
	tokenCheck                       TokenCheck
	allowUnbound                     bool
	introspectAuth                   AuthStyle
	auth                             *clientAuth // a secretless client's credentials
	clientID, clientSecret           string
	clientIDParam, clientSecretParam string
	ttl                              time.Duration
	client                           *http.Client // introspection
	jwksClient                       *http.Client // JWKS, with status and size checks
	maxBytes                         int64
	timeout                          time.Duration // bound on one shared check
	now                              func() time.Time

	ownKeys *remoteKeys // at jwksURL; nil without one
	keysMu  sync.Mutex
	keys    atomic.Pointer[bearerKeys]
	group   singleflight.Group
	cache   *bearerCache
}

// A bearerDefaulter is a provider that knows the settings a validator of
// its tokens takes from it (see BearerConfig.Provider).
type bearerDefaulter interface {
	bearerDefaults() BearerConfig
}

// withDefaults fills cfg's empty fields from d.
func (cfg BearerConfig) withDefaults(d BearerConfig) BearerConfig {
	or := orDefault
	or(&cfg.ID, d.ID)
	or(&cfg.ClientID, d.ClientID)
	or(&cfg.ClientSecret, d.ClientSecret)
	if claimsEmpty(cfg.Claims) {
		cfg.Claims = d.Claims
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = d.HTTPClient
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = d.MaxResponseBytes
	}
	if cfg.OIDC == nil {
		cfg.OIDC = d.OIDC
	}
	if cfg.auth == nil {
		cfg.auth, cfg.IntrospectionAuth = d.auth, d.IntrospectionAuth
	}
	return cfg
}

func claimsEmpty(c Claims) bool {
	for _, l := range [][]string{c.ID, c.Email, c.EmailVerified, c.Name, c.GivenName, c.FamilyName, c.Username, c.Groups, c.Picture, c.Locale} {
		if len(l) > 0 {
			return false
		}
	}
	return len(c.Attributes) == 0 && len(c.Values) == 0
}

// NewBearerValidator checks cfg, fills its defaults and returns the
// validator. It does no I/O. Every problem is reported at once, each naming
// its field.
func NewBearerValidator(cfg BearerConfig) (*BearerValidator, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf(field+": "+format, args...))
	}
	if d, ok := cfg.Provider.(bearerDefaulter); ok {
		cfg = cfg.withDefaults(d.bearerDefaults())
	}
	b := &BearerValidator{
		id:                 cfg.ID,
		provider:           cfg.Provider,
		oidc:               cfg.OIDC,
		algs:               slices.Clone(cfg.Algorithms),
		jwksURL:            cfg.JWKSURL,
		issuer:             cfg.Issuer,
		introspectURL:      cfg.IntrospectionURL,
		tokenCheck:         cfg.TokenCheck,
		allowUnbound:       cfg.AllowUnbound,
		opaqueOnly:         cfg.OpaqueAccessTokens,
		accessClaims:       slices.Clone(cfg.AccessTokenClaims),
		introspectJWTs:     cfg.IntrospectJWTs,
		clientIDClaim:      cfg.ClientIDClaim,
		kindClaim:          cfg.TokenKindClaim,
		accessKind:         cfg.AccessTokenKind,
		introspectedClaims: slices.Clone(cfg.IntrospectedClaims),
		introspectAuth:     cfg.IntrospectionAuth,
		auth:               cfg.auth,
		clientID:           cfg.ClientID,
		clientSecret:       cfg.ClientSecret,
		clientIDParam:      cfg.ClientIDParam,
		clientSecretParam:  cfg.ClientSecretParam,
		ttl:                cfg.CacheTTL,
		client:             cfg.HTTPClient,
		maxBytes:           cfg.MaxResponseBytes,
		now:                cfg.Now,
		claims:             cfg.Claims,
	}
	if b.provider == nil && b.oidc != nil {
		b.provider = b.oidc
	}
	if b.id == "" {
		b.id = "bearer"
	}
	b.claims = b.claims.WithDefaults()
	if b.clientIDParam == "" {
		b.clientIDParam = "client_id"
	}
	if b.clientSecretParam == "" {
		b.clientSecretParam = "client_secret"
	}
	if b.client == nil {
		b.client = &http.Client{Timeout: DefaultTimeout}
	}
	if b.maxBytes == 0 {
		b.maxBytes = DefaultMaxResponseBytes
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.clientID != "" {
		b.audiences = append(b.audiences, b.clientID)
	}
	for _, a := range cfg.Audiences {
		if a != "" && !slices.Contains(b.audiences, a) {
			b.audiences = append(b.audiences, a)
		}
	}
	if len(b.algs) == 0 {
		b.algs = slices.Clone(defaultBearerAlgs)
	}
	size := cfg.CacheSize
	switch {
	case b.ttl == 0:
		b.ttl = DefaultBearerCacheTTL
	case b.ttl < 0 || b.ttl > MaxBearerCacheTTL:
		bad("CacheTTL", "must be between 0 and %v, got %v", MaxBearerCacheTTL, b.ttl)
	}
	switch {
	case size == 0:
		size = DefaultBearerCacheSize
	case size < 0:
		bad("CacheSize", "must not be negative, got %d", size)
	}
	if b.maxBytes < 0 {
		bad("MaxResponseBytes", "must not be negative")
	}
	for _, a := range b.algs {
		if !slices.Contains(supportedAlgs, a) {
			bad("Algorithms", "%q is not one of %s", a, strings.Join(supportedAlgs, ", "))
		}
	}
	absolute := func(field, raw string) {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(field, "must be an absolute http or https URL")
		}
	}
	if b.jwksURL != "" {
		absolute("JWKSURL", b.jwksURL)
	}
	if (b.jwksURL == "") != (b.issuer == "") {
		bad("JWKSURL", "JWKSURL and Issuer go together")
	}
	switch b.tokenCheck {
	case CheckIntrospection, CheckGoogle, CheckDiscord:
	case CheckGitHub, CheckFacebook:
		if b.clientSecret == "" {
			bad("ClientSecret", "required for the %s token check", b.tokenCheck)
		}
	default:
		bad("TokenCheck", "unknown token check %q", b.tokenCheck)
	}
	if b.tokenCheck != CheckIntrospection && b.introspectURL == "" {
		bad("IntrospectionURL", "required for the %s token check", b.tokenCheck)
	}
	b.introspectURL = strings.ReplaceAll(b.introspectURL, "{client_id}", url.PathEscape(b.clientID))
	if b.introspectURL != "" {
		absolute("IntrospectionURL", b.introspectURL)
		if b.clientID == "" {
			bad("ClientID", "required for IntrospectionURL")
		}
	}
	if b.introspectAuth < AuthStyleAuto || b.introspectAuth > AuthStyleNone {
		bad("IntrospectionAuth", "must be auto, header, params, private_key_jwt, client_assertion or none")
	}
	if (b.jwksURL != "" || b.oidc != nil) && len(b.audiences) == 0 {
		bad("Audiences", "required when there is no client id")
	}
	if b.provider == nil && b.introspectURL == "" && b.jwksURL == "" {
		bad("Provider", "one of Provider, IntrospectionURL or JWKSURL is required")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	b.timeout = 2 * max(b.client.Timeout, DefaultTimeout)
	jc := *b.client
	jc.Transport = &fetchTransport{base: baseTransport(b.client), max: b.maxBytes, jwks: true}
	b.jwksClient = &jc
	if b.jwksURL != "" {
		b.ownKeys = newRemoteKeys(b.jwksURL, b.jwksClient, b.now)
	}
	b.cache = newBearerCache(size)
	return b, nil
}

// Validate authenticates a bearer token: it returns the identity of its
// holder, or an *Error of kind ErrRejected for a token that is malformed,
// badly signed, expired, for another audience or issuer, inactive or
// refused by the provider; ErrTransient when the provider (or its JWKS)
// could not be reached; ErrBadResponse when its answer was unusable. No
// error message holds the token. The Identity returned is the caller's to
// change.
func (b *BearerValidator) Validate(ctx context.Context, token string) (*Identity, error) {
	id, _, err := b.Check(ctx, token)
	return id, err
}

// Check is Validate that also returns when the token expires, as the
// provider said (JWT exp, introspection exp, tokeninfo exp or expires_in,
// GitHub expires_at, debug_token expires_at); zero when it did not say.
// The implicit flow's session lives that long.
func (b *BearerValidator) Check(ctx context.Context, token string) (*Identity, time.Time, error) {
	v, err := b.Verify(ctx, token)
	return v.Identity, v.Expiry, err
}

// A BearerVerdict is what Verify says of an accepted token.
type BearerVerdict struct {
	// Identity is the token's holder; the caller's to change.
	Identity *Identity
	// Expiry is when the token expires, as the provider said; zero when
	// it did not say.
	Expiry time.Time
	// IssuedAt is the token's issue time, as the provider said (a JWT's
	// iat, the introspection answer's iat); zero when it did not say.
	IssuedAt time.Time
	// FirstVerified is when this validator first accepted the token: kept
	// across the re-checks of its cache entry, for as long as the token is
	// among the BEARER_CACHE_SIZE it remembers (a Forget keeps it too).
	FirstVerified time.Time
}

// Verify is Check with all the provider said of the token (BearerVerdict).
func (b *BearerValidator) Verify(ctx context.Context, token string) (BearerVerdict, error) {
	if token == "" || len(token) > MaxBearerTokenBytes || !isToken68(token) {
		return BearerVerdict{}, b.reject("", "bearer token malformed")
	}
	key := sha256.Sum256([]byte(token))
	if e, ok := b.cache.get(key, b.now()); ok {
		return e.result()
	}
	ch := b.group.DoChan(string(key[:]), func() (any, error) {
		if e, ok := b.cache.get(key, b.now()); ok {
			return e, nil // a check finished between our lookup and now
		}
		// The check is shared: one caller giving up must not fail the
		// others, so it runs on its own bounded context.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.timeout)
		defer cancel()
		id, times, err := b.check(cctx, token)
		err = b.scrub(err, token)
		e := &bearerEntry{key: key, id: id, exp: times.exp, iat: times.iat, err: err}
		now := b.now()
		switch {
		case err == nil:
			e.first = now
			e.until = now.Add(b.ttl)
			if !times.exp.IsZero() && times.exp.Before(e.until) {
				e.until = times.exp
			}
		case errors.Is(err, ErrRejected):
			e.until = now.Add(min(b.ttl, BearerFailureTTL))
		}
		if e.until.After(now) {
			e = b.cache.put(e)
		}
		return e, nil
	})
	select {
	case r := <-ch:
		return r.Val.(*bearerEntry).result()
	case <-ctx.Done():
		return BearerVerdict{}, networkError(&Error{Provider: b.id, Endpoint: "bearer"}, ctx.Err())
	}
}

// Forget makes the next use of token check it at the provider again (a
// token revoked at sign-out is refused then, not when its cache entry
// would have expired). The time it was first accepted is kept.
func (b *BearerValidator) Forget(token string) {
	b.cache.expire(sha256.Sum256([]byte(token)))
}

// isToken68 reports whether s has only the characters of RFC 6750's
// b64token (with the dots of a JWT among them).
func isToken68(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// reject returns an ErrRejected *Error with a plain reason.
func (b *BearerValidator) reject(endpoint, desc string) *Error {
	return &Error{Provider: b.id, Endpoint: endpoint, Kind: ErrRejected, Description: desc}
}

// scrub makes err fit for Validate: a dead grant (invalid_token at
// userinfo) is a rejected token, and provider text that echoes the token
// is dropped.
func (b *BearerValidator) scrub(err error, token string) error {
	if err == nil {
		return nil
	}
	pe, ok := errors.AsType[*Error](err)
	if !ok {
		pe = &Error{Provider: b.id, Kind: ErrBadResponse, Err: err}
	}
	e := *pe
	if e.Kind == ErrDeadGrant {
		e.Kind = ErrRejected
	}
	leaks := func(s string) bool { return len(token) >= 8 && strings.Contains(s, token) }
	if leaks(e.Description) || leaks(e.Code) {
		e.Code, e.Description = "", ""
	}
	if e.Err != nil && leaks(e.Err.Error()) {
		e.Err = nil
	}
	return &e
}

// tokenTimes are what the provider said of a token's life: its expiry
// and issue time (iat); zero when it did not say.
type tokenTimes struct{ exp, iat time.Time }

// check validates token without the cache.
func (b *BearerValidator) check(ctx context.Context, token string) (*Identity, tokenTimes, error) {
	switch {
	case isJWS(token) && b.introspectJWTs:
		// The provider decides; what the token says of itself may
		// only refuse it (an ID token the provider would answer for).
		if reason := b.notAccessToken(unverifiedClaims(token)); reason != "" {
			return nil, tokenTimes{}, b.reject("", reason)
		}
	case isJWS(token):
		keys, err := b.keySet()
		if err != nil {
			return nil, tokenTimes{}, err
		}
		if keys != nil {
			return b.checkJWT(ctx, keys, token)
		}
		// No key set to check it against: the provider decides.
	}
	introspectURL, err := b.introspection()
	switch {
	case err != nil:
		return nil, tokenTimes{}, err
	case b.tokenCheck != CheckIntrospection:
		id, exp, err := b.ownCheck(ctx, introspectURL, token)
		return id, tokenTimes{exp: exp}, err
	case introspectURL != "":
		return b.introspect(ctx, introspectURL, token)
	case b.allowUnbound && b.provider != nil:
		id, err := b.userinfo(ctx, token)
		return id, tokenTimes{}, err
	}
	return nil, tokenTimes{}, b.reject("", "bearer token is opaque and the provider has no way to tell whose token it is "+
		"(no INTROSPECTION_URL, no introspection_endpoint in discovery): refused; PORTCULLIS_BEARER_ALLOW_UNBOUND=true accepts "+
		"any token its userinfo URL accepts, other apps' included")
}

// userinfo identifies an opaque token's holder through the provider.
func (b *BearerValidator) userinfo(ctx context.Context, token string) (*Identity, error) {
	t := &Tokens{AccessToken: token, TokenType: "Bearer"}
	if b.oidc == nil {
		return b.provider.Identify(ctx, t)
	}
	s := b.oidc.state.Load()
	if s == nil {
		return nil, b.oidc.notReady("userinfo")
	}
	if !s.hasUserinfo {
		return nil, &Error{Provider: b.id, Endpoint: "userinfo", Kind: ErrRejected, Description: "bearer token is not a JWT and the provider has no userinfo endpoint to check it"}
	}
	doc, err := s.inner.Userinfo(ctx, t)
	if err != nil {
		return nil, err
	}
	id := b.claims.identity(doc)
	if id.ID == "" {
		e := b.claims.noIDError()
		e.Provider, e.Endpoint = b.id, "userinfo"
		return nil, e
	}
	return id, nil
}
