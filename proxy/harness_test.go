package proxy_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// harness is the stack's fake provider, an upstream that echoes what it
// received (stack.EchoHandler), and the proxy in front of it, all over real
// HTTP on loopback.
type harness struct {
	t        *testing.T
	idp      *stack.Provider
	upstream *httptest.Server
	proxy    *httptest.Server
	server   *proxy.Server
	opts     proxy.Options   // as the proxy was built, to build a replica
	cookies  session.Options // as the session store was built
}

// setup describes one harness: options for each part, all optional.
type setup struct {
	idp      func(*idp.Options)
	provider func(*providers.Config)
	proxy    func(*proxy.Options)
	session  func(*session.Options)
	upstream http.Handler
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	h := &harness{t: t, idp: stack.StartProvider(t, s.idp)}
	up := s.upstream
	if up == nil {
		up = stack.EchoHandler()
	}
	h.upstream = stack.Serve(t, up)

	pc := h.idp.ClientConfig()
	if s.provider != nil {
		s.provider(&pc)
	}
	h.cookies = stack.CookieOptions()
	if s.session != nil {
		s.session(&h.cookies)
	}
	upURL, _ := url.Parse(h.upstream.URL)
	po := proxy.Options{
		Upstream:  proxy.Upstream{URL: upURL},
		Providers: []proxy.Provider{{ID: pc.ID, DisplayName: stack.DisplayName, PKCE: true, Provider: stack.NewClient(t, pc)}},
		Sessions:  stack.NewCookieStore(t, h.cookies),
		Flows:     stack.NewFlows(t, h.cookies),
	}
	if s.proxy != nil {
		s.proxy(&po)
	}
	h.opts = po
	var err error
	h.server, err = proxy.New(po)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	h.proxy = stack.Serve(t, h.server)
	return h
}

// browser returns a browser without cookies on the proxy (stack.Browser:
// it keeps the proxy's cookies and does not follow redirects, so each hop
// can be checked).
func (h *harness) browser() *stack.Browser { return stack.NewBrowser(h.t, h.proxy.URL) }

// readLine reads one line from a streamed body.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return line
}

// apiRequest is a GET of url as an API client (Accept: application/json)
// that sends cookies, as a browser's other tab or a copied cookie would,
// without keeping what the answer sets.
func apiRequest(url string, cookies map[string]*http.Cookie) *http.Request {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "application/json")
	for _, ck := range cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	return req
}
