package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
)

const (
	tokensClientID     = "portcullis-app"
	tokensClientSecret = "portcullis-app-secret"
	tokensOtherID      = "another-app"
	tokensOtherSecret  = "another-app-secret"
)

// tokenCheckIDP runs the fake provider with this deployment's client and
// another app, OIDC on, tokens valid for an hour.
func tokenCheckIDP(t *testing.T) (*idp.Server, *httptest.Server) {
	t.Helper()
	s := idp.New(idp.Options{
		ClientID: tokensClientID, ClientSecret: tokensClientSecret,
		Clients: []idp.Client{{ID: tokensOtherID, Secret: tokensOtherSecret}},
		OIDC:    true, ExpiresIn: time.Hour, AutoApprove: "alice",
	})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// grantFor is a client-credentials access token the fake issued to id.
func grantFor(t *testing.T, srv *httptest.Server, id, secret string) string {
	t.Helper()
	tok, err := providers.ClientCredentials(t.Context(), providers.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/token"}, nil)
	if err != nil {
		t.Fatalf("client credentials as %s: %v", id, err)
	}
	return tok["access_token"].(string)
}

// TestPresetTokenChecks: with BEARER_TOKENS, the google, github and
// facebook presets bind opaque tokens to the client with their provider's
// own check (tokeninfo, check-a-token, debug_token), every URL of which
// comes from a setting: our token is accepted, another app's refused.
func TestPresetTokenChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		preset   string
		endpoint string // the check the fake counts
		env      func(base string) map[string]string
	}{
		{"google", "tokeninfo", func(base string) map[string]string {
			return map[string]string{"PORTCULLIS_ISSUER_URL": base, "PORTCULLIS_INTROSPECTION_URL": base + "/tokeninfo"}
		}},
		{"github", "check_token", func(base string) map[string]string {
			// The check lives beside USERINFO_URL, as GitHub's API does.
			return map[string]string{"PORTCULLIS_AUTH_URL": base + "/authorize", "PORTCULLIS_TOKEN_URL": base + "/token",
				"PORTCULLIS_USERINFO_URL": base + "/userinfo", "PORTCULLIS_CLAIM_ID": "sub"}
		}},
		{"facebook", "debug_token", func(base string) map[string]string {
			return map[string]string{"PORTCULLIS_AUTH_URL": base + "/authorize", "PORTCULLIS_TOKEN_URL": base + "/token",
				"PORTCULLIS_USERINFO_URL": base + "/userinfo", "PORTCULLIS_CLAIM_ID": "sub"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.preset, func(t *testing.T) {
			t.Parallel()
			fake, srv := tokenCheckIDP(t)
			env := map[string]string{
				"PORTCULLIS_COOKIE_SECRET":  "0123456789abcdef0123456789abcdef",
				"PORTCULLIS_PROVIDER":       tt.preset,
				"PORTCULLIS_CLIENT_ID":      tokensClientID,
				"PORTCULLIS_CLIENT_SECRET":  tokensClientSecret,
				"PORTCULLIS_BEARER_TOKENS":  "true",
				"PORTCULLIS_METRICS_LISTEN": "off",
			}
			for k, v := range tt.env(srv.URL) {
				env[k] = v
			}
			cfg, err := loadConfig(envMap(env))
			if err != nil {
				t.Fatal(err)
			}
			proxySrv, jobs, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			for _, j := range jobs {
				go j(ctx) // discovery
			}
			auth := func(token string) int {
				for range 100 { // until discovery is done
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodGet, "/oauth2/auth", nil)
					req.Header.Set("Authorization", "Bearer "+token)
					proxySrv.ServeHTTP(rec, req)
					if rec.Code != http.StatusServiceUnavailable {
						return rec.Code
					}
					time.Sleep(20 * time.Millisecond)
				}
				return http.StatusServiceUnavailable
			}
			if got := auth(grantFor(t, srv, tokensClientID, tokensClientSecret)); got != http.StatusAccepted {
				t.Errorf("%s: our own token at /oauth2/auth = %d; want 202", tt.preset, got)
			}
			if got := auth(grantFor(t, srv, tokensOtherID, tokensOtherSecret)); got != http.StatusUnauthorized {
				t.Errorf("%s: another app's token at /oauth2/auth = %d; want 401", tt.preset, got)
			}
			if n := fake.Calls(tt.endpoint); n != 2 {
				t.Errorf("%s: %s called %d times; want 2", tt.preset, tt.endpoint, n)
			}
			if tt.preset == "google" {
				// Google's access tokens are opaque: a JWT it signs for
				// this client is an ID token (one from a refresh has no
				// nonce), never a bearer token.
				idToken, err := fake.IDToken(srv.URL, tokensClientID, "alice", "")
				if err != nil {
					t.Fatal(err)
				}
				if got := auth(idToken); got != http.StatusUnauthorized {
					t.Errorf("google: an ID token of this client without a nonce at /oauth2/auth = %d; want 401", got)
				}
			}
		})
	}
}

// TestImplicitNeedsTokenCheck: an implicit-flow provider that could not
// tell whether a token is this client's is refused at start, naming the
// variable, unless BEARER_ALLOW_UNBOUND accepts the risk.
func TestImplicitNeedsTokenCheck(t *testing.T) {
	t.Parallel()
	generic := func(extra map[string]string) map[string]string {
		env := validEnv()
		env["PORTCULLIS_RESPONSE_TYPE"] = "token"
		delete(env, "PORTCULLIS_CLIENT_SECRET") // a public client may have none
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		want int
		out  string
	}{
		{"no introspection", generic(nil), 1, "PORTCULLIS_INTROSPECTION_URL: required with RESPONSE_TYPE=token"},
		{"introspection", generic(map[string]string{"PORTCULLIS_INTROSPECTION_URL": "https://idp.example/introspect"}), 0, "configuration OK"},
		{"unbound accepted", generic(map[string]string{"PORTCULLIS_BEARER_ALLOW_UNBOUND": "true"}), 0, "warning: PORTCULLIS_BEARER_ALLOW_UNBOUND=true"},
		{"facebook without a secret", generic(map[string]string{"PORTCULLIS_PROVIDER": "facebook"}), 1, "PORTCULLIS_CLIENT_SECRET: required by the facebook preset's token check"},
		{"facebook", generic(map[string]string{"PORTCULLIS_PROVIDER": "facebook", "PORTCULLIS_CLIENT_SECRET": "s"}), 0, "configuration OK"},
	} {
		var out, errOut bytes.Buffer
		got := run(context.Background(), []string{"check"}, envMap(tt.env), &out, &errOut)
		if got != tt.want || !strings.Contains(out.String()+errOut.String(), tt.out) {
			t.Errorf("%s: check = %d; want %d and %q\n%s%s", tt.name, got, tt.want, tt.out, out.String(), errOut.String())
		}
	}
}

// TestImplicitTokenCheckWired: the facebook preset's implicit flow checks
// tokens with debug_token, and takes their expiry from it.
func TestImplicitTokenCheckWired(t *testing.T) {
	t.Parallel()
	fake, srv := tokenCheckIDP(t)
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET": "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_PROVIDER":      "facebook", "PORTCULLIS_RESPONSE_TYPE": "token",
		"PORTCULLIS_CLIENT_ID": tokensClientID, "PORTCULLIS_CLIENT_SECRET": tokensClientSecret,
		"PORTCULLIS_AUTH_URL": srv.URL + "/authorize", "PORTCULLIS_TOKEN_URL": srv.URL + "/token",
		"PORTCULLIS_USERINFO_URL": srv.URL + "/userinfo", "PORTCULLIS_CLAIM_ID": "sub",
	}
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	built, err := buildProviders(cfg, metrics.New(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	entry := proxyProvider(built[0], cfg.Providers[0])
	if entry.TokenCheck == nil || entry.Bearer != nil {
		t.Fatalf("entry: TokenCheck %v, Bearer %v; want a token check and no bearer tokens", entry.TokenCheck, entry.Bearer)
	}
	before := time.Now()
	if _, exp, err := entry.TokenCheck.Check(t.Context(), grantFor(t, srv, tokensClientID, tokensClientSecret)); err != nil || exp.Before(before.Add(59*time.Minute)) {
		t.Errorf("Check(our token) = %v, %v; want no error and the provider's expiry, an hour ahead", exp, err)
	}
	if _, _, err := entry.TokenCheck.Check(t.Context(), grantFor(t, srv, tokensOtherID, tokensOtherSecret)); err == nil {
		t.Error("Check(another app's token) = nil; want an error")
	}
	if n := fake.Calls("debug_token"); n != 2 {
		t.Errorf("debug_token called %d times; want 2", n)
	}
}

// TestSessionBindings: each provider's sessions are bound to its client id
// and issuer (OIDC) or token URL; another client or issuer binds
// differently, a replica the same.
func TestSessionBindings(t *testing.T) {
	t.Parallel()
	bindings := func(extra map[string]string) map[string]string {
		env := map[string]string{
			"PORTCULLIS_COOKIE_SECRET":      "0123456789abcdef0123456789abcdef",
			"PORTCULLIS_PROVIDERS":          "corp,gh",
			"PORTCULLIS_CORP_PROVIDER":      "oidc",
			"PORTCULLIS_CORP_ISSUER_URL":    "https://sso.a.example",
			"PORTCULLIS_CORP_CLIENT_ID":     "client-a",
			"PORTCULLIS_CORP_CLIENT_SECRET": "s",
			"PORTCULLIS_GH_PROVIDER":        "github",
			"PORTCULLIS_GH_CLIENT_ID":       "gh-client",
			"PORTCULLIS_GH_CLIENT_SECRET":   "s",
		}
		for k, v := range extra {
			env[k] = v
		}
		cfg, err := loadConfig(envMap(env))
		if err != nil {
			t.Fatal(err)
		}
		built, err := buildProviders(cfg, metrics.New(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return sessionBindings(built)
	}
	ours := bindings(nil)
	if ours["corp"] != "client-a\x00https://sso.a.example" || ours["gh"] != "gh-client\x00https://github.com/login/oauth/access_token" {
		t.Errorf("sessionBindings() = %q; want corp bound to client-a at its issuer, gh to gh-client at GitHub's token URL", ours)
	}
	for _, tt := range []struct {
		name     string
		extra    map[string]string
		provider string
	}{
		{"another client id", map[string]string{"PORTCULLIS_CORP_CLIENT_ID": "client-b"}, "corp"},
		{"another issuer", map[string]string{"PORTCULLIS_CORP_ISSUER_URL": "https://sso.b.example"}, "corp"},
		{"another GitHub (Enterprise)", map[string]string{"PORTCULLIS_GH_TOKEN_URL": "https://ghe.example/login/oauth/access_token"}, "gh"},
	} {
		got := bindings(tt.extra)
		if got[tt.provider] == ours[tt.provider] {
			t.Errorf("%s: binding of %s = %q, the same as ours; want another", tt.name, tt.provider, got[tt.provider])
		}
		for id := range ours {
			if id != tt.provider && got[id] != ours[id] {
				t.Errorf("%s: binding of %s changed to %q; want %q", tt.name, id, got[id], ours[id])
			}
		}
	}
}
