package proxy_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// decodeJSON reads resp's body as a JSON object.
func decodeJSON(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var v map[string]any
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	return v
}

// popupResult is what a pop-up's result page posts, read from its
// data-result attribute, with the page's data-origin and data-return.
type popupResult struct {
	Message        map[string]any
	Origin, Return string
}

var (
	dataResult = regexp.MustCompile(`data-result="([^"]*)"`)
	dataOrigin = regexp.MustCompile(`data-origin="([^"]*)"`)
	dataReturn = regexp.MustCompile(`data-return="([^"]*)"`)
)

// readPopup reads the pop-up result page in resp.
func readPopup(t *testing.T, resp *http.Response) popupResult {
	t.Helper()
	body := stack.ReadBody(t, resp)
	m := dataResult.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no pop-up result page (status %d): %s", resp.StatusCode, body)
	}
	var r popupResult
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &r.Message); err != nil {
		t.Fatalf("data-result %q: %v", m[1], err)
	}
	if m := dataOrigin.FindStringSubmatch(body); m != nil {
		r.Origin = html.UnescapeString(m[1])
	}
	if m := dataReturn.FindStringSubmatch(body); m != nil {
		r.Return = html.UnescapeString(m[1])
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "<script nonce") {
		t.Errorf("the pop-up page has inline script: %s", body)
	}
	return r
}

// startPopup GETs start in pop-up mode with rd and returns the provider's
// authorization URL it redirects to.
func startPopup(t *testing.T, b *stack.Browser, query string) *url.URL {
	t.Helper()
	resp := b.Get("/oauth2/start?" + query)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /oauth2/start?%s = %d; want 302", query, resp.StatusCode)
	}
	loc, _ := resp.Location()
	return loc
}

func TestPopupSignIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	resp, hops := b.Follow("/oauth2/start?mode=popup&rd=/reports%3Fid%3D7", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pop-up sign-in ended with %d after %v", resp.StatusCode, hops)
	}
	if len(stack.SessionCookies(resp)) == 0 {
		t.Errorf("the pop-up sign-in set no session cookie")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("pop-up page CSP = %q; want script-src 'self' and nothing inline", csp)
	}
	got := readPopup(t, resp)
	want := map[string]any{"type": "portcullis:sign-in", "ok": true, "user": "alice@example.com"}
	for k, v := range want {
		if got.Message[k] != v {
			t.Errorf("posted message[%q] = %v; want %v (message %v)", k, got.Message[k], v, got.Message)
		}
	}
	for k := range got.Message {
		if _, ok := want[k]; !ok {
			t.Errorf("posted message carries %q; want only %v", k, want)
		}
	}
	if got.Origin != h.proxy.URL {
		t.Errorf("posted to origin %q; want Portcullis's own, %q", got.Origin, h.proxy.URL)
	}
	if got.Return != "/reports?id=7" {
		t.Errorf("data-return = %q; want the rd /reports?id=7", got.Return)
	}
}

// TestPopupOriginIsPublicURLs: with PUBLIC_URL the message goes to its
// origin, whatever Host the request named.
func TestPopupOriginIsPublicURLs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Site.PublicURL, _ = url.Parse("https://app.example.com/base/")
	}})
	b := h.browser()
	auth := startPopup(t, b, "mode=popup")
	resp := b.Get("/oauth2/callback?state=" + url.QueryEscape(auth.Query().Get("state")) + "&error=access_denied")
	if got := readPopup(t, resp); got.Origin != "https://app.example.com" {
		t.Errorf("posted to origin %q; want https://app.example.com", got.Origin)
	}
}

// TestPopupFailurePosted: a failed pop-up sign-in posts ok:false with the
// reason, never a token, on the status the failure has.
func TestPopupFailurePosted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	auth := startPopup(t, b, "mode=popup&rd=/x")
	resp := b.Get("/oauth2/callback?state=" + url.QueryEscape(auth.Query().Get("state")) +
		"&error=access_denied&error_description=" + url.QueryEscape("The user said no"))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("refused pop-up sign-in = %d; want 403", resp.StatusCode)
	}
	got := readPopup(t, resp)
	if got.Message["ok"] != false || !strings.Contains(got.Message["error"].(string), "The user said no") || got.Message["type"] != "portcullis:sign-in" {
		t.Errorf("posted message = %v; want ok:false with the provider's reason", got.Message)
	}
	if len(stack.SessionCookies(resp)) != 0 {
		t.Errorf("a refused sign-in set a session cookie")
	}
}

// TestPopupStartFailurePosted: a pop-up sign-in that fails before it
// reaches the provider (start refuses it) ends on the pop-up page too,
// posting ok:false with the reason, so the opener is not left waiting for
// a window that never closes.
func TestPopupStartFailurePosted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Providers[0].PassthroughParams = []string{"login_hint"} }})
	tests := []struct {
		name, query string
		wantStatus  int
	}{
		{"unknown provider", "mode=popup&rd=%2Fx&provider=nope", http.StatusBadRequest},
		{"passthrough value too long", "mode=popup&rd=%2Fx&login_hint=" + strings.Repeat("a", 2000), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.browser().Get("/oauth2/start?" + tt.query)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("GET /oauth2/start?%.60s = %d; want %d", tt.query, resp.StatusCode, tt.wantStatus)
			}
			got := readPopup(t, resp)
			if got.Message["ok"] != false || got.Message["error"] == "" || got.Message["status"] != float64(tt.wantStatus) {
				t.Errorf("posted message = %v; want ok:false with the reason and status %d", got.Message, tt.wantStatus)
			}
			if got.Origin != h.proxy.URL || got.Return != "/x" {
				t.Errorf("posted to %q, returning to %q; want %q, /x", got.Origin, got.Return, h.proxy.URL)
			}
		})
	}
}

// TestPopupModeFromFlowOnly: the mode survives the provider round trip in
// the flow cookie; a mode=popup added to the callback's query changes
// nothing, and a flow started in pop-up mode ends as one without it.
func TestPopupModeFromFlowOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	t.Run("added to the callback", func(t *testing.T) {
		b := h.browser()
		auth := startPopup(t, b, "rd=/x")
		resp := b.Get(auth.String()) // the provider approves: back to the callback
		resp.Body.Close()
		loc, _ := resp.Location()
		if loc == nil {
			t.Fatalf("the provider did not redirect back (%d)", resp.StatusCode)
		}
		q := loc.Query()
		q.Set("mode", "popup")
		loc.RawQuery = q.Encode()
		cb := b.Get(loc.String())
		cb.Body.Close()
		if cb.StatusCode != http.StatusFound || cb.Header.Get("Location") != "/x" {
			t.Errorf("callback with a forged mode=popup = %d to %q; want the ordinary 302 to /x", cb.StatusCode, cb.Header.Get("Location"))
		}
	})
	t.Run("added to a failed callback", func(t *testing.T) {
		b := h.browser()
		auth := startPopup(t, b, "rd=/x")
		resp := b.Get("/oauth2/callback?mode=popup&error=access_denied&state=" + url.QueryEscape(auth.Query().Get("state")))
		if body := stack.ReadBody(t, resp); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "data-result") {
			t.Errorf("failed callback with a forged mode=popup = %d, pop-up page %v; want the ordinary 403 page", resp.StatusCode, strings.Contains(body, "data-result"))
		}
	})
	t.Run("kept by the flow", func(t *testing.T) {
		b := h.browser()
		resp, hops := b.Follow("/oauth2/start?mode=popup&rd=/x", nil)
		for _, hop := range hops {
			if strings.Contains(hop, "/oauth2/callback") && strings.Contains(hop, "mode=") {
				t.Errorf("the mode travelled in a URL: %s", hop)
			}
		}
		if got := readPopup(t, resp); got.Message["ok"] != true {
			t.Errorf("posted message = %v; want ok:true", got.Message)
		}
	})
}

// TestPopupRedirectJudged: rd in pop-up mode is judged like any other: a
// host outside the allowed ones becomes "/".
func TestPopupRedirectJudged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	for _, rd := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
		b := h.browser()
		resp, _ := b.Follow("/oauth2/start?mode=popup&rd="+url.QueryEscape(rd), nil)
		got := readPopup(t, resp)
		if got.Return != "/" {
			t.Errorf("pop-up sign-in with rd %q returns to %q; want /", rd, got.Return)
		}
	}
}

func TestSignInModes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Pages.SignInBanner = "Welcome" }})
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/oauth2/sign_in?mode=popup&rd=/a", 200, "mode=popup"},
		{"/oauth2/sign_in?mode=redirect", 400, "mode"},
		{"/oauth2/start?mode=frame", 400, "mode"},
	}
	for _, tt := range tests {
		resp := h.browser().Get(tt.path)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
			t.Errorf("GET %s = %d; want %d with %q in %s", tt.path, resp.StatusCode, tt.wantStatus, tt.wantBody, body)
		}
	}
}

// TestUnauthenticatedJSON: every 401 for a request that is not a browser's
// navigation says where to sign in, in the window and in a pop-up.
func TestUnauthenticatedJSON(t *testing.T) {
	t.Parallel()
	for _, public := range []string{"", "https://sso.example.com"} {
		h := newHarness(t, setup{proxy: func(o *proxy.Options) {
			o.Apps.ExposeAccessToken = true
			o.Access.BearerTokens = true
			o.Providers[0].Bearer = bearerFor("the-only-machine-token")
			if public != "" {
				o.Site.PublicURL, _ = url.Parse(public)
				o.Trust.ForwardedHeaders = true
			}
		}})
		tests := []struct {
			name, path string
			hdr        http.Header
			wantRd     string
		}{
			{"app", "/api/items?page=2", nil, "/api/items?page=2"},
			{"userinfo", "/oauth2/userinfo", nil, "/"},
			{"session", "/oauth2/session", nil, "/"},
			{"token", "/oauth2/token", http.Header{"X-Requested-With": {"portcullis.js"}}, "/"},
			{"forward-auth", "/oauth2/forward-auth", nil, "/"},
			{"auth", "/oauth2/auth", nil, "/"},
			{"xhr to forward-auth", "/oauth2/forward-auth", http.Header{"Accept": {"text/html"}, "X-Requested-With": {"XMLHttpRequest"}}, "/"},
			{"rejected bearer", "/api/x", http.Header{"Authorization": {"Bearer forged"}}, "/"},
		}
		for _, tt := range tests {
			t.Run(tt.name+" "+public, func(t *testing.T) {
				req, _ := http.NewRequest("GET", h.proxy.URL+tt.path, nil)
				req.Header.Set("Accept", "application/json")
				for k, v := range tt.hdr {
					req.Header[k] = v
				}
				resp, err := stack.HTTPClient(t).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("GET %s = %d; want 401", tt.path, resp.StatusCode)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type = %q; want JSON", ct)
				}
				got := decodeJSON(t, resp)
				base := public
				q := url.Values{"rd": {tt.wantRd}}
				if got["error"] != "unauthenticated" {
					t.Errorf("error = %v; want unauthenticated (%v)", got["error"], got)
				}
				wantSignIn := base + "/oauth2/start?" + q.Encode()
				q.Set("mode", "popup")
				wantPopup := base + "/oauth2/start?" + q.Encode()
				if got["sign_in_url"] != wantSignIn || got["popup_url"] != wantPopup {
					t.Errorf("sign_in_url, popup_url = %v, %v; want %v, %v", got["sign_in_url"], got["popup_url"], wantSignIn, wantPopup)
				}
			})
		}
	}
}

// TestSessionStatus: /session says who is signed in and until when, and
// neither renews nor extends the session.
func TestSessionStatus(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	idleEnd := t0.Add(30 * time.Minute)
	tests := []struct {
		name     string
		advance  time.Duration
		edit     func(*session.State)
		idle     bool
		endUser  bool           // the ended list names the user
		want     map[string]any // nil: 401
		wantCall int
	}{
		{name: "signed in", want: map[string]any{
			"signed_in": true, "user": "alice@example.com", "email": "alice@example.com", "provider": stack.ProviderID,
			"expires_at": "2030-05-02T12:00:00Z", "token_expires_at": "2030-05-01T13:00:00Z", "idle_expires_at": nil,
		}},
		{name: "idle timeout on", idle: true, want: map[string]any{"idle_expires_at": "2030-05-01T12:30:00Z"}},
		{name: "idle timeout passed", idle: true, advance: 31 * time.Minute},
		{name: "ended by a logout", endUser: true},
		{name: "token expired, refreshable: not refreshed here", advance: 2 * time.Hour,
			want: map[string]any{"signed_in": true, "token_expires_at": "2030-05-01T13:00:00Z"}},
		{name: "token expired, no refresh token", advance: 2 * time.Hour, edit: func(st *session.State) { st.RefreshToken = "" }},
		{name: "no token expiry", edit: func(st *session.State) { st.Expiry = time.Time{} }, want: map[string]any{"token_expires_at": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testclock.New(t0)
			h := newHarness(t, setup{
				proxy: func(o *proxy.Options) {
					o.Now = c.Now
					o.Tokens.ValidateExternal = true
					o.Apps.SessionLifetime = 24 * time.Hour
					if tt.idle {
						o.Ending.IdleTimeout = idleEnd.Sub(t0)
					}
					if tt.endUser {
						ended := session.NewEnded(session.EndedOptions{Now: c.Now})
						if err := ended.End(t.Context(), session.Ending{Kind: session.EndUser, Value: "alice@example.com", Before: t0}); err != nil {
							t.Fatal(err)
						}
						o.Ending.Ended = ended
					}
				},
				session: func(o *session.Options) { o.Now = c.Now; o.Expire = 24 * time.Hour },
			})
			st := stack.Alice(t0, 40)
			if tt.edit != nil {
				tt.edit(st)
			}
			cookies := stack.Seal(t, h.opts.Sessions, st)
			c.Advance(tt.advance)
			resp, err := stack.HTTPClient(t).Do(apiRequest(h.proxy.URL+"/oauth2/session", cookieMap(cookies)))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(resp.Header.Values("Set-Cookie")); n != 0 {
				t.Errorf("/session wrote %d cookies; want none (it neither renews nor extends)", n)
			}
			if got := h.idp.Calls("refresh"); got != 0 {
				t.Errorf("/session made %d refresh grants; want 0", got)
			}
			if tt.want == nil {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("/session = %d; want 401", resp.StatusCode)
				}
				if got := decodeJSON(t, resp); got["error"] != "unauthenticated" {
					t.Errorf("/session body = %v; want the 401 JSON", got)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/session = %d; want 200", resp.StatusCode)
			}
			got := decodeJSON(t, resp)
			for k, v := range tt.want {
				if gv, ok := got[k]; !ok || gv != v {
					t.Errorf("/session[%q] = %v; want %v (%v)", k, gv, v, got)
				}
			}
			for _, k := range []string{"access_token", "refresh_token", "id_token"} {
				if _, ok := got[k]; ok {
					t.Errorf("/session carries %s", k)
				}
			}
		})
	}
}

func cookieMap(cookies []*http.Cookie) map[string]*http.Cookie {
	m := map[string]*http.Cookie{}
	for _, c := range cookies {
		m[c.Name] = c
	}
	return m
}

// TestAccessTokenSameOriginOnly: /token answers the app's own scripts
// only, and never with CORS headers.
func TestAccessTokenSameOriginOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Apps.ExposeAccessToken = true }})
	b := h.browser()
	b.SignIn("/")
	tests := []struct {
		name       string
		hdr        http.Header
		wantStatus int
	}{
		{"same-origin fetch", http.Header{"Sec-Fetch-Site": {"same-origin"}}, 200},
		{"same-origin with our Origin", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {h.proxy.URL}}, 200},
		{"X-Requested-With, no Sec-Fetch-Site", http.Header{"X-Requested-With": {"portcullis.js"}}, 200},
		{"cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, 403},
		{"cross-site with X-Requested-With", http.Header{"Sec-Fetch-Site": {"cross-site"}, "X-Requested-With": {"x"}, "Origin": {"https://evil.example"}}, 403},
		{"same-site, another origin", http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"https://other.127.0.0.1.nip.io"}}, 403},
		{"typed in the address bar", http.Header{"Sec-Fetch-Site": {"none"}}, 403},
		{"nothing said", nil, 403},
		{"a foreign Origin claiming same-origin", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"https://evil.example"}}, 403},
		{"X-Requested-With from a foreign Origin", http.Header{"X-Requested-With": {"x"}, "Origin": {"null"}}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := b.Do("GET", "/oauth2/token", nil, tt.hdr)
			body := stack.ReadBody(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("GET /oauth2/token = %d; want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("answer carries %s", k)
				}
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", cc)
			}
			if tt.wantStatus != 200 {
				if strings.Contains(body, "access_token") {
					t.Errorf("refused answer carries a token: %s", body)
				}
				return
			}
			var got struct {
				AccessToken string  `json:"access_token"`
				ExpiresAt   *string `json:"expires_at"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil || got.AccessToken == "" {
				t.Errorf("body %s: want an access_token (%v)", body, err)
			}
		})
	}
}

// TestAccessTokenEndedSession: a session the ended list names, or one
// idle past SESSION_IDLE_TIMEOUT, gets no token from /token: the 401 JSON,
// and its cookie cleared.
func TestAccessTokenEndedSession(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		endUser bool
		refused bool // the provider refuses the session's refresh token
		advance time.Duration
	}{
		{name: "ended by a logout", endUser: true},
		{name: "idle past the timeout", advance: 31 * time.Minute},
		// VALIDATE_EXTERNAL_TOKEN=false: the session outlives its token,
		// but a refresh the provider refuses ends it, here as anywhere.
		{name: "refresh refused", refused: true, advance: 2 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testclock.New(t0)
			h := newHarness(t, setup{
				proxy: func(o *proxy.Options) {
					o.Now = c.Now
					o.Apps.ExposeAccessToken = true
					if !tt.refused {
						o.Ending.IdleTimeout = 30 * time.Minute
					}
					if tt.endUser {
						ended := session.NewEnded(session.EndedOptions{Now: c.Now})
						if err := ended.End(t.Context(), session.Ending{Kind: session.EndUser, Value: "alice@example.com", Before: t0}); err != nil {
							t.Fatal(err)
						}
						o.Ending.Ended = ended
					}
				},
				session: func(o *session.Options) { o.Now = c.Now; o.Expire = 24 * time.Hour },
			})
			st := stack.Alice(t0, 40)
			if tt.refused {
				st.RefreshToken = "a-refresh-token-the-provider-does-not-know"
			}
			cookies := stack.Seal(t, h.opts.Sessions, st)
			c.Advance(tt.advance)
			req := apiRequest(h.proxy.URL+"/oauth2/token", cookieMap(cookies))
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			resp, err := stack.HTTPClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("/token for an ended session = %d; want 401", resp.StatusCode)
			}
			if got := decodeJSON(t, resp); got["error"] != "unauthenticated" || got["access_token"] != nil {
				t.Errorf("/token for an ended session answered %v; want the 401 JSON", got)
			}
			if !clearsCookies(resp) {
				t.Errorf("/token for an ended session left its cookie: %v", resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

// clearsCookies reports whether resp expires a cookie.
func clearsCookies(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestAccessTokenOffIs404(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	b := h.browser()
	b.SignIn("/")
	resp := b.Do("GET", "/oauth2/token", nil, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "access_token") {
		t.Errorf("GET /oauth2/token without EXPOSE_ACCESS_TOKEN = %d %s; want 404", resp.StatusCode, body)
	}
}

// TestAccessTokenRefreshedWhenDue: a due token is renewed before it is
// answered, whether the session follows the token or not.
func TestAccessTokenRefreshedWhenDue(t *testing.T) {
	t.Parallel()
	for _, validate := range []bool{true, false} {
		c := testclock.Wall()
		h, b := lifecycleHarness(t, c, nil, func(o *proxy.Options) {
			o.Apps.ExposeAccessToken = true
			o.Tokens.ValidateExternal = validate
		})
		same := http.Header{"Sec-Fetch-Site": {"same-origin"}}
		first := decodeJSON(t, b.Do("GET", "/oauth2/token", nil, same))["access_token"]
		c.Advance(time.Hour)
		resp := b.Do("GET", "/oauth2/token", nil, same)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("validate=%v: /token after expiry = %d; want 200", validate, resp.StatusCode)
		}
		if !setsSessionCookie(resp) {
			t.Errorf("validate=%v: the renewed session was not written", validate)
		}
		got := decodeJSON(t, resp)
		if got["access_token"] == first || got["access_token"] == "" {
			t.Errorf("validate=%v: /token after expiry answered the old token; want a renewed one", validate)
		}
		if n := h.idp.Calls("refresh"); n != 1 {
			t.Errorf("validate=%v: refresh grants = %d; want 1", validate, n)
		}
	}
}

// TestScripts: portcullis.js and popup.js are served from the prefix,
// small, cacheable and revalidated by ETag.
func TestScripts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Paths.Prefix = "/auth" }})
	for _, path := range []string{"/auth/portcullis.js", "/auth/popup.js"} {
		b := h.browser()
		resp := b.Get(path)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
			t.Fatalf("GET %s = %d %q; want 200 JavaScript", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if len(body) > 8<<10 {
			t.Errorf("%s is %d bytes; want a few KB", path, len(body))
		}
		for _, bad := range []string{"eval(", "new Function", "innerHTML", "document.write"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s uses %s", path, bad)
			}
		}
		etag := resp.Header.Get("ETag")
		if etag == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
			t.Errorf("%s: ETag %q, Cache-Control %q; want both", path, etag, resp.Header.Get("Cache-Control"))
		}
		again := b.Do("GET", path, nil, http.Header{"If-None-Match": {etag}})
		again.Body.Close()
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag = %d; want 304", path, again.StatusCode)
		}
	}
}

// TestPopupFormPost: a pop-up sign-in whose provider answers by
// form_post ends on the pop-up page too, and so does its failure.
func TestPopupFormPost(t *testing.T) {
	t.Parallel()
	h := formPostHarness(t)
	for _, tt := range []struct {
		name   string
		edit   func(url.Values)
		wantOK bool
	}{
		{"signed in", func(url.Values) {}, true},
		{"refused", func(v url.Values) { v.Del("code"); v.Set("error", "access_denied") }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := h.browser()
			auth := startPopup(t, b, "mode=popup&rd=%2Fx")
			plain := *auth
			q := plain.Query()
			q.Del("response_mode")
			plain.RawQuery = q.Encode()
			resp := b.Get(plain.String())
			resp.Body.Close()
			cb, err := resp.Location()
			if err != nil {
				t.Fatalf("provider answered %d; want a redirect", resp.StatusCode)
			}
			answer := cb.Query()
			tt.edit(answer)
			got := readPopup(t, postFromProvider(b, h.idp.URL, formType, answer.Encode()))
			if got.Message["ok"] != tt.wantOK || got.Return != "/x" {
				t.Errorf("form_post pop-up page posts %v, returns to %q; want ok=%v, /x", got.Message, got.Return, tt.wantOK)
			}
		})
	}
}
