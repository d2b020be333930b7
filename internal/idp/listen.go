package idp

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ListenLoopback listens on TCP at addr, which must be a loopback address:
// an IP in 127.0.0.0/8, ::1, or "localhost" (taken as 127.0.0.1, whatever
// the resolver says). "" and ":0" mean 127.0.0.1:0, and a bare ":port"
// means 127.0.0.1:port. Any other host, including the unspecified 0.0.0.0
// and ::, is refused: the development provider lets anyone sign in as
// anyone, so it must not be reachable from another machine.
func ListenLoopback(addr string) (net.Listener, error) {
	if addr == "" {
		addr = ":0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", addr, err)
	}
	switch {
	case host == "" || strings.EqualFold(strings.TrimSuffix(host, "."), "localhost"):
		host = "127.0.0.1"
	default:
		ip, err := netip.ParseAddr(host)
		if err != nil || ip.Zone() != "" || !ip.Unmap().IsLoopback() {
			return nil, fmt.Errorf("listen on %q: host %q is not a loopback address (127.0.0.0/8, ::1 or localhost)", addr, host)
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	if ta, ok := l.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		l.Close()
		return nil, fmt.Errorf("listen on %q: bound to %v, which is not loopback", addr, l.Addr())
	}
	return l, nil
}
