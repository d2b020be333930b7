// Package nginxtest runs private nginx processes for tests: each on
// 127.0.0.1 and a free port, in the foreground as a single process, with
// its configuration, logs, pid file and temporary files in the test's
// temporary directory, stopped when the test ends. It works as root and as
// an ordinary user.
package nginxtest

import (
	"bufio"
	"bytes"
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
	// startTimeout bounds the wait for a new nginx to answer.
	startTimeout = 10 * time.Second
	// stopTimeout bounds the wait for nginx to exit after SIGINT before it
	// is killed.
	stopTimeout = 5 * time.Second
)

// envPath names the environment variable that, when set, gives the nginx
// binary to use.
const envPath = "PORTCULLIS_NGINX"

// sbinDirs are where nginx is looked for after PATH: Debian puts it in
// /usr/sbin, often not on an ordinary user's PATH.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"}

// moduleDirs are where distributions put nginx's dynamic modules (Debian:
// /usr/lib/nginx/modules, which /usr/share/nginx/modules links to).
var moduleDirs = []string{"/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/usr/lib64/nginx/modules", "/usr/local/nginx/modules"}

// Modules returns the paths of nginx's dynamic modules files (such as
// "ngx_http_set_misc_module.so"), in order, for Vars.Modules; or ends the
// test as testproc.Missing does, failing it under CI=true and skipping it
// elsewhere, with installHint saying how to install them.
func Modules(t testing.TB, installHint string, files ...string) []string {
	t.Helper()
	var paths []string
	for _, f := range files {
		found := ""
		for _, dir := range moduleDirs {
			p := filepath.Join(dir, f)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				found = p
				break
			}
		}
		if found == "" {
			testproc.Missing(t, "nginx module "+f+" is not in "+strings.Join(moduleDirs, ", "), installHint)
			return nil
		}
		paths = append(paths, found)
	}
	return paths
}

// Vars are what a configuration template passed to Start may refer to.
type Vars struct {
	// Modules are dynamic modules to load (load_module), in order: paths
	// from Modules.
	Modules []string
	// Listen is nginx's own address, 127.0.0.1:<free port>; Start sets it.
	Listen string
	// Portcullis is the host:port of the Portcullis under test.
	Portcullis string
	// Upstream is the host:port of the app behind nginx.
	Upstream string
}

// mainConf wraps a test's configuration into a complete nginx.conf that
// keeps everything in Dir and never leaves the foreground. A single
// process (master_process off) needs no "user" directive: running as root
// it stays root, so it can read the test's private temporary directory,
// and running as anyone else it has no user to switch to.
const mainConf = `# Written by nginxtest for one test.
{{range .Modules}}load_module {{.}};
{{end -}}
daemon off;
master_process off;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;

events {
    worker_connections 256;
}

http {
    access_log {{.Dir}}/access.log;
    client_body_temp_path {{.Dir}}/tmp/client_body;
    proxy_temp_path {{.Dir}}/tmp/proxy;
    fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
    uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
    scgi_temp_path {{.Dir}}/tmp/scgi;
    default_type application/octet-stream;

# ---- the test's configuration ----
{{.Conf}}
}
`

// bin returns the nginx binary ($PORTCULLIS_NGINX, else on PATH, else in
// /usr/sbin, where Debian puts it), or ends the test: under CI=true it
// fails (CI must install nginx), elsewhere it skips, saying why.
func bin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(envPath); p != "" {
		return p
	}
	return testproc.Require(t, "nginx", "apt-get install nginx, or set "+envPath, sbinDirs...)
}

// Start runs nginx for t and returns its address, 127.0.0.1:<port>. conf
// is what goes in nginx's http block (upstream, map and server blocks),
// as a text/template over v; Start sets v.Listen to the address it picked,
// so a server block says "listen {{.Listen}};". Start checks the
// configuration with nginx -t, starts nginx, waits until it answers and
// stops it when t ends. A configuration nginx refuses fails the test with
// nginx's own words.
func Start(t testing.TB, conf string, v Vars) (addr string) {
	t.Helper()
	nginx := bin(t)
	tmpl, err := template.New("nginx.conf").Option("missingkey=error").Parse(conf)
	if err != nil {
		t.Fatalf("nginxtest: parse configuration template: %v", err)
	}
	_, err = testproc.OnFreePort(func(port int) error {
		v.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		dir := t.TempDir()
		path, err := writeConf(dir, tmpl, v)
		if err != nil {
			t.Fatalf("nginxtest: %v", err)
		}
		if out, err := run(nginx, dir, path, "-t", "-q"); err != nil {
			t.Fatalf("nginxtest: nginx -t refused the configuration (%s): %v\n%s", path, err, out)
		}
		p, err := start(nginx, dir, path, v.Listen)
		if err != nil {
			return err
		}
		t.Cleanup(func() {
			if err := stop(p, dir); err != nil {
				t.Errorf("nginxtest: stop nginx: %v", err)
			}
			if t.Failed() {
				t.Logf("nginxtest: nginx error log (%s):\n%s", filepath.Join(dir, "error.log"), tail(filepath.Join(dir, "error.log"), 30))
			}
		})
		return nil
	})
	if err != nil {
		t.Fatalf("nginxtest: start nginx: %v", err)
	}
	return v.Listen
}

// writeConf writes the complete nginx.conf for v into dir and returns its path.
func writeConf(dir string, tmpl *template.Template, v Vars) (string, error) {
	var inner bytes.Buffer
	if err := tmpl.Execute(&inner, v); err != nil {
		return "", fmt.Errorf("fill configuration template: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return "", err
	}
	var full bytes.Buffer
	outer := template.Must(template.New("main").Parse(mainConf))
	data := struct {
		Dir, Conf string
		Modules   []string
	}{dir, inner.String(), v.Modules}
	if err := outer.Execute(&full, data); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "nginx.conf")
	return path, os.WriteFile(path, full.Bytes(), 0o644)
}

// run runs nginx once with args (nginx -t) and returns its output.
func run(nginx, dir, conf string, args ...string) ([]byte, error) {
	cmd := exec.Command(nginx, append([]string{"-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")}, args...)...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// start runs nginx in the foreground and waits until it answers on addr.
func start(nginx, dir, conf, addr string) (*testproc.Process, error) {
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Dir = dir
	p, err := testproc.Start(cmd)
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(startTimeout, 10*time.Millisecond, func() error { return answers(addr) }); err != nil {
		if errors.Is(err, testproc.ErrExited) {
			return nil, fmt.Errorf("nginx on %s exited: %s %s", addr, strings.TrimSpace(p.Output()), tail(filepath.Join(dir, "error.log"), 5))
		}
		return nil, fmt.Errorf("nginx on %s %w: %s", addr, err, tail(filepath.Join(dir, "error.log"), 5))
	}
	return p, nil
}

// stop ends nginx p, run in dir (SIGINT: a fast shutdown), killing it if
// it lingers.
func stop(p *testproc.Process, dir string) error {
	if p.Exited() {
		return fmt.Errorf("nginx had already exited: %s %s", strings.TrimSpace(p.Output()), tail(filepath.Join(dir, "error.log"), 5))
	}
	p.Stop(stopTimeout)
	return nil
}

// answers checks that nginx itself, not some other program that took the
// port, serves addr: a request without a Host header gets nginx's own 400,
// without touching any location (so no upstream need be up yet).
func answers(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("no answer from nginx on %s: %w", addr, err)
		}
		line = strings.TrimSpace(line)
		if line == "" {
			return fmt.Errorf("%s answers but is not nginx", addr)
		}
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Server") {
			if strings.HasPrefix(strings.TrimSpace(value), "nginx") {
				return nil
			}
			return fmt.Errorf("%s is served by %q, not nginx", addr, strings.TrimSpace(value))
		}
	}
}

// tail returns the last n lines of the file at path, or why it can't.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
