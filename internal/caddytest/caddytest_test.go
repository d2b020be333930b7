package caddytest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
)

func TestStart(t *testing.T) {
	t.Parallel()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "app saw "+r.URL.Path)
	}))
	defer app.Close()
	addr := Start(t, `
:{{.Port}} {
	handle /direct {
		respond "caddy"
	}
	reverse_proxy {{.Upstream}}
}`, Vars{Upstream: strings.TrimPrefix(app.URL, "http://")})
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("Start = %q; want 127.0.0.1:<port>", addr)
	}
	for path, want := range map[string]string{"/direct": "caddy", "/x": "app saw /x"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("GET %s = %d %q; want 200 %q", path, resp.StatusCode, body, want)
		}
	}
	// Caddy's own answers say it is Caddy (proxied ones keep the app's).
	resp, err := http.Get("http://" + addr + "/direct")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := resp.Header.Get("Server"); s != "Caddy" {
		t.Errorf("GET /direct: Server = %q; want Caddy", s)
	}
}

// TestStartTwice runs two Caddys at once: nothing is shared between them
// (no admin endpoint, no data directory).
func TestStartTwice(t *testing.T) {
	t.Parallel()
	conf := `:{{.Port}} {
	respond 204
}`
	a := Start(t, conf, Vars{})
	b := Start(t, conf, Vars{})
	if a == b {
		t.Fatalf("both caddy on %s", a)
	}
	for _, addr := range []string{a, b} {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("GET http://%s/ = %d; want 204", addr, resp.StatusCode)
		}
	}
}

// TestValidate: a Caddyfile that Caddy refuses gets Caddy's own words,
// which Start fails the test with.
func TestValidate(t *testing.T) {
	t.Parallel()
	caddy := Require(t)
	for _, tc := range []struct {
		name, conf, wantErr string
	}{
		{"valid", ":{{.Port}} {\n\trespond 204\n}\n", ""},
		{"unknown directive", ":{{.Port}} {\n\tno_such_directive\n}\n", "no_such_directive"},
		{"unclosed block", ":{{.Port}} {\n\trespond 204\n", "syntax error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "Caddyfile")
			if err := writeCaddyfile(path, template.Must(template.New("").Parse(tc.conf)), Vars{Port: 1}); err != nil {
				t.Fatal(err)
			}
			err := validate(caddy, dir, path)
			if tc.wantErr == "" && err != nil {
				t.Errorf("validate = %v; want nil", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("validate = %v; want Caddy's refusal, with %q", err, tc.wantErr)
			}
		})
	}
}

// TestRequireMissing: with no tools/caddy to build from, or a
// PORTCULLIS_CADDY that is no binary, Require skips the test, saying why
// (under CI=true it fails it instead, so this test only looks outside CI).
func TestRequireMissing(t *testing.T) {
	if os.Getenv("CI") == "true" {
		t.Skip("under CI=true a Caddy that can't be had fails the test that needs it; nothing to look at here")
	}
	for _, tc := range []struct {
		name, env string
		chdir     bool
	}{
		{"no tools/caddy", "", true},
		{envPath + " not a binary", filepath.Join(t.TempDir(), "no-caddy"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envPath, tc.env)
			if tc.chdir {
				t.Chdir(t.TempDir())
			}
			var skipped bool
			t.Run("needs caddy", func(t *testing.T) {
				defer func() { skipped = t.Skipped() }()
				Require(t)
			})
			if !skipped {
				t.Errorf("Require did not skip the test")
			}
		})
	}
}

// writeModule writes files (name → content) into a new directory and
// returns it.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCacheKey(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"go.mod":  "module example.com/tools\n\ngo 1.26\n\nrequire github.com/caddyserver/caddy/v2 v2.11.9\n\nrequire (\n\tgithub.com/other/mod v1.0.0 // indirect\n)\n",
		"go.sum":  "github.com/caddyserver/caddy/v2 v2.11.9 h1:x=\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}
	with := func(name, content string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		if content == "" {
			delete(m, name)
		} else {
			m[name] = content
		}
		return m
	}
	baseKey, err := cacheKey(writeModule(t, base))
	if err != nil {
		t.Fatalf("cacheKey(base) error: %v", err)
	}
	if !strings.HasPrefix(baseKey, "caddy-v2.11.9-") || len(baseKey) != len("caddy-v2.11.9-")+12 {
		t.Errorf("cacheKey(base) = %q; want caddy-v2.11.9-<12 hex digits>", baseKey)
	}
	for _, tc := range []struct {
		name   string
		files  map[string]string
		same   bool   // the same build as base
		prefix string // else, the key's start
	}{
		{"unchanged", with("go.mod", base["go.mod"]), true, ""},
		{"another file", with("README.md", "notes"), true, ""},
		{"go.sum changed", with("go.sum", base["go.sum"]+"golang.org/x/net v0.1.0 h1:y=\n"), false, "caddy-v2.11.9-"},
		{"main.go changed", with("main.go", "package main\n\nfunc main() { println() }\n"), false, "caddy-v2.11.9-"},
		{"a Go file added", with("plugins.go", "package main\n"), false, "caddy-v2.11.9-"},
		{"Caddy upgraded", with("go.mod", strings.Replace(base["go.mod"], "v2.11.9", "v2.12.0", 1)), false, "caddy-v2.12.0-"},
		{"Caddy in a require block", with("go.mod", "module example.com/tools\n\nrequire (\n\tgithub.com/caddyserver/caddy/v2 v2.11.8\n)\n"), false, "caddy-v2.11.8-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cacheKey(writeModule(t, tc.files))
			if err != nil {
				t.Fatalf("cacheKey error: %v", err)
			}
			if tc.same && got != baseKey {
				t.Errorf("cacheKey = %q; want %q (the same build)", got, baseKey)
			}
			if !tc.same && (got == baseKey || !strings.HasPrefix(got, tc.prefix)) {
				t.Errorf("cacheKey = %q; want a key other than %q, starting %q", got, baseKey, tc.prefix)
			}
		})
	}
	if got, err := cacheKey(writeModule(t, with("go.mod", "module example.com/tools\n"))); err == nil {
		t.Errorf("cacheKey of a go.mod without Caddy = %q, nil; want an error", got)
	}
}

// fakeTools is a tools module that builds in a moment: a main that prints
// "fake caddy".
func fakeTools(t *testing.T, main string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("SKIP: the go command is not on PATH (%v); test not run", err)
	}
	return writeModule(t, map[string]string{
		"go.mod":  "module example.com/fakecaddy\n\ngo 1.24\n",
		"main.go": main,
	})
}

const fakeMain = "package main\n\nfunc main() { println(\"fake caddy\") }\n"

// TestBuildCached: the first call builds, later ones use the binary; two
// callers at once build it once.
func TestBuildCached(t *testing.T) {
	t.Parallel()
	src := fakeTools(t, fakeMain)
	dir := filepath.Join(t.TempDir(), "cache", "caddy-v0-test")
	ctx := context.Background()

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		built int
		bins  = map[string]bool{}
	)
	for range 3 {
		wg.Go(func() {
			bin, b, err := buildCached(ctx, src, dir)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("buildCached error: %v", err)
			}
			if b {
				built++
			}
			bins[bin] = true
		})
	}
	wg.Wait()
	if built != 1 || len(bins) != 1 {
		t.Fatalf("three concurrent buildCached: built %d times, binaries %v; want one build, one binary", built, bins)
	}
	bin := filepath.Join(dir, binName)
	if out, err := exec.Command(bin).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "fake caddy" {
		t.Errorf("running the build: %q, %v; want \"fake caddy\"", out, err)
	}
	got, b, err := buildCached(ctx, src, dir)
	if got != bin || b || err != nil {
		t.Errorf("buildCached again = %q, built %v, %v; want %q from the cache", got, b, err, bin)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, binName+".tmp*")); len(leftovers) != 0 {
		t.Errorf("left behind: %v", leftovers)
	}
}

// TestBuildCachedFails: a module that does not compile gives an error
// with the compiler's words, and no binary in the cache.
func TestBuildCachedFails(t *testing.T) {
	t.Parallel()
	src := fakeTools(t, "package main\n\nfunc main() { undefinedThing() }\n")
	dir := filepath.Join(t.TempDir(), "caddy-v0-test")
	bin, built, err := buildCached(context.Background(), src, dir)
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") {
		t.Errorf("buildCached of a broken module = %q, %v, %v; want an error quoting the compiler", bin, built, err)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, binName+"*")); len(entries) != 0 {
		t.Errorf("after a failed build the cache holds %v; want nothing", entries)
	}
}
