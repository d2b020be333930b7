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
	switch d := shortcut(r); d {
	case toAuth, toForwardAuth:
		want := map[destination]string{toAuth: "/oauth2/auth", toForwardAuth: "/oauth2/forward-auth"}[d]
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
			if got := shortcut(r); got != want {
				t.Errorf("shortcut(%s %s) = %d; want %d", method, tt.target, got, want)
			}
			sameChoice(t, s, mux, r)
		}
	}
}

// TestShortcutKnowsOwnRoutes checks that no path of ownRoutes is taken
// for the application's.
func TestShortcutKnowsOwnRoutes(t *testing.T) {
	s := routingServer(t)
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
			if shortcut(r) == toApp {
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
	s := routingServer(f)
	mux := s.mux()
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND", "get"}
	f.Fuzz(func(t *testing.T, method uint8, target string, html bool) {
		if len(target) > 512 {
			return
		}
		if r, ok := routingRequest(methods[int(method)%len(methods)], target, html); ok {
			sameChoice(t, s, mux, r)
		}
	})
}
