// Package metrics defines Portcullis's Prometheus collectors. Labels are
// low-cardinality by construction: routes, status codes, provider ids and
// fixed result names, never users, paths or e-mail addresses.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the collectors the proxy updates.
type Metrics struct {
	Requests         *prometheus.CounterVec   // route, code
	InFlight         prometheus.Gauge         //
	SignIns          *prometheus.CounterVec   // provider, result
	Refreshes        *prometheus.CounterVec   // provider, result
	ProviderDuration *prometheus.HistogramVec // provider, endpoint
	UpstreamDuration *prometheus.HistogramVec // code
	registry         *prometheus.Registry
}

// Sign-in results.
const (
	SignInOK            = "ok"
	SignInDenied        = "denied"
	SignInProviderError = "provider_error"
	SignInStateError    = "state_error"
	SignInError         = "error"
)

// New returns collectors registered on a fresh registry, with the Go
// runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_requests_total",
			Help: "HTTP requests served, by route class and status code.",
		}, []string{"route", "code"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
		SignIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_sign_ins_total",
			Help: "Completed or failed sign-ins, by provider and result.",
		}, []string{"provider", "result"}),
		Refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_token_refreshes_total",
			Help: "Refresh-token grants at the provider (one per grant, however many requests share it), by provider and result.",
		}, []string{"provider", "result"}),
		ProviderDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_provider_request_duration_seconds",
			Help:    "Duration of calls to identity providers, by provider and endpoint.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"provider", "endpoint"}),
		UpstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_upstream_request_duration_seconds",
			Help:    "Time to the upstream's response headers, by status code (502 when it failed).",
			Buckets: prometheus.DefBuckets,
		}, []string{"code"}),
	}
	reg.MustRegister(m.Requests, m.InFlight, m.SignIns, m.Refreshes, m.ProviderDuration, m.UpstreamDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Code is an HTTP status as a label value. The valid statuses are made
// once: Code runs for every request, and strconv.Itoa allocates for them.
func Code(status int) string {
	if status >= 100 && status < 600 {
		return codes[status-100]
	}
	return strconv.Itoa(status)
}

var codes = func() (c [500]string) {
	for i := range c {
		c[i] = strconv.Itoa(i + 100)
	}
	return c
}()

// InstrumentProvider wraps an HTTP transport so each call to a provider is
// timed; endpoint names the call from its URL (without the query string).
func (m *Metrics) InstrumentProvider(provider string, next http.RoundTripper, endpoint func(*http.Request) string) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(r)
		m.ProviderDuration.WithLabelValues(provider, endpoint(r)).Observe(time.Since(start).Seconds())
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
