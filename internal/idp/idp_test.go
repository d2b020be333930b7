package idp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/testclock"
)

const (
	clientID     = "app"
	clientSecret = "s3cr3t/+:%x" // characters Basic form-encoding changes
	redirectURI  = "https://app.example.com/oauth2/callback"
	verifier     = "dBjftJeZ4CVP-mJ92K1lKTFqjY8KaOxgNPJQnSeB3Uk9ym7" // 47 unreserved characters
)

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// A harness runs one Server over real HTTP.
type harness struct {
	t    *testing.T
	opts idp.Options
	idp  *idp.Server
	ts   *httptest.Server
	c    *http.Client // stops at redirects
}

// showPage as Options.AutoApprove makes start serve the sign-in page.
const showPage = "\x00page"

// start runs a Server with opts on top of test defaults: the client
// app/clientSecret, auto-approved as alice.
func start(t *testing.T, opts idp.Options) *harness {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = clientID, clientSecret
	}
	switch opts.AutoApprove {
	case "":
		opts.AutoApprove = "alice"
	case showPage:
		opts.AutoApprove = ""
	}
	if err := opts.Validate(); err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
	s := idp.New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c := ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &harness{t: t, opts: opts, idp: s, ts: ts, c: c}
}

func (h *harness) param(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// authQuery returns a valid code-flow authorization request, changed by
// the pairs in kv (an empty value deletes).
func (h *harness) authQuery(kv ...string) url.Values {
	q := url.Values{
		h.param(h.opts.ClientIDParam, "client_id"): {clientID},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {"openid email"},
		"state":                 {"xyz"},
		"code_challenge":        {challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// do sends a request and returns the response with its body read.
func (h *harness) do(req *http.Request) (*http.Response, []byte) {
	h.t.Helper()
	resp, err := h.c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return resp, b
}

// authorize sends GET /authorize?q and returns the redirect's location.
func (h *harness) authorize(q url.Values) *url.URL {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/authorize?"+q.Encode(), nil)
	resp, body := h.do(req)
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("GET /authorize status = %d; want 302 (body %s)", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		h.t.Fatalf("Location %q: %v", resp.Header.Get("Location"), err)
	}
	return loc
}

// code runs the authorization request q and returns the code.
func (h *harness) code(q url.Values) string {
	h.t.Helper()
	loc := h.authorize(q)
	code := loc.Query().Get("code")
	if code == "" {
		h.t.Fatalf("authorize redirected to %v; want a code", loc)
	}
	return code
}

// How a token request carries the client's credentials.
const (
	credsBody  = "body"
	credsBasic = "basic"
	credsBoth  = "both"
	credsNone  = "none"
)

// token calls the token endpoint with form and the client's credentials
// sent as creds, and returns the status and decoded JSON body.
func (h *harness) token(method, creds string, form url.Values) (int, map[string]any) {
	h.t.Helper()
	form = cloneValues(form)
	if creds == credsBody || creds == credsBoth {
		form.Set(h.param(h.opts.ClientIDParam, "client_id"), clientID)
		form.Set(h.param(h.opts.ClientSecretParam, "client_secret"), clientSecret)
	}
	var req *http.Request
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, h.ts.URL+"/token?"+form.Encode(), nil)
	} else {
		req, _ = http.NewRequest(method, h.ts.URL+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if creds == credsBasic || creds == credsBoth {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	}
	resp, body := h.do(req)
	return resp.StatusCode, decode(h.t, body)
}

// exchange redeems code with the test verifier, credentials in the body.
func (h *harness) exchange(code string) (int, map[string]any) {
	h.t.Helper()
	return h.token(http.MethodPost, credsBody, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	})
}

// refresh redeems a refresh token.
func (h *harness) refresh(rt string) (int, map[string]any) {
	h.t.Helper()
	return h.token(http.MethodPost, credsBody, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// userinfo calls userinfo with at sent the default way (GET, Bearer).
func (h *harness) userinfo(at string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, body := h.do(req)
	return resp.StatusCode, decode(h.t, body)
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return m
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func TestCodeFlow(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{ExpiresIn: time.Hour, IssueRefreshTokens: true})

	loc := h.authorize(h.authQuery())
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, redirectURI; got != want {
		t.Errorf("redirect to %q; want %q", got, want)
	}
	if got, want := loc.Query().Get("state"), "xyz"; got != want {
		t.Errorf("state = %q; want %q", got, want)
	}
	code := loc.Query().Get("code")

	status, tok := h.exchange(code)
	if status != http.StatusOK {
		t.Fatalf("token status = %d (%v); want 200", status, tok)
	}
	for k, want := range map[string]string{"token_type": "Bearer", "scope": "openid email"} {
		if got := str(tok, k); got != want {
			t.Errorf("token %s = %q; want %q", k, got, want)
		}
	}
	if got, want := tok["expires_in"], json.Number("3600"); got != want {
		t.Errorf("expires_in = %v; want %v", got, want)
	}
	at, rt := str(tok, "access_token"), str(tok, "refresh_token")
	if at == "" || rt == "" || at == rt {
		t.Errorf("access_token %q, refresh_token %q; want two different tokens", at, rt)
	}

	status, info := h.userinfo(at)
	if status != http.StatusOK {
		t.Fatalf("userinfo status = %d (%v); want 200", status, info)
	}
	want := map[string]any{
		"sub":                "1001",
		"preferred_username": "alice",
		"email":              "alice@example.com",
		"email_verified":     true,
		"name":               "Alice Example",
		"given_name":         "Alice",
		"family_name":        "Example",
	}
	for k, w := range want {
		if got := info[k]; got != w {
			t.Errorf("userinfo %s = %v; want %v", k, got, w)
		}
	}
	if got, ok := info["groups"].([]any); !ok || len(got) != 2 || got[0] != "admins" || got[1] != "staff" {
		t.Errorf("userinfo groups = %v; want [admins staff]", info["groups"])
	}

	for endpoint, want := range map[string]int{"authorize": 1, "token": 1, "refresh": 0, "userinfo": 1} {
		if got := h.idp.Calls(endpoint); got != want {
			t.Errorf("Calls(%q) = %d; want %d", endpoint, got, want)
		}
	}
}

// TestFormPostResponseMode: with response_mode=form_post the answer (a
// code, or an error) comes as a page that POSTs it to the redirect URI.
func TestFormPostResponseMode(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{})
	for _, tt := range []struct {
		name string
		q    url.Values
		want []string // hidden fields the page carries
	}{
		{"code", h.authQuery("response_mode", "form_post"), []string{`name="code"`, `name="state" value="xyz"`}},
		{"error", h.authQuery("response_mode", "form_post", "response_type", "id_token"),
			[]string{`name="error" value="unsupported_response_type"`, `name="state" value="xyz"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/authorize?"+tt.q.Encode(), nil)
			resp, body := h.do(req)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<form id="answer" method="post" action="`+redirectURI+`">`) {
				t.Fatalf("GET /authorize = %d; want 200 with a form posting to %s:\n%s", resp.StatusCode, redirectURI, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("form_post page lacks %s:\n%s", w, body)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'nonce-") {
				t.Errorf("Content-Security-Policy = %q; want a script nonce", csp)
			}
		})
	}
}

func TestAuthorizeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     idp.Options
		kv       []string
		wantCode string // "" : a 400 page, no redirect
	}{
		{"unknown client", idp.Options{}, []string{"client_id", "other"}, "unauthorized_client"},
		{"missing client", idp.Options{}, []string{"client_id", ""}, "invalid_request"},
		{"bad response type", idp.Options{}, []string{"response_type", "id_token"}, "unsupported_response_type"},
		{"bad challenge method", idp.Options{}, []string{"code_challenge_method", "S512"}, "invalid_request"},
		{"PKCE required, none sent", idp.Options{RequirePKCE: true}, []string{"code_challenge", "", "code_challenge_method", ""}, "invalid_request"},
		{"PKCE required, plain", idp.Options{RequirePKCE: true}, []string{"code_challenge", verifier, "code_challenge_method", "plain"}, "invalid_request"},
		{"renamed client param, old name sent", idp.Options{ClientIDParam: "appid"}, []string{"appid", "", "client_id", clientID}, "invalid_request"},
		{"missing redirect_uri", idp.Options{}, []string{"redirect_uri", ""}, ""},
		{"relative redirect_uri", idp.Options{}, []string{"redirect_uri", "/callback"}, ""},
		{"javascript redirect_uri", idp.Options{}, []string{"redirect_uri", "javascript:alert(1)"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, tt.opts)
			req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/authorize?"+h.authQuery(tt.kv...).Encode(), nil)
			resp, body := h.do(req)
			if tt.wantCode == "" {
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
					t.Errorf("status %d, Content-Type %q; want a 400 HTML page", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				return
			}
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status = %d (%s); want 302", resp.StatusCode, body)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			q := loc.Query()
			if got := q.Get("error"); got != tt.wantCode {
				t.Errorf("error = %q; want %q", got, tt.wantCode)
			}
			if q.Get("error_description") == "" {
				t.Errorf("no error_description in %v", loc)
			}
			if got, want := q.Get("state"), "xyz"; got != want {
				t.Errorf("state = %q; want %q", got, want)
			}
			if q.Has("code") {
				t.Errorf("error redirect %v carries a code", loc)
			}
		})
	}
}

func TestClientAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		clientAuth, creds string
		wantStatus        int
		wantError         string
	}{
		{"", credsBody, 200, ""},
		{"", credsBasic, 200, ""},
		{"", credsBoth, 400, "invalid_request"},
		{"", credsNone, 401, "invalid_client"},
		{"basic", credsBasic, 200, ""},
		{"basic", credsBody, 401, "invalid_client"},
		{"basic", credsNone, 401, "invalid_client"},
		{"body", credsBody, 200, ""},
		{"body", credsBasic, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.clientAuth+"/"+tt.creds, func(t *testing.T) {
			t.Parallel()
			h := start(t, idp.Options{ClientAuth: tt.clientAuth})
			status, body := h.token(http.MethodPost, tt.creds, url.Values{
				"grant_type":    {"authorization_code"},
				"code":          {h.code(h.authQuery())},
				"redirect_uri":  {redirectURI},
				"code_verifier": {verifier},
			})
			if status != tt.wantStatus || str(body, "error") != tt.wantError {
				t.Errorf("token with ClientAuth %q, credentials %s = %d %v; want %d error %q",
					tt.clientAuth, tt.creds, status, body, tt.wantStatus, tt.wantError)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{})
		status, body := h.token(http.MethodPost, credsNone, url.Values{
			"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {"nope"},
		})
		if status != http.StatusUnauthorized || str(body, "error") != "invalid_client" {
			t.Errorf("token with a wrong secret = %d %v; want 401 invalid_client", status, body)
		}
	})
}

// TestWeChatStyle covers renamed parameters, a GET token endpoint, the
// user id in the token response and required on userinfo, and numeric ids.
func TestWeChatStyle(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{
		ClientIDParam:       "appid",
		ClientSecretParam:   "secret",
		TokenMethod:         "GET",
		TokenUserIDField:    "openid",
		UserinfoToken:       "query",
		UserinfoUserIDParam: "openid",
		Users:               []idp.User{{ID: 583231, Username: "wx"}},
		AutoApprove:         "wx",
		Userinfo:            func(u idp.User) any { return map[string]any{"openid": u.ID, "nickname": u.Username} },
	})
	code := h.code(h.authQuery())
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}

	if status, body := h.token(http.MethodPost, credsBody, form); status != http.StatusMethodNotAllowed {
		t.Errorf("POST token with TokenMethod GET = %d %v; want 405", status, body)
	}
	status, tok := h.token(http.MethodGet, credsBody, form)
	if status != http.StatusOK {
		t.Fatalf("GET token = %d %v; want 200", status, tok)
	}
	if got, want := tok["openid"], json.Number("583231"); got != want {
		t.Errorf("token openid = %#v; want %#v", got, want)
	}

	at := str(tok, "access_token")
	tests := []struct {
		name       string
		query      url.Values
		header     string
		wantStatus int
	}{
		{"token and id in query", url.Values{"access_token": {at}, "openid": {"583231"}}, "", 200},
		{"missing id", url.Values{"access_token": {at}}, "", 400},
		{"wrong id", url.Values{"access_token": {at}, "openid": {"1"}}, "", 400},
		{"token in header instead", url.Values{"openid": {"583231"}}, "Bearer " + at, 401},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/userinfo?"+tt.query.Encode(), nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		resp, body := h.do(req)
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: userinfo = %d %s; want %d", tt.name, resp.StatusCode, body, tt.wantStatus)
			continue
		}
		if tt.wantStatus == 200 {
			if got, want := decode(t, body)["openid"], json.Number("583231"); got != want {
				t.Errorf("%s: userinfo openid = %#v; want %#v", tt.name, got, want)
			}
		}
	}
}

func TestUserinfoQuirks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       idp.Options
		method     string
		place      string // header, query, body
		wantStatus int
	}{
		{"default", idp.Options{}, "GET", "header", 200},
		{"default refuses query", idp.Options{}, "GET", "query", 401},
		{"default refuses POST", idp.Options{}, "POST", "header", 405},
		{"POST header", idp.Options{UserinfoMethod: "POST"}, "POST", "header", 200},
		{"POST body", idp.Options{UserinfoMethod: "POST", UserinfoToken: "body"}, "POST", "body", 200},
		{"POST body refuses header", idp.Options{UserinfoMethod: "POST", UserinfoToken: "body"}, "POST", "header", 401},
		{"query renamed", idp.Options{UserinfoToken: "query", UserinfoTokenParam: "oauth_token"}, "GET", "query", 200},
		{"status 500", idp.Options{UserinfoStatus: 500}, "GET", "header", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, tt.opts)
			_, tok := h.exchange(h.code(h.authQuery()))
			param := h.param(tt.opts.UserinfoTokenParam, "access_token")
			v := url.Values{param: {str(tok, "access_token")}}
			target, body := h.ts.URL+"/userinfo", ""
			switch tt.place {
			case "query":
				target += "?" + v.Encode()
			case "body":
				body = v.Encode()
			}
			req, _ := http.NewRequest(tt.method, target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.place == "header" {
				req.Header.Set("Authorization", "Bearer "+str(tok, "access_token"))
			}
			resp, b := h.do(req)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("%s /userinfo, token in %s = %d %s; want %d", tt.method, tt.place, resp.StatusCode, b, tt.wantStatus)
			}
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	clk := testclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	h := start(t, idp.Options{ExpiresIn: time.Minute, Now: clk.Now})

	_, tok := h.exchange(h.code(h.authQuery()))
	at := str(tok, "access_token")
	if status, body := h.userinfo(at); status != http.StatusOK {
		t.Fatalf("userinfo with a fresh token = %d %v; want 200", status, body)
	}
	clk.Advance(time.Minute)
	if status, body := h.userinfo(at); status != http.StatusUnauthorized || str(body, "error") != "invalid_token" {
		t.Errorf("userinfo with an expired token = %d %v; want 401 invalid_token", status, body)
	}

	code := h.code(h.authQuery())
	clk.Advance(10 * time.Minute)
	if status, body := h.exchange(code); status != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
		t.Errorf("exchange of a 10-minute-old code = %d %v; want 400 invalid_grant", status, body)
	}
}

func TestPKCE(t *testing.T) {
	t.Parallel()
	other := strings.Repeat("x", 43)
	tests := []struct {
		name        string
		requirePKCE bool
		kv          []string // authorization request changes
		verifier    string
		wantError   string
	}{
		{"S256 right verifier", true, nil, verifier, ""},
		{"S256 wrong verifier", true, nil, other, "invalid_grant"},
		{"S256 missing verifier", false, nil, "", "invalid_grant"},
		{"S256 short verifier", false, nil, "abc", "invalid_grant"},
		{"plain", false, []string{"code_challenge", verifier, "code_challenge_method", "plain"}, verifier, ""},
		{"plain wrong", false, []string{"code_challenge", verifier, "code_challenge_method", "plain"}, other, "invalid_grant"},
		{"no challenge, no verifier", false, []string{"code_challenge", "", "code_challenge_method", ""}, "", ""},
		{"no challenge, verifier sent", false, []string{"code_challenge", "", "code_challenge_method", ""}, verifier, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, idp.Options{RequirePKCE: tt.requirePKCE})
			form := url.Values{
				"grant_type":   {"authorization_code"},
				"code":         {h.code(h.authQuery(tt.kv...))},
				"redirect_uri": {redirectURI},
			}
			if tt.verifier != "" {
				form.Set("code_verifier", tt.verifier)
			}
			status, body := h.token(http.MethodPost, credsBasic, form)
			wantStatus := http.StatusOK
			if tt.wantError != "" {
				wantStatus = http.StatusBadRequest
			}
			if status != wantStatus || str(body, "error") != tt.wantError {
				t.Errorf("exchange = %d %v; want %d error %q", status, body, wantStatus, tt.wantError)
			}
		})
	}
}

func TestCodeSingleUseAndBinding(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{})

	code := h.code(h.authQuery())
	status, tok := h.exchange(code)
	if status != http.StatusOK {
		t.Fatalf("first exchange = %d %v; want 200", status, tok)
	}
	if status, body := h.exchange(code); status != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
		t.Errorf("second exchange = %d %v; want 400 invalid_grant", status, body)
	}
	if status, _ := h.userinfo(str(tok, "access_token")); status != http.StatusUnauthorized {
		t.Errorf("userinfo after the code's replay = %d; want 401 (RFC 6749 4.1.2 revocation)", status)
	}

	code = h.code(h.authQuery())
	status, body := h.token(http.MethodPost, credsBody, url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"https://evil.example.com/cb"}, "code_verifier": {verifier},
	})
	if status != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
		t.Errorf("exchange with another redirect_uri = %d %v; want 400 invalid_grant", status, body)
	}
	if status, body := h.exchange(code); status != http.StatusBadRequest {
		t.Errorf("exchange after a failed attempt = %d %v; want 400: a code gets one attempt", status, body)
	}

	if status, body := h.exchange("made-up"); status != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
		t.Errorf("exchange of an unknown code = %d %v; want 400 invalid_grant", status, body)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	t.Run("rotating", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{IssueRefreshTokens: true, RotateRefreshTokens: true})
		_, tok := h.exchange(h.code(h.authQuery()))
		rt1 := str(tok, "refresh_token")

		status, tok2 := h.refresh(rt1)
		rt2 := str(tok2, "refresh_token")
		if status != http.StatusOK || rt2 == "" || rt2 == rt1 {
			t.Fatalf("refresh = %d %v; want 200 with a new refresh token", status, tok2)
		}
		if status, body := h.userinfo(str(tok2, "access_token")); status != http.StatusOK || str(body, "sub") != "1001" {
			t.Errorf("userinfo with the refreshed token = %d %v; want 200 sub 1001", status, body)
		}
		if status, body := h.refresh(rt1); status != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
			t.Errorf("refresh with the rotated-out token = %d %v; want 400 invalid_grant", status, body)
		}
		if status, body := h.refresh(rt2); status != http.StatusOK {
			t.Errorf("refresh with the new token = %d %v; want 200", status, body)
		}
		if got, want := h.idp.Calls("refresh"), 3; got != want {
			t.Errorf("Calls(refresh) = %d; want %d", got, want)
		}
		if got, want := h.idp.Calls("token"), 4; got != want {
			t.Errorf("Calls(token) = %d; want %d", got, want)
		}
	})
	t.Run("not rotating", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{IssueRefreshTokens: true})
		_, tok := h.exchange(h.code(h.authQuery()))
		rt := str(tok, "refresh_token")
		for i := range 2 {
			status, body := h.refresh(rt)
			if status != http.StatusOK || body["refresh_token"] != nil {
				t.Errorf("refresh #%d = %d %v; want 200 without a refresh_token", i+1, status, body)
			}
		}
	})
	t.Run("narrowed scope", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{IssueRefreshTokens: true})
		_, tok := h.exchange(h.code(h.authQuery()))
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}
		form.Set("scope", "email")
		if status, body := h.token(http.MethodPost, credsBody, form); status != 200 || str(body, "scope") != "email" {
			t.Errorf("refresh with scope email = %d %v; want 200 scope email", status, body)
		}
		form.Set("scope", "admin")
		if status, body := h.token(http.MethodPost, credsBody, form); status != 400 || str(body, "error") != "invalid_scope" {
			t.Errorf("refresh with scope admin = %d %v; want 400 invalid_scope", status, body)
		}
	})
	t.Run("the user's current claims", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{IssueRefreshTokens: true})
		_, tok := h.exchange(h.code(h.authQuery()))
		h.idp.SetOptions(func(o *idp.Options) {
			o.Users = []idp.User{{ID: "1001", Username: "alice", Email: "alice@new.example"}}
		})
		_, tok2 := h.refresh(str(tok, "refresh_token"))
		if _, body := h.userinfo(str(tok2, "access_token")); str(body, "email") != "alice@new.example" {
			t.Errorf("userinfo after a refresh = %v; want the user's changed e-mail", body)
		}
	})
	t.Run("no refresh tokens issued", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{})
		if _, tok := h.exchange(h.code(h.authQuery())); tok["refresh_token"] != nil {
			t.Errorf("token response %v has a refresh_token; want none without IssueRefreshTokens", tok)
		}
	})
}

func TestInjectedTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       idp.Options
		wantStatus int
		wantError  string
	}{
		{"TokenError", idp.Options{TokenError: "invalid_grant"}, 400, "invalid_grant"},
		{"TokenError with 200", idp.Options{TokenError: "bad_verification_code", ErrorWith200: true}, 200, "bad_verification_code"},
		{"TokenStatus 503", idp.Options{TokenStatus: 503}, 503, "temporarily_unavailable"},
		{"TokenStatus 500", idp.Options{TokenStatus: 500}, 500, "server_error"},
		{"TokenStatus with TokenError", idp.Options{TokenStatus: 502, TokenError: "upstream_down"}, 502, "upstream_down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, tt.opts)
			status, body := h.exchange(h.code(h.authQuery()))
			if status != tt.wantStatus || str(body, "error") != tt.wantError || str(body, "error_description") == "" {
				t.Errorf("token = %d %v; want %d error %q with a description", status, body, tt.wantStatus, tt.wantError)
			}
			if body["access_token"] != nil {
				t.Errorf("token = %v; want no access_token", body)
			}
		})
	}
}

func TestSetOptionsMidway(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{IssueRefreshTokens: true})
	_, tok := h.exchange(h.code(h.authQuery()))
	rt := str(tok, "refresh_token")

	h.idp.SetOptions(func(o *idp.Options) { o.TokenStatus = http.StatusServiceUnavailable })
	if status, _ := h.refresh(rt); status != http.StatusServiceUnavailable {
		t.Errorf("refresh while failing = %d; want 503", status)
	}
	h.idp.SetOptions(func(o *idp.Options) { o.TokenStatus = 0 })
	if status, body := h.refresh(rt); status != http.StatusOK {
		t.Errorf("refresh after recovery = %d %v; want 200", status, body)
	}
	if got, want := h.idp.Calls("refresh"), 2; got != want {
		t.Errorf("Calls(refresh) = %d; want %d", got, want)
	}

	// Concurrent requests and changes, for the race detector.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if i%2 == 0 {
				h.idp.SetOptions(func(o *idp.Options) { o.ExpiresIn = time.Duration(i) * time.Minute })
			}
			h.refresh(rt)
			h.idp.Calls("refresh")
		})
	}
	wg.Wait()
	if got, want := h.idp.Calls("refresh"), 10; got != want {
		t.Errorf("Calls(refresh) = %d; want %d", got, want)
	}
}

func TestHugeTokens(t *testing.T) {
	t.Parallel()
	const size = 8192
	h := start(t, idp.Options{AccessTokenSize: size})
	_, tok := h.exchange(h.code(h.authQuery()))
	at := str(tok, "access_token")
	if len(at) != size {
		t.Errorf("len(access_token) = %d; want %d", len(at), size)
	}
	if status, body := h.userinfo(at); status != http.StatusOK {
		t.Errorf("userinfo with a huge token = %d %v; want 200", status, body)
	}
}

func TestImplicitFlow(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{ExpiresIn: 90 * time.Second})
	loc := h.authorize(h.authQuery("response_type", "token", "code_challenge", "", "code_challenge_method", ""))
	if loc.RawQuery != "" {
		t.Errorf("implicit redirect query = %q; want none", loc.RawQuery)
	}
	frag, err := url.ParseQuery(loc.Fragment)
	if err != nil {
		t.Fatalf("fragment %q: %v", loc.Fragment, err)
	}
	for k, want := range map[string]string{"token_type": "Bearer", "expires_in": "90", "state": "xyz", "scope": "openid email"} {
		if got := frag.Get(k); got != want {
			t.Errorf("fragment %s = %q; want %q", k, got, want)
		}
	}
	if frag.Has("refresh_token") {
		t.Errorf("fragment %q has a refresh_token", loc.Fragment)
	}
	if status, body := h.userinfo(frag.Get("access_token")); status != http.StatusOK {
		t.Errorf("userinfo with the implicit token = %d %v; want 200", status, body)
	}

	loc = h.authorize(h.authQuery("response_type", "token", "client_id", "other"))
	if frag, _ := url.ParseQuery(loc.Fragment); frag.Get("error") != "unauthorized_client" {
		t.Errorf("implicit error redirect %v; want error=unauthorized_client in the fragment", loc)
	}
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{ClientAuth: "basic", IssueRefreshTokens: true})
	status, tok := h.token(http.MethodPost, credsBasic, url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}})
	if status != http.StatusOK || str(tok, "scope") != "api" || tok["refresh_token"] != nil {
		t.Fatalf("client_credentials = %d %v; want 200 scope api, no refresh_token", status, tok)
	}
	if status, body := h.userinfo(str(tok, "access_token")); status != http.StatusOK || str(body, "sub") != "service-account-app" {
		t.Errorf("userinfo of the service account = %d %v; want sub service-account-app", status, body)
	}
	if status, body := h.token(http.MethodPost, credsBasic, url.Values{"grant_type": {"password"}}); status != 400 || str(body, "error") != "unsupported_grant_type" {
		t.Errorf("password grant = %d %v; want 400 unsupported_grant_type", status, body)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{IssueRefreshTokens: true})
	revoke := func(token string) int {
		t.Helper()
		form := url.Values{"token": {token}, "client_id": {clientID}, "client_secret": {clientSecret}}
		req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, _ := h.do(req)
		return resp.StatusCode
	}

	_, tok := h.exchange(h.code(h.authQuery()))
	if got := revoke(str(tok, "access_token")); got != http.StatusOK {
		t.Errorf("revoke access token = %d; want 200", got)
	}
	if status, _ := h.userinfo(str(tok, "access_token")); status != http.StatusUnauthorized {
		t.Errorf("userinfo after revocation = %d; want 401", status)
	}
	status, tok2 := h.refresh(str(tok, "refresh_token"))
	if status != http.StatusOK {
		t.Fatalf("refresh after revoking only the access token = %d %v; want 200", status, tok2)
	}
	if got := revoke(str(tok, "refresh_token")); got != http.StatusOK {
		t.Errorf("revoke refresh token = %d; want 200", got)
	}
	if status, _ := h.refresh(str(tok, "refresh_token")); status != http.StatusBadRequest {
		t.Errorf("refresh after revocation = %d; want 400", status)
	}
	if status, _ := h.userinfo(str(tok2, "access_token")); status != http.StatusUnauthorized {
		t.Errorf("userinfo with an access token of a revoked grant = %d; want 401", status)
	}
	if got := revoke("unknown"); got != http.StatusOK {
		t.Errorf("revoke unknown token = %d; want 200", got)
	}
	if got, want := h.idp.Calls("revoke"), 3; got != want {
		t.Errorf("Calls(revoke) = %d; want %d", got, want)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{})
	tests := []struct {
		query        string
		wantStatus   int
		wantLocation string
	}{
		{"", 200, ""},
		{"post_logout_redirect_uri=" + url.QueryEscape("https://app.example.com/bye?x=1") + "&state=s1", 302, "https://app.example.com/bye?state=s1&x=1"},
		{"post_logout_redirect_uri=javascript:alert(1)", 400, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/logout?"+tt.query, nil)
		resp, body := h.do(req)
		if resp.StatusCode != tt.wantStatus || resp.Header.Get("Location") != tt.wantLocation {
			t.Errorf("GET /logout?%s = %d Location %q; want %d %q", tt.query, resp.StatusCode, resp.Header.Get("Location"), tt.wantStatus, tt.wantLocation)
		}
		if tt.wantStatus == 200 && !strings.Contains(string(body), "signed out") {
			t.Errorf("GET /logout page %q does not say signed out", body)
		}
	}
	if got, want := h.idp.Calls("logout"), len(tests); got != want {
		t.Errorf("Calls(logout) = %d; want %d", got, want)
	}
}

func TestDelay(t *testing.T) {
	t.Parallel()
	t.Run("slow", func(t *testing.T) {
		t.Parallel()
		const delay = 50 * time.Millisecond
		h := start(t, idp.Options{Delay: delay})
		began := time.Now()
		if status, body := h.exchange(h.code(h.authQuery())); status != http.StatusOK {
			t.Fatalf("token = %d %v; want 200", status, body)
		}
		if got := time.Since(began); got < delay {
			t.Errorf("token answered after %v; want at least %v", got, delay)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{Delay: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.ts.URL+"/userinfo", nil)
		_, err := h.c.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("userinfo with a 50ms deadline: err = %v; want %v", err, context.DeadlineExceeded)
		}
		// ts.Close in Cleanup waits for the handler: it must have returned.
		done := make(chan struct{})
		go func() { h.ts.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the handler still sleeps after its request was cancelled")
		}
	})
}

func TestDemoPage(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{AutoApprove: showPage})

	evil := `"><script>alert(1)</script>`
	q := h.authQuery("state", evil, "prompt", "consent")
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/authorize?"+q.Encode(), nil)
	resp, b := h.do(req)
	page := string(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /authorize = %d; want 200 page", resp.StatusCode)
	}
	for _, want := range []string{
		"<h1>Portcullis development provider</h1>",
		"local development only",
		"Sign in as alice (alice@example.com)",
		"Sign in as bob (bob@example.com)",
		`name="prompt" value="consent"`,
		"error=access_denied",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "http://") && strings.Contains(page, "src=") {
		t.Errorf("page has unescaped or external content:\n%s", page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q; want default-src 'none'", csp)
	}

	form := cloneValues(q)
	form.Set("user", "bob")
	req, _ = http.NewRequest(http.MethodPost, h.ts.URL+"/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, b = h.do(req)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /authorize = %d %s; want 302", resp.StatusCode, b)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if got := loc.Query().Get("state"); got != evil {
		t.Errorf("state = %q; want %q", got, evil)
	}
	_, tok := h.exchange(loc.Query().Get("code"))
	if _, info := h.userinfo(str(tok, "access_token")); str(info, "preferred_username") != "bob" {
		t.Errorf("userinfo after choosing bob = %v; want preferred_username bob", info)
	}
	if _, info := h.userinfo(str(tok, "access_token")); info["email_verified"] != nil {
		t.Errorf("bob's email_verified = %v; want absent", info["email_verified"])
	}

	form.Set("user", "mallory")
	req, _ = http.NewRequest(http.MethodPost, h.ts.URL+"/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := h.do(req); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /authorize as an unknown user = %d; want 400", resp.StatusCode)
	}
	if got, want := h.idp.Calls("authorize"), 3; got != want {
		t.Errorf("Calls(authorize) = %d; want %d", got, want)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  idp.Options
		wants []string // substrings of the error; none: valid
	}{
		{"valid", idp.Options{ClientID: "a", ClientSecret: "b"}, nil},
		{"everything wrong", idp.Options{
			ClientAuth:     "jwt",
			UserinfoToken:  "cookie",
			AutoApprove:    "carol",
			Users:          []idp.User{{Username: "x"}, {ID: 1, Username: "x"}},
			UserinfoStatus: 42,
			Hostile:        "no-such-set",
		}, []string{"ClientID", "ClientSecret", "ClientAuth", "UserinfoToken", "AutoApprove", "user 0: ID", "user 1: duplicate", "UserinfoStatus", "Hostile"}},
		{"body token needs POST", idp.Options{ClientID: "a", ClientSecret: "b", UserinfoToken: "body"}, []string{"UserinfoToken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.opts.Validate()
			if len(tt.wants) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil; want errors naming %q", tt.wants)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v; want it to name %q", err, w)
				}
			}
		})
	}

	t.Run("served as 500", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(idp.New(idp.Options{}))
		defer ts.Close()
		resp, err := ts.Client().Get(ts.URL + "/authorize")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("GET /authorize with invalid options = %d; want 500", resp.StatusCode)
		}
	})
}

func TestCognitoLogout(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{Logout: "cognito", SignOutURLs: []string{"https://app.example.com/"}})
	tests := []struct {
		query        url.Values
		wantStatus   int
		wantLocation string
	}{
		{url.Values{"client_id": {clientID}, "logout_uri": {"https://app.example.com/"}}, 302, "https://app.example.com/"},
		{url.Values{"client_id": {clientID}, "logout_uri": {"https://app.example.com/elsewhere"}}, 400, ""},
		{url.Values{"client_id": {"nobody"}, "logout_uri": {"https://app.example.com/"}}, 400, ""},
		// The standard parameters are not Cognito's.
		{url.Values{"client_id": {clientID}, "post_logout_redirect_uri": {"https://app.example.com/"}}, 400, ""},
		{url.Values{}, 400, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/logout?"+tt.query.Encode(), nil)
		resp, _ := h.do(req)
		if resp.StatusCode != tt.wantStatus || resp.Header.Get("Location") != tt.wantLocation {
			t.Errorf("GET /logout?%s = %d Location %q; want %d %q", tt.query.Encode(), resp.StatusCode, resp.Header.Get("Location"), tt.wantStatus, tt.wantLocation)
		}
	}
	if err := (idp.Options{ClientID: "a", ClientSecret: "b", Logout: "okta"}).Validate(); err == nil || !strings.Contains(err.Error(), "Logout") {
		t.Errorf("Validate(Logout okta) = %v; want an error naming Logout", err)
	}
}

func TestEmails(t *testing.T) {
	t.Parallel()
	off := start(t, idp.Options{})
	req, _ := http.NewRequest(http.MethodGet, off.ts.URL+"/userinfo/emails", nil)
	if resp, _ := off.do(req); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /userinfo/emails without Emails = %d; want 404", resp.StatusCode)
	}
	h := start(t, idp.Options{Emails: func(u idp.User) any {
		return map[string]any{"values": []map[string]any{{"email": u.Email, "is_primary": true, "is_confirmed": true}}}
	}})
	_, tok := h.exchange(h.code(h.authQuery()))
	for _, tt := range []struct {
		name, auth string
		status     int
	}{
		{"the user's token", "Bearer " + str(tok, "access_token"), http.StatusOK},
		{"no token", "", http.StatusUnauthorized},
		{"an unknown token", "Bearer nope", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/userinfo/emails", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, body := h.do(req)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: GET /userinfo/emails = %d %s; want %d", tt.name, resp.StatusCode, body, tt.status)
		}
		if tt.status == http.StatusOK && !strings.Contains(string(body), `"email":"alice@example.com"`) {
			t.Errorf("%s: GET /userinfo/emails = %s; want alice's address", tt.name, body)
		}
	}
	if got := h.idp.Calls("emails"); got != 3 {
		t.Errorf(`Calls("emails") = %d; want 3`, got)
	}
}
