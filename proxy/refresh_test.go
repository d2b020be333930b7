package proxy_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// lifecycleHarness signs alice in with a one-hour access token and a
// refresh token; idpOpts and proxyOpts adjust it.
func lifecycleHarness(t *testing.T, c *testclock.Clock, idpOpts func(*idp.Options), proxyOpts func(*proxy.Options)) (*harness, *stack.Browser) {
	t.Helper()
	h := newHarness(t, setup{
		idp: func(o *idp.Options) {
			o.ExpiresIn = time.Hour
			o.IssueRefreshTokens = true
			o.RotateRefreshTokens = true
			o.Now = c.Now
			if idpOpts != nil {
				idpOpts(o)
			}
		},
		proxy: func(o *proxy.Options) {
			o.Now = c.Now
			o.Tokens.ValidateExternal = true
			o.Tokens.RefreshSkew = 30 * time.Second
			o.Tokens.RefreshGrace = 5 * time.Minute
			o.Identity.PassAccessToken = true
			if proxyOpts != nil {
				proxyOpts(o)
			}
		},
		// auto would retry a failed grant with the other client-auth style,
		// which doubles the provider's count of failed grants.
		provider: func(pc *providers.Config) { pc.TokenAuthStyle = providers.AuthStyleParams; pc.Now = c.Now },
		session:  func(o *session.Options) { o.Now = c.Now; o.Expire = 24 * time.Hour },
	})
	b := h.browser()
	b.SignIn("/")
	b.Header = http.Header{"Accept": {"application/json"}}
	return h, b
}

func TestRefreshOnExpiry(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	h, b := lifecycleHarness(t, c, nil, nil)
	resp := b.Get("/before")
	first := stack.DecodeEcho(t, resp).Headers.Get("X-Forwarded-Access-Token")
	resp.Body.Close()

	c.Advance(time.Hour - 10*time.Second) // within REFRESH_SKEW of expiry
	resp = b.Get("/after")
	if resp.StatusCode != 200 {
		t.Fatalf("GET after expiry = %d; want 200 (refreshed)", resp.StatusCode)
	}
	second := stack.DecodeEcho(t, resp).Headers.Get("X-Forwarded-Access-Token")
	resp.Body.Close()
	if second == "" || second == first {
		t.Errorf("upstream got access token %.8q… after refresh; want a new one", second)
	}
	if !setsSessionCookie(resp) {
		t.Errorf("the refreshed session was not written on the same response")
	}
	if got := h.idp.Calls("refresh"); got != 1 {
		t.Errorf("refresh grants = %d; want 1", got)
	}
	// The next request uses the new cookie: no further grant.
	stack.ReadBody(t, b.Get("/again"))
	if got := h.idp.Calls("refresh"); got != 1 {
		t.Errorf("refresh grants after a second request = %d; want 1", got)
	}
	// A refresh never extends COOKIE_EXPIRE.
	c.Advance(24 * time.Hour)
	resp = b.Get("/late")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET after COOKIE_EXPIRE = %d; want 401", resp.StatusCode)
	}
}

func setsSessionCookie(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "_portcullis") && c.Name != "_portcullis_csrf" && c.MaxAge >= 0 && c.Value != "" {
			return true
		}
	}
	return false
}

func TestConcurrentRequestsShareOneRefresh(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	h, b := lifecycleHarness(t, c, func(o *idp.Options) { o.Delay = 0 }, nil)
	c.Advance(2 * time.Hour)
	const n = 40
	var wg sync.WaitGroup
	statuses := make([]int, n)
	tokens := make([]string, n)
	client := stack.HTTPClient(t)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Do(apiRequest(h.proxy.URL+"/page", b.Cookies))
			if err != nil {
				return
			}
			defer resp.Body.Close()
			statuses[i] = resp.StatusCode
			if resp.StatusCode == 200 {
				tokens[i] = stack.DecodeEcho(t, resp).Headers.Get("X-Forwarded-Access-Token")
			}
		}()
	}
	wg.Wait()
	if got := h.idp.Calls("refresh"); got != 1 {
		t.Errorf("refresh grants for %d concurrent requests = %d; want 1", n, got)
	}
	for i := range n {
		if statuses[i] != 200 || tokens[i] != tokens[0] {
			t.Errorf("request %d = %d with token %.8q…; want 200 with the one fresh token", i, statuses[i], tokens[i])
		}
	}
}

func TestSessionEndsWhenRefreshImpossible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		idp  func(*idp.Options)
		then func(*idp.Server)
	}{
		{"no refresh token", func(o *idp.Options) { o.IssueRefreshTokens = false }, nil},
		{"invalid_grant", nil, func(s *idp.Server) { s.SetOptions(func(o *idp.Options) { o.TokenError = "invalid_grant" }) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testclock.Wall()
			h, b := lifecycleHarness(t, c, tt.idp, nil)
			if tt.then != nil {
				tt.then(h.idp.Server)
			}
			c.Advance(2 * time.Hour)
			// A browser is sent to sign in and comes back where it was.
			resp := b.Do("GET", "/deep/page?q=1", nil, http.Header{"Accept": {"text/html"}})
			stack.ReadBody(t, resp)
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/oauth2/start?rd="+url.QueryEscape("/deep/page?q=1") {
				t.Errorf("browser after a dead refresh = %d to %q; want 302 to sign in", resp.StatusCode, resp.Header.Get("Location"))
			}
			if len(b.Cookies) != 0 {
				t.Errorf("cookies not cleared: %v", b.Cookies)
			}
		})
	}
}

func TestTransientRefreshFailureAndGrace(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	h, b := lifecycleHarness(t, c, nil, nil)
	h.idp.SetOptions(func(o *idp.Options) { o.TokenStatus = 503 })
	c.Advance(time.Hour + time.Minute) // expired a minute ago; grace is 5m
	for i := range 5 {
		resp := b.Get("/during-outage")
		stack.ReadBody(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d within the grace = %d; want 200", i, resp.StatusCode)
		}
	}
	if got := h.idp.Calls("refresh"); got != 1 {
		t.Errorf("refresh grants during the backoff = %d; want 1", got)
	}
	c.Advance(10 * time.Second) // past the backoff: retried, still failing
	stack.ReadBody(t, b.Get("/retry"))
	if got := h.idp.Calls("refresh"); got != 2 {
		t.Errorf("refresh grants after the backoff = %d; want 2", got)
	}
	c.Advance(5 * time.Minute) // past the grace
	resp := b.Get("/after-grace")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("request past the grace = %d; want 401", resp.StatusCode)
	}
}

func TestRecoveryAfterTransientFailure(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	h, b := lifecycleHarness(t, c, nil, nil)
	h.idp.SetOptions(func(o *idp.Options) { o.TokenStatus = 503 })
	c.Advance(time.Hour)
	stack.ReadBody(t, b.Get("/outage"))
	h.idp.SetOptions(func(o *idp.Options) { o.TokenStatus = 0 })
	c.Advance(10 * time.Second)
	resp := b.Get("/recovered")
	stack.ReadBody(t, resp)
	if resp.StatusCode != 200 || !setsSessionCookie(resp) {
		t.Errorf("after the provider recovers = %d (cookie rewritten: %v); want 200 and a new cookie", resp.StatusCode, setsSessionCookie(resp))
	}
}

func TestNoRefreshWithoutValidation(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	h, b := lifecycleHarness(t, c, nil, func(o *proxy.Options) { o.Tokens.ValidateExternal = false })
	c.Advance(10 * time.Hour)
	resp := b.Get("/")
	stack.ReadBody(t, resp)
	if resp.StatusCode != 200 {
		t.Errorf("GET long after the token expired = %d; want 200", resp.StatusCode)
	}
	if got := h.idp.Calls("refresh"); got != 0 {
		t.Errorf("refresh grants = %d; want 0", got)
	}
}

func TestSignOutRevokesAndLogsOutAtProvider(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{
		idp: func(o *idp.Options) { o.IssueRefreshTokens = true },
		provider: func(pc *providers.Config) {
			pc.RevokeURL = strings.TrimSuffix(pc.AuthURL, "/authorize") + "/revoke"
		},
		proxy: func(o *proxy.Options) {
			o.Providers[0].LogoutURL = "https://sso.example/logout?x=1"
			o.Providers[0].ClientID = stack.ClientID
		},
	})
	b := h.browser()
	b.SignIn("/")
	resp := b.Get("/oauth2/sign_out?rd=/bye")
	stack.ReadBody(t, resp)
	loc, _ := resp.Location()
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Host != "sso.example" {
		t.Fatalf("sign-out = %d to %v; want 302 to the provider's logout URL", resp.StatusCode, loc)
	}
	q := loc.Query()
	if got, want := q.Get("post_logout_redirect_uri"), h.proxy.URL+"/bye"; got != want {
		t.Errorf("post_logout_redirect_uri = %q; want %q", got, want)
	}
	if q.Get("client_id") != stack.ClientID || q.Get("x") != "1" {
		t.Errorf("logout query = %v; want client_id and the URL's own x=1", q)
	}
	if got := h.idp.Calls("revoke"); got != 1 {
		t.Errorf("revocations = %d; want 1", got)
	}
	if len(b.Cookies) != 0 {
		t.Errorf("cookies left after sign-out: %v", b.Cookies)
	}
	// The revoked refresh token is dead at the provider.
	if h.idp.Calls("refresh") != 0 {
		t.Errorf("unexpected refresh")
	}
}
