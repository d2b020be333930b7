package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// rawRequest sends request (a whole HTTP/1.1 request, headers spelled
// exactly as written) to the proxy and reads the answer.
func rawRequest(t *testing.T, h *harness, request string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return resp
}

// connectionHeaderNames are headers that describe the connection or the
// original request: a client's copies never reach the upstream.
var connectionHeaderNames = []string{
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Forwarded-Prefix", "X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Uri",
	"X-Forwarded-Method", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Path", "X-Forwarded",
	"Forwarded", "X-Real-IP", "True-Client-IP", "X-Client-IP", "X-Cluster-Client-IP",
	"Client-IP", "CF-Connecting-IP", "Fastly-Client-IP",
	"X-Original-URL", "X-Original-URI", "X-Original-Method", "X-Original-Host", "X-Original-Forwarded-For",
	"X-Rewrite-URL",
	// httpoxy: CGI servers turn Proxy into HTTP_PROXY, which HTTP clients
	// in the app take for their outbound proxy.
	"Proxy",
}

// spellings are the ways a client may write name so that some server
// folds it to name: case, and CGI/WSGI-style servers that turn '_' (and
// other non-alphanumerics) into '-'.
func spellings(name string) []string {
	lower := strings.ToLower(name)
	return []string{
		name, lower, strings.ToUpper(name),
		strings.ReplaceAll(name, "-", "_"), strings.ReplaceAll(lower, "-", "_"),
		strings.ReplaceAll(lower, "-", "."), strings.ReplaceAll(name, "-", "~"),
	}
}

// foldName folds a header name the way the most liberal server would.
func foldName(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

// TestConnectionHeadersToUpstream: the upstream gets X-Forwarded-For,
// -Host and -Proto as Portcullis sets them, whoever the peer, on a
// signed-in request and on a public route alike. A trusted peer's own
// X-Forwarded-For is kept with its address appended, and its
// X-Forwarded-Host and -Proto are kept; any other peer's are replaced by
// what Portcullis saw. Every other spelling of them, and every other
// header that describes the connection or the original request, is
// removed.
func TestConnectionHeadersToUpstream(t *testing.T) {
	t.Parallel()
	peers := []struct {
		name    string
		trust   bool
		proxies []netip.Prefix
		trusted bool
	}{
		{"trust off", false, nil, false},
		{"peer outside TRUSTED_PROXIES", true, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false},
		{"trust on, any peer", true, nil, true},
		{"peer in TRUSTED_PROXIES", true, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, true},
	}
	canonical := map[string]string{ // a trusted proxy's own values
		"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Proto": "https",
	}
	for _, peer := range peers {
		t.Run(peer.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{proxy: func(o *proxy.Options) {
				o.Trust.ForwardedHeaders = peer.trust
				o.Trust.Proxies = peer.proxies
				o.Access.Routes = []proxy.Route{{Path: regexp.MustCompile(`^/public/`), Public: true}}
			}})
			b := h.browser()
			b.SignIn("/")
			var cookie []string
			for _, c := range b.Cookies {
				cookie = append(cookie, c.Name+"="+c.Value)
			}
			host := strings.TrimPrefix(h.proxy.URL, "http://")

			var lines []string
			for i, name := range connectionHeaderNames {
				for j, sp := range spellings(name) {
					if _, ok := canonical[name]; ok && peer.trusted && http.CanonicalHeaderKey(sp) == name {
						continue // the trusted proxy's own header, sent below
					}
					lines = append(lines, fmt.Sprintf("%s: spoofed-%d-%d", sp, i, j))
				}
			}
			if peer.trusted {
				for name, v := range canonical {
					lines = append(lines, name+": "+v)
				}
			}
			want := map[string]string{"x-forwarded-for": "127.0.0.1", "x-forwarded-host": host, "x-forwarded-proto": "http"}
			if peer.trusted {
				want = map[string]string{"x-forwarded-for": "203.0.113.9, 127.0.0.1", "x-forwarded-host": "app.example.com", "x-forwarded-proto": "https"}
			}

			for _, path := range []string{"/page", "/public/page"} {
				t.Run(path, func(t *testing.T) {
					resp := rawRequest(t, h, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nCookie: %s\r\n%s\r\nConnection: close\r\n\r\n",
						path, host, strings.Join(cookie, "; "), strings.Join(lines, "\r\n")))
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("GET %s = %d; want 200: %s", path, resp.StatusCode, stack.ReadBody(t, resp))
					}
					e := stack.DecodeEcho(t, resp)
					got := map[string]string{}
					for name, values := range e.Headers {
						for _, v := range values {
							if strings.Contains(v, "spoofed") {
								t.Errorf("upstream got %s: %q", name, v)
							}
						}
						if _, ok := want[foldName(name)]; ok {
							if name != http.CanonicalHeaderKey(name) || strings.Contains(name, "_") {
								t.Errorf("upstream got %s, another spelling of %s", name, foldName(name))
							}
							got[foldName(name)] = strings.Join(values, "|")
						}
					}
					for name, w := range want {
						if got[name] != w {
							t.Errorf("upstream %s = %q; want %q", name, got[name], w)
						}
					}
				})
			}
		})
	}
}
