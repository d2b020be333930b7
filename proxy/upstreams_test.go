package proxy_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// routed is a Portcullis in front of the upstreams its options name, its
// provider never called, and a browser signed in as alice on it (her
// session sealed into cookies), built from internal/stack's parts.
type routed struct {
	url   string // Portcullis's base URL
	alice *stack.Browser
}

// newRouted serves a Portcullis whose options edit sets (the upstreams,
// at least).
func newRouted(t *testing.T, edit func(*proxy.Options)) *routed {
	t.Helper()
	co := stack.CookieOptions()
	store := stack.NewCookieStore(t, co)
	po := proxy.Options{
		Providers: []proxy.Provider{{ID: stack.ProviderID, PKCE: true, Provider: stack.NewClient(t, stack.OfflineConfig())}},
		Sessions:  store,
		Flows:     stack.NewFlows(t, co),
	}
	edit(&po)
	srv, err := proxy.New(po)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	r := &routed{url: stack.Serve(t, srv).URL}
	r.alice = stack.NewBrowser(t, r.url)
	for _, c := range stack.Seal(t, store, stack.Alice(time.Now(), 40)) {
		r.alice.Cookies[c.Name] = c
	}
	return r
}

// mustURL parses s, failing t when it is not a URL.
func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestEscapedDotSegmentsResolved: escapes that make "." or ".." segments
// or doubled slashes once decoded (%2e%2e, %2F..%2F), which the mux
// doesn't redirect as it does the plain ones, reach the upstream resolved,
// as the rules read them; an escape that makes no such segment (a %2F
// inside a segment) reaches it as sent.
func TestEscapedDotSegmentsResolved(t *testing.T) {
	t.Parallel()
	up := stack.Serve(t, stack.EchoHandler())
	r := newRouted(t, func(o *proxy.Options) { o.Upstream.URL = mustURL(t, up.URL) })
	tests := []struct{ target, want string }{
		{"/a/%2e%2e/b", "/b"},
		{"/a/%2E%2E/%2e%2e/b?x=1", "/b?x=1"},
		{"/a%2F..%2Fb", "/b"},
		{"/a/%2e/b", "/a/b"},
		{"/a/b/%2e%2e", "/a"},
		{"/a/b/%2e%2e/", "/a/"},
		{"/a/%2Fb", "/a/b"},
		{"/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"},
		// Nothing to resolve: as sent.
		{"/a%2Fb", "/a%2Fb"},
		{"/a/b%2e", "/a/b%2e"},
		{"/a/..b/c", "/a/..b/c"},
		{"/a/%2e%2eb", "/a/%2e%2eb"},
	}
	for _, tt := range tests {
		resp := r.alice.Get(tt.target)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d; want 200 from the upstream: %s", tt.target, resp.StatusCode, stack.ReadBody(t, resp))
			continue
		}
		if got := stack.DecodeEcho(t, resp).URI; got != tt.want {
			t.Errorf("GET %s reached the upstream as %s; want %s", tt.target, got, tt.want)
		}
	}
}
