// Package redistest runs private redis-server processes for tests: each on
// 127.0.0.1, on a free port, without persistence, in the test's temporary
// directory, stopped when the test ends. A test can kill, pause and restart
// its server to see how the code under test behaves in an outage; a server
// may speak TLS (NewCA); and NewSentinel and NewCluster start the two
// topologies Redis fails over in: a master with replicas watched by three
// Sentinels, and a Cluster of masters with a replica each.
package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/testproc"
)

// startTimeout bounds the wait for a new server to answer PING.
const startTimeout = 10 * time.Second

// A Server is one private redis-server. Its methods are safe for concurrent
// use, and fail the test (t.Fatal) when the server can't be controlled.
type Server struct {
	// URL is the server's address as a redis:// URL for database 0,
	// e.g. "redis://127.0.0.1:41234/0", or rediss:// with TLS.
	URL string
	// Addr is the server's host:port.
	Addr string

	t    testing.TB
	bin  string
	dir  string
	port int
	opts Options
	// auth is the password Do gives: Options.Password, or a Sentinel's.
	auth string
	// config returns the configuration file to start with, if any, for
	// a run on port (Sentinels keep their state in theirs).
	config func(port int) (string, error)
	// extra returns the arguments of the server's role (cluster,
	// sentinel) for its next run.
	extra func(s *Server) ([]string, error)
	// busPort is a Cluster node's port for the cluster bus.
	busPort int

	mu   sync.Mutex
	proc *testproc.Process // nil while killed
}

// Options change how New starts a server.
type Options struct {
	// TLS, when set, makes the server speak only TLS, with a certificate
	// for 127.0.0.1 that the CA issued. Clients need not present one.
	TLS *CA
	// Password, when set, is the default user's password (requirepass),
	// and the one the server gives its master when it is a replica
	// (masterauth). Do and the package's own checks use it.
	Password string
	// Args are more redis-server arguments, such as "--maxmemory", "10mb".
	Args []string
}

// Start starts a private redis-server for t and returns its URL. See New.
func Start(t testing.TB) string {
	t.Helper()
	return New(t).URL
}

// New starts a private redis-server for t on 127.0.0.1 and a free port,
// waits until it answers PING, and stops it when t ends.
//
// When redis-server is not on PATH, New fails the test if the environment
// says CI=true (CI must run every test), and otherwise skips it, saying why.
func New(t testing.TB) *Server {
	t.Helper()
	return NewWith(t, Options{})
}

// NewWith is New with options.
func NewWith(t testing.TB, o Options) *Server {
	t.Helper()
	return newServer(t, o, nil, nil)
}

func newServer(t testing.TB, o Options, config func(port int) (string, error), extra func(*Server) ([]string, error)) *Server {
	t.Helper()
	bin := testproc.Require(t, "redis-server", "apt-get install redis-server")
	s := &Server{t: t, bin: bin, dir: t.TempDir(), opts: o, auth: o.Password, config: config, extra: extra}
	t.Cleanup(s.stop)

	port, err := testproc.OnFreePort(func(port int) error {
		s.port = port
		return s.start()
	})
	if err != nil {
		t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	scheme := "redis"
	if o.TLS != nil {
		scheme = "rediss"
	}
	s.URL = scheme + "://" + s.Addr + "/0"
	return s
}

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// Kill stops the server at once (SIGKILL), as a crash or a network outage
// would. Its data is lost. Killing a killed server does nothing.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// Restart starts the server again on the same port after Kill, empty, and
// waits until it answers. On a running server it kills it first.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
	// The port was ours a moment ago; retry briefly in case the kernel
	// has not released it yet.
	var err error
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = s.startLocked(); err == nil {
			return
		}
	}
	s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing is
// answered, as with a hung server or a dropped network path. Resume undoes
// it; so does the end of the test.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(pauseSignal)
}

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() {
	s.t.Helper()
	s.signal(resumeSignal)
}

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sig == nil {
		s.t.Fatalf("redistest: pausing a server is not supported on this system")
	}
	if s.proc == nil {
		s.t.Fatalf("redistest: %v: the server is not running", sig)
	}
	if err := s.proc.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Do sends one command to the server as its default user and returns the
// answer, failing the test on an error. With TLS it trusts the server's
// CA and gives Options.Password.
func (s *Server) Do(args ...any) any {
	s.t.Helper()
	v, err := s.do(args...)
	if err != nil {
		s.t.Fatalf("redistest: %v on %s: %v", args, s.Addr, err)
	}
	return v
}

// do sends one command to the server with a short-lived client.
func (s *Server) do(args ...any) (any, error) {
	c := redis.NewClient(s.clientOptions())
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Do(ctx, args...).Result()
}

func (s *Server) clientOptions() *redis.Options {
	o := &redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 3 * time.Second, DisableIdentity: true, Protocol: 2}
	if s.opts.TLS != nil {
		o.TLSConfig = s.opts.TLS.ClientConfig()
	}
	o.Password = s.auth
	return o
}

// start runs a new process on s.port.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked()
}

func (s *Server) startLocked() error {
	var args []string
	if s.config != nil {
		file, err := s.config(s.port)
		if err != nil {
			return err
		}
		args = append(args, file)
	}
	args = append(args,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--protected-mode", "yes",
		"--daemonize", "no",
		"--logfile", "",
	)
	if ca := s.opts.TLS; ca != nil {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", ca.CertFile, "--tls-key-file", ca.KeyFile, "--tls-ca-cert-file", ca.File,
			"--tls-auth-clients", "no", "--tls-replication", "yes", "--tls-cluster", "yes")
	} else {
		args = append(args, "--port", strconv.Itoa(s.port))
	}
	if s.extra != nil {
		more, err := s.extra(s)
		if err != nil {
			return err
		}
		args = append(args, more...)
	}
	if pw := s.opts.Password; pw != "" {
		args = append(args, "--requirepass", pw, "--masterauth", pw)
	}
	args = append(args, s.opts.Args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	p, err := testproc.Start(cmd)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	var tc *tls.Config
	if s.opts.TLS != nil {
		tc = s.opts.TLS.ClientConfig()
	}
	if err := p.WaitReady(startTimeout, 10*time.Millisecond, func() error { return ping(addr, tc) }); err != nil {
		return fmt.Errorf("redis-server on port %d %w: %s", s.port, err, testproc.LastLines(p.Output(), 5))
	}
	s.proc = p
	return nil
}

// kill stops the running process, if any, and waits for it to exit.
func (s *Server) kill() {
	if s.proc == nil {
		return
	}
	s.proc.Kill() // SIGKILL works on a stopped process too
	s.proc = nil
}

// stop is the test's cleanup.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// ping sends an inline PING to addr (over TLS with tc) and checks for
// +PONG, or for the answer of a server that wants a password first.
func ping(addr string, tc *tls.Config) error {
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: time.Second}
	if tc != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tc)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// DocumentedUser returns the ACL SETUSER command for the user "portcullis"
// that the README at readme documents (its line that starts with
// "ACL SETUSER portcullis "), with password for CHANGE-ME, ready for Do.
func DocumentedUser(t testing.TB, readme, password string) []any {
	t.Helper()
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "ACL SETUSER portcullis ") {
			continue
		}
		var args []any
		for _, f := range strings.Fields(line) {
			if f == ">CHANGE-ME" {
				f = ">" + password
			}
			args = append(args, f)
		}
		return args
	}
	t.Fatalf("redistest: %s has no line ACL SETUSER portcullis …", readme)
	return nil
}
