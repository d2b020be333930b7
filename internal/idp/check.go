package idp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The endpoints below tell a client whose an access token is, each in the
// shape of the real provider it stands for. They answer about any token
// the server issued, to any registered client, whichever client it was
// issued to: telling whether it is the asking client's is the client's
// job, and what the tests of that job need.

// liveToken returns a copy of the access token value when it is known and
// unexpired; expired tells the two refusals apart.
func (s *Server) liveToken(o *Options, value string) (at grantToken, ok, expired bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.access[value]
	if !ok {
		return grantToken{}, false, false
	}
	if !t.expires.IsZero() && !o.Now().Before(t.expires) {
		delete(s.access, value)
		return grantToken{}, false, true
	}
	return *t, true, false
}

// introspect serves RFC 7662 token introspection. Any registered client
// may ask, authenticated as at the token endpoint; the answer names the
// client the token was issued to in client_id and aud, and carries a JWT
// access token's jti. With IntrospectRefreshTokens it answers about
// refresh tokens too, in the same shape; IntrospectionClaims shapes it.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	o := s.count("introspect")
	if o.Issuer == "" {
		o.Issuer = baseURL(r)
	}
	if !sleep(r.Context(), o.Delay) {
		return
	}
	_, value, ok := clientTokenRequest(w, r, &o)
	if !ok {
		return
	}
	at, ok, _ := s.liveToken(&o, value)
	if !ok && o.IntrospectRefreshTokens {
		at, ok = s.refreshToken(value)
	}
	if !ok && o.IntrospectIDTokens {
		if claims := s.idTokenClaims(&o, value); claims != nil {
			claims["active"], claims["token_type"] = true, "Bearer"
			if o.IntrospectionClaims != nil {
				o.IntrospectionClaims(claims)
			}
			writeJSON(w, http.StatusOK, claims)
			return
		}
	}
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	sub, _ := idString(at.user.ID)
	m := map[string]any{
		"active":     true,
		"client_id":  at.clientID,
		"aud":        at.clientID,
		"sub":        sub,
		"iss":        o.Issuer,
		"token_type": "Bearer",
	}
	if at.user.Username != "" {
		m["username"] = at.user.Username
	}
	if at.scope != "" {
		m["scope"] = at.scope
	}
	if !at.expires.IsZero() {
		m["exp"] = at.expires.Unix()
	}
	if at.jti != "" {
		m["jti"] = at.jti
	}
	if o.IntrospectionClaims != nil {
		o.IntrospectionClaims(m)
	}
	writeJSON(w, http.StatusOK, m)
}

// idTokenClaims returns the claims of value when it is an unexpired ID
// token the server issued, signed with its current key; nil otherwise.
func (s *Server) idTokenClaims(o *Options, value string) map[string]any {
	s.mu.Lock()
	key, issued := s.key, s.ids[value]
	s.mu.Unlock()
	if key == nil || !issued {
		return nil
	}
	jws, err := jose.ParseSigned(value, []jose.SignatureAlgorithm{key.alg})
	if err != nil {
		return nil
	}
	payload, err := jws.Verify(key.priv.Public())
	if err != nil {
		return nil
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	if exp, ok := claims["exp"].(float64); !ok || !o.Now().Before(time.Unix(int64(exp), 0)) {
		return nil
	}
	return claims
}

// refreshToken returns a copy of the refresh token value when it is
// known.
func (s *Server) refreshToken(value string) (grantToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[value]
	if !ok {
		return grantToken{}, false
	}
	return *t, true
}

// tokeninfo serves Google's tokeninfo: the token comes as access_token (in
// the query or a POST form) or in an Authorization: Bearer header; aud and
// azp name the client it was issued to; exp, expires_in and
// email_verified are strings, as Google sends them. An unknown or expired
// token gets 400 invalid_token.
func (s *Server) tokeninfo(w http.ResponseWriter, r *http.Request) {
	o := s.count("tokeninfo")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "tokeninfo takes GET or POST"})
		return
	}
	if !sleep(r.Context(), o.Delay) {
		return
	}
	value := r.FormValue("access_token")
	if value == "" {
		value = bearerToken(r)
	}
	at, ok, _ := s.liveToken(&o, value)
	if !ok {
		writeError(w, &oauthError{http.StatusBadRequest, "invalid_token", "Invalid Value"})
		return
	}
	sub, _ := idString(at.user.ID)
	m := map[string]any{
		"azp":         at.clientID,
		"aud":         at.clientID,
		"sub":         sub,
		"scope":       at.scope,
		"access_type": "online",
	}
	if !at.expires.IsZero() {
		m["exp"] = strconv.FormatInt(at.expires.Unix(), 10)
		m["expires_in"] = strconv.FormatInt(int64(math.Ceil(at.expires.Sub(o.Now()).Seconds())), 10)
	}
	if at.user.Email != "" {
		m["email"] = at.user.Email
		if at.user.EmailVerified != nil {
			m["email_verified"] = strconv.FormatBool(*at.user.EmailVerified)
		}
	}
	writeJSON(w, http.StatusOK, m)
}

// checkToken serves GitHub's "check a token": POST
// /applications/{client_id}/token with that client's id and secret in
// HTTP Basic and {"access_token": …} as JSON. A token that is unknown,
// expired or issued to another client gets 404, as at GitHub; bad client
// credentials get 401.
func (s *Server) checkToken(w http.ResponseWriter, r *http.Request) {
	o := s.count("check_token")
	if !sleep(r.Context(), o.Delay) {
		return
	}
	clientID := r.PathValue("client_id")
	user, pass, basic := r.BasicAuth()
	want, known := o.clientSecret(clientID)
	if !basic || user != clientID || !known || !equal(pass, want) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil || body.AccessToken == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Invalid request: access_token is required"})
		return
	}
	at, ok, _ := s.liveToken(&o, body.AccessToken)
	if !ok || at.clientID != clientID {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"message":           "Not Found",
			"documentation_url": "https://docs.github.com/rest/apps/oauth-applications#check-a-token",
		})
		return
	}
	sum := sha256.Sum256([]byte(at.value))
	var expires any // null: the token does not expire (OAuth apps)
	if !at.expires.IsZero() {
		expires = at.expires.UTC().Format(time.RFC3339)
	}
	scopes := strings.Fields(at.scope)
	if scopes == nil {
		scopes = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":               1,
		"token":            at.value,
		"hashed_token":     hex.EncodeToString(sum[:]),
		"token_last_eight": at.value[max(0, len(at.value)-8):],
		"scopes":           scopes,
		"note":             nil,
		"expires_at":       expires,
		"app":              map[string]any{"client_id": at.clientID, "name": "App " + at.clientID, "url": "https://app.example.com"},
		"user":             map[string]any{"login": at.user.Username, "id": at.user.ID},
	})
}

// debugToken serves Facebook's debug_token: GET with input_token (the
// token to inspect) and access_token, an app token "{app-id}|{app-secret}"
// of any registered client. The answer's data.app_id names the client the
// token was issued to, data.expires_at is its expiry in unix seconds (0:
// never), and an unknown or expired token has is_valid false.
func (s *Server) debugToken(w http.ResponseWriter, r *http.Request) {
	o := s.count("debug_token")
	if !sleep(r.Context(), o.Delay) {
		return
	}
	graphError := func(code int, msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": msg, "type": "OAuthException", "code": code}})
	}
	q := r.URL.Query()
	app, secret, _ := strings.Cut(q.Get("access_token"), "|")
	if want, known := o.clientSecret(app); !known || !equal(secret, want) {
		graphError(190, "Invalid OAuth access token signature.")
		return
	}
	input := q.Get("input_token")
	if input == "" {
		graphError(100, "(#100) The parameter input_token is required")
		return
	}
	at, ok, _ := s.liveToken(&o, input)
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"error":    map[string]any{"code": 190, "message": "Invalid OAuth access token."},
			"is_valid": false,
			"scopes":   []string{},
		}})
		return
	}
	sub, _ := idString(at.user.ID)
	var expires int64
	if !at.expires.IsZero() {
		expires = at.expires.Unix()
	}
	scopes := strings.Fields(at.scope)
	if scopes == nil {
		scopes = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"app_id":                 at.clientID,
		"type":                   "USER",
		"application":            "App " + at.clientID,
		"data_access_expires_at": o.Now().Add(90 * 24 * time.Hour).Unix(),
		"expires_at":             expires,
		"is_valid":               true,
		"scopes":                 scopes,
		"user_id":                sub,
	}})
}

// currentAuthorization serves Discord's "get current authorization
// information": GET with the token in an Authorization: Bearer header, no
// client credentials. The answer's application.id names the client the
// token was issued to, expires (ISO 8601) is its expiry, user the user;
// an unknown or expired token gets 401, as at Discord.
func (s *Server) currentAuthorization(w http.ResponseWriter, r *http.Request) {
	o := s.count("current_authorization")
	if !sleep(r.Context(), o.Delay) {
		return
	}
	at, ok, _ := s.liveToken(&o, bearerToken(r))
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "401: Unauthorized", "code": 0})
		return
	}
	sub, _ := idString(at.user.ID)
	scopes := strings.Fields(at.scope)
	if scopes == nil {
		scopes = []string{}
	}
	m := map[string]any{
		"application": map[string]any{"id": at.clientID, "name": "App " + at.clientID, "bot_public": false, "bot_require_code_grant": false},
		"scopes":      scopes,
		"user":        map[string]any{"id": sub, "username": at.user.Username, "global_name": at.user.Name},
	}
	if !at.expires.IsZero() {
		m["expires"] = at.expires.UTC().Format("2006-01-02T15:04:05.000000+00:00")
	}
	writeJSON(w, http.StatusOK, m)
}
