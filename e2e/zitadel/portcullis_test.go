package zitadel_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testproc"
)

// binDir holds the Portcullis binary the tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	// The example provider logs every request through the default slog
	// logger; only its warnings and errors are worth a test's output.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	dir, err := os.MkdirTemp("", "portcullis-zitadel-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// portcullisBinary builds Portcullis from this repository once, in the
// product's own module (so with the dependency versions it ships with, not
// this module's), with the race detector when the tests run with it.
var portcullisBinary = sync.OnceValues(func() (string, error) {
	goTool, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		return "", fmt.Errorf("the go command is not on PATH: %w", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(binDir, "portcullis")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, ".")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in %s: %v\n%s", root, err, out)
	}
	return bin, nil
})

// A portcullis is the Portcullis binary serving on loopback until the test
// ends.
type portcullis struct {
	// URL is its base URL and PORTCULLIS_PUBLIC_URL, http://127.0.0.1:PORT.
	URL  string
	proc *testproc.Process
}

// portcullisEnv is Portcullis in front of app with o as its OpenID
// provider: provider oidc at o's issuer, the client o registers for it,
// offline_access for a refresh token, the access token passed to the app
// (X-Forwarded-Access-Token), and no
// refresh skew, so that tokens are refreshed once they have expired, not
// before.
func portcullisEnv(o *exampleOP, app string) map[string]string {
	return map[string]string{
		"PORTCULLIS_PROVIDER":          "oidc",
		"PORTCULLIS_ISSUER_URL":        o.issuer,
		"PORTCULLIS_CLIENT_ID":         portcullisClient,
		"PORTCULLIS_CLIENT_SECRET":     portcullisSecret,
		"PORTCULLIS_SCOPES":            "openid email profile offline_access",
		"PORTCULLIS_UPSTREAM":          app,
		"PORTCULLIS_COOKIE_SECRET":     stack.CookieSecret,
		"PORTCULLIS_COOKIE_SECURE":     "false", // plain http on loopback
		"PORTCULLIS_PASS_ACCESS_TOKEN": "true",
		"PORTCULLIS_REFRESH_SKEW":      "0s",
		"PORTCULLIS_METRICS_LISTEN":    "off",
		"PORTCULLIS_LOG_FORMAT":        "text",
	}
}

// startPortcullis runs the Portcullis binary with env (and only env: none
// of the test's own environment) on a free loopback port, which becomes
// its PUBLIC_URL and, through o, its client's redirect URI at the
// provider. It returns once /ready answers 200, that is once discovery at
// the provider has succeeded. At the end of the test it is stopped, and
// the test fails if the race detector reported anything.
func startPortcullis(t *testing.T, o *exampleOP, env map[string]string) *portcullis {
	t.Helper()
	bin, err := portcullisBinary()
	if err != nil {
		if _, lookErr := exec.LookPath("go"); lookErr != nil {
			testproc.Missing(t, "the go command is not on PATH", "install Go")
		}
		t.Fatalf("build Portcullis: %v", err)
	}
	p := &portcullis{}
	_, err = testproc.OnFreePort(func(port int) error {
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		o.store.setPortcullis(base)
		cmd := exec.Command(bin, "serve")
		cmd.Env = []string{"PORTCULLIS_LISTEN=127.0.0.1:" + strconv.Itoa(port), "PORTCULLIS_PUBLIC_URL=" + base}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		proc, err := testproc.Start(cmd)
		if err != nil {
			return err
		}
		ready := func() error {
			resp, err := http.Get(base + "/ready")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("/ready: %d", resp.StatusCode)
			}
			return nil
		}
		if err := proc.WaitReady(30*time.Second, 20*time.Millisecond, ready); err != nil {
			proc.Kill()
			return fmt.Errorf("portcullis on port %d %w: %s", port, err, testproc.LastLines(proc.Output(), 10))
		}
		p.URL, p.proc = base, proc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.proc.Stop(10 * time.Second)
		out := p.proc.Output()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("the race detector reported a race in Portcullis:\n%s", out)
		} else if t.Failed() {
			t.Logf("Portcullis's log:\n%s", out)
		}
	})
	return p
}
