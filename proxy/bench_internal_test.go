package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/session"
)

// These benchmarks take the hot path apart: the authenticated request with
// the network replaced by an in-memory transport (so the figure is
// Portcullis's own cost, next to a bare httputil.ReverseProxy on the same
// transport), and its pieces one by one. BENCHMARKS.md has the figures.

// memTransport answers every request at once with a fixed small response,
// without a network: what is left is the cost of whatever sits in front.
type memTransport struct{ body string }

func (t memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:          io.NopCloser(strings.NewReader(t.body)),
		ContentLength: int64(len(t.body)),
		Request:       r,
	}, nil
}

// benchState is a typical signed-in session: stack.Alice, with an access
// token of tokenSize bytes (a JWT from a real provider is about 1 KB),
// valid for an hour so no refresh happens, and a provider's user id as
// long as a real one.
func benchState(tokenSize int) *session.State {
	st := stack.Alice(time.Now(), tokenSize)
	st.UserID = "248289761001"
	return st
}

// benchServer returns a Server in front of upstream (nil: forward-auth
// only) whose provider is never called, and the cookies of a valid session
// with a tokenSize-byte access token.
func benchServer(b *testing.B, upstream *url.URL, tokenSize int, opts func(*Options)) (*Server, []*http.Cookie) {
	b.Helper()
	cookies := stack.CookieOptions()
	cookies.Expire = 24 * time.Hour
	store := stack.NewCookieStore(b, cookies)
	o := Options{
		Upstream:  Upstream{URL: upstream},
		Providers: []Provider{{ID: stack.ProviderID, PKCE: true, Provider: stack.NewClient(b, stack.OfflineConfig())}},
		Sessions:  store,
		Flows:     stack.NewFlows(b, cookies),
		Tokens:    Tokens{ValidateExternal: true, RefreshSkew: 30 * time.Second, RefreshGrace: 5 * time.Minute},
	}
	if opts != nil {
		opts(&o)
	}
	s, err := New(o)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	return s, stack.Seal(b, store, benchState(tokenSize))
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

// BenchServer and BenchRequest serve the package's external benchmarks
// (bench_test.go) too.
var (
	BenchServer  = benchServer
	BenchRequest = benchRequest
)

// benchUpstream is the in-memory upstream's URL.
var benchUpstream = &url.URL{Scheme: "http", Host: "app.internal:8080"}

// benchInternalServer returns a Server whose upstream transport is in
// memory, and a browser request carrying a valid session cookie (1 KB
// access token, a typical JWT).
func benchInternalServer(b *testing.B, opts func(*Options)) (*Server, *http.Request) {
	b.Helper()
	s, cookies := benchServer(b, benchUpstream, 1000, func(o *Options) {
		o.Upstream.Transport = memTransport{body: "hello from the app\n"}
		if opts != nil {
			opts(o)
		}
	})
	return s, benchRequest("/app/page?id=42", "text/html,application/xhtml+xml", cookies)
}

// benchWriter is the least a ResponseWriter can be: a fresh header map per
// response, as net/http's server makes, the status kept, the body
// dropped. httptest.ResponseRecorder, which the package's other
// benchmarks use, also copies the header map when the status is written
// and keeps the body, which a real server doesn't.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header {
	if w.h == nil {
		w.h = make(http.Header)
	}
	return w.h
}

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// benchServe serves r b.N times. The X-Request-Id the handler adds to r
// is removed each time, so every iteration makes a new one.
func benchServe(b *testing.B, h http.Handler, r *http.Request, want int) {
	b.ReportAllocs()
	for b.Loop() {
		delete(r.Header, "X-Request-Id")
		w := &benchWriter{}
		h.ServeHTTP(w, r)
		if w.code != want {
			b.Fatalf("GET %s = %d; want %d", r.URL, w.code, want)
		}
	}
}

// BenchmarkHotPath is the signed-in proxied request with the upstream in
// memory. "bare" is httputil.ReverseProxy alone on the same transport,
// rewriting as Portcullis does minus the identity; the difference between
// the two is what authentication costs per request.
func BenchmarkHotPath(b *testing.B) {
	s, r := benchInternalServer(b, nil)
	b.Run("portcullis", func(b *testing.B) { benchServe(b, s, r, http.StatusOK) })
	b.Run("portcullis+jsonlog", func(b *testing.B) {
		// As deployed: the access log in JSON (here to io.Discard, so the
		// write itself is not counted).
		s, r := benchInternalServer(b, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil)) })
		benchServe(b, s, r, http.StatusOK)
	})

	b.Run("portcullis+10upstreams", func(b *testing.B) {
		// Ten upstream routes (PORTCULLIS_UPSTREAM=/api/=…,…,/=…): the
		// request tries the nine others before the catch-all takes it.
		s, r := benchInternalServer(b, benchTenUpstreams)
		benchServe(b, s, r, http.StatusOK)
	})

	b.Run("portcullis+routes", func(b *testing.B) {
		// A few route rules, as an operator writes them: the request
		// matches a restricting one (the user passes it), so every
		// request reads its path and matches it against the rules.
		s, r := benchInternalServer(b, benchRoutes)
		benchServe(b, s, r, http.StatusOK)
	})

	b.Run("portcullis+inject3", func(b *testing.B) {
		// Three INJECT_HEADERS, as an app that wants its own: a plain
		// source, the groups (joined once for the default set and it) and
		// the token in Authorization (one allocation of its own).
		s, r := benchInternalServer(b, benchInject)
		benchServe(b, s, r, http.StatusOK)
	})

	target := benchUpstream
	bare := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: memTransport{body: "hello from the app\n"},
	}
	b.Run("bare", func(b *testing.B) { benchServe(b, bare, r, http.StatusOK) })
	b.Run("bare+bufferpool", func(b *testing.B) {
		// The same with the 32 KB copy buffers recycled: without, each
		// request allocates one, and the garbage collector and the
		// scavenger returning the memory dominate an in-memory run.
		pooled := *bare
		pooled.BufferPool = &benchBufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
		benchServe(b, &pooled, r, http.StatusOK)
	})

	// Each layer of the request, without the ones after it.
	b.Run("instrument", func(b *testing.B) {
		h := s.instrument(s.metrics, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
		benchServe(b, h, r, http.StatusOK)
	})
	b.Run("mux", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /ping", s.ping)
		mux.HandleFunc("GET /oauth2/auth", s.auth)
		mux.HandleFunc("/oauth2/", s.notFound)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
		benchServe(b, mux, r, http.StatusOK)
	})
	b.Run("loadSession", func(b *testing.B) {
		b.ReportAllocs()
		w := httptest.NewRecorder()
		for b.Loop() {
			if st, err := s.loadSession(w, r); st == nil || err != nil {
				b.Fatalf("loadSession = %v, %v; want a session", st, err)
			}
		}
	})
}

// BenchmarkAuthPath is /oauth2/auth with a valid session, on the same
// writer as BenchmarkHotPath.
func BenchmarkAuthPath(b *testing.B) {
	s, r := benchInternalServer(b, func(o *Options) { o.Upstream.URL = nil })
	r.URL.Path, r.URL.RawQuery = "/oauth2/auth", "" // as nginx's auth_request calls it
	r.RequestURI = "/oauth2/auth"
	benchServe(b, s, r, http.StatusAccepted)
}

// BenchmarkAuthPathInject3 is BenchmarkAuthPath with three
// AUTH_RESPONSE_HEADERS (benchInject's).
func BenchmarkAuthPathInject3(b *testing.B) {
	s, r := benchInternalServer(b, func(o *Options) {
		o.Upstream.URL = nil
		o.Identity.AuthResponse = benchInjected
	})
	r.URL.Path, r.URL.RawQuery = "/oauth2/auth", ""
	r.RequestURI = "/oauth2/auth"
	benchServe(b, s, r, http.StatusAccepted)
}

// benchInjected are three headers as an operator would choose them for
// an app that expects its own: Remote-User=user,X-Webauth-Groups=groups,
// Authorization=bearer:access_token (benchState has no ID token).
var benchInjected = []HeaderRule{
	{Name: "Remote-User", Source: "user"},
	{Name: "X-Webauth-Groups", Source: "groups"},
	{Name: "Authorization", Source: "bearer:access_token"},
}

// benchInject sets benchInjected as INJECT_HEADERS.
func benchInject(o *Options) { o.Identity.Inject = benchInjected }

// BenchmarkAuthPathRoutes is nginx's auth_request subrequest as
// examples/nginx sends it (trusted X-Forwarded-Uri and -Method) to a
// Portcullis with the route rules of benchRoutes: the original request is
// read from the headers and its path matched against the rules.
func BenchmarkAuthPathRoutes(b *testing.B) {
	s, r := benchInternalServer(b, func(o *Options) {
		benchRoutes(o)
		o.Upstream.URL = nil
		o.Trust.ForwardedHeaders = true
	})
	r.URL.Path, r.URL.RawQuery = "/oauth2/auth", ""
	r.RequestURI = "/oauth2/auth"
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "app.example.com")
	r.Header.Set("X-Forwarded-Uri", "/app/page?id=42")
	r.Header.Set("X-Forwarded-Method", "GET")
	benchServe(b, s, r, http.StatusAccepted)
}

// benchRoutes sets route rules as an operator would write them
// (PORTCULLIS_ROUTE_1…4 and one SKIP_AUTH_ROUTES entry, after them); the
// benchmark request, GET /app/page, matches the fourth, which alice passes.
func benchRoutes(o *Options) {
	o.Access.Routes = []Route{
		{Methods: []string{"GET", "HEAD"}, Path: regexp.MustCompile(`^/static/`), Public: true},
		{Path: regexp.MustCompile(`^/admin(/|$)`), Rules: Rules{Groups: []string{"admins"}}},
		{Methods: []string{"POST"}, Path: regexp.MustCompile(`^/payments/`), Rules: Rules{Emails: []string{"cfo@example.com"}}},
		{Path: regexp.MustCompile(`^/app/`), Rules: Rules{Groups: []string{"staff"}}},
		{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/healthz$`), Public: true},
	}
}

// benchTenUpstreams replaces the upstream by ten routes to it
// (tenRoutes).
func benchTenUpstreams(o *Options) {
	o.Upstream.URL = nil
	routes := tenRoutes(benchUpstream.String())
	for i := 0; i+1 < len(routes); i += 2 {
		u, _ := url.Parse(routes[i+1])
		o.Upstream.Routes = append(o.Upstream.Routes, UpstreamRoute{Path: routes[i], URL: u})
	}
}

// BenchmarkRequestID is the X-Request-Id made for a request without one.
func BenchmarkRequestID(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		if len(requestID(r)) == 0 {
			b.Fatal("empty request id")
		}
	}
}

// benchBufferPool is an httputil.BufferPool over sync.Pool.
type benchBufferPool struct{ p sync.Pool }

func (p *benchBufferPool) Get() []byte  { return *p.p.Get().(*[]byte) }
func (p *benchBufferPool) Put(b []byte) { p.p.Put(&b) }

// BenchmarkHeaderRewrite is the Rewrite hook's header work on a browser's
// request: identity headers stripped (none sent, the usual case; then a
// spoofing client's), connection headers stripped (a spoofing client's), our cookies stripped from the Cookie header, and the
// identity set from the session.
func BenchmarkHeaderRewrite(b *testing.B) {
	s, r := benchInternalServer(b, nil)
	st := benchState(1000)
	clean := r.Header.Clone()

	b.Run("strip-identity/none", func(b *testing.B) {
		h := clean.Clone()
		b.ReportAllocs()
		for b.Loop() {
			_ = s.outboundHeader(h, nil)
		}
	})
	b.Run("strip-identity/spoofed", func(b *testing.B) {
		h := clean.Clone()
		for _, k := range []string{"X-User", "X_Email", "X-User-Groups", "X-Auth-Request-User", "X-Forwarded-User"} {
			h[k] = []string{"mallory"}
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = s.outboundHeader(h, nil)
		}
	})
	b.Run("strip-connection/spoofed", func(b *testing.B) {
		h := clean.Clone()
		for _, k := range []string{"X_Forwarded_For", "X-Real-Ip", "Forwarded", "True-Client-Ip", "X-Original-Url", "X-Forwarded-Prefix"} {
			h[k] = []string{"spoofed"}
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = s.outboundHeader(h, nil)
		}
	})
	b.Run("strip-own-cookies", func(b *testing.B) {
		h := clean.Clone()
		cookie := h["Cookie"]
		b.ReportAllocs()
		for b.Loop() {
			h["Cookie"] = cookie
			stripOwnCookies(h, s.sessions.IsOwnCookie)
		}
	})
	b.Run("set-identity", func(b *testing.B) {
		h := clean.Clone()
		b.ReportAllocs()
		for b.Loop() {
			s.identity.setUpstreamHeaders(h, st)
		}
	})
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := s.outboundHeader(clean.Clone(), st) // ReverseProxy clones, then Rewrite copies
			stripOwnCookies(h, s.sessions.IsOwnCookie)
			s.identity.setUpstreamHeaders(h, st)
		}
	})
	b.Run("clone-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = clean.Clone()
		}
	})
}

// BenchmarkAuthorization is the per-request decision: route rules on the
// path, then the global and route allow-lists on the session.
func BenchmarkAuthorization(b *testing.B) {
	st := benchState(1000)
	cases := []struct {
		name string
		opts func(*Options)
	}{
		{"no-rules", nil},
		{"global-lists", func(o *Options) {
			o.Access.Rules = Rules{Domains: []string{"example.org", "example.com"}, Groups: []string{"staff"}}
		}},
		{"three-routes", func(o *Options) {
			o.Access.Rules = Rules{Domains: []string{"example.com"}}
			o.Access.Routes = []Route{
				{Path: regexp.MustCompile(`^/static/`), Public: true},
				{Methods: []string{"POST"}, Path: regexp.MustCompile(`^/api/`), Rules: Rules{Groups: []string{"writers"}}},
				{Path: regexp.MustCompile(`^/app/`), Rules: Rules{Groups: []string{"staff", "admins"}}},
			}
		}},
	}
	for _, c := range cases {
		s, _ := benchInternalServer(b, c.opts)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := s.access.decide([]string{"GET"}, "/app/page", "/app/page")
				if ok, why := s.access.allowed(st, d, nil); !ok || d.public {
					b.Fatalf("allowed = false, %q; want true", why)
				}
			}
		})
	}
}

// BenchmarkDecide is the route decision of every request when route
// rules exist (benchRoutes): the methods to judge, the readings of the
// path and the first matching route of each. A plain path, the usual
// case, is judged as it is; one with upper-case letters adds its
// lower-cased reading; a path written with tricks lists every reading.
func BenchmarkDecide(b *testing.B) {
	s, r := benchInternalServer(b, benchRoutes)
	for _, c := range []struct{ name, escaped string }{
		{"plain", "/app/page"},
		{"upper-case", "/app/Page"},
		{"escaped", "/app/My%20Page"},
		{"tricks", "/public/..;/ADMIN%2e"},
	} {
		decoded, _ := url.PathUnescape(c.escaped)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var buf [4]string
				s.access.decide(s.access.methods(buf[:0], r.Method, r.Header), decoded, c.escaped)
			}
		})
	}
}

// BenchmarkUpstreamChoice is the choice of a request's upstream route
// (upstreamPath, then the longest route that takes it), with one route
// and with ten (tenRoutes: the request's path takes the catch-all after
// trying the nine others), to set against a whole proxied request
// (HotPath/portcullis and HotPath/portcullis+10upstreams).
func BenchmarkUpstreamChoice(b *testing.B) {
	for _, c := range []struct {
		name   string
		routes []string
	}{
		{"1route", []string{"/", benchUpstream.String()}},
		{"10routes", tenRoutes(benchUpstream.String())},
	} {
		us := testUpstreams(b, c.routes...)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, _ := upstreamPath("/app/page")
				if us.route(p) == nil {
					b.Fatal("no route")
				}
			}
		})
	}
}

// BenchmarkOriginalRequest is forward-auth's reading of the original
// request from nginx's trusted headers, as examples/nginx sends them.
func BenchmarkOriginalRequest(b *testing.B) {
	s, r := benchInternalServer(b, func(o *Options) { o.Trust.ForwardedHeaders = true })
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "app.example.com")
	r.Header.Set("X-Forwarded-Uri", "/app/page?id=42")
	r.Header.Set("X-Forwarded-Method", "GET")
	b.ReportAllocs()
	for b.Loop() {
		if o := s.originalRequest(r); !o.known {
			b.Fatal("original request unknown")
		}
	}
}

// BenchmarkSafeRedirect is the rd check, run at sign-in start, callback and
// sign-out (not on the proxied hot path).
func BenchmarkSafeRedirect(b *testing.B) {
	allowed := []string{".example.com", "partner.example.org:*"}
	for _, c := range []struct{ name, rd, want string }{
		{"path", "/app/page?id=42#top", "/app/page?id=42#top"},
		{"absolute-own", "https://app.example.com/app/page?id=42", "https://app.example.com/app/page?id=42"},
		{"absolute-allowed", "https://partner.example.org:8443/x", "https://partner.example.org:8443/x"},
		{"hostile", "https://app.example.com@evil.example/", "/"},
		{"protocol-relative", "//evil.example/", "/"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := safeRedirect(c.rd, "app.example.com", allowed); got != c.want {
					b.Fatalf("safeRedirect(%q) = %q; want %q", c.rd, got, c.want)
				}
			}
		})
	}
}

// BenchmarkRouteClass is the metrics label computed on every request.
func BenchmarkRouteClass(b *testing.B) {
	s := routingServer(b)
	r := httptest.NewRequest("GET", "/app/page", nil)
	b.ReportAllocs()
	for b.Loop() {
		if s.routeClass(r) != "proxy" {
			b.Fatal("want proxy")
		}
	}
}

// BenchmarkMetricsLabels is the counter lookup of every request:
// WithLabelValues hashes the label values on each call.
func BenchmarkMetricsLabels(b *testing.B) {
	m := metrics.New()
	b.Run("requests", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Requests.WithLabelValues("proxy", metrics.Code(200)).Inc()
		}
	})
	b.Run("upstream-duration", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.UpstreamDuration.WithLabelValues(metrics.Code(200)).Observe(0.001)
		}
	})
}
