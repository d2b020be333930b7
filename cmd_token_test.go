package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
)

// tokenIDP runs a development provider with one client.
func tokenIDP(t *testing.T, clientID, secret string, opts idp.Options) *httptest.Server {
	t.Helper()
	opts.ClientID, opts.ClientSecret = clientID, secret
	srv := httptest.NewServer(idp.New(opts))
	t.Cleanup(srv.Close)
	return srv
}

// tokenEnv is a valid configuration with the single generic provider at srv.
func tokenEnv(srv *httptest.Server, clientID, secret string) map[string]string {
	return map[string]string{
		"PORTCULLIS_COOKIE_SECRET": "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_UPSTREAM":      "http://127.0.0.1:9",
		"PORTCULLIS_CLIENT_ID":     clientID,
		"PORTCULLIS_CLIENT_SECRET": secret,
		"PORTCULLIS_AUTH_URL":      srv.URL + "/authorize",
		"PORTCULLIS_TOKEN_URL":     srv.URL + "/token",
		"PORTCULLIS_USERINFO_URL":  srv.URL + "/userinfo",
	}
}

// runToken runs the command and returns its status and output.
func runToken(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := tokenCommand(t.Context(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// wantServiceToken checks the printed JSON is an access token that the
// provider at srv knows as clientID's service account.
func wantServiceToken(t *testing.T, out string, srv *httptest.Server, clientID string) map[string]any {
	t.Helper()
	var tok map[string]any
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if !strings.Contains(out, "\n  \"access_token\"") {
		t.Errorf("stdout = %s; want indented JSON", out)
	}
	at, _ := tok["access_token"].(string)
	if at == "" || tok["token_type"] != "Bearer" {
		t.Fatalf("token = %v; want an access_token of type Bearer", tok)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct{ Sub string }
	json.NewDecoder(resp.Body).Decode(&info)
	if want := "service-account-" + clientID; resp.StatusCode != 200 || info.Sub != want {
		t.Errorf("userinfo with the token = %d, sub %q; want 200, %q", resp.StatusCode, info.Sub, want)
	}
	return tok
}

func TestTokenCommand(t *testing.T) {
	t.Parallel()
	srv := tokenIDP(t, "svc", "svc-secret-value", idp.Options{ExpiresIn: 3600e9})
	code, out, errOut := runToken(t, tokenEnv(srv, "svc", "svc-secret-value"))
	if code != 0 {
		t.Fatalf("token = %d, stderr %q; want 0", code, errOut)
	}
	tok := wantServiceToken(t, out, srv, "svc")
	if tok["expires_in"] != float64(3600) {
		t.Errorf("expires_in = %v; want 3600", tok["expires_in"])
	}
	if _, ok := tok["scope"]; ok {
		t.Errorf("scope = %v; want none requested", tok["scope"])
	}
}

func TestTokenCommandScopes(t *testing.T) {
	t.Parallel()
	srv := tokenIDP(t, "svc", "svc-secret-value", idp.Options{})
	code, out, errOut := runToken(t, tokenEnv(srv, "svc", "svc-secret-value"), "--scope", "read", "--scope=write,admin")
	if code != 0 {
		t.Fatalf("token = %d, stderr %q; want 0", code, errOut)
	}
	if tok := wantServiceToken(t, out, srv, "svc"); tok["scope"] != "read write admin" {
		t.Errorf("scope = %v; want %q", tok["scope"], "read write admin")
	}
}

func TestTokenCommandAuthStyle(t *testing.T) {
	t.Parallel()
	srv := tokenIDP(t, "svc", "svc-secret-value", idp.Options{ClientAuth: "body", ClientIDParam: "appid", ClientSecretParam: "secret", TokenMethod: "GET"})
	env := tokenEnv(srv, "svc", "svc-secret-value")
	env["PORTCULLIS_CLIENT_ID_PARAM"] = "appid"
	env["PORTCULLIS_CLIENT_SECRET_PARAM"] = "secret"
	env["PORTCULLIS_TOKEN_METHOD"] = "GET"
	code, out, errOut := runToken(t, env)
	if code != 0 {
		t.Fatalf("token = %d, stderr %q; want 0", code, errOut)
	}
	wantServiceToken(t, out, srv, "svc")
}

func TestTokenCommandOIDCDiscovery(t *testing.T) {
	t.Parallel()
	srv := tokenIDP(t, "svc", "svc-secret-value", idp.Options{OIDC: true})
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET": "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_UPSTREAM":      "http://127.0.0.1:9",
		"PORTCULLIS_PROVIDER":      "oidc",
		"PORTCULLIS_ISSUER_URL":    srv.URL,
		"PORTCULLIS_CLIENT_ID":     "svc",
		"PORTCULLIS_CLIENT_SECRET": "svc-secret-value",
	}
	code, out, errOut := runToken(t, env, "--provider", "oidc")
	if code != 0 {
		t.Fatalf("token = %d, stderr %q; want 0", code, errOut)
	}
	wantServiceToken(t, out, srv, "svc")
}

func TestTokenCommandSeveralProviders(t *testing.T) {
	t.Parallel()
	a := tokenIDP(t, "client-a", "secret-of-a-value", idp.Options{})
	b := tokenIDP(t, "client-b", "secret-of-b-value", idp.Options{})
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET": "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_UPSTREAM":      "http://127.0.0.1:9",
		"PORTCULLIS_PROVIDERS":     "alpha,beta",
	}
	for prefix, p := range map[string]struct {
		srv        *httptest.Server
		id, secret string
	}{"ALPHA": {a, "client-a", "secret-of-a-value"}, "BETA": {b, "client-b", "secret-of-b-value"}} {
		for k, v := range tokenEnv(p.srv, p.id, p.secret) {
			if name, ok := strings.CutPrefix(k, "PORTCULLIS_"); ok && k != "PORTCULLIS_COOKIE_SECRET" && k != "PORTCULLIS_UPSTREAM" {
				env["PORTCULLIS_"+prefix+"_"+name] = v
			}
		}
	}
	code, out, errOut := runToken(t, env, "--provider", "beta")
	if code != 0 {
		t.Fatalf("token --provider beta = %d, stderr %q; want 0", code, errOut)
	}
	wantServiceToken(t, out, b, "client-b")

	code, out, errOut = runToken(t, env)
	if code != 2 || out != "" || !strings.Contains(errOut, "several providers are configured (alpha, beta)") {
		t.Errorf("token without --provider = %d, %q, %q; want 2 naming alpha, beta", code, out, errOut)
	}
	code, _, errOut = runToken(t, env, "--provider", "gamma")
	if code != 2 || !strings.Contains(errOut, `unknown provider "gamma"; configured: alpha, beta`) {
		t.Errorf("token --provider gamma = %d, %q; want 2 listing the providers", code, errOut)
	}
}

func TestTokenCommandFailures(t *testing.T) {
	t.Parallel()
	srv := tokenIDP(t, "svc", "svc-secret-value", idp.Options{})
	down := tokenIDP(t, "svc", "svc-secret-value", idp.Options{TokenStatus: http.StatusServiceUnavailable})
	badSecret := tokenEnv(srv, "svc", "not-the-secret-value")
	noTokenURL := tokenEnv(srv, "svc", "svc-secret-value")
	delete(noTokenURL, "PORTCULLIS_TOKEN_URL")
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    int
		wantErr string
	}{
		{"wrong secret", badSecret, nil, 1, "invalid_client"},
		{"provider down", tokenEnv(down, "svc", "svc-secret-value"), nil, 1, "503"},
		{"invalid configuration", noTokenURL, nil, 1, "PORTCULLIS_TOKEN_URL"},
		{"unknown flag", tokenEnv(srv, "svc", "svc-secret-value"), []string{"--frobnicate"}, 2, "flag provided but not defined"},
		{"argument", tokenEnv(srv, "svc", "svc-secret-value"), []string{"extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runToken(t, tt.env, tt.args...)
			if code != tt.want || out != "" || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("token = %d, stdout %q, stderr %q; want %d, nothing, %q", code, out, errOut, tt.want, tt.wantErr)
			}
			if strings.Contains(errOut, "secret-value") {
				t.Errorf("stderr = %q; it quotes the client secret", errOut)
			}
		})
	}
}

func TestTokenCommandHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := runToken(t, nil, "-h")
	if code != 0 || !strings.Contains(out, "Usage: portcullis token") {
		t.Errorf("token -h = %d, %q; want 0 and the usage", code, out)
	}
}
