package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
)

// envMap returns a getenv over m.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		"PORTCULLIS_COOKIE_SECRET":  "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_CLIENT_ID":      "client",
		"PORTCULLIS_CLIENT_SECRET":  "very-secret-client-secret",
		"PORTCULLIS_AUTH_URL":       "https://idp.example/authorize",
		"PORTCULLIS_TOKEN_URL":      "https://idp.example/token",
		"PORTCULLIS_USERINFO_URL":   "https://idp.example/userinfo",
		"PORTCULLIS_UPSTREAM":       "http://127.0.0.1:9",
		"PORTCULLIS_LISTEN":         "127.0.0.1:0",
		"PORTCULLIS_METRICS_LISTEN": "127.0.0.1:0",
	}
}

// withEnv returns a copy of m with kv (name, value, …) set.
func withEnv(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"PORTCULLIS_COOKIE_SECRET":   "short",
		"PORTCULLIS_COOKIE_EXPIRE":   "forever",
		"PORTCULLIS_UPSTREAM":        "not a url",
		"PORTCULLIS_AUTH_URL":        "https://idp.example/authorize",
		"PORTCULLIS_CLIENT_SECRET":   "x",
		"PORTCULLIS_COOKIE_SAMESITE": "sometimes",
	}
	corrupt := filepath.Join(t.TempDir(), "users.db")
	const corruptContent = "this is not a database, and must stay as it is"
	os.WriteFile(corrupt, []byte(corruptContent), 0o600)
	t.Cleanup(func() { // after the parallel subtests
		if b, err := os.ReadFile(corrupt); err != nil || string(b) != corruptContent {
			t.Errorf("the refused registry file was changed: %q, %v", b, err)
		}
	})
	registry := validEnv()
	registry["PORTCULLIS_USERS_DB"] = corrupt
	userFromUsername := validEnv()
	userFromUsername["PORTCULLIS_USER_FROM"] = "username"
	pwFile := filepath.Join(t.TempDir(), "redis-password")
	os.WriteFile(pwFile, []byte("redis-data-password\n"), 0o600)
	sentinel := withEnv(validEnv(), "PORTCULLIS_SESSION_STORE", "redis",
		"PORTCULLIS_REDIS_SENTINEL_ADDRS", "10.0.0.1:26379,10.0.0.2:26379", "PORTCULLIS_REDIS_SENTINEL_MASTER", "mymaster",
		"PORTCULLIS_REDIS_USERNAME", "portcullis", "PORTCULLIS_REDIS_PASSWORD_FILE", pwFile,
		"PORTCULLIS_REDIS_SENTINEL_PASSWORD", "redis-sentinel-password", "PORTCULLIS_REDIS_TLS", "true")
	badRedis := withEnv(validEnv(), "PORTCULLIS_SESSION_STORE", "redis",
		"PORTCULLIS_REDIS_SENTINEL_ADDRS", "10.0.0.1", "PORTCULLIS_REDIS_CLUSTER_ADDRS", "10.0.1.1:6379",
		"PORTCULLIS_REDIS_CA_FILE", "/nonexistent/ca.pem", "PORTCULLIS_REDIS_PASSWORD_FILE", "/nonexistent/password")
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		want     int
		wantOut  []string
		wantErr  []string
		notInOut []string
	}{
		{"version", []string{"version"}, nil, 0, []string{"portcullis dev", "go1."}, nil, nil},
		{"help", []string{"help"}, nil, 0, []string{"Commands:"}, nil, nil},
		{"unknown command", []string{"frobnicate"}, nil, 2, nil, []string{`unknown command "frobnicate"`}, nil},
		{"extra argument", []string{"version", "x"}, nil, 2, nil, []string{"takes no arguments"}, nil},
		// Refused before the command acts: check prints nothing, serve
		// never starts.
		{"extra argument to check", []string{"check", "--json"}, validEnv(), 2, nil, []string{"takes no arguments"}, []string{"PORTCULLIS_", "configuration OK"}},
		{"extra argument to serve", []string{"serve", "x"}, bad, 2, nil, []string{"takes no arguments"}, nil},
		{"check ok", []string{"check"}, validEnv(), 0,
			[]string{"PORTCULLIS_CLIENT_SECRET=[redacted]", "PORTCULLIS_COOKIE_SECRET=[redacted]", "PORTCULLIS_LISTEN=127.0.0.1:0", "PORTCULLIS_USER_FROM=auto", "configuration OK"},
			nil, []string{"very-secret-client-secret", "0123456789abcdef0123456789abcdef"}},
		{"check warns without PUBLIC_URL or ALLOWED_HOSTS", []string{"check"}, validEnv(), 0,
			[]string{"warning: PORTCULLIS_PUBLIC_URL: not set, and neither is PORTCULLIS_ALLOWED_HOSTS", "configuration OK"}, nil, nil},
		{"check warns of ALLOWED_HOSTS ignored", []string{"check"}, withEnv(validEnv(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_ALLOWED_HOSTS", "app.example.com"), 0,
			[]string{"warning: PORTCULLIS_ALLOWED_HOSTS: ignored, because PORTCULLIS_PUBLIC_URL is set"}, nil, []string{"PORTCULLIS_PUBLIC_URL: not set"}},
		{"check quiet with PUBLIC_URL", []string{"check"}, withEnv(validEnv(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com"), 0,
			[]string{"configuration OK"}, nil, []string{"warning:"}},
		{"check quiet with ALLOWED_HOSTS", []string{"check"}, withEnv(validEnv(), "PORTCULLIS_ALLOWED_HOSTS", ".example.com"), 0,
			[]string{"PORTCULLIS_ALLOWED_HOSTS=.example.com", "configuration OK"}, nil, []string{"warning:"}},
		{"check warns of Secure cookies over http", []string{"check"}, withEnv(validEnv(), "PORTCULLIS_PUBLIC_URL", "http://app.example.com"), 0,
			[]string{`warning: PORTCULLIS_COOKIE_SECURE: true with the http:// PORTCULLIS_PUBLIC_URL "http://app.example.com"`, "configuration OK"}, nil, nil},
		{"check warns about USER_FROM=username", []string{"check"}, userFromUsername, 0,
			[]string{"warning: PORTCULLIS_USER_FROM=username: X-User is the username claim", "configuration OK"}, nil, nil},
		{"check lists every problem", []string{"check"}, bad, 1, nil, []string{
			"PORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes or at least 32 characters, got 5 characters",
			"PORTCULLIS_COOKIE_EXPIRE:", "PORTCULLIS_UPSTREAM:", "PORTCULLIS_CLIENT_ID:", "PORTCULLIS_TOKEN_URL:",
			"PORTCULLIS_USERINFO_URL:", "PORTCULLIS_COOKIE_SAMESITE:",
		}, nil},
		{"check shows the Redis topology", []string{"check"}, sentinel, 0, []string{
			`redis: sentinel: master "mymaster", sentinels 10.0.0.1:26379, 10.0.0.2:26379; TLS, user "portcullis", password set, sentinel password set, writes wait up to 500ms for a replica, commands retried for up to 10s while a master is replaced` + "\n",
			"PORTCULLIS_REDIS_PASSWORD=[redacted]", "PORTCULLIS_REDIS_SENTINEL_PASSWORD=[redacted]", "configuration OK",
		}, nil, []string{"redis-data-password", "redis-sentinel-password"}},
		{"check shows one Redis server", []string{"check"}, withEnv(validEnv(), "PORTCULLIS_REDIS_URL", "redis://:url-password@redis:6379/1"), 0,
			[]string{"redis: one server: redis://:xxxxx@redis:6379/1; commands retried for up to 10s while a master is replaced\n", "configuration OK"}, nil, []string{"url-password"}},
		{"check lists every Redis problem", []string{"check"}, badRedis, 1, nil, []string{
			`PORTCULLIS_REDIS_CA_FILE: cannot read "/nonexistent/ca.pem"`,
			`PORTCULLIS_REDIS_PASSWORD_FILE: cannot read "/nonexistent/password"`,
			"PORTCULLIS_REDIS_SENTINEL_ADDRS: not with PORTCULLIS_REDIS_CLUSTER_ADDRS",
			`PORTCULLIS_REDIS_SENTINEL_ADDRS: "10.0.0.1" is not host:port`,
			"PORTCULLIS_REDIS_SENTINEL_MASTER: required with PORTCULLIS_REDIS_SENTINEL_ADDRS",
		}, nil},
		{"serve with bad config", []string{"serve"}, bad, 1, nil, []string{"PORTCULLIS_COOKIE_SECRET:"}, nil},
		{"corrupt registry refused", []string{"serve"}, registry, 1, nil, []string{"PORTCULLIS_USERS_DB:"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			got := run(context.Background(), tt.args, envMap(tt.env), &out, &errOut)
			if got != tt.want {
				t.Fatalf("run(%q) = %d; want %d\nstdout: %s\nstderr: %s", tt.args, got, tt.want, out.String(), errOut.String())
			}
			for _, s := range tt.wantOut {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(errOut.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut.String())
				}
			}
			for _, s := range tt.notInOut {
				if strings.Contains(out.String()+errOut.String(), s) {
					t.Errorf("output shows %q:\n%s", s, out.String()+errOut.String())
				}
			}
			if strings.Contains(errOut.String(), "goroutine ") || strings.Contains(errOut.String(), "panic") {
				t.Errorf("stderr has a stack trace:\n%s", errOut.String())
			}
		})
	}
}

// TestBearerAllowUnboundWarns: check warns about BEARER_ALLOW_UNBOUND, and
// says nothing when it is off (the start-up log: TestServeLogsWarnings).
func TestBearerAllowUnboundWarns(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		env := validEnv()
		env["PORTCULLIS_BEARER_TOKENS"] = "true"
		if on {
			env["PORTCULLIS_BEARER_ALLOW_UNBOUND"] = "true"
		}
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"check"}, envMap(env), &out, &errOut); code != 0 {
			t.Fatalf("check = %d; want 0\n%s%s", code, out.String(), errOut.String())
		}
		const warning = "PORTCULLIS_BEARER_ALLOW_UNBOUND=true: an opaque token"
		want := 0
		if on {
			want = 1
		}
		if got := strings.Count(out.String(), "warning: "+warning); got != want {
			t.Errorf("BEARER_ALLOW_UNBOUND %v: check warns %d times; want %d\n%s", on, got, want, out.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- serve(ctx, envMap(validEnv()), &logs, func(a string) { addr <- a }) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve returned early: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	resp, err := http.Get(base + "/ping")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /ping = %v, %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM = %v; want nil", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("serve did not stop")
	}
	if strings.Contains(logs.String(), "very-secret-client-secret") {
		t.Errorf("logs show the client secret:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "PORTCULLIS_PUBLIC_URL: not set, and neither is PORTCULLIS_ALLOWED_HOSTS") {
		t.Errorf("start-up log lacks the warning about PUBLIC_URL:\n%s", logs.String())
	}
}

// TestServeLogsWarnings: what check warns about, the start-up log warns
// about too, once.
func TestServeLogsWarnings(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := validEnv()
	env["PORTCULLIS_USER_FROM"] = "username"
	env["PORTCULLIS_BEARER_TOKENS"] = "true"
	env["PORTCULLIS_BEARER_ALLOW_UNBOUND"] = "true"
	env["PORTCULLIS_LOG_FORMAT"] = "text"
	started := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- serve(ctx, envMap(env), &logs, func(a string) { started <- a }) }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("serve returned early: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	cancel()
	<-done
	for _, want := range []string{
		"level=WARN msg=\"PORTCULLIS_USER_FROM=username: X-User is the username claim",
		"level=WARN msg=\"PORTCULLIS_BEARER_ALLOW_UNBOUND=true: an opaque token",
	} {
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("start-up log has %q %d times; want once:\n%s", want, n, logs.String())
		}
	}
}

// TestDemo runs `portcullis demo` and signs in as alice through the
// development provider's page, as a new user would.
func TestDemo(t *testing.T) {
	t.Parallel()
	base, stop := startDemo(t)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	// The browser lands on the provider's page with a button per user
	// (once the proxy has read the provider's discovery document).
	resp, page := get(base)
	for i := 0; resp.StatusCode == http.StatusServiceUnavailable && i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		resp, page = get(base)
	}
	if !strings.Contains(page, "Sign in as alice") {
		t.Fatalf("first page (%s) has no sign-in button:\n%s", resp.Request.URL, page)
	}
	// Clicking "Sign in as alice" submits the form with the request's parameters.
	form := url.Values{"user": {"alice"}}
	for k, v := range resp.Request.URL.Query() {
		form[k] = v
	}
	authURL := *resp.Request.URL
	authURL.RawQuery = ""
	resp, err := client.PostForm(authURL.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `Hello, <span id="user">alice@example.com</span>!`) {
		t.Fatalf("after signing in: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	if !strings.Contains(string(body), "alice@example.com") {
		t.Errorf("demo app does not show X-Email:\n%s", body)
	}
	if err := stop(); err != nil {
		t.Errorf("demo after cancel = %v; want nil", err)
	}
}

// startDemo runs `portcullis demo` on a free loopback port until stop (or
// the test's end) and returns the URL it prints.
func startDemo(t *testing.T) (base string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- demo(ctx, envMap(map[string]string{"PORTCULLIS_LISTEN": "127.0.0.1:0"}), &out, &logs)
	}()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	urlRe := regexp.MustCompile(`Open (http://127\.0\.0\.1:\d+/) in your browser`)
	for deadline := time.Now().Add(10 * time.Second); base == ""; {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("demo printed no URL:\n%s\n%s", out.String(), logs.String())
		}
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("demo stopped: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return base, stop
}

func TestDemoRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	got := run(context.Background(), []string{"demo"}, envMap(map[string]string{"PORTCULLIS_LISTEN": "0.0.0.0:0"}), &out, &errOut)
	if got != 1 || !strings.Contains(errOut.String(), "loopback only") {
		t.Errorf("demo on 0.0.0.0 = %d %q; want 1 and a loopback message", got, errOut.String())
	}
}

func TestReadmeConfigReferenceUpToDate(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "<!-- config:begin -->\n"+config.Reference()) {
		t.Errorf("README.md's configuration reference is out of date: run make docs")
	}
	for _, cmd := range []string{"go run . demo", "make test"} {
		if !strings.Contains(string(readme), cmd) {
			t.Errorf("README.md lacks %q", cmd)
		}
	}
}

// TestRoutesFromEnvironment: ROUTE_<N> reach the server in order, then
// SKIP_AUTH_ROUTES, so an explicit rule for /api/admin/ is not undone by a
// skip rule for /api/.
func TestRoutesFromEnvironment(t *testing.T) {
	t.Parallel()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app:"+r.URL.Path) }))
	defer app.Close()
	env := validEnv()
	env["PORTCULLIS_UPSTREAM"] = app.URL
	env["PORTCULLIS_SKIP_AUTH_ROUTES"] = "GET=^/health$,^/api/"
	env["PORTCULLIS_ROUTE_1"] = "* ^/api/admin/ allowed_groups=admins"
	env["PORTCULLIS_ROUTE_2"] = "GET,HEAD ^/assets/ public"
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	rs := routes(cfg)
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%v %s public=%v groups=%v", r.Methods, r.Path, r.Public, r.Rules.Groups))
	}
	want := []string{
		"[] ^/api/admin/ public=false groups=[admins]",
		"[GET HEAD] ^/assets/ public=true groups=[]",
		"[GET] ^/health$ public=true groups=[]",
		"[] ^/api/ public=true groups=[]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("routes =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	srv, _, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"/health": 200, "/assets/a.css": 200, "/api/things": 200,
		"/api/admin/users": 401, "/other": 401,
	} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d; want %d", path, rec.Code, want)
		}
	}
}

// TestPresetsWire builds every preset from the least configuration its
// README row asks for, without network I/O.
func TestPresetsWire(t *testing.T) {
	t.Parallel()
	base := func(extra map[string]string) map[string]string {
		env := map[string]string{
			"PORTCULLIS_COOKIE_SECRET": "0123456789abcdef0123456789abcdef",
			"PORTCULLIS_CLIENT_ID":     "client",
			"PORTCULLIS_CLIENT_SECRET": "secret",
			"PORTCULLIS_UPSTREAM":      "http://127.0.0.1:9",
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	tests := []struct {
		preset  string
		extra   map[string]string
		wantErr string
		name    string
		pkce    bool
	}{
		{"google", nil, "", "Google", true},
		{"github", nil, "", "GitHub", true},
		{"microsoft", map[string]string{"PORTCULLIS_TENANT": "organizations"}, "", "Microsoft", true},
		{"facebook", nil, "", "Facebook", false},
		{"linkedin", nil, "", "LinkedIn", false},
		{"gitlab", nil, "", "GitLab", true},
		{"slack", nil, "", "Slack", false},
		{"fitbit", nil, "", "Fitbit", true},
		{"mercadolibre", nil, "", "Mercado Libre", false},
		{"wechat", nil, "", "WeChat", false},
		{"keycloak", map[string]string{"PORTCULLIS_ISSUER_URL": "https://sso.example/realms/acme"}, "", "Keycloak", true},
		{"keycloak", nil, "PORTCULLIS_ISSUER_URL: required by the keycloak preset", "", false},
		{"auth0", map[string]string{"PORTCULLIS_ISSUER_URL": "https://acme.eu.auth0.com"}, "", "Auth0", true},
		{"auth0", nil, "PORTCULLIS_ISSUER_URL: required by the auth0 preset", "", false},
		{"github", map[string]string{"PORTCULLIS_PKCE": "false", "PORTCULLIS_DISPLAY_NAME": "Our GitHub"}, "", "Our GitHub", false},
	}
	for _, tt := range tests {
		t.Run(tt.preset+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			env := base(tt.extra)
			env["PORTCULLIS_PROVIDER"] = tt.preset
			// A preset's needs are checked with the configuration.
			cfg, err := loadConfig(envMap(env))
			var built []*providers.Built
			if err == nil {
				built, err = buildProviders(cfg, metrics.New(), slog.New(slog.DiscardHandler))
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadConfig, buildProviders = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig, buildProviders: %v", err)
			}
			entry := proxyProvider(built[0], cfg.Providers[0])
			if !strings.Contains(entry.DisplayName, tt.name) || entry.PKCE != tt.pkce {
				t.Errorf("entry = %q PKCE %v; want %q PKCE %v", entry.DisplayName, entry.PKCE, tt.name, tt.pkce)
			}
			if entry.Provider.AuthCodeURL("s") == "" && built[0].Discovery == nil {
				t.Errorf("no authorization URL")
			}
		})
	}
}

// TestSeveralProvidersFromEnvironment wires PORTCULLIS_PROVIDERS.
func TestSeveralProvidersFromEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET":        "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_UPSTREAM":             "http://127.0.0.1:9",
		"PORTCULLIS_PUBLIC_URL":           "https://example.com", // httptest.NewRequest's host
		"PORTCULLIS_PROVIDERS":            "google,corp",
		"PORTCULLIS_GOOGLE_PROVIDER":      "google",
		"PORTCULLIS_GOOGLE_CLIENT_ID":     "g",
		"PORTCULLIS_GOOGLE_CLIENT_SECRET": "gs",
		"PORTCULLIS_CORP_PROVIDER":        "oidc",
		"PORTCULLIS_CORP_ISSUER_URL":      "https://sso.corp.example",
		"PORTCULLIS_CORP_CLIENT_ID":       "c",
		"PORTCULLIS_CORP_CLIENT_SECRET":   "cs",
		"PORTCULLIS_CORP_DISPLAY_NAME":    "Corp SSO",
	}
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	srv, jobs, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Errorf("discovery jobs = %d; want 2 (google and corp are OIDC)", len(jobs))
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/oauth2/sign_in", nil))
	for _, want := range []string{"Sign in with Google", "Sign in with Corp SSO", "provider=corp"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
}

// TestReadmePresetsTable: the README's presets table is the one in
// examples/providers/README.md (links adjusted), so neither drifts.
func TestReadmePresetsTable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := os.ReadFile("examples/providers/README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := func(doc string) []string {
		var out []string
		for _, l := range strings.Split(doc, "\n") {
			if strings.HasPrefix(l, "| `") {
				out = append(out, strings.Fields(l)[1]) // the preset's name
			}
		}
		return out
	}
	_, section, _ := strings.Cut(string(readme), "<!-- presets:begin -->")
	section, _, _ = strings.Cut(section, "<!-- presets:end -->")
	got, want := rows(section), rows(string(examples))
	if strings.Join(got, " ") != strings.Join(want, " ") || len(got) < 14 {
		t.Errorf("README presets %v; examples/providers/README.md has %v", got, want)
	}
	for _, l := range strings.Split(section, "\n") {
		if strings.HasPrefix(l, "| `") && !strings.Contains(l, "](examples/providers/") {
			t.Errorf("README row without its env file link: %.60s…", l)
		}
	}
}
