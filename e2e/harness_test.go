package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/nginxtest"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

const (
	testClientID     = "portcullis-e2e"
	testClientSecret = "e2e-client-secret-never-shown"
	testSecret       = "0123456789abcdef0123456789abcdef" // 32 bytes

	// nginxExample is the configuration the tests run, as shipped.
	nginxExample = "../examples/nginx/nginx.conf"
)

// exampleConf returns examples/nginx/nginx.conf as an nginxtest template:
// its listen port and the addresses of Portcullis and the app, which the
// file writes as nginx-valid defaults, become placeholders. Nothing else
// changes, so what runs is what users copy.
func exampleConf(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(nginxExample)
	if err != nil {
		t.Fatalf("read the nginx example: %v", err)
	}
	conf := string(b)
	for _, r := range []struct{ literal, placeholder string }{
		{"listen 80;", "listen {{.Listen}};"},
		{"server 127.0.0.1:4180;", "server {{.Portcullis}};"},
		{"server 127.0.0.1:8080;", "server {{.Upstream}};"},
	} {
		if n := strings.Count(conf, r.literal); n != 1 {
			t.Fatalf("%s has %q %d times; the test replaces it and needs it exactly once", nginxExample, r.literal, n)
		}
		conf = strings.Replace(conf, r.literal, r.placeholder, 1)
	}
	return conf
}

// stack is the fake provider, an app, Portcullis in forward-auth mode
// (no upstream of its own) and nginx from the example in front of both,
// all on loopback.
type stack struct {
	t          *testing.T
	idp        *idp.Server
	idpSrv     *httptest.Server
	app        *httptest.Server
	portcullis *httptest.Server
	nginx      string // nginx's base URL, http://127.0.0.1:<port>
}

// stackOptions adjust a stack; all are optional.
type stackOptions struct {
	// clock is the time of the fake provider, the provider client, the
	// session store and the proxy (default: the wall clock).
	clock *testclock.Clock
	idp   func(*idp.Options)
	proxy func(*proxy.Options)
	app   http.Handler // default: echoApp
	// nginx is the nginxtest template nginx runs (default: the example,
	// exampleConf), with modules loaded first.
	nginx   string
	modules []string
}

func newStack(t *testing.T, so stackOptions) *stack {
	t.Helper()
	c := so.clock
	if c == nil {
		c = testclock.Wall()
	}
	idpOpts := idp.Options{
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		AutoApprove:  "alice",
		RequirePKCE:  true,
		Now:          c.Now,
	}
	if so.idp != nil {
		so.idp(&idpOpts)
	}
	s := &stack{t: t, idp: idp.New(idpOpts)}
	s.idpSrv = httptest.NewServer(s.idp)
	t.Cleanup(s.idpSrv.Close)

	app := so.app
	if app == nil {
		app = echoApp()
	}
	s.app = httptest.NewServer(app)
	t.Cleanup(s.app.Close)

	// Portcullis's address goes into nginx's configuration and nginx's
	// into Portcullis's (its public URL), so Portcullis's listener is
	// opened first and served once nginx runs.
	s.portcullis = httptest.NewUnstartedServer(nil)
	t.Cleanup(s.portcullis.Close)
	conf := so.nginx
	if conf == "" {
		conf = exampleConf(t)
	}
	addr := nginxtest.Start(t, conf, nginxtest.Vars{
		Portcullis: s.portcullis.Listener.Addr().String(),
		Upstream:   s.app.Listener.Addr().String(),
		Modules:    so.modules,
	})
	s.nginx = "http://" + addr

	ep := idp.EndpointsAt(s.idpSrv.URL)
	p, err := providers.NewOAuth2(providers.Config{
		ID:             "oauth2",
		ClientID:       testClientID,
		ClientSecret:   testClientSecret,
		AuthURL:        ep.AuthURL,
		TokenURL:       ep.TokenURL,
		UserinfoURL:    ep.UserinfoURL,
		Scopes:         []string{"openid", "email", "profile"},
		TokenAuthStyle: providers.AuthStyleParams,
		Now:            c.Now,
	})
	if err != nil {
		t.Fatalf("NewOAuth2: %v", err)
	}
	store, err := session.NewCookieStore(session.Options{
		Name:     "_portcullis",
		Secrets:  [][]byte{[]byte(testSecret)},
		Path:     "/",
		SameSite: http.SameSiteLaxMode,
		Expire:   24 * time.Hour,
		Now:      c.Now,
	})
	if err != nil {
		t.Fatalf("NewCookieStore: %v", err)
	}
	public, _ := url.Parse(s.nginx)
	po := proxy.Options{
		PublicURL: public,
		Providers: []proxy.Provider{{ID: "oauth2", DisplayName: "Test provider", PKCE: true, Provider: p}},
		Sessions:  store,
		Now:       c.Now,
	}
	if so.proxy != nil {
		so.proxy(&po)
	}
	srv, err := proxy.New(po)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	s.portcullis.Config.Handler = srv
	s.portcullis.Start()
	return s
}

// echo is the app's account of a request it got.
type echo struct {
	Method  string
	URI     string
	Host    string
	Headers http.Header
}

// echoApp answers with a JSON document of the request it got.
func echoApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echo{Method: r.Method, URI: r.RequestURI, Host: r.Host, Headers: r.Header})
	})
}

// browser is an HTTP client with a cookie jar, like a browser without
// JavaScript: it follows redirects across nginx and the fake provider and
// records where it went.
type browser struct {
	t      *testing.T
	client *http.Client
	jar    *cookiejar.Jar
	hops   []string // the redirects the last request followed
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, jar: jar}
	b.client = &http.Client{
		Jar:     jar,
		Timeout: 15 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			b.hops = append(b.hops, req.URL.String())
			return nil
		},
	}
	return b
}

// get requests rawURL with header (and Accept: text/html unless header
// says otherwise), following redirects.
func (b *browser) get(rawURL string, header http.Header) *http.Response {
	b.t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	for k, v := range header {
		req.Header[k] = v
	}
	b.hops = nil
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v (after %v)", rawURL, err, b.hops)
	}
	return resp
}

// cookie returns the value of the jar's cookie name for rawURL, or "".
func (b *browser) cookie(rawURL, name string) string {
	u, _ := url.Parse(rawURL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func decodeEcho(t *testing.T, resp *http.Response) echo {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e echo
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s: the app's echo is not JSON (%v): %.300s", resp.Request.URL, err, body)
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

// sessionCookies returns the Set-Cookie headers of resp that set a session
// cookie (not the sign-in's CSRF cookie, not an expiry).
func sessionCookies(resp *http.Response) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "_portcullis") && c.Name != "_portcullis_csrf" && c.MaxAge >= 0 && c.Value != "" {
			out = append(out, c)
		}
	}
	return out
}

// authServer returns Portcullis in forward-auth mode, as beside an
// ingress (opts may set an Upstream), and the cookies of a valid session
// for alice. Its provider is never called: the session's access token,
// 1 KB like a real JWT, is valid for an hour. opts, if not nil, adjusts the
// proxy's options.
func authServer(tb testing.TB, opts func(*proxy.Options)) (*proxy.Server, []*http.Cookie) {
	tb.Helper()
	p, err := providers.NewOAuth2(providers.Config{
		ID:           "oauth2",
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		AuthURL:      "http://127.0.0.1:1/authorize",
		TokenURL:     "http://127.0.0.1:1/token",
		UserinfoURL:  "http://127.0.0.1:1/userinfo",
	})
	if err != nil {
		tb.Fatalf("NewOAuth2: %v", err)
	}
	store, err := session.NewCookieStore(session.Options{
		Name:    "_portcullis",
		Secrets: [][]byte{[]byte(testSecret)},
		Expire:  24 * time.Hour,
	})
	if err != nil {
		tb.Fatalf("NewCookieStore: %v", err)
	}
	po := proxy.Options{
		Providers:             []proxy.Provider{{ID: "oauth2", PKCE: true, Provider: p}},
		Sessions:              store,
		ValidateExternalToken: true,
		RefreshSkew:           30 * time.Second,
		RefreshGrace:          5 * time.Minute,
	}
	if opts != nil {
		opts(&po)
	}
	srv, err := proxy.New(po)
	if err != nil {
		tb.Fatalf("proxy.New: %v", err)
	}
	now := time.Now()
	rec := httptest.NewRecorder()
	err = store.Save(rec, httptest.NewRequest("GET", "/", nil), &session.State{
		Provider:     "oauth2",
		UserID:       "1001",
		User:         "alice@example.com", // USER_FROM=auto: the verified address
		Email:        "alice@example.com",
		Name:         "Alice Example",
		GivenName:    "Alice",
		FamilyName:   "Example",
		Username:     "alice",
		Groups:       []string{"admins", "staff"},
		AccessToken:  strings.Repeat("a", 1000),
		RefreshToken: strings.Repeat("r", 40),
		Expiry:       now.Add(time.Hour),
		CreatedAt:    now,
	})
	if err != nil {
		tb.Fatalf("Save: %v", err)
	}
	return srv, rec.Result().Cookies()
}
