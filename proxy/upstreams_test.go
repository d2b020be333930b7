package proxy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// routed is a Portcullis in front of the upstreams its options name, its
// provider never called, and a browser signed in as alice on it (her
// session sealed into cookies), built from internal/stack's parts.
type routed struct {
	url   string // Portcullis's base URL
	alice *stack.Browser
}

// newRouted serves a Portcullis whose options edit sets (the upstreams,
// at least).
func newRouted(t *testing.T, edit func(*proxy.Options)) *routed {
	t.Helper()
	co := stack.CookieOptions()
	store := stack.NewCookieStore(t, co)
	po := proxy.Options{
		Providers: []proxy.Provider{{ID: stack.ProviderID, PKCE: true, Provider: stack.NewClient(t, stack.OfflineConfig())}},
		Sessions:  store,
		Flows:     stack.NewFlows(t, co),
	}
	edit(&po)
	srv, err := proxy.New(po)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	r := &routed{url: stack.Serve(t, srv).URL}
	r.alice = stack.NewBrowser(t, r.url)
	for _, c := range stack.Seal(t, store, stack.Alice(time.Now(), 40)) {
		r.alice.Cookies[c.Name] = c
	}
	return r
}

// mustURL parses s, failing t when it is not a URL.
func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestEscapedDotSegmentsResolved: escapes that make "." or ".." segments
// or doubled slashes once decoded (%2e%2e, %2F..%2F), which the mux
// doesn't redirect as it does the plain ones, reach the upstream resolved,
// as the rules read them; an escape that makes no such segment (a %2F
// inside a segment) reaches it as sent.
func TestEscapedDotSegmentsResolved(t *testing.T) {
	t.Parallel()
	up := stack.Serve(t, stack.EchoHandler())
	r := newRouted(t, func(o *proxy.Options) { o.Upstream.URL = mustURL(t, up.URL) })
	tests := []struct{ target, want string }{
		{"/a/%2e%2e/b", "/b"},
		{"/a/%2E%2E/%2e%2e/b?x=1", "/b?x=1"},
		{"/a%2F..%2Fb", "/b"},
		{"/a/%2e/b", "/a/b"},
		{"/a/b/%2e%2e", "/a"},
		{"/a/b/%2e%2e/", "/a/"},
		{"/a/%2Fb", "/a/b"},
		{"/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"},
		// Nothing to resolve: as sent.
		{"/a%2Fb", "/a%2Fb"},
		{"/a/b%2e", "/a/b%2e"},
		{"/a/..b/c", "/a/..b/c"},
		{"/a/%2e%2eb", "/a/%2e%2eb"},
	}
	for _, tt := range tests {
		resp := r.alice.Get(tt.target)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d; want 200 from the upstream: %s", tt.target, resp.StatusCode, stack.ReadBody(t, resp))
			continue
		}
		if got := stack.DecodeEcho(t, resp).URI; got != tt.want {
			t.Errorf("GET %s reached the upstream as %s; want %s", tt.target, got, tt.want)
		}
	}
}

// namedApp is an upstream that echoes (stack.EchoHandler) and says which
// app it is in X-App.
func namedApp(t *testing.T, name string) string {
	echo := stack.EchoHandler()
	return stack.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App", name)
		echo.ServeHTTP(w, r)
	})).URL
}

// reached GETs target as b and returns the app that answered and the
// request URI it got; "" and the status when no app answered.
func reached(t *testing.T, b *stack.Browser, target string) (app, uri string, status int) {
	t.Helper()
	resp := b.Get(target)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-App") == "" {
		stack.ReadBody(t, resp)
		return "", "", resp.StatusCode
	}
	return resp.Header.Get("X-App"), stack.DecodeEcho(t, resp).URI, resp.StatusCode
}

// TestUpstreamRoutes: each request goes to the app of the longest route
// that takes its path (decoded and resolved), with the route's path kept,
// or replaced by the URL's path, and the URL's query first.
func TestUpstreamRoutes(t *testing.T) {
	t.Parallel()
	web, api, v1, health := namedApp(t, "web"), namedApp(t, "api"), namedApp(t, "v1"), namedApp(t, "health")
	r := newRouted(t, func(o *proxy.Options) {
		o.Upstream.Routes = []proxy.UpstreamRoute{
			{Path: "/", URL: mustURL(t, web)},
			{Path: "/api/", URL: mustURL(t, api)},
			{Path: "/v2/", URL: mustURL(t, v1+"/v1/")},
			{Path: "/healthz", URL: mustURL(t, health+"/status")},
			{Path: "/q/", URL: mustURL(t, api+"/?key=k")},
		}
	})
	tests := []struct{ target, app, uri string }{
		{"/page?x=1", "web", "/page?x=1"},
		{"/", "web", "/"},
		{"/api/users?id=1", "api", "/api/users?id=1"},
		{"/api/", "api", "/api/"},
		{"/api", "web", "/api"}, // bare: the shorter route
		{"/apix", "web", "/apix"},
		{"/v2/users", "v1", "/v1/users"},
		{"/v2/", "v1", "/v1/"},
		{"/healthz", "health", "/status"},
		{"/healthz/deep", "health", "/status/deep"},
		{"/healthzx", "web", "/healthzx"},
		{"/q/a?b=2", "api", "/q/a?key=k&b=2"},
		// The decoded path chooses; an escape that makes no dot segment
		// reaches the app as sent, unless it is in the replaced part.
		{"/api%2Fusers", "api", "/api%2Fusers"},
		{"/%61pi/users", "api", "/%61pi/users"},
		{"/v2%2Fusers", "v1", "/v1/users"},
		{"/v2/a%2Fb", "v1", "/v1/a%2Fb"},
		// Escaped dot segments are resolved before the route is chosen.
		{"/api/%2e%2e/admin", "web", "/admin"},
		{"/v2/%2e%2e/%2e%2e/etc/passwd", "web", "/etc/passwd"},
		{"/v2/x/%2e%2e/y", "v1", "/v1/y"},
		{"/x%2F..%2Fapi/users", "api", "/api/users"},
	}
	for _, tt := range tests {
		app, uri, status := reached(t, r.alice, tt.target)
		if app != tt.app || uri != tt.uri {
			t.Errorf("GET %s reached %q as %q (status %d); want %q as %q", tt.target, app, uri, status, tt.app, tt.uri)
		}
	}
}

// TestUpstreamNoRoute: a path that no route takes gets 404, but only once
// the request is authenticated: a browser that is not signed in is still
// sent to sign in, an API client still gets 401, and what is there or not
// is told to nobody else. A public path no route takes gets 404 as it is.
func TestUpstreamNoRoute(t *testing.T) {
	t.Parallel()
	api := namedApp(t, "api")
	r := newRouted(t, func(o *proxy.Options) {
		o.Upstream.Routes = []proxy.UpstreamRoute{{Path: "/api/", URL: mustURL(t, api)}}
		o.Access.Routes = []proxy.Route{{Path: regexp.MustCompile(`^/pub/`), Public: true}}
	})
	anonymous := stack.NewBrowser(t, r.url)
	for _, target := range []string{"/", "/other", "/api", "/apix/y"} {
		resp := anonymous.Get(target)
		stack.ReadBody(t, resp)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/oauth2/") {
			t.Errorf("not signed in, a browser's GET %s = %d to %q; want 302 to sign in", target, resp.StatusCode, loc)
		}
		resp = anonymous.Do("GET", target, nil, http.Header{"Accept": {"application/json"}})
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("not signed in, an API client's GET %s = %d; want 401", target, resp.StatusCode)
		}

		resp = r.alice.Get(target)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Page not found") || resp.Header.Get("X-App") != "" {
			t.Errorf("alice's GET %s = %d (from an app: %q); want Portcullis's 404 page: %.200s", target, resp.StatusCode, resp.Header.Get("X-App"), body)
		}
		resp = r.alice.Do("GET", target, nil, http.Header{"Accept": {"application/json"}})
		body = stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"status":404`) {
			t.Errorf("alice's API GET %s = %d %s; want 404 JSON", target, resp.StatusCode, body)
		}
	}
	resp := anonymous.Get("/pub/x")
	if body := stack.ReadBody(t, resp); resp.StatusCode != http.StatusNotFound {
		t.Errorf("not signed in, GET /pub/x (public, no route) = %d; want 404: %.200s", resp.StatusCode, body)
	}
	if app, uri, _ := reached(t, r.alice, "/api/x"); app != "api" || uri != "/api/x" {
		t.Errorf("alice's GET /api/x reached %q as %q; want the api", app, uri)
	}
}

// TestUpstreamRouteFollowsRules: the route is chosen by the path the
// rules judged. However /admin/… is written (an escaped slash or letter,
// escaped dot segments that lead there), a user outside the group the
// rule for it names is refused, and one in it reaches the admin app, never
// another; paths that only look like it go elsewhere.
func TestUpstreamRouteFollowsRules(t *testing.T) {
	t.Parallel()
	admin, web := namedApp(t, "admin"), namedApp(t, "web")
	routes := []proxy.UpstreamRoute{{Path: "/admin/", URL: mustURL(t, admin)}, {Path: "/", URL: mustURL(t, web)}}
	spellings := []string{"/admin/x", "/admin%2Fx", "/admin%2fx", "/%61dmin/x", "/%61dmin%2Fx", "/y/%2e%2e/admin/x", "/y%2F..%2Fadmin%2Fx", "/admin/y/%2e%2e/x"}
	for _, group := range []string{"admins", "finance"} { // alice is in admins, not in finance
		r := newRouted(t, func(o *proxy.Options) {
			o.Upstream.Routes = routes
			o.Access.Routes = []proxy.Route{{Path: regexp.MustCompile(`^/admin(/|$)`), Rules: proxy.Rules{Groups: []string{group}}}}
		})
		for _, target := range spellings {
			app, uri, status := reached(t, r.alice, target)
			switch {
			case group == "finance" && status != http.StatusForbidden:
				t.Errorf("rule for finance: alice's GET %s = %d (reached %q as %q); want 403", target, status, app, uri)
			case group == "admins" && app != "admin":
				t.Errorf("rule for admins: alice's GET %s reached %q as %q (status %d); want the admin app", target, app, uri, status)
			}
		}
		for _, target := range []string{"/adminx", "/admin", "/ADMIN/x"} {
			if app, uri, status := reached(t, r.alice, target); app == "admin" {
				t.Errorf("rule for %s: alice's GET %s reached the admin app as %q (status %d); want another", group, target, uri, status)
			}
		}
	}
}

// TestPublicRouteLeadsNowhereElse: a public route rule's path is public
// on the route that serves it only. Written with escapes that lead out of
// it once decoded (escaped dot segments, escaped slashes), a request not
// signed in gets 401 and reaches no app, the public one included; the
// public path reaches the public app. (An escaped spelling of the public
// path itself, /pub%2Fx, needs sign-in: a path is public only when every
// reading of it is.)
func TestPublicRouteLeadsNowhereElse(t *testing.T) {
	t.Parallel()
	pub, private := namedApp(t, "pub"), namedApp(t, "private")
	r := newRouted(t, func(o *proxy.Options) {
		o.Upstream.Routes = []proxy.UpstreamRoute{{Path: "/pub/", URL: mustURL(t, pub)}, {Path: "/", URL: mustURL(t, private)}}
		o.Access.Routes = []proxy.Route{{Path: regexp.MustCompile(`^/pub/`), Public: true}}
	})
	anonymous := stack.NewBrowser(t, r.url)
	get := func(target string) (string, int) {
		resp := anonymous.Do("GET", target, nil, http.Header{"Accept": {"application/json"}})
		stack.ReadBody(t, resp)
		return resp.Header.Get("X-App"), resp.StatusCode
	}
	for _, target := range []string{
		"/pub/%2e%2e/secret", "/pub/%2E%2E/secret", "/pub%2F..%2Fsecret", "/pub/..%2Fsecret", "/pub/x/%2e%2e/%2e%2e/secret",
		"/pub/%2e%2e%2Fsecret", "/pub%2F%2e%2e%2Fsecret", "/pub/%2e%2e",
	} {
		if app, status := get(target); status != http.StatusUnauthorized || app != "" {
			t.Errorf("not signed in, GET %s = %d from %q; want 401 from Portcullis", target, status, app)
		}
	}
	for _, target := range []string{"/pub/x", "/pub/a/%2e%2e/x"} {
		if app, status := get(target); status != http.StatusOK || app != "pub" {
			t.Errorf("not signed in, GET %s = %d from %q; want 200 from pub", target, status, app)
		}
	}
}

// serveUnix serves h over HTTP on a Unix socket in a temporary directory
// until t ends, and returns the socket's path.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// TestUpstreamUnixSocket: a unix:// route speaks HTTP over the socket,
// with the route's path kept and the identity and Host as on any route;
// a socket nobody listens on gets 502.
func TestUpstreamUnixSocket(t *testing.T) {
	t.Parallel()
	echo := stack.EchoHandler()
	sock := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App", "sock")
		echo.ServeHTTP(w, r)
	}))
	web := namedApp(t, "web")
	r := newRouted(t, func(o *proxy.Options) {
		o.Upstream.Routes = []proxy.UpstreamRoute{
			{Path: "/sock/", URL: mustURL(t, "unix://"+sock)},
			{Path: "/gone/", URL: mustURL(t, "unix://"+filepath.Join(t.TempDir(), "nobody.sock"))},
			{Path: "/", URL: mustURL(t, web)},
		}
	})
	resp := r.alice.Do("GET", "/sock/x?y=1", nil, http.Header{"X-User": {"mallory"}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-App") != "sock" {
		t.Fatalf("GET /sock/x = %d from %q; want 200 from the socket's app: %s", resp.StatusCode, resp.Header.Get("X-App"), stack.ReadBody(t, resp))
	}
	e := stack.DecodeEcho(t, resp)
	if e.URI != "/sock/x?y=1" || e.Host != strings.TrimPrefix(r.url, "http://") || e.Headers.Get("X-User") != "alice@example.com" {
		t.Errorf("the socket's app got %s for host %s as %q; want /sock/x?y=1 for %s as alice@example.com", e.URI, e.Host, e.Headers.Get("X-User"), strings.TrimPrefix(r.url, "http://"))
	}
	if app, _, _ := reached(t, r.alice, "/sockx"); app != "web" {
		t.Errorf("GET /sockx reached %q; want web", app)
	}
	resp = r.alice.Get("/gone/x")
	if body := stack.ReadBody(t, resp); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("GET /gone/x (no one on the socket) = %d; want 502: %.200s", resp.StatusCode, body)
	}
}

// TestStaticUpstream: a static://CODE route answers CODE with an empty
// body, to any method, without calling anything; static:// alone is 200.
// Like any route it is behind sign-in unless a rule makes it public.
func TestStaticUpstream(t *testing.T) {
	t.Parallel()
	r := newRouted(t, func(o *proxy.Options) {
		o.Upstream.Routes = []proxy.UpstreamRoute{
			{Path: "/healthz", URL: mustURL(t, "static://200")},
			{Path: "/gone/", URL: mustURL(t, "static://410")},
			{Path: "/empty", URL: mustURL(t, "static://204")},
			{Path: "/ok/", URL: mustURL(t, "static://")},
		}
		o.Access.Routes = []proxy.Route{{Path: regexp.MustCompile(`^/healthz$`), Public: true}}
	})
	anonymous := stack.NewBrowser(t, r.url)
	tests := []struct {
		b              *stack.Browser
		method, target string
		status         int
	}{
		{anonymous, "GET", "/healthz", 200},
		{anonymous, "HEAD", "/healthz", 200},
		{anonymous, "GET", "/gone/x", http.StatusFound}, // not public: sign in first
		{r.alice, "GET", "/healthz/x", 200},
		{r.alice, "GET", "/gone/x", 410},
		{r.alice, "POST", "/gone/", 410},
		{r.alice, "DELETE", "/empty", 204},
		{r.alice, "GET", "/ok/x", 200},
		{r.alice, "GET", "/okx", 404},
	}
	for _, tt := range tests {
		resp := tt.b.Do(tt.method, tt.target, nil, nil)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s = %d; want %d: %.200s", tt.method, tt.target, resp.StatusCode, tt.status, body)
			continue
		}
		if tt.status != http.StatusFound && tt.status != 404 && (body != "" || resp.ContentLength > 0) {
			t.Errorf("%s %s = %d with %d bytes %q; want an empty body", tt.method, tt.target, resp.StatusCode, resp.ContentLength, body)
		}
	}
}

// liveApp answers, under any prefix, …/stream with two server-sent events,
// the second once release is closed, and …/ws with a WebSocket upgrade
// (for alice only) whose connection echoes a line; anything else with
// its echo.
func liveApp(release <-chan struct{}) http.Handler {
	echo := stack.EchoHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/stream"):
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: first %s\n", r.URL.Path)
			w.(http.Flusher).Flush()
			<-release
			fmt.Fprint(w, "data: second\n")
		case strings.HasSuffix(r.URL.Path, "/ws"):
			if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("X-User") != "alice@example.com" {
				http.Error(w, "want an upgrade from alice", http.StatusBadRequest)
				return
			}
			stack.EchoUpgrade(w, func(line string) string { return "echo " + r.URL.Path + ": " + line })
		default:
			echo.ServeHTTP(w, r)
		}
	})
}

// TestUpstreamRoutesStreamAndUpgrade: streaming responses and WebSocket
// upgrades work on every kind of proxied route that isn't the root: http
// with the path kept and replaced, https (its certificate trusted through
// the transport, as UPSTREAM_CA does), and a Unix socket.
func TestUpstreamRoutesStreamAndUpgrade(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	plain := stack.Serve(t, liveApp(release))
	secure := httptest.NewTLSServer(liveApp(release))
	t.Cleanup(secure.Close)
	sock := serveUnix(t, liveApp(release))
	t.Cleanup(func() { close(release) }) // first: the servers' Close waits for their handlers
	roots := x509.NewCertPool()
	roots.AddCert(secure.Certificate())
	r := newRouted(t, func(o *proxy.Options) {
		o.Upstream.Routes = []proxy.UpstreamRoute{
			{Path: "/plain/", URL: mustURL(t, plain.URL)},
			{Path: "/v2/", URL: mustURL(t, plain.URL+"/v1/")},
			{Path: "/tls/", URL: mustURL(t, secure.URL+"/inner/")},
			{Path: "/sock/", URL: mustURL(t, "unix://"+sock)},
		}
		o.Upstream.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
		o.Body.ReadTimeout = 100 * time.Millisecond // WebSockets are not cut off by it
	})
	for _, tt := range []struct{ prefix, upstreamPath string }{
		{"/plain/", "/plain/"}, {"/v2/", "/v1/"}, {"/tls/", "/inner/"}, {"/sock/", "/sock/"},
	} {
		// Streaming: the first event arrives while the app still holds
		// the second (release is closed only when the test ends).
		resp := r.alice.Get(tt.prefix + "stream")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %sstream = %d; want 200: %s", tt.prefix, resp.StatusCode, stack.ReadBody(t, resp))
			continue
		}
		got := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(resp.Body).ReadString('\n')
			got <- line
		}()
		select {
		case line := <-got:
			if want := "data: first " + tt.upstreamPath + "stream\n"; line != want {
				t.Errorf("GET %sstream: first event %q; want %q", tt.prefix, line, want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("GET %sstream: the first event did not arrive before the app finished", tt.prefix)
		}
		resp.Body.Close()

		// A WebSocket upgrade, and a line each way after it, past
		// BODY_READ_TIMEOUT.
		conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET %sws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: %s\r\n\r\n", tt.prefix, cookieHeader(r.alice))
		br := bufio.NewReader(conn)
		up, err := http.ReadResponse(br, nil)
		if err != nil || up.StatusCode != http.StatusSwitchingProtocols {
			t.Errorf("upgrade at %sws = %v, %v; want 101", tt.prefix, up, err)
			conn.Close()
			continue
		}
		time.Sleep(200 * time.Millisecond)
		io.WriteString(conn, "hello\n")
		if line, _ := br.ReadString('\n'); line != "echo "+tt.upstreamPath+"ws: hello\n" {
			t.Errorf("over the WebSocket at %sws: %q; want the app's echo from %sws", tt.prefix, line, tt.upstreamPath)
		}
		conn.Close()
	}
}

// cookieHeader is the Cookie header b sends.
func cookieHeader(b *stack.Browser) string {
	var cs []*http.Cookie
	for _, c := range b.Cookies {
		cs = append(cs, c)
	}
	return stack.CookieHeader(cs)
}
