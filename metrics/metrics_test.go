package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	t.Parallel()
	m := New()
	m.Requests.WithLabelValues("proxy", Code(200)).Inc()
	m.InFlight.Inc()
	m.SignIns.WithLabelValues("google", SignInOK).Inc()
	m.Refreshes.WithLabelValues("google", "ok").Inc()
	m.UpstreamDuration.WithLabelValues("200").Observe(0.01)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	rt := m.InstrumentProvider("google", nil, func(*http.Request) string { return "token" })
	resp, err := (&http.Client{Transport: rt}).Get(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`portcullis_requests_total{code="200",route="proxy"} 1`,
		`portcullis_requests_in_flight 1`,
		`portcullis_sign_ins_total{provider="google",result="ok"} 1`,
		`portcullis_token_refreshes_total{provider="google",result="ok"} 1`,
		`portcullis_provider_request_duration_seconds_count{endpoint="token",provider="google"} 1`,
		`portcullis_upstream_request_duration_seconds_count{code="200"} 1`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestCode(t *testing.T) {
	for _, status := range []int{-1, 0, 99, 100, 200, 302, 404, 599, 600, 1000} {
		if got, want := Code(status), strconv.Itoa(status); got != want {
			t.Errorf("Code(%d) = %q; want %q", status, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Code(http.StatusOK) }); n != 0 {
		t.Errorf("Code(200) allocates %v times; want 0", n)
	}
}
