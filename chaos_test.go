package main

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/metrics"
)

// serveInBackground runs serve with env and returns its base URL; it stops
// with the test.
func serveInBackground(t *testing.T, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- serve(ctx, envMap(env), logs, func(a string) { addr <- a })
		close(done) // the cleanup's receive must not block if the select below took the error
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case a := <-addr:
		return "http://" + a, logs
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}

func TestUpstreamTLS(t *testing.T) {
	t.Parallel()
	app := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls app") }))
	app.Config.ErrorLog = log.New(io.Discard, "", 0) // the "CA unknown" case fails the handshake on purpose
	app.StartTLS()
	t.Cleanup(app.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: app.Certificate().Raw}))
	for _, tt := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"CA trusted", map[string]string{"PORTCULLIS_UPSTREAM_CA": caPEM}, 200},
		{"CA unknown", nil, 502},
		{"verification off", map[string]string{"PORTCULLIS_UPSTREAM_INSECURE_SKIP_VERIFY": "true"}, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			env["PORTCULLIS_UPSTREAM"] = app.URL
			env["PORTCULLIS_SKIP_AUTH_ROUTES"] = "^/open$"
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := loadConfig(envMap(env))
			if err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			srv, _, err := newServer(cfg, metrics.New(), slog.New(slog.NewTextHandler(&logs, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest("GET", "/open", nil))
			if rec.Code != tt.want {
				t.Errorf("GET /open = %d; want %d\n%s", rec.Code, tt.want, logs.String())
			}
			if tt.env["PORTCULLIS_UPSTREAM_INSECURE_SKIP_VERIFY"] == "true" && !strings.Contains(logs.String(), "NOT verified") {
				t.Errorf("no warning for UPSTREAM_INSECURE_SKIP_VERIFY:\n%s", logs.String())
			}
		})
	}
}

// TestSlowLoris: a client that never finishes its headers is cut off after
// READ_HEADER_TIMEOUT, and others are served meanwhile.
func TestSlowLoris(t *testing.T) {
	t.Parallel()
	env := validEnv()
	env["PORTCULLIS_READ_HEADER_TIMEOUT"] = "500ms"
	base, _ := serveInBackground(t, env)
	conns := make([]net.Conn, 20)
	for i := range conns {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		conns[i] = c
	}
	resp, err := http.Get(base + "/ping")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /ping during slow clients = %v, %v", resp, err)
	}
	resp.Body.Close()
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("slow connection %d: %v; want it closed by the server", i, err)
		}
	}
}

// TestProviderKilledMidFlow: the provider dies between the redirect to it
// and the callback. The user gets a clear 502; signed-in users keep working.
func TestProviderKilledMidFlow(t *testing.T) {
	t.Parallel()
	provider := idp.New(idp.Options{ClientID: "client", ClientSecret: "very-secret-client-secret", AutoApprove: "alice"})
	ps := httptest.NewServer(provider)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+r.Header.Get("X-User")) }))
	defer app.Close()
	ep := idp.EndpointsAt(ps.URL)
	env := validEnv()
	env["PORTCULLIS_UPSTREAM"] = app.URL
	env["PORTCULLIS_COOKIE_SECURE"] = "false"
	env["PORTCULLIS_AUTH_URL"], env["PORTCULLIS_TOKEN_URL"], env["PORTCULLIS_USERINFO_URL"] = ep.AuthURL, ep.TokenURL, ep.UserinfoURL
	env["PORTCULLIS_PROVIDER_TIMEOUT"] = "2s"
	base, _ := serveInBackground(t, env)

	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client, u string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	signedIn := browser()
	if _, body := get(signedIn, base+"/"); body != "hello alice@example.com" {
		t.Fatalf("sign-in: %q", body)
	}
	// A second user gets as far as the provider's redirect to our callback…
	second := browser()
	second.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/oauth2/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, _ := get(second, base+"/")
	cb, err := resp.Location()
	if err != nil {
		t.Fatalf("no redirect to the callback: %d", resp.StatusCode)
	}
	// …and the provider dies before the callback exchanges the code.
	ps.Close()
	second.CheckRedirect = nil
	resp, body := get(second, cb.String())
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "could not complete the sign-in") {
		t.Errorf("callback with the provider down = %d:\n%s", resp.StatusCode, body)
	}
	if _, body := get(signedIn, base+"/still"); body != "hello alice@example.com" {
		t.Errorf("signed-in user with the provider down got %q", body)
	}
}
