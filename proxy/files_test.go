package proxy_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// siteDir builds a directory to serve beside a secret file that must
// never be served:
//
//	secret.txt           SECRET (outside the site)
//	site/index.html      home
//	site/a.txt           A
//	site/page.html       <p>page</p>
//	site/docs/index.html docs
//	site/sub/b.txt       B (sub has no index.html)
//	site/link-in         -> a.txt
//	site/link-out        -> ../secret.txt
//	site/dir-out         -> ..
//	site/abs-out         -> <absolute path of secret.txt>
//	site/fifo            a named pipe
//	site/.env            SECRET (a dotfile)
//	site/.git/config     SECRET (in a dot directory)
//	site/.well-known/security.txt contact
//	site/upload          <script>…</script> (HTML with no extension)
func siteDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	for _, d := range []string{site, filepath.Join(site, "docs"), filepath.Join(site, "sub"), filepath.Join(site, ".git"), filepath.Join(site, ".well-known")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"secret.txt":           "SECRET",
		"site/index.html":      "home",
		"site/a.txt":           "A",
		"site/page.html":       "<p>page</p>",
		"site/docs/index.html": "docs",
		"site/sub/b.txt":       "B",
		"site/.env":            "SECRET",
		"site/.git/config":     "SECRET",
		"site/upload":          "<script>fetch('/oauth2/token')</script>",

		"site/.well-known/security.txt": "contact",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{
		"link-in":  "a.txt",
		"link-out": "../secret.txt",
		"dir-out":  "..",
		"abs-out":  filepath.Join(dir, "secret.txt"),
	} {
		if err := os.Symlink(target, filepath.Join(site, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(site, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return site
}

// TestFileUpstream: a file:// route serves the files under its directory
// at the route's path: index.html for a directory that has one, else 404
// (never a listing); never a file outside the directory, however the path
// is written (dot segments plain or escaped, escaped slashes and
// backslashes, absolute paths, NUL, symbolic links leading out); nothing
// that isn't a regular file.
func TestFileUpstream(t *testing.T) {
	t.Parallel()
	site := siteDir(t)
	r := newRouted(t, func(o *proxy.Options) {
		o.Upstream.Routes = []proxy.UpstreamRoute{{Path: "/static/", URL: mustURL(t, "file://"+site+"/")}}
	})
	tests := []struct {
		target string
		status int
		body   string // the whole body on 200; else what it must not hold
	}{
		{"/static/a.txt", 200, "A"},
		{"/static/", 200, "home"},
		{"/static/index.html", 200, "home"},
		{"/static/docs/", 200, "docs"},
		{"/static/sub/b.txt", 200, "B"},
		{"/static/link-in", 200, "A"},
		{"/static/a.txt?v=2", 200, "A"},
		{"/static/%61.txt", 200, "A"},
		// No listing.
		{"/static/sub/", 404, "b.txt"},
		{"/static/missing", 404, "SECRET"},
		// Nothing outside the directory.
		{"/static/link-out", 404, "SECRET"},
		{"/static/dir-out/secret.txt", 404, "SECRET"},
		{"/static/abs-out", 404, "SECRET"},
		{"/static/../secret.txt", 307, "SECRET"}, // the mux cleans it: /secret.txt, no route
		{"/static/%2e%2e/secret.txt", 404, "SECRET"},
		{"/static/%2E%2E%2Fsecret.txt", 404, "SECRET"},
		{"/static/..%2fsecret.txt", 404, "SECRET"},
		{"/static/sub/%2e%2e/%2e%2e/secret.txt", 404, "SECRET"},
		{"/static/%2e%2e/site/a.txt", 404, "A"}, // the path out and back: /site/a.txt, no route
		{"/static/..%5csecret.txt", 404, "SECRET"},
		{"/static/%5c..%5csecret.txt", 404, "SECRET"},
		{"/static/%2F" + strings.TrimPrefix(filepath.Dir(site), "/") + "/secret.txt", 404, "SECRET"},
		{"/static//" + strings.TrimPrefix(filepath.Dir(site), "/") + "/secret.txt", 307, "SECRET"},
		{"/static/a.txt%00", 404, "A"},
		{"/static/%00/../secret.txt", 307, "SECRET"},
		// Not a regular file: refused, without waiting for a writer.
		{"/static/fifo", 404, ""},
		// Dotfiles and dot directories (.env, .git) are never served,
		// however written; .well-known is.
		{"/static/.env", 404, "SECRET"},
		{"/static/%2eenv", 404, "SECRET"},
		{"/static/.git/config", 404, "SECRET"},
		{"/static/%2Egit%2Fconfig", 404, "SECRET"},
		{"/static/.git/", 404, "config"},
		{"/static/.well-known/security.txt", 200, "contact"},
	}
	for _, tt := range tests {
		resp := r.alice.Get(tt.target)
		body := stack.ReadBody(t, resp)
		switch {
		case resp.StatusCode != tt.status:
			t.Errorf("GET %s = %d; want %d: %.200s", tt.target, resp.StatusCode, tt.status, body)
		case tt.status == 200 && body != tt.body:
			t.Errorf("GET %s = %q; want %q", tt.target, body, tt.body)
		case tt.status != 200 && tt.body != "" && strings.Contains(body, tt.body):
			t.Errorf("GET %s = %d showing %q: %.300s", tt.target, resp.StatusCode, tt.body, body)
		}
	}
}

// TestFileUpstreamHTTP: files are served as net/http serves content: a
// type from the extension, ranges, HEAD, conditional requests; a
// directory asked for without its trailing slash is redirected to it
// (relative, so it works under any prefix); other methods get 405; the
// route is protected like any other.
func TestFileUpstreamHTTP(t *testing.T) {
	t.Parallel()
	site := siteDir(t)
	r := newRouted(t, func(o *proxy.Options) {
		o.Upstream.Routes = []proxy.UpstreamRoute{{Path: "/static/", URL: mustURL(t, "file://"+site)}, {Path: "/site", URL: mustURL(t, "file://"+site+"/")}}
	})
	resp := r.alice.Get("/static/page.html")
	if body := stack.ReadBody(t, resp); resp.StatusCode != 200 || body != "<p>page</p>" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /static/page.html = %d %q %q; want 200 text/html <p>page</p>", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	lastModified := resp.Header.Get("Last-Modified")
	resp = r.alice.Do("GET", "/static/page.html", nil, http.Header{"Range": {"bytes=3-6"}})
	if body := stack.ReadBody(t, resp); resp.StatusCode != http.StatusPartialContent || body != "page" {
		t.Errorf("GET /static/page.html, bytes 3-6 = %d %q; want 206 page", resp.StatusCode, body)
	}
	resp = r.alice.Do("GET", "/static/page.html", nil, http.Header{"If-Modified-Since": {lastModified}})
	if stack.ReadBody(t, resp); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET /static/page.html, If-Modified-Since %s = %d; want 304", lastModified, resp.StatusCode)
	}
	resp = r.alice.Do("HEAD", "/static/a.txt", nil, nil)
	if body := stack.ReadBody(t, resp); resp.StatusCode != 200 || body != "" || resp.ContentLength != 1 {
		t.Errorf("HEAD /static/a.txt = %d, length %d, %q; want 200, 1, no body", resp.StatusCode, resp.ContentLength, body)
	}
	for _, tt := range []struct{ target, location string }{
		{"/static/docs", "docs/"},
		{"/static/sub?x=1", "sub/?x=1"},
		{"/site", "site/"},
	} {
		resp = r.alice.Get(tt.target)
		if stack.ReadBody(t, resp); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != tt.location {
			t.Errorf("GET %s = %d to %q; want 301 to %q", tt.target, resp.StatusCode, resp.Header.Get("Location"), tt.location)
		}
	}
	for _, tt := range []struct{ target, want string }{{"/site/", "home"}, {"/site/a.txt", "A"}, {"/site/docs/", "docs"}} {
		if resp = r.alice.Get(tt.target); stack.ReadBody(t, resp) != tt.want {
			t.Errorf("GET %s (route /site) = %d; want %q", tt.target, resp.StatusCode, tt.want)
		}
	}
	// A file whose extension names no type is not sniffed: HTML uploaded
	// without an extension must not run as a page on our origin (where,
	// with EXPOSE_ACCESS_TOKEN, it could read the user's token).
	resp = r.alice.Get("/static/upload")
	if stack.ReadBody(t, resp); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /static/upload = %d %q (X-Content-Type-Options %q); want 200 application/octet-stream, nosniff",
			resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"))
	}
	resp = r.alice.Do("POST", "/static/a.txt", strings.NewReader("x"), nil)
	if stack.ReadBody(t, resp); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /static/a.txt = %d, Allow %q; want 405, GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp = stack.NewBrowser(t, r.url).Get("/static/a.txt")
	if stack.ReadBody(t, resp); resp.StatusCode != http.StatusFound {
		t.Errorf("not signed in, GET /static/a.txt = %d; want 302 to sign in", resp.StatusCode)
	}
}
