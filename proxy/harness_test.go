package proxy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

const (
	testClientID     = "portcullis-test"
	testClientSecret = "s3cret-client-value-never-shown"
	testSecret       = "0123456789abcdef0123456789abcdef" // 32 bytes
)

// harness is a fake provider, an upstream that echoes what it received,
// and the proxy in front of it, all over real HTTP on loopback.
type harness struct {
	t        *testing.T
	idp      *idp.Server
	idpSrv   *httptest.Server
	upstream *httptest.Server
	proxy    *httptest.Server
	server   *proxy.Server
	opts     proxy.Options // as the proxy was built, to build a replica
	cookies  session.Options
}

// setup describes one harness: options for each part, all optional.
type setup struct {
	idp      func(*idp.Options)
	provider func(*providers.Config)
	proxy    func(*proxy.Options)
	session  func(*session.Options)
	upstream http.Handler
}

// echoUpstream answers with a JSON document of the request it got.
func echoUpstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"method":  r.Method,
			"uri":     r.RequestURI,
			"host":    r.Host,
			"headers": r.Header,
		})
	})
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	io := idp.Options{
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		AutoApprove:  "alice",
		RequirePKCE:  true,
	}
	if s.idp != nil {
		s.idp(&io)
	}
	h := &harness{t: t, idp: idp.New(io)}
	h.idpSrv = httptest.NewServer(h.idp)
	t.Cleanup(h.idpSrv.Close)
	up := s.upstream
	if up == nil {
		up = echoUpstream()
	}
	h.upstream = httptest.NewServer(up)
	t.Cleanup(h.upstream.Close)

	ep := idp.EndpointsAt(h.idpSrv.URL)
	pc := providers.Config{
		ID:           "oauth2",
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		AuthURL:      ep.AuthURL,
		TokenURL:     ep.TokenURL,
		UserinfoURL:  ep.UserinfoURL,
		Scopes:       []string{"openid", "email", "profile"},
	}
	if s.provider != nil {
		s.provider(&pc)
	}
	p, err := providers.NewOAuth2(pc)
	if err != nil {
		t.Fatalf("NewOAuth2: %v", err)
	}
	h.cookies = session.Options{
		Name:     "_portcullis",
		Secrets:  [][]byte{[]byte(testSecret)},
		Path:     "/",
		SameSite: http.SameSiteLaxMode,
		Expire:   time.Hour,
	}
	if s.session != nil {
		s.session(&h.cookies)
	}
	store, err := session.NewCookieStore(h.cookies)
	if err != nil {
		t.Fatalf("NewCookieStore: %v", err)
	}
	flows, err := session.NewFlows(h.cookies)
	if err != nil {
		t.Fatalf("NewFlows: %v", err)
	}
	upURL, _ := url.Parse(h.upstream.URL)
	po := proxy.Options{
		Upstream:  proxy.Upstream{URL: upURL},
		Providers: []proxy.Provider{{ID: pc.ID, DisplayName: "Test provider", PKCE: true, Provider: p}},
		Sessions:  store,
		Flows:     flows,
	}
	if s.proxy != nil {
		s.proxy(&po)
	}
	h.opts = po
	h.server, err = proxy.New(po)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	h.proxy = httptest.NewServer(h.server)
	t.Cleanup(h.proxy.Close)
	return h
}

// browser is a client with a cookie jar of its own that does not follow
// redirects, so each hop can be checked.
type browser struct {
	t       *testing.T
	h       *harness
	client  *http.Client
	cookies map[string]*http.Cookie // by name, as the proxy set them
	header  http.Header             // sent with every request
}

func (h *harness) browser() *browser {
	return &browser{
		t: h.t, h: h,
		client: &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       10 * time.Second,
		},
		cookies: map[string]*http.Cookie{},
		header:  http.Header{"Accept": {"text/html,application/xhtml+xml"}},
	}
}

// do sends a request to rawURL (absolute, or a path on the proxy) with the
// browser's cookies for the proxy's host, and records cookies it sets.
func (b *browser) do(method, rawURL string, body io.Reader, hdr http.Header) *http.Response {
	b.t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = b.h.proxy.URL + rawURL
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		b.t.Fatalf("NewRequest(%q): %v", rawURL, err)
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if strings.HasPrefix(rawURL, b.h.proxy.URL) {
		for _, c := range b.cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	if strings.HasPrefix(rawURL, b.h.proxy.URL) {
		for _, c := range resp.Cookies() {
			if c.MaxAge < 0 || c.Value == "" {
				delete(b.cookies, c.Name)
			} else {
				b.cookies[c.Name] = c
			}
		}
	}
	return resp
}

func (b *browser) get(rawURL string) *http.Response { return b.do("GET", rawURL, nil, nil) }

// follow GETs rawURL and follows redirects across the proxy and the fake
// providers (all on loopback) until a non-redirect answer or a redirect
// elsewhere (recorded in hops but not fetched), at most 10 hops.
func (b *browser) follow(rawURL string) (*http.Response, []string) {
	b.t.Helper()
	var hops []string
	for range 10 {
		resp := b.get(rawURL)
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return resp, hops
		}
		loc, err := resp.Location()
		if err != nil {
			b.t.Fatalf("redirect without Location from %s", rawURL)
		}
		rawURL = loc.String()
		hops = append(hops, rawURL)
		if !strings.HasPrefix(rawURL, "http://127.0.0.1:") { // only our own servers are followed

			return resp, hops
		}
		resp.Body.Close()
	}
	b.t.Fatalf("too many redirects: %v", hops)
	return nil, nil
}

// signIn runs the whole browser flow from a protected path and returns the
// upstream's echo of the request that finally got through.
func (b *browser) signIn(path string) echo {
	b.t.Helper()
	resp, hops := b.follow(path)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		b.t.Fatalf("sign-in from %s ended with %d after %v: %s", path, resp.StatusCode, hops, body)
	}
	return decodeEcho(b.t, resp)
}

// echo is the upstream's account of a request.
type echo struct {
	Method  string
	URI     string
	Host    string
	Headers http.Header
}

func decodeEcho(t *testing.T, resp *http.Response) echo {
	t.Helper()
	var e echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("decode upstream echo: %v", err)
	}
	return e
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// readLine reads one line from a streamed body.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return line
}
