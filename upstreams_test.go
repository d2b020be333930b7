package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/metrics"
)

// namedHandler answers "name path".
func namedHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+" "+r.URL.RequestURI())
	})
}

// appNamed serves namedHandler(name) on loopback until t ends.
func appNamed(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(namedHandler(name))
	t.Cleanup(s.Close)
	return s
}

// serveEnv builds the server env describes, as serve does, and serves it
// on loopback until t ends.
func serveEnv(t *testing.T, env map[string]string) *httptest.Server {
	t.Helper()
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(srv)
	t.Cleanup(front.Close)
	return front
}

// get returns the status and body of a GET of url.
func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestUpstreamRoutesWired: PORTCULLIS_UPSTREAM's routes reach the proxy.
func TestUpstreamRoutesWired(t *testing.T) {
	t.Parallel()
	web, api := appNamed(t, "web"), appNamed(t, "api")
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	onSocket := &http.Server{Handler: namedHandler("socket")}
	go onSocket.Serve(ln)
	t.Cleanup(func() { onSocket.Close() })
	site := t.TempDir()
	os.WriteFile(filepath.Join(site, "index.html"), []byte("home"), 0o644)
	front := serveEnv(t, withEnv(validEnv(),
		"PORTCULLIS_UPSTREAM", "/api/="+api.URL+"/v1/, /sock/=unix://"+sock+", /site/=file://"+site+"/, /="+web.URL,
		"PORTCULLIS_SKIP_AUTH_ROUTES", "^/", // no sign-in: only the routes
	))
	tests := []struct{ path, want string }{
		{"/api/users?id=1", "api /v1/users?id=1"},
		{"/api", "web /api"},
		{"/page", "web /page"},
		{"/sock/x", "socket /sock/x"},
		{"/site/", "home"},
	}
	for _, tt := range tests {
		if code, body := get(t, http.DefaultClient, front.URL+tt.path); code != http.StatusOK || body != tt.want {
			t.Errorf("GET %s = %d %q; want 200 %q", tt.path, code, body, tt.want)
		}
	}
}

// TestUpstreamDirectoryMissing: a file:// route whose directory does not
// exist, or is a file, stops the start, listed with the other problems.
func TestUpstreamDirectoryMissing(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	env := withEnv(validEnv(),
		"PORTCULLIS_UPSTREAM", "/static/=file:///nonexistent/portcullis/site/,/f/=file://"+file+",/=http://app",
		"PORTCULLIS_COOKIE_EXPIRE", "forever",
	)
	var out, errOut bytes.Buffer
	if got := run(context.Background(), []string{"check"}, envMap(env), &out, &errOut); got != 1 {
		t.Fatalf("check = %d; want 1\nstderr: %s", got, errOut.String())
	}
	for _, want := range []string{
		`PORTCULLIS_COOKIE_EXPIRE: not a duration: "forever"`,
		`PORTCULLIS_UPSTREAM: route "/static/": file:///nonexistent/portcullis/site/: no such directory`,
		`PORTCULLIS_UPSTREAM: route "/f/": file://` + file + `: not a directory`,
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}

// TestUpstreamProblemsListed: problems with PORTCULLIS_UPSTREAM stop the
// start, listed with every other problem, each naming the variable.
func TestUpstreamProblemsListed(t *testing.T) {
	t.Parallel()
	env := withEnv(validEnv(),
		"PORTCULLIS_UPSTREAM", "/api/=http://api,/api/=http://api2,api=http://x,/ftp/=ftp://files",
		"PORTCULLIS_COOKIE_EXPIRE", "forever",
	)
	for _, cmd := range []string{"check", "serve"} {
		var out, errOut bytes.Buffer
		if got := run(context.Background(), []string{cmd}, envMap(env), &out, &errOut); got != 1 {
			t.Fatalf("%s = %d; want 1\nstderr: %s", cmd, got, errOut.String())
		}
		for _, want := range []string{
			`PORTCULLIS_COOKIE_EXPIRE: not a duration: "forever"`,
			`PORTCULLIS_UPSTREAM: route "/api/" is listed twice`,
			`PORTCULLIS_UPSTREAM: "api=http://x": want PATH=URL`,
			`PORTCULLIS_UPSTREAM: route "/ftp/": "ftp://files": want an`,
		} {
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, errOut.String())
			}
		}
	}
}
