package proxy_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// accessLogStack is a proxy whose log goes to logs, in front of an echoing
// upstream, with alice's session sealed for it.
func accessLogStack(t *testing.T, logs *lockedBuffer, trust proxy.Trust) (*proxy.Server, string) {
	t.Helper()
	up := stack.Serve(t, stack.EchoHandler())
	upURL, _ := url.Parse(up.URL)
	store := stack.NewCookieStore(t, stack.CookieOptions())
	srv, err := proxy.New(proxy.Options{
		Providers: []proxy.Provider{{ID: stack.ProviderID, PKCE: true, Provider: stack.NewClient(t, stack.OfflineConfig())}},
		Sessions:  store,
		Flows:     stack.NewFlows(t, stack.CookieOptions()),
		Upstream:  proxy.Upstream{URL: upURL},
		Trust:     trust,
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, stack.CookieHeader(stack.Seal(t, store, stack.Alice(time.Now(), 40)))
}

// requestLines are the access log's lines in logs, decoded.
func requestLines(t *testing.T, logs *lockedBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLogFields: the line carries the client address, host, method,
// path (no query string), status, bytes, duration, user, provider, user
// agent and request id.
func TestAccessLogFields(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	srv, cookie := accessLogStack(t, &logs, proxy.Trust{})
	for _, tt := range []struct {
		target, cookie string
		want           map[string]any
	}{
		{"/app/page?token=s3cret-query", cookie, map[string]any{
			"path": "/app/page", "method": "GET", "status": 200.0, "user": "alice@example.com", "provider": "oauth2",
		}},
		{"/oauth2/callback?code=s3cret-code&state=s3cret-state", "", map[string]any{
			"path": "/oauth2/callback", "status": 400.0, "user": "", "provider": "",
		}},
		{"/api/items?access_token=s3cret-token", "", map[string]any{
			"path": "/api/items", "status": 401.0, "user": "",
		}},
	} {
		logs.mu.Lock()
		logs.buf.Reset()
		logs.mu.Unlock()
		req := httptest.NewRequest("GET", "http://app.example.com"+tt.target, nil)
		req.RemoteAddr = "192.0.2.10:51234"
		req.Header.Set("User-Agent", "curl/8.5.0")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113.66") // an untrusted peer's: not believed
		if tt.cookie != "" {
			req.Header.Set("Cookie", tt.cookie)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		lines := requestLines(t, &logs)
		if len(lines) != 1 {
			t.Fatalf("GET %s: %d access-log lines; want 1:\n%s", tt.target, len(lines), logs.String())
		}
		got := lines[0]
		want := map[string]any{
			"client": "192.0.2.10", "host": "app.example.com", "method": "GET", "bytes": float64(rec.Body.Len()),
			"user_agent": "curl/8.5.0", "request_id": rec.Header().Get("X-Request-Id"),
		}
		for k, v := range tt.want {
			want[k] = v
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("GET %s: %s = %#v; want %#v", tt.target, k, got[k], v)
			}
		}
		if d, ok := got["duration"].(float64); !ok || d <= 0 {
			t.Errorf("GET %s: duration = %#v; want a positive number", tt.target, got["duration"])
		}
		if strings.Contains(logs.String(), "s3cret") {
			t.Errorf("GET %s: the log shows the query string:\n%s", tt.target, logs.String())
		}
	}
}

// TestAccessLogClient: the client address comes from X-Forwarded-For only
// when the peer is trusted (TRUST_FORWARDED_HEADERS, TRUSTED_PROXIES):
// the right-most address that is not a trusted proxy's, or with any peer
// trusted (no TRUSTED_PROXIES), the right-most, which the peer itself
// added; entries a client wrote to its left are never believed.
func TestAccessLogClient(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	tests := []struct {
		name  string
		trust proxy.Trust
		peer  string
		xff   []string
		want  string
	}{
		{"not trusting", proxy.Trust{}, "192.0.2.10:1", []string{"203.0.113.7"}, "192.0.2.10"},
		{"no header", proxy.Trust{ForwardedHeaders: true}, "192.0.2.10:1", nil, "192.0.2.10"},
		{"any peer: the one it added", proxy.Trust{ForwardedHeaders: true}, "192.0.2.10:1", []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"any peer, two lines", proxy.Trust{ForwardedHeaders: true}, "192.0.2.10:1", []string{"198.51.100.1", "203.0.113.7"}, "203.0.113.7"},
		{"untrusted peer", proxy.Trust{ForwardedHeaders: true, Proxies: proxies}, "192.0.2.10:1", []string{"203.0.113.7"}, "192.0.2.10"},
		{"trusted chain", proxy.Trust{ForwardedHeaders: true, Proxies: proxies}, "10.0.0.1:1", []string{"198.51.100.1, 203.0.113.7, 10.0.0.9,10.1.2.3"}, "203.0.113.7"},
		{"trusted chain over lines", proxy.Trust{ForwardedHeaders: true, Proxies: proxies}, "10.0.0.1:1", []string{"198.51.100.1, 203.0.113.7", "10.0.0.9"}, "203.0.113.7"},
		{"all trusted: the left-most", proxy.Trust{ForwardedHeaders: true, Proxies: proxies}, "10.0.0.1:1", []string{"10.0.0.7, 10.0.0.9"}, "10.0.0.7"},
		{"not an address stops the walk", proxy.Trust{ForwardedHeaders: true, Proxies: proxies}, "10.0.0.1:1", []string{"198.51.100.1, unknown, 10.0.0.9"}, "10.0.0.9"},
		{"nothing but junk: the peer", proxy.Trust{ForwardedHeaders: true, Proxies: proxies}, "10.0.0.1:1", []string{"x\"y, <script>"}, "10.0.0.1"},
		{"IPv6 with port", proxy.Trust{ForwardedHeaders: true, Proxies: proxies}, "[2001:db8:ffff::1]:1", []string{"[2001:db8::7]:4711"}, "[2001:db8::7]:4711"},
		{"IPv4 with port", proxy.Trust{ForwardedHeaders: true}, "192.0.2.10:1", []string{"203.0.113.7:5555"}, "203.0.113.7:5555"},
		{"mapped peer", proxy.Trust{ForwardedHeaders: true, Proxies: proxies}, "[::ffff:10.0.0.1]:1", []string{"203.0.113.7"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			srv, _ := accessLogStack(t, &logs, tt.trust)
			req := httptest.NewRequest("GET", "/ping", nil)
			req.RemoteAddr = tt.peer
			if tt.xff != nil {
				req.Header["X-Forwarded-For"] = tt.xff
			}
			srv.ServeHTTP(httptest.NewRecorder(), req)
			lines := requestLines(t, &logs)
			if len(lines) != 1 || lines[0]["client"] != tt.want {
				t.Errorf("peer %s, X-Forwarded-For %q: logged %v; want client %q", tt.peer, tt.xff, lines, tt.want)
			}
		})
	}
}

// TestAccessLogBytesStreamed: bytes counts what reached the client over
// several writes, and a HEAD answer's are none.
func TestAccessLogBytesStreamed(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	srv, _ := accessLogStack(t, &logs, proxy.Trust{})
	ps := stack.Serve(t, srv)
	resp, err := http.Get(ps.URL + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	body := stack.ReadBody(t, resp)
	resp, err = http.Head(ps.URL + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	stack.ReadBody(t, resp)
	var lines []map[string]any
	for deadline := time.Now().Add(5 * time.Second); len(lines) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		lines = requestLines(t, &logs) // the line is written once the handler returns
	}
	if len(lines) != 2 || lines[0]["bytes"] != float64(len(body)) || lines[1]["bytes"] != 0.0 {
		t.Errorf("access log = %v; want GET with bytes %d, HEAD with 0", lines, len(body))
	}
}
