package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
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
