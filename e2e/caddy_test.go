package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/internal/caddytest"
	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// caddyExample is the Caddyfile the tests run, as shipped.
const caddyExample = "../examples/caddy/Caddyfile"

// exampleCaddyfile returns examples/caddy/Caddyfile as a caddytest
// template: its site address ":80" and the addresses of Portcullis
// ("portcullis:4180", compose's service) and the app ("app:80") become
// placeholders. Nothing else changes, so what runs is what users copy.
func exampleCaddyfile(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(caddyExample)
	if err != nil {
		t.Fatalf("read the Caddy example: %v", err)
	}
	conf := string(b)
	for _, r := range []struct {
		literal, placeholder string
		times                int // how often the file has it; 0: at least once
	}{
		{"\n:80 {\n", "\n:{{.Port}} {\n", 1},
		{" portcullis:4180 {\n", " {{.Portcullis}} {\n", 0},
		{"reverse_proxy app:80\n", "reverse_proxy {{.Upstream}}\n", 1},
	} {
		n := strings.Count(conf, r.literal)
		if r.times != 0 && n != r.times || n == 0 {
			t.Fatalf("%s has %q %d times; the test replaces it and needs it (exactly %d times when not 0)", caddyExample, r.literal, n, r.times)
		}
		conf = strings.ReplaceAll(conf, r.literal, r.placeholder)
	}
	if strings.Contains(conf, "portcullis:4180") || strings.Contains(conf, "app:80") {
		t.Fatalf("%s names portcullis:4180 or app:80 in a way the test does not replace", caddyExample)
	}
	return conf
}

// caddyStack is the fake provider, an app, Portcullis in forward-auth
// mode and Caddy from the example in front of both, all on loopback,
// with Portcullis set up as examples/caddy/compose.yml sets it: forwarded
// headers believed from Caddy's address only, sessions in Redis.
type caddyStack struct {
	t *testing.T
	stackParts
	appHits *atomic.Int64 // requests that reached the app
	caddy   string        // Caddy's base URL, http://127.0.0.1:<port>
}

// caddyOptions adjust a caddyStack; all are optional. Of the
// stackOptions, nginx and modules are not used.
type caddyOptions struct {
	stackOptions
	// cookieStore keeps sessions in cookies instead of in Redis (the
	// store of the example's compose file).
	cookieStore bool
	// global are Caddy global options (caddytest.Vars.Global).
	global string
}

func newCaddyStack(t *testing.T, co caddyOptions) *caddyStack {
	t.Helper()
	caddytest.Require(t) // skip (or fail) before starting anything
	s := &caddyStack{t: t, appHits: new(atomic.Int64)}
	s.stackParts = startParts(t, co.stackOptions, func(app http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.appHits.Add(1)
			app.ServeHTTP(w, r)
		})
	})
	addr := caddytest.Start(t, exampleCaddyfile(t), caddytest.Vars{
		Portcullis: s.portcullis.Listener.Addr().String(),
		Upstream:   s.app.Listener.Addr().String(),
		Global:     co.global,
	})
	s.caddy = "http://" + addr

	po, so := s.options(t, s.caddy)
	// compose.yml: PORTCULLIS_TRUST_FORWARDED_HEADERS=true and
	// PORTCULLIS_TRUSTED_PROXIES=<Caddy's address>.
	po.Trust = proxy.Trust{ForwardedHeaders: true, Proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	if !co.cookieStore {
		// compose.yml: PORTCULLIS_SESSION_STORE=redis, whose refresh
		// coordination main wires along with the store.
		client, err := session.NewRedis(session.RedisOptions{URL: redistest.Start(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		store, err := session.NewRedisStore(so, client)
		if err != nil {
			t.Fatal(err)
		}
		coord, err := session.NewRedisCoordinator(so, client)
		if err != nil {
			t.Fatal(err)
		}
		po.Sessions = store
		po.Tokens.Refresher = session.NewRefresher(session.RefreshOptions{Coordinator: coord, Now: s.clock.Now})
	}
	s.serve(t, po, co.proxy)
	return s
}

// browser is a browser without JavaScript on the stack's Caddy.
func (s *caddyStack) browser() *stack.Browser { return stack.NewBrowser(s.t, s.caddy) }

// caddySpoofed are the identity headers a client sends to pass as
// someone else, in the spellings servers fold into one another ("_" and
// "." into "-", any case): nginx's list and what the Caddyfile also
// strips (X-User-Attr-*, the assertion, every X-Auth-Request-*).
var caddySpoofed = func() http.Header {
	h := spoofed.Clone()
	for k, v := range map[string]string{
		"x_user":                      "mallory",
		"X.User":                      "mallory",
		"X-User_Id":                   "0",
		"X-User.Groups":               "admins",
		"X_Forwarded_User":            "mallory",
		"X-USER-NAME":                 "mallory",
		"X-User-Provider":             "mallory",
		"X-User-Given-Name":           "mallory",
		"X-User-Attr-Dept":            "mallory",
		"X-User-Attr-Roles":           "admins",
		"X-Portcullis-Assertion":      "stolen",
		"X-Auth-Request-Email":        "mallory@evil.example",
		"X-Auth-Request-Groups":       "admins",
		"X-Auth-Request-Access-Token": "stolen",
	} {
		h[k] = []string{v} // as written: Go would canonicalize x_user and X.User
	}
	return h
}()

// checkCaddyIdentity checks the app saw alice, from Portcullis, and none
// of caddySpoofed: checkIdentity's checks, and no header whose name holds
// a "." (X.User), no X-User-Attr-* (the example copies none) and no
// assertion (Portcullis signs none here).
func checkCaddyIdentity(t *testing.T, e stack.Echo) {
	t.Helper()
	checkIdentity(t, e)
	for k, v := range e.Headers {
		if n := strings.ToLower(k); strings.Contains(n, ".") || strings.HasPrefix(n, "x-user-attr-") || n == "x-portcullis-assertion" {
			t.Errorf("the app got %s: %q; want no such header", k, v)
		}
	}
}

// TestCaddySignIn drives a whole sign-in through Caddy configured by
// examples/caddy/Caddyfile: the protected page, Portcullis's redirect to
// sign in (through forward_auth), the provider, the callback, and back to
// the page, query string and all, which the app serves knowing the user
// is alice, whatever identity headers the client sent.
func TestCaddySignIn(t *testing.T) {
	t.Parallel()
	s := newCaddyStack(t, caddyOptions{})
	b := s.browser()

	const page = "/reports/2024?year=2024&q=a+b&tag=x"
	resp, hops := b.Follow(s.caddy+page, caddySpoofed)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in through Caddy ended with %d after %v: %s", resp.StatusCode, hops, stack.ReadBody(t, resp))
	}
	wantHops := []string{
		s.caddy + "/oauth2/start?", // forward_auth passes on Portcullis's redirect
		s.idp.URL + "/authorize?",  // the provider
		s.caddy + "/oauth2/callback?",
		s.caddy + page, // back where the user was going
	}
	if len(hops) != len(wantHops) {
		t.Fatalf("redirects = %q; want %d hops like %q", hops, len(wantHops), wantHops)
	}
	for i, want := range wantHops {
		if !strings.HasPrefix(hops[i], want) || i == len(wantHops)-1 && hops[i] != want {
			t.Errorf("redirect %d = %q; want %q…", i, hops[i], want)
		}
	}
	start, _ := url.Parse(hops[0])
	if rd := start.Query().Get("rd"); rd != s.caddy+page {
		t.Errorf("the sign-in's rd = %q; want %q (rebuilt from Caddy's X-Forwarded-*)", rd, s.caddy+page)
	}
	e := stack.DecodeEcho(t, resp)
	checkCaddyIdentity(t, e)
	if e.URI != page {
		t.Errorf("the app got %q; want %s", e.URI, page)
	}
	if b.Cookie(stack.CookieName) == "" {
		t.Errorf("no session cookie in the browser after sign-in")
	}

	// Signed in: straight through, with no new sign-in, still alice.
	resp, hops = b.Follow(s.caddy+"/next", caddySpoofed)
	if resp.StatusCode != http.StatusOK || len(hops) != 0 {
		t.Fatalf("second request = %d after %v; want 200 without redirects", resp.StatusCode, hops)
	}
	checkCaddyIdentity(t, stack.DecodeEcho(t, resp))
	if got := s.idp.Calls("token"); got != 1 {
		t.Errorf("token grants = %d; want 1 (one sign-in)", got)
	}
}

// TestCaddyFoldedSpellings: Caddy 2.11.4 and later drop request headers
// whose names hold a "_" or a "." before any handler runs, unless the
// server's expected_underscore_headers or expected_dot_headers let them
// in; earlier releases let every one in. The example removes them itself
// (request_header -*_* and -*.*), so with the spoofed spellings let in,
// the app still gets none of them.
func TestCaddyFoldedSpellings(t *testing.T) {
	t.Parallel()
	s := newCaddyStack(t, caddyOptions{global: `	servers {
		expected_underscore_headers x_user x-user_id x_forwarded_user
		expected_dot_headers x.user x-user.groups
	}
`})
	b := s.browser()
	b.SignIn("/")
	resp, hops := b.Follow(s.caddy+"/page", caddySpoofed)
	if resp.StatusCode != http.StatusOK || len(hops) != 0 {
		t.Fatalf("GET /page = %d after %v; want 200", resp.StatusCode, hops)
	}
	checkCaddyIdentity(t, stack.DecodeEcho(t, resp))
}

// TestCaddyNotSignedIn checks what Caddy answers without a session: a
// browser is sent to sign in, API clients and scripts get 401, identity
// headers a client sends sign no one in, and a session cookie Portcullis
// can't open is cleared. The app sees none of these requests.
func TestCaddyNotSignedIn(t *testing.T) {
	t.Parallel()
	s := newCaddyStack(t, caddyOptions{})
	b := s.browser()
	html := "text/html,application/xhtml+xml,*/*;q=0.8"
	for _, tc := range []struct {
		name string
		hdr  http.Header
		want int
	}{
		{"browser", http.Header{"Accept": {html}}, http.StatusFound},
		{"API client", http.Header{"Accept": {"application/json"}}, http.StatusUnauthorized},
		{"script, no Accept", http.Header{"Accept": nil}, http.StatusUnauthorized},
		{"script, */*", http.Header{"Accept": {"*/*"}}, http.StatusUnauthorized},
		{"XHR", http.Header{"Accept": {html}, "X-Requested-With": {"XMLHttpRequest"}}, http.StatusUnauthorized},
		{"fetch, lower-case XHR", http.Header{"Accept": {html}, "x-requested-with": {"xmlhttprequest"}}, http.StatusUnauthorized},
		{"API client claiming to be alice", mergeHeaders(caddySpoofed, http.Header{"Accept": {"application/json"}}), http.StatusUnauthorized},
		{"browser claiming to be alice", mergeHeaders(caddySpoofed, http.Header{"Accept": {html}}), http.StatusFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.Do("GET", "/api/things?id=7", nil, tc.hdr)
			body := stack.ReadBody(t, resp)
			if resp.StatusCode != tc.want {
				t.Fatalf("GET /api/things = %d; want %d: %.200s", resp.StatusCode, tc.want, body)
			}
			if tc.want == http.StatusFound {
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if loc == nil || loc.Path != "/oauth2/start" || loc.Query().Get("rd") != s.caddy+"/api/things?id=7" {
					t.Errorf("Location = %q; want %s/oauth2/start?rd=%s/api/things?id=7", resp.Header.Get("Location"), s.caddy, s.caddy)
				}
			}
		})
	}

	// A session cookie Portcullis can't open is cleared on the way to
	// sign-in (forward_auth returns the answer with its Set-Cookie).
	resp := b.Do("GET", "/page", nil, http.Header{"Cookie": {stack.CookieName + "=forged"}})
	stack.ReadBody(t, resp)
	cleared := false
	for _, c := range resp.Cookies() {
		if c.Name == stack.CookieName && c.MaxAge < 0 {
			cleared = true
		}
	}
	if resp.StatusCode != http.StatusFound || !cleared {
		t.Errorf("forged cookie: %d, Set-Cookie %q; want 302 clearing %s", resp.StatusCode, resp.Header.Values("Set-Cookie"), stack.CookieName)
	}
	if n := s.appHits.Load(); n != 0 {
		t.Errorf("the app got %d requests; want none without a session", n)
	}
	if got := s.idp.Calls("token"); got != 0 {
		t.Errorf("token grants = %d; want 0", got)
	}
}

// mergeHeaders returns a copy of a with b's values set over it.
func mergeHeaders(a, b http.Header) http.Header {
	h := a.Clone()
	for k, v := range b {
		h[k] = v
	}
	return h
}

// TestCaddySignOut signs in and out through Caddy: sign-out clears the
// browser's cookie, goes where rd says, and ends the session itself, so
// the old cookie replayed is not signed in either.
func TestCaddySignOut(t *testing.T) {
	t.Parallel()
	s := newCaddyStack(t, caddyOptions{})
	b := s.browser()
	b.SignIn("/")
	old := b.Cookie(stack.CookieName)

	resp := b.Get("/oauth2/sign_out?rd=%2Fbye")
	stack.ReadBody(t, resp)
	if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || loc.String() != s.caddy+"/bye" && loc.String() != "/bye" {
		t.Errorf("sign-out = %d to %q; want 302 to /bye", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c := b.Cookie(stack.CookieName); c != "" {
		t.Errorf("after sign-out the browser still has %s", stack.CookieName)
	}
	hits := s.appHits.Load()
	resp = b.Get("/page")
	stack.ReadBody(t, resp)
	if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || loc.Path != "/oauth2/start" {
		t.Errorf("after sign-out, GET /page = %d to %q; want 302 to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
	replay := b.Do("GET", "/page", nil, http.Header{"Accept": {"application/json"}, "Cookie": {stack.CookieName + "=" + old}})
	stack.ReadBody(t, replay)
	if replay.StatusCode != http.StatusUnauthorized {
		t.Errorf("the signed-out session's cookie replayed = %d; want 401", replay.StatusCode)
	}
	if n := s.appHits.Load() - hits; n != 0 {
		t.Errorf("after sign-out the app got %d requests; want none", n)
	}
}

// refreshOptions: access tokens that expire in an hour, rotated refresh
// tokens, and a proxy that refreshes within 30s of expiry.
func refreshOptions(c *testclock.Clock, cookieStore bool) caddyOptions {
	return caddyOptions{cookieStore: cookieStore, stackOptions: stackOptions{
		clock: c,
		idp: func(o *idp.Options) {
			o.ExpiresIn = time.Hour
			o.IssueRefreshTokens = true
			o.RotateRefreshTokens = true
		},
		proxy: func(o *proxy.Options) {
			o.Tokens.ValidateExternal = true
			o.Tokens.RefreshSkew = 30 * time.Second
			o.Tokens.RefreshGrace = 5 * time.Minute
		},
	}}
}

// TestCaddyRefresh lets the access token expire after sign-in: the next
// request through Caddy makes Portcullis refresh it during forward_auth,
// without a new sign-in. forward_auth drops the Set-Cookie of a 200, so
// the example keeps sessions in Redis (compose.yml), whose cookie holds a
// ticket that stays the same: the browser's unchanged cookie names the
// refreshed session, and later requests do not refresh again (the old
// refresh token was rotated away, so a second refresh would fail).
func TestCaddyRefresh(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	s := newCaddyStack(t, refreshOptions(c, false))
	b := s.browser()
	b.SignIn("/")
	before := b.Cookie(stack.CookieName)

	c.Advance(time.Hour - 10*time.Second) // within RefreshSkew of expiry
	for i, path := range []string{"/after-expiry", "/again", "/and-again"} {
		resp, hops := b.Follow(s.caddy+path, nil)
		if resp.StatusCode != http.StatusOK || len(hops) != 0 {
			t.Fatalf("GET %s = %d after %v; want 200 without a new sign-in: %s", path, resp.StatusCode, hops, stack.ReadBody(t, resp))
		}
		checkCaddyIdentity(t, stack.DecodeEcho(t, resp))
		if got := s.idp.Calls("refresh"); got != 1 {
			t.Errorf("after request %d: refresh grants = %d; want 1", i+1, got)
		}
	}
	if got := b.Cookie(stack.CookieName); got != before {
		t.Errorf("the browser's session cookie changed; want the same Redis ticket")
	}
	if got := s.idp.Calls("token") - s.idp.Calls("refresh"); got != 1 {
		t.Errorf("authorization-code grants = %d; want 1 (no new sign-in)", got)
	}
}

// TestCaddyRefreshCookieStore pins what the example's README says of the
// cookie session store behind forward_auth: the cookie of a session
// refreshed during the check never reaches the browser, which keeps
// sending the old one. Portcullis hands the refresh's outcome to requests
// with the old refresh token for a minute (session.RefreshOptions'
// ResultTTL); after that, with rotating refresh tokens, the next request
// spends the rotated-away token and the session ends, and without them
// each such minute costs a refresh grant. This is why the example keeps
// sessions in Redis.
func TestCaddyRefreshCookieStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		rotate bool
		// wantLater is the status of a request with the old cookie once
		// the outcome is forgotten, wantGrants the refresh grants by then.
		wantLater, wantGrants int
	}{
		{"rotating refresh tokens", true, http.StatusUnauthorized, 2},
		{"refresh tokens kept", false, http.StatusOK, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testclock.Wall()
			o := refreshOptions(c, true)
			o.idp = func(o *idp.Options) {
				o.ExpiresIn = time.Hour
				o.IssueRefreshTokens = true
				o.RotateRefreshTokens = tc.rotate
			}
			s := newCaddyStack(t, o)
			b := s.browser()
			b.SignIn("/")
			before := b.Cookie(stack.CookieName)
			api := http.Header{"Accept": {"application/json"}}

			c.Advance(time.Hour - 10*time.Second) // within RefreshSkew of expiry
			for _, path := range []string{"/after-expiry", "/moments-later"} {
				resp := b.Do("GET", path, nil, api)
				stack.ReadBody(t, resp)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s = %d; want 200, refreshed", path, resp.StatusCode)
				}
				if set := stack.SessionCookies(resp); len(set) != 0 {
					t.Errorf("GET %s: forward_auth passed on the refreshed cookie %q; the README says it does not: update it", path, resp.Header.Values("Set-Cookie"))
				}
			}
			if got := b.Cookie(stack.CookieName); got != before {
				t.Errorf("the browser's cookie changed; want the old one (forward_auth drops the Set-Cookie)")
			}
			if got := s.idp.Calls("refresh"); got != 1 {
				t.Errorf("refresh grants = %d; want 1 (the second request got the first's outcome)", got)
			}

			c.Advance(2 * time.Minute) // the outcome is forgotten
			resp := b.Do("GET", "/later", nil, api)
			stack.ReadBody(t, resp)
			if got := s.idp.Calls("refresh"); resp.StatusCode != tc.wantLater || got != tc.wantGrants {
				t.Errorf("with the old cookie two minutes later: %d after %d refresh grants; want %d after %d", resp.StatusCode, got, tc.wantLater, tc.wantGrants)
			}
		})
	}
}

// TestCaddyOptionalHeaders turns on the headers the example copies that
// Portcullis sends only when asked (PASS_ACCESS_TOKEN, a signed
// assertion): the app gets Portcullis's values, never the client's.
func TestCaddyOptionalHeaders(t *testing.T) {
	t.Parallel()
	signer, err := assertion.NewSigner(assertion.Options{Issuer: "https://portcullis.example", Audience: "app"})
	if err != nil {
		t.Fatal(err)
	}
	s := newCaddyStack(t, caddyOptions{stackOptions: stackOptions{proxy: func(o *proxy.Options) {
		o.Identity.PassAccessToken = true
		o.Identity.Assertions = signer
	}}})
	b := s.browser()
	b.SignIn("/")
	resp, hops := b.Follow(s.caddy+"/page", caddySpoofed)
	if resp.StatusCode != http.StatusOK || len(hops) != 0 {
		t.Fatalf("GET /page = %d after %v; want 200", resp.StatusCode, hops)
	}
	e := stack.DecodeEcho(t, resp)
	if got := e.Headers.Values("X-User"); len(got) != 1 || got[0] != "alice@example.com" {
		t.Errorf("the app got X-User %q; want alice's", got)
	}
	if tok := e.Headers.Values("X-Forwarded-Access-Token"); len(tok) != 1 || tok[0] == "" || tok[0] == "stolen" {
		t.Errorf("the app got X-Forwarded-Access-Token %q; want the provider's token", tok)
	}
	a := e.Headers.Values("X-Portcullis-Assertion")
	if len(a) != 1 {
		t.Fatalf("the app got X-Portcullis-Assertion %q; want one", a)
	}
	var keys jose.JSONWebKeySet
	if err := json.Unmarshal(signer.JWKS(), &keys); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(a[0], []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(keys.Keys) == 0 {
		t.Fatalf("the app's X-Portcullis-Assertion %.40q does not parse: %v", a[0], err)
	}
	payload, err := jws.Verify(keys.Keys[0])
	if err != nil {
		t.Fatalf("the app's X-Portcullis-Assertion is not Portcullis's: %v", err)
	}
	if !strings.Contains(string(payload), `"alice@example.com"`) {
		t.Errorf("the assertion's claims = %s; want alice's", payload)
	}
}

// TestCaddyRouteRules runs route rules behind the example: a client's own
// X-Forwarded-Uri or -Method is replaced by Caddy's, and its own
// X-Original-URI or -URL next to them makes the request unknown (every
// restricting rule applies), so none makes a restricted path public; and
// the ways an app may read /finance get its rules.
func TestCaddyRouteRules(t *testing.T) {
	t.Parallel()
	s := newCaddyStack(t, caddyOptions{stackOptions: stackOptions{proxy: func(o *proxy.Options) {
		o.Access.Routes = []proxy.Route{
			{Path: regexp.MustCompile(`^/public/`), Public: true},
			{Path: regexp.MustCompile(`^/finance(/|$)`), Rules: proxy.Rules{Groups: []string{"finance"}}},
		}
	}}})
	addr := strings.TrimPrefix(s.caddy, "http://")
	b := s.browser()
	b.SignIn("/")
	alice := http.Header{"Cookie": {stack.CookieName + "=" + b.Cookie(stack.CookieName)}, "Accept": {"application/json"}}
	anonymous := http.Header{"Accept": {"application/json"}}

	if status, fromApp := rawGet(t, addr, "/public/x", anonymous); status != http.StatusOK || !fromApp {
		t.Errorf("anonymous GET /public/x = %d (from the app: %v); want the app's 200", status, fromApp)
	}
	for _, target := range []string{"/finance/report", "/FINANCE/report", "/finance%2freport", "/%66inance/report", "/public/../finance/report", "/public/..%2ffinance/report", "/finance;x=1/report"} {
		if status, fromApp := rawGet(t, addr, target, alice); status != http.StatusForbidden || fromApp {
			t.Errorf("alice (not in finance) GET %s = %d (from the app: %v); want 403", target, status, fromApp)
		}
	}
	for _, spoof := range []struct{ name, value string }{
		{"X-Forwarded-Uri", "/public/x"}, // Caddy overwrites it
		{"X-Forwarded-Method", "OPTIONS"},
		{"X-Original-Uri", "/public/x"},
		{"X-Original-Url", s.caddy + "/public/x"},
		{"X-Original-Method", "OPTIONS"},
		{"X-Rewrite-Url", "/public/x"},
	} {
		if status, fromApp := rawGet(t, addr, "/finance/report", mergeHeaders(anonymous, http.Header{spoof.name: {spoof.value}})); status != http.StatusUnauthorized || fromApp {
			t.Errorf("anonymous GET /finance/report with %s: %s = %d (from the app: %v); want 401", spoof.name, spoof.value, status, fromApp)
		}
		if status, fromApp := rawGet(t, addr, "/finance/report", mergeHeaders(alice, http.Header{spoof.name: {spoof.value}})); status != http.StatusForbidden || fromApp {
			t.Errorf("alice GET /finance/report with %s: %s = %d (from the app: %v); want 403", spoof.name, spoof.value, status, fromApp)
		}
	}
	if status, fromApp := rawGet(t, addr, "/public/x", mergeHeaders(alice, http.Header{"X-Original-Uri": {"/finance/report"}})); status != http.StatusForbidden || fromApp {
		t.Errorf("alice GET /public/x with X-Original-Uri: /finance/report = %d (from the app: %v); want 403 (unknown: every restricting rule)", status, fromApp)
	}
}

// TestCaddyWebSocket: a WebSocket handshake passes forward_auth like any
// request: signed in, the app upgrades it knowing the user is alice;
// not signed in, Caddy answers 401 and the app never sees it.
func TestCaddyWebSocket(t *testing.T) {
	t.Parallel()
	s := newCaddyStack(t, caddyOptions{stackOptions: stackOptions{app: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			stack.EchoHandler().ServeHTTP(w, r)
			return
		}
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello %s\n", r.Header.Get("X-User"))
		rw.Flush()
	})}})
	b := s.browser()
	b.SignIn("/")
	hits := s.appHits.Load()
	handshake := func(cookie string) (status int, greeting string) {
		t.Helper()
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.caddy, "http://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-User: mallory\r\n%s\r\n",
			strings.TrimPrefix(s.caddy, "http://"), cookie)
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("WebSocket handshake through Caddy: %v", err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			stack.ReadBody(t, resp)
			return resp.StatusCode, ""
		}
		line, _ := r.ReadString('\n')
		return resp.StatusCode, strings.TrimSpace(line)
	}
	if status, greeting := handshake("Cookie: " + stack.CookieName + "=" + b.Cookie(stack.CookieName) + "\r\n"); status != http.StatusSwitchingProtocols || greeting != "hello alice@example.com" {
		t.Errorf("signed-in WebSocket = %d %q; want 101 and \"hello alice@example.com\"", status, greeting)
	}
	if status, _ := handshake(""); status != http.StatusUnauthorized {
		t.Errorf("WebSocket without a session = %d; want 401", status)
	}
	if n := s.appHits.Load() - hits; n != 1 {
		t.Errorf("the app got %d handshakes; want 1 (the signed-in one)", n)
	}
}

// TestCaddyForeignHost: ":80" serves any Host, and Caddy tells Portcullis
// the Host it got (X-Forwarded-Host). A browser sent to Caddy under
// another name signs in on PUBLIC_URL and lands there, never on the name
// it came with.
func TestCaddyForeignHost(t *testing.T) {
	t.Parallel()
	s := newCaddyStack(t, caddyOptions{})
	own := strings.TrimPrefix(s.caddy, "http://")
	for _, host := range []string{"evil.example", "evil.example:443", "127.0.0.1.evil.example", own + ".evil.example"} {
		b := s.browser()
		req, _ := http.NewRequest("GET", s.caddy+"/page?x=1", nil)
		req.Host = host
		req.Header.Set("Accept", "text/html")
		resp, err := b.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		stack.ReadBody(t, resp)
		loc, _ := resp.Location()
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Host != own {
			t.Errorf("Host %s: %d to %q; want 302 to sign in at %s", host, resp.StatusCode, resp.Header.Get("Location"), s.caddy)
			continue
		}
		end, hops := b.Follow(loc.String(), nil)
		stack.ReadBody(t, end)
		if last, _ := url.Parse(hops[len(hops)-1]); end.StatusCode != http.StatusOK || last.Host != own {
			t.Errorf("Host %s: the sign-in ended with %d after %q; want 200 on %s", host, end.StatusCode, hops, own)
		}
	}
}
