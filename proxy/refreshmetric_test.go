package proxy_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/proxy"
)

// TestRefreshMetricCountsGrants: portcullis_token_refreshes_total counts
// grants at the provider, one each, not the requests that shared one
// (concurrently, or later from the remembered outcome).
func TestRefreshMetricCountsGrants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		result string
		idp    func(*idp.Options)
		grants int
	}{
		{"ok", nil, 1},
		{"invalid_grant", func(o *idp.Options) { o.TokenError = "invalid_grant" }, 1},
		{"transient", func(o *idp.Options) { o.TokenStatus = 503 }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.result, func(t *testing.T) {
			t.Parallel()
			c := testclock.Wall()
			m := metrics.New()
			h, b := lifecycleHarness(t, c, nil, func(o *proxy.Options) { o.Metrics = m })
			h.idp.SetOptions(func(o *idp.Options) {
				o.Delay = 50 * time.Millisecond // the grant is in flight while the others arrive
				if tc.idp != nil {
					tc.idp(o)
				}
			})
			c.Advance(2 * time.Hour)
			const n = 20
			var wg sync.WaitGroup
			client := stack.HTTPClient(t)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sendWithCookies(t, client, h.proxy.URL+"/page", b.Cookies)
				}()
			}
			wg.Wait()
			sendWithCookies(t, client, h.proxy.URL+"/late", b.Cookies) // the old cookie again: the remembered outcome
			if got := h.idp.Calls("refresh"); got != tc.grants {
				t.Fatalf("refresh grants = %d; want %d", got, tc.grants)
			}
			for _, result := range []string{"ok", "invalid_grant", "transient", "no_refresh_token"} {
				want := 0.0
				if result == tc.result {
					want = float64(tc.grants)
				}
				if got := counter(t, m, `portcullis_token_refreshes_total{provider="oauth2",result="`+result+`"}`); got != want {
					t.Errorf("portcullis_token_refreshes_total{result=%q} = %v after %d requests sharing %d grant; want %v", result, got, n+1, tc.grants, want)
				}
			}
		})
	}
}

// sendWithCookies GETs url with c as an API client with cookies.
func sendWithCookies(t *testing.T, c *http.Client, url string, cookies map[string]*http.Cookie) {
	t.Helper()
	resp, err := c.Do(apiRequest(url, cookies))
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return
	}
	resp.Body.Close()
}

// counter reads one series (name{labels}) from m's exposition; 0 when absent.
func counter(t *testing.T, m *metrics.Metrics, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("series %s: %v", series, err)
			}
			return f
		}
	}
	return 0
}
