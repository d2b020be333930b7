package idp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// An authCode is an issued authorization code.
type authCode struct {
	grant       string // shared by every token issued from this code
	clientID    string
	redirectURI string
	scope       string
	challenge   string
	method      string
	nonce       string
	user        User
	expires     time.Time
	used        bool // kept until expiry so a replay revokes the grant
}

// A grantToken is an issued access or refresh token.
type grantToken struct {
	value    string
	grant    string
	clientID string
	user     User
	scope    string
	expires  time.Time // zero: never
	jti      string    // a JWT access token's jti
}

// An oauthError is an RFC 6749 section 5.2 error response.
type oauthError struct {
	status      int
	code        string
	description string
}

// defaultTokenSize is the length of codes and tokens: 32 random bytes in
// unpadded base64url.
const defaultTokenSize = 43

// randomString returns at least n, and at least defaultTokenSize,
// characters of unpadded base64url from crypto/rand.
func randomString(n int) string {
	n = max(n, defaultTokenSize)
	b := make([]byte, (n*3+3)/4)
	rand.Read(b) // never fails; see its documentation
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// newGrant returns the id of a new authorization grant.
func newGrant() string { return randomString(0) }

// issueLocked issues an access token, and a refresh token when
// withRefresh, to clientID for u under grant. s.mu must be held.
func (s *Server) issueLocked(o *Options, grant, clientID string, u User, scope string, withRefresh bool) (at *grantToken, rt string, e *oauthError) {
	now := o.Now()
	for k, t := range s.access { // sweep expired tokens
		if !t.expires.IsZero() && !now.Before(t.expires) {
			delete(s.access, k)
		}
	}
	at = &grantToken{
		value:    randomString(o.AccessTokenSize),
		grant:    grant,
		clientID: clientID,
		user:     u,
		scope:    scope,
	}
	if o.ExpiresIn > 0 {
		at.expires = now.Add(o.ExpiresIn)
	}
	if o.JWTAccessTokens {
		if at.expires.IsZero() {
			at.expires = now.Add(idTokenLifetime)
		}
		sub, _ := idString(u.ID)
		claims := map[string]any{
			"iss": o.Issuer, "sub": sub, "aud": clientID, "client_id": clientID,
			"iat": now.Unix(), "exp": at.expires.Unix(), "jti": randomString(0)[:16],
		}
		if scope != "" {
			claims["scope"] = scope
		}
		if o.AccessTokenClaims != nil {
			o.AccessTokenClaims(claims)
		}
		at.jti, _ = claims["jti"].(string)
		var err error
		if at.value, err = s.signTokenLocked(o, claims); err != nil {
			return nil, "", &oauthError{http.StatusInternalServerError, "server_error", "signing the access token: " + err.Error()}
		}
	}
	s.access[at.value] = at
	if withRefresh {
		rt = randomString(0)
		if o.JWTRefreshTokens {
			sub, _ := idString(u.ID)
			claims := map[string]any{
				"iss": o.Issuer, "sub": sub, "aud": clientID, "client_id": clientID,
				"iat": now.Unix(), "jti": randomString(0)[:16],
			}
			if o.RefreshTokenClaims != nil {
				o.RefreshTokenClaims(claims)
			}
			var err error
			if rt, err = s.signTokenLocked(o, claims); err != nil {
				return nil, "", &oauthError{http.StatusInternalServerError, "server_error", "signing the refresh token: " + err.Error()}
			}
		}
		s.refresh[rt] = &grantToken{value: rt, grant: grant, clientID: clientID, user: u, scope: scope}
	}
	return at, rt, nil
}

// signTokenLocked signs a JWT access or refresh token's claims with the
// JWKS key, typed as AccessTokenType says. s.mu must be held.
func (s *Server) signTokenLocked(o *Options, claims map[string]any) (string, error) {
	typ := o.AccessTokenType
	switch typ {
	case "":
		typ = "at+jwt"
	case "-":
		typ = ""
	}
	key, err := s.keyLocked(o)
	if err != nil {
		return "", err
	}
	return key.sign(typ, claims)
}

// revokeGrantLocked invalidates every token issued under grant. s.mu must
// be held.
func (s *Server) revokeGrantLocked(grant string) {
	for k, t := range s.access {
		if t.grant == grant {
			delete(s.access, k)
		}
	}
	for k, t := range s.refresh {
		if t.grant == grant {
			delete(s.refresh, k)
		}
	}
}

// tokenResponse returns the RFC 6749 section 5.1 fields for at, with rt
// when it is not empty.
func tokenResponse(at *grantToken, rt string, o *Options) map[string]any {
	m := map[string]any{
		"access_token": at.value,
		"token_type":   "Bearer",
	}
	if o.ExpiresIn > 0 {
		m["expires_in"] = int64(math.Ceil(o.ExpiresIn.Seconds()))
	}
	if rt != "" {
		m["refresh_token"] = rt
	}
	if at.scope != "" {
		m["scope"] = at.scope
	}
	if o.TokenUserIDField != "" {
		m[o.TokenUserIDField] = at.user.ID
	}
	return m
}

// formatValue formats a token response field as a URL parameter.
func formatValue(v any) string {
	if s, ok := idString(v); ok {
		return s
	}
	return fmt.Sprint(v)
}

// token serves the token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	o := s.count("token")
	if o.Issuer == "" {
		o.Issuer = baseURL(r)
	}
	var params url.Values
	if o.TokenMethod == http.MethodGet {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			writeError(w, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes GET with a query string"})
			return
		}
		params = r.URL.Query()
	} else {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST with a form body"})
			return
		}
		if err := r.ParseForm(); err != nil {
			writeError(w, &oauthError{http.StatusBadRequest, "invalid_request", "malformed form body"})
			return
		}
		params = r.PostForm
	}
	grantType := params.Get("grant_type")
	if grantType == "refresh_token" {
		s.mu.Lock()
		s.calls["refresh"]++
		s.mu.Unlock()
	}
	if !sleep(r.Context(), o.Delay) {
		return
	}
	if e := injectedTokenError(&o); e != nil {
		writeError(w, e)
		return
	}
	clientID, e := authenticateClient(r, params, &o)
	if e != nil {
		writeError(w, e)
		return
	}

	var resp map[string]any
	switch grantType {
	case "authorization_code":
		resp, e = s.exchangeCode(params, clientID, &o)
	case "refresh_token":
		resp, e = s.refreshGrant(params, clientID, &o)
	case "client_credentials":
		resp, e = s.clientCredentials(params, clientID, &o)
	case "":
		e = &oauthError{http.StatusBadRequest, "invalid_request", "missing grant_type"}
	default:
		e = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "grant_type " + grantType + " is not supported"}
	}
	if e != nil {
		writeError(w, e)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// injectedTokenError returns the error that TokenStatus or TokenError
// make the token endpoint answer, if any.
func injectedTokenError(o *Options) *oauthError {
	if o.TokenStatus == 0 && o.TokenError == "" {
		return nil
	}
	e := &oauthError{status: http.StatusBadRequest, code: o.TokenError}
	if o.ErrorWith200 {
		e.status = http.StatusOK
	}
	if o.TokenStatus != 0 {
		e.status = o.TokenStatus
	}
	if e.code == "" {
		e.code = statusErrorCode(e.status)
	}
	e.description = "answer injected by the test provider"
	return e
}

// statusErrorCode returns the OAuth error code that best fits an injected
// status.
func statusErrorCode(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_client"
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		return "temporarily_unavailable"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request"
	}
}

// authenticateClient checks the client's credentials in the way
// o.ClientAuth allows (RFC 6749 section 2.3.1) and returns its id.
func authenticateClient(r *http.Request, params url.Values, o *Options) (string, *oauthError) {
	user, pass, hasBasic := r.BasicAuth()
	bodyID, bodySecret := params.Get(o.ClientIDParam), params.Get(o.ClientSecretParam)
	if params.Has("client_assertion") || params.Has("client_assertion_type") {
		return assertedClient(r, params, o, hasBasic || bodySecret != "")
	}
	if o.PublicClients && !hasBasic && bodySecret == "" && bodyID != "" {
		if _, known := o.clientSecret(bodyID); known {
			return bodyID, nil // a public client: PKCE (RequirePKCE) protects its codes
		}
	}
	switch {
	case hasBasic && o.ClientAuth == "body":
		return "", &oauthError{http.StatusUnauthorized, "invalid_client",
			"client credentials must be sent as " + o.ClientIDParam + " and " + o.ClientSecretParam + " parameters, not HTTP Basic"}
	case !hasBasic && o.ClientAuth == "basic":
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "client credentials must be sent with HTTP Basic authentication"}
	case hasBasic && bodySecret != "":
		return "", &oauthError{http.StatusBadRequest, "invalid_request", "client credentials sent both with HTTP Basic and as parameters"}
	}
	id, secret := bodyID, bodySecret
	if hasBasic {
		// RFC 6749 section 2.3.1 form-encodes both before Basic encoding;
		// some clients don't, so the raw values are accepted too.
		id, secret = formDecode(user), formDecode(pass)
		if _, known := o.clientSecret(id); !known {
			if _, raw := o.clientSecret(user); raw {
				id = user
			}
		}
		if want, _ := o.clientSecret(id); !equal(secret, want) && equal(pass, want) {
			secret = pass
		}
		if bodyID != "" && bodyID != id {
			return "", &oauthError{http.StatusBadRequest, "invalid_request", "client id differs between HTTP Basic and parameters"}
		}
	}
	if id == "" {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "no client credentials"}
	}
	if o.ClientSecretCheck != nil {
		if _, known := o.clientSecret(id); !known || !o.ClientSecretCheck(id, secret) {
			return "", &oauthError{http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret"}
		}
		return id, nil
	}
	if want, known := o.clientSecret(id); !known || !equal(secret, want) {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret"}
	}
	return id, nil
}

// assertedClient authenticates a client by its RFC 7523 client assertion
// (Options.ClientAssertion); withSecret says a secret came as well.
func assertedClient(r *http.Request, params url.Values, o *Options, withSecret bool) (string, *oauthError) {
	switch {
	case o.ClientAssertion == nil:
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "client assertions are not accepted"}
	case params.Get("client_assertion_type") != ClientAssertionType:
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "client_assertion_type must be " + ClientAssertionType}
	case withSecret:
		return "", &oauthError{http.StatusBadRequest, "invalid_request", "more than one client authentication method"}
	}
	id, err := o.ClientAssertion(baseURL(r)+r.URL.Path, params.Get("client_assertion"))
	if err != nil {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "client assertion refused: " + err.Error()}
	}
	if bodyID := params.Get(o.ClientIDParam); bodyID != "" && bodyID != id {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "client_id differs from the assertion's subject"}
	}
	if _, known := o.clientSecret(id); !known {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "unknown client"}
	}
	return id, nil
}

// formDecode undoes application/x-www-form-urlencoded encoding, or
// returns s unchanged when it is not valid.
func formDecode(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// equal compares secrets in constant time.
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// exchangeCode serves the authorization_code grant.
func (s *Server) exchangeCode(params url.Values, clientID string, o *Options) (map[string]any, *oauthError) {
	code := params.Get("code")
	if code == "" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "missing code"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[code]
	switch {
	case !ok:
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "unknown code"}
	case !o.Now().Before(c.expires):
		delete(s.codes, code)
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "code expired"}
	case c.used:
		// RFC 6749 section 4.1.2: a replayed code revokes what it gave.
		s.revokeGrantLocked(c.grant)
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "code already used"}
	}
	c.used = true // whatever follows: a code gets one attempt
	if c.clientID != clientID {
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "code was issued to another client"}
	}
	if params.Get("redirect_uri") != c.redirectURI {
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's"}
	}
	if e := verifyPKCE(c, params.Get("code_verifier"), o); e != nil {
		return nil, e
	}
	at, rt, e := s.issueLocked(o, c.grant, clientID, c.user, c.scope, o.IssueRefreshTokens)
	if e != nil {
		return nil, e
	}
	resp := tokenResponse(at, rt, o)
	if e := s.addIDTokenLocked(resp, at, c.nonce, o); e != nil {
		return nil, e
	}
	return resp, nil
}

// verifyPKCE checks a code verifier against the code's challenge (RFC 7636
// section 4.6).
func verifyPKCE(c *authCode, verifier string, o *Options) *oauthError {
	bad := func(d string) *oauthError { return &oauthError{http.StatusBadRequest, "invalid_grant", d} }
	switch {
	case c.challenge == "" && o.RequirePKCE:
		return bad("code_challenge required")
	case c.challenge == "" && verifier != "":
		return bad("code_verifier sent but the authorization request had no code_challenge")
	case c.challenge == "":
		return nil
	case verifier == "":
		return bad("missing code_verifier")
	case len(verifier) < 43 || len(verifier) > 128 || strings.Trim(verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "":
		return bad("code_verifier must be 43 to 128 unreserved characters")
	}
	want := verifier
	if c.method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if !equal(want, c.challenge) {
		return bad("code_verifier does not match code_challenge")
	}
	return nil
}

// refreshGrant serves the refresh_token grant.
func (s *Server) refreshGrant(params url.Values, clientID string, o *Options) (map[string]any, *oauthError) {
	value := params.Get("refresh_token")
	if value == "" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "missing refresh_token"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.refresh[value]
	if !ok {
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "unknown, used or revoked refresh token"}
	}
	if old.clientID != clientID {
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "refresh token was issued to another client"}
	}
	scope := old.scope
	if req := params.Get("scope"); req != "" {
		granted := strings.Fields(old.scope)
		for _, sc := range strings.Fields(req) {
			if !slices.Contains(granted, sc) {
				return nil, &oauthError{http.StatusBadRequest, "invalid_scope", "scope " + sc + " was not granted"}
			}
		}
		scope = req
	}
	if o.RotateRefreshTokens {
		delete(s.refresh, value)
	}
	// The new tokens carry the user's current claims, as a provider's do:
	// a test may change them with SetOptions between sign-in and refresh.
	u := old.user
	if id, _ := idString(u.ID); id != "" {
		if i := slices.IndexFunc(o.Users, func(c User) bool { cid, _ := idString(c.ID); return cid == id }); i >= 0 {
			u = o.Users[i]
		}
	}
	at, rt, e := s.issueLocked(o, old.grant, clientID, u, scope, o.RotateRefreshTokens)
	if e != nil {
		return nil, e
	}
	if rt != "" {
		s.refresh[rt].scope = old.scope // narrowing applies to this access token only
	}
	resp := tokenResponse(at, rt, o)
	if e := s.addIDTokenLocked(resp, at, "", o); e != nil {
		return nil, e
	}
	return resp, nil
}

// clientCredentials serves the client_credentials grant: a token for the
// client's service account, without a refresh token (RFC 6749 section
// 4.4.3).
func (s *Server) clientCredentials(params url.Values, clientID string, o *Options) (map[string]any, *oauthError) {
	sa := User{
		ID:       "service-account-" + clientID,
		Username: "service-account-" + clientID,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, _, e := s.issueLocked(o, newGrant(), clientID, sa, params.Get("scope"), false)
	if e != nil {
		return nil, e
	}
	return tokenResponse(at, "", o), nil
}

// sleep waits d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// writeJSON answers status with v as JSON, not to be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "idp: encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeError answers an RFC 6749 error response.
func writeError(w http.ResponseWriter, e *oauthError) {
	if e.status == http.StatusUnauthorized && e.code == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="idp"`)
	}
	writeJSON(w, e.status, map[string]string{
		"error":             e.code,
		"error_description": e.description,
	})
}
