// Package testproc starts the real servers tests need (Redis, nginx,
// PostgreSQL) as child processes: finding the binary, free loopback ports,
// stopping them with the test.
package testproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// portAttempts is how many free ports OnFreePort tries: another process may
// take a port between our probe and the server's bind.
const portAttempts = 5

// Find returns the path of the executable name, looked for on PATH and then
// in extraDirs in order, or "" when there is none.
func Find(name string, extraDirs ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range extraDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Require returns the path of the executable name (see Find), or ends the
// test as Missing does, with installHint saying how to install it.
func Require(t testing.TB, name, installHint string, extraDirs ...string) string {
	t.Helper()
	if p := Find(name, extraDirs...); p != "" {
		return p
	}
	where := "on PATH"
	if len(extraDirs) > 0 {
		where += " nor in " + strings.Join(extraDirs, ", ")
	}
	Missing(t, name+" is not "+where, installHint)
	return ""
}

// Missing ends a test that can't run because something is not installed;
// reason says what ("redis-server is not on PATH") and installHint how to
// install it ("apt-get install redis-server"). Under CI=true it fails the
// test, since CI must run every test; elsewhere it skips it, saying why.
func Missing(t testing.TB, reason, installHint string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s and CI=true: CI must install it (%s)", reason, installHint)
	}
	t.Skipf("SKIP: %s (%s); test not run", reason, installHint)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// OnFreePort calls start with free ports on 127.0.0.1 until it succeeds, a
// few times at the most: another process may take a port between our probe
// and the server's bind. It returns the port start succeeded on, or the
// errors of all attempts.
func OnFreePort(start func(port int) error) (int, error) {
	var errs []error
	for range portAttempts {
		port, err := FreePort()
		if err != nil {
			return 0, errors.Join(append(errs, fmt.Errorf("find a free port: %w", err))...)
		}
		if err := start(port); err != nil {
			errs = append(errs, err)
			continue
		}
		return port, nil
	}
	return 0, errors.Join(errs...)
}
