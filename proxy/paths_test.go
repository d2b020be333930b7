package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
)

// pathsStack is the development provider, an echoing app and the proxy in
// front of it with its own routes at paths, all on loopback; edit, if not
// nil, adjusts the proxy's options. It returns the proxy's URL.
func pathsStack(t *testing.T, paths proxy.Paths, edit func(*proxy.Options)) (base string, p *stack.Provider, m *metrics.Metrics) {
	t.Helper()
	p = stack.StartProvider(t, nil)
	app := stack.Serve(t, stack.EchoHandler())
	appURL, _ := url.Parse(app.URL)
	co := stack.CookieOptions()
	m = metrics.New()
	po := proxy.Options{
		Upstream:  proxy.Upstream{URL: appURL},
		Providers: []proxy.Provider{{ID: stack.ProviderID, DisplayName: stack.DisplayName, PKCE: true, Provider: stack.NewClient(t, p.ClientConfig())}},
		Sessions:  stack.NewCookieStore(t, co),
		Flows:     stack.NewFlows(t, co),
		Paths:     paths,
		Metrics:   m,
	}
	if edit != nil {
		edit(&po)
	}
	srv, err := proxy.New(po)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	return stack.Serve(t, srv).URL, p, m
}

// TestProxyPrefix: with PROXY_PREFIX=/sso every route of Portcullis's
// lives under /sso, the redirect URI is /sso/callback, a whole sign-in
// goes through it, the metrics keep their route labels, and the
// /oauth2/… paths are the application's like any other.
func TestProxyPrefix(t *testing.T) {
	t.Parallel()
	base, p, m := pathsStack(t, proxy.Paths{Prefix: "/sso"}, nil)

	api := stack.NewBrowser(t, base)
	api.Header = http.Header{"Accept": {"application/json"}}
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/sso/auth", http.StatusUnauthorized},
		{"/sso/forward-auth", http.StatusUnauthorized},
		{"/sso/userinfo", http.StatusUnauthorized},
		{"/sso/nothing-here", http.StatusNotFound},
		{"/sso/start?rd=/x", http.StatusFound},
		{"/sso/sign_in?rd=/x", http.StatusFound},
		{"/sso/sign_out", http.StatusFound},
		{"/oauth2/auth", http.StatusUnauthorized}, // the app's now: it needs a session
		{"/oauth2/nothing-here", http.StatusUnauthorized},
	} {
		resp := api.Get(tt.path)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s = %d %.200s; want %d", tt.path, resp.StatusCode, body, tt.status)
		}
	}

	b := stack.NewBrowser(t, base)
	resp := b.Get("/private?q=1")
	stack.ReadBody(t, resp)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/sso/start?") {
		t.Fatalf("GET /private without a session = %d to %q; want 302 to /sso/start?…", resp.StatusCode, loc)
	}
	resp = b.Get(resp.Header.Get("Location"))
	stack.ReadBody(t, resp)
	authURL, err := resp.Location()
	if err != nil || !strings.HasPrefix(authURL.String(), p.URL) {
		t.Fatalf("GET /sso/start = %d to %v; want a redirect to the provider", resp.StatusCode, authURL)
	}
	if got, want := authURL.Query().Get("redirect_uri"), base+"/sso/callback"; got != want {
		t.Errorf("redirect_uri = %q; want %q", got, want)
	}
	resp, hops := b.Follow(authURL.String(), nil)
	e := stack.DecodeEcho(t, resp)
	if e.URI != "/private?q=1" || e.Headers.Get("X-User") != "alice@example.com" {
		t.Fatalf("after sign-in (hops %v) the app got %s as %q; want /private?q=1 as alice@example.com", hops, e.URI, e.Headers.Get("X-User"))
	}

	// Signed in, the old paths reach the app, with the user's identity.
	for _, path := range []string{"/oauth2/auth", "/oauth2/sign_in", "/oauth2/userinfo", "/ping/x"} {
		e := stack.DecodeEcho(t, b.Get(path))
		if e.URI != path || e.Headers.Get("X-User") != "alice@example.com" {
			t.Errorf("GET %s signed in: the app got %q as %q; want it as alice@example.com", path, e.URI, e.Headers.Get("X-User"))
		}
	}
	resp = b.Get("/sso/auth")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Auth-Request-User") != "alice@example.com" {
		t.Errorf("GET /sso/auth signed in = %d as %q; want 202 as alice@example.com", resp.StatusCode, resp.Header.Get("X-Auth-Request-User"))
	}

	for _, tt := range []struct {
		route, code string
		want        float64
	}{
		{"auth", "401", 1}, {"auth", "202", 1}, {"forward_auth", "401", 1}, {"userinfo", "401", 1},
		{"start", "302", 2}, {"sign_in", "302", 1}, {"callback", "302", 1}, {"other", "404", 1},
		{"proxy", "200", 5},
	} {
		if got := counter(t, m, `portcullis_requests_total{code="`+tt.code+`",route="`+tt.route+`"}`); got != tt.want {
			t.Errorf("portcullis_requests_total{route=%q,code=%q} = %v; want %v", tt.route, tt.code, got, tt.want)
		}
	}
}

// TestProxyPrefixRedirects: the URLs Portcullis hands out point under the
// prefix: forward-auth's sign-in URL on PUBLIC_URL, the sign-in page's
// buttons, the cross-site sign-out's confirm form and the implicit flow's
// relay page.
func TestProxyPrefixRedirects(t *testing.T) {
	t.Parallel()
	public, _ := url.Parse("https://app.example.com")
	base, _, _ := pathsStack(t, proxy.Paths{Prefix: "/_auth/v1"}, func(o *proxy.Options) {
		o.Site.PublicURL = public
		o.Trust.ForwardedHeaders = true
		second := o.Providers[0]
		second.ID, second.DisplayName = "second", "Second provider"
		implicit := o.Providers[0]
		implicit.ID, implicit.ResponseType, implicit.TokenCheck = "legacy", "token", noTokenCheck{}
		o.Providers = append(o.Providers, second, implicit)
	})
	b := stack.NewBrowser(t, base)
	fwd := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Uri": {"/reports"}}
	resp := b.Do("GET", "/_auth/v1/forward-auth", nil, fwd)
	stack.ReadBody(t, resp)
	want := "https://app.example.com/_auth/v1/sign_in?rd=" + url.QueryEscape("https://app.example.com/reports")
	if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || got != want {
		t.Errorf("forward-auth without a session = %d to %q; want 302 to %q", resp.StatusCode, got, want)
	}
	for _, tt := range []struct {
		name, path string
		hdr        http.Header
		want       string
	}{
		{"sign-in page", "/_auth/v1/sign_in?rd=/r", nil, `href="/_auth/v1/start?provider=second&amp;rd=%2Fr"`},
		{"cross-site sign-out", "/_auth/v1/sign_out", http.Header{"Sec-Fetch-Site": {"cross-site"}}, `action="/_auth/v1/sign_out"`},
		{"relay page", "/_auth/v1/callback", nil, `action="/_auth/v1/callback"`},
	} {
		body := stack.ReadBody(t, b.Do("GET", tt.path, nil, tt.hdr))
		if !strings.Contains(body, tt.want) {
			t.Errorf("%s: the page lacks %s:\n%s", tt.name, tt.want, body)
		}
	}
}

// noTokenCheck confirms no token; the tests that use it never get that far.
type noTokenCheck struct{}

func (noTokenCheck) Check(context.Context, string) (*providers.Identity, time.Time, error) {
	return nil, time.Time{}, providers.ErrRejected
}

// TestHealthPaths: PING_PATH and READY_PATH move the health checks, and
// off gives their path to the application, behind sign-in like any other.
func TestHealthPaths(t *testing.T) {
	t.Parallel()
	base, _, _ := pathsStack(t, proxy.Paths{Ping: "/healthz", Ready: proxy.Off}, nil)
	api := stack.NewBrowser(t, base)
	api.Header = http.Header{}
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/healthz", http.StatusOK, "OK"},
		{"/ping", http.StatusUnauthorized, ""},
		{"/ready", http.StatusUnauthorized, ""},
	} {
		resp := api.Get(tt.path)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != tt.status || tt.body != "" && body != tt.body {
			t.Errorf("GET %s = %d %q; want %d %q", tt.path, resp.StatusCode, body, tt.status, tt.body)
		}
	}
	b := stack.NewBrowser(t, base)
	b.SignIn("/")
	for _, path := range []string{"/ping", "/ready"} {
		if e := stack.DecodeEcho(t, b.Get(path)); e.URI != path || e.Headers.Get("X-User") != "alice@example.com" {
			t.Errorf("GET %s signed in: the app got %q as %q; want it as alice@example.com", path, e.URI, e.Headers.Get("X-User"))
		}
	}
}

// TestPathsRefused: paths the mux would read as patterns, or that would
// put two routes on one path, are refused by New, not served.
func TestPathsRefused(t *testing.T) {
	t.Parallel()
	for _, paths := range []proxy.Paths{
		{Prefix: "/"},
		{Prefix: "oauth2"},
		{Prefix: "/oauth2/"},
		{Prefix: "/a//b"},
		{Prefix: "/a/../b"},
		{Prefix: "/{x}"},
		{Prefix: "/a b"},
		{Prefix: "/a%2Fb"},
		{Ping: "/"},
		{Ping: "/ping/"},
		{Ping: "/oauth2/ping"},
		{Ping: "/oauth2"},
		{Ping: "/x", Ready: "/x"},
		{Ready: "/.well-known/portcullis/jwks.json"},
		{Ready: "/{$}"},
	} {
		_, err := proxy.New(proxy.Options{
			Providers: []proxy.Provider{{ID: "oauth2", Provider: stack.NewClient(t, stack.OfflineConfig())}},
			Sessions:  stack.NewCookieStore(t, stack.CookieOptions()),
			Flows:     stack.NewFlows(t, stack.CookieOptions()),
			Paths:     paths,
		})
		if err == nil {
			t.Errorf("New with %+v: no error; want one", paths)
		}
	}
}

// TestReadyHidesItsReason: /ready answers anyone, so a failing check's
// reason (a Redis or database host, an address) goes to the log, not to
// the answer.
func TestReadyHidesItsReason(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.ReadyChecks = append(o.ReadyChecks, func(context.Context) error {
			return errors.New("redis: dial tcp 10.1.2.3:6379 (redis-primary.internal): connection refused")
		})
	}})
	resp := h.browser().Get("/ready")
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || body != "not ready" {
		t.Errorf("/ready with a failing check = %d %q; want 503 \"not ready\", the reason only in the log", resp.StatusCode, body)
	}
}
