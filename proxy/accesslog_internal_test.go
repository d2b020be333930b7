package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// clientAddrServer trusts peers in 10.0.0.0/8 (or any peer, with none).
func clientAddrServer(proxies ...string) *Server {
	s := &Server{trust: Trust{ForwardedHeaders: true}}
	for _, p := range proxies {
		s.trust.Proxies = append(s.trust.Proxies, netip.MustParsePrefix(p))
	}
	return s
}

// FuzzClientAddr: whatever X-Forwarded-For holds, the client address is
// the peer's or an address that the header holds as an entry, and never
// one written to the left of an address that is not a trusted proxy's.
func FuzzClientAddr(f *testing.F) {
	for _, seed := range []string{
		"203.0.113.7", "198.51.100.1, 203.0.113.7, 10.0.0.9", "unknown", "", ",,,", "[2001:db8::1]:80, 10.0.0.2",
		"10.0.0.1,10.0.0.2", "1.2.3.4:5, junk, 10.9.9.9", "\x00, 10.0.0.1",
	} {
		f.Add(seed, true)
	}
	servers := []*Server{clientAddrServer("10.0.0.0/8"), clientAddrServer()}
	f.Fuzz(func(t *testing.T, xff string, anyPeer bool) {
		s := servers[0]
		if anyPeer {
			s = servers[1]
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.1:1234"
		r.Header["X-Forwarded-For"] = []string{xff}
		got := s.clientAddr(r)
		if got == "10.0.0.1" {
			return
		}
		entries := strings.Split(xff, ",")
		at := -1
		for i, e := range entries {
			if strings.TrimSpace(e) == got {
				at = i
			}
		}
		if at < 0 {
			t.Fatalf("clientAddr(%q) = %q: neither the peer nor an entry", xff, got)
		}
		if _, err := netip.ParseAddr(got); err != nil {
			if _, err := netip.ParseAddrPort(got); err != nil {
				t.Fatalf("clientAddr(%q) = %q, not an address", xff, got)
			}
		}
		if anyPeer && at != len(entries)-1 && strings.TrimSpace(strings.Join(entries[at+1:], "")) != "" {
			t.Fatalf("clientAddr(%q) = %q; any peer trusted: want the right-most entry", xff, got)
		}
		for _, e := range entries[at+1:] {
			if a, err := netip.ParseAddr(strings.TrimSpace(e)); err == nil && !s.trustedProxy(a) {
				t.Fatalf("clientAddr(%q) = %q, left of the untrusted %q", xff, got, e)
			}
		}
	})
}

// TestClientAddrAllocations: reading the client's address allocates
// nothing, trusted or not.
func TestClientAddrAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts don't hold under the race detector")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1234"
	r.Header = http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.7, 10.0.0.9"}}
	for _, s := range []*Server{{}, clientAddrServer("10.0.0.0/8"), clientAddrServer()} {
		if n := testing.AllocsPerRun(100, func() { _ = s.clientAddr(r) }); n != 0 {
			t.Errorf("clientAddr allocates %v times; want 0", n)
		}
	}
}
