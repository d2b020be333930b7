package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/internal/stack"
)

// routingServer is a Server with every route registered (the JWKS one
// too) and no upstream: s.protected answers a request without a session
// with a 401 or a redirect to sign in that names the path, so two ways of
// dispatching can be compared by their answers. routes are its route
// rules, if any.
func routingServer(t testing.TB, routes ...Route) *Server {
	t.Helper()
	return routingServerAt(t, Paths{}, routes...)
}

// otherPaths move every route of ours: a PROXY_PREFIX of one segment or
// two, health checks elsewhere or off (one of them on the prefix's first
// segment).
var otherPaths = []Paths{
	{Prefix: "/sso", Ping: "/healthz", Ready: Off},
	{Prefix: "/auth/v1", Ping: Off, Ready: "/auth"},
}

// routingServerAt is routingServer with its own routes at paths.
func routingServerAt(t testing.TB, paths Paths, routes ...Route) *Server {
	t.Helper()
	signer, err := assertion.NewSigner(assertion.Options{Issuer: "https://portcullis.example", Audience: "app"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Providers: []Provider{{ID: stack.ProviderID, Provider: stack.NewClient(t, stack.OfflineConfig())}},
		Sessions:  stack.NewCookieStore(t, stack.CookieOptions()),
		Flows:     stack.NewFlows(t, stack.CookieOptions()),
		Identity:  Identity{Assertions: signer},
		Tokens:    Tokens{RefreshSkew: 30 * time.Second},
		Access:    Access{Routes: routes},
		Paths:     paths,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameChoice checks that shortcut sends r where the mux would: for the
// auth routes, the mux's pattern for r is theirs (and r's path needs no
// cleaning); for the application, the mux and s.protected answer r alike.
func sameChoice(t *testing.T, s *Server, mux *http.ServeMux, r *http.Request) {
	t.Helper()
	switch d := s.paths.shortcut(r); d {
	case toAuth, toForwardAuth:
		want := map[destination]string{toAuth: s.paths.auth, toForwardAuth: s.paths.forwardAuth}[d]
		if _, pattern := mux.Handler(r); pattern != want || r.URL.EscapedPath() != r.URL.Path {
			t.Errorf("%s %q: shortcut chooses %s; the mux's pattern is %q", r.Method, r.URL.EscapedPath(), want, pattern)
		}
	case toApp:
		viaMux, direct := httptest.NewRecorder(), httptest.NewRecorder()
		mux.ServeHTTP(viaMux, r.Clone(r.Context()))
		s.protected(direct, r.Clone(r.Context()))
		if viaMux.Code != direct.Code || viaMux.Header().Get("Location") != direct.Header().Get("Location") || viaMux.Body.String() != direct.Body.String() {
			t.Errorf("%s %q: the mux answers %d %q, s.protected %d %q; shortcut must not send it to the application",
				r.Method, r.URL.EscapedPath(), viaMux.Code, viaMux.Header().Get("Location"), direct.Code, direct.Header().Get("Location"))
		}
	}
}

// routingRequest is a request for target as the server would parse it.
func routingRequest(method, target string, html bool) (*http.Request, bool) {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, false
	}
	r := httptest.NewRequest(method, "/", nil)
	r.URL, r.RequestURI = u, target
	if html {
		r.Header.Set("Accept", "text/html")
	}
	return r, true
}

func TestShortcut(t *testing.T) {
	s := routingServer(t)
	mux := s.mux()
	tests := []struct {
		target string
		want   destination
	}{
		{"/", toApp},
		{"/app/page?id=42", toApp},
		{"/pingx", toApp},
		{"/ping/", toApp},
		{"/readyz", toApp},
		{"/a.b/c.d", toApp},
		{"/a%2Fb", toApp},
		{"/a%20b/", toApp},
		{"/oauth2/auth", toAuth},
		{"/oauth2/auth?allowed_groups=a", toAuth},
		{"/oauth2/forward-auth", toForwardAuth},
		{"/oauth2%2Fauth", viaMux}, // the mux sends it to the application
		{"/oauth2%2Fforward-auth", viaMux},
		{"/oauth2/%61uth", viaMux},
		{"/oauth2/auth/", viaMux},
		{"/ping", viaMux},
		{"/ready", viaMux},
		{"/oauth2", viaMux},
		{"/oauth2/", viaMux},
		{"/oauth2x", viaMux},
		{"/.well-known/portcullis/jwks.json", viaMux},
		{"/.env", viaMux},
		{"//evil", viaMux},
		{"/a//b", viaMux},
		{"/a/./b", viaMux},
		{"/a/../oauth2/auth", viaMux},
		{"/a/%2E%2E/oauth2/auth", viaMux},
		{"/a/..", viaMux},
		{"*", viaMux},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "POST", "HEAD", "OPTIONS", "CONNECT", "PROPFIND"} {
			r, ok := routingRequest(method, tt.target, true)
			if !ok {
				t.Fatalf("bad target %q", tt.target)
			}
			want := tt.want
			if want == toApp && method == "CONNECT" {
				want = viaMux
			}
			if got := s.paths.shortcut(r); got != want {
				t.Errorf("shortcut(%s %s) = %d; want %d", method, tt.target, got, want)
			}
			sameChoice(t, s, mux, r)
		}
	}
}

// TestShortcutElsewhere: with the routes of ours moved (PROXY_PREFIX,
// PING_PATH, READY_PATH), the shortcut follows them, and the paths they
// left are the application's.
func TestShortcutElsewhere(t *testing.T) {
	tests := []struct {
		paths  Paths
		target string
		want   destination
	}{
		{otherPaths[0], "/sso/auth", toAuth},
		{otherPaths[0], "/sso/auth?allowed_groups=a", toAuth},
		{otherPaths[0], "/sso/forward-auth", toForwardAuth},
		{otherPaths[0], "/oauth2/auth", toApp},
		{otherPaths[0], "/oauth2/forward-auth", toApp},
		{otherPaths[0], "/oauth2/sign_in", toApp},
		{otherPaths[0], "/oauth2/", toApp},
		{otherPaths[0], "/ping", toApp},
		{otherPaths[0], "/ready", toApp},
		{otherPaths[0], "/SSO/auth", toApp},
		{otherPaths[0], "/healthz", viaMux},
		{otherPaths[0], "/sso", viaMux},
		{otherPaths[0], "/sso/", viaMux},
		{otherPaths[0], "/sso/start", viaMux},
		{otherPaths[0], "/ssox", viaMux},
		{otherPaths[0], "/sso%2Fauth", viaMux},
		{otherPaths[0], "/sso/%61uth", viaMux},
		{otherPaths[0], "/x/../sso/auth", viaMux},
		{otherPaths[1], "/auth/v1/auth", toAuth},
		{otherPaths[1], "/auth/v1/forward-auth", toForwardAuth},
		{otherPaths[1], "/auth/v1", viaMux},
		{otherPaths[1], "/auth/v1x", viaMux}, // unsure: the mux decides
		{otherPaths[1], "/auth/v2/auth", toApp},
		{otherPaths[1], "/auth", viaMux},
		{otherPaths[1], "/authx", toApp},
		{otherPaths[1], "/ping", toApp},
		{otherPaths[1], "/ready", toApp},
	}
	servers := map[string]*Server{}
	for _, tt := range tests {
		s := servers[tt.paths.Prefix]
		if s == nil {
			s = routingServerAt(t, tt.paths)
			servers[tt.paths.Prefix] = s
		}
		mux := s.mux()
		for _, method := range []string{"GET", "POST", "HEAD"} {
			r, ok := routingRequest(method, tt.target, true)
			if !ok {
				t.Fatalf("bad target %q", tt.target)
			}
			if got := s.paths.shortcut(r); got != tt.want {
				t.Errorf("%+v: shortcut(%s %s) = %d; want %d", tt.paths, method, tt.target, got, tt.want)
			}
			sameChoice(t, s, mux, r)
		}
	}
}

// TestShortcutKnowsOwnRoutes checks that no path of ownRoutes is taken
// for the application's.
func TestShortcutKnowsOwnRoutes(t *testing.T) {
	for _, paths := range append([]Paths{{}}, otherPaths...) {
		shortcutKnowsOwnRoutes(t, routingServerAt(t, paths))
	}
}

func shortcutKnowsOwnRoutes(t *testing.T, s *Server) {
	for _, rt := range s.ownRoutes() {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			method, path = "GET", rt.pattern
		}
		paths := []string{path}
		if strings.HasSuffix(path, "/") { // a subtree: anything under it too
			paths = append(paths, path+"x")
		}
		for _, p := range paths {
			r, _ := routingRequest(method, p, true)
			if s.paths.shortcut(r) == toApp {
				t.Errorf("shortcut sends %s %s (route %q) to the application", method, p, rt.pattern)
			}
		}
	}
}

// FuzzShortcut checks that wherever shortcut sends a request, the mux
// would have sent it there too.
func FuzzShortcut(f *testing.F) {
	for _, seed := range []string{"/", "/app", "/oauth2/auth", "/oauth2%2Fauth", "/a/../b", "/a%2F..%2Fb", "/ping", "/.well-known/x", "/%2e%2e/x"} {
		f.Add(uint8(0), seed, true)
	}
	for _, seed := range []string{"/sso/auth", "/sso", "/ssox/auth", "/healthz", "/auth", "/auth/v1/forward-auth", "/auth/v1%2Fauth", "/auth/v2"} {
		f.Add(uint8(0), seed, false)
	}
	var servers []*Server
	for _, paths := range append([]Paths{{}}, otherPaths...) {
		servers = append(servers, routingServerAt(f, paths))
	}
	muxes := make([]*http.ServeMux, len(servers))
	for i, s := range servers {
		muxes[i] = s.mux()
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND", "get"}
	f.Fuzz(func(t *testing.T, method uint8, target string, html bool) {
		if len(target) > 512 {
			return
		}
		for i, s := range servers {
			if r, ok := routingRequest(methods[int(method)%len(methods)], target, html); ok {
				sameChoice(t, s, muxes[i], r)
			}
		}
	})
}

// TestRouteClass: the metrics' route label is the route's that answers,
// wherever the paths put it, whatever the path's spelling.
func TestRouteClass(t *testing.T) {
	tests := []struct {
		paths          Paths
		method, target string
		want           string
	}{
		{Paths{}, "GET", "/oauth2/auth", "auth"},
		{Paths{}, "POST", "/oauth2/auth?allowed_groups=a", "auth"},
		{Paths{}, "GET", "/oauth2/forward-auth", "forward_auth"},
		{Paths{}, "GET", "/oauth2/sign_in", "sign_in"},
		{Paths{}, "GET", "/oauth2/start", "start"},
		{Paths{}, "GET", "/oauth2/callback", "callback"},
		{Paths{}, "POST", "/oauth2/callback", "callback"},
		{Paths{}, "POST", "/oauth2/sign_out", "sign_out"},
		{Paths{}, "GET", "/oauth2/userinfo", "userinfo"},
		{Paths{}, "GET", "/oauth2/nothing", "other"},
		{Paths{}, "PUT", "/oauth2/sign_in", "other"}, // the mux's 405
		{Paths{}, "GET", "/ping", "other"},
		{Paths{}, "GET", "/ready", "other"},
		{Paths{}, "GET", "/.well-known/portcullis/jwks.json", "other"},
		{Paths{}, "GET", "/app", "proxy"},
		{Paths{}, "GET", "/oauth2%2Fauth", "proxy"}, // the app's: %2F separates nothing
		{Paths{}, "GET", "/oauth2/%61uth", "auth"},
		{Paths{}, "GET", "//app", "proxy"},   // the mux's redirect to /app
		{Paths{}, "GET", "/oauth2", "other"}, // the mux's redirect to /oauth2/
		{otherPaths[0], "GET", "/sso/auth", "auth"},
		{otherPaths[0], "GET", "/sso/sign_in", "sign_in"},
		{otherPaths[0], "GET", "/sso/x", "other"},
		{otherPaths[0], "GET", "/healthz", "other"},
		{otherPaths[0], "GET", "/oauth2/auth", "proxy"},
		{otherPaths[0], "GET", "/oauth2/sign_in", "proxy"},
		{otherPaths[0], "GET", "/ping", "proxy"},
		{otherPaths[0], "GET", "/ready", "proxy"},
		{otherPaths[1], "GET", "/auth/v1/forward-auth", "forward_auth"},
		{otherPaths[1], "GET", "/auth", "other"}, // READY_PATH
		{otherPaths[1], "GET", "/auth/v2", "proxy"},
	}
	servers := map[string]*Server{}
	for _, tt := range tests {
		s := servers[tt.paths.Prefix]
		if s == nil {
			s = routingServerAt(t, tt.paths)
			servers[tt.paths.Prefix] = s
		}
		r, ok := routingRequest(tt.method, tt.target, true)
		if !ok {
			t.Fatalf("bad target %q", tt.target)
		}
		if got := s.routeClass(r); got != tt.want {
			t.Errorf("%+v: routeClass(%s %s) = %q; want %q", tt.paths, tt.method, tt.target, got, tt.want)
		}
	}
}

// FuzzRouteClass checks that routeClass labels a request with the route
// of the handler the mux chooses for it, wherever the paths put our
// routes; the mux's redirects to a clean path (301) count as the
// application's when the path, as written, names none of ours.
func FuzzRouteClass(f *testing.F) {
	for _, seed := range []string{"/", "/app", "/oauth2/auth", "/oauth2%2Fauth", "/oauth2/%61uth", "/oauth2", "/ping", "/sso/start", "/healthz", "/auth/v1/x", "/x/../oauth2/auth", "//oauth2/auth", "*"} {
		f.Add(uint8(0), seed)
	}
	var servers []*Server
	for _, paths := range append([]Paths{{}}, otherPaths...) {
		servers = append(servers, routingServerAt(f, paths))
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "PROPFIND"}
	f.Fuzz(func(t *testing.T, method uint8, target string) {
		if len(target) > 512 {
			return
		}
		for _, s := range servers {
			r, ok := routingRequest(methods[int(method)%len(methods)], target, false)
			if !ok {
				return
			}
			h, pattern := s.ownMux.Handler(r)
			want, ok := s.labels[pattern]
			if !ok || r.RequestURI == "*" { // "*": ServeHTTP answers 400 itself
				want = "other"
			}
			got := s.routeClass(r)
			if got == want {
				continue
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r.Clone(r.Context()))
			if got == "proxy" && (rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect || rec.Code == http.StatusPermanentRedirect) {
				continue // the mux cleaning a path (ours answer 302 or 303)
			}
			t.Errorf("%+v: routeClass(%s %q) = %q; the mux's pattern %q is %q's (answer %d)", s.paths, r.Method, target, got, pattern, want, rec.Code)
		}
	})
}
