package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// upstreamsExample is the several-upstreams example: nginx.conf (nginx in
// front of Portcullis in proxy mode), portcullis.env (the routes) and
// site/ (the static site a file:// route serves).
const upstreamsExample = "../examples/upstreams"

// replaceOnce replaces literal by with in s, failing t unless s holds it
// exactly once: the tests change the examples' addresses and nothing else.
func replaceOnce(t *testing.T, file, s, literal, with string) string {
	t.Helper()
	if n := strings.Count(s, literal); n != 1 {
		t.Fatalf("%s has %q %d times; the test replaces it and needs it exactly once", file, literal, n)
	}
	return strings.Replace(s, literal, with, 1)
}

// upstreamsNginxConf returns examples/upstreams/nginx.conf as an nginxtest
// template: its listen port and Portcullis's address become placeholders.
func upstreamsNginxConf(t *testing.T) string {
	t.Helper()
	file := filepath.Join(upstreamsExample, "nginx.conf")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	conf := replaceOnce(t, file, string(b), "listen 80;", "listen {{.Listen}};")
	return replaceOnce(t, file, conf, "server 127.0.0.1:4180;", "server {{.Portcullis}};")
}

// upstreamsSettings loads examples/upstreams/portcullis.env with the real
// configuration loader, the API's and the web app's addresses and the
// site's directory replaced, and stand-ins for its secrets' files.
func upstreamsSettings(t *testing.T, api, web string) *config.Config {
	t.Helper()
	const file = "portcullis.env"
	b, err := os.ReadFile(filepath.Join(upstreamsExample, file))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && strings.HasPrefix(k, config.Prefix) {
			env[k] = v
		}
	}
	site, err := filepath.Abs(filepath.Join(upstreamsExample, "site"))
	if err != nil {
		t.Fatal(err)
	}
	routes := replaceOnce(t, file, env["PORTCULLIS_UPSTREAM"], "127.0.0.1:9000", api)
	routes = replaceOnce(t, file, routes, "127.0.0.1:8080", web)
	env["PORTCULLIS_UPSTREAM"] = replaceOnce(t, file, routes, "file:///srv/site/", "file://"+site+"/")
	delete(env, "PORTCULLIS_CLIENT_SECRET_FILE")
	delete(env, "PORTCULLIS_COOKIE_SECRET_FILE")
	env["PORTCULLIS_CLIENT_SECRET"] = "a-stand-in-client-secret"
	env["PORTCULLIS_COOKIE_SECRET"] = "a-stand-in-cookie-secret-of-32-bytes"
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("examples/upstreams/portcullis.env does not load:\n%v", err)
	}
	return cfg
}

// withExampleSettings sets on o what the example's settings say about
// upstreams, public routes and trust, as main maps them.
func withExampleSettings(o *proxy.Options, cfg *config.Config) {
	for _, r := range cfg.Upstream {
		o.Upstream.Routes = append(o.Upstream.Routes, proxy.UpstreamRoute{Path: r.Path, URL: r.URL})
	}
	for _, r := range cfg.SkipAuthRoutes {
		rt := proxy.Route{Path: r.Path, Public: true}
		if r.Method != "" {
			rt.Methods = []string{r.Method}
		}
		o.Access.Routes = append(o.Access.Routes, rt)
	}
	o.Trust = proxy.Trust{ForwardedHeaders: cfg.TrustForwardedHeaders, Proxies: cfg.TrustedProxies}
}

// taggedApp echoes (stack.EchoHandler) saying which app it is in X-App,
// and takes a WebSocket upgrade at any path ending in /ws, echoing a line
// back with the path it got.
func taggedApp(name string) http.Handler {
	echo := stack.EchoHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App", name)
		if !strings.HasSuffix(r.URL.Path, "/ws") || r.Header.Get("Upgrade") != "websocket" {
			echo.ServeHTTP(w, r)
			return
		}
		stack.EchoUpgrade(w, func(line string) string {
			return fmt.Sprintf("%s %s for %s: %s", name, r.URL.Path, r.Header.Get("X-User"), line)
		})
	})
}

// rawAs sends "GET target" to addr as written, with cookie, and returns
// the answer's status, the app that gave it (X-App, "" for nginx or
// Portcullis) and its body.
func rawAs(t *testing.T, addr, target, cookie string) (status int, app, body string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nCookie: %s\r\nConnection: close\r\n\r\n", target, addr, cookie)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	return resp.StatusCode, resp.Header.Get("X-App"), stack.ReadBody(t, resp)
}

// TestNginxUpstreamRoutes runs examples/upstreams as shipped (its
// nginx.conf in a real nginx, its portcullis.env's routes) with a real
// sign-in: each path reaches its upstream with the identity, the static
// site is served from its directory, the health check answers by itself,
// paths written with escapes reach the upstream whose route the rules
// judged, nothing outside the site's directory is ever served (the
// example's own portcullis.env sits right beside it), and a WebSocket
// works on a route that replaces its path.
func TestNginxUpstreamRoutes(t *testing.T) {
	t.Parallel()
	api, web := stack.Serve(t, taggedApp("api")), stack.Serve(t, taggedApp("web"))
	cfg := upstreamsSettings(t, api.Listener.Addr().String(), web.Listener.Addr().String())
	s := newStack(t, stackOptions{
		nginx: upstreamsNginxConf(t),
		proxy: func(o *proxy.Options) { withExampleSettings(o, cfg) },
	})
	addr := strings.TrimPrefix(s.nginx, "http://")

	// Not signed in: only the health check answers.
	anonymous := s.browser()
	if resp := anonymous.Get("/healthz"); resp.StatusCode != http.StatusOK || stack.ReadBody(t, resp) != "" {
		t.Errorf("anonymous GET /healthz = %d; want 200, empty", resp.StatusCode)
	}
	for _, target := range []string{"/", "/site.css", "/api/users", "/app/"} {
		if status, app, _ := rawAs(t, addr, target, ""); status != http.StatusUnauthorized || app != "" {
			t.Errorf("anonymous API GET %s = %d from %q; want Portcullis's 401", target, status, app)
		}
	}

	// Sign in through nginx, on the web app's route.
	b := s.browser()
	resp, hops := b.Follow(s.nginx+"/app/reports?year=2024", spoofed)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-App") != "web" {
		t.Fatalf("sign-in through nginx ended with %d from %q after %v: %s", resp.StatusCode, resp.Header.Get("X-App"), hops, stack.ReadBody(t, resp))
	}
	e := stack.DecodeEcho(t, resp)
	checkIdentity(t, e)
	if e.URI != "/app/reports?year=2024" {
		t.Errorf("the web app got %q; want /app/reports?year=2024", e.URI)
	}
	host, _, _ := strings.Cut(addr, ":") // nginx's $host has no port
	if e.Headers.Get("X-Forwarded-Host") != host || e.Headers.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("the web app got X-Forwarded-Host %q, -Proto %q; want nginx's %q, http", e.Headers.Get("X-Forwarded-Host"), e.Headers.Get("X-Forwarded-Proto"), host)
	}
	cookie := "_portcullis=" + b.Cookie("_portcullis")

	tests := []struct {
		target string
		status int
		app    string // "" for the static site, or no app
		got    string // the URI the app got, or what the site's answer holds
	}{
		{"/api/users?page=2", 200, "api", "/v1/users?page=2"},
		{"/api/", 200, "api", "/v1/"},
		{"/app/", 200, "web", "/app/"},
		{"/", 200, "", "<h1>The static site</h1>"},
		{"/site.css", 200, "", "font-family"},
		{"/api", 404, "", ""}, // no such file in the site
		{"/healthz", 200, "", ""},
		// Written with escapes: the route of the path the rules judged.
		{"/api%2Fusers", 200, "api", "/v1/users"},
		{"/%61pi/users", 200, "api", "/v1/users"},
		{"/app/%2e%2e/api/users", 200, "api", "/v1/users"},
		{"/app%2F..%2Fapi%2Fusers", 200, "api", "/v1/users"},
		{"/api/%2e%2e/app/x", 200, "web", "/app/x"},
	}
	for _, tt := range tests {
		status, app, body := rawAs(t, addr, tt.target, cookie)
		switch {
		case status != tt.status || app != tt.app:
			t.Errorf("GET %s = %d from %q; want %d from %q: %.200s", tt.target, status, app, tt.status, tt.app, body)
		case tt.app != "" && !strings.Contains(body, `"URI":"`+tt.got+`"`):
			t.Errorf("GET %s reached %s as %.200s; want %s", tt.target, app, body, tt.got)
		case tt.app == "" && !strings.Contains(body, tt.got):
			t.Errorf("GET %s = %.200s; want it to hold %q", tt.target, body, tt.got)
		}
	}

	// Out of the site's directory, by any way of writing it: nginx or
	// Portcullis refuses, and portcullis.env, beside site/, never shows.
	for _, target := range []string{
		"/../portcullis.env", "/%2e%2e/portcullis.env", "/..%2fportcullis.env", "/%2e%2e%2fportcullis.env",
		"/site.css/..%2f..%2fportcullis.env", "/x/%2e%2e/%2e%2e/portcullis.env", "/%2F..%2Fportcullis.env",
		"/..%5cportcullis.env", "/%252e%252e/portcullis.env", "/..;/portcullis.env", "/%00/../portcullis.env",
	} {
		status, _, body := rawAs(t, addr, target, cookie)
		if status == http.StatusOK || strings.Contains(body, "PORTCULLIS_") {
			t.Errorf("GET %s = %d: %.200s; want no file outside the site", target, status, body)
		}
	}

	// A WebSocket through nginx on the API's route, its path replaced.
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /api/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: %s\r\n\r\n", addr, cookie)
	br := bufio.NewReader(c)
	up, err := http.ReadResponse(br, nil)
	if err != nil || up.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket upgrade at /api/ws through nginx = %v, %v; want 101", up, err)
	}
	io.WriteString(c, "hello\n")
	if line, _ := br.ReadString('\n'); line != "api /v1/ws for alice@example.com: hello\n" {
		t.Errorf("over the WebSocket: %q; want the API's echo from /v1/ws for alice", line)
	}
}
