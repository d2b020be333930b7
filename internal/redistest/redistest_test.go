package redistest

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	t.Parallel()
	u := Start(t)
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("Start() = %q; not a URL: %v", u, err)
	}
	if parsed.Scheme != "redis" || parsed.Hostname() != "127.0.0.1" || parsed.Port() == "" || parsed.Path != "/0" {
		t.Errorf("Start() = %q; want redis://127.0.0.1:PORT/0", u)
	}
	if err := ping(parsed.Host, nil); err != nil {
		t.Errorf("PING %s: %v; want PONG", parsed.Host, err)
	}
}

func TestServersArePrivate(t *testing.T) {
	t.Parallel()
	a, b := New(t), New(t)
	if a.Addr == b.Addr {
		t.Fatalf("two servers share %s; want one port each", a.Addr)
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.Kill()
	if err := ping(s.Addr, nil); err == nil {
		t.Fatalf("PING after Kill: nil error; want the server gone")
	}
	s.Kill() // a second Kill does nothing
	s.Restart()
	if err := ping(s.Addr, nil); err != nil {
		t.Fatalf("PING after Restart: %v; want PONG", err)
	}
	s.Restart() // restarting a running server works too
	if err := ping(s.Addr, nil); err != nil {
		t.Fatalf("PING after second Restart: %v; want PONG", err)
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.Pause()
	start := time.Now()
	err := ping(s.Addr, nil) // connects (the kernel accepts) but gets no answer
	if err == nil {
		t.Fatalf("PING while paused: nil error; want a timeout")
	}
	if !strings.Contains(err.Error(), "timeout") {
		t.Errorf("PING while paused: %v; want a timeout", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("PING while paused failed after %v; want it to hang until its deadline", d)
	}
	s.Resume()
	if err := ping(s.Addr, nil); err != nil {
		t.Fatalf("PING after Resume: %v; want PONG", err)
	}
	s.Pause() // the cleanup kills a paused server too
}

// A recorder is a testing.TB that records how a test ended instead of
// ending the real one.
type recorder struct {
	testing.TB
	how, msg string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Cleanup(func())               {}
func (r *recorder) TempDir() string              { return r.TB.TempDir() }
func (r *recorder) Fatalf(f string, args ...any) { r.end("fatal", f, args) }
func (r *recorder) Skipf(f string, args ...any)  { r.end("skip", f, args) }

func (r *recorder) end(how, f string, args []any) {
	r.how, r.msg = how, fmt.Sprintf(f, args...)
	runtime.Goexit()
}

// TestMissingBinary changes PATH and CI, so it can't run in parallel.
func TestMissingBinary(t *testing.T) {
	tests := []struct {
		ci      string
		wantHow string
	}{
		{ci: "true", wantHow: "fatal"},
		{ci: "", wantHow: "skip"},
		{ci: "false", wantHow: "skip"},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				New(r)
			}()
			<-done
			if r.how != tt.wantHow {
				t.Errorf("New() without redis-server, CI=%q: %s %q; want %s", tt.ci, r.how, r.msg, tt.wantHow)
			}
			if !strings.Contains(r.msg, "apt-get install redis-server") {
				t.Errorf("New() message = %q; want it to say how to install redis-server", r.msg)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	ca := NewCA(t)
	s := NewWith(t, Options{TLS: ca})
	if !strings.HasPrefix(s.URL, "rediss://127.0.0.1:") {
		t.Errorf("URL = %q; want rediss://127.0.0.1:PORT/0", s.URL)
	}
	if err := ping(s.Addr, ca.ClientConfig()); err != nil {
		t.Errorf("PING over TLS trusting the CA: %v; want PONG", err)
	}
	if err := ping(s.Addr, &tls.Config{MinVersion: tls.VersionTLS12}); err == nil {
		t.Errorf("PING over TLS trusting only the system's CAs: nil error; want the certificate refused")
	}
	if err := ping(s.Addr, nil); err == nil {
		t.Errorf("PING without TLS: nil error; want no answer")
	}
}

func TestPassword(t *testing.T) {
	t.Parallel()
	s := NewWith(t, Options{Password: "pw-for-default"})
	if got := s.Do("PING"); got != "PONG" {
		t.Errorf("Do(PING) with the password = %v; want PONG", got)
	}
	s.auth = ""
	if _, err := s.do("PING"); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without the password: %v; want NOAUTH", err)
	}
}

func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := NewSentinel(t, SentinelOptions{})
	t.Logf("sentinel ready in %v", time.Since(start))
	old := s.Master()
	if old != s.Data[0] {
		t.Fatalf("Master() = %v; want the first data node", old)
	}
	old.Do("SET", "k", "v")
	old.Do("WAIT", 1, 1000)
	start = time.Now()
	old.Kill()
	m := s.WaitFailover(old, 30*time.Second)
	t.Logf("failover in %v", time.Since(start))
	if got := m.Do("GET", "k"); got != "v" {
		t.Errorf("GET k on the new master = %v; want v", got)
	}
}

func TestClusterFailover(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := NewCluster(t, ClusterOptions{})
	t.Logf("cluster ready in %v", time.Since(start))
	if len(c.Nodes) != 6 || len(c.Addrs) != 6 {
		t.Fatalf("NewCluster() has %d nodes; want 6", len(c.Nodes))
	}
	old := c.Master("k")
	if old == nil {
		t.Fatal("Master(k) = nil; want a node")
	}
	old.Do("SET", "k", "v")
	old.Do("WAIT", 1, 1000)
	start = time.Now()
	old.Kill()
	var m *Server
	c.waitFor(30*time.Second, func() string {
		if m = c.Master("k"); m == nil || m == old {
			return "k's slot still on the old master"
		}
		return c.unhealthy()
	})
	t.Logf("failover in %v", time.Since(start))
	if got := m.Do("GET", "k"); got != "v" {
		t.Errorf("GET k on the new master = %v; want v", got)
	}
}
