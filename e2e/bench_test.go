package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// authServer returns Portcullis in forward-auth mode, as beside an
// ingress, and a valid session cookie for alice. Its provider is never
// called: the session's access token is valid for an hour. opts, if not
// nil, adjusts the proxy's options.
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
		User:         "alice",
		Email:        "alice@example.com",
		Name:         "Alice Example",
		GivenName:    "Alice",
		FamilyName:   "Example",
		Username:     "alice",
		Groups:       []string{"admins", "staff"},
		AccessToken:  strings.Repeat("a", 40),
		RefreshToken: strings.Repeat("r", 40),
		Expiry:       now.Add(time.Hour),
		CreatedAt:    now,
	})
	if err != nil {
		tb.Fatalf("Save: %v", err)
	}
	return srv, rec.Result().Cookies()
}

// BenchmarkAuthEndpoint measures what an ingress pays on every request:
// /oauth2/auth (nginx auth_request) and /oauth2/forward-auth (Traefik,
// Caddy, Envoy) answered in process, with a valid session cookie and
// without one.
func BenchmarkAuthEndpoint(b *testing.B) {
	srv, cookies := authServer(b, nil)
	for _, bc := range []struct {
		name    string
		path    string
		cookies []*http.Cookie
		want    int
	}{
		{"auth/signed-in", "/oauth2/auth", cookies, http.StatusAccepted},
		{"auth/anonymous", "/oauth2/auth", nil, http.StatusUnauthorized},
		{"forward-auth/signed-in", "/oauth2/forward-auth", cookies, http.StatusOK},
	} {
		newRequest := func() *http.Request {
			r := httptest.NewRequest("GET", bc.path, nil)
			r.Header.Set("Accept", "*/*")
			for _, c := range bc.cookies {
				r.AddCookie(c)
			}
			return r
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			r := newRequest()
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, r)
				if w.Code != bc.want {
					b.Fatalf("GET %s = %d; want %d", bc.path, w.Code, bc.want)
				}
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := newRequest()
				for pb.Next() {
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, r)
					if w.Code != bc.want {
						b.Errorf("GET %s = %d; want %d", bc.path, w.Code, bc.want)
						return
					}
				}
			})
		})
	}
}

// TestWrk loads Portcullis's auth endpoint and the nginx example with wrk
// and logs wrk's reports. It is a measurement, not a check, so it runs only
// when asked: PORTCULLIS_WRK=1 and wrk installed. PORTCULLIS_WRK_DURATION
// (default 10s) sets each run's length. Run it without -race.
func TestWrk(t *testing.T) {
	if os.Getenv("PORTCULLIS_WRK") != "1" {
		t.Skip("SKIP: set PORTCULLIS_WRK=1 to load the auth endpoint with wrk")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("SKIP: wrk is not installed (apt-get install wrk)")
	}
	duration := os.Getenv("PORTCULLIS_WRK_DURATION")
	if duration == "" {
		duration = "10s"
	}
	s := newStack(t, stackOptions{})
	b := newBrowser(t)
	resp := b.get(s.nginx+"/", nil)
	readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in = %d after %v", resp.StatusCode, b.hops)
	}
	cookie := "_portcullis=" + b.cookie(s.nginx, "_portcullis")
	for _, target := range []struct{ name, url string }{
		{"Portcullis /oauth2/auth, direct", s.portcullis.URL + "/oauth2/auth"},
		{"nginx auth_request + app", s.nginx + "/"},
	} {
		out, err := exec.Command(wrk, "-t2", "-c32", "-d"+duration, "--latency",
			"-H", "Cookie: "+cookie, "-H", "Accept: application/json", target.url).CombinedOutput()
		if err != nil {
			t.Fatalf("wrk %s: %v\n%s", target.url, err, out)
		}
		t.Logf("%s:\n%s", target.name, out)
		if strings.Contains(string(out), "Non-2xx") {
			t.Errorf("%s: some answers were not 2xx", target.name)
		}
	}
}
