package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/nginxtest"
	"github.com/portcullis/portcullis/internal/stack"
)

// testCert is a self-signed certificate for 127.0.0.1 and localhost, and
// its key, in PEM.
type testCert struct {
	name            string // its subject's common name
	certPEM, keyPEM []byte
	cert            *x509.Certificate
}

// newTestCert makes a certificate named name, valid from an hour ago for
// a day.
func newTestCert(t *testing.T, name string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		name:    name,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		cert:    cert,
	}
}

// writeFile writes b to path, failing t on error.
func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsClient trusts certs, speaks HTTP/2 when it can, and keeps its
// connections.
func tlsClient(certs ...testCert) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c.cert)
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
		Timeout:   10 * time.Second,
	}
}

// servedCert returns the common name of the certificate a new TLS
// connection to addr is served.
func servedCert(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestCertificateReload: the files are read again at each check; a pair
// that loads is served from then on, one that doesn't leaves the pair in
// use, and is warned about once it has stayed so for a check (the moment
// between a certificate's write and its key's is no failure).
func TestCertificateReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	a, b, c := newTestCert(t, "a"), newTestCert(t, "b"), newTestCert(t, "c")
	writeFile(t, certFile, a.certPEM)
	writeFile(t, keyFile, a.keyPEM)
	var logs syncBuffer
	cert, err := newCertificate(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		got, _ := cert.get(nil)
		return got.Leaf.Subject.CommonName
	}
	warnings := func() int { return strings.Count(logs.String(), "level=WARN") }
	steps := []struct {
		name     string
		write    func()
		checks   int
		want     string
		warnings int
	}{
		{"unchanged", func() {}, 2, "a", 0},
		{"certificate written, key not yet", func() { writeFile(t, certFile, b.certPEM) }, 1, "a", 0},
		{"key written", func() { writeFile(t, keyFile, b.keyPEM) }, 1, "b", 0},
		{"key replaced by garbage", func() { writeFile(t, keyFile, []byte("not a key")) }, 1, "b", 0},
		{"still garbage", func() {}, 1, "b", 1},
		{"still garbage, warned already", func() {}, 3, "b", 1},
		{"files removed", func() { os.Remove(certFile); os.Remove(keyFile) }, 2, "b", 2},
		{"a pair that does not match", func() { writeFile(t, certFile, c.certPEM); writeFile(t, keyFile, a.keyPEM) }, 3, "b", 3},
		{"its key", func() { writeFile(t, keyFile, c.keyPEM) }, 1, "c", 3},
		{"back to the first", func() { writeFile(t, certFile, a.certPEM); writeFile(t, keyFile, a.keyPEM) }, 1, "a", 3},
	}
	for _, s := range steps {
		s.write()
		for range s.checks {
			cert.check()
		}
		if got := served(); got != s.want {
			t.Errorf("%s: served certificate %q; want %q", s.name, got, s.want)
		}
		if got := warnings(); got != s.warnings {
			t.Errorf("%s: %d warnings; want %d:\n%s", s.name, got, s.warnings, logs.String())
		}
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") || strings.Contains(logs.String(), "not a key") {
		t.Errorf("the log shows a key file's content:\n%s", logs.String())
	}
}

// TestServeTLS: with TLS_CERT_FILE and TLS_KEY_FILE, LISTEN serves HTTPS
// and HTTP/2. A broken replacement of the files leaves the certificate in
// use; a new pair is served to new connections within 10 s, while an
// open keep-alive connection goes on, not dropped.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	a, b := newTestCert(t, "first"), newTestCert(t, "second")
	writeFile(t, certFile, a.certPEM)
	writeFile(t, keyFile, a.keyPEM)
	addr, logs := startServe(t, withEnv(validEnv(), "PORTCULLIS_TLS_CERT_FILE", certFile, "PORTCULLIS_TLS_KEY_FILE", keyFile))
	base := "https://" + addr

	client := tlsClient(a, b)
	reused := func(url string) (resp *http.Response, again bool) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { again = info.Reused },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, again
	}
	resp, _ := reused(base + "/ping")
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" || resp.TLS.PeerCertificates[0].Subject.CommonName != "first" {
		t.Fatalf("GET /ping = %d over %s with %q; want 200 over HTTP/2.0 with the first certificate", resp.StatusCode, resp.Proto, resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
	if resp, err := http.Get("http://" + addr + "/ping"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS listener = %d; want 400 (Go's answer to HTTP on HTTPS)", resp.StatusCode)
		}
	}

	writeFile(t, keyFile, []byte("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n"))
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "TLS certificate files changed but do not load"); {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about the broken key within 10 s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := servedCert(t, addr); got != "first" {
		t.Errorf("after a broken key, new connections get %q; want the first certificate still", got)
	}

	writeFile(t, certFile, b.certPEM)
	writeFile(t, keyFile, b.keyPEM)
	for deadline := time.Now().Add(10 * time.Second); servedCert(t, addr) != "second"; {
		if time.Now().After(deadline) {
			t.Fatalf("new connections do not get the new certificate within 10 s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, again := reused(base + "/ping")
	if resp.StatusCode != http.StatusOK || !again || resp.TLS.PeerCertificates[0].Subject.CommonName != "first" {
		t.Errorf("GET /ping on the open connection = %d (reused %v, certificate %q); want 200 on the same connection, begun with the first certificate",
			resp.StatusCode, again, resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "TLS certificate reloaded"); {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say the certificate was reloaded:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond) // the log is written out every 200 ms
	}
}

// TestServeTLSMinVersion: TLS_MIN_VERSION=1.3 refuses TLS 1.2; the default
// takes 1.2 and refuses 1.1.
func TestServeTLSMinVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c := newTestCert(t, "c")
	writeFile(t, certFile, c.certPEM)
	writeFile(t, keyFile, c.keyPEM)
	tls13, _ := startServe(t, withEnv(validEnv(), "PORTCULLIS_TLS_CERT_FILE", certFile, "PORTCULLIS_TLS_KEY_FILE", keyFile, "PORTCULLIS_TLS_MIN_VERSION", "1.3"))
	tls12, _ := startServe(t, withEnv(validEnv(), "PORTCULLIS_TLS_CERT_FILE", certFile, "PORTCULLIS_TLS_KEY_FILE", keyFile))
	tests := []struct {
		addr     string
		max      uint16
		accepted bool
	}{
		{tls13, tls.VersionTLS13, true},
		{tls13, tls.VersionTLS12, false},
		{tls12, tls.VersionTLS13, true},
		{tls12, tls.VersionTLS12, true},
		{tls12, tls.VersionTLS11, false},
	}
	for _, tt := range tests {
		conn, err := tls.Dial("tcp", tt.addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tt.max})
		if err == nil {
			conn.Close()
		}
		if (err == nil) != tt.accepted {
			t.Errorf("a client of at most %s to the server of %s: handshake error %v; want accepted %v",
				tls.VersionName(tt.max), tt.addr, err, tt.accepted)
		}
	}
}

// TestServeTLSUpgradesAndSlowBodies: on the TLS listener a WebSocket
// handshake (HTTP/1.1, as browsers send it: the server offers no
// WebSockets over HTTP/2) is tunnelled to the app, and under HTTP/2 a body
// that stalls is cut off with 408 like under HTTP/1.1; its connection then
// ends gracefully (GOAWAY), and the client's next request goes on a new one.
func TestServeTLSUpgradesAndSlowBodies(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			if r.Header.Get("Upgrade") != "websocket" {
				http.Error(w, "want an upgrade", http.StatusBadRequest)
				return
			}
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			rw.Flush()
			line, _ := rw.ReadString('\n')
			rw.WriteString("echo: " + line)
			rw.Flush()
			return
		}
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "read %d bytes", n)
	}))
	defer up.Close()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c := newTestCert(t, "c")
	writeFile(t, certFile, c.certPEM)
	writeFile(t, keyFile, c.keyPEM)
	addr, _ := startServe(t, withEnv(validEnv(),
		"PORTCULLIS_UPSTREAM", up.URL,
		"PORTCULLIS_TLS_CERT_FILE", certFile, "PORTCULLIS_TLS_KEY_FILE", keyFile,
		"PORTCULLIS_SKIP_AUTH_ROUTES", "^/(ws|upload)$",
		"PORTCULLIS_BODY_READ_TIMEOUT", "300ms",
	))
	pool := x509.NewCertPool()
	pool.AddCert(c.cert)

	// A browser offers h2 and gets it; for a WebSocket it opens an
	// HTTP/1.1 connection.
	h2, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := h2.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Errorf("ALPN with h2 offered chose %q; want h2", p)
	}
	h2.Close()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", addr)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("WebSocket handshake over TLS = %d %s; want 101", resp.StatusCode, body)
	}
	time.Sleep(500 * time.Millisecond) // idle past BODY_READ_TIMEOUT: a tunnel is no body
	fmt.Fprint(conn, "hello\n")
	if got, _ := br.ReadString('\n'); got != "echo: hello\n" {
		t.Errorf("through the tunnel = %q; want %q", got, "echo: hello\n")
	}

	client := tlsClient(c)
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("x")) // then nothing
	req, _ := http.NewRequest("POST", "https://"+addr+"/upload", pr)
	req.ContentLength = 10
	req.Header.Set("Accept", "application/json")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatalf("stalled upload over HTTP/2: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || resp.Proto != "HTTP/2.0" || !strings.Contains(string(body), "too slowly") {
		t.Errorf("stalled upload = %d over %s: %s; want 408 over HTTP/2.0", resp.StatusCode, resp.Proto, body)
	}
	req, _ = http.NewRequest("POST", "https://"+addr+"/upload", bytes.NewReader([]byte("0123456789")))
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "read 10 bytes" {
		t.Errorf("upload sent at once = %d %q; want 200 read 10 bytes", resp.StatusCode, body)
	}
}

// TestTLSProblemsStopTheStart: an unreadable certificate or key, a pair
// that does not match, a file that holds no certificate, a bad
// TLS_MIN_VERSION: each stops check and serve, listed with the
// configuration's other problems, naming the variable.
func TestTLSProblemsStopTheStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := newTestCert(t, "a"), newTestCert(t, "b")
	aCert, bKey := filepath.Join(dir, "a.crt"), filepath.Join(dir, "b.key")
	writeFile(t, aCert, a.certPEM)
	writeFile(t, bKey, b.keyPEM)
	unreadable := filepath.Join(dir, "unreadable.key")
	writeFile(t, unreadable, a.keyPEM)
	os.Chmod(unreadable, 0)
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"missing files", withEnv(validEnv(), "PORTCULLIS_TLS_CERT_FILE", filepath.Join(dir, "none.crt"), "PORTCULLIS_TLS_KEY_FILE", filepath.Join(dir, "none.key"),
			"PORTCULLIS_COOKIE_SECRET", "short"),
			[]string{
				"\nPORTCULLIS_COOKIE_SECRET: must be base64",
				"\nPORTCULLIS_TLS_CERT_FILE: cannot read " + fmt.Sprintf("%q", filepath.Join(dir, "none.crt")) + ": no such file or directory",
				"\nPORTCULLIS_TLS_KEY_FILE: cannot read " + fmt.Sprintf("%q", filepath.Join(dir, "none.key")) + ": no such file or directory",
			}},
		{"pair that does not match", withEnv(validEnv(), "PORTCULLIS_TLS_CERT_FILE", aCert, "PORTCULLIS_TLS_KEY_FILE", bKey),
			[]string{"\nPORTCULLIS_TLS_KEY_FILE: " + fmt.Sprintf("%q", bKey) + " does not hold the private key of the certificate in PORTCULLIS_TLS_CERT_FILE: tls: private key does not match public key"}},
		{"no certificate", withEnv(validEnv(), "PORTCULLIS_TLS_CERT_FILE", bKey, "PORTCULLIS_TLS_KEY_FILE", bKey),
			[]string{"\nPORTCULLIS_TLS_CERT_FILE: " + fmt.Sprintf("%q", bKey) + " holds no PEM certificate"}},
		{"bad version, key missing", withEnv(validEnv(), "PORTCULLIS_TLS_CERT_FILE", aCert, "PORTCULLIS_TLS_MIN_VERSION", "1.1"),
			[]string{
				"\nPORTCULLIS_TLS_KEY_FILE: required with PORTCULLIS_TLS_CERT_FILE",
				"\nPORTCULLIS_TLS_MIN_VERSION: must be 1.2 or 1.3, got \"1.1\"",
			}},
	}
	if os.Getuid() != 0 { // root reads any file
		tests = append(tests, struct {
			name string
			env  map[string]string
			want []string
		}{"unreadable key", withEnv(validEnv(), "PORTCULLIS_TLS_CERT_FILE", aCert, "PORTCULLIS_TLS_KEY_FILE", unreadable),
			[]string{"\nPORTCULLIS_TLS_KEY_FILE: cannot read " + fmt.Sprintf("%q", unreadable) + ": permission denied"}})
	}
	for _, tt := range tests {
		for _, cmd := range []string{"check", "serve"} {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{cmd}, envMap(tt.env), &out, &errOut); code != 1 {
				t.Errorf("%s: %s = %d; want 1\n%s%s", tt.name, cmd, code, out.String(), errOut.String())
				continue
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("%s: %s's stderr lacks %q:\n%s", tt.name, cmd, w, errOut.String())
				}
			}
		}
	}
}

// unixClient is a browser whose requests for http://app.test go to the
// Unix socket at sock, and any others over TCP; it keeps cookies and
// follows redirects.
func unixClient(t *testing.T, sock string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var d net.Dialer
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == "app.test:80" {
				return d.DialContext(ctx, "unix", sock)
			}
			return d.DialContext(ctx, network, addr)
		}},
	}
}

// TestServeUnixSocket: LISTEN=unix:PATH serves on a Unix socket (mode
// 0660), removing a stale socket left at PATH and the socket when it
// stops; a whole sign-in goes through it. Its peers have no address: none
// is appended to X-Forwarded-For, and theirs reaches the app only when
// TRUST_FORWARDED_HEADERS trusts every peer, never when TRUSTED_PROXIES
// names some.
func TestServeUnixSocket(t *testing.T) {
	t.Parallel()
	p := stack.StartProvider(t, nil)
	app := stack.Serve(t, stack.EchoHandler())
	for _, tt := range []struct {
		name       string
		trust      []string // env
		wantXFF    string
		wantClient string // the access log's
	}{
		{"not trusted", nil, "", "@"},
		{"every peer trusted", []string{"PORTCULLIS_TRUST_FORWARDED_HEADERS", "true"}, "203.0.113.9", "203.0.113.9"},
		{"only some peers trusted", []string{"PORTCULLIS_TRUST_FORWARDED_HEADERS", "true", "PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1/32,::1/128"}, "", "@"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sock := filepath.Join(t.TempDir(), "p.sock")
			stale, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			stale.(*net.UnixListener).SetUnlinkOnClose(false)
			stale.Close() // a server that died: its socket file stays
			t.Cleanup(func() {
				if _, err := os.Lstat(sock); !os.IsNotExist(err) {
					t.Errorf("after serve, the socket file is still there (%v)", err)
				}
			})
			env := withEnv(validEnv(),
				"PORTCULLIS_LISTEN", "unix:"+sock,
				"PORTCULLIS_UPSTREAM", app.URL,
				"PORTCULLIS_PUBLIC_URL", "http://app.test",
				"PORTCULLIS_COOKIE_SECURE", "false",
				"PORTCULLIS_CLIENT_ID", stack.ClientID,
				"PORTCULLIS_CLIENT_SECRET", stack.ClientSecret,
				"PORTCULLIS_AUTH_URL", p.Endpoints.AuthURL,
				"PORTCULLIS_TOKEN_URL", p.Endpoints.TokenURL,
				"PORTCULLIS_USERINFO_URL", p.Endpoints.UserinfoURL,
				"PORTCULLIS_SCOPES", "openid email profile",
			)
			env = withEnv(env, tt.trust...)
			addr, logs := startServe(t, env)
			if addr != sock {
				t.Errorf("serve says it listens on %q; want %q", addr, sock)
			}
			if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
				t.Errorf("the socket's mode is %v (%v); want 0660", fi.Mode().Perm(), err)
			}
			client := unixClient(t, sock)
			req, _ := http.NewRequest("GET", "http://app.test/private?q=1", nil)
			req.Header.Set("Accept", "text/html")
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("sign-in over the socket ended with %d at %s: %s\n%s", resp.StatusCode, resp.Request.URL, stack.ReadBody(t, resp), logs.String())
			}
			e := stack.DecodeEcho(t, resp)
			if e.URI != "/private?q=1" || e.Headers.Get("X-User") != "alice@example.com" {
				t.Errorf("the app got %q as %q; want /private?q=1 as alice@example.com", e.URI, e.Headers.Get("X-User"))
			}
			if got := strings.Join(e.Headers.Values("X-Forwarded-For"), ", "); got != tt.wantXFF {
				t.Errorf("X-Forwarded-For at the app = %q; want %q", got, tt.wantXFF)
			}
			if got := e.Headers.Get("X-Forwarded-Host"); got != "app.test" {
				t.Errorf("X-Forwarded-Host at the app = %q; want app.test", got)
			}
			if got := accessLogClient(t, logs, "/private"); got != tt.wantClient {
				t.Errorf("the access log's client for /private = %q; want %q", got, tt.wantClient)
			}
		})
	}
}

// accessLogClient waits for the access log's line for path in logs (JSON,
// flushed every 200 ms) and returns its client field.
func accessLogClient(t *testing.T, logs *syncBuffer, path string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Path, Client string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "request" && line.Path == path {
				return line.Client
			}
		}
	}
	t.Fatalf("no access log line for %s in:\n%s", path, logs.String())
	return ""
}

// TestListenUnixRefuses: what is at a socket's path and is not a stale
// socket is left alone and stops the start, naming LISTEN: a file, a
// symbolic link to a socket, a socket a live server accepts on, a
// directory that does not exist.
func TestListenUnixRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file.sock")
	writeFile(t, file, []byte("precious"))
	live := filepath.Join(dir, "live.sock")
	ln, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	link := filepath.Join(dir, "link.sock")
	os.Symlink(live, link)
	tests := []struct {
		path, want string
	}{
		{file, "PORTCULLIS_LISTEN: " + file + " exists and is not a socket; not removed"},
		{link, "PORTCULLIS_LISTEN: " + link + " exists and is not a socket; not removed"},
		{live, "PORTCULLIS_LISTEN: another process is listening on " + live},
		{filepath.Join(dir, "none", "p.sock"), "PORTCULLIS_LISTEN: listen unix " + filepath.Join(dir, "none", "p.sock") + ": bind: no such file or directory"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"serve"}, envMap(withEnv(validEnv(), "PORTCULLIS_LISTEN", "unix:"+tt.path)), &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("serve on unix:%s = %d, %q; want 1, %q", tt.path, code, errOut.String(), tt.want)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "precious" {
		t.Errorf("the file at the socket's path was changed: %q, %v", b, err)
	}
	if c, err := net.Dial("unix", live); err != nil {
		t.Errorf("the live server's socket no longer answers: %v", err)
	} else {
		c.Close()
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Errorf("the symbolic link was changed: %v, %v", fi, err)
	}
}

// nginxToSocket is nginx in front of Portcullis on a Unix socket, as the
// README shows it ({{.Portcullis}} is unix:PATH).
const nginxToSocket = `
upstream portcullis {
    server {{.Portcullis}};
}
server {
    listen {{.Listen}};
    location / {
        proxy_pass http://portcullis;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }
}
`

// TestNginxToUnixSocket: a real nginx reaches Portcullis on its socket;
// a browser signs in through it, and the app sees the client's address as
// nginx gave it (the socket's peers trusted, nothing of their own
// appended).
func TestNginxToUnixSocket(t *testing.T) {
	t.Parallel()
	p := stack.StartProvider(t, nil)
	app := stack.Serve(t, stack.EchoHandler())
	sock := filepath.Join(t.TempDir(), "p.sock")
	startServe(t, withEnv(validEnv(),
		"PORTCULLIS_LISTEN", "unix:"+sock,
		"PORTCULLIS_UPSTREAM", app.URL,
		"PORTCULLIS_TRUST_FORWARDED_HEADERS", "true",
		"PORTCULLIS_COOKIE_SECURE", "false",
		"PORTCULLIS_CLIENT_ID", stack.ClientID,
		"PORTCULLIS_CLIENT_SECRET", stack.ClientSecret,
		"PORTCULLIS_AUTH_URL", p.Endpoints.AuthURL,
		"PORTCULLIS_TOKEN_URL", p.Endpoints.TokenURL,
		"PORTCULLIS_USERINFO_URL", p.Endpoints.UserinfoURL,
	))
	addr := nginxtest.Start(t, nginxToSocket, nginxtest.Vars{Portcullis: "unix:" + sock})
	b := stack.NewBrowser(t, "http://"+addr)
	e := b.SignIn("/reports")
	if e.URI != "/reports" || e.Headers.Get("X-User") != "alice@example.com" {
		t.Errorf("through nginx and the socket, the app got %q as %q; want /reports as alice@example.com", e.URI, e.Headers.Get("X-User"))
	}
	if got := strings.Join(e.Headers.Values("X-Forwarded-For"), ", "); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For at the app = %q; want nginx's 127.0.0.1", got)
	}
}

// TestListenUnixKeepsABusySocket: a live server whose backlog is full (it
// is busy, not gone) answers a connect with EAGAIN, not ECONNREFUSED; its
// socket is not stale, and is neither removed nor taken over.
func TestListenUnixKeepsABusySocket(t *testing.T) {
	t.Parallel()
	busy := filepath.Join(t.TempDir(), "busy.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: busy}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // a backlog of one, never accepted
		t.Fatal(err)
	}
	var queued []net.Conn
	defer func() {
		for _, c := range queued {
			c.Close()
		}
	}()
	for range 8 { // fill the backlog
		c, err := net.DialTimeout("unix", busy, 100*time.Millisecond)
		if err != nil {
			break
		}
		queued = append(queued, c)
	}
	if _, err := net.DialTimeout("unix", busy, 100*time.Millisecond); err == nil {
		t.Skip("the kernel queued every connection; the backlog could not be filled")
	}
	fi, _ := os.Lstat(busy)
	ln, err := listenUnix(busy)
	if err == nil {
		ln.Close()
		t.Fatalf("listenUnix(%s) on a busy live server's socket took it over; want it refused", busy)
	}
	if now, lerr := os.Lstat(busy); lerr != nil || !os.SameFile(fi, now) {
		t.Errorf("the busy server's socket was removed or replaced (%v); err %v", lerr, err)
	}
	if !strings.Contains(err.Error(), "listening") {
		t.Errorf("listenUnix(%s) = %v; want it to say another process is listening", busy, err)
	}
}
