package idp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/testclock"
)

// The second registered client of the tests: another app of the provider.
const (
	otherID     = "other-app"
	otherSecret = "other-s3cret"
)

// startTwo runs a Server with the tests' client and otherID, with a clock
// the test moves.
func startTwo(t *testing.T, opts idp.Options) (*harness, *testclock.Clock) {
	t.Helper()
	clk := testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	opts.Clients = append(opts.Clients, idp.Client{ID: otherID, Secret: otherSecret})
	opts.Now = clk.Now
	return start(t, opts), clk
}

// grant gets a client-credentials token for the client id:secret.
func (h *harness) grant(id, secret string) map[string]any {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, body := h.do(req)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("client_credentials as %s = %d %s; want 200", id, resp.StatusCode, body)
	}
	return decode(h.t, body)
}

// post sends a form to path with Basic id:secret (none when id is empty)
// and returns the status and decoded body.
func (h *harness) post(path, id, secret string, form url.Values) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	resp, body := h.do(req)
	return resp.StatusCode, decode(h.t, body)
}

func TestOtherClient(t *testing.T) {
	t.Parallel()
	h, _ := startTwo(t, idp.Options{})
	// The other app signs users in and gets tokens of its own.
	loc := h.authorize(h.authQuery("client_id", otherID, "code_challenge", "", "code_challenge_method", ""))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirectURI}}
	status, tok := h.post("/token", otherID, otherSecret, form)
	if status != http.StatusOK || str(tok, "access_token") == "" {
		t.Fatalf("code exchange by the other client = %d %v; want 200 with a token", status, tok)
	}
	// Its token is accepted at userinfo like any other: userinfo can't tell
	// whose token it is.
	if status, body := h.userinfo(str(tok, "access_token")); status != http.StatusOK || str(body, "sub") != "1001" {
		t.Errorf("userinfo with the other client's token = %d %v; want 200 sub 1001", status, body)
	}
	// Its code is its own: the tests' client can't redeem it.
	loc = h.authorize(h.authQuery("client_id", otherID, "code_challenge", "", "code_challenge_method", ""))
	if status, body := h.token(http.MethodPost, credsBody, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirectURI}}); status != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
		t.Errorf("redeeming the other client's code = %d %v; want 400 invalid_grant", status, body)
	}
	if status, _ := h.post("/token", otherID, "wrong", url.Values{"grant_type": {"client_credentials"}}); status != http.StatusUnauthorized {
		t.Errorf("the other client with a wrong secret = %d; want 401", status)
	}
}

func TestIntrospect(t *testing.T) {
	t.Parallel()
	h, clk := startTwo(t, idp.Options{ExpiresIn: time.Minute})
	mine, theirs := str(h.grant(clientID, clientSecret), "access_token"), str(h.grant(otherID, otherSecret), "access_token")
	exp := clk.Now().Add(time.Minute).Unix()
	for _, tt := range []struct {
		name, token, asID, asSecret string
		want                        map[string]any
	}{
		{"own token", mine, clientID, clientSecret, map[string]any{"active": true, "client_id": clientID, "aud": clientID,
			"sub": "service-account-" + clientID, "scope": "api", "exp": json.Number(fmt.Sprint(exp)), "iss": h.ts.URL}},
		{"another client's token", theirs, clientID, clientSecret, map[string]any{"active": true, "client_id": otherID, "aud": otherID}},
		{"asked by the other client", mine, otherID, otherSecret, map[string]any{"active": true, "client_id": clientID}},
		{"unknown token", "nope", clientID, clientSecret, map[string]any{"active": false, "client_id": nil}},
	} {
		status, body := h.post("/introspect", tt.asID, tt.asSecret, url.Values{"token": {tt.token}})
		if status != http.StatusOK {
			t.Errorf("%s: introspect = %d %v; want 200", tt.name, status, body)
			continue
		}
		for k, want := range tt.want {
			if got := body[k]; got != want {
				t.Errorf("%s: introspect %s = %v; want %v", tt.name, k, got, want)
			}
		}
	}
	if status, body := h.post("/introspect", "", "", url.Values{"token": {mine}}); status != http.StatusUnauthorized || str(body, "error") != "invalid_client" {
		t.Errorf("introspect without client credentials = %d %v; want 401 invalid_client", status, body)
	}
	clk.Advance(time.Minute)
	if _, body := h.post("/introspect", clientID, clientSecret, url.Values{"token": {mine}}); body["active"] != false {
		t.Errorf("introspect of an expired token = %v; want active false", body)
	}
	if got := h.idp.Calls("introspect"); got != 6 {
		t.Errorf(`Calls("introspect") = %d; want 6`, got)
	}
}

func TestTokenInfo(t *testing.T) {
	t.Parallel()
	h, clk := startTwo(t, idp.Options{ExpiresIn: time.Hour, OIDC: true})
	signedIn := h.signIn("openid email", "n")
	theirs := str(h.grant(otherID, otherSecret), "access_token")
	get := func(token string) (int, map[string]any) {
		return h.get("/tokeninfo?access_token=" + url.QueryEscape(token))
	}
	status, body := get(str(signedIn, "access_token"))
	for k, want := range map[string]string{"aud": clientID, "azp": clientID, "sub": "1001", "email": "alice@example.com",
		"email_verified": "true", "expires_in": "3600", "exp": fmt.Sprint(clk.Now().Add(time.Hour).Unix()), "scope": "openid email"} {
		if got := str(body, k); status != http.StatusOK || got != want {
			t.Errorf("tokeninfo (%d) %s = %q; want %q", status, k, got, want)
		}
	}
	if _, body := get(theirs); str(body, "aud") != otherID || str(body, "azp") != otherID {
		t.Errorf("tokeninfo of the other client's token = %v; want aud and azp %s", body, otherID)
	}
	// POST with the token in a form, and in an Authorization header.
	if status, body := h.post("/tokeninfo", "", "", url.Values{"access_token": {theirs}}); status != http.StatusOK || str(body, "aud") != otherID {
		t.Errorf("POST tokeninfo = %d %v; want 200 aud %s", status, body, otherID)
	}
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/tokeninfo", nil)
	req.Header.Set("Authorization", "Bearer "+theirs)
	if resp, _ := h.do(req); resp.StatusCode != http.StatusOK {
		t.Errorf("tokeninfo with a Bearer header = %d; want 200", resp.StatusCode)
	}
	if status, body := get("nope"); status != http.StatusBadRequest || str(body, "error") != "invalid_token" {
		t.Errorf("tokeninfo of an unknown token = %d %v; want 400 invalid_token", status, body)
	}
}

func TestCheckToken(t *testing.T) {
	t.Parallel()
	h, _ := startTwo(t, idp.Options{})
	mine, theirs := str(h.grant(clientID, clientSecret), "access_token"), str(h.grant(otherID, otherSecret), "access_token")
	check := func(client, id, secret, token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, idp.EndpointsAt(h.ts.URL).CheckTokenURL(client), strings.NewReader(`{"access_token":"`+token+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(id, secret)
		resp, body := h.do(req)
		return resp.StatusCode, decode(t, body)
	}
	status, body := check(clientID, clientID, clientSecret, mine)
	app, _ := body["app"].(map[string]any)
	user, _ := body["user"].(map[string]any)
	if status != http.StatusOK || str(app, "client_id") != clientID || str(user, "login") != "service-account-"+clientID || body["expires_at"] != nil || str(body, "token") != mine {
		t.Errorf("check of our own token = %d %v; want 200 with app.client_id %s, the user, expires_at null", status, body, clientID)
	}
	for _, tt := range []struct {
		name, client, id, secret, token string
		want                            int
	}{
		{"another client's token", clientID, clientID, clientSecret, theirs, http.StatusNotFound},
		{"unknown token", clientID, clientID, clientSecret, "nope", http.StatusNotFound},
		{"wrong secret", clientID, clientID, "wrong", mine, http.StatusUnauthorized},
		{"credentials of another client", clientID, otherID, otherSecret, mine, http.StatusUnauthorized},
		{"the other client asks about its own", otherID, otherID, otherSecret, theirs, http.StatusOK},
	} {
		if status, body := check(tt.client, tt.id, tt.secret, tt.token); status != tt.want {
			t.Errorf("%s: check = %d %v; want %d", tt.name, status, body, tt.want)
		}
	}
}

func TestDebugToken(t *testing.T) {
	t.Parallel()
	h, clk := startTwo(t, idp.Options{ExpiresIn: time.Hour})
	mine, theirs := str(h.grant(clientID, clientSecret), "access_token"), str(h.grant(otherID, otherSecret), "access_token")
	debug := func(app, input string) (int, map[string]any) {
		return h.get("/debug_token?" + url.Values{"input_token": {input}, "access_token": {app}}.Encode())
	}
	status, body := debug(clientID+"|"+clientSecret, mine)
	data, _ := body["data"].(map[string]any)
	if status != http.StatusOK || str(data, "app_id") != clientID || data["is_valid"] != true ||
		data["expires_at"] != json.Number(fmt.Sprint(clk.Now().Add(time.Hour).Unix())) || str(data, "user_id") != "service-account-"+clientID {
		t.Errorf("debug_token of our own token = %d %v; want app_id %s, valid, expiring in an hour", status, body, clientID)
	}
	if _, body := debug(clientID+"|"+clientSecret, theirs); str(body["data"].(map[string]any), "app_id") != otherID {
		t.Errorf("debug_token of the other client's token = %v; want app_id %s", body, otherID)
	}
	if _, body := debug(clientID+"|"+clientSecret, "nope"); body["data"].(map[string]any)["is_valid"] != false {
		t.Errorf("debug_token of an unknown token = %v; want is_valid false", body)
	}
	if status, body := debug(clientID+"|wrong", mine); status != http.StatusBadRequest || body["error"] == nil {
		t.Errorf("debug_token with a wrong app secret = %d %v; want 400 with an error", status, body)
	}
}

func TestJWTAccessTokens(t *testing.T) {
	t.Parallel()
	h, clk := startTwo(t, idp.Options{OIDC: true, JWTAccessTokens: true})
	for _, c := range []idp.Client{{ID: clientID, Secret: clientSecret}, {ID: otherID, Secret: otherSecret}} {
		at := str(h.grant(c.ID, c.Secret), "access_token")
		jws, err := jose.ParseSigned(at, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatalf("access token is not a JWS: %v", err)
		}
		if typ := jws.Signatures[0].Protected.ExtraHeaders["typ"]; typ != "at+jwt" {
			t.Errorf("access token typ = %v; want at+jwt", typ)
		}
		ks := h.keySet()
		keys := ks.Key(jws.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatal("the access token's kid is not in the JWKS")
		}
		payload, err := jws.Verify(keys[0])
		if err != nil {
			t.Fatalf("access token does not verify: %v", err)
		}
		claims := decode(t, payload)
		for k, want := range map[string]any{"iss": h.ts.URL, "aud": c.ID, "client_id": c.ID, "sub": "service-account-" + c.ID,
			"scope": "api", "exp": json.Number(fmt.Sprint(clk.Now().Add(time.Hour).Unix()))} {
			if got := claims[k]; got != want {
				t.Errorf("access token %s = %v; want %v", k, got, want)
			}
		}
		if status, body := h.post("/introspect", clientID, clientSecret, url.Values{"token": {at}}); status != http.StatusOK || str(body, "client_id") != c.ID {
			t.Errorf("introspect of the JWT = %d %v; want client_id %s", status, body, c.ID)
		}
	}
}

func TestMintedTokens(t *testing.T) {
	t.Parallel()
	h, _ := startTwo(t, idp.Options{OIDC: true})
	raw, err := h.idp.IDToken(h.ts.URL, otherID, "bob", "n-1")
	if err != nil {
		t.Fatalf("IDToken() = %v; want nil", err)
	}
	_, claims, ok := verifyIDToken(t, raw, h.keySet())
	if !ok {
		t.Fatal("minted ID token does not verify against the JWKS")
	}
	for k, want := range map[string]any{"iss": h.ts.URL, "aud": otherID, "sub": "1002", "nonce": "n-1", "at_hash": nil} {
		if got := claims[k]; got != want {
			t.Errorf("minted ID token %s = %v; want %v", k, got, want)
		}
	}
	if _, err := h.idp.IDToken(h.ts.URL, clientID, "mallory", ""); err == nil {
		t.Error("IDToken() for an unknown user = nil; want an error")
	}
	raw, err = h.idp.SignJWT("logout+jwt", map[string]any{"iss": h.ts.URL, "sub": "1001"})
	if err != nil {
		t.Fatalf("SignJWT() = %v; want nil", err)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || jws.Signatures[0].Protected.ExtraHeaders["typ"] != "logout+jwt" {
		t.Errorf("SignJWT(logout+jwt) = %v; want that typ", err)
	}
	if ks := h.keySet(); len(ks.Keys) != 1 {
		t.Fatalf("JWKS = %v; want one key", ks)
	} else if _, err := jws.Verify(ks.Keys[0]); err != nil {
		t.Errorf("SignJWT() token does not verify: %v", err)
	}
}

// TestTokenShapes: the hooks that give tokens, introspection answers and
// the discovery document a real provider's shape.
func TestTokenShapes(t *testing.T) {
	t.Parallel()
	typOf := func(t *testing.T, at string) any {
		t.Helper()
		jws, err := jose.ParseSigned(at, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatalf("access token is not a JWS: %v", err)
		}
		return jws.Signatures[0].Protected.ExtraHeaders["typ"]
	}
	for _, tt := range []struct {
		typ     string
		wantTyp any
	}{
		{"", "at+jwt"},
		{"-", nil},
		{"application/okta-internal-at+jwt", "application/okta-internal-at+jwt"},
	} {
		h, _ := startTwo(t, idp.Options{OIDC: true, JWTAccessTokens: true, AccessTokenType: tt.typ})
		if got := typOf(t, str(h.grant(clientID, clientSecret), "access_token")); got != tt.wantTyp {
			t.Errorf("AccessTokenType %q: typ = %v; want %v", tt.typ, got, tt.wantTyp)
		}
	}

	// Cognito-like: no aud, token_use; the answer echoes the jti.
	h, _ := startTwo(t, idp.Options{
		OIDC: true, JWTAccessTokens: true,
		AccessTokenClaims: func(c map[string]any) {
			delete(c, "aud")
			c["token_use"] = "access"
			c["jti"] = "jti-fixed"
		},
		IntrospectionClaims: func(a map[string]any) { a["uid"] = "00u-" + a["sub"].(string) },
		Discovery:           func(doc map[string]any) { delete(doc, "end_session_endpoint") },
	})
	at := str(h.grant(clientID, clientSecret), "access_token")
	jws, _ := jose.ParseSigned(at, []jose.SignatureAlgorithm{jose.RS256})
	claims := decode(t, jws.UnsafePayloadWithoutVerification())
	if claims["aud"] != nil || claims["token_use"] != "access" || claims["client_id"] != clientID {
		t.Errorf("access token claims = %v; want no aud, token_use access, client_id %s", claims, clientID)
	}
	status, body := h.post("/introspect", clientID, clientSecret, url.Values{"token": {at}})
	if status != http.StatusOK || body["jti"] != "jti-fixed" || body["uid"] != "00u-service-account-"+clientID {
		t.Errorf("introspect = %d %v; want the jti and the hook's uid", status, body)
	}
	if _, doc := h.get("/.well-known/openid-configuration"); doc["end_session_endpoint"] != nil || doc["revocation_endpoint"] == nil {
		t.Errorf("discovery = %v; want no end_session_endpoint, the rest as ever", doc)
	}

	// Refresh tokens are introspected only on request.
	for _, on := range []bool{false, true} {
		h := start(t, idp.Options{IssueRefreshTokens: true, IntrospectRefreshTokens: on})
		status, tok := h.exchange(h.code(h.authQuery()))
		if status != http.StatusOK {
			t.Fatalf("exchange = %d %v", status, tok)
		}
		_, body := h.post("/introspect", clientID, clientSecret, url.Values{"token": {str(tok, "refresh_token")}})
		if body["active"] != on || (on && (body["client_id"] != clientID || body["token_type"] != "Bearer" || body["jti"] != nil)) {
			t.Errorf("IntrospectRefreshTokens %v: introspect(refresh token) = %v; want active %v (client_id, token_type Bearer, no jti)", on, body, on)
		}
	}
}

// TestIntrospectIDTokens: on request, introspection answers about the ID
// tokens the server issued, with their claims, until they expire; never
// about a JWT it did not issue.
func TestIntrospectIDTokens(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		h, clk := startTwo(t, idp.Options{OIDC: true, IntrospectIDTokens: on})
		idt := str(h.signIn("openid email", "n-1"), "id_token")
		minted, err := h.idp.IDToken(h.ts.URL, clientID, "bob", "")
		if err != nil {
			t.Fatal(err)
		}
		forged, err := h.idp.SignJWT("JWT", map[string]any{"iss": h.ts.URL, "sub": "1001", "aud": clientID, "exp": clk.Now().Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name, token string
			active      bool
		}{
			{"signed-in ID token", idt, on},
			{"minted ID token", minted, on},
			{"a JWT it signed but did not issue as an ID token", forged, false},
		} {
			_, body := h.post("/introspect", clientID, clientSecret, url.Values{"token": {tt.token}})
			if body["active"] != tt.active || (tt.active && (body["aud"] != clientID || body["token_type"] != "Bearer")) {
				t.Errorf("IntrospectIDTokens %v: %s: introspect = %v; want active %v (with its aud)", on, tt.name, body, tt.active)
			}
		}
		clk.Advance(2 * time.Hour)
		if _, body := h.post("/introspect", clientID, clientSecret, url.Values{"token": {idt}}); body["active"] != false {
			t.Errorf("IntrospectIDTokens %v: an expired ID token = %v; want inactive", on, body)
		}
	}
}

// TestJWTRefreshTokens: refresh tokens can be JWTs, shaped by
// RefreshTokenClaims, and work as refresh tokens still.
func TestJWTRefreshTokens(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{OIDC: true, IssueRefreshTokens: true, RotateRefreshTokens: true, JWTRefreshTokens: true, AccessTokenType: "JWT",
		RefreshTokenClaims: func(c map[string]any) { c["tt"] = 1 }})
	_, tok := h.exchange(h.code(h.authQuery()))
	rt := str(tok, "refresh_token")
	jws, err := jose.ParseSigned(rt, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("refresh token is not a JWS: %v", err)
	}
	ks := h.keySet()
	payload, err := jws.Verify(ks.Keys[0])
	if err != nil {
		t.Fatalf("refresh token does not verify: %v", err)
	}
	claims := decode(t, payload)
	if claims["tt"] != json.Number("1") || claims["client_id"] != clientID || jws.Signatures[0].Protected.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("refresh token claims = %v, typ %v; want tt 1, client_id %s, typ JWT", claims, jws.Signatures[0].Protected.ExtraHeaders["typ"], clientID)
	}
	if status, body := h.refresh(rt); status != http.StatusOK || str(body, "refresh_token") == "" || str(body, "refresh_token") == rt {
		t.Errorf("refresh with the JWT = %d %v; want 200 and a new refresh token", status, body)
	}
	if err := (idp.Options{ClientID: "a", ClientSecret: "b", JWTRefreshTokens: true}).Validate(); err == nil || !strings.Contains(err.Error(), "JWTRefreshTokens") {
		t.Errorf("Validate(JWTRefreshTokens without OIDC) = %v; want an error naming it", err)
	}
}

func TestCurrentAuthorization(t *testing.T) {
	t.Parallel()
	h, clk := startTwo(t, idp.Options{ExpiresIn: time.Hour})
	mine, theirs := str(h.grant(clientID, clientSecret), "access_token"), str(h.grant(otherID, otherSecret), "access_token")
	get := func(token string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/oauth2/@me", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, body := h.do(req)
		return resp.StatusCode, decode(t, body)
	}
	for _, tt := range []struct {
		name, token, app string
	}{
		{"our token", mine, clientID},
		{"the other client's token", theirs, otherID},
	} {
		status, body := get(tt.token)
		app, _ := body["application"].(map[string]any)
		exp, err := time.Parse(time.RFC3339, str(body, "expires"))
		if status != http.StatusOK || str(app, "id") != tt.app || err != nil || !exp.Equal(clk.Now().Add(time.Hour)) {
			t.Errorf("%s: GET /oauth2/@me = %d %v; want application.id %s, expiring in an hour", tt.name, status, body, tt.app)
		}
	}
	for _, token := range []string{"nope", ""} {
		if status, body := get(token); status != http.StatusUnauthorized || str(body, "message") != "401: Unauthorized" {
			t.Errorf("GET /oauth2/@me with %q = %d %v; want Discord's 401", token, status, body)
		}
	}
	clk.Advance(2 * time.Hour)
	if status, _ := get(mine); status != http.StatusUnauthorized {
		t.Errorf("GET /oauth2/@me with an expired token = %d; want 401", status)
	}
	if got := h.idp.Calls("current_authorization"); got != 5 {
		t.Errorf(`Calls("current_authorization") = %d; want 5`, got)
	}
}
