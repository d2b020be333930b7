package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testpki"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/users"
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
	var reg *users.Registry
	if cfg.UsersDB != "" { // as serve opens it
		if reg, err = users.Open(t.Context(), cfg.UsersDB); err != nil {
			t.Fatalf("users.Open: %v", err)
		}
		t.Cleanup(func() { reg.Close() })
	}
	h, jobs, err := newServer(cfg, metrics.New(), slog.New(slog.NewTextHandler(logs, nil)), reg)
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

// appleFake is the fake provider in Sign in with Apple's shape: it takes
// only the ES256 client secret signed with key (kid KEY123, team
// TEAM123456), answers by form_post with the user's name on the first
// sign-in only, has no userinfo and no end-session endpoint, and its ID
// tokens carry the e-mail flags as strings and no name.
func appleFake(t *testing.T, key *ecdsa.PrivateKey, user idp.User) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = idp.New(idp.Options{
		ClientID: tokensClientID, ClientSecret: "not-this", ClientAuth: "body",
		OIDC: true, Issuer: "http://" + srv.Listener.Addr().String(), AutoApprove: user.Username, Users: []idp.User{user},
		RequirePKCE: true, IssueRefreshTokens: true, AppleUser: true,
		ClientSecretCheck: func(id, secret string) bool {
			tok, err := jwt.ParseSigned(secret, []jose.SignatureAlgorithm{jose.ES256})
			var c jwt.Claims
			return err == nil && tok.Headers[0].KeyID == "KEY123" && tok.Claims(&key.PublicKey, &c) == nil &&
				c.Issuer == "TEAM123456" && c.Subject == id && c.Audience.Contains("https://appleid.apple.com")
		},
		Discovery: func(doc map[string]any) {
			delete(doc, "userinfo_endpoint")
			delete(doc, "end_session_endpoint")
		},
		IDTokenClaims: func(c map[string]any) {
			c["email_verified"], c["is_private_email"] = "true", "true"
			for _, k := range []string{"name", "given_name", "family_name", "preferred_username", "groups"} {
				delete(c, k)
			}
		},
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

var formField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// appleSignIn signs a new browser in at public through the fake's
// form_post answer, POSTed cross-site from the fake's page as a browser
// submits it, and returns what the app then gets.
func appleSignIn(t *testing.T, public string, fake *httptest.Server) stack.Echo {
	t.Helper()
	b := stack.NewBrowser(t, public)
	resp := b.Get("/oauth2/start?rd=/app")
	stack.ReadBody(t, resp)
	authURL, err := resp.Location()
	if err != nil || authURL.Query().Get("response_mode") != "form_post" {
		t.Fatalf("start = %d to %v; want the authorization URL with response_mode=form_post", resp.StatusCode, authURL)
	}
	page := stack.ReadBody(t, b.Get(authURL.String()))
	form := url.Values{}
	for _, m := range formField.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	resp = b.Do("POST", "/oauth2/callback", strings.NewReader(form.Encode()), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {fake.URL}, "Sec-Fetch-Site": {"cross-site"},
	})
	if body := stack.ReadBody(t, resp); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("form_post callback = %d; want 303:\n%s", resp.StatusCode, body)
	}
	return stack.DecodeEcho(t, b.Do("GET", "/app", nil, http.Header{"Accept": {"application/json"}}))
}

// TestAppleThroughTheWiring: the apple preset as an operator sets it
// (no CLIENT_SECRET: Portcullis signs it; form_post by default). The
// name comes in the first sign-in's POST only: a later sign-in has none,
// unless the user registry kept it.
func TestAppleThroughTheWiring(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := testpki.WritePEM(t, "AuthKey_KEY123.p8", "PRIVATE KEY", der)
	user := idp.User{ID: "001234.5f2a.0917", Username: "jane", Email: "x7k2@privaterelay.appleid.com", GivenName: "Jane", FamilyName: "Appleseed"}
	for _, registry := range []bool{false, true} {
		t.Run(fmt.Sprintf("registry %v", registry), func(t *testing.T) {
			t.Parallel()
			fake := appleFake(t, key, user)
			app := stack.Serve(t, stack.EchoHandler())
			srv := httptest.NewUnstartedServer(nil)
			public := "http://" + srv.Listener.Addr().String()
			env := trustEnv(public, app.URL)
			delete(env, "PORTCULLIS_CLIENT_SECRET")
			env["PORTCULLIS_PROVIDER"], env["PORTCULLIS_ISSUER_URL"] = "apple", fake.URL
			env["PORTCULLIS_CLIENT_KEY_FILE"], env["PORTCULLIS_CLIENT_KEY_ID"], env["PORTCULLIS_APPLE_TEAM_ID"] = keyFile, "KEY123", "TEAM123456"
			if registry {
				env["PORTCULLIS_USERS_DB"] = filepath.Join(t.TempDir(), "users.db")
			}
			startPortcullis(t, srv, env)
			waitReady(t, public)

			first := appleSignIn(t, public, fake)
			for k, want := range map[string]string{
				"X-Email": user.Email, "X-User-Id": user.ID.(string), "X-User-Name": "Jane Appleseed",
				"X-User-Given-Name": "Jane", "X-User-Family-Name": "Appleseed", "X-User-Attr-Private-Email": "true",
			} {
				if got := first.Headers.Get(k); got != want {
					t.Errorf("first sign-in: the app got %s %q; want %q", k, got, want)
				}
			}
			later := appleSignIn(t, public, fake)
			want := ""
			if registry {
				want = "Jane Appleseed"
			}
			if got := later.Headers.Get("X-User-Name"); got != want {
				t.Errorf("later sign-in (no name in the POST): X-User-Name %q; want %q", got, want)
			}
		})
	}
}

// TestClientKeyIDsDistinct: two providers' private_key_jwt keys under one
// kid (CLIENT_KEY_ID) can't both be in Portcullis's JWKS, which lists a
// kid once: the start is refused, naming both variables. The same key
// under the same kid for two providers is one key, and fine.
func TestClientKeyIDsDistinct(t *testing.T) {
	t.Parallel()
	keyFile := func(name string) string {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		return testpki.WritePEM(t, name, "PRIVATE KEY", der)
	}
	one, two := keyFile("one.pem"), keyFile("two.pem")
	env := func(corpKey, labKey string) map[string]string {
		e := trustEnv("http://127.0.0.1:9", "http://127.0.0.1:9")
		delete(e, "PORTCULLIS_CLIENT_ID")
		delete(e, "PORTCULLIS_CLIENT_SECRET")
		e["PORTCULLIS_PROVIDERS"] = "corp,lab"
		for id, key := range map[string]string{"CORP": corpKey, "LAB": labKey} {
			e["PORTCULLIS_"+id+"_PROVIDER"] = "oauth2"
			e["PORTCULLIS_"+id+"_AUTH_URL"] = "https://" + strings.ToLower(id) + ".example/authorize"
			e["PORTCULLIS_"+id+"_TOKEN_URL"] = "https://" + strings.ToLower(id) + ".example/token"
			e["PORTCULLIS_"+id+"_USERINFO_URL"] = "https://" + strings.ToLower(id) + ".example/userinfo"
			e["PORTCULLIS_"+id+"_CLIENT_ID"] = "c-" + id
			e["PORTCULLIS_"+id+"_TOKEN_AUTH_STYLE"] = "private_key_jwt"
			e["PORTCULLIS_"+id+"_CLIENT_KEY_FILE"] = key
			e["PORTCULLIS_"+id+"_CLIENT_KEY_ID"] = "portcullis"
		}
		return e
	}
	for _, tc := range []struct {
		name     string
		lab      string
		wantErrs []string
	}{
		{"one key", one, nil},
		{"two keys", two, []string{"PORTCULLIS_LAB_CLIENT_KEY_ID", "PORTCULLIS_CORP_CLIENT_KEY_ID", `"portcullis"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadConfig(envMap(env(one, tc.lab)))
			if err != nil {
				t.Fatalf("loadConfig = %v", err)
			}
			_, err = buildProviders(cfg, metrics.New(), slog.New(slog.DiscardHandler))
			if tc.wantErrs == nil {
				if err != nil {
					t.Errorf("buildProviders = %v; want nil", err)
				}
				return
			}
			for _, want := range tc.wantErrs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("buildProviders = %v; want an error naming %s", err, want)
				}
			}
		})
	}
}
