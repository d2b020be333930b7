package proxy_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// The benchmarks below drive the whole handler (proxy.Server.ServeHTTP)
// with an httptest.ResponseRecorder, so what they measure is Portcullis's
// own work plus, for the proxied request, one round trip over loopback to
// an in-process upstream that answers a fixed small body. The
// package-internal benchmarks (bench_internal_test.go) measure the same
// request with the upstream replaced by an in-memory transport, and the
// pieces of the hot path one by one. BENCHMARKS.md has the latest figures.
//
//	go test -run '^$' -bench . -benchmem ./proxy/

// benchSecret is the cookie secret of the benchmark servers (32 bytes).
const benchSecret = "bench-secret-0123456789abcdef-32"

// benchState is a typical signed-in session: a full profile, two groups
// and an access token of tokenSize bytes (a JWT from a real provider is
// about 1 KB), valid for an hour so no refresh happens.
func benchState(tokenSize int) *session.State {
	now := time.Now()
	return &session.State{
		Provider:     "oauth2",
		UserID:       "248289761001",
		User:         "alice",
		Email:        "alice@example.com",
		Name:         "Alice Example",
		GivenName:    "Alice",
		FamilyName:   "Example",
		Username:     "alice",
		Groups:       []string{"admins", "staff"},
		AccessToken:  strings.Repeat("a", tokenSize),
		RefreshToken: strings.Repeat("r", 40),
		Expiry:       now.Add(time.Hour),
		CreatedAt:    now,
	}
}

// benchServer returns a Server in front of upstream (nil: forward-auth
// only) whose provider is never called, and the cookies of a valid session
// with a tokenSize-byte access token.
func benchServer(b *testing.B, upstream *url.URL, tokenSize int, opts func(*proxy.Options)) (*proxy.Server, []*http.Cookie) {
	b.Helper()
	p, err := providers.NewOAuth2(providers.Config{
		ID:           "oauth2",
		ClientID:     "bench",
		ClientSecret: "bench-client-secret",
		AuthURL:      "http://127.0.0.1:1/authorize",
		TokenURL:     "http://127.0.0.1:1/token",
		UserinfoURL:  "http://127.0.0.1:1/userinfo",
	})
	if err != nil {
		b.Fatalf("NewOAuth2: %v", err)
	}
	store, err := session.NewCookieStore(session.Options{
		Name:     "_portcullis",
		Secrets:  [][]byte{[]byte(benchSecret)},
		SameSite: http.SameSiteLaxMode,
		Expire:   24 * time.Hour,
	})
	if err != nil {
		b.Fatalf("NewCookieStore: %v", err)
	}
	po := proxy.Options{
		Upstream:              upstream,
		Providers:             []proxy.Provider{{ID: "oauth2", PKCE: true, Provider: p}},
		Sessions:              store,
		ValidateExternalToken: true,
		RefreshSkew:           30 * time.Second,
		RefreshGrace:          5 * time.Minute,
	}
	if opts != nil {
		opts(&po)
	}
	srv, err := proxy.New(po)
	if err != nil {
		b.Fatalf("proxy.New: %v", err)
	}
	rec := httptest.NewRecorder()
	if err := store.Save(rec, httptest.NewRequest("GET", "/", nil), benchState(tokenSize)); err != nil {
		b.Fatalf("Save: %v", err)
	}
	return srv, rec.Result().Cookies()
}

// benchUpstream starts an upstream answering every request with a fixed
// small body, as a static page or a health check would.
func benchUpstream(b *testing.B) *url.URL {
	b.Helper()
	body := []byte("hello from the app\n")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(body)
	}))
	b.Cleanup(up.Close)
	u, err := url.Parse(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// benchRequest is a browser's GET of path with the usual headers and
// cookies (nil: not signed in), plus an application cookie that must pass.
func benchRequest(path, accept string, cookies []*http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Accept", accept)
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	r.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	r.Header.Set("Referer", "http://example.com/app/")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(&http.Cookie{Name: "app_pref", Value: "dark"})
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// serveBench serves r b.N times and fails on any status but want. The
// request is reused; the X-Request-Id the handler adds to it is removed
// each time, so every iteration makes a new one, as for a real client.
func serveBench(b *testing.B, h http.Handler, r *http.Request, want int) {
	b.ReportAllocs()
	for b.Loop() {
		delete(r.Header, "X-Request-Id")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			b.Fatalf("GET %s = %d; want %d: %s", r.URL, w.Code, want, w.Body)
		}
	}
}

// serveBenchParallel is serveBench from GOMAXPROCS goroutines, each with
// its own copy of r.
func serveBenchParallel(b *testing.B, h http.Handler, r *http.Request, want int) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := r.Clone(r.Context())
		for pb.Next() {
			delete(r.Header, "X-Request-Id")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != want {
				b.Errorf("GET %s = %d; want %d", r.URL, w.Code, want)
				return
			}
		}
	})
}

// BenchmarkProxyAuthenticated is a signed-in user's GET through the whole
// handler to an upstream over loopback: route, session cookie decode and
// expiry check, authorization, header rewrite, reverse proxy, metrics.
func BenchmarkProxyAuthenticated(b *testing.B) {
	up := benchUpstream(b)
	for _, size := range []int{40, 1000} {
		srv, cookies := benchServer(b, up, size, nil)
		r := benchRequest("/app/page?id=42", "text/html,application/xhtml+xml", cookies)
		b.Run(fmt.Sprintf("token=%dB", size), func(b *testing.B) {
			serveBench(b, srv, r, http.StatusOK)
		})
		b.Run(fmt.Sprintf("token=%dB/parallel", size), func(b *testing.B) {
			serveBenchParallel(b, srv, r, http.StatusOK)
		})
	}
}

// BenchmarkAuthEndpoint is nginx auth_request's subrequest to /oauth2/auth
// with a valid session: 202 with the identity headers.
func BenchmarkAuthEndpoint(b *testing.B) {
	srv, cookies := benchServer(b, nil, 1000, nil)
	r := benchRequest("/oauth2/auth", "*/*", cookies)
	b.Run("serial", func(b *testing.B) { serveBench(b, srv, r, http.StatusAccepted) })
	b.Run("parallel", func(b *testing.B) { serveBenchParallel(b, srv, r, http.StatusAccepted) })
}

// BenchmarkForwardAuth is a Traefik or Caddy forward-auth call with a
// valid session, trusted X-Forwarded-* headers and a route rule to match:
// 200 with the identity headers.
func BenchmarkForwardAuth(b *testing.B) {
	srv, cookies := benchServer(b, nil, 1000, func(o *proxy.Options) {
		o.TrustForwardedHeaders = true
	})
	r := benchRequest("/oauth2/forward-auth", "text/html", cookies)
	r.Header.Set("X-Forwarded-Method", "GET")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "app.example.com")
	r.Header.Set("X-Forwarded-Uri", "/app/page?id=42")
	b.Run("serial", func(b *testing.B) { serveBench(b, srv, r, http.StatusOK) })
	b.Run("parallel", func(b *testing.B) { serveBenchParallel(b, srv, r, http.StatusOK) })
}

// BenchmarkUnauthenticated401 is an API client without a session: 401
// with a JSON body, the upstream never called.
func BenchmarkUnauthenticated401(b *testing.B) {
	srv, _ := benchServer(b, benchUpstream(b), 1000, nil)
	r := benchRequest("/api/items", "application/json", nil)
	serveBench(b, srv, r, http.StatusUnauthorized)
}

// BenchmarkUnauthenticatedRedirect is a browser without a session: 302 to
// sign in, coming back to the page.
func BenchmarkUnauthenticatedRedirect(b *testing.B) {
	srv, _ := benchServer(b, benchUpstream(b), 1000, nil)
	r := benchRequest("/app/page?id=42", "text/html", nil)
	serveBench(b, srv, r, http.StatusFound)
}
