package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/metrics"
)

// A presetWiringCase signs a user in through the whole wiring, with a
// preset pointed at the fake provider in that provider's shape, as an
// operator points a preset at a test double: the environment names the
// preset and the settings that move it (ISSUER_URL, or the URLs).
type presetWiringCase struct {
	preset string
	// shape gives the fake the provider's shape (public: Portcullis's
	// URL); the runner sets the client, the users, AutoApprove and, with
	// an issuer, OIDC.
	shape func(o *idp.Options, public string)
	users []idp.User
	// issuer is ISSUER_URL ({base}: the fake's URL); "" leaves OIDC off.
	issuer string
	// env is more of the environment ({base} as above).
	env map[string]string
	// headers are what the app must receive; a header given as "" must be
	// absent.
	headers map[string]string
	// signOut checks where /oauth2/sign_out sends the browser (base: the
	// fake's URL, public: Portcullis's). When that is the fake's /logout,
	// the fake must send the browser back to Portcullis.
	signOut func(t *testing.T, loc *url.URL, base, public string)
}

// providerLogout checks loc is the fake's /logout with exactly want's
// parameters; "*" accepts any non-empty value.
func providerLogout(t *testing.T, loc *url.URL, base string, want map[string]string) {
	t.Helper()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != base+"/logout" {
		t.Errorf("sign-out sent the browser to %s; want %s/logout", loc, base)
	}
	q := loc.Query()
	for k, v := range want {
		if got := q.Get(k); got == "" || (v != "*" && got != v) {
			t.Errorf("sign-out %s = %q; want %q", k, got, v)
		}
	}
	for k := range q {
		if _, ok := want[k]; !ok {
			t.Errorf("sign-out URL carries %s=%q, which the provider does not take", k, q.Get(k))
		}
	}
}

// localSignOut checks that sign-out stayed with Portcullis: the provider
// has no end-session endpoint.
func localSignOut(t *testing.T, loc *url.URL, _, public string) {
	t.Helper()
	if loc.Path != "/" || (loc.Host != "" && loc.Scheme+"://"+loc.Host != public) {
		t.Errorf("sign-out sent the browser to %s; want / on Portcullis (no provider sign-out)", loc)
	}
}

func TestPresetsThroughTheWiring(t *testing.T) {
	t.Parallel()
	verified := true
	alice := idp.User{ID: "00u1ab2cd3EF4gh5ij6k", Username: "alice@example.com", Email: "alice@example.com",
		EmailVerified: &verified, Name: "Alice Example", Groups: []string{"Everyone", "Engineering"}}
	tests := []presetWiringCase{
		{
			preset: "okta", issuer: "{base}/oauth2/default", users: []idp.User{alice},
			shape: func(o *idp.Options, _ string) { o.IssueRefreshTokens = true },
			headers: map[string]string{
				"X-User": "alice@example.com", "X-User-Id": "00u1ab2cd3EF4gh5ij6k", "X-Email": "alice@example.com",
				"X-User-Name": "Alice Example", "X-User-Groups": "Everyone,Engineering",
				"X-Forwarded-Preferred-Username": "alice@example.com",
			},
			// OpenID Connect RP-Initiated Logout at the discovered
			// end_session_endpoint.
			signOut: func(t *testing.T, loc *url.URL, base, public string) {
				providerLogout(t, loc, base, map[string]string{
					"post_logout_redirect_uri": public + "/", "id_token_hint": "*", "client_id": tokensClientID,
				})
			},
		},
		{
			preset: "cognito", issuer: "{base}/eu-west-1_aBcDeFgHi", users: []idp.User{alice},
			shape: func(o *idp.Options, public string) {
				o.IssueRefreshTokens = true
				o.IDTokenClaims = func(c map[string]any) {
					c["token_use"], c["cognito:username"], c["cognito:groups"] = "id", c["preferred_username"], c["groups"]
					delete(c, "preferred_username")
					delete(c, "groups")
				}
				o.Userinfo = func(u idp.User) any {
					return map[string]any{"sub": u.ID, "email": u.Email, "email_verified": "true", "username": u.Username}
				}
				o.Discovery = func(doc map[string]any) {
					delete(doc, "end_session_endpoint")
					delete(doc, "introspection_endpoint")
				}
				o.Logout, o.SignOutURLs = "cognito", []string{public + "/"}
			},
			headers: map[string]string{
				"X-User": "alice@example.com", "X-User-Id": "00u1ab2cd3EF4gh5ij6k", "X-Email": "alice@example.com",
				"X-User-Groups": "Everyone,Engineering", "X-Forwarded-Preferred-Username": "alice@example.com",
			},
			// Cognito's own /logout, on the authorization endpoint's
			// host: client_id and logout_uri, nothing else.
			signOut: func(t *testing.T, loc *url.URL, base, public string) {
				providerLogout(t, loc, base, map[string]string{"client_id": tokensClientID, "logout_uri": public + "/"})
			},
		},
		{
			// Gitea's issuer is its ROOT_URL, with the slash; it sends
			// email_verified in the ID token only, and has no end-session
			// endpoint.
			preset: "gitea", issuer: "{base}/", users: []idp.User{alice},
			shape: func(o *idp.Options, _ string) {
				o.IssueRefreshTokens = true
				o.Userinfo = func(u idp.User) any {
					return map[string]any{"sub": u.ID, "name": u.Name, "preferred_username": u.Username, "email": u.Email, "groups": u.Groups}
				}
				o.Discovery = func(doc map[string]any) {
					delete(doc, "end_session_endpoint")
					delete(doc, "revocation_endpoint")
				}
			},
			headers: map[string]string{
				"X-User": "alice@example.com", "X-User-Id": "00u1ab2cd3EF4gh5ij6k", "X-Email": "alice@example.com",
				"X-User-Groups": "Everyone,Engineering", "X-User-Name": "Alice Example",
			},
			signOut: localSignOut,
		},
		{
			// OAuth2: the URLs moved to the fake; the address comes from
			// USERINFO_URL + /emails.
			preset: "bitbucket", users: []idp.User{alice},
			env: map[string]string{
				"PORTCULLIS_AUTH_URL": "{base}/authorize", "PORTCULLIS_TOKEN_URL": "{base}/token", "PORTCULLIS_USERINFO_URL": "{base}/userinfo",
			},
			shape: func(o *idp.Options, _ string) {
				o.ClientAuth, o.IssueRefreshTokens, o.RotateRefreshTokens = "basic", true, true
				o.Userinfo = func(u idp.User) any {
					return map[string]any{"type": "user", "uuid": "{" + u.ID.(string) + "}", "username": "alice", "display_name": u.Name,
						"nickname": u.Name, "account_id": "557058:" + u.ID.(string), "links": map[string]any{"avatar": map[string]any{"href": "https://avatar.example/a.png"}}}
				}
				o.Emails = func(u idp.User) any {
					return map[string]any{"pagelen": 10, "page": 1, "size": 2, "values": []map[string]any{
						{"email": "alice@old.example", "is_primary": false, "is_confirmed": false},
						{"email": u.Email, "is_primary": true, "is_confirmed": true},
					}}
				}
			},
			headers: map[string]string{
				"X-User": "alice@example.com", "X-User-Id": "{00u1ab2cd3EF4gh5ij6k}", "X-Email": "alice@example.com",
				"X-User-Name": "Alice Example", "X-Forwarded-Preferred-Username": "alice",
				"X-User-Attr-Account-Id": "557058:00u1ab2cd3EF4gh5ij6k",
			},
			signOut: localSignOut,
		},
		{
			// OAuth2: the URLs moved to the fake. Discord has no groups.
			preset: "discord", users: []idp.User{alice},
			env: map[string]string{
				"PORTCULLIS_AUTH_URL": "{base}/authorize", "PORTCULLIS_TOKEN_URL": "{base}/token",
				"PORTCULLIS_USERINFO_URL": "{base}/userinfo", "PORTCULLIS_REVOKE_URL": "{base}/revoke",
			},
			shape: func(o *idp.Options, _ string) {
				o.ClientAuth, o.RequirePKCE, o.IssueRefreshTokens, o.RotateRefreshTokens = "basic", true, true, true
				o.Userinfo = func(u idp.User) any {
					return map[string]any{"id": "80351110224678912", "username": "alice", "discriminator": "0", "global_name": u.Name,
						"email": u.Email, "verified": true, "locale": "en-US"}
				}
			},
			headers: map[string]string{
				"X-User": "alice@example.com", "X-User-Id": "80351110224678912", "X-Email": "alice@example.com",
				"X-User-Name": "Alice Example", "X-Forwarded-Preferred-Username": "alice", "X-User-Groups": "",
			},
			signOut: localSignOut,
		},
	}
	for _, tc := range tests {
		t.Run(tc.preset, func(t *testing.T) {
			t.Parallel()
			runPresetWiring(t, tc)
		})
	}
}

func runPresetWiring(t *testing.T, tc presetWiringCase) {
	fake := httptest.NewUnstartedServer(nil)
	t.Cleanup(fake.Close)
	base := "http://" + fake.Listener.Addr().String()
	sub := func(s string) string { return strings.ReplaceAll(s, "{base}", base) }
	portcullis := httptest.NewUnstartedServer(nil)
	t.Cleanup(portcullis.Close)
	public := "http://" + portcullis.Listener.Addr().String()
	var opts idp.Options
	if tc.shape != nil {
		tc.shape(&opts, public)
	}
	opts.ClientID, opts.ClientSecret = tokensClientID, tokensClientSecret
	opts.Users, opts.AutoApprove = tc.users, tc.users[0].Username
	if tc.issuer != "" {
		opts.OIDC, opts.Issuer = true, sub(tc.issuer)
	}
	if err := opts.Validate(); err != nil {
		t.Fatalf("idp Validate() = %v", err)
	}
	fake.Config.Handler = idp.New(opts)
	fake.Start()
	app := stack.Serve(t, stack.EchoHandler())

	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET":  "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_COOKIE_SECURE":  "false",
		"PORTCULLIS_PUBLIC_URL":     public,
		"PORTCULLIS_UPSTREAM":       app.URL,
		"PORTCULLIS_METRICS_LISTEN": "off",
		"PORTCULLIS_PROVIDER":       tc.preset,
		"PORTCULLIS_CLIENT_ID":      tokensClientID,
		"PORTCULLIS_CLIENT_SECRET":  tokensClientSecret,
	}
	if tc.issuer != "" {
		env["PORTCULLIS_ISSUER_URL"] = sub(tc.issuer)
	}
	for k, v := range tc.env {
		env[k] = sub(v)
	}
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	h, jobs, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	for _, j := range jobs {
		go j(ctx) // discovery
	}
	portcullis.Config.Handler = h
	portcullis.Start()
	waitReady(t, public)

	b := stack.NewBrowser(t, public)
	echo := b.SignIn("/app")
	for k, want := range tc.headers {
		if got := echo.Headers.Get(k); got != want {
			t.Errorf("the app got %s: %q; want %q", k, got, want)
		}
	}

	resp := b.Get("/oauth2/sign_out")
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("sign-out = %d, Location %v; want 302", resp.StatusCode, err)
	}
	tc.signOut(t, loc, base, public)
	if b.Cookie("_portcullis") != "" {
		t.Error("the session cookie is still there after sign-out")
	}
	if loc.Path == "/logout" && strings.HasPrefix(loc.String(), base) {
		resp := b.Get(loc.String())
		resp.Body.Close()
		if back, _ := resp.Location(); resp.StatusCode != http.StatusFound || back == nil || back.String() != public+"/" {
			t.Errorf("the provider's sign-out = %d to %v; want 302 back to %s/", resp.StatusCode, back, public)
		}
	}
}

// waitReady waits until Portcullis at public answers /ready with 200
// (discovery done).
func waitReady(t *testing.T, public string) {
	t.Helper()
	for range 200 {
		resp, err := http.Get(public + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("Portcullis never became ready")
}
