package redistest

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// A Link relays TCP connections to a Redis server, and can hold back what
// the server sends to its replicas, as a slow or broken network path
// between them would: a replica that reaches its master through a Link
// gets the master's writes only when the Link lets them through. Other
// connections (clients, Sentinels) pass freely. A connection is a
// replica's once it has sent REPLCONF.
type Link struct {
	// Port is where the Link listens, on 127.0.0.1.
	Port int

	ln     net.Listener
	target string

	mu    sync.Mutex
	held  bool
	open  *sync.Cond // signalled when held turns false or the link is cut
	conns map[net.Conn]bool
	cuts  int // bumped by Cut: relays of an older generation drop their data
}

// NewLink starts a Link to target (host:port) for t.
func NewLink(t testing.TB, target string) *Link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: link: %v", err)
	}
	l := &Link{Port: ln.Addr().(*net.TCPAddr).Port, ln: ln, target: target, conns: map[net.Conn]bool{}}
	l.open = sync.NewCond(&l.mu)
	t.Cleanup(func() {
		ln.Close()
		l.Release()
		l.Cut()
	})
	go l.accept()
	return l
}

// Addr is the Link's host:port.
func (l *Link) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Port)) }

// Hold makes what the server sends its replicas wait in the Link.
func (l *Link) Hold() {
	l.mu.Lock()
	l.held = true
	l.mu.Unlock()
}

// Release lets what the server sent its replicas, and sends, through.
func (l *Link) Release() {
	l.mu.Lock()
	l.held = false
	l.open.Broadcast()
	l.mu.Unlock()
}

// Cut closes every relayed connection; what the Link held back is lost,
// as it is when a master dies with it unsent.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cuts++
	for c := range l.conns {
		c.Close()
	}
	clear(l.conns)
	l.open.Broadcast()
}

func (l *Link) accept() {
	for {
		client, err := l.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", l.target)
		if err != nil {
			client.Close()
			continue
		}
		l.mu.Lock()
		gen := l.cuts
		l.conns[client], l.conns[server] = true, true
		l.mu.Unlock()
		var replica atomic.Bool
		go func() {
			defer server.Close()
			io.Copy(server, &sniffer{r: client, found: &replica})
		}()
		go l.relay(client, server, gen, &replica)
	}
}

// relay copies from server to client, waiting while the Link holds and
// the client is a replica.
func (l *Link) relay(client, server net.Conn, gen int, replica *atomic.Bool) {
	defer client.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			l.mu.Lock()
			for l.held && replica.Load() && l.cuts == gen {
				l.open.Wait()
			}
			cut := l.cuts != gen
			l.mu.Unlock()
			if cut {
				return
			}
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A sniffer reads r and notes when REPLCONF goes by.
type sniffer struct {
	r     io.Reader
	found *atomic.Bool
}

func (s *sniffer) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if !s.found.Load() && bytes.Contains(bytes.ToUpper(p[:n]), []byte("REPLCONF")) {
		s.found.Store(true)
	}
	return n, err
}
