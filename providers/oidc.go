package providers

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCConfig configures an OpenID Connect provider.
type OIDCConfig struct {
	// Config holds the generic settings. Endpoint URLs set in it win over
	// the ones discovery finds; the ones left empty are filled from
	// discovery. "openid" is added to Scopes when missing.
	Config
	// IssuerURL is the issuer (ISSUER_URL): discovery is fetched from
	// IssuerURL/.well-known/openid-configuration, and ID tokens must carry
	// it as iss.
	IssuerURL string
	// LogoutURL is the provider's sign-out URL (LOGOUT_URL); empty: the
	// discovery document's end_session_endpoint.
	LogoutURL string
	// MultiTenant is for issuers shared by many tenants (Microsoft's
	// common, organizations and consumers): the discovery document's
	// issuer may then differ from IssuerURL, and an ID token's iss is
	// checked against the discovered issuer with a literal {tenantid}
	// replaced by the token's tid claim.
	MultiTenant bool
	// SigningAlgs are the algorithms ID tokens may be signed with; empty:
	// the ones discovery advertises that go-oidc supports, else RS256.
	SigningAlgs []string
}

// Endpoints are the URLs a provider uses, for `portcullis check` and for
// labelling metrics. Empty fields are not in use (or not known before
// discovery).
type Endpoints struct {
	// Issuer is the issuer ID tokens are checked against; it may hold
	// {tenantid} for a multi-tenant provider.
	Issuer      string
	AuthURL     string
	TokenURL    string
	RefreshURL  string
	UserinfoURL string
	JWKSURL     string
	// LogoutURL is the end-session endpoint.
	LogoutURL string
	// RevokeURL is the RFC 7009 revocation endpoint.
	RevokeURL string
	// IntrospectionURL is the RFC 7662 introspection endpoint discovery
	// advertises, which a BearerValidator of this provider uses when it is
	// given none.
	IntrospectionURL string
	// SigningAlgs are the algorithms ID tokens are accepted in.
	SigningAlgs []string
}

// OIDC is an OpenID Connect provider: the generic OAuth2 flow over
// endpoints found by discovery, with the ID token verified (signature
// against the provider's JWKS, issuer, audience, expiry, nonce) and its
// claims completed from the userinfo endpoint. NewOIDC does no I/O; the
// provider is usable once Discover (or Run) has succeeded. It is safe for
// concurrent use.
type OIDC struct {
	id     string
	cfg    OIDCConfig   // with defaults applied
	client *http.Client // cfg.HTTPClient with status and size checks, for discovery
	jwks   *http.Client // the same for the JWKS, which it checks is a key set
	now    func() time.Time
	state  atomic.Pointer[oidcState] // nil until discovery succeeded

	// minBackoff and maxBackoff bound Run's wait between attempts.
	minBackoff, maxBackoff time.Duration
}

// oidcState is what discovery found.
type oidcState struct {
	inner       *OAuth2
	verifier    *oidc.IDTokenVerifier
	keys        *remoteKeys // the JWKS, shared with the bearer validator
	issuer      string      // the discovered issuer; may hold {tenantid}
	hasUserinfo bool
	endpoints   Endpoints
}

var (
	_ Provider  = (*OIDC)(nil)
	_ Refresher = (*OIDC)(nil)
	_ Revoker   = (*OIDC)(nil)
	_ NonceUser = (*OIDC)(nil)
)

// supportedAlgs are the ID token signing algorithms go-oidc verifies.
var supportedAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.EdDSA,
}

// tenantPlaceholder is what a multi-tenant issuer holds in place of the
// tenant id.
const tenantPlaceholder = "{tenantid}"

// nbfLeeway is the clock skew allowed for an ID token's nbf claim.
const nbfLeeway = 5 * time.Minute

// placeholderURL stands in for endpoint URLs that discovery will supply,
// so that the generic settings can be validated before any I/O.
const placeholderURL = "https://discovery.invalid/"

// NewOIDC checks cfg, fills its defaults and returns the provider. It does
// no I/O: call Discover or Run before use. Every problem is reported at
// once, each naming its setting.
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	if cfg.ID == "" {
		cfg.ID = "oidc"
	}
	cfg.Config = withDefaults(cfg.Config)
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf(setting+": "+format, args...))
	}
	switch u, err := url.Parse(cfg.IssuerURL); {
	case cfg.IssuerURL == "":
		bad("ISSUER_URL", "required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		bad("ISSUER_URL", "must be an absolute http or https URL without query or fragment")
	}
	if cfg.LogoutURL != "" {
		if u, err := url.Parse(cfg.LogoutURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("LOGOUT_URL", "must be an absolute http or https URL")
		}
	}
	if cfg.ResponseType != "code" {
		bad("RESPONSE_TYPE", "must be code for OpenID Connect, got %q", cfg.ResponseType)
	}
	for _, a := range cfg.SigningAlgs {
		if !slices.Contains(supportedAlgs, a) {
			bad("SigningAlgs", "%q is not one of %s", a, strings.Join(supportedAlgs, ", "))
		}
	}
	// The generic settings, with discovery's URLs stood in for.
	generic := cfg.Config
	for _, u := range []*string{&generic.AuthURL, &generic.TokenURL, &generic.UserinfoURL} {
		if *u == "" {
			*u = placeholderURL
		}
	}
	if generic.ResponseType != "code" {
		generic.ResponseType = "code" // reported above
	}
	if err := validate(&generic); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.SigningAlgs = slices.Clone(cfg.SigningAlgs)
	o := &OIDC{id: cfg.ID, cfg: cfg, now: cfg.Now, minBackoff: time.Second, maxBackoff: time.Minute}
	if o.now == nil {
		o.now = time.Now
	}
	base := baseTransport(cfg.HTTPClient)
	client := func(jwks bool) *http.Client {
		hc := *cfg.HTTPClient
		hc.Transport = &fetchTransport{base: base, max: cfg.MaxResponseBytes, jwks: jwks}
		return &hc
	}
	o.client, o.jwks = client(false), client(true)
	return o, nil
}

// Ready reports whether discovery has succeeded.
func (o *OIDC) Ready() bool { return o.state.Load() != nil }

// shownURL makes a URL fit for a message: a password in it hidden, control
// characters removed, at most 200 bytes.
func shownURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if _, ok := u.User.Password(); ok {
			raw = u.Redacted() // else as it is: Redacted would re-escape "{tenantid}"
		}
	} else if i := strings.IndexByte(raw, '@'); i >= 0 {
		raw = "…" + raw[i:] // unparsable, and it may hold credentials before the @
	}
	s := cleanText(raw)
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// UsesNonce reports true: OpenID Connect sign-ins carry a nonce.
func (o *OIDC) UsesNonce() bool { return true }

// Discover fetches the discovery document with the configured HTTP client
// and sets the provider up from it: endpoints not set explicitly, the
// end-session and revocation endpoints, and the ID token verifier, whose
// key set is fetched when first needed and again when a token names a key
// it lacks (rotation), at most once per JWKSMinInterval. It may be called
// again to pick up changes.
func (o *OIDC) Discover(ctx context.Context) error {
	fail := func(kind ErrorKind, desc string, err error) error {
		return &Error{Provider: o.id, Endpoint: "discovery", Kind: kind, Description: desc, Err: err}
	}
	dctx := oidc.ClientContext(ctx, o.client)
	if o.cfg.MultiTenant {
		// The document's issuer may differ from the URL it is fetched
		// from; it is read below and checked against each token.
		dctx = oidc.InsecureIssuerURLContext(dctx, o.cfg.IssuerURL)
	}
	p, err := oidc.NewProvider(dctx, o.cfg.IssuerURL)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			c := *e
			c.Provider, c.Endpoint = o.id, "discovery"
			return &c
		}
		if m, ok := errors.AsType[*oidc.IssuerMismatchError](err); ok {
			return fail(ErrBadResponse, fmt.Sprintf("the discovery document's issuer %q differs from ISSUER_URL %q (they must match exactly, trailing slash included)",
				shownURL(m.Discovered), shownURL(m.Provided)), err)
		}
		if isNetError(err) {
			return networkError(&Error{Provider: o.id, Endpoint: "discovery"}, err)
		}
		return fail(ErrBadResponse, "the discovery document is not a JSON object", err)
	}
	var doc struct {
		Issuer     string   `json:"issuer"`
		Auth       string   `json:"authorization_endpoint"`
		Token      string   `json:"token_endpoint"`
		Userinfo   string   `json:"userinfo_endpoint"`
		JWKS       string   `json:"jwks_uri"`
		EndSession string   `json:"end_session_endpoint"`
		Revocation string   `json:"revocation_endpoint"`
		Introspect string   `json:"introspection_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		return fail(ErrBadResponse, "the discovery document is not a JSON object", err)
	}
	var problems []string
	check := func(field, raw string, required bool) {
		if raw == "" {
			if required {
				problems = append(problems, "the discovery document has no "+field)
			}
			return
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, "the discovery document's "+field+" is not an absolute http or https URL")
		}
	}
	cfg := o.cfg.Config
	if doc.Issuer == "" {
		problems = append(problems, "the discovery document has no issuer")
	}
	check("authorization_endpoint", doc.Auth, cfg.AuthURL == "")
	check("token_endpoint", doc.Token, cfg.TokenURL == "")
	check("userinfo_endpoint", doc.Userinfo, false)
	check("jwks_uri", doc.JWKS, true)
	check("end_session_endpoint", doc.EndSession, false)
	check("revocation_endpoint", doc.Revocation, false)
	check("introspection_endpoint", doc.Introspect, false)
	if len(problems) > 0 {
		return fail(ErrBadResponse, strings.Join(problems, "; "), nil)
	}

	or := orDefault
	or(&cfg.AuthURL, doc.Auth)
	or(&cfg.TokenURL, doc.Token)
	or(&cfg.UserinfoURL, doc.Userinfo)
	or(&cfg.RevokeURL, doc.Revocation)
	if cfg.RefreshURL == o.cfg.TokenURL {
		cfg.RefreshURL = "" // the default followed TOKEN_URL; follow the discovered one
	}
	hasUserinfo := cfg.UserinfoURL != ""
	if !hasUserinfo {
		cfg.UserinfoURL = cfg.TokenURL // never called; NewOAuth2 wants one
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	inner, err := NewOAuth2(cfg)
	if err != nil {
		return fail(ErrBadResponse, "the discovered endpoints are not usable", err)
	}

	algs := o.cfg.SigningAlgs
	if len(algs) == 0 {
		for _, a := range doc.Algs {
			if slices.Contains(supportedAlgs, a) {
				algs = append(algs, a)
			}
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256}
	}
	keys := newRemoteKeys(doc.JWKS, o.jwks, o.now)
	verifier := oidc.NewVerifier(doc.Issuer, keys, &oidc.Config{
		ClientID:             cfg.ClientID,
		SupportedSigningAlgs: algs,
		// Issuer, audience and expiry are checked by verifyClaims, which
		// knows {tenantid} and says which check failed.
		SkipIssuerCheck:   true,
		SkipClientIDCheck: true,
		SkipExpiryCheck:   true,
	})
	logout := o.cfg.LogoutURL
	or(&logout, doc.EndSession)
	userinfo := ""
	if hasUserinfo {
		userinfo = inner.cfg.UserinfoURL
	}
	o.state.Store(&oidcState{
		inner:       inner,
		verifier:    verifier,
		keys:        keys,
		issuer:      doc.Issuer,
		hasUserinfo: hasUserinfo,
		endpoints: Endpoints{
			Issuer:           doc.Issuer,
			AuthURL:          inner.cfg.AuthURL,
			TokenURL:         inner.cfg.TokenURL,
			RefreshURL:       inner.cfg.RefreshURL,
			UserinfoURL:      userinfo,
			JWKSURL:          doc.JWKS,
			LogoutURL:        logout,
			RevokeURL:        inner.cfg.RevokeURL,
			IntrospectionURL: doc.Introspect,
			SigningAlgs:      slices.Clone(algs),
		},
	})
	return nil
}

// Run calls Discover until it succeeds or ctx ends, waiting 1s after the
// first failure and doubling the wait up to a minute. onError, if not nil,
// is told of each failure. It returns at once when discovery has already
// succeeded.
func (o *OIDC) Run(ctx context.Context, onError func(error)) {
	wait := o.minBackoff
	for !o.Ready() {
		err := o.Discover(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		if onError != nil {
			onError(err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, o.maxBackoff)
	}
}

// Endpoints returns the URLs in use: after discovery, the explicit settings
// completed by the discovery document; before, the explicit settings only.
func (o *OIDC) Endpoints() Endpoints {
	if s := o.state.Load(); s != nil {
		e := s.endpoints
		e.SigningAlgs = slices.Clone(e.SigningAlgs)
		return e
	}
	c := o.cfg
	return Endpoints{
		Issuer:      c.IssuerURL,
		AuthURL:     c.AuthURL,
		TokenURL:    c.TokenURL,
		RefreshURL:  c.RefreshURL,
		UserinfoURL: c.UserinfoURL,
		LogoutURL:   c.LogoutURL,
		RevokeURL:   c.RevokeURL,
		SigningAlgs: slices.Clone(c.SigningAlgs),
	}
}

// LogoutURL returns LOGOUT_URL when set, else the discovered
// end_session_endpoint; "" when there is none (yet).
func (o *OIDC) LogoutURL() string { return o.Endpoints().LogoutURL }

// RevokeURL returns REVOKE_URL when set, else the discovered
// revocation_endpoint; "" when there is none (yet).
func (o *OIDC) RevokeURL() string { return o.Endpoints().RevokeURL }

// ErrNotDiscovered is the cause of the ErrTransient *Error that an OIDC
// provider's calls return before discovery has succeeded.
var ErrNotDiscovered = errors.New("discovery not done yet")

// notReady is the error of every call made before discovery succeeded.
func (o *OIDC) notReady(endpoint string) *Error {
	return &Error{Provider: o.id, Endpoint: endpoint, Kind: ErrTransient, Description: ErrNotDiscovered.Error(), Err: ErrNotDiscovered}
}

// AuthCodeURL returns the authorization URL, as OAuth2.AuthCodeURL does;
// the nonce goes in opts (oauth2.SetAuthURLParam("nonce", n)). Before
// discovery has succeeded it returns "".
func (o *OIDC) AuthCodeURL(state string, opts ...oauth2.AuthCodeOption) string {
	s := o.state.Load()
	if s == nil {
		return ""
	}
	return s.inner.AuthCodeURL(state, opts...)
}

// Exchange trades an authorization code for tokens, as OAuth2.Exchange
// does; the ID token is verified by Identify.
func (o *OIDC) Exchange(ctx context.Context, code string, opts ...oauth2.AuthCodeOption) (*Tokens, error) {
	s := o.state.Load()
	if s == nil {
		return nil, o.notReady("token")
	}
	return s.inner.Exchange(ctx, code, opts...)
}

// Identify verifies t's ID token — signature against the provider's keys,
// issuer, audience (the client id), expiry, and, when t.Nonce is set, that
// it carries that nonce — and maps its claims with the Claims, completed
// from the userinfo endpoint when there is one: userinfo fills the fields
// the ID token lacks, and its sub must be the ID token's. The ID token
// must be unexpired, so after a refresh that brought no new ID token the
// identity from sign-in stands.
func (o *OIDC) Identify(ctx context.Context, t *Tokens) (*Identity, error) {
	s := o.state.Load()
	if s == nil {
		return nil, o.notReady("")
	}
	if t == nil || t.IDToken == "" {
		return nil, &Error{Provider: o.id, Endpoint: "token", Kind: ErrBadResponse, Description: "no id_token in the token response"}
	}
	tok, claims, err := o.verify(ctx, s, "", t.IDToken, t.Nonce)
	if err != nil {
		return nil, err
	}
	c := s.inner.cfg.Claims
	id, err := c.read(claims)
	if err != nil {
		return nil, withEndpoint(err, o.id, "token")
	}
	if s.hasUserinfo {
		doc, err := s.inner.Userinfo(ctx, t)
		if err != nil {
			return nil, err
		}
		if sub, ok := doc["sub"]; ok {
			if v, _ := stringValue(sub); v != tok.Subject {
				return nil, &Error{Provider: o.id, Endpoint: "userinfo", Kind: ErrRejected, Description: "userinfo sub differs from the ID token's"}
			}
		}
		more, err := c.read(doc)
		if err != nil {
			return nil, withEndpoint(err, o.id, "userinfo")
		}
		fill(id, more)
	}
	if id.ID == "" && t.UserID != "" {
		id.ID = c.value("id", cleanValue(t.UserID))
	}
	if id.ID == "" {
		e := c.noIDError()
		e.Provider = o.id
		return nil, e
	}
	return id, nil
}

// fill sets the empty fields of id from more. The e-mail address and its
// verification flag go together: when the address comes from more, so
// does the flag, unless more has none.
func fill(id, more *Identity) {
	or := orDefault
	or(&id.ID, more.ID)
	if id.Email == "" && more.Email != "" {
		id.Email = more.Email
		if more.EmailVerified != nil {
			id.EmailVerified = more.EmailVerified
		}
	}
	if id.EmailVerified == nil {
		id.EmailVerified = more.EmailVerified
	}
	or(&id.Name, more.Name)
	or(&id.GivenName, more.GivenName)
	or(&id.FamilyName, more.FamilyName)
	or(&id.Username, more.Username)
	or(&id.Picture, more.Picture)
	or(&id.Locale, more.Locale)
	if len(id.Groups) == 0 {
		id.Groups = more.Groups
	}
	for k, v := range more.Attributes {
		if id.Attributes[k] == "" {
			if id.Attributes == nil {
				id.Attributes = make(map[string]string)
			}
			id.Attributes[k] = v
		}
	}
}

// Refresh uses t's refresh token as OAuth2.Refresh does. When the answer
// holds a new ID token, it is verified (without a nonce) and must be for
// the same user as t's; a bad one fails the refresh. Call Identify on the
// result to update the identity from a new ID token.
func (o *OIDC) Refresh(ctx context.Context, t *Tokens) (*Tokens, error) {
	s := o.state.Load()
	if s == nil {
		return nil, o.notReady("refresh")
	}
	nt, err := s.inner.Refresh(ctx, t)
	if err != nil {
		return nil, err
	}
	if nt.IDToken == "" || nt.IDToken == t.IDToken {
		return nt, nil
	}
	tok, _, err := o.verify(ctx, s, "refresh", nt.IDToken, "")
	if err != nil {
		return nil, err
	}
	if old := unverifiedSubject(t.IDToken); old != "" && old != tok.Subject {
		// OIDC Core 12.2: same sub as the original ID token.
		return nil, &Error{Provider: o.id, Endpoint: "refresh", Kind: ErrRejected, Description: "refreshed ID token is for another user"}
	}
	return nt, nil
}

// Revoke revokes token at REVOKE_URL or the discovered revocation
// endpoint, as OAuth2.Revoke does; with neither it does nothing.
func (o *OIDC) Revoke(ctx context.Context, token, hint string) error {
	s := o.state.Load()
	if s == nil {
		return o.notReady("revoke")
	}
	return s.inner.Revoke(ctx, token, hint)
}

// verify checks a raw ID token and returns it with its claims decoded with
// UseNumber. nonce, when not empty, must be the token's. endpoint names
// where the token came from in errors: "refresh", or "" when unknown.
func (o *OIDC) verify(ctx context.Context, s *oidcState, endpoint, raw, nonce string) (*oidc.IDToken, map[string]any, error) {
	reject := func(kind ErrorKind, desc string) error {
		return &Error{Provider: o.id, Endpoint: endpoint, Kind: kind, Description: desc}
	}
	var got keySetResult
	tok, err := s.verifier.Verify(context.WithValue(ctx, keySetResultKey{}, &got), raw)
	switch {
	case err == nil:
	case !got.reached:
		return nil, nil, reject(ErrRejected, "ID token malformed or not signed with an accepted algorithm")
	case got.err == nil:
		return nil, nil, reject(ErrBadResponse, "ID token claims malformed")
	default:
		if e, ok := errors.AsType[*Error](got.err); ok { // the JWKS endpoint answered an error
			c := *e
			c.Provider, c.Endpoint = o.id, "jwks"
			return nil, nil, &c
		}
		if isNetError(got.err) {
			return nil, nil, networkError(&Error{Provider: o.id, Endpoint: "jwks"}, got.err)
		}
		return nil, nil, reject(ErrRejected, "ID token signature invalid")
	}
	var payload json.RawMessage
	if err := tok.Claims(&payload); err != nil {
		return nil, nil, reject(ErrBadResponse, "ID token claims malformed")
	}
	claims, err := decodeJSONObject(payload)
	if err != nil {
		return nil, nil, reject(ErrBadResponse, "ID token claims malformed")
	}
	if err := o.checkClaims(s, tok, claims, nonce); err != nil {
		return nil, nil, reject(ErrRejected, err.Error())
	}
	return tok, claims, nil
}

// checkClaims checks what go-oidc was told to skip — issuer, audience,
// expiry — and the nonce; the error is the plain reason.
func (o *OIDC) checkClaims(s *oidcState, tok *oidc.IDToken, claims map[string]any, nonce string) error {
	want := s.issuer
	if o.cfg.MultiTenant && strings.Contains(want, tenantPlaceholder) {
		tid, _ := stringValue(claims["tid"])
		if !isTenantID(tid) {
			return errors.New("ID token has no valid tid claim")
		}
		want = strings.ReplaceAll(want, tenantPlaceholder, tid)
	}
	// Google's tokens may say accounts.google.com without the scheme.
	if tok.Issuer != want && !(want == "https://accounts.google.com" && tok.Issuer == "accounts.google.com") {
		return errors.New("ID token issuer mismatch")
	}
	if !slices.Contains(tok.Audience, o.cfg.ClientID) {
		return errors.New("ID token audience mismatch")
	}
	if azp, _ := stringValue(claims["azp"]); azp != "" && azp != o.cfg.ClientID {
		return errors.New("ID token authorized party mismatch")
	}
	now := o.now()
	if tok.Expiry.IsZero() {
		return errors.New("ID token has no expiry")
	}
	if now.After(tok.Expiry) {
		return errors.New("ID token expired")
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(nbfLeeway).Before(nbf) {
		return errors.New("ID token not valid yet")
	}
	if tok.Subject == "" {
		return errors.New("ID token has no sub")
	}
	if nonce != "" {
		if tok.Nonce == "" {
			return errors.New("ID token nonce missing")
		}
		if subtle.ConstantTimeCompare([]byte(tok.Nonce), []byte(nonce)) != 1 {
			return errors.New("ID token nonce mismatch")
		}
	}
	return nil
}

// isTenantID reports whether s can be a tenant id: a GUID or a domain
// name, nothing that could reshape the issuer URL.
func isTenantID(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return s != "." && s != ".."
}

// numericDate reads a JWT NumericDate decoded with UseNumber.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// unverifiedSubject returns the sub of a JWT without checking it; only
// for tokens verified earlier and kept in the session.
func unverifiedSubject(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Sub
}

// keySetResultKey is the context key of a *keySetResult.
type keySetResultKey struct{}

// keySetResult is what keySet saw during one verification.
type keySetResult struct {
	reached bool // the signature check was attempted
	err     error
}

// fetchTransport carries discovery and JWKS requests: it bounds the
// answer's size and turns an error status (and, for the JWKS, an answer
// that is no key set) into an *Error, so that the cause survives go-oidc's
// wrapping and no body is quoted in a message.
type fetchTransport struct {
	base http.RoundTripper
	max  int64
	jwks bool
}

// RoundTrip implements http.RoundTripper.
func (f *fetchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := f.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := readLimited(resp.Body, f.max)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > f.max {
		return nil, &Error{Kind: ErrBadResponse, Status: resp.StatusCode, Description: fmt.Sprintf("response larger than %d bytes refused", f.max)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode}
		if doc, err := decodeJSONObject(body); err == nil {
			e.Code, e.Description, _ = errorShape(doc, true)
		}
		e.Kind = classify(resp.StatusCode, e.Code)
		return nil, e
	}
	if f.jwks {
		doc, err := decodeJSONObject(body)
		if _, ok := doc["keys"].([]any); err != nil || !ok {
			return nil, &Error{Kind: ErrBadResponse, Status: resp.StatusCode, Description: "the JWKS is not a JSON object with a keys array"}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}
