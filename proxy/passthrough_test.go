package proxy_test

import (
	"cmp"
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
)

// TestAuthPassthroughParams: /oauth2/start forwards the listed parameters
// to the authorization URL, by exact name, the first value of each,
// replacing AUTH_PARAMS' value; nothing else a client puts on the link
// reaches the provider, least of all what the sign-in sets itself.
func TestAuthPassthroughParams(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{
		provider: func(c *providers.Config) { c.AuthParams = url.Values{"prompt": {"consent"}} },
		proxy: func(o *proxy.Options) {
			o.Providers[0].PassthroughParams = []string{"login_hint", "prompt", "kc_idp_hint"}
		},
	})
	authURL := func(t *testing.T, query string) (int, url.Values) {
		t.Helper()
		resp := h.browser().Get("/oauth2/start?rd=/&" + query)
		stack.ReadBody(t, resp)
		loc, _ := resp.Location()
		if loc == nil {
			return resp.StatusCode, nil
		}
		return resp.StatusCode, loc.Query()
	}
	_, plain := authURL(t, "")
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "code_challenge_method"} {
		if plain.Get(k) == "" {
			t.Fatalf("plain authorization URL lacks %s: %v", k, plain)
		}
	}

	tests := []struct {
		name  string
		query string
		want  map[string][]string // nil value: absent
	}{
		{"listed", "login_hint=alice%40example.com&kc_idp_hint=github",
			map[string][]string{"login_hint": {"alice@example.com"}, "kc_idp_hint": {"github"}}},
		{"replaces AUTH_PARAMS", "prompt=login", map[string][]string{"prompt": {"login"}}},
		{"empty keeps AUTH_PARAMS", "prompt=", map[string][]string{"prompt": {"consent"}}},
		{"not listed", "ui_locales=de&domain_hint=example.com&acr_values=1",
			map[string][]string{"ui_locales": nil, "domain_hint": nil, "acr_values": nil}},
		{"case variants are other names", "Login_Hint=x&LOGIN_HINT=y&Prompt=none",
			map[string][]string{"login_hint": nil, "Login_Hint": nil, "LOGIN_HINT": nil, "Prompt": nil, "prompt": {"consent"}}},
		{"repeated: the first", "login_hint=first&login_hint=second", map[string][]string{"login_hint": {"first"}}},
		{"the sign-in's own parameters", "client_id=evil&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=token&scope=admin" +
			"&state=mine&nonce=mine&code_challenge=mine&code_challenge_method=plain&response_mode=query&request_uri=https%3A%2F%2Fevil.example%2Fr",
			map[string][]string{
				"client_id": {plain.Get("client_id")}, "redirect_uri": {plain.Get("redirect_uri")}, "response_type": {"code"},
				"scope": {plain.Get("scope")}, "code_challenge_method": {"S256"}, "response_mode": nil, "request_uri": nil,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, q := authURL(t, tt.query)
			if status != http.StatusFound {
				t.Fatalf("start?%s = %d; want 302", tt.query, status)
			}
			for k, want := range tt.want {
				if got := q[k]; !slices.Equal(got, want) {
					t.Errorf("start?%s: authorization URL %s = %q; want %q", tt.query, k, got, want)
				}
			}
			for _, k := range []string{"state", "code_challenge"} {
				if v := q.Get(k); v == "" || v == "mine" || len(q[k]) != 1 {
					t.Errorf("start?%s: authorization URL %s = %q; want one value of our own", tt.query, k, q[k])
				}
			}
		})
	}

	t.Run("value too long", func(t *testing.T) {
		t.Parallel()
		status, q := authURL(t, "login_hint="+strings.Repeat("a", 1025))
		if status != http.StatusBadRequest {
			t.Errorf("start with a 1025-byte login_hint = %d %v; want 400", status, q)
		}
	})
}

// TestSignInPassesParamsOn: /oauth2/sign_in hands a provider's listed
// parameters on to its /oauth2/start link — the shortcut taken with one
// provider (as oauth2-proxy's skip-provider-button starts the sign-in with
// the sign-in request's own parameters), and each provider's button —
// and only that provider's, so nothing unlisted reaches any provider.
func TestSignInPassesParamsOn(t *testing.T) {
	t.Parallel()
	t.Run("one provider", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Providers[0].PassthroughParams = []string{"login_hint"} }})
		b := h.browser()
		for _, path := range []string{"/oauth2/sign_in?rd=/app&login_hint=bob%40example.com&prompt=none", "/oauth2/sign_in?mode=popup&login_hint=bob%40example.com"} {
			resp := b.Get(path)
			stack.ReadBody(t, resp)
			loc, _ := resp.Location()
			if loc == nil || loc.Path != "/oauth2/start" || loc.Query().Get("login_hint") != "bob@example.com" || loc.Query().Has("prompt") {
				t.Fatalf("GET %s = %d to %v; want /oauth2/start with login_hint only", path, resp.StatusCode, loc)
			}
			resp = b.Get(loc.String())
			stack.ReadBody(t, resp)
			auth, _ := resp.Location()
			if auth == nil || auth.Query().Get("login_hint") != "bob@example.com" {
				t.Errorf("authorization URL from %s = %v; want login_hint=bob@example.com", path, auth)
			}
		}
	})
	t.Run("buttons", func(t *testing.T) {
		t.Parallel()
		corp, _ := extraProvider(t, "corp", idp.User{ID: "c-7", Username: "carol", Email: "carol@corp.example"}, nil)
		corp.PassthroughParams = []string{"kc_idp_hint"}
		h := newHarness(t, setup{proxy: func(o *proxy.Options) {
			o.Providers[0].ID, o.Providers[0].PassthroughParams = "main", []string{"login_hint"}
			o.Providers = append(o.Providers, corp)
		}})
		page := stack.ReadBody(t, h.browser().Get("/oauth2/sign_in?rd=/app&login_hint=bob%40example.com&kc_idp_hint=github&prompt=none"))
		for _, want := range []string{
			`href="/oauth2/start?login_hint=bob%40example.com&amp;provider=main&amp;rd=%2Fapp"`,
			`href="/oauth2/start?kc_idp_hint=github&amp;provider=corp&amp;rd=%2Fapp"`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("sign-in page lacks %s:\n%s", want, page)
			}
		}
	})
}

// TestPassthroughRefusesProtectedNames: a provider whose passthrough list
// names a parameter the sign-in sets itself, in any spelling, is refused.
func TestPassthroughRefusesProtectedNames(t *testing.T) {
	t.Parallel()
	client := stack.NewClient(t, stack.StartProvider(t, nil).ClientConfig())
	for _, name := range []string{"client_id", "Redirect_URI", "response_type", "SCOPE", "state", "nonce",
		"code_challenge", "code_challenge_method", "response_mode", "request", "request_uri", "client_secret"} {
		_, err := proxy.New(proxy.Options{
			Providers: []proxy.Provider{{ID: "p", Provider: client, PassthroughParams: []string{"login_hint", name}}},
			Sessions:  stack.NewCookieStore(t, stack.CookieOptions()),
			Flows:     stack.NewFlows(t, stack.CookieOptions()),
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("New with passthrough %q = %v; want an error naming it", name, err)
		}
	}
}

// TestSignOutLogoutRedirectURL: the provider's end-session URL gets rd
// (made absolute; "/" when rd is off-site or absent) as
// post_logout_redirect_uri, or LOGOUT_REDIRECT_URL, or with "none" no way
// back at all; id_token_hint and client_id go along as OpenID Connect
// RP-Initiated Logout says.
func TestSignOutLogoutRedirectURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setting  string
		param    string // LogoutRedirectParam
		rd       string
		wantBack string // "": none; a path: on the proxy
		want     []string
	}{
		{"rd", "", "", "/bye?x=1", "/bye?x=1", []string{"post_logout_redirect_uri", "id_token_hint", "client_id"}},
		{"no rd", "", "", "", "/", []string{"post_logout_redirect_uri", "id_token_hint", "client_id"}},
		{"rd off-site", "", "", "https://evil.example/phish", "/", []string{"post_logout_redirect_uri", "id_token_hint", "client_id"}},
		{"rd scheme-relative", "", "", "//evil.example/phish", "/", []string{"post_logout_redirect_uri", "id_token_hint", "client_id"}},
		{"custom", "https://app.example.com/signed-out", "", "/bye", "https://app.example.com/signed-out",
			[]string{"post_logout_redirect_uri", "id_token_hint", "client_id"}},
		{"none", "none", "", "/bye", "", []string{"id_token_hint", "client_id"}},
		{"none, Cognito", "none", "logout_uri", "/bye", "", []string{"client_id"}},
		{"custom, Cognito", "https://app.example.com/signed-out", "logout_uri", "/bye", "https://app.example.com/signed-out",
			[]string{"logout_uri", "client_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entry, o, _ := oidcProvider(t, nil)
			entry.LogoutRedirectURL, entry.LogoutRedirectParam = tt.setting, tt.param
			if err := o.Discover(context.Background()); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, setup{proxy: func(po *proxy.Options) { po.Providers = []proxy.Provider{entry} }})
			b := h.browser()
			b.SignIn("/")
			resp := b.Get("/oauth2/sign_out?rd=" + url.QueryEscape(tt.rd))
			stack.ReadBody(t, resp)
			loc, _ := resp.Location()
			if loc == nil || !strings.HasSuffix(loc.Path, "/logout") {
				t.Fatalf("sign-out went to %v; want the provider's logout", loc)
			}
			q := loc.Query()
			back := cmp.Or(tt.param, "post_logout_redirect_uri")
			want := tt.wantBack
			if strings.HasPrefix(want, "/") {
				want = h.proxy.URL + want
			}
			if got := q.Get(back); got != want {
				t.Errorf("%s = %q; want %q", back, got, want)
			}
			if got := slices.Sorted(maps.Keys(q)); !slices.Equal(got, slices.Sorted(slices.Values(tt.want))) {
				t.Errorf("logout URL parameters = %q; want %q", got, slices.Sorted(slices.Values(tt.want)))
			}
			if q.Get("client_id") != stack.ClientID {
				t.Errorf("client_id = %q; want %s", q.Get("client_id"), stack.ClientID)
			}
			if _, ok := b.Cookies["_portcullis"]; ok {
				t.Errorf("still signed in")
			}
		})
	}
}
