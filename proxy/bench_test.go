package proxy_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
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
//
// The server, its session and the request are built as the internal
// benchmarks build theirs (proxy.BenchServer, proxy.BenchRequest).

// benchUpstream starts an upstream answering every request with a fixed
// small body, as a static page or a health check would.
func benchUpstream(b *testing.B) *url.URL {
	b.Helper()
	body := []byte("hello from the app\n")
	up := stack.Serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(body)
	}))
	u, err := url.Parse(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	return u
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
		srv, cookies := proxy.BenchServer(b, up, size, nil)
		r := proxy.BenchRequest("/app/page?id=42", "text/html,application/xhtml+xml", cookies)
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
	srv, cookies := proxy.BenchServer(b, nil, 1000, nil)
	r := proxy.BenchRequest("/oauth2/auth", "*/*", cookies)
	b.Run("serial", func(b *testing.B) { serveBench(b, srv, r, http.StatusAccepted) })
	b.Run("parallel", func(b *testing.B) { serveBenchParallel(b, srv, r, http.StatusAccepted) })
}

// BenchmarkForwardAuth is a Traefik or Caddy forward-auth call with a
// valid session, trusted X-Forwarded-* headers and a route rule to match:
// 200 with the identity headers.
func BenchmarkForwardAuth(b *testing.B) {
	srv, cookies := proxy.BenchServer(b, nil, 1000, func(o *proxy.Options) {
		o.Trust.ForwardedHeaders = true
	})
	r := proxy.BenchRequest("/oauth2/forward-auth", "text/html", cookies)
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
	srv, _ := proxy.BenchServer(b, benchUpstream(b), 1000, nil)
	r := proxy.BenchRequest("/api/items", "application/json", nil)
	serveBench(b, srv, r, http.StatusUnauthorized)
}

// BenchmarkUnauthenticatedRedirect is a browser without a session: 302 to
// sign in, coming back to the page.
func BenchmarkUnauthenticatedRedirect(b *testing.B) {
	srv, _ := proxy.BenchServer(b, benchUpstream(b), 1000, nil)
	r := proxy.BenchRequest("/app/page?id=42", "text/html", nil)
	serveBench(b, srv, r, http.StatusFound)
}
