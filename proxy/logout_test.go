package proxy_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// logoutHarness is a proxy in front of an OIDC provider whose ID tokens
// carry sid "sid-A", discovery done, with edit applied to its options.
func logoutHarness(t *testing.T, edit func(*proxy.Options)) (*harness, *stack.Provider) {
	t.Helper()
	entry, o, fake := oidcProvider(t, func(io *idp.Options) {
		io.IDTokenClaims = func(c map[string]any) { c["sid"] = "sid-A" }
	})
	if err := o.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, setup{proxy: func(po *proxy.Options) {
		po.Providers = []proxy.Provider{entry}
		if edit != nil {
			edit(po)
		}
	}})
	return h, fake
}

// signedIn reports whether b's session still lets it through, as an API
// client would be answered (200, else 401).
func signedIn(t *testing.T, h *harness, b *stack.Browser) bool {
	t.Helper()
	resp, err := stack.HTTPClient(t).Do(apiRequest(h.proxy.URL+"/app", b.Cookies))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	}
	t.Fatalf("GET /app = %d; want 200 or 401", resp.StatusCode)
	return false
}

// postLogout POSTs token to the proxy's back-channel logout URI.
func postLogout(t *testing.T, h *harness, token string) (int, http.Header, map[string]string) {
	t.Helper()
	form := url.Values{"logout_token": {token}}
	resp, err := stack.HTTPClient(t).PostForm(h.proxy.URL+"/oauth2/backchannel-logout", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if resp.StatusCode != http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("back-channel logout answer %d is not JSON: %v", resp.StatusCode, err)
		}
	}
	return resp.StatusCode, resp.Header, body
}

// TestBackchannelLogout: every token an attacker could send is refused
// with 400 JSON and ends nothing; the provider's own ends the session
// it names, once.
func TestBackchannelLogout(t *testing.T) {
	t.Parallel()
	h, fake := logoutHarness(t, nil)
	b := h.browser()
	b.SignIn("/app")
	if !signedIn(t, h, b) {
		t.Fatal("not signed in after sign-in")
	}
	claims := func(edit func(map[string]any)) map[string]any {
		c := fake.LogoutClaims(fake.URL, stack.ClientID, "", "sid-A")
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(typ string, c map[string]any) string {
		tok, err := fake.SignJWT(typ, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	with := func(edit func(map[string]any)) string { return sign("logout+jwt", claims(edit)) }
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged := func(key jose.SigningKey) string {
		signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("logout+jwt"))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(claims(nil))
		jws, _ := signer.Sign(payload)
		s, _ := jws.CompactSerialize()
		return s
	}
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(claims(nil))
	now := time.Now()

	for _, c := range []struct{ name, token string }{
		{"unknown key", forged(jose.SigningKey{Algorithm: jose.RS256, Key: otherKey})},
		{"HS256 keyed with the client secret", forged(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(stack.ClientSecret + strings.Repeat("x", 32))})},
		{"alg none", enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(payload) + "."},
		{"other issuer", with(func(c map[string]any) { c["iss"] = "https://evil.example" })},
		{"other audience", with(func(c map[string]any) { c["aud"] = "other-client" })},
		{"expired", with(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })},
		{"iat too old", with(func(c map[string]any) { c["iat"] = now.Add(-10 * time.Minute).Unix() })},
		{"iat in the future", with(func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() })},
		{"nonce", with(func(c map[string]any) { c["nonce"] = "x" })},
		{"no events", with(func(c map[string]any) { delete(c, "events") })},
		{"neither sid nor sub", with(func(c map[string]any) { delete(c, "sid") })},
		{"no jti", with(func(c map[string]any) { delete(c, "jti") })},
		{"typ of an access token", sign("at+jwt", claims(nil))},
		{"an ID token", func() string {
			tok, _ := fake.IDToken(fake.URL, stack.ClientID, "alice", "")
			return tok
		}()},
		{"empty", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := postLogout(t, h, c.token)
			if status != http.StatusBadRequest || body["error"] != "invalid_request" || body["error_description"] == "" {
				t.Fatalf("back-channel logout = %d %v; want 400 invalid_request with a description", status, body)
			}
			if got := hdr.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", got)
			}
			if !signedIn(t, h, b) {
				t.Fatal("a refused logout token ended the session")
			}
		})
	}

	// Bodies that are no single logout_token in a small form.
	valid0 := with(nil)
	for _, c := range []struct{ name, ctype, body string }{
		{"oversized", "application/x-www-form-urlencoded", "logout_token=" + valid0 + "&pad=" + strings.Repeat("x", 70<<10)},
		{"two tokens", "application/x-www-form-urlencoded", "logout_token=" + valid0 + "&logout_token=" + valid0},
		{"JSON", "application/json", `{"logout_token":"` + valid0 + `"}`},
		{"in the query only", "application/x-www-form-urlencoded", ""},
	} {
		target := h.proxy.URL + "/oauth2/backchannel-logout"
		if c.name == "in the query only" {
			target += "?logout_token=" + valid0
		}
		resp, err := stack.HTTPClient(t).Post(target, c.ctype, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: back-channel logout = %d %s; want 400 JSON", c.name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !signedIn(t, h, b) {
			t.Fatalf("%s: the session ended", c.name)
		}
	}

	// Another session of the same user at the provider (another sid)
	// is not ended by this one's logout.
	other := h.browser()
	fake.SetOptions(func(o *idp.Options) { o.IDTokenClaims = func(c map[string]any) { c["sid"] = "sid-B" } })
	other.SignIn("/app")

	valid := with(nil)
	status, hdr, body := postLogout(t, h, valid)
	if status != http.StatusOK || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("back-channel logout = %d %v (Cache-Control %q); want 200, no-store", status, body, hdr.Get("Cache-Control"))
	}
	if signedIn(t, h, b) {
		t.Fatal("session sid-A still signed in after its back-channel logout")
	}
	if !signedIn(t, h, other) {
		t.Fatal("session sid-B ended by sid-A's logout")
	}
	// A browser is sent to sign in again.
	resp := b.Get("/app")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusFound {
		t.Errorf("browser after logout: GET /app = %d; want 302 to sign in", resp.StatusCode)
	}
	if status, _, body := postLogout(t, h, valid); status != http.StatusBadRequest || !strings.Contains(body["error_description"], "jti") {
		t.Errorf("replayed logout token = %d %v; want 400 naming the jti", status, body)
	}

	// A sub-only token ends every session of that user at the provider.
	if status, _, body := postLogout(t, h, with(func(c map[string]any) { delete(c, "sid"); c["sub"] = "1001" })); status != http.StatusOK {
		t.Fatalf("back-channel logout by sub = %d %v; want 200", status, body)
	}
	if signedIn(t, h, other) {
		t.Fatal("session sid-B still signed in after a logout of its sub")
	}
	// A new sign-in after the logout is not ended by it.
	fresh := h.browser()
	time.Sleep(1100 * time.Millisecond) // sign-in times are kept to the second
	fresh.SignIn("/app")
	if !signedIn(t, h, fresh) {
		t.Fatal("a sign-in after the logout was ended by it")
	}
}

// TestBackchannelLogoutReplicas: two replicas sharing an ended list and a
// jti list through one Redis; a logout posted to one ends the session on
// the other within a second (the poll is every 500ms; asserted with slack), and its
// replay on the other is refused. With Redis down the logout gets 503.
func TestBackchannelLogoutReplicas(t *testing.T) {
	t.Parallel()
	rds := redistest.New(t)
	newLists := func() (*session.Ended, *session.Seen) {
		client, err := session.NewRedis(session.RedisOptions{URL: rds.URL})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		e := session.NewEnded(session.EndedOptions{Redis: client})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go e.Run(ctx, nil)
		return e, session.NewSeen(client, nil)
	}
	e1, s1 := newLists()
	h, fake := logoutHarness(t, func(o *proxy.Options) { o.Ending.Ended, o.Ending.Seen = e1, s1 })
	e2, s2 := newLists()
	opts2 := h.opts
	opts2.Ending.Ended, opts2.Ending.Seen = e2, s2
	second, err := proxy.New(opts2)
	if err != nil {
		t.Fatal(err)
	}
	replica2 := &harness{t: t, proxy: stack.Serve(t, second)}
	b := h.browser()
	b.SignIn("/app")
	if !signedIn(t, replica2, b) {
		t.Fatal("session not accepted on the second replica")
	}
	tok, err := fake.SignJWT("logout+jwt", fake.LogoutClaims(fake.URL, stack.ClientID, "", "sid-A"))
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := postLogout(t, h, tok); status != http.StatusOK {
		t.Fatalf("back-channel logout = %d %v; want 200", status, body)
	}
	start := time.Now()
	for signedIn(t, replica2, b) {
		if time.Since(start) > 3*time.Second {
			t.Fatal("session still signed in on the second replica 3s after its logout; want ended within 1s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("ended on the second replica after %v", time.Since(start))
	if status, _, _ := postLogout(t, replica2, tok); status != http.StatusBadRequest {
		t.Errorf("logout token replayed on the second replica = %d; want 400", status)
	}
	rds.Kill()
	tok2, _ := fake.SignJWT("logout+jwt", fake.LogoutClaims(fake.URL, stack.ClientID, "", "sid-Z"))
	status, hdr, body := postLogout(t, h, tok2)
	if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" || hdr.Get("Retry-After") == "" {
		t.Errorf("back-channel logout with Redis down = %d %v; want 503 temporarily_unavailable with Retry-After", status, body)
	}
	if signedIn(t, h, b) {
		t.Error("Redis down: the ended session revived")
	}
}

// TestFrontchannelLogout: the browser's session ends when iss and sid
// are its own; the page may be framed by the provider's origin only.
func TestFrontchannelLogout(t *testing.T) {
	t.Parallel()
	h, fake := logoutHarness(t, nil)
	b := h.browser()
	b.SignIn("/app")
	get := func(q url.Values) *http.Response {
		resp := b.Get("/oauth2/frontchannel-logout?" + q.Encode())
		stack.ReadBody(t, resp)
		return resp
	}
	for _, c := range []struct {
		name   string
		q      url.Values
		status int
	}{
		{"other sid", url.Values{"iss": {fake.URL}, "sid": {"sid-B"}}, http.StatusOK},
		{"other issuer", url.Values{"iss": {"https://evil.example"}, "sid": {"sid-A"}}, http.StatusBadRequest},
		{"no sid", url.Values{"iss": {fake.URL}}, http.StatusBadRequest},
		{"no iss, other sid", url.Values{"sid": {"sid-B"}}, http.StatusOK},
	} {
		if resp := get(c.q); resp.StatusCode != c.status {
			t.Errorf("%s: front-channel logout = %d; want %d", c.name, resp.StatusCode, c.status)
		}
		if !signedIn(t, h, b) {
			t.Fatalf("%s: the session ended", c.name)
		}
	}
	if resp := get(url.Values{"iss": {"https://evil.example"}, "sid": {"sid-A"}}); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("unknown issuer: Content-Security-Policy = %q; want frame-ancestors 'none'", resp.Header.Get("Content-Security-Policy"))
	}
	resp := get(url.Values{"iss": {fake.URL}, "sid": {"sid-A"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("front-channel logout = %d; want 200", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors "+fake.URL) || strings.Contains(csp, "'none';  frame") {
		t.Errorf("Content-Security-Policy = %q; want frame-ancestors %s", csp, fake.URL)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("X-Frame-Options = %q; want none (frame-ancestors decides)", xfo)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", cc)
	}
	if signedIn(t, h, b) {
		t.Fatal("session still signed in after its front-channel logout")
	}
	// Microsoft Entra sends the sid alone: the session's provider is meant.
	// (A new sign-in is a new session at the provider: a new sid.)
	fake.SetOptions(func(o *idp.Options) { o.IDTokenClaims = func(c map[string]any) { c["sid"] = "sid-C" } })
	b2 := h.browser()
	b2.SignIn("/app")
	resp = get2(t, b2, url.Values{"sid": {"sid-C"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+fake.URL) {
		t.Fatalf("front-channel logout without iss = %d, CSP %q; want 200 framed by the provider", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if signedIn(t, h, b2) {
		t.Fatal("session still signed in after its front-channel logout without iss")
	}
}

func get2(t *testing.T, b *stack.Browser, q url.Values) *http.Response {
	t.Helper()
	resp := b.Get("/oauth2/frontchannel-logout?" + q.Encode())
	stack.ReadBody(t, resp)
	return resp
}

// TestIdleTimeout: off by default; on, a session's last use is rewritten
// at most once per interval, and a session unused for the timeout ends.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Truncate(time.Second)
	for _, c := range []struct {
		name     string
		timeout  time.Duration
		interval time.Duration // how often the cookie is rewritten
	}{
		{"an hour: once a minute", time.Hour, time.Minute},
		{"two minutes: once per quarter", 2 * time.Minute, 30 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := testclock.New(t0)
			h := newHarness(t, setup{
				proxy:   func(o *proxy.Options) { o.Now, o.Ending.IdleTimeout = clock.Now, c.timeout },
				session: func(o *session.Options) { o.Now, o.Expire = clock.Now, 48*time.Hour },
				idp:     func(o *idp.Options) { o.Now = clock.Now },
			})
			b := h.browser()
			b.SignIn("/app")
			rewrites := 0
			use := func() int {
				resp := b.Get("/app")
				stack.ReadBody(t, resp)
				if len(stack.SessionCookies(resp)) > 0 {
					rewrites++
				}
				return resp.StatusCode
			}
			// Used every tenth of the interval for ten intervals: rewritten
			// once per interval, never more.
			for range 100 {
				clock.Advance(c.interval / 10)
				if got := use(); got != http.StatusOK {
					t.Fatalf("GET /app while in use = %d; want 200", got)
				}
			}
			if rewrites < 9 || rewrites > 10 {
				t.Errorf("cookie rewritten %d times in 10 intervals; want about 10, at most one an interval", rewrites)
			}
			// The last use kept lags the real one by less than an interval.
			clock.Advance(c.timeout - c.interval - time.Second)
			if got := use(); got != http.StatusOK {
				t.Fatalf("GET /app just before the idle timeout = %d; want 200", got)
			}
			clock.Advance(c.timeout + time.Second)
			if got := use(); got != http.StatusFound {
				t.Fatalf("GET /app after the idle timeout = %d; want 302 to sign in", got)
			}
		})
	}
	t.Run("off by default", func(t *testing.T) {
		clock := testclock.New(t0)
		h := newHarness(t, setup{
			proxy:   func(o *proxy.Options) { o.Now = clock.Now },
			session: func(o *session.Options) { o.Now, o.Expire = clock.Now, 48*time.Hour },
			idp:     func(o *idp.Options) { o.Now = clock.Now },
		})
		b := h.browser()
		b.SignIn("/app")
		clock.Advance(24 * time.Hour)
		resp := b.Get("/app")
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusOK || len(stack.SessionCookies(resp)) > 0 {
			t.Fatalf("a day unused without an idle timeout: %d, %d cookies set; want 200 and no rewrite", resp.StatusCode, len(stack.SessionCookies(resp)))
		}
	})
}

// TestBackchannelLogoutTwoClientsOfOneIssuer: two providers at one issuer
// (two clients); a logout token is judged by the one it is addressed to
// (aud), and ends only that provider's sessions.
func TestBackchannelLogoutTwoClientsOfOneIssuer(t *testing.T) {
	t.Parallel()
	var fakeURL string
	h, fake := logoutHarness(t, func(po *proxy.Options) {
		fakeURL = po.Providers[0].Provider.(*providers.OIDC).Endpoints().Issuer
		o2, err := providers.NewOIDC(providers.OIDCConfig{
			Config:    providers.Config{ID: "corp2", ClientID: "client-2", ClientSecret: "secret-2", Scopes: []string{"openid"}},
			IssuerURL: fakeURL,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := o2.Discover(context.Background()); err != nil {
			t.Fatal(err)
		}
		po.Providers = append(po.Providers, proxy.Provider{ID: "corp2", DisplayName: "Corp 2", PKCE: true, ClientID: "client-2", Provider: o2})
	})
	b := h.browser()
	resp, _ := b.Follow("/oauth2/start?provider=corp&rd=/app", nil)
	stack.ReadBody(t, resp)
	if !signedIn(t, h, b) {
		t.Fatal("not signed in at corp")
	}
	tok, err := fake.SignJWT("logout+jwt", fake.LogoutClaims(fakeURL, "client-2", "", "sid-A"))
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := postLogout(t, h, tok); status != http.StatusOK {
		t.Fatalf("logout token for the second client = %d %v; want 200", status, body)
	}
	if !signedIn(t, h, b) {
		t.Fatal("a logout addressed to corp2 ended a corp session with the same sid")
	}
	tok, _ = fake.SignJWT("logout+jwt", fake.LogoutClaims(fakeURL, "client-3", "", "sid-A"))
	if status, _, body := postLogout(t, h, tok); status != http.StatusBadRequest || !strings.Contains(body["error_description"], "audience") {
		t.Fatalf("logout token for neither client = %d %v; want 400 naming the audience", status, body)
	}
}

// TestBackchannelLogoutBesideAnUndiscoveredProvider: a provider whose
// discovery has not succeeded (its issuer down) can't judge a logout
// token; it must not keep the token's own provider, listed after it, from
// ending the session.
func TestBackchannelLogoutBesideAnUndiscoveredProvider(t *testing.T) {
	t.Parallel()
	var issuer string
	h, fake := logoutHarness(t, func(po *proxy.Options) {
		issuer = po.Providers[0].Provider.(*providers.OIDC).Endpoints().Issuer
		down, err := providers.NewOIDC(providers.OIDCConfig{
			Config:    providers.Config{ID: "down", ClientID: "client-down", ClientSecret: "secret-down", Scopes: []string{"openid"}},
			IssuerURL: "https://down.invalid",
		})
		if err != nil {
			t.Fatal(err)
		}
		po.Providers = append([]proxy.Provider{{ID: "down", DisplayName: "Down", PKCE: true, ClientID: "client-down", Provider: down}}, po.Providers...)
	})
	b := h.browser()
	resp, _ := b.Follow("/oauth2/start?provider=corp&rd=/app", nil)
	stack.ReadBody(t, resp)
	if !signedIn(t, h, b) {
		t.Fatal("not signed in at corp")
	}
	tok, err := fake.SignJWT("logout+jwt", fake.LogoutClaims(issuer, stack.ClientID, "", "sid-A"))
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := postLogout(t, h, tok); status != http.StatusOK {
		t.Fatalf("corp's logout token beside an undiscovered provider = %d %v; want 200", status, body)
	}
	if signedIn(t, h, b) {
		t.Fatal("the session corp's logout token names is still signed in")
	}
}

// TestFrontchannelLogoutTwoClientsOfOneIssuer: with two clients of one
// issuer, the front-channel logout's iss names both; the session of
// either ends when the sid is its own, whichever is listed first.
func TestFrontchannelLogoutTwoClientsOfOneIssuer(t *testing.T) {
	t.Parallel()
	var issuer string
	h, _ := logoutHarness(t, func(po *proxy.Options) {
		issuer = po.Providers[0].Provider.(*providers.OIDC).Endpoints().Issuer
		o2, err := providers.NewOIDC(providers.OIDCConfig{
			Config:    providers.Config{ID: "corp2", ClientID: "client-2", ClientSecret: "secret-2", Scopes: []string{"openid"}},
			IssuerURL: issuer,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := o2.Discover(context.Background()); err != nil {
			t.Fatal(err)
		}
		po.Providers = append([]proxy.Provider{{ID: "corp2", DisplayName: "Corp 2", PKCE: true, ClientID: "client-2", Provider: o2}}, po.Providers...)
	})
	b := h.browser()
	resp, _ := b.Follow("/oauth2/start?provider=corp&rd=/app", nil)
	stack.ReadBody(t, resp)
	if !signedIn(t, h, b) {
		t.Fatal("not signed in at corp")
	}
	resp = get2(t, b, url.Values{"iss": {issuer}, "sid": {"sid-A"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("front-channel logout = %d; want 200", resp.StatusCode)
	}
	if signedIn(t, h, b) {
		t.Fatal("the corp session is still signed in after the front-channel logout of its issuer and sid (corp2, of the same issuer, is listed first)")
	}
}

// failingEnded is an ended list whose End fails while fail is set, as
// Redis does when it can't be reached.
type failingEnded struct {
	*session.Ended
	fail atomic.Bool
}

func (f *failingEnded) End(ctx context.Context, endings ...session.Ending) error {
	if f.fail.Load() {
		return session.ErrUnavailable
	}
	return f.Ended.End(ctx, endings...)
}

// TestBackchannelLogoutRetriedAfter503: a logout token answered 503
// (its sessions could not be ended) is the provider's to send again, and
// must then end them: its jti is not taken as seen.
func TestBackchannelLogoutRetriedAfter503(t *testing.T) {
	t.Parallel()
	ended := &failingEnded{Ended: session.NewEnded(session.EndedOptions{})}
	ended.fail.Store(true)
	h, fake := logoutHarness(t, func(o *proxy.Options) { o.Ending.Ended = ended })
	b := h.browser()
	b.SignIn("/app")
	tok, err := fake.SignJWT("logout+jwt", fake.LogoutClaims(fake.URL, stack.ClientID, "", "sid-A"))
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := postLogout(t, h, tok); status != http.StatusServiceUnavailable {
		t.Fatalf("back-channel logout with the ended list failing = %d %v; want 503", status, body)
	}
	ended.fail.Store(false)
	if status, _, body := postLogout(t, h, tok); status != http.StatusOK {
		t.Errorf("the same logout token sent again once the list works = %d %v; want 200", status, body)
	}
	if signedIn(t, h, b) {
		t.Error("the session outlived its logout token, answered 503 then sent again")
	}
}
