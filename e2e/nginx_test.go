package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/proxy"
)

// spoofed are identity headers a client sends to pass as someone else.
// nginx must hand none of them to the app. (X-User-Attr-<Name> is not
// here: nginx can only overwrite headers it names, and the example names
// no attributes; its README says to add a line per attribute.)
var spoofed = http.Header{
	"X-User":                            {"mallory"},
	"X-Email":                           {"mallory@evil.example"},
	"X-User-Groups":                     {"admins"},
	"X-User-Id":                         {"0"},
	"X-Forwarded-User":                  {"mallory"},
	"X-Forwarded-Email":                 {"mallory@evil.example"},
	"X-Forwarded-Preferred-Username":    {"mallory"},
	"X-Forwarded-Groups":                {"admins"},
	"X-Forwarded-Access-Token":          {"stolen"},
	"X-Auth-Request-User":               {"mallory"},
	"X-Auth-Request-Preferred-Username": {"mallory"},
	"X_User":                            {"mallory"}, // folded to X-User by some servers
	"x-user":                            {"mallory"},
}

// TestNginxSignIn drives a whole sign-in through nginx configured by
// examples/nginx/nginx.conf: the protected page, nginx's redirect to sign
// in, Portcullis, the provider, the callback, and back to the page, which
// the app serves knowing the user is alice, whatever the client claimed.
func TestNginxSignIn(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	b := s.browser()

	resp, hops := b.Follow(s.nginx+"/reports/2024?year=2024", spoofed)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in through nginx ended with %d after %v: %s", resp.StatusCode, hops, stack.ReadBody(t, resp))
	}
	wantHops := []string{
		s.nginx + "/oauth2/sign_in?rd=/reports/2024?year=2024", // nginx's @sign_in
		s.nginx + "/oauth2/start?",                             // Portcullis, one provider
		s.idp.URL + "/authorize?",                              // the provider
		s.nginx + "/oauth2/callback?",                          // back through nginx
		s.nginx + "/reports/2024?year=2024",                    // where the user was going
	}
	if len(hops) != len(wantHops) {
		t.Fatalf("redirects = %q; want %d hops like %q", hops, len(wantHops), wantHops)
	}
	for i, want := range wantHops {
		if !strings.HasPrefix(hops[i], want) {
			t.Errorf("redirect %d = %q; want %q…", i, hops[i], want)
		}
	}
	if srv := resp.Header.Get("Server"); !strings.HasPrefix(srv, "nginx") {
		t.Errorf("Server = %q; want the answer to come through nginx", srv)
	}
	e := stack.DecodeEcho(t, resp)
	checkIdentity(t, e)
	if e.URI != "/reports/2024?year=2024" {
		t.Errorf("the app got %q; want /reports/2024?year=2024", e.URI)
	}
	if b.Cookie("_portcullis") == "" {
		t.Errorf("no session cookie in the browser after sign-in")
	}

	// Signed in: straight through, with no new sign-in, still alice.
	resp, hops = b.Follow(s.nginx+"/next", spoofed)
	if resp.StatusCode != http.StatusOK || len(hops) != 0 {
		t.Fatalf("second request = %d after %v; want 200 without redirects", resp.StatusCode, hops)
	}
	checkIdentity(t, stack.DecodeEcho(t, resp))
	if got := s.idp.Calls("token"); got != 1 {
		t.Errorf("token grants = %d; want 1 (one sign-in)", got)
	}
}

// checkIdentity checks the app saw alice, from Portcullis, and none of the
// spoofed headers.
func checkIdentity(t *testing.T, e stack.Echo) {
	t.Helper()
	for k, want := range map[string]string{
		"X-User":                         "alice@example.com",
		"X-User-Id":                      "1001",
		"X-User-Provider":                "oauth2",
		"X-Email":                        "alice@example.com",
		"X-User-Name":                    "Alice Example",
		"X-User-Given-Name":              "Alice",
		"X-User-Family-Name":             "Example",
		"X-User-Groups":                  "admins,staff",
		"X-Forwarded-User":               "alice@example.com",
		"X-Forwarded-Email":              "alice@example.com",
		"X-Forwarded-Preferred-Username": "alice",
		"X-Forwarded-Groups":             "admins,staff",
	} {
		if got := e.Headers.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("the app got %s = %q; want [%q]", k, got, want)
		}
	}
	for k, v := range e.Headers {
		for _, x := range v {
			if strings.Contains(x, "mallory") || strings.Contains(x, "stolen") {
				t.Errorf("the app got the client's spoofed %s: %q", k, x)
			}
		}
		if n := strings.ToLower(k); strings.Contains(n, "_") || strings.HasPrefix(n, "x-auth-request-") ||
			n == "x-forwarded-access-token" {
			t.Errorf("the app got %s: %q; want no such header", k, v)
		}
	}
}

// connectionSpoofs are headers that describe the connection or the
// original request, as a client would spoof them: apps believe them (the
// client's address, the host, the scheme, the path: an app that routes
// on X-Rewrite-URL or X-Original-URL serves another page than the one
// Portcullis judged).
var connectionSpoofs = []string{
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix",
	"X-Forwarded-Server", "X-Forwarded-Uri", "X-Forwarded-Method", "X-Forwarded-Ssl", "X-Forwarded-Scheme",
	"Forwarded", "X-Real-IP", "True-Client-IP", "X-Client-IP", "X-Cluster-Client-IP", "Client-IP",
	"CF-Connecting-IP", "Fastly-Client-IP",
	"X-Original-URL", "X-Original-URI", "X-Original-Method", "X-Original-Host", "X-Rewrite-URL",
}

// TestNginxConnectionHeaders: behind examples/nginx the app gets
// X-Forwarded-For, -Host, -Proto and X-Real-IP as nginx sets them, the
// edge, and none of the connection headers a client sent, as Portcullis's
// own proxy mode does.
func TestNginxConnectionHeaders(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	b := s.browser()
	if resp, hops := b.Follow(s.nginx+"/", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in through nginx = %d after %v", resp.StatusCode, hops)
	} else {
		stack.ReadBody(t, resp)
	}
	hdr := http.Header{}
	for _, name := range connectionSpoofs {
		hdr.Set(name, "/spoofed")
	}
	resp, _ := b.Follow(s.nginx+"/page", hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /page with spoofed connection headers = %d: %s", resp.StatusCode, stack.ReadBody(t, resp))
	}
	e := stack.DecodeEcho(t, resp)
	for k, v := range e.Headers {
		if strings.Contains(strings.Join(v, ","), "spoofed") {
			t.Errorf("the app got the client's %s: %q", k, v)
		}
	}
	host := strings.TrimPrefix(s.nginx, "http://")
	host, _, _ = strings.Cut(host, ":") // nginx's $host has no port
	for k, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Real-Ip": "127.0.0.1", "X-Forwarded-Host": host, "X-Forwarded-Proto": "http"} {
		if got := e.Headers.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("the app got %s = %q; want [%q]", k, got, want)
		}
	}
}

// TestNginxNotSignedIn checks what nginx answers without a session: a
// browser is sent to sign in, a script gets 401, and the auth endpoint
// itself is not reachable from outside.
func TestNginxNotSignedIn(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	noRedirect := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(path, accept string, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", s.nginx+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := stack.ReadBody(t, resp)
		if resp.StatusCode == http.StatusUnauthorized && !strings.Contains(body, `"error":"unauthenticated"`) {
			t.Errorf("GET %s (Accept %q) = 401 %q; want the 401 JSON that tells portcullis.js where to sign in", path, accept, body)
		}
		return resp
	}

	resp := get("/page", "text/html,*/*;q=0.8")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasSuffix(loc, "/oauth2/sign_in?rd=/page") {
		t.Errorf("browser without a session: %d Location %q; want 302 to /oauth2/sign_in?rd=/page", resp.StatusCode, loc)
	}
	for _, accept := range []string{"", "application/json", "*/*"} {
		if resp := get("/api/things", accept); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("script (Accept %q) without a session: %d; want 401", accept, resp.StatusCode)
		}
	}
	if resp := get("/oauth2/auth", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /oauth2/auth from outside = %d; want 404 (internal only)", resp.StatusCode)
	}
	if resp := get("/ping", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /ping through nginx = %d; want 401 (only /oauth2/ is Portcullis's)", resp.StatusCode)
	}

	// A session cookie Portcullis can't open is cleared on the way to
	// sign-in, so the browser stops sending it.
	resp = get("/page", "text/html", &http.Cookie{Name: "_portcullis", Value: "forged"})
	cleared := false
	for _, c := range resp.Cookies() {
		if c.Name == "_portcullis" && c.MaxAge < 0 {
			cleared = true
		}
	}
	if resp.StatusCode != http.StatusFound || !cleared {
		t.Errorf("forged cookie: %d, Set-Cookie %q; want 302 clearing _portcullis", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if got := s.idp.Calls("token"); got != 0 {
		t.Errorf("token grants = %d; want 0", got)
	}
}

// TestNginxRefresh lets the access token expire after sign-in: the next
// request through nginx makes Portcullis refresh it during auth_request,
// and the new session cookie reaches the browser through nginx (the
// auth_request_set $auth_cookie pattern), so the request after that does
// not refresh again.
func TestNginxRefresh(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	s := newStack(t, stackOptions{
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
	})
	b := s.browser()
	resp, hops := b.Follow(s.nginx+"/", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in = %d after %v: %s", resp.StatusCode, hops, stack.ReadBody(t, resp))
	}
	stack.ReadBody(t, resp)
	before := b.Cookie("_portcullis")

	c.Advance(time.Hour - 10*time.Second) // within REFRESH_SKEW of expiry
	resp, hops = b.Follow(s.nginx+"/after-expiry", nil)
	if resp.StatusCode != http.StatusOK || len(hops) != 0 {
		t.Fatalf("request after expiry = %d after %v; want 200, refreshed without a new sign-in: %s", resp.StatusCode, hops, stack.ReadBody(t, resp))
	}
	set := stack.SessionCookies(resp)
	checkIdentity(t, stack.DecodeEcho(t, resp))
	if got := s.idp.Calls("refresh"); got != 1 {
		t.Errorf("refresh grants = %d; want 1", got)
	}
	if len(set) != 1 || set[0].Name != "_portcullis" {
		t.Fatalf("the response through nginx set %q; want the refreshed _portcullis cookie", resp.Header.Values("Set-Cookie"))
	}
	if !set[0].HttpOnly || set[0].Path != "/" {
		t.Errorf("refreshed cookie: HttpOnly %v, Path %q; want the attributes Portcullis set", set[0].HttpOnly, set[0].Path)
	}
	after := b.Cookie("_portcullis")
	if after == "" || after == before {
		t.Fatalf("the browser's session cookie did not change with the refresh")
	}

	// The browser now sends the refreshed cookie: no further grant (the
	// old refresh token was rotated away, so a second refresh would fail
	// and end the session).
	for _, path := range []string{"/again", "/and-again"} {
		resp, hops = b.Follow(s.nginx+path, nil)
		if resp.StatusCode != http.StatusOK || len(hops) != 0 {
			t.Fatalf("GET %s = %d after %v; want 200", path, resp.StatusCode, hops)
		}
		if set := stack.SessionCookies(resp); len(set) != 0 {
			t.Errorf("GET %s set %d session cookies; want none (nothing to refresh)", path, len(set))
		}
		stack.ReadBody(t, resp)
	}
	if got := s.idp.Calls("refresh"); got != 1 {
		t.Errorf("refresh grants after two more requests = %d; want still 1", got)
	}
}

// TestNginxSignInKeepsFirstQueryParameter documents the example's one
// known gap: nginx can't URL-encode rd, so of a query string with several
// parameters only the first survives the sign-in.
func TestNginxSignInKeepsFirstQueryParameter(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	b := s.browser()
	resp, hops := b.Follow(s.nginx+"/search?q=portcullis&page=2", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in = %d after %v", resp.StatusCode, hops)
	}
	got := stack.DecodeEcho(t, resp).URI
	u, _ := url.Parse(got)
	if u.Path != "/search" || u.Query().Get("q") != "portcullis" {
		t.Errorf("after sign-in the app got %q; want /search?q=portcullis", got)
	}
}

// TestNginxPreflight: behind examples/nginx (which checks with the
// request's own method), SKIP_AUTH_PREFLIGHT lets a CORS preflight reach
// the app without a session, and a GET that claims to be a preflight in
// headers of its own does not pass.
func TestNginxPreflight(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{proxy: func(o *proxy.Options) {
		o.Trust.ForwardedHeaders = true
		o.Access.SkipAuthPreflight = true
	}})
	do := func(method string, hdr http.Header) int {
		t.Helper()
		req, _ := http.NewRequest(method, s.nginx+"/api/things", nil)
		req.Header = hdr
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		stack.ReadBody(t, resp)
		return resp.StatusCode
	}
	cors := http.Header{"Origin": {"https://other.example"}, "Access-Control-Request-Method": {"POST"}, "Accept": {"application/json"}}
	if got := do("OPTIONS", cors); got != http.StatusOK {
		t.Errorf("preflight through nginx = %d; want 200 from the app", got)
	}
	spoof := cors.Clone()
	spoof.Set("X-Original-Method", "OPTIONS")
	if got := do("GET", spoof); got != http.StatusUnauthorized {
		t.Errorf("GET with X-Original-Method: OPTIONS through nginx = %d; want 401", got)
	}
	spoof = cors.Clone()
	spoof.Set("X-HTTP-Method-Override", "DELETE")
	if got := do("OPTIONS", spoof); got != http.StatusUnauthorized {
		t.Errorf("preflight overridden to DELETE through nginx = %d; want 401", got)
	}
}

// rawGet sends "GET target HTTP/1.1" to addr as written, byte for byte (a
// raw "#" included, which no Go client sends), with hdr, and returns the
// answer and whether it came from the app (its JSON echo) rather than
// nginx or Portcullis.
func rawGet(t *testing.T, addr, target string, hdr http.Header) (status int, fromApp bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", target, addr)
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(c, req.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	body := stack.ReadBody(t, resp)
	return resp.StatusCode, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && strings.Contains(body, `"URI"`)
}

// TestNginxRouteRules runs route rules behind examples/nginx/nginx.conf
// as shipped: paths that an app reads as /finance (a raw "#", case,
// trailing dots and spaces, double encoding, path parameters) get the
// rules of /finance, and a client's own X-Original-URI, X-Original-URL
// or X-Original-Method next to nginx's X-Forwarded-Uri and -Method never
// make a request public.
func TestNginxRouteRules(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{proxy: func(o *proxy.Options) {
		o.Trust.ForwardedHeaders = true
		o.Trust.Proxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		o.Access.Routes = []proxy.Route{
			{Path: regexp.MustCompile(`^/public/`), Public: true},
			{Path: regexp.MustCompile(`^/finance(/|$)`), Rules: proxy.Rules{Groups: []string{"finance"}}},
		}
	}})
	addr := strings.TrimPrefix(s.nginx, "http://")
	b := s.browser()
	if resp, hops := b.Follow(s.nginx+"/", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in through nginx = %d after %v", resp.StatusCode, hops)
	} else {
		stack.ReadBody(t, resp)
	}
	alice := http.Header{"Cookie": {"_portcullis=" + b.Cookie("_portcullis")}, "Accept": {"application/json"}}
	anonymous := http.Header{"Accept": {"application/json"}}
	with := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		h.Set(k, v)
		return h
	}

	// alice is signed in but not in finance: however the path is written,
	// nginx answers her 403 and the app never sees the request.
	for _, target := range []string{
		"/finance", "/finance/report",
		"/finance#x", "/finance#/../public/x", "/finance/#/../../public/x",
		"/FINANCE", "/Finance/report", "/fINANCE/",
		"/finance.", "/finance%2e", "/finance%20", "/finance%09", "/finance.%20",
		"/%2566inance", "/%2546INANCE/report", "/finance;jsessionid=1", "/public/..;/finance",
		"/public/%2e%2e/finance", "/public/..%2ffinance",
	} {
		if status, fromApp := rawGet(t, addr, target, alice); status != http.StatusForbidden || fromApp {
			t.Errorf("alice (not in finance) GET %s = %d (from the app: %v); want nginx's 403", target, status, fromApp)
		}
	}
	// Public paths stay public; other ways of writing them are not.
	if status, fromApp := rawGet(t, addr, "/public/x", anonymous); status != http.StatusOK || !fromApp {
		t.Errorf("anonymous GET /public/x = %d (from the app: %v); want the app's 200", status, fromApp)
	}
	for _, target := range []string{"/public/x#y", "/PUBLIC/x", "/public/x#/../../finance", "/public/..;/x", "/public/..%2fx"} {
		if status, fromApp := rawGet(t, addr, target, anonymous); status != http.StatusUnauthorized || fromApp {
			t.Errorf("anonymous GET %s = %d (from the app: %v); want 401", target, status, fromApp)
		}
	}
	// nginx sets X-Forwarded-Uri and -Method and passes the client's other
	// headers: a client's own copy under another name makes the request
	// unknown, never public, and every restricting rule applies.
	for _, spoof := range []struct{ name, value string }{
		{"X-Original-Uri", "/public/x"},
		{"X-Original-Url", "http://" + addr + "/public/x"},
		{"X-Forwarded-Uri", "/public/x"}, // nginx overwrites it
		{"X-Original-Method", "OPTIONS"},
	} {
		if status, fromApp := rawGet(t, addr, "/finance/report", with(anonymous, spoof.name, spoof.value)); status != http.StatusUnauthorized || fromApp {
			t.Errorf("anonymous GET /finance/report with %s: %s = %d (from the app: %v); want 401", spoof.name, spoof.value, status, fromApp)
		}
		if status, fromApp := rawGet(t, addr, "/finance/report", with(alice, spoof.name, spoof.value)); status != http.StatusForbidden || fromApp {
			t.Errorf("alice GET /finance/report with %s: %s = %d (from the app: %v); want 403", spoof.name, spoof.value, status, fromApp)
		}
	}
	if status, fromApp := rawGet(t, addr, "/public/x", with(alice, "X-Original-Uri", "/finance/report")); status != http.StatusForbidden || fromApp {
		t.Errorf("alice GET /public/x with X-Original-Uri: /finance/report = %d (from the app: %v); want 403 (unknown: every restricting rule)", status, fromApp)
	}
}
