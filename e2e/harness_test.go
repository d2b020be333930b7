package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/nginxtest"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// nginxExample is the configuration the tests run, as shipped.
const nginxExample = "../examples/nginx/nginx.conf"

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

// stackParts are what every stack starts besides the proxy in front:
// internal/stack's fake provider and app, and Portcullis's listener.
// Portcullis's address goes into the front proxy's configuration and the
// front proxy's into Portcullis's (its public URL), so the listener is
// opened first and served (serve) once the front proxy runs.
type stackParts struct {
	clock      *testclock.Clock
	idp        *stack.Provider
	app        *httptest.Server
	portcullis *httptest.Server // listening; serving after serve
}

// startParts starts the fake provider on so.clock (default: the wall
// clock), adjusted by so.idp; the app, so.app (default: stack.EchoHandler)
// wrapped by wrap if not nil; and Portcullis's listener.
func startParts(t *testing.T, so stackOptions, wrap func(http.Handler) http.Handler) stackParts {
	t.Helper()
	p := stackParts{clock: so.clock}
	if p.clock == nil {
		p.clock = testclock.Wall()
	}
	p.idp = stack.StartProvider(t, func(o *idp.Options) {
		o.Now = p.clock.Now
		if so.idp != nil {
			so.idp(o)
		}
	})
	app := so.app
	if app == nil {
		app = stack.EchoHandler()
	}
	if wrap != nil {
		app = wrap(app)
	}
	p.app = stack.Serve(t, app)
	p.portcullis = httptest.NewUnstartedServer(nil)
	t.Cleanup(p.portcullis.Close)
	return p
}

// options are Portcullis's options in forward-auth mode (no upstream of
// its own) behind the proxy at front, its public URL, as every stack sets
// them: the fake provider's client (credentials in the form), sessions and
// sign-ins in cookies with a day's life, all on the stack's clock. The
// cookie options come too, for a stack that keeps sessions elsewhere.
func (p stackParts) options(t *testing.T, front string) (proxy.Options, session.Options) {
	t.Helper()
	pc := p.idp.ClientConfig()
	pc.TokenAuthStyle = providers.AuthStyleParams
	pc.Now = p.clock.Now
	co := stack.CookieOptions()
	co.Expire = 24 * time.Hour
	co.Now = p.clock.Now
	public, err := url.Parse(front)
	if err != nil {
		t.Fatal(err)
	}
	return proxy.Options{
		Site:      proxy.Site{PublicURL: public},
		Providers: []proxy.Provider{{ID: stack.ProviderID, DisplayName: stack.DisplayName, PKCE: true, Provider: stack.NewClient(t, pc)}},
		Sessions:  stack.NewCookieStore(t, co),
		Flows:     stack.NewFlows(t, co),
		Now:       p.clock.Now,
	}, co
}

// serve serves Portcullis with po, adjusted by edit if not nil, on its
// listener.
func (p stackParts) serve(t *testing.T, po proxy.Options, edit func(*proxy.Options)) {
	t.Helper()
	if edit != nil {
		edit(&po)
	}
	srv, err := proxy.New(po)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	p.portcullis.Config.Handler = srv
	p.portcullis.Start()
}

// nginxStack is the fake provider, an app, Portcullis in forward-auth
// mode (no upstream of its own) and nginx from the example in front of
// both, all on loopback. The parts but nginx are internal/stack's.
type nginxStack struct {
	t *testing.T
	stackParts
	nginx string // nginx's base URL, http://127.0.0.1:<port>
}

// stackOptions adjust a stack; all are optional.
type stackOptions struct {
	// clock is the time of the fake provider, the provider client, the
	// session store and the proxy (default: the wall clock).
	clock *testclock.Clock
	idp   func(*idp.Options)
	proxy func(*proxy.Options)
	app   http.Handler // default: stack.EchoHandler
	// nginx is the nginxtest template nginx runs (default: the example,
	// exampleConf), with modules loaded first.
	nginx   string
	modules []string
}

func newStack(t *testing.T, so stackOptions) *nginxStack {
	t.Helper()
	s := &nginxStack{t: t, stackParts: startParts(t, so, nil)}
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
	po, _ := s.options(t, s.nginx)
	s.serve(t, po, so.proxy)
	return s
}

// browser is a browser without JavaScript on the stack's nginx.
func (s *nginxStack) browser() *stack.Browser { return stack.NewBrowser(s.t, s.nginx) }

// authServer returns Portcullis in forward-auth mode, as beside an
// ingress (opts may set an Upstream), and the cookies of a valid session
// for alice. Its provider is never called: the session's access token,
// 1 KB like a real JWT, is valid for an hour. opts, if not nil, adjusts the
// proxy's options.
func authServer(tb testing.TB, opts func(*proxy.Options)) (*proxy.Server, []*http.Cookie) {
	tb.Helper()
	co := stack.CookieOptions()
	co.Expire = 24 * time.Hour
	store := stack.NewCookieStore(tb, co)
	po := proxy.Options{
		Providers: []proxy.Provider{{ID: stack.ProviderID, PKCE: true, Provider: stack.NewClient(tb, stack.OfflineConfig())}},
		Sessions:  store,
		Flows:     stack.NewFlows(tb, co),
		Tokens:    proxy.Tokens{ValidateExternal: true, RefreshSkew: 30 * time.Second, RefreshGrace: 5 * time.Minute},
	}
	if opts != nil {
		opts(&po)
	}
	srv, err := proxy.New(po)
	if err != nil {
		tb.Fatalf("proxy.New: %v", err)
	}
	return srv, stack.Seal(tb, store, stack.Alice(time.Now(), 1000))
}
