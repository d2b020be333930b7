package proxy_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/portcullis/portcullis/proxy"
)

// With a public home page, a forward-auth call whose original URI isn't
// known (headers untrusted, or X-Forwarded-Uri missing) is judged as "/"
// and allowed anonymously.
func TestRegressionForwardAuthUnknownURIIsPublicHome(t *testing.T) {
	for _, trust := range []bool{false, true} {
		h := newHarness(t, setup{proxy: func(o *proxy.Options) {
			o.Upstream = nil
			o.TrustForwardedHeaders = trust
			o.Routes = []proxy.Route{{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/$`), Public: true}}
		}})
		anon := h.browser()
		hdr := http.Header{"Accept": {"application/json"}}
		if trust {
			hdr.Set("X-Forwarded-Method", "GET") // no X-Forwarded-Uri
		} else {
			hdr.Set("X-Forwarded-Uri", "/admin/secret")
		}
		resp := anon.do("GET", h.proxy.URL+"/oauth2/auth", nil, hdr)
		resp.Body.Close()
		t.Logf("trust=%v -> %d", trust, resp.StatusCode)
		if resp.StatusCode != 401 {
			t.Errorf("trust=%v: anonymous /oauth2/auth for an unknown URI = %d; want 401", trust, resp.StatusCode)
		}
	}
}
