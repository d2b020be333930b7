package proxy_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
)

// oidcProvider starts the stack's fake provider in OIDC mode, adjusted by
// configure if not nil, and returns the proxy's entry for it, discovery
// not yet done.
func oidcProvider(t *testing.T, configure func(*idp.Options)) (proxy.Provider, *providers.OIDC, *stack.Provider) {
	t.Helper()
	fake := stack.StartProvider(t, func(o *idp.Options) {
		o.OIDC = true
		if configure != nil {
			configure(o)
		}
	})
	o, err := providers.NewOIDC(providers.OIDCConfig{
		Config:    providers.Config{ID: "corp", ClientID: stack.ClientID, ClientSecret: stack.ClientSecret, Scopes: []string{"openid", "email", "profile"}},
		IssuerURL: fake.URL,
	})
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return proxy.Provider{ID: "corp", DisplayName: "Corp", PKCE: true, ClientID: stack.ClientID, Provider: o}, o, fake
}

func TestOIDCSignInThroughProxy(t *testing.T) {
	t.Parallel()
	entry, o, fake := oidcProvider(t, nil)
	h := newHarness(t, setup{proxy: func(po *proxy.Options) {
		po.Providers = []proxy.Provider{entry}
		po.ReadyChecks = append(po.ReadyChecks, func(context.Context) error {
			if !o.Ready() {
				return context.DeadlineExceeded
			}
			return nil
		})
	}})
	b := h.browser()
	// Before discovery: not ready, and sign-in says so instead of failing oddly.
	if resp := b.Get("/ready"); resp.StatusCode != 503 {
		t.Errorf("/ready before discovery = %d; want 503", resp.StatusCode)
	}
	resp := b.Get("/oauth2/start")
	stack.ReadBody(t, resp)
	if resp.StatusCode != 503 {
		t.Errorf("/oauth2/start before discovery = %d; want 503", resp.StatusCode)
	}
	if err := o.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp := b.Get("/ready"); resp.StatusCode != 200 {
		t.Errorf("/ready after discovery = %d; want 200", resp.StatusCode)
	}
	resp = b.Get("/oauth2/start?rd=/x")
	authURL, _ := resp.Location()
	if authURL.Query().Get("nonce") == "" {
		t.Errorf("no nonce in the authorization URL: %v", authURL)
	}
	resp.Body.Close()
	e := b.SignIn("/x")
	if e.Headers.Get("X-User") != "alice@example.com" || e.Headers.Get("X-User-Provider") != "corp" {
		t.Errorf("identity = %q/%q; want alice@example.com/corp", e.Headers.Get("X-User"), e.Headers.Get("X-User-Provider"))
	}
	// Sign-out goes to the discovered end-session endpoint with the ID token hint.
	resp = b.Get("/oauth2/sign_out?rd=/bye")
	stack.ReadBody(t, resp)
	loc, _ := resp.Location()
	if loc == nil || !strings.HasSuffix(loc.Path, "/logout") || loc.Query().Get("id_token_hint") == "" {
		t.Errorf("sign-out went to %v; want the discovered logout with id_token_hint", loc)
	}
	if fake.Calls("revoke") != 1 {
		t.Errorf("revocations at the discovered endpoint = %d; want 1", fake.Calls("revoke"))
	}
}

// TestSignOutLogoutRedirectParam: the provider's end-session URL gets the
// parameters of its kind: OpenID Connect's post_logout_redirect_uri with
// id_token_hint and client_id, or, for a provider that names the way back
// otherwise (Cognito's logout_uri), that name with client_id alone.
func TestSignOutLogoutRedirectParam(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		param string
		want  []string // the parameters the URL carries besides the way back
	}{
		{"", []string{"post_logout_redirect_uri", "id_token_hint", "client_id"}},
		{"logout_uri", []string{"logout_uri", "client_id"}},
	} {
		t.Run("param="+tt.param, func(t *testing.T) {
			t.Parallel()
			entry, o, _ := oidcProvider(t, nil)
			entry.LogoutRedirectParam = tt.param
			if err := o.Discover(context.Background()); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, setup{proxy: func(po *proxy.Options) { po.Providers = []proxy.Provider{entry} }})
			b := h.browser()
			b.SignIn("/")
			resp := b.Get("/oauth2/sign_out?rd=/bye")
			stack.ReadBody(t, resp)
			loc, _ := resp.Location()
			if loc == nil || !strings.HasSuffix(loc.Path, "/logout") {
				t.Fatalf("sign-out went to %v; want the provider's logout", loc)
			}
			q := loc.Query()
			back := "post_logout_redirect_uri"
			if tt.param != "" {
				back = tt.param
			}
			if got := q.Get(back); got != h.proxy.URL+"/bye" {
				t.Errorf("%s = %q; want %s/bye", back, got, h.proxy.URL)
			}
			if q.Get("client_id") != stack.ClientID {
				t.Errorf("client_id = %q; want %s", q.Get("client_id"), stack.ClientID)
			}
			var got []string
			for k := range q {
				got = append(got, k)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("logout URL parameters = %q; want %q", got, want)
			}
		})
	}
}

func TestOIDCForgedIDTokenRejected(t *testing.T) {
	t.Parallel()
	tests := map[string]func(*idp.Options){
		"unknown key":    func(o *idp.Options) { o.SignWithUnknownKey = true },
		"wrong audience": func(o *idp.Options) { o.IDTokenClaims = func(c map[string]any) { c["aud"] = "someone-else" } },
		"wrong nonce":    func(o *idp.Options) { o.IDTokenClaims = func(c map[string]any) { c["nonce"] = "replayed" } },
		"expired": func(o *idp.Options) {
			o.IDTokenClaims = func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }
		},
	}
	for name, configure := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			entry, o, _ := oidcProvider(t, configure)
			if err := o.Discover(context.Background()); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, setup{proxy: func(po *proxy.Options) { po.Providers = []proxy.Provider{entry} }})
			b := h.browser()
			resp, _ := b.Follow("/", nil)
			body := stack.ReadBody(t, resp)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "ID token") {
				t.Errorf("forged ID token (%s) = %d; want 502 naming the ID token:\n%s", name, resp.StatusCode, body)
			}
			if _, ok := b.Cookies["_portcullis"]; ok {
				t.Errorf("a session was set")
			}
		})
	}
}
