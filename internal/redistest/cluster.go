package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testproc"
)

// slots is the number of hash slots of a Redis Cluster.
const slots = 16384

// ClusterOptions change how NewCluster starts its nodes.
type ClusterOptions struct {
	// Masters is the number of masters, which share the slots; default 3.
	Masters int
	// Replicas is the number of replicas of each master; default 1, and
	// a negative number for none.
	Replicas int
	// NodeTimeout is how long a master may not answer before the others
	// take it for failed and its replica takes over; default 1s (Redis's
	// own default is 15s).
	NodeTimeout time.Duration
	// Node are each node's options.
	Node Options
}

// A Cluster is a Redis Cluster private to a test.
type Cluster struct {
	// Addrs are every node's host:port, masters first.
	Addrs []string
	// Nodes are the nodes, masters first; the replicas of master i are
	// Nodes[Masters+i*Replicas:…].
	Nodes []*Server

	t       testing.TB
	masters int
}

// NewCluster starts the nodes, shares the slots among the masters, gives
// each its replicas, and waits until every node says the cluster is ok
// and every replica is in sync.
func NewCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Masters <= 0 {
		o.Masters = 3
	}
	if o.Replicas < 0 {
		o.Replicas = 0
	} else if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = time.Second
	}
	c := &Cluster{t: t, masters: o.Masters}
	for range o.Masters * (1 + o.Replicas) {
		n := newServer(t, o.Node, nil, func(s *Server) ([]string, error) {
			p, err := testproc.FreePort()
			s.busPort = p
			return []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10),
				"--cluster-port", strconv.Itoa(p),
				// A replica takes over however long ago it last heard
				// from its master.
				"--cluster-replica-validity-factor", "0",
			}, err
		})
		c.Nodes = append(c.Nodes, n)
		c.Addrs = append(c.Addrs, n.Addr)
	}
	for i, n := range c.Nodes {
		n.Do("CLUSTER", "SET-CONFIG-EPOCH", i+1)
		if i > 0 {
			n.Do("CLUSTER", "MEET", "127.0.0.1", c.Nodes[0].port, c.Nodes[0].busPort)
		}
	}
	for i, m := range c.Nodes[:o.Masters] {
		lo, hi := i*slots/o.Masters, (i+1)*slots/o.Masters-1
		m.Do("CLUSTER", "ADDSLOTSRANGE", lo, hi)
	}
	// Every node must know every master before a replica can follow one.
	c.wait(func() string {
		for _, n := range c.Nodes {
			nodes := fmt.Sprint(n.Do("CLUSTER", "NODES"))
			if k := strings.Count(nodes, "\n"); k < len(c.Nodes) || strings.Contains(nodes, "handshake") {
				return fmt.Sprintf("%s knows %d nodes; want %d", n.Addr, k, len(c.Nodes))
			}
		}
		return ""
	})
	for i, m := range c.Nodes[:o.Masters] {
		id := m.Do("CLUSTER", "MYID")
		for _, r := range c.Nodes[o.Masters+i*o.Replicas : o.Masters+(i+1)*o.Replicas] {
			r.Do("CLUSTER", "REPLICATE", id)
		}
	}
	c.WaitHealthy(30 * time.Second)
	return c
}

// Master returns the node that serves key's slot as a master now, by
// the first live node's account, or nil.
func (c *Cluster) Master(key string) *Server {
	c.t.Helper()
	for _, n := range c.Nodes {
		slot, err := n.do("CLUSTER", "KEYSLOT", key)
		if err != nil {
			continue
		}
		shards, err := n.do("CLUSTER", "SLOTS")
		if err != nil {
			continue
		}
		for _, s := range shards.([]any) {
			r := s.([]any)
			if slot.(int64) < r[0].(int64) || slot.(int64) > r[1].(int64) {
				continue
			}
			port := r[2].([]any)[1].(int64)
			for _, m := range c.Nodes {
				if int64(m.port) == port {
					return m
				}
			}
		}
		return nil
	}
	return nil
}

// WaitHealthy waits, at most timeout, until every live node says the
// cluster is ok, each slot's master is alive, and every live replica is in
// sync with its master.
func (c *Cluster) WaitHealthy(timeout time.Duration) {
	c.t.Helper()
	c.waitFor(timeout, c.unhealthy)
}

func (c *Cluster) unhealthy() string {
	for _, n := range c.live() {
		info, err := n.do("CLUSTER", "INFO")
		if err != nil {
			return fmt.Sprintf("%s: %v", n.Addr, err)
		}
		if !strings.Contains(fmt.Sprint(info), "cluster_state:ok") {
			return fmt.Sprintf("%s: cluster state not ok", n.Addr)
		}
		role, err := n.do("ROLE")
		if err != nil {
			return fmt.Sprintf("%s: %v", n.Addr, err)
		}
		if r := role.([]any); r[0] == "slave" && r[3] != "connected" {
			return fmt.Sprintf("replica %s: %v with its master", n.Addr, r[3])
		}
	}
	return ""
}

// live returns the nodes that are running.
func (c *Cluster) live() []*Server {
	var out []*Server
	for _, n := range c.Nodes {
		n.mu.Lock()
		if n.proc != nil {
			out = append(out, n)
		}
		n.mu.Unlock()
	}
	return out
}

func (c *Cluster) wait(notReady func() string) {
	c.t.Helper()
	c.waitFor(30*time.Second, notReady)
}

func (c *Cluster) waitFor(timeout time.Duration, notReady func() string) {
	c.t.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if last = notReady(); last == "" {
			return
		}
	}
	c.t.Fatalf("redistest: cluster not ready within %v: %s", timeout, last)
}
