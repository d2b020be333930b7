// Package caddytest runs private Caddy processes for tests: each on
// 127.0.0.1 and a free port, with its data and configuration directories
// in a temporary directory and its admin endpoint off, stopped when the
// test ends.
//
// Caddy is not a distribution package here but a Go module: Binary builds
// it from the tools module in tools/caddy (Caddy with its standard
// modules, as xcaddy builds it) and caches the binary under the user's
// cache directory, keyed by Caddy's version and the module's files, so it
// is built once (minutes) and reused by every later run. `make tools`
// builds it ahead of the tests.
package caddytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/portcullis/portcullis/internal/testproc"
)

const (
	// startTimeout bounds the wait for a new Caddy to serve its
	// configuration.
	startTimeout = 15 * time.Second
	// stopTimeout bounds the wait for Caddy to exit after SIGINT before it
	// is killed.
	stopTimeout = 5 * time.Second
	// buildTimeout bounds a build of Caddy (about 2.5 minutes on two busy
	// cores; its modules are downloaded once).
	buildTimeout = 8 * time.Minute
	// readyLine is what Caddy logs once its configuration runs and its
	// listeners are open.
	readyLine = "serving initial configuration"
)

// Require returns the path of the Caddy binary (see Binary), building it
// when it is missing, or ends the test as testproc.Missing does: under
// CI=true a build that fails fails the test; elsewhere it skips it,
// saying why.
func Require(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	bin, err := Binary(ctx)
	if err != nil {
		testproc.Missing(t, "caddy is not available ("+err.Error()+")", "make tools, or set "+envPath+" to a caddy binary")
		return ""
	}
	return bin
}

// Vars are what a Caddyfile template passed to Start may refer to.
type Vars struct {
	// Port is Caddy's port on 127.0.0.1; Start sets it, so a site block
	// says ":{{.Port}} {".
	Port int
	// Portcullis is the host:port of the Portcullis under test.
	Portcullis string
	// Upstream is the host:port of the app behind Caddy.
	Upstream string
	// Global are more global options (such as a servers block), added
	// inside Start's own global options block; they are not a template.
	Global string
}

// globalOptions come before a test's Caddyfile (which therefore has no
// global options block of its own): every listener on loopback only, no
// admin endpoint (parallel Caddys would share its port), no saved
// configuration, and a short grace period on stop; then Vars.Global.
const globalOptions = `# Written by caddytest for one test.
{
	admin off
	persist_config off
	default_bind 127.0.0.1
	grace_period 2s
%s}

# ---- the test's Caddyfile ----
`

// Start runs Caddy for t and returns its address, 127.0.0.1:<port>.
// caddyfile is a Caddyfile's site blocks as a text/template over v (Caddy's
// own placeholders, {uri}, are single braces and pass through); Start sets
// v.Port to the port it picked. Start checks the configuration with caddy
// validate, starts Caddy, waits until it serves and stops it when t ends.
// A configuration Caddy refuses fails the test with Caddy's own words.
func Start(t testing.TB, caddyfile string, v Vars) (addr string) {
	t.Helper()
	caddy := Require(t)
	tmpl, err := template.New("Caddyfile").Option("missingkey=error").Parse(caddyfile)
	if err != nil {
		t.Fatalf("caddytest: parse Caddyfile template: %v", err)
	}
	_, err = testproc.OnFreePort(func(port int) error {
		v.Port = port
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		dir := t.TempDir()
		path := filepath.Join(dir, "Caddyfile")
		if err := writeCaddyfile(path, tmpl, v); err != nil {
			t.Fatalf("caddytest: %v", err)
		}
		if err := validate(caddy, dir, path); err != nil {
			t.Fatalf("caddytest: %v", err)
		}
		p, err := start(caddy, dir, path, addr)
		if err != nil {
			return err
		}
		t.Cleanup(func() {
			if p.Exited() {
				t.Errorf("caddytest: caddy on %s had exited: %s", addr, testproc.LastLines(p.Output(), 10))
				return
			}
			p.Stop(stopTimeout)
			if t.Failed() {
				t.Logf("caddytest: caddy's log (%s):\n%s", addr, testproc.LastLines(p.Output(), 30))
			}
		})
		return nil
	})
	if err != nil {
		t.Fatalf("caddytest: start caddy: %v", err)
	}
	return addr
}

// writeCaddyfile writes the global options and the test's Caddyfile,
// filled in with v, to path.
func writeCaddyfile(path string, tmpl *template.Template, v Vars) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, globalOptions, v.Global)
	if err := tmpl.Execute(&b, v); err != nil {
		return fmt.Errorf("fill Caddyfile template: %w", err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// command is caddy with args, run in dir, with its data and configuration
// directories ($XDG_DATA_HOME, $XDG_CONFIG_HOME) there too.
func command(caddy, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(caddy, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	return cmd
}

// validate runs caddy validate on the Caddyfile at path, and returns
// Caddy's words when it refuses it.
func validate(caddy, dir, path string) error {
	out, err := command(caddy, dir, "validate", "--config", path, "--adapter", "caddyfile").CombinedOutput()
	if err != nil {
		return fmt.Errorf("caddy validate refused %s: %w: %s", path, err, testproc.LastLines(string(out), 5))
	}
	return nil
}

// start runs Caddy and waits until it serves on addr.
func start(caddy, dir, conf, addr string) (*testproc.Process, error) {
	p, err := testproc.Start(command(caddy, dir, "run", "--config", conf, "--adapter", "caddyfile"))
	if err != nil {
		return nil, err
	}
	err = p.WaitReady(startTimeout, 10*time.Millisecond, func() error {
		if !strings.Contains(p.Output(), readyLine) {
			return errors.New("not serving yet")
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("caddy on %s %w: %s", addr, err, testproc.LastLines(p.Output(), 5))
	}
	return p, nil
}
