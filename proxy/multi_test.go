package proxy_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
)

// extraProvider starts another fake provider, for user only, and returns
// the proxy's entry for it, with the given id, and the provider. Unlike
// the harness's, it does not require PKCE, and its client asks for the
// openid scope only; configure, if not nil, adjusts both.
func extraProvider(t *testing.T, id string, user idp.User, configure func(*idp.Options, *providers.Config)) (proxy.Provider, *stack.Provider) {
	t.Helper()
	pc := providers.Config{ID: id, ClientID: stack.ClientID, ClientSecret: stack.ClientSecret, Scopes: []string{"openid"}}
	fake := stack.StartProvider(t, func(o *idp.Options) {
		o.AutoApprove, o.Users, o.RequirePKCE = user.Username, []idp.User{user}, false
		if configure != nil {
			configure(o, &pc)
		}
	})
	pc.AuthURL, pc.TokenURL, pc.UserinfoURL = fake.Endpoints.AuthURL, fake.Endpoints.TokenURL, fake.Endpoints.UserinfoURL
	return proxy.Provider{ID: id, DisplayName: "Provider " + strings.ToUpper(id), PKCE: pc.ResponseType != "token",
		ResponseType: pc.ResponseType, Provider: stack.NewClient(t, pc)}, fake
}

func TestSeveralProviders(t *testing.T) {
	t.Parallel()
	corp, corpIDP := extraProvider(t, "corp", idp.User{ID: "c-7", Username: "carol", Email: "carol@corp.example"}, nil)
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Providers[0].ID = "main"
		o.Providers = append(o.Providers, corp)
		o.Pages.SignInTitle = "Sign in to Acme"
	}})

	b := h.browser()
	resp := b.Get("/app")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/oauth2/sign_in?rd=") {
		t.Fatalf("GET /app with two providers = %d to %q; want 302 to the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = b.Get(resp.Header.Get("Location"))
	page := stack.ReadBody(t, resp)
	for _, want := range []string{"Sign in to Acme", "Sign in with Test provider", "Sign in with Provider CORP",
		`href="/oauth2/start?provider=corp&amp;rd=%2Fapp"`} {
		if !strings.Contains(page, want) {
			t.Errorf("sign-in page lacks %q:\n%s", want, page)
		}
	}

	e := b.SignIn("/oauth2/start?provider=corp&rd=/app")
	if got := e.Headers.Get("X-User-Provider"); got != "corp" {
		t.Errorf("X-User-Provider = %q; want corp", got)
	}
	if got := e.Headers.Get("X-User"); got != "carol@corp.example" {
		t.Errorf("X-User = %q; want carol@corp.example", got)
	}
	if got := h.idp.Calls("token"); got != 0 {
		t.Errorf("the other provider's token endpoint was called %d times", got)
	}
	if got := corpIDP.Calls("token"); got != 1 {
		t.Errorf("the chosen provider's token endpoint was called %d times; want 1", got)
	}

	unknown := h.browser().Get("/oauth2/start?provider=nope")
	stack.ReadBody(t, unknown)
	if unknown.StatusCode != http.StatusBadRequest {
		t.Errorf("/oauth2/start?provider=nope = %d; want 400", unknown.StatusCode)
	}
}

// TestCallbackMixUp: a code from provider A arriving with a state made for
// provider B is never taken to be A's: the proxy uses the provider bound to
// the state, and that provider refuses the foreign code.
func TestCallbackMixUp(t *testing.T) {
	t.Parallel()
	corp, corpIDP := extraProvider(t, "corp", idp.User{ID: "c-7", Username: "carol", Email: "carol@corp.example"}, nil)
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Providers[0].ID = "main"
		o.Providers = append(o.Providers, corp)
	}})
	b := h.browser()
	// A flow for corp: get corp's code (without delivering it).
	resp := b.Get("/oauth2/start?provider=corp&rd=/")
	corpAuth, _ := resp.Location()
	resp = b.Get(corpAuth.String())
	corpCB, _ := resp.Location()
	// A flow for main in the same browser, whose state we keep.
	resp = b.Get("/oauth2/start?provider=main&rd=/")
	mainAuth, _ := resp.Location()
	mainState := mainAuth.Query().Get("state")

	q := url.Values{"code": {corpCB.Query().Get("code")}, "state": {mainState}}
	resp = b.Get("/oauth2/callback?" + q.Encode())
	body := stack.ReadBody(t, resp)
	if resp.StatusCode < 400 {
		t.Fatalf("corp's code with main's state = %d; want a refusal:\n%s", resp.StatusCode, body)
	}
	if _, ok := b.Cookies["_portcullis"]; ok {
		t.Errorf("a session was set from a mixed-up callback")
	}
	if got := corpIDP.Calls("token"); got != 0 {
		t.Errorf("corp's token endpoint called %d times; the code must not be exchanged there", got)
	}
}

func TestImplicitFlow(t *testing.T) {
	t.Parallel()
	implicit, fake := extraProvider(t, "legacy", idp.User{ID: "u-1", Username: "dave", Email: "dave@example.com"},
		func(_ *idp.Options, pc *providers.Config) { pc.ResponseType = "token" })
	implicitCheck(t, &implicit)
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Providers = []proxy.Provider{implicit} }})
	b := h.browser()
	resp := b.Get("/oauth2/start?rd=/implicit")
	authURL, _ := resp.Location()
	if got := authURL.Query().Get("response_type"); got != "token" {
		t.Fatalf("response_type = %q; want token", got)
	}
	if authURL.Query().Get("code_challenge") != "" {
		t.Errorf("PKCE sent with the implicit flow")
	}
	resp = b.Get(authURL.String())
	cb, _ := resp.Location() // …/oauth2/callback#access_token=…&state=…
	if cb.Fragment == "" {
		t.Fatalf("provider answered without a fragment: %v", cb)
	}
	// The callback without the fragment serves the relay page.
	cb2 := *cb
	cb2.Fragment = ""
	resp = b.Get(cb2.String())
	page := stack.ReadBody(t, resp)
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(page, `<form id="relay" method="post" action="/oauth2/callback">`) {
		t.Fatalf("relay page = %d:\n%s", resp.StatusCode, page)
	}
	if !strings.Contains(csp, "script-src 'nonce-") || strings.Contains(csp, "unsafe-inline") || strings.Contains(page, "onload=") {
		t.Errorf("relay page CSP %q is not strict, or the page has inline handlers", csp)
	}
	// What the page's script does: POST the fragment's fields.
	frag, _ := url.ParseQuery(cb.Fragment)
	post := func(form url.Values, hdr http.Header) *http.Response {
		if hdr == nil {
			hdr = http.Header{}
		}
		hdr.Set("Content-Type", "application/x-www-form-urlencoded")
		return b.Do("POST", "/oauth2/callback", strings.NewReader(form.Encode()), hdr)
	}
	cross := post(frag, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	stack.ReadBody(t, cross)
	if cross.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST to the callback = %d; want 403", cross.StatusCode)
	}
	forged := url.Values{"access_token": frag["access_token"], "state": {"forged"}}
	if resp := post(forged, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("forged state = %d; want 400", resp.StatusCode)
	}
	resp = post(frag, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/implicit" {
		t.Fatalf("implicit callback POST = %d to %q; want 303 to /implicit", resp.StatusCode, resp.Header.Get("Location"))
	}
	b.Header = http.Header{"Accept": {"application/json"}}
	resp = b.Get("/implicit")
	e := stack.DecodeEcho(t, resp)
	resp.Body.Close()
	if e.Headers.Get("X-User") != "dave@example.com" || e.Headers.Get("X-User-Provider") != "legacy" {
		t.Errorf("upstream identity = %q/%q; want dave@example.com/legacy", e.Headers.Get("X-User"), e.Headers.Get("X-User-Provider"))
	}
	if fake.Calls("introspect") != 1 || fake.Calls("userinfo") == 0 {
		t.Errorf("introspection, userinfo called %d, %d times; want the token checked as this client's, then the profile read",
			fake.Calls("introspect"), fake.Calls("userinfo"))
	}
	// Replaying the POST is refused: the state was single use.
	if resp := post(frag, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed implicit callback = %d; want 400", resp.StatusCode)
	}
}
