package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// clientCertificate makes a self-signed client certificate, its own CA,
// as PEM.
func clientCertificate(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "portcullis"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// TestUpstreamTLSOnRoute: the UPSTREAM_* TLS settings apply to an https
// route among others: its certificate is checked against UPSTREAM_CA, and
// Portcullis shows UPSTREAM_CLIENT_CERT to an upstream that asks for one
// (mutual TLS); the plain route beside it is not affected.
func TestUpstreamTLSOnRoute(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM := clientCertificate(t)
	clients := x509.NewCertPool()
	clients.AppendCertsFromPEM([]byte(certPEM))
	secure := httptest.NewUnstartedServer(namedHandler("secure"))
	secure.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes, on purpose
	secure.StartTLS()
	t.Cleanup(secure.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw}))
	web := appNamed(t, "web")
	for _, tt := range []struct {
		name   string
		env    []string
		secure int // the status of the https route
	}{
		{"CA and client certificate", []string{"PORTCULLIS_UPSTREAM_CA", caPEM, "PORTCULLIS_UPSTREAM_CLIENT_CERT", certPEM, "PORTCULLIS_UPSTREAM_CLIENT_KEY", keyPEM}, 200},
		{"no client certificate", []string{"PORTCULLIS_UPSTREAM_CA", caPEM}, 502},
		{"CA unknown", []string{"PORTCULLIS_UPSTREAM_CLIENT_CERT", certPEM, "PORTCULLIS_UPSTREAM_CLIENT_KEY", keyPEM}, 502},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := withEnv(validEnv(), append([]string{
				"PORTCULLIS_UPSTREAM", "/secure/=" + secure.URL + "/v1/,/=" + web.URL,
				"PORTCULLIS_SKIP_AUTH_ROUTES", "^/",
			}, tt.env...)...)
			front := serveEnv(t, env)
			if code, body := get(t, http.DefaultClient, front.URL+"/secure/x"); code != tt.secure || code == 200 && body != "secure /v1/x" {
				t.Errorf("GET /secure/x = %d %q; want %d (secure /v1/x)", code, body, tt.secure)
			}
			if code, body := get(t, http.DefaultClient, front.URL+"/x"); code != 200 || body != "web /x" {
				t.Errorf("GET /x = %d %q; want 200 web /x", code, body)
			}
		})
	}
}
