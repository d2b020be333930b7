package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/portcullis/portcullis/proxy"
)

// ingressCheck is the request an ingress sends to /oauth2/forward-auth
// for a client's GET https://app.example.com/reports?year=2024, as its
// example configuration in examples/ makes it.
type ingressCheck struct {
	name   string
	method string // the check's method
	target string // the check's request URI
	header http.Header
}

func ingressChecks(method string) []ingressCheck {
	forwarded := http.Header{
		"X-Forwarded-Method": {method},
		"X-Forwarded-Proto":  {"https"},
		"X-Forwarded-Host":   {"app.example.com"},
		"X-Forwarded-Uri":    {"/reports?year=2024"},
		"X-Forwarded-For":    {"203.0.113.7"},
	}
	return []ingressCheck{
		// Traefik forwardAuth: always GET, every X-Forwarded-* header.
		{"traefik", "GET", "/oauth2/forward-auth", forwarded},
		// Caddy forward_auth: GET, X-Forwarded-Method and -Uri set by the
		// directive, -Proto, -Host and -For by reverse_proxy.
		{"caddy", "GET", "/oauth2/forward-auth", forwarded},
		// Envoy ext_authz: the request's own method, path_prefix followed
		// by the request's path, X-Forwarded-* from headers_to_add.
		{"envoy", method, "/oauth2/forward-auth?envoy_path=/reports?year=2024", forwarded},
	}
}

// TestForwardAuthAsIngressesAsk sends /oauth2/forward-auth the checks that
// Traefik, Caddy and Envoy make with the configurations in examples/, and
// checks the answers they rely on: 200 with the identity for a signed-in
// user, a redirect to sign in that comes back to the page for a browser
// that is not, 401 for a script.
func TestForwardAuthAsIngressesAsk(t *testing.T) {
	t.Parallel()
	public, _ := url.Parse("https://app.example.com")
	srv, cookies := authServer(t, func(o *proxy.Options) {
		o.Site.PublicURL = public
		o.Trust.ForwardedHeaders = true
		o.Trust.Proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.10/32")}
	})
	check := func(c ingressCheck, accept string, withCookie bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(c.method, c.target, nil)
		r.RemoteAddr = "10.0.0.10:41234" // the ingress
		for k, v := range c.header {
			r.Header[k] = v
		}
		r.Header.Set("Accept", accept)
		if withCookie {
			for _, ck := range cookies {
				r.AddCookie(ck)
			}
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	for _, method := range []string{"GET", "POST"} {
		for _, c := range ingressChecks(method) {
			t.Run(c.name+"/"+method, func(t *testing.T) {
				// Envoy checks with the request's own method: every method
				// must be answered as GET is.
				w := check(c, "text/html,*/*;q=0.8", true)
				if w.Code != http.StatusOK {
					t.Fatalf("signed in: %s %s = %d; want 200", c.method, c.target, w.Code)
				}
				for k, want := range map[string]string{"X-User": "alice@example.com", "X-Email": "alice@example.com", "X-User-Groups": "admins,staff"} {
					if got := w.Header().Get(k); got != want {
						t.Errorf("signed in: %s = %q; want %q", k, got, want)
					}
				}

				w = check(c, "text/html,*/*;q=0.8", false)
				loc, _ := url.Parse(w.Header().Get("Location"))
				if w.Code != http.StatusFound || loc == nil || loc.Host != "app.example.com" {
					t.Fatalf("browser, not signed in: %d Location %q; want 302 to https://app.example.com/oauth2/…", w.Code, w.Header().Get("Location"))
				}
				if rd := loc.Query().Get("rd"); rd != "https://app.example.com/reports?year=2024" {
					t.Errorf("browser, not signed in: rd = %q; want https://app.example.com/reports?year=2024", rd)
				}

				if w := check(c, "application/json", false); w.Code != http.StatusUnauthorized {
					t.Errorf("script, not signed in: %d; want 401", w.Code)
				}
			})
		}
	}
}
