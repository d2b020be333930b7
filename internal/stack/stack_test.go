package stack_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// newProxy puts the stack's parts into proxy.Options, as each harness
// does, in front of upstream (nil: forward-auth only).
func newProxy(t *testing.T, client proxy.Provider, upstream *httptest.Server) (*httptest.Server, stack.Saver) {
	t.Helper()
	store := stack.NewCookieStore(t, stack.CookieOptions())
	flows := stack.NewFlows(t, stack.CookieOptions())
	po := proxy.Options{Providers: []proxy.Provider{client}, Sessions: store, Flows: flows}
	if upstream != nil {
		po.Upstream.URL, _ = url.Parse(upstream.URL)
	}
	srv, err := proxy.New(po)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	return stack.Serve(t, srv), store
}

// TestSignIn runs the whole browser flow through the parts: the
// development provider, its client, the cookie store, the proxy and the
// echoing upstream.
func TestSignIn(t *testing.T) {
	t.Parallel()
	idp := stack.StartProvider(t, nil)
	up := stack.Serve(t, stack.EchoHandler())
	client := stack.NewClient(t, idp.ClientConfig())
	ps, _ := newProxy(t, proxy.Provider{ID: stack.ProviderID, DisplayName: stack.DisplayName, PKCE: true, Provider: client}, up)

	b := stack.NewBrowser(t, ps.URL)
	resp, hops := b.Follow("/app?x=1", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in = %d after %v: %s", resp.StatusCode, hops, stack.ReadBody(t, resp))
	}
	wantHops := []string{ps.URL + "/oauth2/start?", idp.URL + "/authorize?", ps.URL + "/oauth2/callback?", ps.URL + "/app?x=1"}
	if len(hops) != len(wantHops) {
		t.Fatalf("hops = %q; want %d like %q", hops, len(wantHops), wantHops)
	}
	for i, want := range wantHops {
		if !strings.HasPrefix(hops[i], want) {
			t.Errorf("hop %d = %q; want %q…", i, hops[i], want)
		}
	}
	e := stack.DecodeEcho(t, resp)
	if got := e.Headers.Get("X-User"); got != "alice@example.com" || e.URI != "/app?x=1" {
		t.Errorf("the upstream got %s with X-User %q; want /app?x=1 with alice@example.com", e.URI, got)
	}
	if b.Cookie(stack.CookieName) == "" || b.Cookie(stack.CookieName+"_csrf") != "" {
		t.Errorf("browser cookies after sign-in = %v; want the session's, not the sign-in's", b.Cookies)
	}
	if got := idp.Calls("token"); got != 1 {
		t.Errorf("token grants = %d; want 1", got)
	}
	// Signed in: straight through.
	if e := b.SignIn("/next"); e.URI != "/next" {
		t.Errorf("signed in, GET /next reached the upstream as %q", e.URI)
	}
}

// TestSeal: alice's sealed session is signed in at the proxy without a
// provider ever being called.
func TestSeal(t *testing.T) {
	t.Parallel()
	client := stack.NewClient(t, stack.OfflineConfig())
	ps, store := newProxy(t, proxy.Provider{ID: stack.ProviderID, PKCE: true, Provider: client}, nil)
	cookies := stack.Seal(t, store, stack.Alice(time.Now(), 1000))

	req, _ := http.NewRequest("GET", ps.URL+"/oauth2/auth", nil)
	req.Header.Set("Cookie", stack.CookieHeader(cookies))
	resp, err := stack.HTTPClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("/oauth2/auth with alice's sealed session = %d; want 202", resp.StatusCode)
	}
	for k, want := range map[string]string{"X-User": "alice@example.com", "X-User-Id": "1001", "X-User-Groups": "admins,staff"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	if got := stack.CookieHeader([]*http.Cookie{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}); got != "a=1; b=2" {
		t.Errorf("CookieHeader = %q; want a=1; b=2", got)
	}
}

// TestBrowserCookies: the browser keeps its site's cookies only, forgets
// deleted ones, and sends them to its site only.
func TestBrowserCookies(t *testing.T) {
	t.Parallel()
	var gotCookie string
	other := stack.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotCookie = r.Header.Get("Cookie")
		http.SetCookie(w, &http.Cookie{Name: "theirs", Value: "x"})
	}))
	site := stack.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/set":
			http.SetCookie(w, &http.Cookie{Name: "ours", Value: "1"})
		case "/delete":
			http.SetCookie(w, &http.Cookie{Name: "ours", MaxAge: -1})
		case "/away":
			http.Redirect(w, r, other.URL+"/there", http.StatusFound)
		}
		w.Write([]byte(r.Header.Get("Cookie")))
	}))
	b := stack.NewBrowser(t, site.URL)
	for _, step := range []struct {
		url, wantSent, wantKept string
	}{
		{"/set", "", "1"},
		{"/", "ours=1", "1"},
		{other.URL + "/", "", "1"}, // not sent elsewhere; theirs not kept
		{"/delete", "ours=1", ""},
		{"/", "", ""},
	} {
		sent := stack.ReadBody(t, b.Get(step.url))
		if strings.HasPrefix(step.url, other.URL) {
			sent = gotCookie
		}
		if sent != step.wantSent || b.Cookie("ours") != step.wantKept || b.Cookie("theirs") != "" {
			t.Errorf("GET %s sent Cookie %q and kept ours=%q, theirs=%q; want %q, %q, none", step.url, sent, b.Cookie("ours"), b.Cookie("theirs"), step.wantSent, step.wantKept)
		}
	}
	// Redirects to loopback are followed, each hop recorded.
	resp, hops := b.Follow("/away", nil)
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusOK || len(hops) != 1 || hops[0] != other.URL+"/there" {
		t.Errorf("Follow(/away) = %d after %q; want 200 after %s/there", resp.StatusCode, hops, other.URL)
	}
}

// TestBrowserOwnConnections: a browser's idle connections are its own,
// so another test's httptest.Server.Close, which closes the idle
// connections of http.DefaultTransport, leaves them alone (on the shared
// transport, a request reusing one at that moment failed with "http:
// CloseIdleConnections called").
func TestBrowserOwnConnections(t *testing.T) {
	t.Parallel()
	var opened atomic.Int32
	site := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	site.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	site.Start()
	t.Cleanup(site.Close)
	b := stack.NewBrowser(t, site.URL)
	stack.ReadBody(t, b.Get("/"))
	httptest.NewServer(http.NotFoundHandler()).Close() // as a parallel test's cleanup does
	stack.ReadBody(t, b.Get("/"))
	if got := opened.Load(); got != 1 {
		t.Errorf("connections opened for two requests with another server closed between = %d; want 1 (the idle one reused)", got)
	}
}
