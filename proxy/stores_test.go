package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// TestNewNeedsStores: the sessions and the sign-in flows are kept apart,
// and New refuses options without either (the harness's, with both, it
// takes).
func TestNewNeedsStores(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	tests := []struct {
		name   string
		remove func(*proxy.Options)
		want   string // part of the error
	}{
		{name: "no session store", remove: func(o *proxy.Options) { o.Sessions = nil }, want: "no session store"},
		{name: "no flow store", remove: func(o *proxy.Options) { o.Flows = nil }, want: "no sign-in flow store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			po := h.opts
			tt.remove(&po)
			if s, err := proxy.New(po); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v, %v; want an error saying %q", s, err, tt.want)
			}
		})
	}
}

// TestFlowCookieNotUpstream: the sign-in flows' cookie, kept apart from the
// session's, is still one of ours: a signed-in browser with a sign-in
// pending in another tab doesn't show it to the upstream.
func TestFlowCookieNotUpstream(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	b.SignIn("/")
	resp := b.Get("/oauth2/start?rd=/other") // another tab
	resp.Body.Close()
	if _, ok := b.Cookies["_portcullis_csrf"]; !ok {
		t.Fatalf("no _portcullis_csrf cookie after /oauth2/start; cookies %v", b.Cookies)
	}
	resp = b.Get("/app")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /app = %d; want 200", resp.StatusCode)
	}
	if got := stack.DecodeEcho(t, resp).Headers.Get("Cookie"); got != "" {
		t.Errorf("upstream Cookie = %q; want none of ours", got)
	}
}
