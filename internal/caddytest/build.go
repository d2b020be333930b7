package caddytest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/testproc"
)

const (
	// envPath names the environment variable that, when set, gives the
	// Caddy binary to use instead of the cached build.
	envPath = "PORTCULLIS_CADDY"
	// toolsModule is the module in tools/caddy that Binary builds.
	toolsModule = "github.com/portcullis/portcullis/tools/caddy"
	// caddyModule is Caddy's module; tools/caddy/go.mod pins its version.
	caddyModule = "github.com/caddyserver/caddy/v2"
	// binName is the binary's name in its cache directory.
	binName = "caddy"
)

// Binary returns the path of the Caddy binary the tests run:
// $PORTCULLIS_CADDY when it is set; else the build of tools/caddy (found
// above the working directory) cached under the user's cache directory
// (CacheDir), building it first when it is not there, which takes minutes.
// Concurrent callers, in this process or others, build it once.
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv(envPath); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("%s=%s is not an executable file", envPath, p)
		}
		return p, nil
	}
	src, err := findTools()
	if err != nil {
		return "", err
	}
	dir, err := CacheDir(src)
	if err != nil {
		return "", err
	}
	bin, _, err := buildCached(ctx, src, dir)
	return bin, err
}

// findTools returns the directory of tools/caddy, the first found in the
// working directory or above it.
func findTools() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find tools/caddy: %w", err)
	}
	for dir := wd; ; {
		src := filepath.Join(dir, "tools", "caddy")
		if module(filepath.Join(src, "go.mod")) == toolsModule {
			return src, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no tools/caddy (module %s) in %s or above it", toolsModule, wd)
		}
		dir = parent
	}
}

// module returns the module path the go.mod at path declares, or "".
func module(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// CacheDir returns the directory that holds the build of the tools module
// in src: portcullis-test/caddy-<version>-<hash> under the user's cache
// directory ($XDG_CACHE_HOME, else ~/.cache on Linux), where version is
// the Caddy version src's go.mod requires and hash covers src's go.mod,
// go.sum and Go files, so that any change to them makes a new build.
func CacheDir(src string) (string, error) {
	key, err := cacheKey(src)
	if err != nil {
		return "", err
	}
	root, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("caddy build cache: %w", err)
	}
	return filepath.Join(root, "portcullis-test", key), nil
}

// cacheKey names the build of src: caddy-<version>-<12 hex digits of the
// SHA-256 of its go.mod, go.sum and Go files, with their names>.
func cacheKey(src string) (string, error) {
	gomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("caddy build: %w", err)
	}
	version := requiredVersion(gomod, caddyModule)
	if version == "" {
		return "", fmt.Errorf("caddy build: %s requires no %s", filepath.Join(src, "go.mod"), caddyModule)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", fmt.Errorf("caddy build: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && (n == "go.mod" || n == "go.sum" || strings.HasSuffix(n, ".go")) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			return "", fmt.Errorf("caddy build: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	return "caddy-" + version + "-" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// requiredVersion returns the version of mod that gomod requires, in a
// require block or a single require line, or "".
func requiredVersion(gomod []byte, mod string) string {
	sc := bufio.NewScanner(strings.NewReader(string(gomod)))
	for sc.Scan() {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(f) >= 2 && f[0] == mod {
			return f[1]
		}
	}
	return ""
}

// buildCached returns dir's binary, building the main package in src into
// it first when it is missing (built says so). One build runs at a time
// per dir, across processes; the binary appears whole or not at all.
func buildCached(ctx context.Context, src, dir string) (bin string, built bool, err error) {
	bin = filepath.Join(dir, binName)
	if isExecutable(bin) {
		return bin, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("caddy build cache: %w", err)
	}
	unlock, err := lock(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", false, fmt.Errorf("caddy build cache: %w", err)
	}
	defer unlock()
	if isExecutable(bin) { // built while we waited for the lock
		return bin, false, nil
	}
	removeLeftovers(dir)
	tmp := filepath.Join(dir, fmt.Sprintf("%s.tmp%d", binName, os.Getpid()))
	if err := goBuild(ctx, src, tmp); err != nil {
		os.Remove(tmp)
		return "", false, err
	}
	if err := os.Rename(tmp, bin); err != nil {
		os.Remove(tmp)
		return "", false, fmt.Errorf("caddy build cache: %w", err)
	}
	return bin, true, nil
}

// goBuild builds the main package in src into out: statically, with paths
// trimmed and without symbols, outside any go.work, and with src's own
// go.mod and go.sum.
func goBuild(ctx context.Context, src, out string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("build caddy: %w", err)
	}
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build caddy in %s: go build: %w: %s", src, err, testproc.LastLines(string(b), 15))
	}
	return nil
}

// removeLeftovers removes the half-written binaries of builds that were
// killed; the caller holds the lock, so no build is running.
func removeLeftovers(dir string) {
	leftovers, _ := filepath.Glob(filepath.Join(dir, binName+".tmp*"))
	for _, p := range leftovers {
		os.Remove(p)
	}
}

// isExecutable reports whether path is a regular file someone may run.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
