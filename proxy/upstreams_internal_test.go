package proxy

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testUpstreams prepares routes (PATH, URL, …) as New does.
func testUpstreams(t testing.TB, routes ...string) upstreams {
	t.Helper()
	var o Upstream
	for i := 0; i+1 < len(routes); i += 2 {
		u, err := url.Parse(routes[i+1])
		if err != nil {
			t.Fatal(err)
		}
		o.Routes = append(o.Routes, UpstreamRoute{Path: routes[i], URL: u})
	}
	us, err := (&Server{log: slog.New(slog.DiscardHandler)}).newUpstreams(o)
	if err != nil {
		t.Fatalf("newUpstreams: %v", err)
	}
	return us
}

// TestUpstreamRoute: the longest route path that takes a path wins; one
// ending in "/" takes the paths that start with it (not the bare path),
// one without takes itself and the paths under it; "/" takes the rest.
func TestUpstreamRoute(t *testing.T) {
	t.Parallel()
	us := testUpstreams(t,
		"/", "http://web",
		"/api/", "http://api",
		"/api/v2/", "http://api2",
		"/healthz", "http://health",
		"/static/", "http://static",
	)
	tests := []struct{ path, want string }{
		{"/", "/"},
		{"/x", "/"},
		{"/api", "/"}, // bare: a shorter route
		{"/api/", "/api/"},
		{"/api/x", "/api/"},
		{"/api/v2", "/api/"},
		{"/api/v2/", "/api/v2/"},
		{"/api/v2/users/7", "/api/v2/"},
		{"/apix", "/"},
		{"/API/x", "/"}, // case counts
		{"/healthz", "/healthz"},
		{"/healthz/", "/healthz"},
		{"/healthz/x", "/healthz"},
		{"/healthzx", "/"},
		{"/static/a.css", "/static/"},
		{"*", ""}, // not a path: no route
		{"", ""},
	}
	for _, tt := range tests {
		got := ""
		if rt := us.route(tt.path); rt != nil {
			got = rt.path
		}
		if got != tt.want {
			t.Errorf("route(%q) = %q; want %q", tt.path, got, tt.want)
		}
	}

	// Without a catch-all, a path no route takes has none.
	us = testUpstreams(t, "/api/", "http://api", "/healthz", "http://health")
	for _, p := range []string{"/", "/x", "/api", "/apix", "/healthzx"} {
		if rt := us.route(p); rt != nil {
			t.Errorf("without /: route(%q) = %q; want none", p, rt.path)
		}
	}
}

// TestUpstreamSetURL: the outgoing URL of a request whose path (and
// escaped path, when it is not the default one) chose a route: the route's
// path kept, or replaced by the URL's path; the URL's query first.
func TestUpstreamSetURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		route, target string
		path, raw     string // the request's, as url.URL holds them
		query         string
		want          string // the outgoing URL
	}{
		{"/", "http://web:3000", "/a/b", "", "x=1", "http://web:3000/a/b?x=1"},
		{"/", "http://web:3000/", "/a/b", "", "", "http://web:3000/a/b"},
		{"/", "http://web:3000/base", "/a/b", "", "", "http://web:3000/base/a/b"},
		{"/", "http://web:3000/base/", "/", "", "", "http://web:3000/base/"},
		{"/api/", "http://api:8080", "/api/x", "", "", "http://api:8080/api/x"},
		{"/api/", "http://api:8080/", "/api/x", "", "", "http://api:8080/api/x"},
		{"/api/", "http://api:8080/v1/", "/api/x", "", "", "http://api:8080/v1/x"},
		{"/api/", "http://api:8080/v1/", "/api/", "", "", "http://api:8080/v1/"},
		{"/api/", "http://api:8080/v1", "/api/x/y", "", "", "http://api:8080/v1/x/y"},
		{"/api/", "http://api:8080/v1", "/api/", "", "", "http://api:8080/v1/"},
		{"/healthz", "http://h/status", "/healthz", "", "", "http://h/status"},
		{"/healthz", "http://h/status/", "/healthz", "", "", "http://h/status/"},
		{"/healthz", "http://h/status", "/healthz/x", "", "", "http://h/status/x"},
		{"/api/", "https://api?key=k", "/api/x", "", "b=2", "https://api/api/x?key=k&b=2"},
		{"/api/", "https://api?key=k", "/api/x", "", "", "https://api/api/x?key=k"},
		// Escaped paths keep their escapes; an escaped slash that ends
		// the replaced part is a slash.
		{"/api/", "http://api", "/api/a/b", "/api/a%2Fb", "", "http://api/api/a%2Fb"},
		{"/api/", "http://api/v1/", "/api/a/b", "/api/a%2Fb", "", "http://api/v1/a%2Fb"},
		{"/api/", "http://api/v1/", "/api/x", "/api%2Fx", "", "http://api/v1/x"},
		{"/api/", "http://api/v1/", "/api/x", "/%61pi%2fx", "", "http://api/v1/x"},
		{"/api/", "http://api/v%201/", "/api/a b", "", "", "http://api/v%201/a%20b"},
		{"/a b/", "http://api/v1/", "/a b/c%d", "/a%20b/c%25d", "", "http://api/v1/c%25d"},
	}
	for _, tt := range tests {
		us := testUpstreams(t, tt.route, tt.target)
		rt := us.route(tt.path)
		if rt == nil {
			t.Errorf("route %s: no route for %s", tt.route, tt.path)
			continue
		}
		out := &url.URL{Scheme: "http", Host: "portcullis", Path: tt.path, RawPath: tt.raw, RawQuery: tt.query}
		rt.setURL(out)
		if got := out.String(); got != tt.want {
			t.Errorf("%s=%s: %s (%s) goes to %s; want %s", tt.route, tt.target, tt.path, tt.raw, got, tt.want)
		}
	}
}

// TestUpstreamRouteAllocs: choosing the route allocates nothing.
func TestUpstreamRouteAllocs(t *testing.T) {
	us := testUpstreams(t, tenRoutes("http://app.internal:8080")...)
	p := "/app/page"
	if n := testing.AllocsPerRun(100, func() {
		if _, resolved := upstreamPath(p); resolved {
			t.Fatal("resolved a clean path")
		}
		if us.route(p) == nil {
			t.Fatal("no route")
		}
	}); n != 0 {
		t.Errorf("choosing a route allocates %v times; want 0", n)
	}
}

// tenRoutes are ten routes as an operator might write them (PATH, URL,
// …), all to target, the catch-all last: GET /app/page, the benchmarks'
// request, takes the catch-all after trying the other nine.
func tenRoutes(target string) []string {
	var routes []string
	for _, p := range []string{"/api/", "/api/v2/", "/static/", "/assets/", "/admin/", "/grafana/", "/metrics", "/healthz", "/docs/"} {
		routes = append(routes, p, target)
	}
	return append(routes, "/", target)
}

// TestUnixTransport: a unix route's transport has the settings of the
// transport Options name (UPSTREAM_TIMEOUT, UPSTREAM_MAX_CONNS), one per
// socket, and never a proxy from the environment.
func TestUnixTransport(t *testing.T) {
	t.Parallel()
	base := &http.Transport{ResponseHeaderTimeout: 7 * time.Second, MaxConnsPerHost: 3, Proxy: http.ProxyFromEnvironment}
	o := Upstream{Transport: base}
	for _, r := range [][2]string{{"/a/", "unix:///run/a.sock"}, {"/b/", "unix:///run/a.sock"}, {"/c/", "unix:///run/c.sock"}, {"/", "http://web"}} {
		u, _ := url.Parse(r[1])
		o.Routes = append(o.Routes, UpstreamRoute{Path: r[0], URL: u})
	}
	us, err := (&Server{log: slog.New(slog.DiscardHandler)}).newUpstreams(o)
	if err != nil {
		t.Fatal(err)
	}
	transports := map[string]http.RoundTripper{}
	for _, rt := range us {
		transports[rt.path] = rt.handler.(*httputil.ReverseProxy).Transport
	}
	if transports["/"] != base {
		t.Errorf("the http route's transport is not the one Options name")
	}
	if transports["/a/"] != transports["/b/"] || transports["/a/"] == transports["/c/"] {
		t.Errorf("unix routes share transports by socket: /a/ and /b/ the same (%t), /a/ and /c/ not (%t); want true, false",
			transports["/a/"] == transports["/b/"], transports["/a/"] != transports["/c/"])
	}
	for _, p := range []string{"/a/", "/c/"} {
		ut, ok := transports[p].(*http.Transport)
		if !ok || ut == base || ut.ResponseHeaderTimeout != 7*time.Second || ut.MaxConnsPerHost != 3 || ut.Proxy != nil || ut.DialContext == nil {
			t.Errorf("%s: transport %#v; want a clone of Options' with its timeout and max conns, no proxy, dialing the socket", p, transports[p])
		}
	}
	if base.DialContext != nil || base.Proxy == nil {
		t.Errorf("the transport Options name was changed")
	}
}

// TestServeFileAbsoluteName: should a name that is absolute, or leads
// out, ever reach the file route (the path it comes from is resolved and
// starts with the route's, so it can't), os.Root refuses it.
func TestServeFileAbsoluteName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("A"), 0o644)
	s := &Server{log: slog.New(slog.DiscardHandler)}
	us := testUpstreams(t, "/static/", "file://"+dir+"/")
	for _, p := range []string{"/static//etc/passwd", "/static/../../../etc/passwd", "/static//" + filepath.Join(dir, "a.txt")} {
		w := httptest.NewRecorder()
		s.serveFile(w, httptest.NewRequest("GET", "/", nil), us[0], p)
		if w.Code != http.StatusNotFound {
			t.Errorf("serveFile(%q) = %d %.100s; want 404", p, w.Code, w.Body)
		}
	}
	w := httptest.NewRecorder()
	s.serveFile(w, httptest.NewRequest("GET", "/", nil), us[0], "/static/a.txt")
	if w.Code != http.StatusOK || w.Body.String() != "A" {
		t.Errorf("serveFile(/static/a.txt) = %d %q; want 200 A", w.Code, w.Body)
	}
}

// FuzzUpstreamRoute: whatever the request's path, the route chosen is the
// longest that takes the path the rules judge (upstreamPath), and the
// upstream gets that very path, decoded, with the route's path replaced by
// the URL's when it has one: no escape makes it read another path, or
// reach another route.
func FuzzUpstreamRoute(f *testing.F) {
	for _, seed := range []string{
		"/", "/api", "/api/", "/api/x?q=1", "/api%2Fx", "/%61pi/x", "/api/%2e%2e/admin", "/api%2F..%2Fadmin",
		"/v2/users", "/v2%2Fusers", "/v2/a%2Fb", "/healthz", "/healthz/live", "/healthzx", "/a%20b/c%25d",
		"/app/%2e%2e/v2/x", "/x//y", "/v2/%2F%2F", "/healthz%2F", "/%2e", "/v2/..%2f..%2fapi",
	} {
		f.Add(seed)
	}
	us := testUpstreams(f,
		"/", "http://web",
		"/api/", "http://api",
		"/v2/", "http://api/v1/",
		"/healthz", "http://h/status",
		"/a b/", "http://x/v%201/",
		"/api/v3/", "http://api3/",
	)
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return
		}
		p, resolved := upstreamPath(u.Path)
		rt := us.route(p)
		for _, other := range us {
			if other.matches(p) && (rt == nil || len(other.path) > len(rt.path)) {
				t.Fatalf("%q (path %q): route %v; want the longer %q", target, p, rt, other.path)
			}
		}
		if rt == nil {
			return
		}
		if resolved {
			u.Path, u.RawPath = p, ""
		}
		rt.setURL(u)
		want := p
		if rt.replace {
			want = strings.TrimSuffix(rt.base, "/") + p[len(rt.stem):]
			if p == rt.stem || p == rt.path {
				want = rt.base
			}
		}
		got, err := url.PathUnescape(u.EscapedPath())
		if err != nil || got != want || u.Path != want {
			t.Fatalf("%q (path %q, route %q): the upstream reads %q (%q, %v); want %q", target, p, rt.path, got, u.Path, err, want)
		}
		if u.Host != rt.target.Host {
			t.Fatalf("%q: sent to %q; want %q", target, u.Host, rt.target.Host)
		}
	})
}
