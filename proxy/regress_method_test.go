package proxy_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/portcullis/portcullis/proxy"
)

// A method-specific restricting route is skipped when the method is spelled
// in lower case (proxy mode does not normalise r.Method, forward-auth does),
// or by HEAD for a GET rule.
func TestRegressionMethodCaseBypassesRouteRule(t *testing.T) {
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Routes = []proxy.Route{
			{Methods: []string{"POST"}, Path: regexp.MustCompile(`^/forms/`), Rules: proxy.Rules{Emails: []string{"bob@example.com"}}},
			{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/reports/`), Rules: proxy.Rules{Emails: []string{"bob@example.com"}}},
		}
	}})
	alice := h.browser()
	alice.signIn("/")
	for _, tc := range []struct{ m, p string }{{"POST", "/forms/a"}, {"post", "/forms/a"}, {"GET", "/reports/x"}, {"HEAD", "/reports/x"}} {
		resp := alice.do(tc.m, h.proxy.URL+tc.p, nil, http.Header{"Accept": {"application/json"}})
		resp.Body.Close()
		t.Logf("%s %s -> %d", tc.m, tc.p, resp.StatusCode)
		if resp.StatusCode != 403 {
			t.Errorf("%s %s = %d; want 403 (alice is not bob)", tc.m, tc.p, resp.StatusCode)
		}
	}
}
