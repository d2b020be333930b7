package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// TestSessionOfAnotherDeployment: two deployments share COOKIE_SECRET (a
// copied secret, a shared parent domain); a session cookie made by one is
// not a session at the other when its provider's client or issuer differ,
// and is at a replica of the same deployment.
func TestSessionOfAnotherDeployment(t *testing.T) {
	t.Parallel()
	const ours = testClientID + "\x00https://idp.a.example"
	h := newHarness(t, setup{session: func(o *session.Options) { o.Bindings = map[string]string{"oauth2": ours} }})
	b := h.browser()
	b.signIn("/")
	b.header = http.Header{"Accept": {"application/json"}}
	for _, tt := range []struct {
		name    string
		binding string
		want    int
	}{
		{"a replica", ours, http.StatusOK},
		{"another client id", "another-client\x00https://idp.a.example", http.StatusUnauthorized},
		{"another issuer", testClientID + "\x00https://idp.b.example", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := h.cookies
			opts.Bindings = map[string]string{"oauth2": tt.binding}
			store, err := session.NewCookieStore(opts)
			if err != nil {
				t.Fatal(err)
			}
			po := h.opts
			po.Sessions = store
			srv, err := proxy.New(po)
			if err != nil {
				t.Fatal(err)
			}
			other := httptest.NewServer(srv)
			defer other.Close()
			req, _ := http.NewRequest(http.MethodGet, other.URL+"/app", nil)
			req.Header.Set("Accept", "application/json")
			for _, c := range b.cookies {
				req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("the session cookie at %s = %d; want %d", tt.name, resp.StatusCode, tt.want)
			}
		})
	}
}
