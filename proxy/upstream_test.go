package proxy_test

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/proxy"
)

// TestUpstreamMaxConns checks that UPSTREAM_MAX_CONNS bounds the
// connections to the upstream: a burst of signed-in requests to a slow
// upstream is served by at most that many at once, the rest waiting, and
// every request is answered.
func TestUpstreamMaxConns(t *testing.T) {
	tests := []struct {
		maxConns, requests, want int
	}{
		{maxConns: 2, requests: 12, want: 2},
		{maxConns: 0, requests: 12, want: 12}, // no limit: all at once
	}
	for _, tt := range tests {
		var active, peak atomic.Int32
		var mu sync.Mutex
		conns := map[string]bool{}
		release := make(chan struct{})
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/page" {
				return // the sign-in's landing page
			}
			n := active.Add(1)
			defer active.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			mu.Lock()
			conns[r.RemoteAddr] = true
			mu.Unlock()
			<-release
			io.WriteString(w, "ok")
		})
		h := newHarness(t, setup{upstream: slow, proxy: func(o *proxy.Options) { o.UpstreamMaxConns = tt.maxConns }})
		b := h.browser()
		if resp, hops := b.follow("/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("sign-in ended with %d after %v", resp.StatusCode, hops)
		}

		var wg sync.WaitGroup
		codes := make(chan int, tt.requests)
		for range tt.requests {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", h.proxy.URL+"/page", nil)
				for _, c := range b.cookies {
					req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("GET /page: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes <- resp.StatusCode
			})
		}
		// Hold the upstream until as many requests as may be there are;
		// with a limit, a few more moments show that no more get in.
		deadline := time.Now().Add(5 * time.Second)
		for peak.Load() < int32(tt.want) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if tt.maxConns > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		close(release)
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != http.StatusOK {
				t.Errorf("max %d: a request got %d; want 200", tt.maxConns, c)
			}
		}
		if got := int(peak.Load()); got != tt.want {
			t.Errorf("max %d: %d requests at the upstream at once; want %d", tt.maxConns, got, tt.want)
		}
		if tt.maxConns > 0 && len(conns) > tt.maxConns { // idle ones count too, the sign-in's included
			t.Errorf("max %d: the upstream saw %d connections", tt.maxConns, len(conns))
		}
	}
}
