package proxy_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
)

func TestBearerTokens(t *testing.T) {
	t.Parallel()
	for _, enabled := range []bool{true, false} {
		h := newHarness(t, setup{proxy: func(o *proxy.Options) {
			withBearerTokens(t, o)
			o.Access.BearerTokens = enabled
		}})
		access := serviceAccountToken(t, h)
		c := h.browser()
		c.Header = http.Header{"Accept": {"text/html"}} // even a "browser" with a bad token gets 401
		for _, tt := range []struct {
			token string
			want  int
		}{{access, 200}, {access, 200}, {"not-a-real-token", 401}} {
			resp := c.Do("GET", "/api/items", nil, http.Header{"Authorization": {"Bearer " + tt.token}})
			if !enabled {
				stack.ReadBody(t, resp)
				if resp.StatusCode != http.StatusFound {
					t.Errorf("BEARER_TOKENS off: a bearer request = %d; want the sign-in redirect", resp.StatusCode)
				}
				continue
			}
			if resp.StatusCode != tt.want {
				t.Errorf("bearer %.8q… = %d; want %d", tt.token, resp.StatusCode, tt.want)
			}
			if tt.want == 200 {
				e := stack.DecodeEcho(t, resp)
				if !strings.HasPrefix(e.Headers.Get("X-User"), "service-account") || e.Headers.Get("X-User-Provider") != "oauth2" {
					t.Errorf("bearer identity = %q/%q", e.Headers.Get("X-User"), e.Headers.Get("X-User-Provider"))
				}
			} else if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			resp.Body.Close()
			if len(c.Cookies) != 0 {
				t.Errorf("a bearer request set cookies: %v", c.Cookies)
			}
		}
		if enabled && h.idp.Calls("userinfo") != 2 {
			t.Errorf("userinfo calls for two uses of one token and a bad one = %d; want 2 (cached)", h.idp.Calls("userinfo"))
		}
	}
}

// withBearerTokens accepts bearer tokens for the harness's first provider,
// checked at its userinfo URL, which BEARER_ALLOW_UNBOUND allows (binding
// tokens to the client: TestBearerTokenOfAnotherApp).
func withBearerTokens(t *testing.T, o *proxy.Options) {
	t.Helper()
	o.Access.BearerTokens = true
	v, err := providers.NewBearerValidator(providers.BearerConfig{Provider: o.Providers[0].Provider, AllowUnbound: true})
	if err != nil {
		t.Fatal(err)
	}
	o.Providers[0].Bearer = v
}

// serviceAccountToken is an access token from the harness's provider for
// the client's own service account (client credentials grant).
func serviceAccountToken(t *testing.T, h *harness) string {
	t.Helper()
	return appToken(t, h, stack.ClientID, stack.ClientSecret)
}

func TestIdentityAssertion(t *testing.T) {
	t.Parallel()
	signer, err := assertion.NewSigner(assertion.Options{Issuer: "https://portcullis.example", Audience: "wiki"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Identity.Assertions = signer }})
	b := h.browser()
	b.SignIn("/")
	b.Header = http.Header{"Accept": {"application/json"}}
	resp := b.Do("GET", "/", nil, http.Header{"X-Portcullis-Assertion": {"forged"}})
	e := stack.DecodeEcho(t, resp)
	resp.Body.Close()
	raw := e.Headers.Get("X-Portcullis-Assertion")
	if raw == "" || raw == "forged" {
		t.Fatalf("upstream assertion = %q; want one signed by Portcullis", raw)
	}
	// An upstream verifies it with the public keys Portcullis serves.
	keys := oidc.NewRemoteKeySet(context.Background(), h.proxy.URL+"/.well-known/portcullis/jwks.json")
	v := oidc.NewVerifier("https://portcullis.example", keys, &oidc.Config{ClientID: "wiki", SupportedSigningAlgs: []string{"ES256"}})
	tok, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify the assertion: %v", err)
	}
	var claims struct {
		User  string   `json:"user"`
		Email string   `json:"email"`
		Group []string `json:"groups"`
	}
	if err := tok.Claims(&claims); err != nil || claims.User != "alice@example.com" || claims.Email != "alice@example.com" {
		t.Errorf("assertion claims = %+v, %v", claims, err)
	}
	if tok.Subject != "1001" {
		t.Errorf("sub = %q; want 1001", tok.Subject)
	}
}

// The other app registered at the harness's provider.
const (
	otherAppID     = "other-app"
	otherAppSecret = "other-app-secret"
)

// appToken is a client-credentials access token the harness's provider
// issued to the client id:secret.
func appToken(t *testing.T, h *harness, id, secret string) string {
	t.Helper()
	ep := h.idp.Endpoints
	tok, err := providers.ClientCredentials(context.Background(), providers.Config{
		ClientID: id, ClientSecret: secret, AuthURL: ep.AuthURL, TokenURL: ep.TokenURL, UserinfoURL: ep.UserinfoURL,
	}, nil)
	if err != nil {
		t.Fatalf("client credentials as %s: %v", id, err)
	}
	return tok["access_token"].(string)
}

// TestBearerTokenOfAnotherApp: a token the provider issued to another app
// gets 401 invalid_token, never the app, whether the provider can tell
// whose it is (introspection) or not (userinfo only).
func TestBearerTokenOfAnotherApp(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		introspect bool
		ownStatus  int
	}{
		{"userinfo only", false, http.StatusUnauthorized},
		{"introspection", true, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached atomic.Int32
			h := newHarness(t, setup{
				idp:      func(o *idp.Options) { o.Clients = []idp.Client{{ID: otherAppID, Secret: otherAppSecret}} },
				proxy:    func(o *proxy.Options) { o.Access.BearerTokens = true },
				upstream: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }),
			})
			cfg := providers.BearerConfig{Provider: h.opts.Providers[0].Provider}
			if tt.introspect {
				cfg.IntrospectionURL = h.idp.Endpoints.IntrospectionURL
			}
			v, err := providers.NewBearerValidator(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// The validator needs the provider's URL: a second proxy with it.
			h.opts.Providers[0].Bearer = v
			srv, err := proxy.New(h.opts)
			if err != nil {
				t.Fatal(err)
			}
			p := stack.Serve(t, srv)
			client := stack.HTTPClient(t)
			call := func(token string) *http.Response {
				req, _ := http.NewRequest(http.MethodGet, p.URL+"/api/items", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Accept", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}
			resp := call(appToken(t, h, otherAppID, otherAppSecret))
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
				t.Errorf("another app's token = %d %q; want 401 with WWW-Authenticate: Bearer error=\"invalid_token\"", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if reached.Load() != 0 {
				t.Errorf("another app's token reached the upstream")
			}
			if resp := call(appToken(t, h, stack.ClientID, stack.ClientSecret)); resp.StatusCode != tt.ownStatus {
				t.Errorf("our own token = %d; want %d", resp.StatusCode, tt.ownStatus)
			}
		})
	}
}

// TestBearerAttackerTokens: every token a client could present that is not
// an access token issued to this client gets 401 with WWW-Authenticate:
// Bearer error="invalid_token" — never a 500, never the app.
func TestBearerAttackerTokens(t *testing.T) {
	t.Parallel()
	entry, o, fake := oidcProvider(t, func(io *idp.Options) {
		io.JWTAccessTokens = true
		io.Clients = []idp.Client{{ID: otherAppID, Secret: otherAppSecret}}
	})
	if err := o.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := providers.NewBearerValidator(providers.BearerConfig{Provider: o})
	if err != nil {
		t.Fatal(err)
	}
	entry.Bearer = v
	var reached atomic.Int32
	h := newHarness(t, setup{
		proxy:    func(po *proxy.Options) { po.Providers = []proxy.Provider{entry}; po.Access.BearerTokens = true },
		upstream: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }),
	})
	base := o.Endpoints().Issuer
	grant := func(id, secret string) string {
		tok, err := providers.ClientCredentials(context.Background(), providers.Config{ClientID: id, ClientSecret: secret, TokenURL: base + "/token"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok["access_token"].(string)
	}
	idToken, err := fake.IDToken(base, stack.ClientID, "alice", "n-1")
	if err != nil {
		t.Fatal(err)
	}
	logoutToken, err := fake.SignJWT("logout+jwt", map[string]any{"iss": base, "aud": stack.ClientID, "sub": "1001", "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	client := stack.HTTPClient(t)
	call := func(token string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, h.proxy.URL+"/api", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := call(grant(stack.ClientID, stack.ClientSecret)); resp.StatusCode != http.StatusOK || reached.Load() != 1 {
		t.Fatalf("our own JWT access token = %d; want 200 from the app", resp.StatusCode)
	}
	for _, tt := range []struct{ name, token string }{
		{"another app's JWT access token", grant(otherAppID, otherAppSecret)},
		{"an ID token", idToken},
		{"a logout token", logoutToken},
		{"a JWT with a forged kid", strings.Join(strings.Split(idToken, ".")[:2], ".") + ".AAAA"},
		{"an opaque token the provider never issued", "opaque-0123456789"},
		{"a malformed token", "a b"},
	} {
		resp := call(tt.token)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("%s = %d %q; want 401 with WWW-Authenticate: Bearer error=\"invalid_token\"", tt.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if n := reached.Load(); n != 1 {
		t.Errorf("the app was reached %d times; want once, by our own token", n)
	}
}
