package e2e_test

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testproc"
)

// TestWrk loads Portcullis's auth endpoint and the nginx example with wrk
// and logs wrk's reports. It is a measurement, not a check, so it runs only
// when asked: PORTCULLIS_WRK=1 and wrk installed. PORTCULLIS_WRK_DURATION
// (default 10s) sets each run's length. Run it without -race.
func TestWrk(t *testing.T) {
	if os.Getenv("PORTCULLIS_WRK") != "1" {
		t.Skip("SKIP: set PORTCULLIS_WRK=1 to load the auth endpoint with wrk")
	}
	wrk := testproc.Require(t, "wrk", "apt-get install wrk")
	duration := os.Getenv("PORTCULLIS_WRK_DURATION")
	if duration == "" {
		duration = "10s"
	}
	s := newStack(t, stackOptions{})
	b := s.browser()
	resp, hops := b.Follow(s.nginx+"/", nil)
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in = %d after %v", resp.StatusCode, hops)
	}
	cookie := "_portcullis=" + b.Cookie("_portcullis")
	for _, target := range []struct{ name, url string }{
		{"Portcullis /oauth2/auth, direct", s.portcullis.URL + "/oauth2/auth"},
		{"nginx auth_request + app", s.nginx + "/"},
	} {
		out, err := exec.Command(wrk, "-t2", "-c32", "-d"+duration, "--latency",
			"-H", "Cookie: "+cookie, "-H", "Accept: application/json", target.url).CombinedOutput()
		if err != nil {
			t.Fatalf("wrk %s: %v\n%s", target.url, err, out)
		}
		t.Logf("%s:\n%s", target.name, out)
		if strings.Contains(string(out), "Non-2xx") {
			t.Errorf("%s: some answers were not 2xx", target.name)
		}
	}
}
