package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/session"
)

// sealFor returns the Cookie header of st's session as the server that
// cfg describes seals and binds it (newServer's cookie options).
func sealFor(t *testing.T, cfg *config.Config, st *session.State) string {
	t.Helper()
	built, err := buildProviders(cfg, metrics.New(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	store := stack.NewCookieStore(t, session.Options{
		Name: cfg.CookieName, Secrets: cfg.CookieSecrets, Path: cfg.CookiePath, Secure: cfg.CookieSecure,
		SameSite: cfg.CookieSameSite, Expire: cfg.CookieExpire, Bindings: sessionBindings(built),
	})
	return stack.CookieHeader(stack.Seal(t, store, st))
}

// TestChosenHeadersFromEnvironment: INJECT_HEADERS, AUTH_RESPONSE_HEADERS,
// IDENTITY_HEADERS and BASIC_AUTH_PASSWORD reach the proxy as written.
func TestChosenHeadersFromEnvironment(t *testing.T) {
	t.Parallel()
	app := stack.Serve(t, stack.EchoHandler())
	env := withEnv(validEnv(),
		"PORTCULLIS_UPSTREAM", app.URL,
		"PORTCULLIS_PROVIDER", "oauth2", "PORTCULLIS_CLAIM_ATTRIBUTES", "Dept=org.department",
		"PORTCULLIS_INJECT_HEADERS", "Remote-User=user,X-WEBAUTH-USER=email,Authorization=basic:username,X-Dept=attr.Dept",
		"PORTCULLIS_AUTH_RESPONSE_HEADERS", "X-Remote-Groups=groups",
		"PORTCULLIS_BASIC_AUTH_PASSWORD", "legacy-pw",
		"PORTCULLIS_IDENTITY_HEADERS", "off",
	)
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := stack.Alice(time.Now(), 10)
	st.Attributes = map[string]string{"Dept": "R&D"}
	cookie := sealFor(t, cfg, st)
	proxied := stack.Serve(t, srv)

	req, _ := http.NewRequest("GET", proxied.URL+"/app", nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Remote_User", "mallory")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := stack.DecodeEcho(t, resp).Headers
	for name, want := range map[string]string{
		"Remote-User": "alice@example.com", "X-Webauth-User": "alice@example.com", "X-Dept": "R&D",
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:legacy-pw")),
		"X-User":        "", "X-Forwarded-User": "", "Remote_user": "", "X-Remote-Groups": "",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("upstream %s = %q; want %q", name, got, want)
		}
	}

	rec := httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/oauth2/auth", nil)
	req.Header.Set("Cookie", cookie)
	srv.ServeHTTP(rec, req)
	for name, want := range map[string]string{"X-Remote-Groups": "admins,staff", "X-Auth-Request-User": "", "Remote-User": ""} {
		if got := rec.Header().Get(name); rec.Code != http.StatusAccepted || got != want {
			t.Errorf("/oauth2/auth = %d with %s %q; want 202 with %q", rec.Code, name, got, want)
		}
	}
}

// TestUnknownHeaderSourceStopsTheStart: an unknown source is one of every
// problem listed, naming the variable; nothing starts.
func TestUnknownHeaderSourceStopsTheStart(t *testing.T) {
	t.Parallel()
	env := withEnv(validEnv(),
		"PORTCULLIS_INJECT_HEADERS", "Remote-User=nickname",
		"PORTCULLIS_AUTH_RESPONSE_HEADERS", "Authorization=basic:user",
		"PORTCULLIS_COOKIE_EXPIRE", "forever",
	)
	for _, cmd := range []string{"serve", "check"} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{cmd}, envMap(env), &out, &errOut); code != 1 {
			t.Fatalf("%s = %d; want 1\n%s", cmd, code, errOut.String())
		}
		for _, want := range []string{
			`PORTCULLIS_INJECT_HEADERS: Remote-User: unknown source "nickname"`,
			"PORTCULLIS_AUTH_RESPONSE_HEADERS: Authorization=basic:user needs PORTCULLIS_BASIC_AUTH_PASSWORD",
			"PORTCULLIS_COOKIE_EXPIRE:",
		} {
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, errOut.String())
			}
		}
		if strings.Contains(out.String(), "configuration OK") || strings.Contains(errOut.String(), "listening") {
			t.Errorf("%s went on:\n%s%s", cmd, out.String(), errOut.String())
		}
	}
}

// TestDemoShowsChosenHeaders: the demo takes the header variables from the
// environment, and its app shows every header Portcullis sent, so the
// README's examples run against it.
func TestDemoShowsChosenHeaders(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"PORTCULLIS_INJECT_HEADERS": true, "PORTCULLIS_INJECT_HEADERS_FILE": true, "PORTCULLIS_AUTH_RESPONSE_HEADERS": true,
		"PORTCULLIS_IDENTITY_HEADERS": true, "PORTCULLIS_BASIC_AUTH_PASSWORD": true, "PORTCULLIS_BASIC_AUTH_PASSWORD_FILE": true,
		"PORTCULLIS_USER_FROM": true, "PORTCULLIS_LOG_LEVEL": true,
		"PORTCULLIS_UPSTREAM": false, "PORTCULLIS_COOKIE_SECRET": false, "PORTCULLIS_CLIENT_SECRET_FILE": false,
	} {
		if got := demoPasses(key); got != want {
			t.Errorf("demoPasses(%s) = %v; want %v", key, got, want)
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	for k, v := range map[string]string{
		"X-Webauth-User": "alice@example.com", "Authorization": "Basic YWxpY2U6cHc=", "X-User": "alice@example.com",
		"Accept": "text/html", "Sec-Fetch-Site": "none", "User-Agent": "Mozilla/5.0",
	} {
		req.Header.Set(k, v)
	}
	demoApp(rec, req)
	page := rec.Body.String()
	for _, want := range []string{"X-Webauth-User", "Basic YWxpY2U6cHc=", "X-User"} {
		if !strings.Contains(page, want) {
			t.Errorf("the demo app does not show %q:\n%s", want, page)
		}
	}
	for _, not := range []string{"Sec-Fetch-Site", "Mozilla/5.0"} {
		if strings.Contains(page, not) {
			t.Errorf("the demo app shows the browser's %q", not)
		}
	}
}

// TestHeaderExamplesLoad: each env file of examples/headers is a valid
// configuration beside a provider's (a _FILE twin given a file).
func TestHeaderExamplesLoad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("examples/headers/*.env")
	if err != nil || len(files) < 4 {
		t.Fatalf("examples/headers/*.env = %v, %v; want the four examples", files, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		env := validEnv()
		for line := range strings.Lines(string(b)) {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || !strings.HasPrefix(k, "PORTCULLIS_") {
				t.Fatalf("%s: %q is not a PORTCULLIS_ variable", file, line)
			}
			if strings.HasSuffix(k, "_FILE") {
				v = filepath.Join(t.TempDir(), "secret")
				os.WriteFile(v, []byte("x\n"), 0o600)
			}
			env[k] = v
		}
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"check"}, envMap(env), &out, &errOut); code != 0 {
			t.Errorf("%s: check = %d:\n%s", file, code, errOut.String())
		}
		if strings.Contains(out.String(), "warning: PORTCULLIS_BASIC_AUTH_PASSWORD") || !strings.Contains(out.String(), "PORTCULLIS_INJECT_HEADERS=") {
			t.Errorf("%s: check says:\n%s", file, out.String())
		}
	}
}

// TestHeaderSourcesAgree: every source config documents and accepts, the
// proxy carries out (the two lists can't drift apart).
func TestHeaderSourcesAgree(t *testing.T) {
	t.Parallel()
	var rules []string
	for i, src := range strings.Split(strings.ReplaceAll(config.HeaderSources, " or ", ", "), ", ") {
		src = strings.NewReplacer("NAME", "Dept", "SOURCE", "email", "TEXT", "x").Replace(src)
		rules = append(rules, fmt.Sprintf("X-Src-%d=%s", i, src))
	}
	if len(rules) != 16 {
		t.Fatalf("config.HeaderSources names %d sources: %q; want 16", len(rules), rules)
	}
	env := withEnv(validEnv(), "PORTCULLIS_INJECT_HEADERS", strings.Join(rules, ","), "PORTCULLIS_CLAIM_ATTRIBUTES", "Dept=dept",
		"PORTCULLIS_BASIC_AUTH_PASSWORD", "pw")
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil); err != nil {
		t.Errorf("the proxy refuses a source config accepts: %v", err)
	}
}
