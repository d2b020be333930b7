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
)

const (
	// startTimeout bounds the wait for a new nginx to answer.
	startTimeout = 10 * time.Second
	// stopTimeout bounds the wait for nginx to exit after SIGINT before it
	// is killed.
	stopTimeout = 5 * time.Second
	// startAttempts is how many free ports Start tries: another process
	// may take a port between our probe and nginx's bind.
	startAttempts = 5
)

// Vars are what a configuration template passed to Start may refer to.
type Vars struct {
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

// Path returns the nginx binary, or "" when none is installed. It looks
// on PATH and then in /usr/sbin, where Debian puts it (often not on an
// ordinary user's PATH).
func Path() string {
	if p := os.Getenv("PORTCULLIS_NGINX"); p != "" {
		return p
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// bin returns the nginx binary, or ends the test: under CI=true it fails
// (CI must install nginx), elsewhere it skips, saying why.
func bin(t testing.TB) string {
	t.Helper()
	p := Path()
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginxtest: nginx is not installed and CI=true: install nginx (apt-get install nginx)")
		}
		t.Skip("SKIP: nginx is not installed (apt-get install nginx, or set PORTCULLIS_NGINX); test with a real nginx not run")
	}
	return p
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
	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("nginxtest: find a free port: %v", err)
		}
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
			errs = append(errs, err)
			continue
		}
		t.Cleanup(func() {
			if err := p.stop(); err != nil {
				t.Errorf("nginxtest: stop nginx: %v", err)
			}
			if t.Failed() {
				t.Logf("nginxtest: nginx error log (%s):\n%s", filepath.Join(dir, "error.log"), tail(filepath.Join(dir, "error.log"), 30))
			}
		})
		return v.Listen
	}
	t.Fatalf("nginxtest: start nginx: %v", errors.Join(errs...))
	return ""
}

// Check runs nginx -t on conf (as for Start, with v.Listen set to a free
// port) and fails the test with nginx's message when it is refused.
func Check(t testing.TB, conf string, v Vars) {
	t.Helper()
	nginx := bin(t)
	tmpl, err := template.New("nginx.conf").Option("missingkey=error").Parse(conf)
	if err != nil {
		t.Fatalf("nginxtest: parse configuration template: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("nginxtest: find a free port: %v", err)
	}
	v.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dir := t.TempDir()
	path, err := writeConf(dir, tmpl, v)
	if err != nil {
		t.Fatalf("nginxtest: %v", err)
	}
	if out, err := run(nginx, dir, path, "-t", "-q"); err != nil {
		t.Fatalf("nginx -t refused the configuration: %v\n%s", err, out)
	}
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
	if err := outer.Execute(&full, struct{ Dir, Conf string }{dir, inner.String()}); err != nil {
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

// A process is one running nginx.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
	out  *bytes.Buffer // stdout and stderr; read only after done
	dir  string
}

// start runs nginx in the foreground and waits until it answers on addr.
func start(nginx, dir, conf, addr string) (*process, error) {
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Dir = dir
	out := new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{}), out: out, dir: dir}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("nginx on %s exited: %s %s", addr, strings.TrimSpace(out.String()), tail(filepath.Join(dir, "error.log"), 5))
		default:
		}
		if answers(addr) == nil {
			return p, nil
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-p.done
			return nil, fmt.Errorf("nginx on %s did not answer within %v: %s", addr, startTimeout, tail(filepath.Join(dir, "error.log"), 5))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends nginx (SIGINT: a fast shutdown), killing it if it lingers.
func (p *process) stop() error {
	select {
	case <-p.done:
		return fmt.Errorf("nginx had already exited: %s %s", strings.TrimSpace(p.out.String()), tail(filepath.Join(p.dir, "error.log"), 5))
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
	}
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

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
