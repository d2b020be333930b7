package proxy_test

import (
	"maps"
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// TestSessionOfAnotherDeployment: two deployments share COOKIE_SECRET (a
// copied secret, a shared parent domain); a session cookie made by one is
// not a session at the other when its provider's client or issuer differ,
// and is at a replica of the same deployment.
func TestSessionOfAnotherDeployment(t *testing.T) {
	t.Parallel()
	const ours = stack.ClientID + "\x00https://idp.a.example"
	h := newHarness(t, setup{session: func(o *session.Options) { o.Bindings = map[string]string{"oauth2": ours} }})
	b := h.browser()
	b.SignIn("/")
	b.Header = http.Header{"Accept": {"application/json"}}
	for _, tt := range []struct {
		name    string
		binding string
		want    int
	}{
		{"a replica", ours, http.StatusOK},
		{"another client id", "another-client\x00https://idp.a.example", http.StatusUnauthorized},
		{"another issuer", stack.ClientID + "\x00https://idp.b.example", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := h.cookies
			opts.Bindings = map[string]string{"oauth2": tt.binding}
			po := h.opts
			po.Sessions = stack.NewCookieStore(t, opts)
			srv, err := proxy.New(po)
			if err != nil {
				t.Fatal(err)
			}
			other := stack.NewBrowser(t, stack.Serve(t, srv).URL)
			other.Header = b.Header
			other.Cookies = maps.Clone(b.Cookies) // its own: a refused session's cookie is cleared
			resp := other.Get("/app")
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("the session cookie at %s = %d; want %d", tt.name, resp.StatusCode, tt.want)
			}
		})
	}
}
