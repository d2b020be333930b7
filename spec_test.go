package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The names the SPEC fixes for issues 14 to 17, as outside tests use
// them: every endpoint at its path and method, the JSON fields of the
// answers single-page apps read, the CSRF cookie, the metrics' names. One
// real serve, as an operator starts it.

// specAnswer is one request's answer, read whole.
type specAnswer struct {
	status int
	header http.Header
	body   string
}

func specDo(t *testing.T, method, u string, header map[string]string, body string) specAnswer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return specAnswer{resp.StatusCode, resp.Header, string(b)}
}

// jsonFields returns the top-level fields of a JSON object, or fails.
func jsonFields(t *testing.T, what, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%s: body %q is not a JSON object: %v", what, body, err)
	}
	return m
}

func TestSpecEndpointsAndNames(t *testing.T) {
	t.Parallel()
	env := withEnv(validEnv(),
		"PORTCULLIS_EXPOSE_ACCESS_TOKEN", "true",
		"PORTCULLIS_SESSION_IDLE_TIMEOUT", "30m",
		"PORTCULLIS_COOKIE_SECURE", "false",
		"PORTCULLIS_METRICS_LISTEN", "127.0.0.1:0",
	)
	addr, logs := startServe(t, env)
	base := "http://" + addr
	api := map[string]string{"Accept": "application/json"}

	// The 401 JSON: every 401 Portcullis writes for a non-browser request.
	for _, path := range []string{"/oauth2/auth", "/oauth2/forward-auth", "/oauth2/userinfo", "/oauth2/session", "/app/data"} {
		a := specDo(t, "GET", base+path, api, "")
		if a.status != http.StatusUnauthorized {
			t.Errorf("GET %s = %d; want 401", path, a.status)
			continue
		}
		m := jsonFields(t, "GET "+path, a.body)
		if m["error"] != "unauthenticated" {
			t.Errorf("GET %s: error = %v; want \"unauthenticated\"", path, m["error"])
		}
		for _, f := range []string{"sign_in_url", "popup_url"} {
			if s, _ := m[f].(string); s == "" {
				t.Errorf("GET %s: %s = %v; want a URL", path, f, m[f])
			}
		}
		if s, _ := m["popup_url"].(string); !strings.Contains(s, "mode=popup") {
			t.Errorf("GET %s: popup_url = %q; want one with mode=popup", path, s)
		}
	}

	// The sign-in routes, and the CSRF cookie.
	for _, start := range []string{"/oauth2/start?rd=/", "/oauth2/start?mode=popup&rd=/"} {
		a := specDo(t, "GET", base+start, nil, "")
		if a.status != http.StatusFound || !strings.HasPrefix(a.header.Get("Location"), "https://idp.example/authorize?") {
			t.Errorf("GET %s = %d, Location %q; want 302 to the provider", start, a.status, a.header.Get("Location"))
		}
		var csrf *http.Cookie
		for _, c := range (&http.Response{Header: a.header}).Cookies() {
			if c.Name == "_portcullis_csrf" {
				csrf = c
			}
		}
		if csrf == nil || !csrf.HttpOnly {
			t.Errorf("GET %s: Set-Cookie %q; want an HttpOnly _portcullis_csrf cookie", start, a.header.Values("Set-Cookie"))
		}
	}
	for _, tt := range []struct {
		method, path string
		header       map[string]string
		body         string
		want         int
	}{
		{"GET", "/oauth2/sign_in?rd=/", nil, "", http.StatusFound}, // one provider: straight on
		{"GET", "/oauth2/callback?code=c&state=s", nil, "", http.StatusBadRequest},
		{"POST", "/oauth2/callback", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "code=c&state=s", http.StatusBadRequest},
		{"GET", "/oauth2/sign_out?rd=/", nil, "", http.StatusFound},
		{"POST", "/oauth2/sign_out", map[string]string{"Sec-Fetch-Site": "same-origin"}, "", http.StatusFound},
		{"GET", "/ping", nil, "", http.StatusOK},
		{"GET", "/ready", nil, "", http.StatusOK},
		{"GET", "/oauth2/portcullis.js", nil, "", http.StatusOK},
		{"GET", "/oauth2/token", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", http.StatusForbidden},
		{"GET", "/oauth2/token", map[string]string{"Sec-Fetch-Site": "same-origin", "Accept": "application/json"}, "", http.StatusUnauthorized},
	} {
		a := specDo(t, tt.method, base+tt.path, tt.header, tt.body)
		if a.status != tt.want {
			t.Errorf("%s %s = %d; want %d\n%s", tt.method, tt.path, a.status, tt.want, a.body)
		}
	}
	if a := specDo(t, "GET", base+"/ping", nil, ""); a.body != "OK" {
		t.Errorf("GET /ping body = %q; want OK", a.body)
	}
	if a := specDo(t, "GET", base+"/oauth2/portcullis.js", nil, ""); !strings.Contains(a.header.Get("Content-Type"), "javascript") ||
		!strings.Contains(a.body, "portcullis") {
		t.Errorf("GET /oauth2/portcullis.js: Content-Type %q; want a script", a.header.Get("Content-Type"))
	}

	// Front-channel logout: framed by the provider only; an issuer that is
	// no provider's is refused.
	if a := specDo(t, "GET", base+"/oauth2/frontchannel-logout?iss=https%3A%2F%2Fother.example&sid=s", nil, ""); a.status != http.StatusBadRequest ||
		!strings.Contains(a.header.Get("Content-Security-Policy"), "frame-ancestors") {
		t.Errorf("GET /oauth2/frontchannel-logout (unknown iss) = %d, CSP %q; want 400 with frame-ancestors", a.status, a.header.Get("Content-Security-Policy"))
	}

	// Back-channel logout: 400 with a JSON error.
	a := specDo(t, "POST", base+"/oauth2/backchannel-logout", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "logout_token=x.y.z")
	if a.status != http.StatusBadRequest {
		t.Errorf("POST /oauth2/backchannel-logout with a bad token = %d; want 400", a.status)
	} else if m := jsonFields(t, "back-channel logout", a.body); m["error"] == nil {
		t.Errorf("POST /oauth2/backchannel-logout: body %q; want a JSON error", a.body)
	}

	// The metrics, by the SPEC's names.
	var metricsAddr string
	re := regexp.MustCompile(`"msg":"metrics listening","addr":"([^"]+)"`)
	for deadline := time.Now().Add(10 * time.Second); metricsAddr == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			metricsAddr = m[1]
		}
	}
	if metricsAddr == "" {
		t.Fatalf("no metrics listener in the log:\n%s", logs.String())
	}
	m := specDo(t, "GET", (&url.URL{Scheme: "http", Host: metricsAddr, Path: "/metrics"}).String(), nil, "")
	for _, want := range []string{
		`portcullis_requests_total{code="401",route="auth"}`,
		`portcullis_requests_total{code="401",route="forward_auth"}`,
		`portcullis_requests_total{code="401",route="userinfo"}`,
		`portcullis_requests_total{code="401",route="proxy"}`,
		`portcullis_requests_total{code="302",route="start"}`,
		`portcullis_requests_total{code="302",route="sign_in"}`,
		`portcullis_requests_total{code="400",route="callback"}`,
		`portcullis_requests_total{code="302",route="sign_out"}`,
		`portcullis_requests_total{code="200",route="other"}`,
		`portcullis_requests_in_flight`,
		`portcullis_sign_ins_total{provider="unknown",result="state_error"}`, // no flow, so no provider
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}
