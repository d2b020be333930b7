package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTemplateProblemsStopTheStart: a TEMPLATES_DIR whose templates do not
// parse, or fail on sample data, stops check and serve with every problem
// listed, one a line, each naming the variable and the file, beside the
// configuration's other problems.
func TestTemplateProblemsStopTheStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sign_in.html"), []byte("<h1>{{.Title</h1>"), 0o644)
	os.WriteFile(filepath.Join(dir, "error.html"), []byte("<p>{{.StatusCode}}</p>"), 0o644)
	env := withEnv(validEnv(), "PORTCULLIS_TEMPLATES_DIR", dir, "PORTCULLIS_COOKIE_SECRET", "short")
	for _, cmd := range []string{"check", "serve"} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{cmd}, envMap(env), &out, &errOut); code != 1 {
			t.Fatalf("%s = %d; want 1\n%s%s", cmd, code, out.String(), errOut.String())
		}
		for _, want := range []string{
			"\nPORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes",
			"\nPORTCULLIS_TEMPLATES_DIR: " + filepath.Join(dir, "sign_in.html") + ": template: sign_in.html:1: ",
			"\nPORTCULLIS_TEMPLATES_DIR: " + filepath.Join(dir, "error.html") + ": fails on sample data: ",
		} {
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, errOut.String())
			}
		}
	}
	var out, errOut bytes.Buffer
	env = withEnv(validEnv(), "PORTCULLIS_TEMPLATES_DIR", filepath.Join(dir, "missing"))
	if code := run(context.Background(), []string{"check"}, envMap(env), &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "PORTCULLIS_TEMPLATES_DIR: cannot read") {
		t.Errorf("check with a missing TEMPLATES_DIR = %d:\n%s; want 1 naming it", code, errOut.String())
	}
}

// TestServeExampleTemplates: examples/templates, as shipped, is the
// sign-in and error pages of a real server.
func TestServeExampleTemplates(t *testing.T) {
	t.Parallel()
	addr, _ := startServe(t, withEnv(validEnv(),
		"PORTCULLIS_TEMPLATES_DIR", "examples/templates",
		"PORTCULLIS_SIGN_IN_BANNER", "Authorised staff only <b>",
		"PORTCULLIS_SIGN_IN_FOOTER", "Example Corp IT",
	))
	for _, tt := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/oauth2/sign_in?rd=/reports", http.StatusOK, []string{
			`<p class="banner" id="banner">Authorised staff only &lt;b&gt;</p>`,
			`<a class="button" id="provider-oauth2" href="/oauth2/start?provider=oauth2&amp;rd=%2Freports">Continue with `,
			`<p class="footer" id="footer">Example Corp IT</p>`,
		}},
		{"/oauth2/nothing", http.StatusNotFound, []string{
			"<h1 id=\"title\">Page not found</h1>", "Error 404 (Not Found) · request req-7",
		}},
	} {
		req, _ := http.NewRequest("GET", "http://"+addr+tt.path, nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("X-Request-Id", "req-7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s = %d; want %d", tt.path, resp.StatusCode, tt.status)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("GET %s lacks %q:\n%s", tt.path, w, body)
			}
		}
	}
}
