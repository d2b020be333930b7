// Package pgtest runs private PostgreSQL servers for tests: each on
// 127.0.0.1 and a free port, with its data in a fresh temporary directory,
// stopped and removed when the test ends. A test can stop and start its
// server again to see how the code under test behaves in an outage.
//
// It uses the server binaries of the operating system's package (on Debian,
// apt-get install postgresql puts them in /usr/lib/postgresql/VERSION/bin).
// When the process runs as root, the server runs as the postgres user, since
// PostgreSQL refuses to run as root.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/testproc"
)

const (
	// startTimeout bounds the wait for a new server to accept connections.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a fast shutdown before the server is killed.
	stopTimeout = 15 * time.Second
)

// A Server is one private PostgreSQL server. Its methods are safe for
// concurrent use, and fail the test (t.Fatal) when the server can't be
// controlled.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	t       testing.TB
	bindir  string
	dir     string // owns data/ and the socket
	uid     uint32
	gid     uint32
	asOther bool // run the binaries as uid/gid (we are root)
	port    int

	mu   sync.Mutex
	proc *testproc.Process // nil while stopped
	dbs  atomic.Int64
}

// Start starts a private server for t and returns the URL of a fresh, empty
// database on it. See New.
func Start(t testing.TB) string {
	t.Helper()
	return New(t).CreateDB(t)
}

// New initialises a cluster in a temporary directory, starts a server for
// it on 127.0.0.1 and a free port, waits until it accepts connections, and
// stops it and removes its files when t ends. Clients connect as the
// superuser postgres without a password.
//
// When the PostgreSQL server binaries are not installed, New fails the test
// if the environment says CI=true (CI must run every test), and otherwise
// skips it, saying why.
func New(t testing.TB) *Server {
	t.Helper()
	bindir, err := findBinDir()
	if err != nil {
		testproc.Missing(t, err.Error(), "apt-get install postgresql")
	}
	s := &Server{t: t, bindir: bindir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: running as root, PostgreSQL must run as another user, and there is no postgres user: %v", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		s.uid, s.gid, s.asOther = uint32(uid), uint32(gid), true
	}
	// Not t.TempDir: its parents are private to us, and the server may run
	// as another user.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	s.dir = dir
	t.Cleanup(func() {
		s.stop()
		os.RemoveAll(dir)
	})
	if s.asOther {
		if err := os.Chown(dir, int(s.uid), int(s.gid)); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}

	initdb := exec.Command(filepath.Join(bindir, "initdb"),
		"--pgdata", s.dataDir(),
		"--username", "postgres",
		"--auth", "trust",
		"--encoding", "UTF8",
		"--locale", "C",
		"--no-sync",
	)
	initdb.Dir = dir
	initdb.SysProcAttr = s.sysProcAttr()
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v: %s", err, testproc.LastLines(string(out), 10))
	}

	port, err := testproc.OnFreePort(func(port int) error {
		s.port = port
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.startLocked()
	})
	if err != nil {
		t.Fatalf("pgtest: start postgres: %v", err)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return s
}

// URL returns the postgres:// URL of database name on the server.
func (s *Server) URL(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     s.Addr,
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDB creates a fresh, empty database on the server and returns its
// URL. Tests sharing a server each take their own database.
func (s *Server) CreateDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return s.URL(name)
}

// Stop shuts the server down (a fast shutdown: open connections are
// closed), as an outage would; its data is kept for Start. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		s.t.Fatalf("pgtest: %v", err)
	}
}

// Start starts a stopped server again on the same port with the same data,
// and waits until it accepts connections. Starting a running server does
// nothing.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return
	}
	// The port was ours a moment ago; retry briefly in case the kernel
	// has not released it yet.
	var err error
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = s.startLocked(); err == nil {
			return
		}
	}
	s.t.Fatalf("pgtest: restart postgres on port %d: %v", s.port, err)
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// sysProcAttr runs a server binary as s.uid/s.gid when we are root, and
// makes the kernel kill it when the test binary dies without running its
// cleanups, so no server outlives the tests.
func (s *Server) sysProcAttr() *syscall.SysProcAttr {
	if s.asOther {
		return testproc.SysProcAttrAs(s.uid, s.gid)
	}
	return testproc.SysProcAttr()
}

// startLocked runs a new server process on s.port and waits until it
// accepts connections.
func (s *Server) startLocked() error {
	cmd := exec.Command(filepath.Join(s.bindir, "postgres"),
		"-D", s.dataDir(),
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "logging_collector=off",
	)
	cmd.Dir = s.dir
	cmd.SysProcAttr = s.sysProcAttr()
	// Backends left behind by a killed postmaster hold the output pipe
	// until they notice; don't wait on them for long.
	cmd.WaitDelay = 5 * time.Second
	p, err := testproc.Start(cmd)
	if err != nil {
		return err
	}
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", s.port)
	if err := p.WaitReady(startTimeout, 50*time.Millisecond, func() error { return ping(dsn) }); err != nil {
		return fmt.Errorf("postgres on port %d %w: %s", s.port, err, testproc.LastLines(p.Output(), 5))
	}
	s.proc = p
	return nil
}

// stopLocked asks the server for a fast shutdown and waits for it, killing
// it if it takes too long.
func (s *Server) stopLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if p.Stop(stopTimeout) { // SIGINT: fast shutdown
		return fmt.Errorf("postgres on port %d did not shut down within %v; killed it: %s", s.port, stopTimeout, testproc.LastLines(p.Output(), 5))
	}
	return nil
}

// stop is the test's cleanup.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// ping connects to dsn and runs a trivial query.
func ping(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.Ping(ctx)
}

// findBinDir finds the directory holding initdb and postgres: the newest
// Debian-style /usr/lib/postgresql/VERSION/bin, else initdb's directory on
// PATH.
func findBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("the PostgreSQL server binaries (initdb, postgres) are not installed")
}

// version is the major version in a /usr/lib/postgresql/VERSION/bin path.
func version(bindir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
