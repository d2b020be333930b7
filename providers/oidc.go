package providers

import (
	"context"
	"errors"
	"fmt"
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
	// LogoutPath, when neither LogoutURL nor discovery gives a sign-out
	// URL, makes it this path on the authorization endpoint's scheme and
	// host (Cognito's /logout on the user pool domain, which its
	// discovery document does not list).
	LogoutPath string
	// MultiTenant is for issuers shared by many tenants (Microsoft's
	// common, organizations and consumers): the discovery document's
	// issuer may then differ from IssuerURL, and an ID token's iss is
	// checked against the discovered issuer with a literal {tenantid}
	// replaced by the token's tid claim.
	MultiTenant bool
	// SigningAlgs are the algorithms ID tokens may be signed with; empty:
	// the ones discovery advertises that go-oidc supports, else RS256.
	SigningAlgs []string
	// UserInCallback makes CallbackUser read the user's name from the
	// callback's form (Apple).
	UserInCallback bool
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
	// failed is the last discovery failure, until discovery succeeds.
	failed atomic.Pointer[error]

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

// bearerDefaults are the settings a validator of the provider's tokens
// takes from it (BearerConfig.Provider), with the provider as
// BearerConfig.OIDC: its discovery supplies the rest.
func (o *OIDC) bearerDefaults() BearerConfig {
	d := o.cfg.Config.bearerDefaults()
	d.OIDC = o
	return d
}

// Ready reports whether discovery has succeeded.
func (o *OIDC) Ready() bool { return o.state.Load() != nil }

// UsesNonce reports true: OpenID Connect sign-ins carry a nonce.
func (o *OIDC) UsesNonce() bool { return true }

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
