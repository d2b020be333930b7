package proxy_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/portcullis/portcullis/proxy"
)

// An X-Forwarded-Uri that doesn't parse (nginx passes $request_uri raw,
// e.g. a bad %-escape) is judged as "/", so per-route restrictions on the
// real path are skipped.
func TestRegressionMalformedForwardedURISkipsRouteRules(t *testing.T) {
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Upstream = nil
		o.TrustForwardedHeaders = true
		o.Routes = []proxy.Route{{Path: regexp.MustCompile(`^/finance(/|$)`), Rules: proxy.Rules{Groups: []string{"finance"}}}}
	}})
	alice := h.browser()
	alice.signIn("/oauth2/start?rd=/oauth2/userinfo")
	for _, uri := range []string{"/finance/report", "/finance/report%zz", "/finance/%"} {
		resp := alice.do("GET", h.proxy.URL+"/oauth2/auth", nil, http.Header{"Accept": {"application/json"}, "X-Original-Uri": {uri}})
		resp.Body.Close()
		t.Logf("%s -> %d", uri, resp.StatusCode)
		if resp.StatusCode != 403 {
			t.Errorf("X-Original-Uri %q = %d; want 403", uri, resp.StatusCode)
		}
	}
}
