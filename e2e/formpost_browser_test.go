package e2e_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/browsertest"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// formPostSite is Portcullis with a provider set to RESPONSE_MODE=form_post,
// served to the browser as http://localhost:PORT while the fake provider
// is at http://127.0.0.1:PORT, or the other way round (swap): two
// different sites, so the provider's POST to the callback is a cross-site
// one. forceLax, when set, rewrites the CSRF cookie to SameSite=Lax on its
// way to the browser.
type formPostSite struct {
	url      string // Portcullis as the browser reaches it
	idp      *stack.Provider
	mu       sync.Mutex
	callback []string // Sec-Fetch-Site of each POST to the callback
}

func startFormPostSite(t *testing.T, forceLax, swap bool) *formPostSite {
	t.Helper()
	s := &formPostSite{idp: stack.StartProvider(t, nil)}
	app := stack.Serve(t, greetingApp())
	pc := s.idp.ClientConfig()
	if swap { // the browser reaches the provider as localhost
		pc.AuthURL = strings.Replace(pc.AuthURL, "127.0.0.1", "localhost", 1)
	}
	appURL, err := url.Parse(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	co := stack.CookieOptions() // SameSite=Lax, not Secure: the session's own
	po := proxy.Options{
		Upstream: proxy.Upstream{URL: appURL},
		Providers: []proxy.Provider{{
			ID: stack.ProviderID, DisplayName: stack.DisplayName, PKCE: true, ResponseMode: "form_post",
			Provider: stack.NewClient(t, pc),
		}},
		Sessions: stack.NewCookieStore(t, co),
		Flows:    stack.NewFlows(t, co),
	}
	srv, err := proxy.New(po)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	front := stack.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/oauth2/callback" {
			s.mu.Lock()
			s.callback = append(s.callback, r.Header.Get("Sec-Fetch-Site"))
			s.mu.Unlock()
		}
		if forceLax {
			w = laxFlowCookie{w}
		}
		srv.ServeHTTP(w, r)
	}))
	s.url = front.URL
	if !swap {
		s.url = strings.Replace(front.URL, "127.0.0.1", "localhost", 1)
	}
	return s
}

func (s *formPostSite) callbackSites() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.callback...)
}

// laxFlowCookie rewrites the CSRF cookie's SameSite=None to Lax: what
// Portcullis would send if it kept the usual attribute for form_post.
type laxFlowCookie struct{ http.ResponseWriter }

func (w laxFlowCookie) WriteHeader(code int) {
	lines := w.Header()["Set-Cookie"]
	for i, line := range lines {
		if strings.HasPrefix(line, stack.CookieName+"_csrf=") {
			lines[i] = strings.Replace(line, "SameSite=None", "SameSite=Lax", 1)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w laxFlowCookie) Write(b []byte) (int, error) { return w.ResponseWriter.Write(b) }

// TestBrowserFormPostSignIn has Chromium sign in with RESPONSE_MODE=form_post,
// the provider on another site than Portcullis (127.0.0.1 against
// localhost, and the other way round): the provider's page POSTs code and
// state to the callback, a cross-site POST, which carries the CSRF cookie
// because it is SameSite=None; Secure (Secure cookies are kept on
// http://localhost and http://127.0.0.1, which Chromium counts as
// potentially trustworthy). The session cookie stays SameSite=Lax, and the
// browser lands on the app signed in.
func TestBrowserFormPostSignIn(t *testing.T) {
	t.Parallel()
	for _, swap := range []bool{false, true} {
		name := "Portcullis on localhost"
		if swap {
			name = "Portcullis on 127.0.0.1"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			formPostSignIn(t, swap)
		})
	}
}

func formPostSignIn(t *testing.T, swap bool) {
	ctx := browsertest.New(t)
	s := startFormPostSite(t, false, swap)

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/reports"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
	)
	if err != nil {
		t.Fatalf("open %s/reports and sign in through the provider's form_post page: %v", s.url, err)
	}
	user, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#user")))
	if err != nil || user != "alice@example.com" {
		t.Errorf("the app's page shows user %q (%v); want alice@example.com", user, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != s.url+"/reports" {
		t.Errorf("the browser ended at %q (%v); want %s/reports", loc, err, s.url)
	}
	if got := s.callbackSites(); len(got) != 1 || got[0] != "cross-site" {
		t.Errorf("POSTs to the callback had Sec-Fetch-Site %q; want one cross-site", got)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.url + "/"}})
	if err != nil {
		t.Fatalf("read the browser's cookies: %v", err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		switch c.Name {
		case stack.CookieName:
			session = c
		case stack.CookieName + "_csrf":
			t.Errorf("the CSRF cookie outlived the sign-in: %+v", c)
		}
	}
	if session == nil || session.SameSite != network.CookieSameSiteLax {
		t.Errorf("session cookie = %+v; want one with SameSite=Lax", session)
	}
	if got := s.idp.Calls("token"); got != 1 {
		t.Errorf("token grants = %d; want 1", got)
	}
}

// TestBrowserFormPostNeedsSameSiteNone is the same sign-in with the CSRF
// cookie forced to SameSite=Lax: Chromium leaves it off the provider's
// cross-site POST, and the callback refuses the sign-in as "not valid in
// this browser". It is why form_post flows get SameSite=None.
func TestBrowserFormPostNeedsSameSiteNone(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	s := startFormPostSite(t, true, false)

	if err := chromedp.Do(ctx, chromedp.Navigate(s.url+"/reports")); err != nil {
		t.Fatalf("open %s/reports: %v", s.url, err)
	}
	var body string
	for range 100 { // the provider's page posts itself: wait for the answer
		if b, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err == nil &&
			(strings.Contains(b, "Sign-in failed") || strings.Contains(b, "Signed in as")) {
			body = b
			break
		}
		chromedp.Do(ctx, chromedp.Sleep(100*time.Millisecond))
	}
	if !strings.Contains(body, "not valid in this browser") {
		t.Fatalf("with a SameSite=Lax CSRF cookie the sign-in ended on:\n%s\nwant the \"not valid in this browser\" page", body)
	}
	if got := s.callbackSites(); len(got) != 1 || got[0] != "cross-site" {
		t.Errorf("POSTs to the callback had Sec-Fetch-Site %q; want one cross-site", got)
	}
	if got := s.idp.Calls("token"); got != 0 {
		t.Errorf("token grants = %d; want 0", got)
	}
}
