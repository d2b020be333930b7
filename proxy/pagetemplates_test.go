package proxy_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// templateDir writes files (name → content) into a new directory and
// returns it.
func templateDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// parseTemplates is proxy.ParseTemplates of files, failing t on error.
func parseTemplates(t *testing.T, files map[string]string) *proxy.Templates {
	t.Helper()
	tmpl, err := proxy.ParseTemplates(templateDir(t, files))
	if err != nil {
		t.Fatalf("ParseTemplates: %v", err)
	}
	return tmpl
}

// Templates that show every field of their data.
const (
	everySignInField = `<!doctype html><title>{{.Title}}</title><style>{{.CSS}}</style>
<p id="banner">{{.Banner}}</p><p id="footer">{{.Footer}}</p><img src="{{.LogoURL}}" alt="">
<p id="rd">{{.Redirect}}</p><p id="prefix">{{.ProxyPrefix}}</p>
<ul>{{range .Providers}}<li><a id="{{.ID}}" href="{{.StartURL}}">{{.Name}}</a></li>{{end}}</ul>`
	everyErrorField = `<!doctype html><title>{{.Title}}</title><style>{{.CSS}}</style><img src="{{.LogoURL}}" alt="">
<p id="status">{{.Status}} {{.StatusText}}</p><p id="message">{{.Message}}</p>
<p id="request">{{.RequestID}}</p><p id="prefix">{{.ProxyPrefix}}</p><p id="footer">{{.Footer}}</p>`
)

// TestCustomSignInPage: a sign_in.html in TEMPLATES_DIR is the sign-in
// page, shown even with one provider, with its data filled in and the
// built-in pages' security headers; its buttons sign in.
func TestCustomSignInPage(t *testing.T) {
	t.Parallel()
	tmpl := parseTemplates(t, map[string]string{proxy.SignInTemplate: everySignInField})
	base, _, _ := pathsStack(t, proxy.Paths{Prefix: "/sso"}, func(o *proxy.Options) {
		o.Pages = proxy.Pages{
			SignInTitle: "Welcome", SignInLogoURL: "/static/logo.svg",
			SignInBanner: "Authorised users only", SignInFooter: "Example Corp",
			Templates: tmpl,
		}
	})
	b := stack.NewBrowser(t, base)
	resp := b.Get("/reports?q=1")
	stack.ReadBody(t, resp)
	want := "/sso/sign_in?rd=%2Freports%3Fq%3D1"
	if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || got != want {
		t.Fatalf("GET /reports without a session = %d to %q; want 302 to %q: the custom page, though there is one provider", resp.StatusCode, got, want)
	}
	resp = b.Get(want)
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d; want 200", want, resp.StatusCode)
	}
	for _, s := range []string{
		"<title>Welcome</title>", `<p id="banner">Authorised users only</p>`, `<p id="footer">Example Corp</p>`,
		`<img src="/static/logo.svg"`, `<p id="rd">/reports?q=1</p>`, `<p id="prefix">/sso</p>`,
		`<a id="oauth2" href="/sso/start?provider=oauth2&amp;rd=%2Freports%3Fq%3D1">Test provider</a>`,
		"<style>\n:root{", // the built-in style sheet
	} {
		if !strings.Contains(body, s) {
			t.Errorf("the custom sign-in page lacks %q:\n%s", s, body)
		}
	}
	builtin := b.Get("/sso/no-such-page") // a built-in page, for its headers
	stack.ReadBody(t, builtin)
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"} {
		if got, want := resp.Header.Get(h), builtin.Header.Get(h); got != want || got == "" {
			t.Errorf("custom page's %s = %q; want the built-in pages' %q", h, got, want)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q; want text/html; charset=utf-8", ct)
	}

	resp, hops := b.Follow("/sso/start?provider=oauth2&rd=%2Freports%3Fq%3D1", nil)
	if e := stack.DecodeEcho(t, resp); e.URI != "/reports?q=1" || e.Headers.Get("X-User") != "alice@example.com" {
		t.Errorf("the page's button led (%v) to %q as %q; want /reports?q=1 as alice@example.com", hops, e.URI, e.Headers.Get("X-User"))
	}
}

// TestCustomErrorPage: an error.html in TEMPLATES_DIR is every error page
// a browser gets, with its data filled in; API clients still get JSON.
func TestCustomErrorPage(t *testing.T) {
	t.Parallel()
	tmpl := parseTemplates(t, map[string]string{proxy.ErrorTemplate: everyErrorField})
	base, _, _ := pathsStack(t, proxy.Paths{}, func(o *proxy.Options) {
		o.Pages = proxy.Pages{SignInLogoURL: "https://cdn.example.com/logo.png", SignInFooter: "Example Corp", Templates: tmpl}
	})
	b := stack.NewBrowser(t, base)
	resp := b.Do("GET", "/oauth2/no-such-page", nil, http.Header{"X-Request-Id": {"req-42"}})
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /oauth2/no-such-page = %d; want 404", resp.StatusCode)
	}
	for _, s := range []string{
		"<title>Page not found</title>", `<p id="status">404 Not Found</p>`, `<p id="message">There is no such page.</p>`,
		`<p id="request">req-42</p>`, `<p id="prefix">/oauth2</p>`, `<p id="footer">Example Corp</p>`,
		`<img src="https://cdn.example.com/logo.png"`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("the custom error page lacks %q:\n%s", s, body)
		}
	}
	resp = b.Get("/oauth2/callback?state=forged&code=x") // a sign-in error
	body = stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `<p id="status">400 Bad Request</p>`) {
		t.Errorf("forged callback = %d:\n%s\nwant 400 on the custom page", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("custom error page's CSP = %q; want the built-in one", resp.Header.Get("Content-Security-Policy"))
	}
	// The sign-in page is still the built-in one (shown, for its footer).
	resp = b.Get("/oauth2/sign_in?rd=/x")
	body = stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<p class="footer">Example Corp</p>`) {
		t.Errorf("GET /oauth2/sign_in = %d:\n%s\nwant the built-in page with its footer", resp.StatusCode, body)
	}

	api := stack.NewBrowser(t, base)
	api.Header = http.Header{"Accept": {"application/json"}}
	resp = api.Get("/oauth2/no-such-page")
	body = stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(body, `{"error":"not_found"`) {
		t.Errorf("API client's 404 = %d %s; want JSON", resp.StatusCode, body)
	}
}

// TestBannerAndFooterAreText: SIGN_IN_BANNER and SIGN_IN_FOOTER are shown
// on the built-in sign-in page, shown then even with one provider, as
// text: markup in them is escaped, never run.
func TestBannerAndFooterAreText(t *testing.T) {
	t.Parallel()
	const banner = `<script>alert("banner")</script> Authorised & audited`
	const footer = `<img src=x onerror=alert(1)> "Example" Corp`
	base, _, _ := pathsStack(t, proxy.Paths{}, func(o *proxy.Options) {
		o.Pages = proxy.Pages{SignInBanner: banner, SignInFooter: footer}
	})
	b := stack.NewBrowser(t, base)
	resp := b.Get("/oauth2/sign_in?rd=/x")
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /oauth2/sign_in = %d; want 200, the page with its banner", resp.StatusCode)
	}
	for _, s := range []string{
		`<p class="banner">&lt;script&gt;alert(&#34;banner&#34;)&lt;/script&gt; Authorised &amp; audited</p>`,
		`<p class="footer">&lt;img src=x onerror=alert(1)&gt; &#34;Example&#34; Corp</p>`,
		`href="/oauth2/start?provider=oauth2&amp;rd=%2Fx"`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("the sign-in page lacks %s:\n%s", s, body)
		}
	}
	for _, s := range []string{"<script", "<img src=x"} {
		if strings.Contains(body, s) {
			t.Errorf("the sign-in page holds %q unescaped:\n%s", s, body)
		}
	}
	// Error pages show neither.
	body = stack.ReadBody(t, b.Get("/oauth2/no-such-page"))
	if strings.Contains(body, "Authorised") || strings.Contains(body, "Example") {
		t.Errorf("the built-in error page shows the banner or footer:\n%s", body)
	}
}

// TestTemplateProblems: a template that does not parse, or fails on the
// sample data, is refused by ParseTemplates naming the file; every
// problem is listed, one a line.
func TestTemplateProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  []string // each line holds these, in order
	}{
		{"does not parse", map[string]string{proxy.SignInTemplate: "{{.Title"},
			[]string{"/sign_in.html: template: sign_in.html:1: unclosed action"}},
		{"unknown field", map[string]string{proxy.ErrorTemplate: "<p>{{.Code}}</p>"},
			[]string{`/error.html: fails on sample data: template: error.html:1:5: executing "error.html" at <.Code>: can't evaluate field Code`}},
		{"unknown function", map[string]string{proxy.SignInTemplate: "{{upper .Title}}"},
			[]string{`/sign_in.html: template: sign_in.html:1: function "upper" not defined`}},
		{"both broken", map[string]string{proxy.SignInTemplate: "{{end}}", proxy.ErrorTemplate: "{{.Nope}}"},
			[]string{"/sign_in.html: template: sign_in.html:1: unexpected {{end}}", "/error.html: fails on sample data"}},
		{"neither file", map[string]string{"signin.html": "hello"},
			[]string{"holds neither sign_in.html nor error.html"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := templateDir(t, tt.files)
			_, err := proxy.ParseTemplates(dir)
			if err == nil {
				t.Fatalf("ParseTemplates: no error; want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("ParseTemplates error has %d lines; want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d = %q; want it to hold %q", i+1, lines[i], w)
				}
				if strings.HasPrefix(w, "/") && !strings.HasPrefix(lines[i], dir) {
					t.Errorf("line %d = %q; want it to start with the file's path in %s", i+1, lines[i], dir)
				}
			}
		})
	}
	for _, dir := range []string{filepath.Join(t.TempDir(), "missing"), templateDir(t, nil) + "/x"} {
		if _, err := proxy.ParseTemplates(dir); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("ParseTemplates(%q) = %v; want an error naming it", dir, err)
		}
	}
	file := filepath.Join(templateDir(t, map[string]string{"f": "x"}), "f")
	if _, err := proxy.ParseTemplates(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("ParseTemplates(a file) = %v; want not a directory", err)
	}
}

// TestCustomPageFailingLater: a template that passed the sample data but
// fails on a request's (it indexes a second provider; there is one) gives
// way to the built-in page, with the status it should have, never a 500.
func TestCustomPageFailingLater(t *testing.T) {
	t.Parallel()
	tmpl := parseTemplates(t, map[string]string{
		proxy.SignInTemplate: `<p>{{(index .Providers 1).Name}}</p>`,
		proxy.ErrorTemplate:  `{{if eq .Status 403}}{{.Title}}{{else}}{{index .Title 99}}{{end}}`,
	})
	base, _, _ := pathsStack(t, proxy.Paths{}, func(o *proxy.Options) { o.Pages.Templates = tmpl })
	b := stack.NewBrowser(t, base)
	for _, tt := range []struct {
		path   string
		status int
		want   string
	}{
		{"/oauth2/sign_in", http.StatusOK, "Sign in with Test provider"},
		{"/oauth2/no-such-page", http.StatusNotFound, "There is no such page."},
	} {
		resp := b.Get(tt.path)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s = %d:\n%s\nwant %d and the built-in page", tt.path, resp.StatusCode, body, tt.status)
		}
	}
}
