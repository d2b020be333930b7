package nginxtest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/nginxtest"
)

func TestStart(t *testing.T) {
	t.Parallel()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "app saw "+r.URL.Path)
	}))
	defer app.Close()
	addr := nginxtest.Start(t, `
server {
    listen {{.Listen}};
    location = /direct { return 200 "nginx"; }
    location / { proxy_pass http://{{.Upstream}}; }
}`, nginxtest.Vars{Upstream: strings.TrimPrefix(app.URL, "http://")})
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("Start = %q; want 127.0.0.1:<port>", addr)
	}
	for path, want := range map[string]string{"/direct": "nginx", "/x": "app saw /x"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("GET %s = %d %q; want 200 %q", path, resp.StatusCode, body, want)
		}
		if s := resp.Header.Get("Server"); !strings.HasPrefix(s, "nginx") {
			t.Errorf("GET %s: Server = %q; want nginx", path, s)
		}
	}
}

// TestStartTwice runs two nginx at once: nothing is shared between them.
func TestStartTwice(t *testing.T) {
	t.Parallel()
	conf := `server { listen {{.Listen}}; location / { return 204; } }`
	a := nginxtest.Start(t, conf, nginxtest.Vars{})
	b := nginxtest.Start(t, conf, nginxtest.Vars{})
	if a == b {
		t.Fatalf("both nginx on %s", a)
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

// TestStartWithModules loads the set-misc module (and NDK, which it needs)
// and uses its set_escape_uri, as the ingress-nginx test does.
func TestStartWithModules(t *testing.T) {
	t.Parallel()
	mods := nginxtest.Modules(t, "apt-get install libnginx-mod-http-set-misc", "ndk_http_module.so", "ngx_http_set_misc_module.so")
	addr := nginxtest.Start(t, `
server {
    listen {{.Listen}};
    location / {
        set_escape_uri $escaped $request_uri;
        return 200 $escaped;
    }
}`, nginxtest.Vars{Modules: mods})
	resp, err := http.Get("http://" + addr + "/a b?x=1&y=2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "%2Fa%2520b%3Fx%3D1%26y%3D2"; string(body) != want {
		t.Errorf("set_escape_uri of /a%%20b?x=1&y=2 = %q; want %q", body, want)
	}
}

// TestModulesMissing: a module that isn't installed skips the test that
// needs it, saying why (under CI=true it fails it instead, like a missing
// nginx, so this test only looks outside CI).
func TestModulesMissing(t *testing.T) {
	t.Parallel()
	if os.Getenv("CI") == "true" {
		t.Skip("under CI=true a missing module fails the test that needs it; nothing to look at here")
	}
	var skipped bool
	t.Run("needs a module", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		nginxtest.Modules(t, "it does not exist", "ngx_no_such_module.so")
	})
	if !skipped {
		t.Errorf("Modules with a module that isn't installed did not skip the test")
	}
}
