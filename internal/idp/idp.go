// Package idp is a small OAuth2 identity provider for development and tests.
//
// It backs `portcullis demo`, where a new user signs in by clicking a button
// on a local page, and the end-to-end tests of the proxy, which run it over
// real HTTP (httptest.NewServer(idp.New(opts))) and switch on the quirks of
// real providers one Options field at a time: renamed parameters, a token
// endpoint that only takes GET, errors answered with status 200, rotating
// refresh tokens, slow or failing endpoints, huge tokens.
//
// Endpoints, relative to the server's base URL:
//
//	GET  /authorize   authorization request (code or implicit flow; response_mode=form_post answers with a page that POSTs to the redirect URI)
//	POST /authorize   the sign-in page's form: the chosen user
//	POST /token       authorization_code, refresh_token and client_credentials grants (GET with TokenMethod "GET")
//	GET  /userinfo    the signed-in user's claims (POST with UserinfoMethod "POST")
//	GET  /userinfo/emails  the user's e-mail addresses, with Options.Emails (Bitbucket's /user/emails)
//	POST /revoke      RFC 7009 token revocation
//	GET  /logout      ends the session, or redirects to post_logout_redirect_uri (Cognito's logout_uri)
//
// and, to tell whose an access token is, the checks real providers offer:
//
//	POST /introspect                        RFC 7662 introspection, for any registered client
//	GET|POST /tokeninfo                     Google's tokeninfo: aud and azp name the client
//	POST /applications/{client_id}/token    GitHub's check-a-token: 404 unless the token is that client's
//	GET  /debug_token                       Facebook's debug_token: data.app_id names the client
//	GET  /oauth2/@me                        Discord's current authorization: application.id names the client
//
// Besides ClientID, Options.Clients registers more clients, so that a test
// can hold a token the provider issued to another app.
//
// With Options.OIDC it is an OpenID Connect provider as well: token
// responses carry a signed id_token when the scope holds openid, and it
// serves
//
//	GET  /.well-known/openid-configuration   discovery (also under any path prefix, for issuers with a path)
//	GET  /jwks                               the public signing key
//
// All state lives in the Server; nothing is global, so tests may run in
// parallel each with its own Server.
package idp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// codeLifetime is how long an authorization code may be exchanged.
const codeLifetime = 10 * time.Minute

// A User is an account of the provider.
type User struct {
	// ID is the user's unique id: a string, or a number such as 583231 to
	// test providers that send numeric ids. It is sent as is (sub in the
	// default userinfo, TokenUserIDField in the token response).
	ID any
	// Username identifies the user on the sign-in page and in
	// Options.AutoApprove; it is the preferred_username claim.
	Username      string
	Email         string
	EmailVerified *bool // nil: no email_verified claim
	Name          string
	GivenName     string
	FamilyName    string
	Groups        []string
	// Extra is merged into the default userinfo, overriding claims of the
	// same name.
	Extra map[string]any
}

// Options configure a Server. The zero value of each quirk is the plain
// RFC 6749 behaviour.
type Options struct {
	// ClientID and ClientSecret are the registered client's credentials.
	// Both are required.
	ClientID, ClientSecret string
	// Clients are more registered clients (other apps of the same
	// provider): each can sign users in and get tokens like ClientID.
	Clients []Client

	// Users can sign in; the sign-in page shows one button each. Empty: the
	// demo users alice and bob (see DemoUsers).
	Users []User
	// AutoApprove, if set to a Username, makes GET /authorize redirect back
	// at once as that user, without a page.
	AutoApprove string

	// ClientAuth is how the token and revocation endpoints require client
	// credentials: "basic" (HTTP Basic only), "body" (parameters only) or ""
	// (either).
	ClientAuth string
	// ClientIDParam and ClientSecretParam name the client's parameters, on
	// the authorization request as well as the token request. Defaults:
	// client_id and client_secret (WeChat: appid and secret).
	ClientIDParam, ClientSecretParam string
	// TokenMethod "" makes the token endpoint take a POST form; "GET" makes
	// it take a GET query string only.
	TokenMethod string
	// RequirePKCE refuses authorization requests without an S256
	// code_challenge. A challenge is verified whenever one was given.
	RequirePKCE bool

	// UserinfoMethod is "GET" (default) or "POST".
	UserinfoMethod string
	// UserinfoToken is where userinfo expects the access token: "header"
	// (default, Authorization: Bearer), "query" or "body".
	UserinfoToken string
	// UserinfoTokenParam names the token's parameter for "query" and
	// "body". Default: access_token.
	UserinfoTokenParam string
	// TokenUserIDField, if set, adds this field to token responses with the
	// user's ID (WeChat openid, Mercado Libre user_id).
	TokenUserIDField string
	// UserinfoUserIDParam, if set, makes userinfo require this parameter
	// (query or form) equal to the user's ID.
	UserinfoUserIDParam string
	// Userinfo, if set, shapes the userinfo JSON (nested claims, a
	// provider's own layout). Default: flat OIDC-style claims sub, email,
	// email_verified, name, given_name, family_name, preferred_username,
	// groups, then User.Extra.
	Userinfo func(u User) any
	// Emails, if set, serves GET /userinfo/emails, the signed-in user's
	// e-mail addresses in the shape it returns (Bitbucket's
	// {"values": [{"email", "is_primary", "is_confirmed"}]}), for an
	// access token in an Authorization: Bearer header. Unset, the path
	// answers 404.
	Emails func(u User) any

	// ExpiresIn is the access tokens' life, sent as expires_in and
	// enforced by userinfo. 0: tokens never expire and expires_in is
	// omitted.
	ExpiresIn time.Duration
	// IssueRefreshTokens adds a refresh token to authorization-code grants.
	IssueRefreshTokens bool
	// RotateRefreshTokens makes each refresh return a new refresh token
	// and invalidate the one used. Without it the refresh response carries
	// no refresh token and the old one stays valid.
	RotateRefreshTokens bool
	// AccessTokenSize pads access tokens with random characters to this
	// many bytes (huge tokens that overflow one cookie).
	AccessTokenSize int
	// JWTAccessTokens makes access tokens RFC 9068 JWTs (typ at+jwt)
	// signed with the JWKS key: iss, sub, aud and client_id (the client
	// they were issued to), scope, iat, exp (an hour when ExpiresIn is 0)
	// and jti. Needs OIDC, which serves the JWKS.
	JWTAccessTokens bool
	// AccessTokenType is the typ header of JWT access tokens: "" is
	// at+jwt, "-" sends none (Cognito's have none), any other value is
	// sent as it is (Okta's org authorization server's
	// application/okta-internal-at+jwt, Gitea's JWT).
	AccessTokenType string
	// AccessTokenClaims, if set, sees each JWT access token's claims
	// before signing and may change them, as IDTokenClaims does for ID
	// tokens: Cognito's token_use and client_id without aud, Okta's cid,
	// uid and scp, Gitea's gnt and tt alone.
	AccessTokenClaims func(claims map[string]any)
	// JWTRefreshTokens makes refresh tokens JWTs too, signed like access
	// tokens (AccessTokenType), with iss, sub, aud, client_id, iat and jti
	// (Gitea's are). RefreshTokenClaims, if set, sees their claims before
	// signing and may change them (Gitea's gnt and tt 1).
	JWTRefreshTokens   bool
	RefreshTokenClaims func(claims map[string]any)

	// TokenStatus, if non-zero, makes the token endpoint answer with this
	// status and an RFC 6749 error body (503: temporarily_unavailable).
	TokenStatus int
	// TokenError, if set, makes the token endpoint answer 400 with
	// {"error": TokenError, "error_description": …}.
	TokenError string
	// ErrorWith200 makes the TokenError answer use status 200 (GitHub,
	// WeChat). TokenStatus, if set, wins.
	ErrorWith200 bool
	// UserinfoStatus, if non-zero, makes userinfo answer with this status
	// and an error body.
	UserinfoStatus int
	// Delay is slept before answering token and userinfo requests, or
	// until the request's context ends.
	Delay time.Duration

	// Now is the clock for code and token expiry. Default: time.Now.
	Now func() time.Time

	// OIDC makes the server an OpenID Connect provider: discovery, JWKS,
	// and ID tokens in token responses. Off, the paths of discovery and
	// JWKS answer 404 as they would on a plain OAuth2 provider.
	OIDC bool
	// Issuer is the issuer in discovery and ID tokens. Default: the base
	// URL the request reached, http://host (https with TLS). A literal
	// {tenantid} in it is advertised as is by discovery, the way Microsoft's
	// multi-tenant endpoints do, and replaced by TenantID in ID tokens.
	Issuer string
	// TenantID, if set, is sent as the tid claim of ID tokens.
	TenantID string
	// SigningAlg signs ID tokens: "RS256" (default) or "ES256".
	SigningAlg string
	// IDTokenClaims, if set, sees each ID token's claims before signing and
	// may change them (a wrong aud, iss or nonce, an exp in the past).
	IDTokenClaims func(claims map[string]any)
	// SignWithUnknownKey signs ID tokens with a key that the JWKS does not
	// hold, under the kid of the published key: a forged token.
	SignWithUnknownKey bool
	// DiscoveryStatus, if non-zero, makes discovery answer with this status
	// and an error body (503: a provider briefly down).
	DiscoveryStatus int
	// Logout shapes GET /logout: "" is OpenID Connect RP-Initiated Logout
	// (post_logout_redirect_uri, optional); "cognito" is Amazon Cognito's
	// /logout, which takes the client_id of a registered client and
	// logout_uri, one of SignOutURLs, and answers anything else with an
	// error page.
	Logout string
	// SignOutURLs are the "cognito" logout's allowed sign-out URLs, matched
	// exactly; empty: any absolute http or https URL.
	SignOutURLs []string
	// Discovery, if set, sees the discovery document before it is sent and
	// may change it: Cognito's has no end_session_endpoint and no
	// introspection_endpoint.
	Discovery func(doc map[string]any)

	// IntrospectionClaims, if set, sees each introspection answer about an
	// active token before it is sent and may change it: Okta's sub is the
	// user's login and uid the user's id; Gitea's names the client in aud
	// alone.
	IntrospectionClaims func(answer map[string]any)
	// IntrospectRefreshTokens makes introspection answer about refresh
	// tokens as it does about access tokens (RFC 7662 section 2.1 lets a
	// server search every kind of token it has; Okta's answer about a
	// refresh token has token_type Bearer, as about an access token).
	IntrospectRefreshTokens bool
	// IntrospectIDTokens makes introspection answer about the ID tokens it
	// signed, while they are unexpired, with their claims (Okta does: "ID
	// tokens can be sent to this endpoint").
	IntrospectIDTokens bool

	// Hostile, if set, names one of the HostileClaims sets: its values
	// replace the signed-in user's claims in the default userinfo and in
	// ID tokens ("group-nul" sends the groups ["admins\x00"]).
	Hostile string
}

// A Client is a registered client (an app) of the provider.
type Client struct {
	ID, Secret string
}

// DemoUsers returns the users a Server offers when Options.Users is empty.
func DemoUsers() []User {
	verified := true
	return []User{
		{
			ID:            "1001",
			Username:      "alice",
			Email:         "alice@example.com",
			EmailVerified: &verified,
			Name:          "Alice Example",
			GivenName:     "Alice",
			FamilyName:    "Example",
			Groups:        []string{"admins", "staff"},
		},
		{
			ID:         "1002",
			Username:   "bob",
			Email:      "bob@example.com",
			Name:       "Bob Example",
			GivenName:  "Bob",
			FamilyName: "Example",
			Groups:     []string{"staff"},
		},
	}
}

// Validate reports every problem with o, joined, each naming its field.
func (o Options) Validate() error {
	var errs []error
	if o.ClientID == "" {
		errs = append(errs, errors.New("ClientID: required"))
	}
	if o.ClientSecret == "" {
		errs = append(errs, errors.New("ClientSecret: required"))
	}
	clients := map[string]bool{o.ClientID: true}
	for i, c := range o.Clients {
		switch {
		case c.ID == "" || c.Secret == "":
			//lint:ignore ST1005 the message starts with the field's name, as Validate's all do
			errs = append(errs, fmt.Errorf("Clients[%d]: ID and Secret required", i))
		case clients[c.ID]:
			//lint:ignore ST1005 the message starts with the field's name, as Validate's all do
			errs = append(errs, fmt.Errorf("Clients[%d]: duplicate client id %q", i, c.ID))
		}
		clients[c.ID] = true
	}
	if o.JWTAccessTokens && !o.OIDC {
		errs = append(errs, errors.New("JWTAccessTokens: needs OIDC, which serves the JWKS"))
	}
	if o.JWTRefreshTokens && !o.OIDC {
		errs = append(errs, errors.New("JWTRefreshTokens: needs OIDC, which serves the JWKS"))
	}
	oneOf := func(field, got string, want ...string) {
		if !slices.Contains(want, got) {
			errs = append(errs, fmt.Errorf("%s: must be one of %q, got %q", field, want, got))
		}
	}
	oneOf("ClientAuth", o.ClientAuth, "", "basic", "body")
	oneOf("TokenMethod", o.TokenMethod, "", "POST", "GET")
	oneOf("UserinfoMethod", o.UserinfoMethod, "", "GET", "POST")
	oneOf("UserinfoToken", o.UserinfoToken, "", "header", "query", "body")
	oneOf("Logout", o.Logout, "", "cognito")
	if o.UserinfoToken == "body" && o.UserinfoMethod != "POST" {
		errs = append(errs, errors.New(`UserinfoToken: "body" needs UserinfoMethod "POST"`))
	}
	users := o.Users
	if len(users) == 0 {
		users = DemoUsers()
	}
	seen := map[string]bool{}
	for i, u := range users {
		if u.Username == "" {
			errs = append(errs, fmt.Errorf("user %d: Username required", i))
		} else if seen[u.Username] {
			errs = append(errs, fmt.Errorf("user %d: duplicate Username %q", i, u.Username))
		}
		seen[u.Username] = true
		if id, ok := idString(u.ID); !ok || id == "" {
			errs = append(errs, fmt.Errorf("user %d: ID must be a non-empty string or a number, got %#v", i, u.ID))
		}
	}
	if o.Hostile != "" && hostile(o.Hostile) == nil {
		errs = append(errs, fmt.Errorf("Hostile: no hostile claim set named %q", o.Hostile))
	}
	if o.AutoApprove != "" && !seen[o.AutoApprove] {
		errs = append(errs, fmt.Errorf("AutoApprove: no user named %q", o.AutoApprove))
	}
	if o.AccessTokenSize < 0 {
		errs = append(errs, fmt.Errorf("AccessTokenSize: must not be negative, got %d", o.AccessTokenSize))
	}
	if o.ExpiresIn < 0 {
		errs = append(errs, fmt.Errorf("ExpiresIn: must not be negative, got %v", o.ExpiresIn))
	}
	if o.TokenStatus != 0 && (o.TokenStatus < 100 || o.TokenStatus > 599) {
		errs = append(errs, fmt.Errorf("TokenStatus: not an HTTP status: %d", o.TokenStatus))
	}
	if o.UserinfoStatus != 0 && (o.UserinfoStatus < 100 || o.UserinfoStatus > 599) {
		errs = append(errs, fmt.Errorf("UserinfoStatus: not an HTTP status: %d", o.UserinfoStatus))
	}
	errs = append(errs, o.validateOIDC()...)
	return errors.Join(errs...)
}

// idString formats a user ID as a parameter value: numbers as integers or
// plain decimals, never in exponent form. It reports false for other types.
func idString(id any) (string, bool) {
	switch v := id.(type) {
	case string:
		return v, true
	case int:
		return strconv.FormatInt(int64(v), 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint:
		return strconv.FormatUint(uint64(v), 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// withDefaults returns o with its defaults filled in.
func (o Options) withDefaults() Options {
	if len(o.Users) == 0 {
		o.Users = DemoUsers()
	}
	if o.ClientIDParam == "" {
		o.ClientIDParam = "client_id"
	}
	if o.ClientSecretParam == "" {
		o.ClientSecretParam = "client_secret"
	}
	if o.TokenMethod == "" {
		o.TokenMethod = http.MethodPost
	}
	if o.UserinfoMethod == "" {
		o.UserinfoMethod = http.MethodGet
	}
	if o.UserinfoToken == "" {
		o.UserinfoToken = "header"
	}
	if o.UserinfoTokenParam == "" {
		o.UserinfoTokenParam = "access_token"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SigningAlg == "" {
		o.SigningAlg = "RS256"
	}
	return o
}

// clientSecret returns the secret of the registered client id.
func (o *Options) clientSecret(id string) (string, bool) {
	if id == o.ClientID {
		return o.ClientSecret, true
	}
	for _, c := range o.Clients {
		if c.ID == id {
			return c.Secret, true
		}
	}
	return "", false
}

// user returns the user named username.
func (o *Options) user(username string) (User, bool) {
	for _, u := range o.Users {
		if u.Username == username {
			return u, true
		}
	}
	return User{}, false
}

// A Server is the identity provider: an http.Handler serving the endpoints
// listed in the package documentation. It is safe for concurrent use.
type Server struct {
	mux *http.ServeMux

	mu      sync.Mutex
	opts    Options // with defaults
	invalid error   // from opts.Validate
	calls   map[string]int
	codes   map[string]*authCode
	access  map[string]*grantToken
	refresh map[string]*grantToken
	ids     map[string]bool // the ID tokens issued, for IntrospectIDTokens
	key     *signingKey     // signs ID tokens; nil until needed
	forger  *signingKey     // SignWithUnknownKey's key, not in the JWKS
}

var _ http.Handler = (*Server)(nil)

// New returns a Server configured by opts. Invalid options do not panic:
// every request is then answered 500 with the problems (see
// Options.Validate), so call Validate first where an error is wanted.
func New(opts Options) *Server {
	s := &Server{
		calls:   map[string]int{},
		codes:   map[string]*authCode{},
		access:  map[string]*grantToken{},
		refresh: map[string]*grantToken{},
		ids:     map[string]bool{},
	}
	s.opts, s.invalid = opts.withDefaults(), opts.Validate()
	s.routes()
	return s
}

// routes registers every endpoint. Token and userinfo take any method so
// that a wrong one gets a JSON error naming the right one.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /authorize", s.authorize)
	s.mux.HandleFunc("POST /authorize", s.authorizeSubmit)
	s.mux.HandleFunc("/token", s.token)
	s.mux.HandleFunc("/userinfo", s.userinfo)
	s.mux.HandleFunc("GET /userinfo/emails", s.emails)
	s.mux.HandleFunc("POST /revoke", s.revoke)
	s.mux.HandleFunc("GET /logout", s.logout)
	s.mux.HandleFunc("GET /jwks", s.jwks)
	s.mux.HandleFunc("POST /introspect", s.introspect)
	s.mux.HandleFunc("/tokeninfo", s.tokeninfo)
	s.mux.HandleFunc("POST /applications/{client_id}/token", s.checkToken)
	s.mux.HandleFunc("GET /debug_token", s.debugToken)
	s.mux.HandleFunc("GET /oauth2/@me", s.currentAuthorization)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	invalid := s.invalid
	s.mu.Unlock()
	if invalid != nil {
		http.Error(w, "idp: invalid options:\n"+invalid.Error(), http.StatusInternalServerError)
		return
	}
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, wellKnown) {
		s.discovery(w, r) // at the root, or under any prefix for issuers with a path
		return
	}
	s.mux.ServeHTTP(w, r)
}

// SetOptions changes the options while the server runs, for quirks that a
// test switches on midway (a refresh that starts failing). f sees the
// current options with defaults filled in; it should assign new slices and
// maps rather than modify the current ones in place, which requests in
// flight may be reading. Codes and tokens already issued stay valid.
func (s *Server) SetOptions(f func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opts
	o.Users = slices.Clone(o.Users)
	f(&o)
	s.opts, s.invalid = o.withDefaults(), o.Validate()
}

// Calls reports how many requests reached an endpoint: "authorize" (GET
// and POST), "token" (every grant), "refresh" (the token requests with
// grant_type=refresh_token, counted in "token" as well), "userinfo", "emails",
// "revoke", "logout", "discovery", "jwks", "introspect", "tokeninfo",
// "check_token", "debug_token" or "current_authorization". Requests answered with an injected error
// or cancelled during Delay count too.
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// count records a call to endpoint and returns the current options.
func (s *Server) count(endpoint string) Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[endpoint]++
	return s.opts
}

// Endpoints are the URLs of a Server's endpoints.
type Endpoints struct {
	AuthURL, TokenURL, UserinfoURL, RevokeURL, LogoutURL string
	// IntrospectionURL is RFC 7662 introspection; TokenInfoURL, Google's
	// tokeninfo; DebugTokenURL, Facebook's debug_token. GitHub's check
	// is at CheckTokenURL(client id).
	IntrospectionURL, TokenInfoURL, DebugTokenURL string
	base                                          string
}

// CheckTokenURL returns the URL of GitHub's check-a-token for a client.
func (e Endpoints) CheckTokenURL(clientID string) string {
	return e.base + "/applications/" + url.PathEscape(clientID) + "/token"
}

// EndpointsAt returns the endpoint URLs of a Server reached at baseURL,
// such as an httptest.Server's URL.
func EndpointsAt(baseURL string) Endpoints {
	base := strings.TrimRight(baseURL, "/")
	return Endpoints{
		AuthURL:          base + "/authorize",
		TokenURL:         base + "/token",
		UserinfoURL:      base + "/userinfo",
		RevokeURL:        base + "/revoke",
		LogoutURL:        base + "/logout",
		IntrospectionURL: base + "/introspect",
		TokenInfoURL:     base + "/tokeninfo",
		DebugTokenURL:    base + "/debug_token",
		base:             base,
	}
}
