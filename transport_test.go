package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestUpstreamTransport checks the transport main gives the proxy: the
// UPSTREAM_* settings on it, and never a proxy from the environment.
func TestUpstreamTransport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		env          []string
		wantTimeout  time.Duration
		wantMaxConns int
		wantTLS      bool
	}{
		{name: "defaults"},
		{name: "set", env: []string{"PORTCULLIS_UPSTREAM_TIMEOUT", "7s", "PORTCULLIS_UPSTREAM_MAX_CONNS", "3", "PORTCULLIS_UPSTREAM_INSECURE_SKIP_VERIFY", "true"},
			wantTimeout: 7 * time.Second, wantMaxConns: 3, wantTLS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(envMap(withEnv(validEnv(), tt.env...)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := upstreamTransport(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if got.ResponseHeaderTimeout != tt.wantTimeout || got.MaxConnsPerHost != tt.wantMaxConns || got.Proxy != nil {
				t.Errorf("transport: header timeout %v, max conns %d, proxy set %t; want %v, %d, false",
					got.ResponseHeaderTimeout, got.MaxConnsPerHost, got.Proxy != nil, tt.wantTimeout, tt.wantMaxConns)
			}
			if gotTLS := got.TLSClientConfig != nil && got.TLSClientConfig.InsecureSkipVerify; gotTLS != tt.wantTLS {
				t.Errorf("transport skips TLS verification: %t; want %t", gotTLS, tt.wantTLS)
			}
		})
	}
}

// TestUpstreamMaxConns checks that UPSTREAM_MAX_CONNS bounds the
// connections to the upstream: a burst of requests to a slow upstream is
// served by at most that many at once, the rest waiting, and every
// request is answered.
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
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := active.Add(1)
			defer active.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			mu.Lock()
			conns[r.RemoteAddr] = true
			mu.Unlock()
			<-release
			io.WriteString(w, "ok")
		}))
		t.Cleanup(slow.Close)
		env := withEnv(validEnv(),
			"PORTCULLIS_UPSTREAM", slow.URL,
			"PORTCULLIS_SKIP_AUTH_ROUTES", "^/page$", // no sign-in: only the burst reaches the upstream
			"PORTCULLIS_UPSTREAM_MAX_CONNS", strconv.Itoa(tt.maxConns))
		front := serveEnv(t, env)

		var wg sync.WaitGroup
		codes := make(chan int, tt.requests)
		for range tt.requests {
			wg.Go(func() {
				resp, err := http.Get(front.URL + "/page")
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
		if tt.maxConns > 0 && len(conns) > tt.maxConns { // idle ones count too
			t.Errorf("max %d: the upstream saw %d connections", tt.maxConns, len(conns))
		}
	}
}
