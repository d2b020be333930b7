package stack

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A Browser is an HTTP client that acts like a browser without
// JavaScript: it keeps the cookies of one site (Base) and sends them back
// there, and follows redirects one hop at a time, so that each hop can be
// checked.
type Browser struct {
	t testing.TB
	// Base is the site whose cookies the browser keeps, such as
	// http://127.0.0.1:PORT; a URL that starts with "/" is a path there.
	Base string
	// Client sends the requests; it does not follow redirects.
	Client *http.Client
	// Cookies are Base's cookies by name, as it set them; a test may
	// change them to tamper with them.
	Cookies map[string]*http.Cookie
	// Header is sent with every request; by default Accept says the
	// browser wants HTML.
	Header http.Header
}

// NewBrowser returns a Browser without cookies for the site at base. Its
// Client is an HTTPClient that does not follow redirects.
func NewBrowser(t testing.TB, base string) *Browser {
	c := HTTPClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Browser{
		t:       t,
		Base:    base,
		Client:  c,
		Cookies: map[string]*http.Cookie{},
		Header:  http.Header{"Accept": {"text/html,application/xhtml+xml"}},
	}
}

// HTTPClient returns an HTTP client with a transport of its own, whose idle
// connections are closed when t ends, and a 15-second timeout. A test
// should not share http.DefaultTransport: an httptest.Server that another
// (parallel) test closes closes the shared transport's idle connections
// too, and a request about to reuse one fails with "http:
// CloseIdleConnections called".
func HTTPClient(t testing.TB) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// Do sends one request to rawURL with b.Header and then hdr, and with
// Base's cookies when rawURL is on Base, and keeps the cookies Base sets
// (forgetting those it deletes).
func (b *Browser) Do(method, rawURL string, body io.Reader, hdr http.Header) *http.Response {
	b.t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = b.Base + rawURL
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		b.t.Fatalf("NewRequest(%q): %v", rawURL, err)
	}
	for k, v := range b.Header {
		req.Header[k] = v
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	own := strings.HasPrefix(rawURL, b.Base)
	if own {
		for _, c := range b.Cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	if own {
		for _, c := range resp.Cookies() {
			if c.MaxAge < 0 || c.Value == "" {
				delete(b.Cookies, c.Name)
			} else {
				b.Cookies[c.Name] = c
			}
		}
	}
	return resp
}

// Get is Do of a GET without a body or more headers.
func (b *Browser) Get(rawURL string) *http.Response { return b.Do("GET", rawURL, nil, nil) }

// Follow GETs rawURL with hdr and follows redirects, sending hdr at every
// hop, until an answer that is not a redirect or a redirect away from
// loopback, over HTTP or HTTPS (returned, recorded, not fetched), at most 10 hops. hops are
// the URLs it was redirected to, in order.
func (b *Browser) Follow(rawURL string, hdr http.Header) (resp *http.Response, hops []string) {
	b.t.Helper()
	for range 10 {
		resp := b.Do("GET", rawURL, nil, hdr)
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return resp, hops
		}
		loc, err := resp.Location()
		if err != nil {
			b.t.Fatalf("redirect without Location from %s", rawURL)
		}
		rawURL = loc.String()
		hops = append(hops, rawURL)
		if !strings.HasPrefix(rawURL, "http://127.0.0.1:") && !strings.HasPrefix(rawURL, "https://127.0.0.1:") { // only the stack's own servers are followed
			return resp, hops
		}
		resp.Body.Close()
	}
	b.t.Fatalf("too many redirects: %v", hops)
	return nil, nil
}

// SignIn follows the whole sign-in from path, a page of an upstream that
// echoes (EchoHandler), and returns the upstream's Echo of the request
// that got through, failing t unless one did.
func (b *Browser) SignIn(path string) Echo {
	b.t.Helper()
	resp, hops := b.Follow(path, nil)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("sign-in from %s ended with %d after %v: %s", path, resp.StatusCode, hops, ReadBody(b.t, resp))
	}
	return DecodeEcho(b.t, resp)
}

// Cookie returns the value of Base's cookie name, or "".
func (b *Browser) Cookie(name string) string {
	if c := b.Cookies[name]; c != nil {
		return c.Value
	}
	return ""
}
