package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// startServe runs serve with env until the test ends and returns the main
// listener's address and the log.
func startServe(t *testing.T, env map[string]string) (addr string, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan struct{})
	var err error // serve's, once done is closed
	logs = &syncBuffer{}
	go func() {
		err = serve(ctx, envMap(env), logs, func(a string) { addrc <- a })
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not return after its context ended")
		}
	})
	select {
	case addr = <-addrc:
	case <-done:
		t.Fatalf("serve returned early: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	return addr, logs
}

// TestServePathsFromEnvironment: PROXY_PREFIX, PING_PATH and READY_PATH
// reach the proxy.
func TestServePathsFromEnvironment(t *testing.T) {
	t.Parallel()
	addr, _ := startServe(t, withEnv(validEnv(),
		"PORTCULLIS_PROXY_PREFIX", "/sso",
		"PORTCULLIS_PING_PATH", "/healthz",
		"PORTCULLIS_READY_PATH", "off",
	))
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/sso/auth", http.StatusUnauthorized},
		{"/sso/nothing", http.StatusNotFound},
		{"/healthz", http.StatusOK},
		{"/oauth2/auth", http.StatusUnauthorized}, // the app's, behind sign-in
		{"/ping", http.StatusUnauthorized},
		{"/ready", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest("GET", "http://"+addr+tt.path, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s = %d; want %d", tt.path, resp.StatusCode, tt.status)
		}
	}
}

// FuzzPathRulesAgree holds config's check of PROXY_PREFIX, PING_PATH and
// READY_PATH (config may import no package of ours, so it has its own copy
// of the rule) to proxy.New's: a value config accepts is one the proxy
// serves, and one it refuses the proxy refuses too.
func FuzzPathRulesAgree(f *testing.F) {
	for _, seed := range []string{"", "/sso", "/_auth/v1", "/", "/oauth2/", "oauth2", "/a//b", "/a/../b", "/a/.", "/{x}", "/a b", "/a%2Fb",
		"/ping", "/ready", "/oauth2", "/oauth2/ping", "/.well-known/portcullis/jwks.json", "/.well-known/portcullis", "off", "OFF", "/{$}", "/a:b@c", "/é"} {
		for which := range uint8(3) {
			f.Add(which, seed)
		}
	}
	opts := proxy.Options{
		Providers: []proxy.Provider{{ID: "oauth2", Provider: stack.NewClient(f, stack.OfflineConfig())}},
		Sessions:  stack.NewCookieStore(f, stack.CookieOptions()),
		Flows:     stack.NewFlows(f, stack.CookieOptions()),
	}
	names := []string{"PORTCULLIS_PROXY_PREFIX", "PORTCULLIS_PING_PATH", "PORTCULLIS_READY_PATH"}
	f.Fuzz(func(t *testing.T, which uint8, p string) {
		if len(p) > 256 {
			return
		}
		which %= 3
		env := validEnv()
		env[names[which]] = p
		_, cerr := config.Load(envMap(env))
		o := opts
		for i, field := range []*string{&o.Paths.Prefix, &o.Paths.Ping, &o.Paths.Ready} {
			if uint8(i) == which {
				*field = p
			}
		}
		_, perr := proxy.New(o)
		if (cerr == nil) != (perr == nil) {
			t.Errorf("%s=%q: config says %v; proxy.New says %v", names[which], p, cerr, perr)
		}
	})
}
