package providers

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
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
// IntrospectionURL, or a JWKS (JWKSURL, or an *OIDC Provider) is required;
// the rest have defaults.
type BearerConfig struct {
	// Provider checks opaque tokens when there is no IntrospectionURL: an
	// *OIDC provider calls its userinfo endpoint with the token and maps the
	// answer with Claims; any other provider's Identify is called with the
	// token as the access token (for *OAuth2, userinfo mapped by its own
	// claims; for *GitHub, its extra calls too). An *OIDC provider also
	// supplies the JWKS URL and issuer once its discovery has succeeded,
	// when JWKSURL is empty. For *OAuth2, *OIDC and *GitHub providers the
	// client credentials, HTTP client and claims default to the provider's.
	Provider Provider
	// ID names the provider in errors; default the provider's id, else
	// "bearer".
	ID string
	// ClientID and ClientSecret authenticate introspection calls; ClientID
	// is the default audience.
	ClientID, ClientSecret string
	// Claims maps the claims of JWTs, introspection answers and OIDC
	// userinfo answers onto an Identity; empty path lists get the defaults
	// (Claims.WithDefaults). Entirely empty: the provider's claims.
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
	// provider's own check (the google, github and facebook presets). For
	// CheckGitHub and CheckFacebook IntrospectionURL defaults to the
	// provider's check beside its USERINFO_URL; "{client_id}" in it is
	// replaced by the client id.
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
	// CacheTTL is how long a validated token is remembered (never beyond
	// its expiry); default 1m, at most 5m. Rejections are remembered for
	// at most BearerFailureTTL; failures to reach the provider not at all.
	CacheTTL time.Duration
	// CacheSize bounds the number of remembered tokens; default 10000. The
	// least recently used are evicted first.
	CacheSize int
	// HTTPClient makes every call; nil: the provider's, else a client
	// with a 10s timeout.
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
	oidc                             *OIDC // provider, when it is one
	claims                           Claims
	audiences                        []string // ClientID and Audiences
	opaqueOnly                       bool     // OpaqueAccessTokens
	accessClaims                     []string // AccessTokenClaims
	algs                             []string
	jwksURL                          string
	issuer                           string
	introspectURL                    string
	tokenCheck                       TokenCheck
	allowUnbound                     bool
	introspectAuth                   AuthStyle
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

// bearerKeys verifies JWTs against one key set.
type bearerKeys struct {
	set      *remoteKeys
	issuer   string
	verifier *oidc.IDTokenVerifier
}

// providerConfig returns the settings of the providers whose
// configuration this package can read.
func providerConfig(p Provider) (*Config, bool) {
	switch p := p.(type) {
	case *OAuth2:
		return &p.cfg, true
	case *GitHub:
		return &p.oauth.cfg, true
	case *OIDC:
		return &p.cfg.Config, true
	}
	return nil, false
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
	b := &BearerValidator{
		id:                cfg.ID,
		provider:          cfg.Provider,
		algs:              slices.Clone(cfg.Algorithms),
		jwksURL:           cfg.JWKSURL,
		issuer:            cfg.Issuer,
		introspectURL:     cfg.IntrospectionURL,
		tokenCheck:        cfg.TokenCheck,
		allowUnbound:      cfg.AllowUnbound,
		opaqueOnly:        cfg.OpaqueAccessTokens,
		accessClaims:      slices.Clone(cfg.AccessTokenClaims),
		introspectAuth:    cfg.IntrospectionAuth,
		clientID:          cfg.ClientID,
		clientSecret:      cfg.ClientSecret,
		clientIDParam:     cfg.ClientIDParam,
		clientSecretParam: cfg.ClientSecretParam,
		ttl:               cfg.CacheTTL,
		client:            cfg.HTTPClient,
		maxBytes:          cfg.MaxResponseBytes,
		now:               cfg.Now,
		claims:            cfg.Claims,
	}
	b.oidc, _ = cfg.Provider.(*OIDC)
	if pc, ok := providerConfig(cfg.Provider); ok {
		or := orDefault
		or(&b.id, pc.ID)
		or(&b.clientID, pc.ClientID)
		or(&b.clientSecret, pc.ClientSecret)
		if b.client == nil {
			b.client = pc.HTTPClient
		}
		if b.maxBytes == 0 {
			b.maxBytes = pc.MaxResponseBytes
		}
		if claimsEmpty(b.claims) {
			b.claims = pc.Claims
		}
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
	case CheckIntrospection, CheckGoogle:
	case CheckGitHub, CheckFacebook:
		if b.introspectURL == "" {
			b.introspectURL = checkEndpoint(b.tokenCheck, b.provider)
		}
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
	if b.introspectAuth < AuthStyleAuto || b.introspectAuth > AuthStyleParams {
		bad("IntrospectionAuth", "must be auto, header or params")
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
	if token == "" || len(token) > MaxBearerTokenBytes || !isToken68(token) {
		return nil, time.Time{}, b.reject("", "bearer token malformed")
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
		id, exp, err := b.check(cctx, token)
		err = b.scrub(err, token)
		e := &bearerEntry{key: key, id: id, exp: exp, err: err}
		now := b.now()
		switch {
		case err == nil:
			e.until = now.Add(b.ttl)
			if !exp.IsZero() && exp.Before(e.until) {
				e.until = exp
			}
		case errors.Is(err, ErrRejected):
			e.until = now.Add(min(b.ttl, BearerFailureTTL))
		}
		if e.until.After(now) {
			b.cache.put(e)
		}
		return e, nil
	})
	select {
	case r := <-ch:
		return r.Val.(*bearerEntry).result()
	case <-ctx.Done():
		return nil, time.Time{}, networkError(&Error{Provider: b.id, Endpoint: "bearer"}, ctx.Err())
	}
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

// check validates token without the cache.
func (b *BearerValidator) check(ctx context.Context, token string) (*Identity, time.Time, error) {
	if isJWS(token) {
		keys, err := b.keySet()
		if err != nil {
			return nil, time.Time{}, err
		}
		if keys != nil {
			return b.checkJWT(ctx, keys, token)
		}
		// No key set to check it against: the provider decides.
	}
	introspectURL, err := b.introspection()
	switch {
	case err != nil:
		return nil, time.Time{}, err
	case b.tokenCheck != CheckIntrospection:
		return b.ownCheck(ctx, introspectURL, token)
	case introspectURL != "":
		return b.introspect(ctx, introspectURL, token)
	case b.allowUnbound && b.provider != nil:
		id, err := b.userinfo(ctx, token)
		return id, time.Time{}, err
	}
	return nil, time.Time{}, b.reject("", "bearer token is opaque and the provider has no way to tell whose token it is "+
		"(no INTROSPECTION_URL, no introspection_endpoint in discovery): refused; PORTCULLIS_BEARER_ALLOW_UNBOUND=true accepts "+
		"any token its userinfo URL accepts, other apps' included")
}

// isJWS reports whether token is a compact JWS: three dot-separated parts
// whose first is a base64url JSON header naming an algorithm.
func isJWS(token string) bool {
	if strings.Count(token, ".") != 2 {
		return false
	}
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(raw, &h) == nil && h.Alg != ""
}

// keySet returns the verifier for the JWKS in use: the configured one, or
// the OIDC provider's once discovered (shared with its ID-token checks, so
// the provider's JWKS is fetched at most once per JWKSMinInterval whoever
// asks). It is nil when JWTs are not checked locally.
func (b *BearerValidator) keySet() (*bearerKeys, error) {
	set, issuer := b.ownKeys, b.issuer
	if set == nil && b.oidc != nil {
		s := b.oidc.state.Load()
		if s == nil {
			return nil, b.oidc.notReady("jwks")
		}
		set, issuer = s.keys, s.issuer
	}
	if set == nil {
		return nil, nil
	}
	if k := b.keys.Load(); k != nil && k.set == set && k.issuer == issuer {
		return k, nil
	}
	b.keysMu.Lock()
	defer b.keysMu.Unlock()
	if k := b.keys.Load(); k != nil && k.set == set && k.issuer == issuer {
		return k, nil
	}
	k := &bearerKeys{
		set:    set,
		issuer: issuer,
		verifier: oidc.NewVerifier(issuer, set, &oidc.Config{
			SupportedSigningAlgs: b.algs,
			// Checked by checkJWT, which knows several audiences, leeway
			// and {tenantid}, and says which check failed.
			SkipIssuerCheck:   true,
			SkipClientIDCheck: true,
			SkipExpiryCheck:   true,
		}),
	}
	b.keys.Store(k)
	return k, nil
}

// checkJWT verifies a JWT access token and maps its claims.
func (b *BearerValidator) checkJWT(ctx context.Context, k *bearerKeys, token string) (*Identity, time.Time, error) {
	fail := func(err error) (*Identity, time.Time, error) { return nil, time.Time{}, err }
	if b.opaqueOnly {
		return fail(b.reject("", "bearer JWT refused: this provider's access tokens are opaque, so a JWT it signs is an ID token"))
	}
	if typ, ok := jwtType(token); !ok || !accessTokenType(typ) {
		return fail(b.reject("", "bearer JWT has typ header "+strconv.Quote(typ)+", not JWT or at+jwt: not an access token"))
	}
	var got keySetResult
	tok, err := k.verifier.Verify(context.WithValue(ctx, keySetResultKey{}, &got), token)
	switch {
	case err == nil:
	case !got.reached:
		return fail(b.reject("", "bearer JWT malformed or not signed with an accepted algorithm"))
	case got.err == nil:
		return fail(b.reject("", "bearer JWT claims malformed"))
	default:
		if e, ok := errors.AsType[*Error](got.err); ok { // the JWKS endpoint answered an error
			c := *e
			c.Provider, c.Endpoint = b.id, "jwks"
			return fail(&c)
		}
		if isNetError(got.err) {
			return fail(networkError(&Error{Provider: b.id, Endpoint: "jwks"}, got.err))
		}
		return fail(b.reject("", "bearer JWT signature invalid"))
	}
	var payload json.RawMessage
	if err := tok.Claims(&payload); err != nil {
		return fail(b.reject("", "bearer JWT claims malformed"))
	}
	claims, err := decodeJSONObject(payload)
	if err != nil {
		return fail(b.reject("", "bearer JWT claims malformed"))
	}
	if claim := notAccessClaim(claims); claim != "" {
		return fail(b.reject("", "bearer JWT carries "+claim+": an ID token or another kind of token, not an access token"))
	}
	if len(b.accessClaims) > 0 && !slices.ContainsFunc(b.accessClaims, func(c string) bool { return present(claims[c]) }) {
		return fail(b.reject("", "bearer JWT carries none of "+strings.Join(b.accessClaims, ", ")+": an ID token, not an access token"))
	}
	want := k.issuer
	if strings.Contains(want, tenantPlaceholder) {
		tid, _ := stringValue(claims["tid"])
		if !isTenantID(tid) {
			return fail(b.reject("", "bearer JWT has no valid tid claim"))
		}
		want = strings.ReplaceAll(want, tenantPlaceholder, tid)
	}
	if tok.Issuer != want {
		return fail(b.reject("", "bearer JWT issuer mismatch"))
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(b.audiences, a) }) {
		return fail(b.reject("", "bearer JWT audience mismatch"))
	}
	if err := b.checkTimes(claims, true); err != nil {
		return fail(err)
	}
	id, err := b.mapClaims(claims, "bearer JWT")
	if err != nil {
		return fail(err)
	}
	return id, tok.Expiry, nil
}

// jwtType returns the typ header of a compact JWS ("" when it has none,
// or when the JWS does not parse with an algorithm go-oidc supports: the
// verifier refuses it then); ok is false when typ is not a string.
func jwtType(token string) (typ string, ok bool) {
	jws, err := jose.ParseSigned(token, jwksAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", true
	}
	v, present := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]
	if !present {
		return "", true
	}
	typ, ok = v.(string)
	return typ, ok
}

// accessTokenType reports whether a JWT's typ header allows it to be an
// access token: none, JWT, or at+jwt (RFC 9068), matched as media types
// (case-insensitive, "application/" optional; RFC 7515 section 4.1.9).
// An ID token from a provider that types them (id_token+jwt), a logout
// token (logout+jwt) or any other typed JWT is not one.
func accessTokenType(typ string) bool {
	t := strings.TrimPrefix(strings.ToLower(typ), "application/")
	return typ == "" || t == "jwt" || t == "at+jwt"
}

// idTokenClaim returns the claim that marks a JWT as an ID token rather
// than an access token — nonce, at_hash, c_hash (OpenID Connect Core
// 2, 3.1.3.6, 3.3.2.11), or a token_use other than "access" (Amazon
// Cognito) — or "" when it has none.
func idTokenClaim(claims map[string]any) string {
	for _, c := range []string{"nonce", "at_hash", "c_hash"} {
		if _, ok := claims[c]; ok {
			return c
		}
	}
	if use, ok := claims["token_use"]; ok && use != "access" {
		return "token_use"
	}
	return ""
}

// present reports whether a claim's value is there and not empty.
func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	}
	return true
}

// notAccessClaim returns the claim of a JWT or an introspection answer that marks
// its token as something other than an access token, or "" when none
// does: an ID token's claims (see idTokenClaim), a token_type naming a
// refresh or ID token (Duende's refresh_token, RFC 8693's token type
// URNs), or Keycloak's typ Refresh, Offline, ID or Logout.
func notAccessClaim(doc map[string]any) string {
	if claim := idTokenClaim(doc); claim != "" {
		return claim
	}
	if t, ok := doc["token_type"].(string); ok {
		switch strings.TrimPrefix(strings.ToLower(t), "urn:ietf:params:oauth:token-type:") {
		case "refresh_token", "id_token":
			return "token_type"
		}
	}
	if t, ok := doc["typ"].(string); ok {
		switch strings.ToLower(t) {
		case "refresh", "offline", "id", "logout":
			return "typ"
		}
	}
	return ""
}

// checkTimes checks exp and nbf with BearerLeeway; exp is required when
// needExp.
func (b *BearerValidator) checkTimes(claims map[string]any, needExp bool) error {
	now := b.now()
	exp, ok := numericDate(claims["exp"])
	switch {
	case !ok && needExp:
		return b.reject("", "bearer token has no expiry")
	case ok && now.After(exp.Add(BearerLeeway)):
		return b.reject("", "bearer token expired")
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(BearerLeeway).Before(nbf) {
		return b.reject("", "bearer token not valid yet")
	}
	return nil
}

// mapClaims maps a JWT's or introspection answer's claims; a token with no
// user id is rejected.
func (b *BearerValidator) mapClaims(doc map[string]any, what string) (*Identity, error) {
	id := b.claims.identity(doc)
	if id.ID == "" {
		return nil, b.reject("", fmt.Sprintf("%s has no user id at CLAIM_ID %q", what, strings.Join(b.claims.ID, ",")))
	}
	return id, nil
}

// introspection returns the endpoint that checks opaque tokens: the
// configured one, else the one the OIDC provider discovered; "" when there
// is none. An OIDC provider not discovered yet can't check a token to the
// end (its userinfo is not known either): ErrTransient, before any call.
func (b *BearerValidator) introspection() (string, error) {
	if b.oidc == nil {
		return b.introspectURL, nil
	}
	s := b.oidc.state.Load()
	if s == nil {
		return "", b.oidc.notReady("introspection")
	}
	if b.introspectURL != "" {
		return b.introspectURL, nil
	}
	return s.endpoints.IntrospectionURL, nil
}

// introspect checks an opaque token at the RFC 7662 endpoint.
func (b *BearerValidator) introspect(ctx context.Context, endpoint, token string) (*Identity, time.Time, error) {
	fail := func(kind ErrorKind, status int, desc string) (*Identity, time.Time, error) {
		return nil, time.Time{}, &Error{Provider: b.id, Endpoint: "introspection", Kind: kind, Status: status, Description: desc}
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if b.introspectAuth == AuthStyleParams {
		form.Set(b.clientIDParam, b.clientID)
		if b.clientSecret != "" {
			form.Set(b.clientSecretParam, b.clientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fail(ErrBadResponse, 0, "cannot build the request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if b.introspectAuth != AuthStyleParams {
		// RFC 6749 section 2.3.1: form-encode, then Basic.
		req.SetBasicAuth(url.QueryEscape(b.clientID), url.QueryEscape(b.clientSecret))
	}
	status, doc, err := b.send(req, "introspection")
	switch {
	case err != nil:
		return nil, time.Time{}, err
	case status < 200 || status > 299:
		// RFC 7662 answers any token, good or bad, with 200: an error
		// status means our request (or our client) was refused.
		return nil, time.Time{}, b.refused("introspection", status, doc, ErrBadResponse)
	case doc == nil:
		return fail(ErrBadResponse, status, "response is not a JSON object")
	}
	active, isBool := doc["active"].(bool)
	switch {
	case !isBool:
		return fail(ErrBadResponse, status, "response has no boolean active")
	case !active:
		return nil, time.Time{}, b.reject("introspection", "bearer token inactive")
	}
	if err := b.checkTimes(doc, false); err != nil {
		return nil, time.Time{}, err
	}
	if claim := notAccessClaim(doc); claim != "" {
		// A server searches every kind of token it has (RFC 7662 section
		// 2.1): a refresh or ID token of this client is active, and ours.
		return nil, time.Time{}, b.reject("introspection", "bearer token is not an access token: the introspection answer's "+claim+" marks a refresh or ID token")
	}
	if b.issuer != "" {
		if iss, ok := doc["iss"].(string); ok && iss != b.issuer {
			return nil, time.Time{}, b.reject("introspection", "bearer token issuer mismatch")
		}
	}
	if !issuedTo(doc, b.audiences) {
		return nil, time.Time{}, b.reject("introspection", "bearer token issued to another client: neither client_id nor aud names CLIENT_ID or a BEARER_AUDIENCES entry")
	}
	id, err := b.mapClaims(doc, "introspection answer")
	if err != nil {
		return nil, time.Time{}, err
	}
	if id.Username == "" { // RFC 7662's own name for it
		if s, ok := doc["username"].(string); ok {
			id.Username = b.claims.value("username", cleanValue(s))
		}
	}
	exp, _ := numericDate(doc["exp"])
	return id, exp, nil
}

// issuedTo reports whether an introspection answer says its token was
// issued to one of clients: its client_id, or one of its aud values, is
// one of them (RFC 7662 section 2.2).
func issuedTo(doc map[string]any, clients []string) bool {
	if id, ok := doc["client_id"].(string); ok && slices.Contains(clients, id) {
		return true
	}
	aud, _ := audienceOf(doc["aud"])
	return slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(clients, a) })
}

// audienceOf reads an aud claim: a string or an array of strings.
func audienceOf(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
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

// bearerEntry is one remembered verdict.
type bearerEntry struct {
	key   [sha256.Size]byte
	id    *Identity
	exp   time.Time // the token's, as the provider said; zero: unknown
	err   error
	until time.Time
}

// result returns the entry's verdict, with an identity the caller may
// change.
func (e *bearerEntry) result() (*Identity, time.Time, error) {
	if e.err != nil {
		return nil, time.Time{}, e.err
	}
	return cloneIdentity(e.id), e.exp, nil
}

func cloneIdentity(id *Identity) *Identity {
	c := *id
	c.Groups = slices.Clone(id.Groups)
	if id.Attributes != nil {
		c.Attributes = make(map[string]string, len(id.Attributes))
		for k, v := range id.Attributes {
			c.Attributes[k] = v
		}
	}
	if id.EmailVerified != nil {
		v := *id.EmailVerified
		c.EmailVerified = &v
	}
	return &c
}

// bearerCache is a bounded LRU of verdicts keyed by token hash.
type bearerCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List // of *bearerEntry, most recently used first
	m   map[[sha256.Size]byte]*list.Element
}

func newBearerCache(max int) *bearerCache {
	return &bearerCache{max: max, ll: list.New(), m: make(map[[sha256.Size]byte]*list.Element)}
}

// get returns the live entry for key.
func (c *bearerCache) get(key [sha256.Size]byte, now time.Time) (*bearerEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*bearerEntry)
	if !now.Before(e.until) {
		c.ll.Remove(el)
		delete(c.m, key)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e, true
}

// put stores e, evicting the least recently used entries beyond the bound.
func (c *bearerCache) put(e *bearerEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[e.key]; ok {
		el.Value = e
		c.ll.MoveToFront(el)
		return
	}
	c.m[e.key] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.m, last.Value.(*bearerEntry).key)
	}
}

// len reports the number of entries, for tests.
func (c *bearerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
