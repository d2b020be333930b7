package proxy

import (
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/metrics"
)

// routeClass names a request's route for metrics, from a fixed set.
func routeClass(path string) string {
	rest, ok := strings.CutPrefix(path, "/oauth2/")
	if !ok {
		if path == "/ping" || path == "/ready" {
			return "other"
		}
		return "proxy"
	}
	switch rest {
	case "auth":
		return "auth"
	case "forward-auth":
		return "forward_auth"
	case "sign_in", "start", "callback", "sign_out", "userinfo":
		return rest
	}
	return "other"
}

// statusWriter records the status a handler wrote. Unwrap lets
// http.ResponseController reach Flush and Hijack (streaming, WebSocket).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts requests by route class and status, tracks those in
// flight, and writes one access-log line per request at debug level.
func (s *Server) instrument(m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.InFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			m.InFlight.Dec()
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			route := routeClass(r.URL.Path)
			m.Requests.WithLabelValues(route, metrics.Code(status)).Inc()
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "route", route,
				"status", status, "duration", time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}
