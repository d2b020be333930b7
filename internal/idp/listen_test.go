package idp_test

import (
	"net"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
)

func TestListenLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		wantOK bool
		ipv6   bool
	}{
		{"", true, false},
		{":0", true, false},
		{"127.0.0.1:0", true, false},
		{"127.0.0.2:0", true, false},
		{"localhost:0", true, false},
		{"[::1]:0", true, true},
		{"0.0.0.0:0", false, false},
		{"[::]:0", false, true},
		{"192.168.1.1:0", false, false},
		{"example.com:0", false, false},
		{"127.0.0.1", false, false}, // no port
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			if tt.wantOK && tt.ipv6 && !hasIPv6Loopback() {
				t.Skip("no IPv6 loopback on this machine: cannot listen on [::1]")
			}
			l, err := idp.ListenLoopback(tt.addr)
			if !tt.wantOK {
				if err == nil {
					l.Close()
					t.Errorf("ListenLoopback(%q) = %v, nil; want an error", tt.addr, l.Addr())
				}
				return
			}
			if err != nil {
				t.Fatalf("ListenLoopback(%q) = %v; want a listener", tt.addr, err)
			}
			defer l.Close()
			if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
				t.Errorf("ListenLoopback(%q) bound %v; want a loopback address", tt.addr, ip)
			}
		})
	}
}

func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}
