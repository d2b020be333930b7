package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testpki"
	"github.com/portcullis/portcullis/metrics"
)

// startPortcullis serves Portcullis, wired from env as main wires it, on
// srv (unstarted, so that PUBLIC_URL could name it); discovery runs in
// the background. It returns the log.
func startPortcullis(t *testing.T, srv *httptest.Server, env map[string]string) *syncBuffer {
	t.Helper()
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	logs := &syncBuffer{}
	h, jobs, err := newServer(cfg, metrics.New(), slog.New(slog.NewTextHandler(logs, nil)), nil)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	for _, j := range jobs {
		go j(ctx)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return logs
}

func trustEnv(public, app string) map[string]string {
	return map[string]string{
		"PORTCULLIS_COOKIE_SECRET":  "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_COOKIE_SECURE":  "false",
		"PORTCULLIS_PUBLIC_URL":     public,
		"PORTCULLIS_UPSTREAM":       app,
		"PORTCULLIS_METRICS_LISTEN": "off",
		"PORTCULLIS_CLIENT_ID":      tokensClientID,
		"PORTCULLIS_CLIENT_SECRET":  tokensClientSecret,
	}
}

// TestUntrustedProviderCertificate: a provider on a private CA that
// Portcullis was not told about gets a 502 page at sign-in that says so;
// with PROVIDER_CA_FILE the sign-in works; and when the CA is withdrawn
// later, signed-in users keep working (the refresh fails transiently).
func TestUntrustedProviderCertificate(t *testing.T) {
	t.Parallel()
	pki := testpki.New(t)
	app := stack.Serve(t, stack.EchoHandler())
	fakeSrv := httptest.NewUnstartedServer(nil)
	issuer := "https://" + fakeSrv.Listener.Addr().String()
	fakeSrv.Config.Handler = idp.New(idp.Options{ClientID: tokensClientID, ClientSecret: tokensClientSecret, OIDC: true, Issuer: issuer,
		AutoApprove: "alice", IssueRefreshTokens: true, ExpiresIn: time.Hour})
	pki.StartTLS(fakeSrv, false)
	t.Cleanup(fakeSrv.Close)

	t.Run("oidc without the CA", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewUnstartedServer(nil)
		public := "http://" + srv.Listener.Addr().String()
		env := trustEnv(public, app.URL)
		env["PORTCULLIS_PROVIDER"], env["PORTCULLIS_ISSUER_URL"] = "oidc", issuer
		startPortcullis(t, srv, env)
		b := stack.NewBrowser(t, public)
		var resp *http.Response
		var body string
		for range 200 { // until discovery has failed once
			resp = b.Get("/oauth2/start?rd=/app")
			body = stack.ReadBody(t, resp)
			if resp.StatusCode != http.StatusServiceUnavailable {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "TLS certificate is not trusted") || !strings.Contains(body, "PROVIDER_CA_FILE") {
			t.Errorf("/oauth2/start = %d; want 502 saying the certificate is not trusted and naming PROVIDER_CA_FILE:\n%s", resp.StatusCode, body)
		}
	})

	t.Run("oauth2 without the CA", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewUnstartedServer(nil)
		public := "http://" + srv.Listener.Addr().String()
		env := trustEnv(public, app.URL)
		env["PORTCULLIS_AUTH_URL"], env["PORTCULLIS_TOKEN_URL"], env["PORTCULLIS_USERINFO_URL"] = issuer+"/authorize", issuer+"/token", issuer+"/userinfo"
		startPortcullis(t, srv, env)
		b := stack.NewBrowser(t, public)
		pki.Trust(b.Client, false) // the browser trusts the provider; Portcullis does not
		resp, _ := b.Follow("/app", nil)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "TLS certificate is not trusted") || !strings.Contains(body, "PROVIDER_CA_FILE") {
			t.Errorf("callback = %d; want 502 saying the certificate is not trusted and naming PROVIDER_CA_FILE:\n%s", resp.StatusCode, body)
		}
	})

	t.Run("with the CA, then withdrawn", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewUnstartedServer(nil)
		public := "http://" + srv.Listener.Addr().String()
		// The generic provider: its refresh goes to the token URL at once
		// (an OIDC one would first wait for discovery, also transient).
		env := trustEnv(public, app.URL)
		env["PORTCULLIS_AUTH_URL"], env["PORTCULLIS_TOKEN_URL"], env["PORTCULLIS_USERINFO_URL"] = issuer+"/authorize", issuer+"/token", issuer+"/userinfo"
		env["PORTCULLIS_PROVIDER_CA_FILE"] = pki.CAFile
		startPortcullis(t, srv, env)
		b := stack.NewBrowser(t, public)
		pki.Trust(b.Client, false)
		if echo := b.SignIn("/app"); echo.Headers.Get("X-User") != "alice@example.com" {
			t.Fatalf("signed in as %q; want alice@example.com", echo.Headers.Get("X-User"))
		}

		// A replica restarted without the CA; its sessions are due for a
		// refresh (REFRESH_SKEW longer than the token's hour).
		srv2 := httptest.NewUnstartedServer(nil)
		env2 := maps.Clone(env)
		delete(env2, "PORTCULLIS_PROVIDER_CA_FILE")
		env2["PORTCULLIS_REFRESH_SKEW"] = "2h"
		logs := startPortcullis(t, srv2, env2)
		b2 := stack.NewBrowser(t, "http://"+srv2.Listener.Addr().String())
		for name, ck := range b.Cookies {
			b2.Cookies[name] = ck
		}
		b2.Header = http.Header{"Accept": {"application/json"}}
		resp := b2.Get("/app")
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /app with the CA withdrawn = %d; want 200 within REFRESH_GRACE", resp.StatusCode)
		}
		if l := logs.String(); !strings.Contains(l, "token refresh failed") || !strings.Contains(l, "TLS certificate is not trusted") {
			t.Errorf("log = %s; want the refresh failed on the certificate", l)
		}
	})
}

// TestPrivateKeyJWTWired: the provider checks Portcullis's client
// assertions against /.well-known/portcullis/jwks.json, which serves the
// client key beside the X-Portcullis-Assertion keys, with distinct kids.
func TestPrivateKeyJWTWired(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := testpki.WritePEM(t, "client.pem", "PRIVATE KEY", der)
	app := stack.Serve(t, stack.EchoHandler())
	srv := httptest.NewUnstartedServer(nil)
	public := "http://" + srv.Listener.Addr().String()
	jwksURL := public + "/.well-known/portcullis/jwks.json"

	fakeSrv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + fakeSrv.Listener.Addr().String()
	fakeSrv.Config.Handler = idp.New(idp.Options{ClientID: tokensClientID, ClientSecret: "not-this", OIDC: true, Issuer: issuer,
		AutoApprove: "alice", RequirePKCE: true, ClientAssertion: idp.PrivateKeyJWT(stack.HTTPClient(t), jwksURL, issuer, nil)})
	fakeSrv.Start()
	t.Cleanup(fakeSrv.Close)

	env := trustEnv(public, app.URL)
	delete(env, "PORTCULLIS_CLIENT_SECRET")
	env["PORTCULLIS_PROVIDER"], env["PORTCULLIS_ISSUER_URL"] = "oidc", issuer
	env["PORTCULLIS_TOKEN_AUTH_STYLE"] = "private_key_jwt"
	env["PORTCULLIS_CLIENT_KEY_FILE"] = keyFile
	env["PORTCULLIS_CLIENT_KEY_ID"] = "portcullis-client-1"
	env["PORTCULLIS_ASSERTION"] = "true"
	startPortcullis(t, srv, env)
	waitReady(t, public)

	b := stack.NewBrowser(t, public)
	if echo := b.SignIn("/app"); echo.Headers.Get("X-User") != "alice@example.com" {
		t.Fatalf("signed in as %q; want alice@example.com", echo.Headers.Get("X-User"))
	}
	resp, err := http.Get(jwksURL)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if len(set.Keys) != 2 || set.Keys[0].Kid == set.Keys[1].Kid || (set.Keys[0].Kid != "portcullis-client-1" && set.Keys[1].Kid != "portcullis-client-1") {
		t.Errorf("JWKS keys %+v; want the assertion key and portcullis-client-1", set.Keys)
	}
}

// TestTrustProblemsAtStart: unreadable, empty or wrong files, missing
// partners and a public client without PKCE are found at start with the
// configuration's own problems, all at once, each naming its variable,
// per provider.
func TestTrustProblemsAtStart(t *testing.T) {
	t.Parallel()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(ed)
	edFile := testpki.WritePEM(t, "ed.pem", "PRIVATE KEY", edDER)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	pki := testpki.New(t)
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET":             "short",
		"PORTCULLIS_UPSTREAM":                  "http://127.0.0.1:9",
		"PORTCULLIS_PROVIDERS":                 "corp,apple,pub",
		"PORTCULLIS_CORP_PROVIDER":             "oidc",
		"PORTCULLIS_CORP_ISSUER_URL":           "https://sso.corp.example",
		"PORTCULLIS_CORP_CLIENT_ID":            "c-id",
		"PORTCULLIS_CORP_PROVIDER_CA_FILE":     missing,
		"PORTCULLIS_CORP_PROVIDER_CERT_FILE":   pki.CertFile,
		"PORTCULLIS_CORP_TOKEN_AUTH_STYLE":     "private_key_jwt",
		"PORTCULLIS_CORP_CLIENT_KEY_FILE":      edFile,
		"PORTCULLIS_APPLE_PROVIDER":            "apple",
		"PORTCULLIS_APPLE_CLIENT_ID":           "com.example.web",
		"PORTCULLIS_PUB_PROVIDER":              "oidc",
		"PORTCULLIS_PUB_ISSUER_URL":            "https://pub.example",
		"PORTCULLIS_PUB_CLIENT_ID":             "p-id",
		"PORTCULLIS_PUB_TOKEN_AUTH_STYLE":      "none",
		"PORTCULLIS_PUB_PKCE":                  "false",
		"PORTCULLIS_PUB_CLIENT_ASSERTION_FILE": missing,    // not used by none: no problem
		"PORTCULLIS_APPLE_PROVIDER_CA_FILE":    pki.CAFile, // fine
	}
	_, err := loadConfig(envMap(env))
	if err == nil {
		t.Fatal("loadConfig = nil; want every problem")
	}
	want := []string{
		"PORTCULLIS_APPLE_APPLE_TEAM_ID: required by the apple preset",
		"PORTCULLIS_APPLE_CLIENT_KEY_FILE: required by the apple preset",
		"PORTCULLIS_APPLE_CLIENT_KEY_ID: required by the apple preset",
		"PORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes or at least 32 characters, got 5 characters",
		"PORTCULLIS_CORP_CLIENT_KEY_FILE: an Ed25519 key; want an RSA (RS256) or EC P-256 (ES256) key",
		"PORTCULLIS_CORP_PROVIDER_CA_FILE: cannot read " + missing + ": no such file or directory",
		"PORTCULLIS_CORP_PROVIDER_KEY_FILE: required with PORTCULLIS_CORP_PROVIDER_CERT_FILE (the client certificate's private key)",
		"PORTCULLIS_PUB_PKCE: must not be false with PORTCULLIS_PUB_TOKEN_AUTH_STYLE=none: a public client's code is protected by PKCE alone",
	}
	got, _ := strings.CutPrefix(err.Error(), "invalid configuration:\n")
	if !slices.Equal(strings.Split(got, "\n"), want) {
		t.Errorf("loadConfig error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
