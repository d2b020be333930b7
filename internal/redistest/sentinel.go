package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/testproc"
)

// SentinelOptions change how NewSentinel starts its servers.
type SentinelOptions struct {
	// Replicas is the number of replicas of the master; default 1.
	Replicas int
	// DownAfter is how long the master may not answer before the
	// Sentinels take it for down and promote a replica; default 1s
	// (Redis's own default is 30s).
	DownAfter time.Duration
	// Data are the data nodes' options (TLS, a password); the Sentinels
	// use the same TLS, and the password to reach them.
	Data Options
	// Password, when set, is what the Sentinels themselves ask of clients.
	Password string
	// Link, when true, puts a Link (Sentinel.Link) in front of the first
	// master: the Sentinels, the replicas and clients reach it there, so a
	// test can hold back replication.
	Link bool
}

// A Sentinel is a master, its replicas and three Sentinels watching it
// under the name MasterName, all private to a test.
type Sentinel struct {
	// MasterName is the name the Sentinels know the master by.
	MasterName string
	// Addrs are the Sentinels' host:port.
	Addrs []string
	// Data are the data nodes, the master at start first.
	Data []*Server
	// Sentinels are the Sentinel processes.
	Sentinels []*Server
	// Link is in front of the first master, with SentinelOptions.Link.
	Link *Link

	t    testing.TB
	opts SentinelOptions
}

// NewSentinel starts a master, its replicas and three Sentinels, and
// waits until every Sentinel sees the replicas and the two others, so
// that a failover can happen from the start.
func NewSentinel(t testing.TB, o SentinelOptions) *Sentinel {
	t.Helper()
	o.Replicas = max(o.Replicas, 1)
	if o.DownAfter <= 0 {
		o.DownAfter = time.Second
	}
	s := &Sentinel{MasterName: "portcullis", t: t, opts: o}
	master := NewWith(t, o.Data)
	s.Data = append(s.Data, master)
	masterPort := master.port // where replicas and Sentinels reach it
	if o.Link {
		s.Link = NewLink(t, master.Addr)
		masterPort = s.Link.Port
	}
	for range o.Replicas {
		ro := o.Data
		ro.Args = append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(masterPort)}, ro.Args...)
		s.Data = append(s.Data, NewWith(t, ro))
	}
	for range 3 {
		dir := t.TempDir()
		config := func(port int) (string, error) {
			file := filepath.Join(dir, "sentinel.conf")
			lines := []string{
				"port " + strconv.Itoa(port),
				fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", s.MasterName, masterPort),
				fmt.Sprintf("sentinel down-after-milliseconds %s %d", s.MasterName, o.DownAfter.Milliseconds()),
				fmt.Sprintf("sentinel failover-timeout %s %d", s.MasterName, 3*o.DownAfter.Milliseconds()),
				fmt.Sprintf("sentinel parallel-syncs %s 1", s.MasterName),
			}
			if o.Data.Password != "" {
				lines = append(lines, fmt.Sprintf("sentinel auth-pass %s %s", s.MasterName, o.Data.Password))
			}
			if o.Password != "" {
				lines = append(lines, "requirepass "+o.Password)
			}
			return file, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		}
		sentinel := newServer(t, Options{TLS: o.Data.TLS}, config, func(*Server) ([]string, error) { return []string{"--sentinel"}, nil })
		sentinel.auth = o.Password // in its configuration file
		s.Sentinels = append(s.Sentinels, sentinel)
		s.Addrs = append(s.Addrs, sentinel.Addr)
	}
	s.waitReady()
	return s
}

// Master returns the data node the Sentinels name master now, or nil
// when it is none of Data (or they don't agree).
func (s *Sentinel) Master() *Server {
	s.t.Helper()
	addr, err := s.masterAddr()
	if err != nil {
		return nil
	}
	if s.Link != nil && addr == s.Link.Addr() {
		return s.Data[0]
	}
	for _, d := range s.Data {
		if d.Addr == addr {
			return d
		}
	}
	return nil
}

// masterAddr asks the first Sentinel that answers which address the
// master has.
func (s *Sentinel) masterAddr() (string, error) {
	var errs []string
	for _, sn := range s.Sentinels {
		v, err := sn.do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		hp, ok := v.([]any)
		if !ok || len(hp) != 2 {
			return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME = %v", v)
		}
		return fmt.Sprintf("%v:%v", hp[0], hp[1]), nil
	}
	return "", fmt.Errorf("no Sentinel answers: %s", strings.Join(errs, "; "))
}

// WaitFailover waits, at most timeout, until the Sentinels name a master
// other than old, and it answers as a master, and returns it.
func (s *Sentinel) WaitFailover(old *Server, timeout time.Duration) *Server {
	s.t.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		m := s.Master()
		if m == nil || m == old {
			last = "the Sentinels still name the old master"
			continue
		}
		role, err := m.do("ROLE")
		if r, ok := role.([]any); err != nil || !ok || len(r) == 0 || r[0] != "master" {
			last = fmt.Sprintf("%s answers ROLE with %v, %v", m.Addr, role, err)
			continue
		}
		return m
	}
	s.t.Fatalf("redistest: no failover within %v: %s", timeout, last)
	return nil
}

// waitReady waits until every Sentinel knows the two others and every
// replica, and every replica is in sync with the master.
func (s *Sentinel) waitReady() {
	s.t.Helper()
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		last = s.notReady()
		if last == "" {
			return
		}
	}
	s.t.Fatalf("redistest: Sentinel not ready within 30s: %s; the first Sentinel's log: %s", last, testproc.LastLines(s.Sentinels[0].proc.Output(), 30))
}

// notReady says what is not ready yet, or "".
func (s *Sentinel) notReady() string {
	for _, sn := range s.Sentinels {
		c := redis.NewSentinelClient(sn.clientOptions())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := c.Master(ctx, s.MasterName).Result()
		cancel()
		c.Close()
		switch {
		case err != nil:
			return fmt.Sprintf("Sentinel %s: %v", sn.Addr, err)
		case m["num-other-sentinels"] != "2":
			return fmt.Sprintf("Sentinel %s knows %s other Sentinels; want 2", sn.Addr, m["num-other-sentinels"])
		case m["num-slaves"] != strconv.Itoa(len(s.Data)-1):
			return fmt.Sprintf("Sentinel %s knows %s replicas; want %d", sn.Addr, m["num-slaves"], len(s.Data)-1)
		}
	}
	for _, d := range s.Data[1:] {
		info, err := d.do("INFO", "replication")
		if err != nil {
			return fmt.Sprintf("replica %s: %v", d.Addr, err)
		}
		if !strings.Contains(fmt.Sprint(info), "master_link_status:up") {
			return fmt.Sprintf("replica %s: not in sync with its master yet", d.Addr)
		}
	}
	return ""
}
