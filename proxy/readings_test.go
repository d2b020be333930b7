package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/proxy"
)

// readingRoutes guard /finance for the finance group (alice is not in it)
// and make /public/ public.
var readingRoutes = []proxy.Route{
	{Path: regexp.MustCompile(`^/public/`), Public: true},
	{Path: regexp.MustCompile(`^/finance(/|$)`), Rules: proxy.Rules{Groups: []string{"finance"}}},
}

// financeBypasses are paths that some server reads as /finance…: by case,
// trailing dots and whitespace, a second decoding, path parameters, a
// fragment, a NUL, a backslash.
var financeBypasses = []string{
	"/finance",
	"/FINANCE",
	"/Finance/report",
	"/fInAnCe",
	"/finance.",
	"/finance..",
	"/finance%2e",
	"/finance%2E",
	"/finance%20",
	"/finance%09",
	"/finance.%20.",
	"/FINANCE%2e/",
	"/%2566inance",
	"/%2546INANCE",
	"/finance%252e",
	"/finance#x",
	"/finance;x",
	"/finance;x/report",
	"/finance%3bx",
	"/finance%00",
	"/finance%00.html",
	"/finance\\report",
	"/finance%5creport",
	"/public/..;/finance",
	"/public/..%3b/finance",
	"/public/..%5cfinance",
	"/public/..%252ffinance",
	"/public/..%20/finance",
	"/public/..%2e/finance",
	"/public%2f..%2ffinance",
	"/public/%2e%2e/Finance",
}

// publicPaths stay public: every reading of them is under /public/.
var publicPaths = []string{
	"/public/app.js",
	"/public/App.JS",
	"/public/a%20b.txt",
	"/public/x;v=1",
	"/public/",
}

// notPublic are paths with some reading outside /public/.
var notPublic = []string{
	"/PUBLIC/x",
	"/Public/x",
	"/public/..;/x",
	"/public/..%5cx",
	"/public/..%252fx",
	"/public/..%20/x",
	"/public/..%2e/x",
	"/public/x#/../../y",
	// Overlong UTF-8 for "/" (C0 AF, E0 80 AF) that old IIS decoded, and
	// any other byte sequence that isn't UTF-8 once decoded: no reading of
	// it can be trusted.
	"/public/..%c0%afx",
	"/public/..%e0%80%afx",
	"/public/%ff",
}

// raw serves the request line "method target" as the server parses it
// (a raw "#" stays in the path, as Go's server keeps it), with cookies.
func raw(h *harness, method, target string, hdr http.Header, cookies map[string]*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header[k] = v
	}
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	w := httptest.NewRecorder()
	h.server.ServeHTTP(w, r)
	return w
}

// cleaned reports the mux's redirect of a path with dot segments to its
// clean form: not the app either.
func cleaned(w *httptest.ResponseRecorder) bool {
	return (w.Code == http.StatusMovedPermanently || w.Code == http.StatusTemporaryRedirect) &&
		!strings.Contains(w.Header().Get("Location"), "..")
}

// TestPathReadingsProxy: in proxy mode a restricting route holds on every
// reading of the path, and a public one only when it holds on all.
func TestPathReadingsProxy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Access.Routes = readingRoutes }})
	alice := h.browser()
	alice.SignIn("/")
	jsonOnly := http.Header{"Accept": {"application/json"}}
	for _, p := range financeBypasses {
		if w := raw(h, "GET", p, jsonOnly, alice.Cookies); w.Code != http.StatusForbidden && !cleaned(w) {
			t.Errorf("alice (not in finance) GET %s = %d; want 403", p, w.Code)
		}
	}
	for _, p := range publicPaths {
		if w := raw(h, "GET", p, jsonOnly, nil); w.Code != http.StatusOK {
			t.Errorf("anonymous GET %s = %d; want 200 (public)", p, w.Code)
		}
	}
	for _, p := range notPublic {
		if w := raw(h, "GET", p, jsonOnly, nil); w.Code != http.StatusUnauthorized && !cleaned(w) {
			t.Errorf("anonymous GET %s = %d; want 401 (not public)", p, w.Code)
		}
	}
}

// TestPathReadingsForwardAuth: the same readings of the original path on
// /oauth2/auth and /oauth2/forward-auth, as nginx sends it (raw
// $request_uri).
func TestPathReadingsForwardAuth(t *testing.T) {
	t.Parallel()
	h, alice := forwardAuthHarness(t, readingRoutes)
	ask := func(endpoint, uri string, cookies map[string]*http.Cookie) int {
		hdr := http.Header{"Accept": {"application/json"}, "X-Forwarded-Uri": {uri}, "X-Forwarded-Method": {"GET"}}
		return raw(h, "GET", endpoint, hdr, cookies).Code
	}
	for _, endpoint := range []string{"/oauth2/auth", "/oauth2/forward-auth"} {
		for _, p := range financeBypasses {
			if got := ask(endpoint, p, alice.Cookies); got != http.StatusForbidden {
				t.Errorf("%s, alice (not in finance), original %s = %d; want 403", endpoint, p, got)
			}
		}
		okStatus := map[string]int{"/oauth2/auth": http.StatusAccepted, "/oauth2/forward-auth": http.StatusOK}[endpoint]
		for _, p := range publicPaths {
			if got := ask(endpoint, p, nil); got != okStatus {
				t.Errorf("%s, anonymous, original %s = %d; want %d (public)", endpoint, p, got, okStatus)
			}
		}
		for _, p := range notPublic {
			if got := ask(endpoint, p, nil); got != http.StatusUnauthorized {
				t.Errorf("%s, anonymous, original %s = %d; want 401 (not public)", endpoint, p, got)
			}
		}
	}
}

// TestMethodOverride: a request that carries a method override is judged
// under its own method and the overriding one, the stricter winning, in
// proxy mode and forward-auth alike, whatever the header's spelling.
func TestMethodOverride(t *testing.T) {
	t.Parallel()
	routes := []proxy.Route{
		{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/docs/`), Public: true},
		{Methods: []string{"POST"}, Path: regexp.MustCompile(`^/forms/`), Rules: proxy.Rules{Emails: []string{"bob@example.com"}}},
	}
	overrides := []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "x-http-method-override", "X_HTTP_Method_Override"}
	tests := []struct {
		name, method, path, override string
		alice                        bool
		want                         int // proxy mode; forward-auth answers 401/403 alike
	}{
		{"public GET overridden to DELETE", "GET", "/docs/x", "DELETE", false, http.StatusUnauthorized},
		{"public GET overridden to post", "GET", "/docs/x", "post", false, http.StatusUnauthorized},
		{"GET overridden to a restricted POST", "GET", "/forms/a", "POST", true, http.StatusForbidden},
		{"POST overridden to GET keeps the POST rule", "POST", "/forms/a", "GET", true, http.StatusForbidden},
	}
	for _, mode := range []string{"proxy", "forward-auth"} {
		h := newHarness(t, setup{proxy: func(o *proxy.Options) {
			o.Access.Routes = routes
			if mode == "forward-auth" {
				o.Upstream.URL = nil
				o.Trust.ForwardedHeaders = true
			}
		}})
		alice := h.browser()
		alice.SignIn("/oauth2/start?rd=/oauth2/userinfo")
		for _, tt := range tests {
			for _, name := range overrides {
				hdr := http.Header{"Accept": {"application/json"}, name: {tt.override}}
				method, target := tt.method, tt.path
				if mode == "forward-auth" {
					method, target = "GET", "/oauth2/forward-auth"
					hdr["X-Forwarded-Method"] = []string{tt.method}
					hdr["X-Forwarded-Uri"] = []string{tt.path}
				}
				var cookies map[string]*http.Cookie
				if tt.alice {
					cookies = alice.Cookies
				}
				if got := raw(h, method, target, hdr, cookies).Code; got != tt.want {
					t.Errorf("%s: %s, %s: %s = %d; want %d", mode, tt.name, name, tt.override, got, tt.want)
				}
			}
		}
	}
}
