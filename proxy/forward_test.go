package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

func TestForwardAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Upstream.URL = nil // forward-auth only
		o.Trust.ForwardedHeaders = true
		o.Access.Routes = []proxy.Route{
			{Path: regexp.MustCompile(`^/public/`), Public: true},
			{Path: regexp.MustCompile(`^/admin(/|$)`), Rules: proxy.Rules{Groups: []string{"admins"}}},
			{Path: regexp.MustCompile(`^/finance(/|$)`), Rules: proxy.Rules{Groups: []string{"finance"}}},
			{Methods: []string{"POST"}, Path: regexp.MustCompile(`^/forms/`), Rules: proxy.Rules{Emails: []string{"bob@example.com"}}},
		}
	}})
	alice := h.browser()
	alice.SignIn("/oauth2/start?rd=/oauth2/userinfo") // lands on our JSON userinfo
	fwd := func(method, uri string) http.Header {
		return http.Header{
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.com"},
			"X-Forwarded-Uri": {uri}, "X-Forwarded-Method": {method},
		}
	}
	tests := []struct {
		name    string
		b       *stack.Browser
		accept  string
		hdr     http.Header
		want    int
		wantLoc string
	}{
		{"anonymous browser", nil, "text/html", fwd("GET", "/docs?page=2"), 302,
			"/oauth2/start?rd=" + url.QueryEscape("https://app.example.com/docs?page=2")},
		{"anonymous XHR", nil, "text/html", func() http.Header {
			h := fwd("GET", "/docs")
			h.Set("X-Requested-With", "XMLHttpRequest")
			return h
		}(), 401, ""},
		{"anonymous API", nil, "application/json", fwd("GET", "/docs"), 401, ""},
		{"anonymous public route", nil, "application/json", fwd("GET", "/public/logo.png"), 200, ""},
		{"alice allowed", alice, "text/html", fwd("GET", "/docs"), 200, ""},
		{"alice in admins", alice, "text/html", fwd("GET", "/admin/users"), 200, ""},
		{"alice not in finance", alice, "text/html", fwd("GET", "/finance/"), 403, ""},
		{"dot segments judged as the upstream sees them", alice, "text/html", fwd("GET", "/public/../finance/x"), 403, ""},
		{"query cannot make a route public", nil, "application/json", fwd("GET", "/finance?/public/x"), 401, ""},
		{"encoded slash cannot make a route public", nil, "application/json", fwd("GET", "/finance/..%2Fpublic/x"), 401, ""},
		{"method-specific rule", alice, "text/html", fwd("POST", "/forms/a"), 403, ""},
		{"method-specific rule, other method", alice, "text/html", fwd("GET", "/forms/a"), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			if b == nil {
				b = h.browser()
			}
			hdr := tt.hdr.Clone()
			hdr.Set("Accept", tt.accept)
			resp := b.Do("GET", "/oauth2/forward-auth", nil, hdr)
			stack.ReadBody(t, resp)
			if resp.StatusCode != tt.want {
				t.Fatalf("forward-auth = %d; want %d", resp.StatusCode, tt.want)
			}
			if got := resp.Header.Get("Location"); got != tt.wantLoc {
				t.Errorf("Location = %q; want %q", got, tt.wantLoc)
			}
			if tt.want == 200 && tt.b != nil {
				for k, want := range map[string]string{"X-User": "alice@example.com", "X-Auth-Request-User": "alice@example.com", "X-Auth-Request-Email": "alice@example.com"} {
					if got := resp.Header.Get(k); got != want {
						t.Errorf("%s = %q; want %q", k, got, want)
					}
				}
			}
			if tt.want == 200 && tt.b == nil && resp.Header.Get("X-User") != "" {
				t.Errorf("public route answered with an identity")
			}
		})
	}
	// nginx passes $request_uri raw as X-Original-Uri: one that doesn't
	// parse (a bad %-escape) still gets every restricting route's rules.
	t.Run("X-Original-Uri, unparsable too", func(t *testing.T) {
		for _, uri := range []string{"/finance/report", "/finance/report%zz", "/finance/%"} {
			resp := alice.Do("GET", "/oauth2/auth", nil, http.Header{"Accept": {"application/json"}, "X-Original-Uri": {uri}})
			stack.ReadBody(t, resp)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("alice, X-Original-Uri %q = %d; want 403", uri, resp.StatusCode)
			}
		}
	})
}

// TestForwardedHeadersNotTrusted: without TRUST_FORWARDED_HEADERS, or from
// a peer outside TRUSTED_PROXIES, X-Forwarded-Uri changes nothing: no route
// becomes public, and the sign-in redirect doesn't point at a forged host.
// An original URI that isn't known is not taken for "/" either, though the
// home page is public.
func TestForwardedHeadersNotTrusted(t *testing.T) {
	t.Parallel()
	public := []proxy.Route{
		{Path: regexp.MustCompile(`^/public/`), Public: true},
		{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/$`), Public: true},
	}
	tests := []struct {
		name  string
		trust bool
		cidrs []netip.Prefix
	}{
		{"trust off", false, nil},
		{"peer not a trusted proxy", true, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{proxy: func(o *proxy.Options) {
				o.Upstream.URL = nil
				o.Access.Routes = public
				o.Trust.ForwardedHeaders = tt.trust
				o.Trust.Proxies = tt.cidrs
			}})
			spoof := http.Header{"X-Forwarded-Uri": {"/public/x"}, "X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Proto": {"https"}}
			for _, path := range []string{"/oauth2/auth", "/oauth2/forward-auth"} {
				spoof.Set("Accept", "application/json")
				resp := h.browser().Do("GET", path, nil, spoof)
				stack.ReadBody(t, resp)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s with a spoofed public X-Forwarded-Uri = %d; want 401", path, resp.StatusCode)
				}
			}
			spoof.Set("Accept", "text/html")
			resp := h.browser().Do("GET", "/oauth2/forward-auth", nil, spoof)
			stack.ReadBody(t, resp)
			if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || strings.Contains(loc, "evil") {
				t.Errorf("browser redirect = %d to %q; want a sign-in URL without the forged host", resp.StatusCode, loc)
			}
		})
	}
	t.Run("peer is a trusted proxy", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, setup{proxy: func(o *proxy.Options) {
			o.Upstream.URL = nil
			o.Access.Routes = public
			o.Trust.ForwardedHeaders = true
			o.Trust.Proxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}})
		resp := h.browser().Do("GET", "/oauth2/auth", nil, http.Header{"X-Forwarded-Uri": {"/public/x"}, "Accept": {"application/json"}})
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("trusted peer, public route = %d; want 202", resp.StatusCode)
		}
		resp = h.browser().Do("GET", "/oauth2/auth", nil, http.Header{"X-Forwarded-Method": {"GET"}, "Accept": {"application/json"}})
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("trusted peer, no X-Forwarded-Uri = %d; want 401 (not the public home page)", resp.StatusCode)
		}
	})
}

func TestAuthQueryNarrowing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Upstream.URL = nil }})
	b := h.browser()
	b.SignIn("/oauth2/start?rd=/oauth2/userinfo")
	for query, want := range map[string]int{
		"":                                          202,
		"allowed_groups=staff":                      202,
		"allowed_groups=finance,ops":                403,
		"allowed_emails=ALICE@example.com":          202,
		"allowed_emails=bob@example.com":            403,
		"allowed_email_domains=example.com":         202,
		"allowed_email_domains=corp.example":        403,
		"allowed_groups=staff&allowed_emails=b@x.y": 403,
	} {
		resp := b.Get("/oauth2/auth?" + query)
		stack.ReadBody(t, resp)
		if resp.StatusCode != want {
			t.Errorf("/oauth2/auth?%s = %d; want %d", query, resp.StatusCode, want)
		}
	}
}

func TestProxyRoutesAndPreflight(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Access.SkipAuthPreflight = true
		o.Access.Routes = []proxy.Route{
			{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/static/`), Public: true},
			{Path: regexp.MustCompile(`^/finance/`), Rules: proxy.Rules{Claims: map[string][]string{"Dept": {"finance"}}}},
			{Methods: []string{"POST"}, Path: regexp.MustCompile(`^/forms/`), Rules: proxy.Rules{Emails: []string{"bob@example.com"}}},
			{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/reports/`), Rules: proxy.Rules{Emails: []string{"bob@example.com"}}},
		}
	}})
	anon := h.browser()
	anon.Header = http.Header{"Accept": {"application/json"}}
	resp := anon.Do("GET", "/static/app.js", nil, http.Header{"X-User": {"mallory"}})
	if resp.StatusCode != 200 {
		t.Fatalf("public route = %d; want 200", resp.StatusCode)
	}
	if e := stack.DecodeEcho(t, resp); e.Headers.Get("X-User") != "" {
		t.Errorf("public route passed a spoofed X-User %q upstream", e.Headers.Get("X-User"))
	}
	resp.Body.Close()
	for _, tt := range []struct {
		method, path string
		hdr          http.Header
		want         int
	}{
		{"POST", "/static/app.js", nil, 401},
		{"GET", "/static", nil, 401},
		{"GET", "/other", nil, 401},
		{"OPTIONS", "/api", http.Header{"Origin": {"https://x.example"}, "Access-Control-Request-Method": {"POST"}}, 200},
		{"OPTIONS", "/api", nil, 401},
		{"GET", "/static/..;/finance/x", nil, 401},  // Tomcat reads ..; as ..
		{"GET", "/static/..%5Cfinance/x", nil, 401}, // IIS reads \ as /
		{"get", "/static/app.js", nil, 200},         // the method's spelling
		{"HEAD", "/static/app.js", nil, 200},        // a GET route covers HEAD
	} {
		resp := anon.Do(tt.method, tt.path, nil, tt.hdr)
		stack.ReadBody(t, resp)
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d; want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
	b := h.browser()
	b.SignIn("/")
	b.Header = http.Header{"Accept": {"application/json"}}
	resp = b.Get("/finance/report")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("alice without the Dept attribute on /finance/ = %d; want 403", resp.StatusCode)
	}
	// A method-specific restricting rule holds in every spelling of the
	// method, and a GET rule for HEAD too.
	for _, tt := range []struct{ method, path string }{{"POST", "/forms/a"}, {"post", "/forms/a"}, {"GET", "/reports/x"}, {"HEAD", "/reports/x"}} {
		resp := b.Do(tt.method, tt.path, nil, nil)
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("alice %s %s = %d; want 403 (bob only)", tt.method, tt.path, resp.StatusCode)
		}
	}
}

// forwardAuthHarness is Portcullis in forward-auth mode (no upstream)
// that trusts the forwarded headers and has routes, and alice's browser,
// signed in.
func forwardAuthHarness(t *testing.T, routes []proxy.Route) (*harness, *stack.Browser) {
	t.Helper()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Upstream.URL = nil
		o.Trust.ForwardedHeaders = true
		o.Access.Routes = routes
	}})
	alice := h.browser()
	alice.SignIn("/oauth2/start?rd=/oauth2/userinfo")
	return h, alice
}

// An ingress is the set of headers an ingress sets on its check for the
// original request (method, request URI on https://app.example.com):
// these replace whatever the client sent under the same names; every other
// header of the client passes along.
type ingress struct {
	name    string
	headers func(method, uri string) http.Header
	// ownMethod: the check has the original's method (else GET).
	ownMethod bool
}

var ingresses = []ingress{
	{"nginx example (X-Forwarded-Uri)", func(m, u string) http.Header {
		return http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Uri": {u}, "X-Forwarded-Method": {m}}
	}, false},
	{"nginx (X-Original-URI)", func(m, u string) http.Header {
		return http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.com"}, "X-Original-Uri": {u}, "X-Original-Method": {m}}
	}, false},
	{"ingress-nginx", func(m, u string) http.Header {
		// It clears X-Forwarded-Proto and sets no -Host or -Uri.
		return http.Header{"X-Original-Url": {"https://app.example.com" + u}, "X-Original-Method": {m},
			"X-Auth-Request-Redirect": {u}, "X-Sent-From": {"nginx-ingress-controller"}, "X-Real-Ip": {"203.0.113.7"}}
	}, false},
	{"ingress-nginx with auth-method", func(m, u string) http.Header {
		return http.Header{"X-Original-Url": {"https://app.example.com" + u}, "X-Original-Method": {m}, "X-Original-Uri": {u}}
	}, false},
	{"traefik", func(m, u string) http.Header {
		return http.Header{"X-Forwarded-Method": {m}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.com"},
			"X-Forwarded-Uri": {u}, "X-Forwarded-For": {"203.0.113.7"}}
	}, false},
	{"caddy", func(m, u string) http.Header {
		return http.Header{"X-Forwarded-Method": {m}, "X-Forwarded-Uri": {u}, "X-Forwarded-Proto": {"https"},
			"X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-For": {"203.0.113.7"}}
	}, false},
	{"envoy", func(m, u string) http.Header {
		return http.Header{"X-Forwarded-Uri": {u}, "X-Forwarded-Method": {m}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Proto": {"https"}}
	}, true},
}

// originalSources are the headers that name the original request.
var uriSources, methodSources = []string{"X-Original-Uri", "X-Forwarded-Uri", "X-Original-Url"}, []string{"X-Original-Method", "X-Forwarded-Method"}

// spoofValue is what a client puts in name to pass as uri.
func spoofValue(name, uri string) string {
	if name == "X-Original-Url" {
		return "https://app.example.com" + uri
	}
	return uri
}

// TestOriginalRequest reconstructs the original request from each
// ingress's header set, with the client's own copies of every other
// source: when they disagree the request is unknown, so never public,
// every restricting rule applies, and a browser is sent to sign in with
// rd=/ rather than to a page the client named.
func TestOriginalRequest(t *testing.T) {
	t.Parallel()
	h, alice := forwardAuthHarness(t, []proxy.Route{
		{Path: regexp.MustCompile(`^/public/`), Public: true},
		{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/docs/`), Public: true},
		{Path: regexp.MustCompile(`^/finance(/|$)`), Rules: proxy.Rules{Groups: []string{"finance"}}},
	})

	type check struct {
		in          ingress
		name        string
		method, uri string      // the original request
		spoof       http.Header // the client's own headers, which the ingress passes along
		public      bool        // anonymous passes
		alice       int         // forward-auth's answer to alice (not in finance: 403 when unknown)
		rd          string      // the browser's rd; "" for the original URL
	}
	var checks []check
	for _, in := range ingresses {
		set := in.headers("GET", "/")
		for _, name := range uriSources {
			if _, ok := set[name]; ok {
				continue // the ingress overwrites it
			}
			checks = append(checks,
				check{in, "client's " + name + " names a public path", "GET", "/finance/report",
					http.Header{name: {spoofValue(name, "/public/x")}}, false, 403, "/"},
				check{in, "client's " + name + " names a restricted path", "GET", "/public/x",
					http.Header{name: {spoofValue(name, "/finance/report")}}, false, 403, "/"},
				check{in, "client's " + name + " agrees", "GET", "/public/x",
					http.Header{name: {spoofValue(name, "/public/x")}}, true, 200, ""})
		}
		for _, name := range methodSources {
			if _, ok := set[name]; ok {
				continue
			}
			checks = append(checks, check{in, "client's " + name + " says GET of a POST", "POST", "/docs/x",
				http.Header{name: {"GET"}}, false, 403, "/"})
		}
		checks = append(checks,
			check{in, "public path", "GET", "/public/x", nil, true, 200, ""},
			check{in, "GET-only public path", "GET", "/docs/x", nil, true, 200, ""},
			check{in, "GET-only public path, POST", "POST", "/docs/x", nil, false, 200, ""},
			check{in, "restricted path", "GET", "/finance/report", nil, false, 403, ""},
			check{in, "restricted path, upper-case", "GET", "/FINANCE/report", nil, false, 403, ""},
		)
	}
	for _, c := range checks {
		c.name = c.in.name + ": " + c.name
		hdr := c.in.headers(c.method, c.uri)
		for k, v := range c.spoof {
			hdr[k] = v
		}
		method := "GET"
		if c.in.ownMethod {
			method = c.method
		}
		ask := func(endpoint, accept string, cookies map[string]*http.Cookie) *httptest.ResponseRecorder {
			hh := hdr.Clone()
			hh.Set("Accept", accept)
			return raw(h, method, endpoint, hh, cookies)
		}
		wantAuth, wantFwd := http.StatusUnauthorized, http.StatusUnauthorized
		if c.public {
			wantAuth, wantFwd = http.StatusAccepted, http.StatusOK
		}
		if got := ask("/oauth2/auth", "application/json", nil).Code; got != wantAuth {
			t.Errorf("%s: anonymous /oauth2/auth = %d; want %d", c.name, got, wantAuth)
		}
		if got := ask("/oauth2/forward-auth", "application/json", nil).Code; got != wantFwd {
			t.Errorf("%s: anonymous /oauth2/forward-auth = %d; want %d", c.name, got, wantFwd)
		}
		if got := ask("/oauth2/forward-auth", "text/html", alice.Cookies).Code; got != c.alice {
			t.Errorf("%s: alice (not in finance) /oauth2/forward-auth = %d; want %d", c.name, got, c.alice)
		}
		if c.public {
			continue
		}
		w := ask("/oauth2/forward-auth", "text/html", nil)
		loc, _ := url.Parse(w.Header().Get("Location"))
		want := c.rd
		if want == "" {
			want = c.uri
			if hdr.Get("X-Forwarded-Proto") != "" {
				want = "https://app.example.com" + c.uri
			}
		}
		if w.Code != http.StatusFound || loc == nil || loc.Query().Get("rd") != want {
			t.Errorf("%s: anonymous browser = %d, Location %q; want 302 to sign in with rd=%s", c.name, w.Code, w.Header().Get("Location"), want)
		}
	}
}

// TestOriginalRequestMalformed: an original request named in a way no
// server would send it (a raw "#", a control character or space, a path
// that doesn't start with "/", an escape that doesn't decode, a method
// that isn't a token, an empty value, one header twice with two values)
// is unknown: never public, every restricting rule applies, and a
// browser is not sent back to it after sign-in.
func TestOriginalRequestMalformed(t *testing.T) {
	t.Parallel()
	h, alice := forwardAuthHarness(t, readingRoutes)
	fwd := func(uri string) http.Header {
		return http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Uri": {uri}, "X-Forwarded-Method": {"GET"}}
	}
	with := func(hdr http.Header, k string, v ...string) http.Header {
		hdr[k] = v
		return hdr
	}
	for _, tt := range []struct {
		name string
		hdr  http.Header
	}{
		{"raw #", fwd("/public/x#y")},
		{"raw # and dots", fwd("/public/x#/../../finance")},
		{"raw # after a restricted path", fwd("/finance#x")},
		{"control character", fwd("/public/x\x01")},
		{"tab", fwd("/public/x\t")},
		{"space", fwd("/public/x y")},
		{"DEL", fwd("/public/\x7fx")},
		{"no leading slash", fwd("public/x")},
		{"absolute URL in X-Forwarded-Uri", fwd("https://app.example.com/public/x")},
		{"asterisk", fwd("*")},
		{"bad escape", fwd("/public/%zz")},
		{"truncated escape", fwd("/public/x%2")},
		{"lone percent", fwd("/public/%")},
		{"empty", fwd("")},
		{"two values", with(fwd("/public/x"), "X-Forwarded-Uri", "/public/x", "/finance/report")},
		{"method not a token", with(fwd("/public/x"), "X-Forwarded-Method", "GET /finance")},
		{"empty method", with(fwd("/public/x"), "X-Forwarded-Method", "")},
		{"X-Original-URL not absolute", http.Header{"X-Original-Url": {"/public/x"}, "X-Original-Method": {"GET"}}},
		{"X-Original-URL not http", http.Header{"X-Original-Url": {"ftp://app.example.com/public/x"}, "X-Original-Method": {"GET"}}},
		{"X-Original-URL without a path", http.Header{"X-Original-Url": {"https://app.example.com"}, "X-Original-Method": {"GET"}}},
		{"X-Original-URL with a query and no path", http.Header{"X-Original-Url": {"https://app.example.com?/public/x"}, "X-Original-Method": {"GET"}}},
		{"X-Original-URL with a fragment", http.Header{"X-Original-Url": {"https://app.example.com/public/x#y"}, "X-Original-Method": {"GET"}}},
		{"X-Original-URL with a space in the host", http.Header{"X-Original-Url": {"https://app example.com/public/x"}, "X-Original-Method": {"GET"}}},
		{"X-Original-URL with a bad escape", http.Header{"X-Original-Url": {"https://app.example.com/public/%zz"}, "X-Original-Method": {"GET"}}},
		// IIS URL Rewrite and Zend Framework serve the page X-Rewrite-URL
		// names: one that disagrees makes the original unknown, and one
		// alone never defines it.
		{"X-Rewrite-URL disagrees", with(fwd("/public/x"), "X-Rewrite-Url", "/finance/report")},
		{"X-Rewrite-URL malformed", with(fwd("/public/x"), "X-Rewrite-Url", "/public/x#y")},
		{"X-Rewrite-URL alone", http.Header{"X-Rewrite-Url": {"/public/x"}, "X-Forwarded-Method": {"GET"}}},
	} {
		ask := func(endpoint, accept string, cookies map[string]*http.Cookie) *httptest.ResponseRecorder {
			hdr := tt.hdr.Clone()
			hdr.Set("Accept", accept)
			return raw(h, "GET", endpoint, hdr, cookies)
		}
		for _, endpoint := range []string{"/oauth2/auth", "/oauth2/forward-auth"} {
			if got := ask(endpoint, "application/json", nil).Code; got != http.StatusUnauthorized {
				t.Errorf("%s: anonymous %s = %d; want 401", tt.name, endpoint, got)
			}
		}
		if got := ask("/oauth2/forward-auth", "application/json", alice.Cookies).Code; got != http.StatusForbidden {
			t.Errorf("%s: alice (not in finance) = %d; want 403 (every restricting rule)", tt.name, got)
		}
		w := ask("/oauth2/forward-auth", "text/html", nil)
		if loc, _ := url.Parse(w.Header().Get("Location")); w.Code != http.StatusFound || loc == nil || loc.Query().Get("rd") != "/" {
			t.Errorf("%s: anonymous browser = %d, Location %q; want 302 to sign in with rd=/", tt.name, w.Code, w.Header().Get("Location"))
		}
	}
}

// TestPreflight: SKIP_AUTH_PREFLIGHT lets a CORS preflight through only
// when the request's own method and the original's are both OPTIONS, no
// method override says otherwise, and Origin and
// Access-Control-Request-Method are present.
func TestPreflight(t *testing.T) {
	t.Parallel()
	routes := []proxy.Route{{Path: regexp.MustCompile(`^/finance(/|$)`), Rules: proxy.Rules{Groups: []string{"finance"}}}}
	cors := http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"POST"}, "Accept": {"application/json"}}
	with := func(h http.Header, kv ...string) http.Header {
		h = h.Clone()
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	fwd := func(method string) http.Header {
		return with(cors, "X-Forwarded-Uri", "/finance/report", "X-Forwarded-Method", method)
	}
	t.Run("forward-auth", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, setup{proxy: func(o *proxy.Options) {
			o.Upstream.URL = nil
			o.Trust.ForwardedHeaders = true
			o.Access.SkipAuthPreflight = true
			o.Access.Routes = routes
		}})
		for _, tt := range []struct {
			name, own string
			hdr       http.Header
			want      int
		}{
			{"Envoy: the check is the preflight", "OPTIONS", fwd("OPTIONS"), 200},
			{"the check is a GET (Traefik, Caddy, nginx)", "GET", fwd("OPTIONS"), 401},
			{"a GET checked with OPTIONS", "OPTIONS", fwd("GET"), 401},
			{"no Origin", "OPTIONS", with(fwd("OPTIONS"), "Origin", ""), 401},
			{"no Access-Control-Request-Method", "OPTIONS", with(fwd("OPTIONS"), "Access-Control-Request-Method", ""), 401},
			{"overridden to DELETE", "OPTIONS", with(fwd("OPTIONS"), "X-HTTP-Method-Override", "DELETE"), 401},
			{"no original method", "OPTIONS", with(cors, "X-Forwarded-Uri", "/finance/report"), 401},
			{"unknown original", "OPTIONS", with(fwd("OPTIONS"), "X-Original-Uri", "/other"), 401},
		} {
			if got := raw(h, tt.own, "/oauth2/forward-auth", tt.hdr, nil).Code; got != tt.want {
				t.Errorf("%s: %s /oauth2/forward-auth = %d; want %d", tt.name, tt.own, got, tt.want)
			}
		}
	})
	t.Run("proxy", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, setup{proxy: func(o *proxy.Options) {
			o.Access.SkipAuthPreflight = true
			o.Access.Routes = routes
		}})
		for _, tt := range []struct {
			name, method string
			hdr          http.Header
			want         int
		}{
			{"preflight", "OPTIONS", cors, 200},
			{"overridden to DELETE", "OPTIONS", with(cors, "X-HTTP-Method-Override", "DELETE"), 401},
			{"overridden to DELETE, CGI spelling", "OPTIONS", with(cors, "X_HTTP_Method", "DELETE"), 401},
			{"overridden to OPTIONS", "OPTIONS", with(cors, "X-Method-Override", "OPTIONS"), 200},
			{"lower-case method", "options", cors, 401},
		} {
			if got := raw(h, tt.method, "/finance/report", tt.hdr, nil).Code; got != tt.want {
				t.Errorf("%s: %s /finance/report = %d; want %d", tt.name, tt.method, got, tt.want)
			}
		}
	})
}
