package proxy_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// injectStack is a proxy in front of an echoing upstream, with a provider
// that is never called, and the Cookie header of a session sealed for it.
type injectStack struct {
	url    string // the proxy's
	cookie string // alice's session (injectState)
}

// injectState is alice's session with every field a header can carry:
// an ID token and an attribute besides the profile.
func injectState() *session.State {
	st := stack.Alice(time.Now(), 10)
	st.AccessToken = "access-token-value"
	st.IDToken = "id.token.value"
	st.Attributes = map[string]string{"Dept": "R&D"}
	return st
}

func newInjectStack(t *testing.T, edit func(*proxy.Options)) injectStack {
	t.Helper()
	up := stack.Serve(t, stack.EchoHandler())
	store := stack.NewCookieStore(t, stack.CookieOptions())
	upURL, _ := url.Parse(up.URL)
	o := proxy.Options{
		Providers: []proxy.Provider{{ID: stack.ProviderID, PKCE: true, Provider: stack.NewClient(t, stack.OfflineConfig())}},
		Sessions:  store,
		Flows:     stack.NewFlows(t, stack.CookieOptions()),
		Upstream:  proxy.Upstream{URL: upURL},
		Identity:  proxy.Identity{AttributeNames: []string{"Dept"}},
	}
	if edit != nil {
		edit(&o)
	}
	srv, err := proxy.New(o)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ps := stack.Serve(t, srv)
	return injectStack{url: ps.URL, cookie: stack.CookieHeader(stack.Seal(t, store, injectState()))}
}

// get sends GET path with alice's session (unless anonymous) and hdr, the
// header names written exactly as given.
func (s injectStack) get(t *testing.T, path string, anonymous bool, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	if !anonymous {
		req.Header.Set("Cookie", stack.CookieHeader([]*http.Cookie{{Name: "app", Value: "1"}})+"; "+s.cookie)
	}
	c := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// everySource names a header after each source, as INJECT_HEADERS
// would, and says what the header must carry for injectState ("" :
// left out).
var everySource = []struct {
	name, source, want string
}{
	{"X-Src-User", "user", "alice@example.com"},
	{"X-Src-Id", "id", "1001"},
	{"X-Src-Provider", "provider", "oauth2"},
	{"X-Src-Email", "email", "alice@example.com"},
	{"X-Src-Name", "name", "Alice Example"},
	{"X-Src-Given", "given_name", "Alice"},
	{"X-Src-Family", "family_name", "Example"},
	{"X-Src-Username", "username", "alice"},
	{"X-Src-Groups", "groups", "admins,staff"},
	{"X-Src-Attr", "attr.Dept", "R&D"},
	{"X-Src-Attr-Missing", "attr.Missing", ""},
	{"X-Src-Access", "access_token", "access-token-value"},
	{"X-Src-Id-Token", "id_token", "id.token.value"},
	{"X-Src-Bearer-Access", "bearer:access_token", "Bearer access-token-value"},
	{"Authorization", "bearer:id_token", "Bearer id.token.value"},
	{"X-Src-Basic-User", "basic:user", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice@example.com:pass word"))},
	{"X-Src-Basic-Username", "basic:username", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pass word"))},
	{"X-Src-Basic-Missing", "basic:attr.Missing", ""},
	{"X-Src-Basic-Literal", "basic:literal:svc", "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:pass word"))},
	{"X-Src-Literal", "literal:on behalf of portcullis", "on behalf of portcullis"},
}

func everySourceRules() []proxy.HeaderRule {
	var rules []proxy.HeaderRule
	for _, s := range everySource {
		rules = append(rules, proxy.HeaderRule{Name: s.name, Source: s.source})
	}
	return rules
}

// TestInjectedHeaders: every source reaches the upstream (INJECT_HEADERS)
// and the forward-auth endpoints' answers (AUTH_RESPONSE_HEADERS) with
// the session's value, an empty one leaving its header out.
func TestInjectedHeaders(t *testing.T) {
	t.Parallel()
	s := newInjectStack(t, func(o *proxy.Options) {
		o.Identity.Inject = everySourceRules()
		o.Identity.AuthResponse = everySourceRules()
		o.Identity.BasicAuthPassword = "pass word"
	})
	upstream := stack.DecodeEcho(t, s.get(t, "/app", false, nil)).Headers
	answers := map[string]http.Header{"upstream": upstream}
	for _, path := range []string{"/oauth2/auth", "/oauth2/forward-auth"} {
		resp := s.get(t, path, false, nil)
		stack.ReadBody(t, resp)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("GET %s = %d; want 2xx", path, resp.StatusCode)
		}
		answers[path] = resp.Header
	}
	for where, h := range answers {
		for _, src := range everySource {
			if got := h.Values(src.name); src.want == "" && len(got) != 0 || src.want != "" && (len(got) != 1 || got[0] != src.want) {
				t.Errorf("%s: %s (%s) = %q; want %q", where, src.name, src.source, got, src.want)
			}
		}
	}
	// The default set is still there beside them.
	for where, h := range answers {
		if h.Get("X-User") != "alice@example.com" || h.Get("X-Forwarded-Groups") != "admins,staff" {
			t.Errorf("%s: X-User %q, X-Forwarded-Groups %q; want the default set too", where, h.Get("X-User"), h.Get("X-Forwarded-Groups"))
		}
	}
	// The Basic credentials decode to the value and the password.
	user, pass, ok := (&http.Request{Header: http.Header{"Authorization": {upstream.Get("X-Src-Basic-User")}}}).BasicAuth()
	if !ok || user != "alice@example.com" || pass != "pass word" {
		t.Errorf("basic:user decodes to %q, %q, %v; want alice@example.com, pass word", user, pass, ok)
	}
}

// TestInjectedHeaderTakesOverDefault: an injected header named like one of
// the default set replaces it, and with an empty value leaves it out.
func TestInjectedHeaderTakesOverDefault(t *testing.T) {
	t.Parallel()
	s := newInjectStack(t, func(o *proxy.Options) {
		o.Identity.Inject = []proxy.HeaderRule{{Name: "X-User", Source: "username"}, {Name: "X-Forwarded-Groups", Source: "attr.Missing"}}
		o.Identity.AuthResponse = []proxy.HeaderRule{{Name: "X-Auth-Request-User", Source: "id"}}
	})
	h := stack.DecodeEcho(t, s.get(t, "/app", false, nil)).Headers
	if got := h.Values("X-User"); len(got) != 1 || got[0] != "alice" {
		t.Errorf("upstream X-User = %q; want [alice]", got)
	}
	if got := h.Values("X-Forwarded-Groups"); len(got) != 0 {
		t.Errorf("upstream X-Forwarded-Groups = %q; want none", got)
	}
	resp := s.get(t, "/oauth2/auth", false, nil)
	stack.ReadBody(t, resp)
	if got := resp.Header.Values("X-Auth-Request-User"); len(got) != 1 || got[0] != "1001" {
		t.Errorf("/oauth2/auth X-Auth-Request-User = %q; want [1001]", got)
	}
}

// defaultSet are the headers IDENTITY_HEADERS=off leaves out.
var defaultSet = []string{
	"X-User", "X-User-Id", "X-User-Provider", "X-Email", "X-User-Name", "X-User-Given-Name", "X-User-Family-Name",
	"X-User-Groups", "X-User-Attr-Dept", "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username",
	"X-Forwarded-Groups", "X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Preferred-Username",
	"X-Auth-Request-Groups",
}

// TestIdentityHeadersOff: without the default set the upstream and the
// forward-auth answers carry the injected headers, X-Forwarded-For, -Host
// and -Proto, and PASS_ACCESS_TOKEN's, and nothing of the default set.
func TestIdentityHeadersOff(t *testing.T) {
	t.Parallel()
	s := newInjectStack(t, func(o *proxy.Options) {
		o.Identity.NoIdentityHeaders = true
		o.Identity.PassAccessToken = true
		o.Identity.Inject = []proxy.HeaderRule{{Name: "Remote-User", Source: "user"}}
		o.Identity.AuthResponse = []proxy.HeaderRule{{Name: "Remote-Email", Source: "email"}}
	})
	up := stack.DecodeEcho(t, s.get(t, "/app", false, nil)).Headers
	resp := s.get(t, "/oauth2/forward-auth", false, nil)
	stack.ReadBody(t, resp)
	answer := resp.Header
	for _, name := range defaultSet {
		if v := up.Get(name); v != "" {
			t.Errorf("upstream got %s: %q; want it left out", name, v)
		}
		if v := answer.Get(name); v != "" {
			t.Errorf("forward-auth answered %s: %q; want it left out", name, v)
		}
	}
	for name, want := range map[string]string{
		"Remote-User": "alice@example.com", "X-Forwarded-Access-Token": "access-token-value",
		"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": strings.TrimPrefix(s.url, "http://"), "X-Forwarded-Proto": "http",
	} {
		if got := up.Get(name); got != want {
			t.Errorf("upstream %s = %q; want %q", name, got, want)
		}
	}
	for name, want := range map[string]string{
		"Remote-Email": "alice@example.com", "X-Auth-Request-Access-Token": "access-token-value", "X-Forwarded-Access-Token": "access-token-value",
	} {
		if got := answer.Get(name); got != want {
			t.Errorf("forward-auth %s = %q; want %q", name, got, want)
		}
	}
	if got := answer.Get("Remote-User"); got != "" {
		t.Errorf("forward-auth answered INJECT_HEADERS' Remote-User %q; want only AUTH_RESPONSE_HEADERS", got)
	}
}

// TestInjectedNamesSpoofed: a client's own header named like one that
// INJECT_HEADERS or AUTH_RESPONSE_HEADERS sets never reaches the upstream,
// in any spelling, whether or not the session has a value for it this
// time, and on public routes too.
func TestInjectedNamesSpoofed(t *testing.T) {
	t.Parallel()
	s := newInjectStack(t, func(o *proxy.Options) {
		o.Identity.Inject = []proxy.HeaderRule{
			{Name: "Remote-User", Source: "user"},
			{Name: "X-WEBAUTH-USER", Source: "email"},
			{Name: "X-Webauth-Dept", Source: "attr.Missing"}, // no value this time
			{Name: "Authorization", Source: "bearer:id_token"},
		}
		o.Identity.AuthResponse = []proxy.HeaderRule{{Name: "X-Answer-Only", Source: "literal:x"}}
		o.Access.Routes = []proxy.Route{{Path: regexp.MustCompile(`^/public/`), Public: true}}
	})
	spoofs := http.Header{}
	for _, name := range []string{
		"Remote-User", "Remote_User", "REMOTE_USER", "remote.user", "Remote~User",
		"X-Webauth-User", "X_WEBAUTH_USER", "x.webauth.user", "X-Webauth_User",
		"X-Webauth-Dept", "X_Webauth_Dept",
		"Authorization",
		"X-Answer-Only", "X_Answer_Only",
	} {
		spoofs[name] = []string{"mallory"}
	}
	spoofs["Authorization"] = []string{"Bearer mallory"}
	for _, tt := range []struct {
		path      string
		anonymous bool
	}{{"/app", false}, {"/public/page", true}} {
		e := stack.DecodeEcho(t, s.get(t, tt.path, tt.anonymous, spoofs))
		for name, vals := range e.Headers {
			for _, v := range vals {
				if strings.Contains(v, "mallory") {
					t.Errorf("GET %s: the upstream got the client's %s: %q", tt.path, name, v)
				}
			}
		}
		if !tt.anonymous && e.Headers.Get("Remote-User") != "alice@example.com" {
			t.Errorf("GET %s: Remote-User = %q; want alice's", tt.path, e.Headers.Get("Remote-User"))
		}
	}
	// Headers of other names pass.
	e := stack.DecodeEcho(t, s.get(t, "/app", false, http.Header{"Remote-Users": {"kept"}, "X-Webauth": {"kept"}}))
	if e.Headers.Get("Remote-Users") != "kept" || e.Headers.Get("X-Webauth") != "kept" {
		t.Errorf("the upstream lost headers of other names: %v", e.Headers)
	}
}

// bearerFor accepts one token as a machine client's.
type bearerFor string

func (b bearerFor) Verify(_ context.Context, token string) (providers.BearerVerdict, error) {
	if token != string(b) {
		return providers.BearerVerdict{}, errors.New("not this token")
	}
	return providers.BearerVerdict{Identity: &providers.Identity{ID: "svc-1", Username: "ci-bot"}}, nil
}

// TestInjectedAuthorizationAndBearerTokens: with Authorization injected, a
// machine client still signs in with its own Authorization first
// (BEARER_TOKENS), and that token is not passed on: the upstream gets the
// injected value or, without one (a machine client has no ID token),
// none.
func TestInjectedAuthorizationAndBearerTokens(t *testing.T) {
	t.Parallel()
	s := newInjectStack(t, func(o *proxy.Options) {
		o.Access.BearerTokens = true
		o.Providers[0].Bearer = bearerFor("machine-token")
		o.Identity.Inject = []proxy.HeaderRule{{Name: "Authorization", Source: "bearer:id_token"}, {Name: "Remote-User", Source: "username"}}
	})
	resp := s.get(t, "/api", true, http.Header{"Authorization": {"Bearer machine-token"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("machine client = %d; want 200: %s", resp.StatusCode, stack.ReadBody(t, resp))
	}
	h := stack.DecodeEcho(t, resp).Headers
	if got := h.Values("Authorization"); len(got) != 0 {
		t.Errorf("upstream Authorization = %q; want none (the client's token is not passed on)", got)
	}
	if got := h.Get("Remote-User"); got != "ci-bot" {
		t.Errorf("upstream Remote-User = %q; want ci-bot", got)
	}
	resp = s.get(t, "/api", true, http.Header{"Authorization": {"Bearer forged"}})
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged token = %d; want 401", resp.StatusCode)
	}
	// A browser's session: the ID token.
	h = stack.DecodeEcho(t, s.get(t, "/app", false, nil)).Headers
	if got := h.Get("Authorization"); got != "Bearer id.token.value" {
		t.Errorf("upstream Authorization for alice = %q; want her ID token", got)
	}
}

// TestAuthResponseHeadersOnlyOn2xx: the answers that refuse (401, 403) or
// redirect carry no chosen header.
func TestAuthResponseHeadersOnlyOn2xx(t *testing.T) {
	t.Parallel()
	s := newInjectStack(t, func(o *proxy.Options) {
		o.Identity.AuthResponse = []proxy.HeaderRule{{Name: "Remote-User", Source: "user"}, {Name: "X-Static", Source: "literal:yes"}}
		o.Access.Rules = proxy.Rules{Groups: []string{"nobody-has-this"}}
	})
	for _, tt := range []struct {
		path      string
		anonymous bool
		accept    string
		want      int
	}{
		{"/oauth2/auth", true, "application/json", http.StatusUnauthorized},
		{"/oauth2/forward-auth", true, "text/html", http.StatusFound},
		{"/oauth2/auth", false, "application/json", http.StatusForbidden},
		{"/oauth2/forward-auth", false, "application/json", http.StatusForbidden},
	} {
		resp := s.get(t, tt.path, tt.anonymous, http.Header{"Accept": {tt.accept}})
		stack.ReadBody(t, resp)
		if resp.StatusCode/100 == 2 {
			t.Errorf("GET %s = %d; want a refusal", tt.path, resp.StatusCode)
		}
		for _, name := range []string{"Remote-User", "X-Static"} {
			if v := resp.Header.Get(name); v != "" {
				t.Errorf("GET %s (%d) answered %s: %q; want nothing", tt.path, resp.StatusCode, name, v)
			}
		}
	}
}

// TestInjectedRulesRefused: New refuses rules it can't carry out.
func TestInjectedRulesRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rule     proxy.HeaderRule
		password string
	}{
		{proxy.HeaderRule{Name: "Remote-User", Source: "nickname"}, ""},
		{proxy.HeaderRule{Name: "Remote_User", Source: "user"}, ""},
		{proxy.HeaderRule{Name: "", Source: "user"}, ""},
		{proxy.HeaderRule{Name: "1-User", Source: "user"}, ""},
		{proxy.HeaderRule{Name: "X-" + strings.Repeat("a", 70), Source: "user"}, ""},
		{proxy.HeaderRule{Name: "Authorization", Source: "basic:user"}, ""},
		{proxy.HeaderRule{Name: "Authorization", Source: "bearer:user"}, ""},
		{proxy.HeaderRule{Name: "X-A", Source: "literal:"}, ""},
		{proxy.HeaderRule{Name: "X-A", Source: "attr."}, ""},
		{proxy.HeaderRule{Name: "X-A", Source: "basic:bearer:id_token"}, "pw"},
	} {
		_, err := proxy.New(proxy.Options{
			Providers: []proxy.Provider{{ID: stack.ProviderID, Provider: stack.NewClient(t, stack.OfflineConfig())}},
			Sessions:  stack.NewCookieStore(t, stack.CookieOptions()),
			Flows:     stack.NewFlows(t, stack.CookieOptions()),
			Identity:  proxy.Identity{Inject: []proxy.HeaderRule{tt.rule}, BasicAuthPassword: tt.password},
		})
		if err == nil {
			t.Errorf("New with %+v (password %q) = nil; want an error", tt.rule, tt.password)
		}
	}
}
