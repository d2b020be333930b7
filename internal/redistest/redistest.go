// Package redistest runs private redis-server processes for tests: each on
// 127.0.0.1, on a free port, without persistence, in the test's temporary
// directory, stopped when the test ends. A test can kill, pause and restart
// its server to see how the code under test behaves in an outage.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testproc"
)

// startTimeout bounds the wait for a new server to answer PING.
const startTimeout = 10 * time.Second

// A Server is one private redis-server. Its methods are safe for concurrent
// use, and fail the test (t.Fatal) when the server can't be controlled.
type Server struct {
	// URL is the server's address as a redis:// URL for database 0,
	// e.g. "redis://127.0.0.1:41234/0".
	URL string
	// Addr is the server's host:port.
	Addr string

	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	proc *testproc.Process // nil while killed
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
	bin := testproc.Require(t, "redis-server", "apt-get install redis-server")
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(s.stop)

	port, err := testproc.OnFreePort(func(port int) error {
		s.port = port
		return s.start()
	})
	if err != nil {
		t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.URL = "redis://" + s.Addr + "/0"
	return s
}

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

// start runs a new process on s.port.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked()
}

func (s *Server) startLocked() error {
	cmd := exec.Command(s.bin,
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--protected-mode", "yes",
		"--daemonize", "no",
		"--logfile", "",
	)
	cmd.Dir = s.dir
	p, err := testproc.Start(cmd)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	if err := p.WaitReady(startTimeout, 10*time.Millisecond, func() error { return ping(addr) }); err != nil {
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

// ping sends an inline PING to addr and checks for +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
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
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
