package proxy

import (
	"crypto/tls"
	"net/http"
	"net/http/httputil"
	"reflect"
	"testing"
)

// TestSetXForwarded holds setXForwarded to httputil's SetXForwarded, which
// it replaces to save two allocations a request.
func TestSetXForwarded(t *testing.T) {
	tests := []struct {
		name       string
		remoteAddr string
		host       string
		tls        bool
		prior      []string
	}{
		{name: "IPv4", remoteAddr: "192.0.2.7:51234", host: "app.example.com"},
		{name: "IPv6", remoteAddr: "[2001:db8::1]:443", host: "app.example.com:8443", tls: true},
		{name: "no port", remoteAddr: "192.0.2.7", host: "app.example.com"},
		{name: "empty", remoteAddr: "", host: ""},
		{name: "prior", remoteAddr: "192.0.2.7:1", host: "h", prior: []string{"198.51.100.1", "198.51.100.2, 198.51.100.3"}},
		{name: "prior, no port", remoteAddr: "unix", host: "h", prior: []string{"198.51.100.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &http.Request{RemoteAddr: tt.remoteAddr, Host: tt.host, Header: http.Header{}}
			if tt.tls {
				in.TLS = &tls.ConnectionState{}
			}
			header := func() http.Header {
				h := http.Header{"Accept": {"*/*"}, "X-Forwarded-Host": {"spoofed"}, "X-Forwarded-Proto": {"spoofed"}}
				if tt.prior != nil {
					h["X-Forwarded-For"] = append([]string(nil), tt.prior...)
				}
				return h
			}
			want := &httputil.ProxyRequest{In: in, Out: &http.Request{Header: header()}}
			want.SetXForwarded()
			got := header()
			setXForwarded(got, in)
			if !reflect.DeepEqual(got, want.Out.Header) {
				t.Errorf("setXForwarded = %v; SetXForwarded = %v", got, want.Out.Header)
			}
			// The values share one array: appending to one must not
			// overwrite the next.
			for _, name := range []string{"X-Forwarded-For", "X-Forwarded-Host"} {
				if v, ok := got[name]; ok {
					got[name] = append(v, "appended")
				}
			}
			if got.Get("X-Forwarded-Host") != want.Out.Header.Get("X-Forwarded-Host") || got.Get("X-Forwarded-Proto") != want.Out.Header.Get("X-Forwarded-Proto") {
				t.Errorf("after appending, header = %v; an append overwrote a neighbour", got)
			}
		})
	}
}
