package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestPeerWithoutAddress: a client on a Unix socket (LISTEN=unix:…) has no
// address: net/http gives RemoteAddr "@" (Linux's unnamed peer) or "".
// Such a peer is trusted only when TRUST_FORWARDED_HEADERS trusts every
// peer, never by a TRUSTED_PROXIES entry; no address of its own is
// appended to X-Forwarded-For, whose value it sends reaches the upstream
// only when trusted.
func TestPeerWithoutAddress(t *testing.T) {
	s := routingServer(t)
	some := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	for _, remote := range []string{"@", "", "/run/portcullis.sock"} {
		for _, tt := range []struct {
			trust   Trust
			trusted bool
			xff     string
		}{
			{Trust{}, false, ""},
			{Trust{ForwardedHeaders: true}, true, "203.0.113.9, 198.51.100.2"},
			{Trust{ForwardedHeaders: true, Proxies: some}, false, ""},
		} {
			s.trust = tt.trust
			r := httptest.NewRequest("GET", "http://app.test/x", nil)
			r.RemoteAddr = remote
			r.Header["X-Forwarded-For"] = []string{"203.0.113.9", "198.51.100.2"}
			if got := s.trustsForwarded(r); got != tt.trusted {
				t.Errorf("RemoteAddr %q, %+v: trustsForwarded = %v; want %v", remote, tt.trust, got, tt.trusted)
			}
			out := http.Header{}
			setXForwarded(out, r, s.trustsForwarded(r))
			if got := strings.Join(out["X-Forwarded-For"], ", "); got != tt.xff {
				t.Errorf("RemoteAddr %q, %+v: X-Forwarded-For upstream = %q; want %q", remote, tt.trust, got, tt.xff)
			}
			if got := out.Get("X-Forwarded-Host"); got != "app.test" {
				t.Errorf("RemoteAddr %q: X-Forwarded-Host upstream = %q; want app.test", remote, got)
			}
		}
	}
}
