package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// AuthStyle is how the client authenticates to the token endpoint
// (TOKEN_AUTH_STYLE).
type AuthStyle int

const (
	// AuthStyleAuto tries HTTP Basic first, then the form body, and
	// remembers what worked (x/oauth2's auto-detection).
	AuthStyleAuto AuthStyle = iota
	// AuthStyleHeader sends HTTP Basic client_id:client_secret.
	AuthStyleHeader
	// AuthStyleParams sends the client id and secret in the form body.
	AuthStyleParams
	// AuthStylePrivateKeyJWT sends an RFC 7523 client assertion that
	// Portcullis signs with CLIENT_KEY_FILE.
	AuthStylePrivateKeyJWT
	// AuthStyleClientAssertion sends the JWT read from
	// CLIENT_ASSERTION_FILE, afresh for each call, as the client assertion.
	AuthStyleClientAssertion
	// AuthStyleNone sends the client id alone: a public client.
	AuthStyleNone
)

// String returns the TOKEN_AUTH_STYLE value: auto, header or params.
func (s AuthStyle) String() string {
	switch s {
	case AuthStyleHeader:
		return "header"
	case AuthStyleParams:
		return "params"
	case AuthStylePrivateKeyJWT:
		return "private_key_jwt"
	case AuthStyleClientAssertion:
		return "client_assertion"
	case AuthStyleNone:
		return "none"
	}
	return "auto"
}

// secretless reports whether the style sends no client secret: the client
// id goes in the form, with a client assertion or nothing else.
func (s AuthStyle) secretless() bool {
	return s == AuthStylePrivateKeyJWT || s == AuthStyleClientAssertion || s == AuthStyleNone
}

func (s AuthStyle) oauth2() oauth2.AuthStyle {
	switch s {
	case AuthStyleHeader:
		return oauth2.AuthStyleInHeader
	case AuthStyleParams, AuthStylePrivateKeyJWT, AuthStyleClientAssertion, AuthStyleNone:
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleAutoDetect
}

// Defaults used when Config leaves a field zero.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20
)

// Config configures the generic OAuth2 provider. Field comments name the
// provider setting of the SPEC each one carries.
type Config struct {
	// ID is the provider id, used in error messages; default "oauth2".
	ID                     string
	ClientID, ClientSecret string
	AuthURL                string
	TokenURL               string
	UserinfoURL            string
	// RefreshURL is where refresh-token grants go; "" means TokenURL.
	RefreshURL string
	// Now is the clock that turns expires_in into an expiry; nil: time.Now.
	Now func() time.Time
	// RevokeURL is the RFC 7009 revocation endpoint; "" means none.
	RevokeURL   string
	RedirectURL string
	Scopes      []string
	// ResponseType is "code" (default) or "token" (implicit flow).
	ResponseType string
	// TokenMethod is "POST" (default) or "GET", which sends the token
	// request's parameters in the query string (WeChat).
	TokenMethod    string
	TokenAuthStyle AuthStyle
	// ClientIDParam renames client_id in token requests and in the
	// authorization URL; default "client_id".
	ClientIDParam string
	// ClientSecretParam renames client_secret; default "client_secret".
	// With a renamed parameter, AuthStyleAuto means AuthStyleParams.
	ClientSecretParam string
	// AuthParams are set on the authorization URL last, replacing any
	// standard parameter of the same name. TokenParams are added to token
	// and refresh requests unless x/oauth2 already set that name.
	// UserinfoParams go in the userinfo query (GET) or form body (POST).
	AuthParams, TokenParams, UserinfoParams url.Values
	// UserinfoMethod is "GET" (default) or "POST".
	UserinfoMethod string
	// UserinfoToken is where the access token goes on the userinfo call:
	// "header" (default, Authorization: Bearer), "query", or "body" (form
	// body, with POST).
	UserinfoToken string
	// UserinfoTokenParam names the token for "query" and "body"; default
	// "access_token".
	UserinfoTokenParam string
	// TokenUserIDField is a token-response path (dots allowed) whose value
	// becomes Tokens.UserID (WeChat openid, Mercado Libre user_id).
	TokenUserIDField string
	// UserinfoUserIDParam sends Tokens.UserID to the userinfo URL under
	// this parameter name.
	UserinfoUserIDParam string
	// Claims maps the userinfo answer; empty path lists get the defaults.
	Claims Claims
	// auth authenticates the client without a static secret (Build sets
	// it: TOKEN_AUTH_STYLE private_key_jwt, client_assertion, the apple
	// preset's signed secret); nil: ClientSecret as TokenAuthStyle says.
	auth *clientAuth
	// HTTPClient makes every call; nil means a client with a 10s timeout.
	HTTPClient *http.Client
	// MaxResponseBytes bounds every answer; 0 means 1 MiB. x/oauth2 itself
	// reads at most 1 MiB of a token answer, so a larger limit only helps
	// the userinfo call.
	MaxResponseBytes int64
}

// OAuth2 is the generic OAuth2 provider: the authorization-code (or
// implicit) flow through golang.org/x/oauth2, then a userinfo call mapped by
// Claims. Presets are Configs over it. It is safe for concurrent use.
type OAuth2 struct {
	id      string
	cfg     Config // with defaults applied
	token   *oauth2.Config
	refresh *oauth2.Config
	now     func() time.Time
}

var (
	_ Provider  = (*OAuth2)(nil)
	_ Refresher = (*OAuth2)(nil)
)

// NewOAuth2 checks cfg, fills its defaults and returns the provider. It does
// no I/O. Every problem is reported at once, each naming its setting.
func NewOAuth2(cfg Config) (*OAuth2, error) {
	cfg = withDefaults(cfg)
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	style := cfg.TokenAuthStyle
	if style == AuthStyleAuto && (cfg.ClientIDParam != "client_id" || cfg.ClientSecretParam != "client_secret") {
		// Renamed parameters only make sense in the body.
		cfg.TokenAuthStyle, style = AuthStyleParams, AuthStyleParams
	}
	p := &OAuth2{id: cfg.ID, cfg: cfg, now: cfg.Now}
	if p.now == nil {
		p.now = time.Now
	}
	authURL, _, _ := strings.Cut(cfg.AuthURL, "#")
	// Token and refresh grants differ only in where they go.
	secret := cfg.ClientSecret
	if style.secretless() {
		secret = ""
	}
	grants := func(tokenURL string) *oauth2.Config {
		return &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: secret,
			Endpoint:     oauth2.Endpoint{AuthURL: authURL, TokenURL: tokenURL, AuthStyle: style.oauth2()},
			RedirectURL:  cfg.RedirectURL,
			Scopes:       append([]string(nil), cfg.Scopes...),
		}
	}
	p.token, p.refresh = grants(cfg.TokenURL), grants(cfg.RefreshURL)
	return p, nil
}

func withDefaults(cfg Config) Config {
	or := orDefault
	or(&cfg.ID, "oauth2")
	or(&cfg.RefreshURL, cfg.TokenURL)
	or(&cfg.ResponseType, "code")
	cfg.TokenMethod = strings.ToUpper(cfg.TokenMethod)
	or(&cfg.TokenMethod, http.MethodPost)
	or(&cfg.ClientIDParam, "client_id")
	or(&cfg.ClientSecretParam, "client_secret")
	cfg.UserinfoMethod = strings.ToUpper(cfg.UserinfoMethod)
	or(&cfg.UserinfoMethod, http.MethodGet)
	cfg.UserinfoToken = strings.ToLower(cfg.UserinfoToken)
	or(&cfg.UserinfoToken, "header")
	or(&cfg.UserinfoTokenParam, "access_token")
	cfg.Claims = cfg.Claims.WithDefaults()
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return cfg
}

// bearerDefaults are the settings a validator of the provider's tokens
// takes from it (BearerConfig.Provider).
func (p *OAuth2) bearerDefaults() BearerConfig { return p.cfg.bearerDefaults() }

func (c *Config) bearerDefaults() BearerConfig {
	return BearerConfig{
		ID: c.ID, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Claims: c.Claims,
		HTTPClient: c.HTTPClient, MaxResponseBytes: c.MaxResponseBytes,
		auth: c.auth, IntrospectionAuth: c.introspectionAuth(),
	}
}

// introspectionAuth is how the client authenticates to an introspection
// endpoint: as at the token endpoint when it sends no secret, else HTTP
// Basic (AuthStyleAuto).
func (c *Config) introspectionAuth() AuthStyle {
	if c.TokenAuthStyle.secretless() {
		return c.TokenAuthStyle
	}
	return AuthStyleAuto
}

// orDefault sets *s to d when *s is empty.
func orDefault(s *string, d string) {
	if *s == "" {
		*s = d
	}
}

func validate(cfg *Config) error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf(setting+": "+format, args...))
	}
	checkURL := func(setting, raw string, required bool) {
		if raw == "" {
			if required {
				bad(setting, "required")
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(setting, "must be an absolute http or https URL")
		}
	}
	if cfg.ClientID == "" {
		bad("CLIENT_ID", "required")
	}
	checkURL("AUTH_URL", cfg.AuthURL, true)
	checkURL("TOKEN_URL", cfg.TokenURL, cfg.ResponseType == "code")
	checkURL("REFRESH_URL", cfg.RefreshURL, false)
	checkURL("REVOKE_URL", cfg.RevokeURL, false)
	checkURL("USERINFO_URL", cfg.UserinfoURL, true)
	checkURL("REDIRECT_URL", cfg.RedirectURL, false)
	if cfg.ResponseType != "code" && cfg.ResponseType != "token" {
		bad("RESPONSE_TYPE", "must be code or token, got %q", cfg.ResponseType)
	}
	if cfg.TokenMethod != http.MethodGet && cfg.TokenMethod != http.MethodPost {
		bad("TOKEN_METHOD", "must be GET or POST, got %q", cfg.TokenMethod)
	}
	if cfg.TokenAuthStyle < AuthStyleAuto || cfg.TokenAuthStyle > AuthStyleNone {
		bad("TOKEN_AUTH_STYLE", "must be auto, header, params, private_key_jwt, client_assertion or none")
	}
	if cfg.UserinfoMethod != http.MethodGet && cfg.UserinfoMethod != http.MethodPost {
		bad("USERINFO_METHOD", "must be GET or POST, got %q", cfg.UserinfoMethod)
	}
	switch cfg.UserinfoToken {
	case "header", "query":
	case "body":
		if cfg.UserinfoMethod != http.MethodPost {
			bad("USERINFO_TOKEN", "body needs USERINFO_METHOD=POST")
		}
	default:
		bad("USERINFO_TOKEN", "must be header, query or body, got %q", cfg.UserinfoToken)
	}
	if cfg.MaxResponseBytes < 0 {
		bad("MaxResponseBytes", "must not be negative")
	}
	names := make(map[string]bool)
	for _, a := range cfg.Claims.Attributes {
		if !isHeaderName(a.Name) || len(a.Paths) == 0 {
			bad("CLAIM_ATTRIBUTES", "%q needs a name of letters, digits and hyphens and a path", a.Name)
		}
		names[strings.ToLower(a.Name)] = true
	}
	for name := range cfg.Claims.Values {
		if !isFieldName(name) && !names[name] {
			bad("CLAIM_VALUES", "%q is neither a mapped field (id, email, name, given_name, family_name, username, groups, picture, locale) nor a CLAIM_ATTRIBUTES name", name)
		}
	}
	return errors.Join(errs...)
}

// AuthCodeURL returns the provider's authorization URL: the standard
// parameters (client_id under CLIENT_ID_PARAM, redirect_uri, response_type,
// scope, state), then opts (PKCE), then AUTH_PARAMS. A fragment of AUTH_URL
// (WeChat's #wechat_redirect) stays at the end.
func (p *OAuth2) AuthCodeURL(state string, opts ...oauth2.AuthCodeOption) string {
	if p.cfg.ResponseType != "code" {
		opts = append([]oauth2.AuthCodeOption{oauth2.SetAuthURLParam("response_type", p.cfg.ResponseType)}, opts...)
	}
	s := p.token.AuthCodeURL(state, opts...)
	if p.cfg.ClientIDParam != "client_id" || len(p.cfg.AuthParams) > 0 {
		if u, err := url.Parse(s); err == nil {
			q := u.Query()
			if v, ok := q["client_id"]; ok && p.cfg.ClientIDParam != "client_id" {
				delete(q, "client_id")
				q[p.cfg.ClientIDParam] = v
			}
			for k, v := range p.cfg.AuthParams {
				q[k] = append([]string(nil), v...)
			}
			u.RawQuery = q.Encode()
			s = u.String()
		}
	}
	if _, frag, ok := strings.Cut(p.cfg.AuthURL, "#"); ok {
		s += "#" + frag
	}
	return s
}

// Exchange trades an authorization code for tokens at TOKEN_URL. opts are
// passed to x/oauth2 (the PKCE verifier).
func (p *OAuth2) Exchange(ctx context.Context, code string, opts ...oauth2.AuthCodeOption) (*Tokens, error) {
	return p.retrieve(ctx, "token", func(ctx context.Context) (*oauth2.Token, error) {
		return p.token.Exchange(ctx, code, opts...)
	})
}

// Refresh uses t's refresh token at REFRESH_URL. The answer's refresh token
// replaces t's when the provider rotates it; otherwise t's is kept, as are
// t's ID token and user id when the answer has none. A missing refresh token
// or a dead one gives ErrDeadGrant.
func (p *OAuth2) Refresh(ctx context.Context, t *Tokens) (*Tokens, error) {
	if t == nil || t.RefreshToken == "" {
		return nil, &Error{Provider: p.id, Endpoint: "refresh", Kind: ErrDeadGrant, Description: "no refresh token"}
	}
	nt, err := p.retrieve(ctx, "refresh", func(ctx context.Context) (*oauth2.Token, error) {
		// An empty access token is never valid, so the source refreshes.
		return p.refresh.TokenSource(ctx, &oauth2.Token{RefreshToken: t.RefreshToken}).Token()
	})
	if err != nil {
		return nil, err
	}
	if nt.RefreshToken == "" {
		nt.RefreshToken = t.RefreshToken
	}
	if nt.IDToken == "" {
		nt.IDToken = t.IDToken
	}
	if nt.UserID == "" {
		nt.UserID = t.UserID
	}
	return nt, nil
}

// retrieve runs one x/oauth2 token call with the shim installed and turns
// its result into Tokens or an *Error.
func (p *OAuth2) retrieve(ctx context.Context, endpoint string, call func(context.Context) (*oauth2.Token, error)) (*Tokens, error) {
	c := new(capture)
	shim := &tokenShim{p: p, base: baseTransport(p.cfg.HTTPClient), c: c}
	tok, err := call(context.WithValue(ctx, oauth2.HTTPClient, shim.client()))
	if err != nil {
		return nil, p.callError(endpoint, err, c)
	}
	t := &Tokens{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		RefreshToken: tok.RefreshToken,
		Expiry:       tok.Expiry,
	}
	if tok.ExpiresIn > 0 {
		t.Expiry = p.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	if s, ok := tok.Extra("id_token").(string); ok {
		t.IDToken = s
	}
	if f := p.cfg.TokenUserIDField; f != "" {
		t.UserID = c.field(f)
	}
	return t, nil
}

// field returns a token-answer field as exact text (numbers as integers).
func (c *capture) field(path string) string {
	var v any
	var ok bool
	if c.json {
		v, ok = Lookup(c.doc, path)
	} else if vals, err := url.ParseQuery(string(c.body)); err == nil && vals.Has(path) {
		v, ok = vals.Get(path), true
	}
	if !ok {
		return ""
	}
	s, _ := stringValue(v)
	return cleanValue(s)
}

// Identify fetches the userinfo answer and maps it with the Claims. When the
// answer has no id, Tokens.UserID (TOKEN_USER_ID_FIELD) is used; with
// neither, it fails with ErrBadResponse naming CLAIM_ID.
func (p *OAuth2) Identify(ctx context.Context, t *Tokens) (*Identity, error) {
	doc, err := p.Userinfo(ctx, t)
	if err != nil {
		return nil, err
	}
	claims := p.cfg.Claims
	id, err := claims.read(doc)
	if err != nil {
		return nil, withEndpoint(err, p.id, "userinfo")
	}
	if id.ID == "" && t.UserID != "" {
		id.ID = claims.value("id", cleanValue(t.UserID))
	}
	if id.ID == "" {
		if code, desc, found := errorShape(doc, true); found {
			// A 200 whose body is only an error message.
			return nil, &Error{Provider: p.id, Endpoint: "userinfo", Kind: classify(http.StatusOK, code), Status: http.StatusOK, Code: code, Description: desc}
		}
		e := claims.noIDError()
		e.Provider, e.Endpoint = p.id, "userinfo"
		return nil, e
	}
	return id, nil
}

// Userinfo calls USERINFO_URL with t's access token and returns the JSON
// object it answered, decoded with UseNumber. An error status or an error
// object (error, errcode, errors[]) gives an *Error carrying the provider's
// message. Presets that merge several answers start from it.
func (p *OAuth2) Userinfo(ctx context.Context, t *Tokens) (map[string]any, error) {
	fail := func(kind ErrorKind, desc string) *Error {
		return &Error{Provider: p.id, Endpoint: "userinfo", Kind: kind, Description: desc}
	}
	if t == nil || t.AccessToken == "" {
		return nil, fail(ErrDeadGrant, "no access token")
	}
	req, err := p.userinfoRequest(ctx, t)
	if err != nil {
		return nil, fail(ErrBadResponse, "cannot build the request")
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, networkError(fail(ErrTransient, ""), err)
	}
	body, err := readLimited(resp.Body, p.cfg.MaxResponseBytes)
	resp.Body.Close()
	if err != nil {
		return nil, networkError(fail(ErrTransient, ""), err)
	}
	ok2xx := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if int64(len(body)) > p.cfg.MaxResponseBytes {
		e := fail(ErrBadResponse, fmt.Sprintf("response larger than %d bytes refused", p.cfg.MaxResponseBytes))
		e.Status = resp.StatusCode
		if !ok2xx {
			e.Kind = classify(resp.StatusCode, "")
		}
		return nil, e
	}
	doc, derr := decodeJSONObject(body)
	if !ok2xx {
		e := fail(ErrRejected, "")
		e.Status = resp.StatusCode
		if derr == nil {
			e.Code, e.Description, _ = errorShape(doc, true)
		}
		if e.Code == "" {
			e.Code = bearerError(resp.Header.Get("WWW-Authenticate"))
		}
		e.Kind = classify(resp.StatusCode, e.Code)
		return nil, e
	}
	if derr != nil {
		e := fail(ErrBadResponse, "response is not a JSON object: "+cleanDescription(derr.Error()))
		e.Status, e.Err = resp.StatusCode, derr
		return nil, e
	}
	if code, desc, found := errorShape(doc, false); found {
		e := fail(classify(resp.StatusCode, code), desc)
		e.Status, e.Code = resp.StatusCode, code
		return nil, e
	}
	if ok, isBool := doc["ok"].(bool); isBool && !ok { // Slack
		e := fail(ErrRejected, "ok is false")
		e.Status = resp.StatusCode
		return nil, e
	}
	return doc, nil
}

func (p *OAuth2) userinfoRequest(ctx context.Context, t *Tokens) (*http.Request, error) {
	cfg := &p.cfg
	u, err := url.Parse(cfg.UserinfoURL)
	if err != nil {
		return nil, err
	}
	params := url.Values{}
	for k, v := range cfg.UserinfoParams {
		params[k] = append([]string(nil), v...)
	}
	if cfg.UserinfoUserIDParam != "" && t.UserID != "" {
		params.Set(cfg.UserinfoUserIDParam, t.UserID)
	}
	q := u.Query()
	switch cfg.UserinfoToken {
	case "query":
		q.Set(cfg.UserinfoTokenParam, t.AccessToken)
	case "body":
		params.Set(cfg.UserinfoTokenParam, t.AccessToken)
	}
	var body io.Reader
	if cfg.UserinfoMethod == http.MethodPost {
		body = strings.NewReader(params.Encode())
	} else {
		for k, v := range params {
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, cfg.UserinfoMethod, u.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cfg.UserinfoToken == "header" {
		req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}

// bearerError reads the error parameter of an RFC 6750 WWW-Authenticate
// challenge: Bearer error="invalid_token".
func bearerError(h string) string {
	_, rest, ok := strings.Cut(h, `error="`)
	if !ok {
		return ""
	}
	code, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return ""
	}
	return cleanDescription(code)
}
