package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

func ptr[T any](v T) *T { return &v }

func TestSignInFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()

	// An unauthenticated browser is sent to sign in, and comes back.
	resp := b.Get("/app/page?x=1")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /app/page = %d; want 302", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if want := "/oauth2/start?rd=" + url.QueryEscape("/app/page?x=1"); loc != want {
		t.Fatalf("Location = %q; want %q", loc, want)
	}

	// /oauth2/start sends the browser to the provider with the right parameters.
	resp = b.Get(loc)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s = %d; want 302", loc, resp.StatusCode)
	}
	authURL, _ := resp.Location()
	q := authURL.Query()
	for k, want := range map[string]string{
		"client_id":             stack.ClientID,
		"redirect_uri":          h.proxy.URL + "/oauth2/callback",
		"response_type":         "code",
		"scope":                 "openid email profile",
		"code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorization URL %s = %q; want %q", k, got, want)
		}
	}
	if q.Get("state") == "" || len(q.Get("code_challenge")) < 43 {
		t.Errorf("authorization URL lacks state or code_challenge: %v", q)
	}
	if _, ok := b.Cookies["_portcullis_csrf"]; !ok {
		t.Fatalf("no _portcullis_csrf cookie after /oauth2/start; cookies %v", b.Cookies)
	}

	// The provider sends it back to the callback, which sets the session.
	resp, hops := b.Follow(authURL.String(), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("flow ended with %d after %v", resp.StatusCode, hops)
	}
	if got, want := hops[len(hops)-1], h.proxy.URL+"/app/page?x=1"; got != want {
		t.Errorf("last hop = %q; want %q", got, want)
	}
	e := stack.DecodeEcho(t, resp)
	for k, want := range map[string]string{
		"X-User":                         "alice@example.com",
		"X-User-Id":                      "1001",
		"X-User-Provider":                "oauth2",
		"X-Email":                        "alice@example.com",
		"X-User-Name":                    "Alice Example",
		"X-User-Groups":                  "admins,staff",
		"X-Forwarded-User":               "alice@example.com",
		"X-Forwarded-Email":              "alice@example.com",
		"X-Forwarded-Preferred-Username": "alice",
		"X-Forwarded-Groups":             "admins,staff",
	} {
		if got := e.Headers.Get(k); got != want {
			t.Errorf("upstream %s = %q; want %q", k, got, want)
		}
	}
	if e.URI != "/app/page?x=1" {
		t.Errorf("upstream URI = %q; want /app/page?x=1", e.URI)
	}
	if _, ok := b.Cookies["_portcullis_csrf"]; ok {
		t.Errorf("CSRF cookie still set after the callback")
	}
	if got := h.idp.Calls("token"); got != 1 {
		t.Errorf("token endpoint calls = %d; want 1", got)
	}
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	tests := []struct {
		name       string
		accept     string
		method     string
		wantStatus int
		wantLoc    string
	}{
		{"browser", "text/html,*/*;q=0.8", "GET", 302, "/oauth2/start?rd=%2Fdata"},
		{"browser form post", "text/html", "POST", 302, "/oauth2/start?rd=%2F"},
		{"no accept", "", "GET", 401, ""},
		{"star", "*/*", "GET", 401, ""},
		{"json", "application/json", "GET", 401, ""},
		{"xhr json post", "application/json", "POST", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := h.browser()
			b.Header = http.Header{}
			if tt.accept != "" {
				b.Header.Set("Accept", tt.accept)
			}
			resp := b.Do(tt.method, "/data", nil, nil)
			body := stack.ReadBody(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("%s /data = %d; want %d", tt.method, resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("Location"); got != tt.wantLoc {
				t.Errorf("Location = %q; want %q", got, tt.wantLoc)
			}
			if tt.wantStatus == 401 && !strings.Contains(body, `"error":"unauthenticated"`) {
				t.Errorf("401 body = %q; want JSON error", body)
			}
		})
	}
}

func TestSpoofedIdentityHeadersAreRemoved(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Identity.AttributeNames = []string{"Dept"} }})
	b := h.browser()
	b.SignIn("/")

	// Raw request so header spellings reach the proxy exactly as written.
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var cookie []string
	for _, c := range b.Cookies {
		cookie = append(cookie, c.Name+"="+c.Value)
	}
	spoofed := []string{
		"X-User: mallory", "x-user: mallory2", "X_User: mallory3", "x_user: mallory4",
		"X-Email: mallory@evil.example", "X_Email: m@evil.example",
		"X-User-Groups: admins", "X-User-Attr-Dept: finance", "X-User-Attr-Other: x",
		"X-Forwarded-User: mallory", "X-Forwarded-Email: m@evil.example", "X_Forwarded_Groups: admins",
		"X-Forwarded-Access-Token: forged", "X-Auth-Request-User: mallory", "X-User-Provider: evil",
		"X-Forwarded-For: 6.6.6.6", "X-Forwarded-Host: evil.example",
	}
	fmt.Fprintf(conn, "GET /spoof HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nCookie: %s; other=kept\r\n%s\r\nConnection: close\r\n\r\n",
		strings.TrimPrefix(h.proxy.URL, "http://"), strings.Join(cookie, "; "), strings.Join(spoofed, "\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("spoofed request = %d; want 200", resp.StatusCode)
	}
	e := stack.DecodeEcho(t, resp)
	for name, values := range e.Headers {
		for _, v := range values {
			if strings.Contains(v, "mallory") || strings.Contains(v, "evil") || v == "forged" || v == "finance" || v == "6.6.6.6" {
				t.Errorf("upstream got spoofed %s: %q", name, v)
			}
		}
		if n := strings.ToLower(name); strings.Contains(n, "_") {
			t.Errorf("upstream got underscore header %s", name)
		}
	}
	if got := e.Headers.Get("X-User"); got != "alice@example.com" {
		t.Errorf("X-User = %q; want alice@example.com", got)
	}
	if got := e.Headers.Values("X-User"); len(got) != 1 {
		t.Errorf("X-User values = %q; want exactly one", got)
	}
	cookies := e.Headers.Get("Cookie")
	if strings.Contains(cookies, "_portcullis") {
		t.Errorf("session cookie passed upstream: %q", cookies)
	}
	if cookies != "other=kept" {
		t.Errorf("upstream Cookie = %q; want other=kept", cookies)
	}
}

func TestForgedAndReplayedState(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})

	// Start a real flow to get a genuine state and code.
	b := h.browser()
	resp := b.Get("/oauth2/start?rd=/x")
	authURL, _ := resp.Location()
	resp = b.Get(authURL.String())
	cb, _ := resp.Location() // the provider's redirect to our callback

	t.Run("forged state", func(t *testing.T) {
		q := cb.Query()
		q.Set("state", "forged-state")
		resp := b.Get(h.proxy.URL + "/oauth2/callback?" + q.Encode())
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback with forged state = %d; want 400", resp.StatusCode)
		}
		if _, ok := b.Cookies["_portcullis"]; ok {
			t.Errorf("session cookie set on forged state")
		}
	})
	t.Run("other browser", func(t *testing.T) {
		other := h.browser() // no CSRF cookie
		resp := other.Get(cb.String())
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback in another browser = %d; want 400", resp.StatusCode)
		}
	})
	t.Run("missing state", func(t *testing.T) {
		q := cb.Query()
		q.Del("state")
		resp := b.Get(h.proxy.URL + "/oauth2/callback?" + q.Encode())
		stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback without state = %d; want 400", resp.StatusCode)
		}
	})
	if got := h.idp.Calls("token"); got != 0 {
		t.Fatalf("token endpoint called %d times before a valid callback; want 0", got)
	}

	// The genuine callback works once...
	resp = b.Get(cb.String())
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/x" {
		t.Fatalf("genuine callback = %d to %q; want 302 to /x", resp.StatusCode, resp.Header.Get("Location"))
	}
	// ...and a replay of the same URL, even with the session, is refused
	// without exchanging the code again.
	resp = b.Get(cb.String())
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed callback = %d; want 400", resp.StatusCode)
	}
	if got := h.idp.Calls("token"); got != 1 {
		t.Errorf("token endpoint calls = %d; want 1", got)
	}
}

func TestCallbackFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		idp        func(*idp.Options)
		proxy      func(*proxy.Options)
		wantStatus int
		wantText   string
	}{
		{"token endpoint down", func(o *idp.Options) { o.TokenStatus = 503 }, nil, 502, "could not complete the sign-in"},
		{"invalid_grant", func(o *idp.Options) { o.TokenError = "invalid_grant" }, nil, 502, "invalid_grant"},
		{"error with status 200", func(o *idp.Options) { o.TokenError = "bad_verification_code"; o.ErrorWith200 = true }, nil, 502, "bad_verification_code"},
		{"userinfo fails", func(o *idp.Options) { o.UserinfoStatus = 500 }, nil, 502, "could not read your profile"},
		{"unverified email", func(o *idp.Options) {
			o.Users = []idp.User{{ID: "u1", Username: "alice", Email: "alice@example.com", EmailVerified: ptr(false)}}
		}, nil, 403, "not verified"},
		{"email not allowed", nil, func(o *proxy.Options) { o.Access.Rules.Emails = []string{"bob@example.com"} }, 403, "not on this site"},
		{"domain not allowed", nil, func(o *proxy.Options) { o.Access.Rules.Domains = []string{"corp.example"} }, 403, "not on this site"},
		{"group not allowed", nil, func(o *proxy.Options) { o.Access.Rules.Groups = []string{"finance"} }, 403, "not a member"},
		{"two at signs", func(o *idp.Options) {
			o.Users = []idp.User{{ID: "u1", Username: "alice", Email: "alice@evil.example@example.com"}}
		}, func(o *proxy.Options) { o.Access.Rules.Domains = []string{"example.com"} }, 403, "no usable e-mail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{idp: tt.idp, proxy: tt.proxy})
			b := h.browser()
			resp, hops := b.Follow("/", nil)
			body := stack.ReadBody(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("flow ended with %d after %v; want %d: %s", resp.StatusCode, hops, tt.wantStatus, body)
			}
			if !strings.Contains(body, tt.wantText) {
				t.Errorf("page lacks %q:\n%s", tt.wantText, body)
			}
			if strings.Contains(body, stack.ClientSecret) || strings.Contains(body, "goroutine") {
				t.Errorf("page shows a secret or a stack trace:\n%s", body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q; want an HTML page", ct)
			}
			if _, ok := b.Cookies["_portcullis"]; ok {
				t.Errorf("session cookie set on a failed sign-in")
			}
		})
	}
}

func TestAllowedUnverifiedEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{
		idp: func(o *idp.Options) {
			o.Users = []idp.User{{ID: "u1", Username: "alice", Email: "alice@example.com", EmailVerified: ptr(false)}}
		},
		proxy: func(o *proxy.Options) { o.Access.AllowUnverifiedEmail = true },
	})
	if e := h.browser().SignIn("/"); e.Headers.Get("X-Email") != "alice@example.com" {
		t.Errorf("X-Email = %q; want alice@example.com", e.Headers.Get("X-Email"))
	}
}

func TestProviderDeniesSignIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	resp := b.Get("/oauth2/start")
	authURL, _ := resp.Location()
	state := authURL.Query().Get("state")
	resp = b.Get("/oauth2/callback?error=access_denied&error_description=" + url.QueryEscape("The user said <b>no</b>\r\nX-Injected: 1") + "&state=" + url.QueryEscape(state))
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("callback with error = %d; want 403", resp.StatusCode)
	}
	if !strings.Contains(body, "The user said &lt;b&gt;no&lt;/b&gt;") {
		t.Errorf("page does not show the escaped description:\n%s", body)
	}
	if resp.Header.Get("X-Injected") != "" {
		t.Errorf("header injected through error_description")
	}
}

func TestOpenRedirectsFallBackToRoot(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Site.AllowedRedirectDomains = []string{".allowed.example"} }})
	tests := []struct{ rd, want string }{
		{"/app?x=1", "/app?x=1"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"https:evil.example", "/"},
		{"https:/evil.example", "/"},
		{"https://evil.example/", "/"},
		{"http://allowed.example.evil.example/", "/"},
		{"https://user@evil.example", "/"},
		{"/\t/evil.example", "/"},
		{" //evil.example", "/"},
		{"%2F%2Fevil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"https://app.allowed.example/ok", "https://app.allowed.example/ok"},
	}
	for _, tt := range tests {
		t.Run(tt.rd, func(t *testing.T) {
			t.Parallel()
			b := h.browser()
			resp, hops := b.Follow("/oauth2/start?rd="+url.QueryEscape(tt.rd), nil)
			stack.ReadBody(t, resp)
			// The last hop is the redirect after the callback.
			var last string
			for _, hop := range hops {
				if !strings.HasPrefix(hop, h.idp.URL) && !strings.Contains(hop, "/oauth2/") {
					last = hop
				}
			}
			want := tt.want
			if strings.HasPrefix(want, "/") {
				want = h.proxy.URL + want
			}
			if last != want {
				t.Errorf("rd=%q led to %q; want %q (hops %v)", tt.rd, last, want, hops)
			}
		})
	}
}

func TestTamperedCookies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	b.SignIn("/")
	good := b.Cookies["_portcullis"]
	if good == nil {
		t.Fatalf("no _portcullis cookie after sign-in: %v", b.Cookies)
	}
	flip := func(s string) string {
		r := []byte(s)
		i := len(r) / 2
		if r[i] == 'A' {
			r[i] = 'B'
		} else {
			r[i] = 'A'
		}
		return string(r)
	}
	tests := map[string]map[string]string{
		"flipped byte":       {"_portcullis": flip(good.Value)},
		"truncated":          {"_portcullis": good.Value[:len(good.Value)/2]},
		"empty":              {"_portcullis": ""},
		"garbage":            {"_portcullis": "not-a-cookie"},
		"moved to csrf name": {"_portcullis_csrf": good.Value},
	}
	for name, jar := range tests {
		t.Run(name, func(t *testing.T) {
			c := h.browser()
			c.Header = http.Header{"Accept": {"application/json"}}
			for k, v := range jar {
				c.Cookies[k] = &http.Cookie{Name: k, Value: v}
			}
			resp := c.Get("/")
			stack.ReadBody(t, resp)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET / with %s cookie = %d; want 401", name, resp.StatusCode)
			}
		})
	}
}

// TestSessionAcrossRestart: a new process with the same secret keeps the
// session; one with another secret does not.
func TestSessionAcrossRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	b.SignIn("/")
	jar := b.Cookies

	for _, tt := range []struct {
		name   string
		secret string
		want   int
	}{
		{"same secret", stack.CookieSecret, 200},
		{"rotated, old secret still listed", "", 200},
		{"changed secret", "ffffffffffffffffffffffffffffffff", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h2 := newHarness(t, setup{session: func(o *session.Options) {
				switch tt.secret {
				case "":
					o.Secrets = [][]byte{[]byte("a-brand-new-secret-of-32-bytes!!"), []byte(stack.CookieSecret)}
				default:
					o.Secrets = [][]byte{[]byte(tt.secret)}
				}
			}})
			c := h2.browser()
			c.Header = http.Header{"Accept": {"application/json"}}
			c.Cookies = jar
			resp := c.Get("/")
			stack.ReadBody(t, resp)
			if resp.StatusCode != tt.want {
				t.Errorf("GET / after restart = %d; want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestSessionExpiresServerSide(t *testing.T) {
	t.Parallel()
	clk := testclock.New(time.Now())
	h := newHarness(t, setup{
		session: func(o *session.Options) { o.Expire = time.Hour; o.Now = clk.Now },
		proxy:   func(o *proxy.Options) { o.Now = clk.Now },
	})
	b := h.browser()
	b.SignIn("/")
	b.Header = http.Header{"Accept": {"application/json"}}
	if resp := b.Get("/"); resp.StatusCode != 200 {
		t.Fatalf("GET / = %d; want 200", resp.StatusCode)
	}
	clk.Advance(time.Hour + time.Second)
	resp := b.Get("/")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET / after COOKIE_EXPIRE = %d; want 401", resp.StatusCode)
	}
}

func TestHugeTokensSplitCookies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{idp: func(o *idp.Options) { o.AccessTokenSize = 9000 }})
	b := h.browser()
	resp := b.Get("/oauth2/start?rd=/big")
	authURL, _ := resp.Location()
	resp = b.Get(authURL.String())
	cb, _ := resp.Location()
	resp = b.Get(cb.String())
	stack.ReadBody(t, resp)
	var parts []string
	for _, line := range resp.Header.Values("Set-Cookie") {
		if len(line) >= 4096 {
			t.Errorf("Set-Cookie line of %d bytes; want < 4096", len(line))
		}
		if strings.HasPrefix(line, "_portcullis_") && !strings.HasPrefix(line, "_portcullis_csrf") {
			parts = append(parts, line[:strings.Index(line, "=")])
		}
	}
	slices.Sort(parts)
	if len(parts) < 3 || parts[0] != "_portcullis_0" {
		t.Fatalf("cookie parts = %v; want _portcullis_0, _portcullis_1, … (at least 3)", parts)
	}
	b.Header = http.Header{"Accept": {"application/json"}}
	resp = b.Get("/big")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /big with split cookies = %d; want 200", resp.StatusCode)
	}
	stack.ReadBody(t, resp)

	// Sign-out clears every part.
	resp = b.Get("/oauth2/sign_out")
	stack.ReadBody(t, resp)
	cleared := map[string]bool{}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			cleared[c.Name] = true
		}
	}
	for _, p := range parts {
		if !cleared[p] {
			t.Errorf("sign-out did not clear %s (cleared %v)", p, cleared)
		}
	}
	if len(b.Cookies) != 0 {
		t.Errorf("cookies left after sign-out: %v", b.Cookies)
	}
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	tests := []struct {
		name       string
		method     string
		header     http.Header
		wantStatus int
		signedOut  bool
	}{
		{"plain GET", "GET", nil, 302, true},
		{"same-origin GET", "GET", http.Header{"Sec-Fetch-Site": {"same-origin"}}, 302, true},
		{"cross-site GET asks first", "GET", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 200, false},
		{"cross-site POST", "POST", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, false},
		{"foreign Origin POST", "POST", http.Header{"Origin": {"https://evil.example"}}, 403, false},
		{"same-origin POST", "POST", http.Header{"Sec-Fetch-Site": {"same-origin"}}, 302, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := h.browser()
			b.SignIn("/")
			resp := b.Do(tt.method, "/oauth2/sign_out?rd=/bye", nil, tt.header)
			body := stack.ReadBody(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("%s sign_out = %d; want %d", tt.method, resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus == 302 && resp.Header.Get("Location") != "/bye" {
				t.Errorf("Location = %q; want /bye", resp.Header.Get("Location"))
			}
			if tt.wantStatus == 200 && !strings.Contains(body, `method="post"`) {
				t.Errorf("confirm page has no POST form:\n%s", body)
			}
			_, has := b.Cookies["_portcullis"]
			if has == tt.signedOut {
				t.Errorf("signed out = %v; want %v", !has, tt.signedOut)
			}
		})
	}
}

func TestUserinfoAndAuthEndpoints(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Access.Rules.Groups = []string{"staff"} }})
	anon := h.browser()
	anon.Header = http.Header{}
	if resp := anon.Get("/oauth2/userinfo"); resp.StatusCode != 401 {
		t.Errorf("anonymous /oauth2/userinfo = %d; want 401", resp.StatusCode)
	}
	if resp := anon.Get("/oauth2/auth"); resp.StatusCode != 401 {
		t.Errorf("anonymous /oauth2/auth = %d; want 401", resp.StatusCode)
	}
	b := h.browser()
	b.SignIn("/")
	resp := b.Get("/oauth2/userinfo")
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, `"user":"alice@example.com"`) || !strings.Contains(body, `"email":"alice@example.com"`) {
		t.Errorf("/oauth2/userinfo = %d %s", resp.StatusCode, body)
	}
	resp = b.Get("/oauth2/auth")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("/oauth2/auth = %d; want 202", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"X-Auth-Request-User":   "alice@example.com",
		"X-Auth-Request-Email":  "alice@example.com",
		"X-Auth-Request-Groups": "admins,staff",
		"X-User":                "alice@example.com",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("/oauth2/auth %s = %q; want %q", k, got, want)
		}
	}
}

func TestPingReadyAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	for path, want := range map[string]int{"/ping": 200, "/ready": 200, "/oauth2/nope": 404} {
		if resp := b.Get(path); resp.StatusCode != want {
			t.Errorf("GET %s = %d; want %d", path, resp.StatusCode, want)
		}
	}
	h.server.Drain()
	if resp := b.Get("/ready"); resp.StatusCode != 503 {
		t.Errorf("GET /ready while draining = %d; want 503", resp.StatusCode)
	}
	if resp := b.Get("/ping"); resp.StatusCode != 200 {
		t.Errorf("GET /ping while draining = %d; want 200", resp.StatusCode)
	}
}

func TestSecurityHeadersOnOwnPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	resp := b.Get("/oauth2/callback?state=x&code=y")
	stack.ReadBody(t, resp)
	for k, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	b.SignIn("/")
	h.upstream.Close()
	resp := b.Get("/")
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "could not reach the application") {
		t.Errorf("browser, upstream down = %d %q; want 502 page", resp.StatusCode, body)
	}
	b.Header = http.Header{"Accept": {"application/json"}}
	resp = b.Get("/")
	body = stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusBadGateway || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("API client, upstream down = %d %q; want 502 JSON", resp.StatusCode, body)
	}
}

func TestStreamingResponse(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := newHarness(t, setup{upstream: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			stack.EchoHandler().ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: second\n")
	})})
	b := h.browser()
	b.SignIn("/")
	resp := b.Get("/stream")
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if got := readLine(t, r); got != "data: first\n" {
		t.Fatalf("first event = %q", got) // arrives before the upstream finishes
	}
	close(release)
	if got := readLine(t, r); got != "data: second\n" {
		t.Errorf("second event = %q", got)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{upstream: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			stack.EchoHandler().ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("X-User") != "alice@example.com" {
			http.Error(w, "want an upgrade from alice", 400)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo: " + line)
		rw.Flush()
	}), proxy: func(o *proxy.Options) { o.Body.ReadTimeout = 100 * time.Millisecond }})
	b := h.browser()
	b.SignIn("/")
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := b.Cookies["_portcullis"]
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: %s=%s\r\n\r\n", c.Name, c.Value)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("upgrade = %d %s; want 101", resp.StatusCode, body)
	}
	time.Sleep(300 * time.Millisecond) // idle longer than BODY_READ_TIMEOUT: a tunnel is no body
	fmt.Fprint(conn, "hello\n")
	if got, _ := br.ReadString('\n'); got != "echo: hello\n" {
		t.Errorf("through the tunnel = %q; want %q", got, "echo: hello\n")
	}
}

// TestProviderQuirks runs the whole flow against providers that differ from
// RFC 6749 in the ways real ones do.
func TestProviderQuirks(t *testing.T) {
	t.Parallel()
	nested := func(u idp.User) any {
		return map[string]any{"data": map[string]any{
			"account": map[string]any{"uid": 583231, "login": u.Username},
			"contact": map[string]any{"mail": u.Email},
			"org":     map[string]any{"department": "R&D\r\nX-Evil: 1"},
		}}
	}
	tests := []struct {
		name     string
		idp      func(*idp.Options)
		provider func(*providers.Config)
		want     map[string]string
	}{
		{"basic client auth", func(o *idp.Options) { o.ClientAuth = "basic" },
			func(c *providers.Config) { c.TokenAuthStyle = providers.AuthStyleHeader }, map[string]string{"X-User": "alice@example.com"}},
		{"body client auth", func(o *idp.Options) { o.ClientAuth = "body" },
			func(c *providers.Config) { c.TokenAuthStyle = providers.AuthStyleParams }, map[string]string{"X-User": "alice@example.com"}},
		{"auto client auth against body-only", func(o *idp.Options) { o.ClientAuth = "body" }, nil, map[string]string{"X-User": "alice@example.com"}},
		{"renamed params, GET token, token in query (WeChat-like)", func(o *idp.Options) {
			o.ClientIDParam, o.ClientSecretParam, o.TokenMethod = "appid", "secret", "GET"
			o.UserinfoToken, o.UserinfoTokenParam = "query", "access_token"
			o.TokenUserIDField, o.UserinfoUserIDParam = "openid", "openid"
			o.ClientAuth = "body"
		}, func(c *providers.Config) {
			c.ClientIDParam, c.ClientSecretParam, c.TokenMethod = "appid", "secret", "GET"
			c.TokenAuthStyle = providers.AuthStyleParams
			c.UserinfoToken, c.UserinfoTokenParam = "query", "access_token"
			c.TokenUserIDField, c.UserinfoUserIDParam = "openid", "openid"
		}, map[string]string{"X-User": "alice@example.com", "X-User-Id": "1001"}},
		{"POST userinfo with token in body", func(o *idp.Options) {
			o.UserinfoMethod, o.UserinfoToken, o.UserinfoTokenParam = "POST", "body", "token"
		}, func(c *providers.Config) {
			c.UserinfoMethod, c.UserinfoToken, c.UserinfoTokenParam = "POST", "body", "token"
		}, map[string]string{"X-User": "alice@example.com"}},
		{"nested claims, numeric id, attributes", func(o *idp.Options) { o.Userinfo = nested }, func(c *providers.Config) {
			c.Claims.ID = []string{"data.account.uid"}
			c.Claims.Username = []string{"data.account.login"}
			c.Claims.Email = []string{"data.contact.mail"}
			c.Claims.Attributes = []providers.Attribute{{Name: "Dept", Paths: []string{"data.org.department"}}}
		}, map[string]string{"X-User": "alice@example.com", "X-User-Id": "583231", "X-Email": "alice@example.com", "X-User-Attr-Dept": ""}}, // a control character: absent, not cleaned
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{idp: tt.idp, provider: tt.provider, proxy: func(o *proxy.Options) { o.Identity.AttributeNames = []string{"Dept"} }})
			e := h.browser().SignIn("/")
			for k, want := range tt.want {
				if got := e.Headers.Get(k); got != want {
					t.Errorf("upstream %s = %q; want %q", k, got, want)
				}
			}
		})
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	t.Parallel()
	for _, validate := range []bool{true, false} {
		t.Run(fmt.Sprintf("validate=%v", validate), func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(time.Now())
			h := newHarness(t, setup{
				idp: func(o *idp.Options) { o.ExpiresIn = time.Hour },
				proxy: func(o *proxy.Options) {
					o.Tokens.ValidateExternal = validate
					o.Tokens.RefreshSkew = 15 * time.Minute
					o.Now = clk.Now
				},
				session: func(o *session.Options) { o.Expire = 24 * time.Hour; o.Now = clk.Now },
			})
			b := h.browser()
			b.SignIn("/")
			b.Header = http.Header{"Accept": {"application/json"}}
			if resp := b.Get("/"); resp.StatusCode != 200 {
				t.Fatalf("GET / with a fresh token = %d; want 200", resp.StatusCode)
			}
			clk.Advance(50 * time.Minute) // the 1h token is within the 15m skew of expiry
			want := 200
			if validate {
				want = 401
			}
			resp := b.Get("/")
			stack.ReadBody(t, resp)
			if resp.StatusCode != want {
				t.Errorf("GET / after the token's expiry (minus skew) = %d; want %d", resp.StatusCode, want)
			}
		})
	}
}

// TestLongDeepLink: an rd too long for the CSRF cookie still signs in (and
// lands on /), instead of failing every time.
func TestLongDeepLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	long := "/dashboard?state=" + strings.Repeat("x", 3500)
	resp, hops := b.Follow("/oauth2/start?rd="+url.QueryEscape(long), nil)
	stack.ReadBody(t, resp)
	if resp.StatusCode != 200 || hops[len(hops)-1] != h.proxy.URL+"/" {
		t.Errorf("sign-in with a %d-byte rd = %d after %v; want 200 at /", len(long), resp.StatusCode, hops)
	}
}

func TestUpstreamInvalidStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{upstream: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/weird" {
			stack.EchoHandler().ServeHTTP(w, r)
			return
		}
		conn, rw, _ := http.NewResponseController(w).Hijack()
		defer conn.Close()
		rw.WriteString("HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n")
		rw.Flush()
	})})
	b := h.browser()
	b.SignIn("/")
	resp := b.Get("/weird")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("upstream status 099 = %d; want 502", resp.StatusCode)
	}
}

// TestReplayWithKeptCSRFCookie: a client that ignores the deletion of the
// CSRF cookie and replays the callback is refused, and the code is not
// exchanged twice.
func TestReplayWithKeptCSRFCookie(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	resp := b.Get("/oauth2/start?rd=/x")
	authURL, _ := resp.Location()
	csrf := *b.Cookies["_portcullis_csrf"]
	resp = b.Get(authURL.String())
	cb, _ := resp.Location()
	stack.ReadBody(t, b.Get(cb.String()))
	b.Cookies["_portcullis_csrf"] = &csrf // keep the deleted cookie
	resp = b.Get(cb.String())
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replay with the old CSRF cookie = %d; want 400", resp.StatusCode)
	}
	if got := h.idp.Calls("token"); got != 1 {
		t.Errorf("token endpoint calls = %d; want 1", got)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	b.SignIn("/")
	b.Header = http.Header{"Accept": {"application/json"}}
	for _, tt := range []struct{ sent, want string }{
		{"abc-123", "abc-123"},
		{"bad id <script>", ""},
		{"", ""},
	} {
		hdr := http.Header{}
		if tt.sent != "" {
			hdr.Set("X-Request-Id", tt.sent)
		}
		resp := b.Do("GET", "/", nil, hdr)
		e := stack.DecodeEcho(t, resp)
		resp.Body.Close()
		got, up := resp.Header.Get("X-Request-Id"), e.Headers.Get("X-Request-Id")
		if got == "" || got != up {
			t.Errorf("sent %q: response id %q, upstream id %q; want the same, non-empty", tt.sent, got, up)
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("sent %q: id %q; want it kept", tt.sent, got)
		}
		if tt.want == "" && got == tt.sent {
			t.Errorf("sent %q: kept an unsafe id", tt.sent)
		}
	}
}

// TestSecurityHeadersEverywhere: every answer Portcullis writes itself
// carries the security headers; proxied answers are the upstream's.
func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	for _, path := range []string{"/ping", "/ready", "/oauth2/sign_in", "/oauth2/start", "/oauth2/userinfo", "/oauth2/auth", "/oauth2/sign_out", "/oauth2/nope", "/app"} {
		resp := b.Get(path)
		stack.ReadBody(t, resp)
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("GET %s (%d) lacks security headers: %v", path, resp.StatusCode, resp.Header)
		}
	}
	b.SignIn("/")
	resp := b.Get("/app")
	stack.ReadBody(t, resp)
	if resp.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("proxied answer got our CSP")
	}
}

// TestSignInStartFlood: a flood of sign-in starts from one browser keeps
// one bounded CSRF cookie, and the newest sign-in still completes.
func TestSignInStartFlood(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	var last *url.URL
	for i := range 200 {
		resp := b.Get(fmt.Sprintf("/oauth2/start?rd=/page%d", i))
		stack.ReadBody(t, resp)
		last, _ = resp.Location()
		for _, line := range resp.Header.Values("Set-Cookie") {
			if len(line) > 4096 {
				t.Fatalf("start #%d set a %d-byte cookie", i, len(line))
			}
		}
	}
	if n := len(b.Cookies); n != 1 {
		t.Errorf("cookies after 200 starts = %d; want the one CSRF cookie", n)
	}
	resp, hops := b.Follow(last.String(), nil)
	stack.ReadBody(t, resp)
	if resp.StatusCode != 200 || !strings.HasSuffix(hops[len(hops)-1], "/page199") {
		t.Errorf("newest sign-in = %d after %v; want 200 at /page199", resp.StatusCode, hops)
	}
}
