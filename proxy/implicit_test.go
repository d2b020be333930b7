package proxy_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// implicitHarness runs the implicit flow against a fake provider that
// also serves another app, with access tokens valid for an hour, the
// proxy ending sessions with their token (VALIDATE_EXTERNAL_TOKEN), and
// the clock c shared by all three.
func implicitHarness(t *testing.T, c *testclock.Clock) *harness {
	t.Helper()
	implicit, _ := extraProvider(t, "legacy", idp.User{ID: "u-1", Username: "dave", Email: "dave@example.com"},
		func(o *idp.Options, pc *providers.Config) {
			pc.ResponseType = "token"
			pc.Now = c.Now
			o.ExpiresIn = time.Hour
			o.Now = c.Now
			o.Clients = []idp.Client{{ID: otherAppID, Secret: otherAppSecret}}
		})
	implicitCheck(t, &implicit)
	h := newHarness(t, setup{
		proxy: func(o *proxy.Options) {
			o.Providers = []proxy.Provider{implicit}
			o.Now = c.Now
			o.Tokens.ValidateExternal = true
		},
		session: func(o *session.Options) { o.Now = c.Now; o.Expire = 24 * time.Hour },
	})
	return h
}

// implicitFragment starts an implicit sign-in in b and returns the fields
// the provider put in the fragment, as the relay page would post them.
func implicitFragment(t *testing.T, b *stack.Browser) url.Values {
	t.Helper()
	resp := b.Get("/oauth2/start?rd=/implicit")
	authURL, _ := resp.Location()
	resp = b.Get(authURL.String())
	cb, _ := resp.Location()
	frag, err := url.ParseQuery(cb.Fragment)
	if err != nil || frag.Get("access_token") == "" || frag.Get("state") == "" {
		t.Fatalf("provider answered %v; want a fragment with access_token and state", cb)
	}
	return frag
}

// postFragment posts the relay page's form.
func postFragment(b *stack.Browser, form url.Values) *http.Response {
	return b.Do("POST", "/oauth2/callback", strings.NewReader(form.Encode()), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"},
	})
}

// TestImplicitFlowTokenOfAnotherApp: a token the provider issued to
// another app, posted to the callback with a fresh state of this browser,
// signs no one in.
func TestImplicitFlowTokenOfAnotherApp(t *testing.T) {
	t.Parallel()
	h := implicitHarness(t, testclock.Wall())
	tok, err := providers.ClientCredentials(context.Background(), providers.Config{
		ClientID: otherAppID, ClientSecret: otherAppSecret, TokenURL: providerBase(t, h.opts.Providers[0]) + "/token",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := h.browser()
	frag := implicitFragment(t, b)
	frag.Set("access_token", tok["access_token"].(string))
	resp := postFragment(b, frag)
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "did not confirm that this access token was issued to this application") {
		t.Errorf("callback with another app's token = %d; want 403 saying the provider did not confirm it is this application's:\n%s", resp.StatusCode, body)
	}
	if setsSessionCookie(resp) {
		t.Error("callback with another app's token set a session cookie")
	}
	b.Header = http.Header{"Accept": {"application/json"}}
	if resp := b.Get("/implicit"); resp.StatusCode != http.StatusUnauthorized {
		stack.ReadBody(t, resp)
		t.Errorf("after the refused callback GET /implicit = %d; want 401", resp.StatusCode)
	}
}

// TestImplicitFlowExpiryFromProvider: the session lives as long as the
// provider says the token does, not as long as the browser's expires_in.
func TestImplicitFlowExpiryFromProvider(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	h := implicitHarness(t, c)
	b := h.browser()
	frag := implicitFragment(t, b)
	if frag.Get("expires_in") != "3600" {
		t.Fatalf("provider's expires_in = %q; want 3600", frag.Get("expires_in"))
	}
	frag.Set("expires_in", "315360000") // ten years, says the browser
	resp := postFragment(b, frag)
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("implicit callback = %d; want 303", resp.StatusCode)
	}
	b.Header = http.Header{"Accept": {"application/json"}}
	if resp := b.Get("/implicit"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /implicit after sign-in = %d; want 200", resp.StatusCode)
	}
	c.Advance(2 * time.Hour)
	resp = b.Get("/implicit")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /implicit two hours later = %d; want 401: the provider's token lived an hour, whatever the browser said", resp.StatusCode)
	}
}

// providerBase is the base URL of the fake behind a provider entry, read
// from its authorization URL.
func providerBase(t *testing.T, p proxy.Provider) string {
	t.Helper()
	u, err := url.Parse(p.Provider.AuthCodeURL("x"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host
}

// implicitCheck gives an implicit-flow provider its token check:
// introspection at its fake provider.
func implicitCheck(t *testing.T, p *proxy.Provider) {
	t.Helper()
	v, err := providers.NewBearerValidator(providers.BearerConfig{Provider: p.Provider, IntrospectionURL: providerBase(t, *p) + "/introspect"})
	if err != nil {
		t.Fatal(err)
	}
	p.TokenCheck = v
}
