package proxy_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/proxy"
)

// countingTransport counts the requests it carries to the upstream.
type countingTransport struct {
	calls atomic.Int32
	next  http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return c.next.RoundTrip(r)
}

// TestUpstreamTransport: the upstream is reached through the transport
// Options name (main's, built from the UPSTREAM_* settings: see
// TestUpstreamMaxConns in package main), as httputil.ReverseProxy's
// Transport.
func TestUpstreamTransport(t *testing.T) {
	t.Parallel()
	transport := &countingTransport{next: http.DefaultTransport}
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Upstream.Transport = transport }})
	b := h.browser()
	e := b.SignIn("/page")
	if e.URI != "/page" {
		t.Fatalf("the upstream got %q; want /page", e.URI)
	}
	if got := transport.calls.Load(); got != 1 {
		t.Errorf("the transport carried %d requests; want 1", got)
	}
}
