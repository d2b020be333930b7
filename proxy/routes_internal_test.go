package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
)

// routingServer is a Server with every route registered (the JWKS one
// too) and no upstream: s.protected answers a request without a session
// with a 401 or a redirect to sign in that names the path, so two ways of
// dispatching can be compared by their answers.
func routingServer(t testing.TB) *Server {
	t.Helper()
	p, err := providers.NewOAuth2(providers.Config{
		ID: "oauth2", ClientID: "c", ClientSecret: "s",
		AuthURL: "http://127.0.0.1:1/authorize", TokenURL: "http://127.0.0.1:1/token", UserinfoURL: "http://127.0.0.1:1/userinfo",
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := session.NewCookieStore(session.Options{Secrets: [][]byte{[]byte("routing-secret-0123456789abcdef-32")}, Expire: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := assertion.NewSigner(assertion.Options{Issuer: "https://portcullis.example", Audience: "app"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Providers:   []Provider{{ID: "oauth2", Provider: p}},
		Sessions:    store,
		Assertions:  signer,
		RefreshSkew: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameAnswer serves r through the mux and straight to s.protected, and
// reports a difference in status, Location or body.
func sameAnswer(t *testing.T, s *Server, mux *http.ServeMux, r *http.Request) {
	t.Helper()
	viaMux, direct := httptest.NewRecorder(), httptest.NewRecorder()
	mux.ServeHTTP(viaMux, r.Clone(r.Context()))
	s.protected(direct, r.Clone(r.Context()))
	if viaMux.Code != direct.Code || viaMux.Header().Get("Location") != direct.Header().Get("Location") || viaMux.Body.String() != direct.Body.String() {
		t.Errorf("%s %q: the mux answers %d %q, s.protected %d %q; upstreamOnly must not take it",
			r.Method, r.URL.EscapedPath(), viaMux.Code, viaMux.Header().Get("Location"), direct.Code, direct.Header().Get("Location"))
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

func TestUpstreamOnly(t *testing.T) {
	s := routingServer(t)
	mux := s.mux()
	tests := []struct {
		target string
		want   bool
	}{
		{"/", true},
		{"/app/page?id=42", true},
		{"/pingx", true},
		{"/ping/", true},
		{"/readyz", true},
		{"/a.b/c.d", true},
		{"/a%2Fb", true},
		{"/a%20b/", true},
		{"/ping", false},
		{"/ready", false},
		{"/oauth2", false},
		{"/oauth2/", false},
		{"/oauth2/auth", false},
		{"/oauth2x", false},
		{"/.well-known/portcullis/jwks.json", false},
		{"/.env", false},
		{"//evil", false},
		{"/a//b", false},
		{"/a/./b", false},
		{"/a/../oauth2/auth", false},
		{"/a/%2E%2E/oauth2/auth", false},
		{"/a/..", false},
		{"*", false},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "POST", "HEAD", "OPTIONS", "CONNECT"} {
			r, ok := routingRequest(method, tt.target, true)
			if !ok {
				t.Fatalf("bad target %q", tt.target)
			}
			want := tt.want && method != "CONNECT"
			if got := upstreamOnly(r); got != want {
				t.Errorf("upstreamOnly(%s %s) = %v; want %v", method, tt.target, got, want)
			}
			if upstreamOnly(r) {
				sameAnswer(t, s, mux, r)
			}
		}
	}
}

// FuzzUpstreamOnly checks that whatever upstreamOnly sends straight to
// s.protected, the mux would have sent there too.
func FuzzUpstreamOnly(f *testing.F) {
	for _, seed := range []string{"/", "/app", "/oauth2/auth", "/a/../b", "/a%2F..%2Fb", "/ping", "/.well-known/x", "/%2e%2e/x"} {
		f.Add(uint8(0), seed, true)
	}
	s := routingServer(f)
	mux := s.mux()
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND", "get"}
	f.Fuzz(func(t *testing.T, method uint8, target string, html bool) {
		if len(target) > 512 {
			return
		}
		r, ok := routingRequest(methods[int(method)%len(methods)], target, html)
		if !ok || !upstreamOnly(r) {
			return
		}
		sameAnswer(t, s, mux, r)
	})
}

// TestAuthRoutesAnyMethod checks what routes' shortcut to s.auth and
// s.forwardAuth relies on: the mux sends those exact paths there for
// every method, without a redirect.
func TestAuthRoutesAnyMethod(t *testing.T) {
	mux := routingServer(t).mux()
	for _, path := range []string{"/oauth2/auth", "/oauth2/forward-auth"} {
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "PROPFIND"} {
			r, _ := routingRequest(method, path+"?allowed_groups=a", false)
			if _, pattern := mux.Handler(r); pattern != path {
				t.Errorf("%s %s: the mux's pattern is %q; want %q", method, path, pattern, path)
			}
		}
	}
}
