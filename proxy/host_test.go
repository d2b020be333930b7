package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// withHost sends a request to path on the proxy with the Host header set
// to host, and returns the answer and its body.
func withHost(t *testing.T, b *stack.Browser, method, path, host string, hdr http.Header, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, b.Base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range b.Header {
		req.Header[k] = v
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	for _, c := range b.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	return resp, stack.ReadBody(t, resp)
}

// TestUntrustedHostRefused: without PUBLIC_URL, a request whose Host is
// neither loopback nor in ALLOWED_HOSTS gets a 400 naming
// PORTCULLIS_PUBLIC_URL on every sign-in endpoint, and nothing built from
// that Host reaches a Location header or the provider.
func TestUntrustedHostRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Site.AllowedHosts = []string{"app.example.com", ".corp.example", "dev.example.com:*"}
	}})
	const evil = "evil.example"
	endpoints := []struct {
		method, path string
		body         string
	}{
		{"GET", "/oauth2/sign_in?rd=" + url.QueryEscape("http://"+evil+"/x"), ""},
		{"GET", "/oauth2/start?rd=" + url.QueryEscape("http://"+evil+"/x"), ""},
		{"GET", "/oauth2/start?rd=/x", ""},
		{"GET", "/oauth2/callback?code=c&state=s", ""},
		{"GET", "/oauth2/callback", ""}, // the implicit flow's relay page, were there one
		{"POST", "/oauth2/callback", "state=s&access_token=t"},
		{"GET", "/oauth2/sign_out?rd=" + url.QueryEscape("http://"+evil+"/x"), ""},
		{"POST", "/oauth2/sign_out?rd=" + url.QueryEscape("http://"+evil+"/x"), ""},
	}
	hosts := []string{
		evil, evil + ":80", "app.example.com.evil.example", "evilapp.example.com", "app.example.com:8443",
		"corp.example.evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "0.0.0.0", "[::]:80",
		"10.0.0.1", "localhost.",
	}
	for _, host := range hosts {
		for _, ep := range endpoints {
			for _, accept := range []string{"text/html", "application/json"} {
				t.Run(host+" "+ep.method+" "+ep.path+" "+accept, func(t *testing.T) {
					hdr := http.Header{"Accept": {accept}}
					var body io.Reader
					if ep.body != "" {
						hdr.Set("Content-Type", "application/x-www-form-urlencoded")
						body = strings.NewReader(ep.body)
					}
					resp, text := withHost(t, h.browser(), ep.method, ep.path, host, hdr, body)
					if resp.StatusCode != http.StatusBadRequest {
						t.Errorf("status = %d; want 400", resp.StatusCode)
					}
					if !strings.Contains(text, "PORTCULLIS_PUBLIC_URL") || !strings.Contains(text, "PORTCULLIS_ALLOWED_HOSTS") {
						t.Errorf("answer does not name PORTCULLIS_PUBLIC_URL and PORTCULLIS_ALLOWED_HOSTS: %s", text)
					}
					if loc := resp.Header.Get("Location"); loc != "" {
						t.Errorf("Location = %q; want none", loc)
					}
					if host != "" && strings.Contains(text, host) {
						t.Errorf("answer repeats the Host %q: %s", host, text)
					}
					for _, c := range resp.Cookies() {
						if c.Value != "" {
							t.Errorf("cookie %s set", c.Name)
						}
					}
				})
			}
		}
	}
}

// TestTrustedHosts: loopback hosts on any port, ALLOWED_HOSTS entries and
// the host of a provider's REDIRECT_URL may be used; the redirect URI
// sent to the provider is built on them. With PUBLIC_URL, the request's
// Host doesn't matter: everything is built on PUBLIC_URL.
func TestTrustedHosts(t *testing.T) {
	t.Parallel()
	allowed := []string{"app.example.com", ".corp.example", "dev.example.com:*", "exact.example.com:8443"}
	tests := []struct {
		name      string
		opts      func(*proxy.Options)
		host      string
		wantRedir string // redirect_uri sent to the provider
	}{
		{"localhost", nil, "localhost:4180", "http://localhost:4180/oauth2/callback"},
		{"LOCALHOST", nil, "LOCALHOST", "http://LOCALHOST/oauth2/callback"},
		{"127.0.0.1", nil, "127.0.0.1:4180", "http://127.0.0.1:4180/oauth2/callback"},
		{"127.8.9.10", nil, "127.8.9.10", "http://127.8.9.10/oauth2/callback"},
		{"[::1]", nil, "[::1]:4180", "http://[::1]:4180/oauth2/callback"},
		{"allowed host", nil, "app.example.com", "http://app.example.com/oauth2/callback"},
		{"allowed suffix", nil, "a.b.corp.example", "http://a.b.corp.example/oauth2/callback"},
		{"allowed suffix, the domain", nil, "corp.example", "http://corp.example/oauth2/callback"},
		{"allowed host, any port", nil, "dev.example.com:8080", "http://dev.example.com:8080/oauth2/callback"},
		{"allowed host and port", nil, "exact.example.com:8443", "http://exact.example.com:8443/oauth2/callback"},
		{"REDIRECT_URL's host", func(o *proxy.Options) {
			o.Providers[0].RedirectURL = "https://sso-return.example.com/oauth2/callback"
		}, "sso-return.example.com", "https://sso-return.example.com/oauth2/callback"},
		{"PUBLIC_URL, any Host", func(o *proxy.Options) {
			o.Site.PublicURL, _ = url.Parse("https://public.example.com")
		}, "evil.example", "https://public.example.com/oauth2/callback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{proxy: func(o *proxy.Options) {
				o.Site.AllowedHosts = allowed
				if tt.opts != nil {
					tt.opts(o)
				}
			}})
			b := h.browser()
			resp, text := withHost(t, b, "GET", "/oauth2/start?rd=/x", tt.host, nil, nil)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("start = %d; want 302: %s", resp.StatusCode, text)
			}
			loc, err := resp.Location()
			if err != nil || !strings.HasPrefix(loc.String(), h.idp.URL) {
				t.Fatalf("start went to %v; want the provider", loc)
			}
			if got := loc.Query().Get("redirect_uri"); got != tt.wantRedir {
				t.Errorf("redirect_uri = %q; want %q", got, tt.wantRedir)
			}
		})
	}

	// HTTP/1.0 without a Host is no known host either.
	t.Run("no Host", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, setup{})
		resp := rawRequest(t, h, "GET /oauth2/start?rd=/x HTTP/1.0\r\nAccept: text/html\r\n\r\n")
		text := stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(text, "PORTCULLIS_PUBLIC_URL") {
			t.Errorf("start without a Host = %d %s; want 400 naming PORTCULLIS_PUBLIC_URL", resp.StatusCode, text)
		}
	})

	// The refusal is JSON for a client that is not a browser.
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, setup{})
		resp, text := withHost(t, h.browser(), "GET", "/oauth2/start", "evil.example", http.Header{"Accept": {"application/json"}}, nil)
		var got struct {
			Error   string
			Message string
			Status  int
		}
		if err := json.Unmarshal([]byte(text), &got); err != nil || resp.StatusCode != 400 || got.Status != 400 || !strings.Contains(got.Message, "PORTCULLIS_PUBLIC_URL") {
			t.Errorf("start on an unknown host = %d %s (%v); want 400 JSON naming PORTCULLIS_PUBLIC_URL", resp.StatusCode, text, err)
		}
	})
}

// TestSignInOnTrustedHostStillWorks: the whole sign-in through a trusted
// host other than the listener's own address, the sign-out's redirect
// back built on it.
func TestSignInOnTrustedHostStillWorks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	e := b.SignIn("/page") // the harness is on 127.0.0.1:port, a loopback host
	if e.Headers.Get("X-User") != "alice@example.com" {
		t.Fatalf("X-User = %q; want alice@example.com", e.Headers.Get("X-User"))
	}
	resp, _ := withHost(t, b, "GET", "/oauth2/sign_out?rd="+url.QueryEscape("http://localhost:1234/bye"), "localhost:1234", nil, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "http://localhost:1234/bye" {
		t.Errorf("sign-out = %d to %q; want 302 to http://localhost:1234/bye", resp.StatusCode, loc)
	}
}

// TestStateErrorMentionsDroppedCookie: a callback whose CSRF cookie is
// missing (a browser drops a Secure cookie set over plain http) gets a 400
// page that says so, in HTML and JSON.
func TestStateErrorMentionsDroppedCookie(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	for _, accept := range []string{"text/html", "application/json"} {
		b := h.browser()
		resp := b.Get("/oauth2/start?rd=/x")
		stack.ReadBody(t, resp)
		authURL, _ := resp.Location()
		resp = b.Get(authURL.String())
		stack.ReadBody(t, resp)
		cb, _ := resp.Location()
		delete(b.Cookies, "_portcullis_csrf") // as a browser drops a Secure cookie over http
		resp = b.Do("GET", h.proxy.URL+cb.RequestURI(), nil, http.Header{"Accept": {accept}})
		text := stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: callback without its cookie = %d; want 400", accept, resp.StatusCode)
		}
		for _, want := range []string{"not valid in this browser", "plain http", "Secure"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: callback page lacks %q: %s", accept, want, text)
			}
		}
	}
}
