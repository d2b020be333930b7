// Package redistest runs private redis-server processes for tests: each on
// 127.0.0.1, on a free port, without persistence, in the test's temporary
// directory, stopped when the test ends. A test can kill, pause and restart
// its server to see how the code under test behaves in an outage.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// startTimeout bounds the wait for a new server to answer PING.
	startTimeout = 10 * time.Second
	// startAttempts is how many free ports Start tries before giving up:
	// another process may take a port between our probe and the server's
	// bind.
	startAttempts = 5
)

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
	proc *process // nil while killed
}

// A process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	log  *bytes.Buffer // its output; read only after done
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
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: redis-server is not on PATH and CI=true: it must be installed (apt-get install redis-server)")
		}
		t.Skipf("redistest: skipping: redis-server is not on PATH (apt-get install redis-server to run this test)")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(s.stop)

	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		s.port = port
		if err := s.start(); err != nil {
			errs = append(errs, err)
			continue
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.URL = "redis://" + s.Addr + "/0"
		return s
	}
	t.Fatalf("redistest: start redis-server: %v", errors.Join(errs...))
	return nil
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
	if err := s.proc.cmd.Process.Signal(sig); err != nil {
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
	log := new(bytes.Buffer)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{}), log: log}
	go func() {
		cmd.Wait()
		close(p.done)
	}()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, lastLines(log.String(), 5))
		default:
		}
		if ping(addr) == nil {
			s.proc = p
			return nil
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("redis-server on port %d did not answer PING within %v: %s", s.port, startTimeout, lastLines(log.String(), 5))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill stops the running process, if any, and waits for it to exit.
func (s *Server) kill() {
	if s.proc == nil {
		return
	}
	s.proc.cmd.Process.Kill() // SIGKILL works on a stopped process too
	<-s.proc.done
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

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lastLines returns the last n lines of s, joined with " | ".
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
