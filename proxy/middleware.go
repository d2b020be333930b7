package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/session"
)

// statusWriter records what the access log needs: the status the handler
// wrote and who the request was for. Unwrap lets http.ResponseController
// reach Flush and Hijack (streaming, WebSocket).
type statusWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64 // of the body, as written
	user     string
	provider string

	requestID [1]string // the X-Request-Id header's value, both ways

	// body is the request's body when guardBody bounds it: the reverse
	// proxy's ErrorHandler, which sees only a wrapper of it, asks it
	// whether the client was too slow.
	body *slowBody
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
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteUser tells the access log whose request w answers.
func noteUser(w http.ResponseWriter, st *session.State) {
	if sw, ok := w.(*statusWriter); ok && st != nil {
		sw.user, sw.provider = st.User, st.Provider
	}
}

// requestID returns the client's X-Request-Id when it is a sane token, or
// a new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		ok := true
		for i := 0; i < len(id) && ok; i++ {
			c := id[i]
			ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ':'
		}
		if ok {
			return id
		}
	}
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// maxLoggedAgent is the most of a User-Agent the access log keeps.
const maxLoggedAgent = 512

// instrument counts requests by route class and status, tracks those in
// flight, gives each request an X-Request-Id (passed upstream and
// answered), bounds the time its body may take (guardBody), and writes
// one access-log line per request: the client's address (clientAddr),
// the Host, the method, the path (decoded, without the query string,
// which may hold codes and tokens), the status, the body's bytes (none for
// HEAD; a WebSocket's traffic after the upgrade is not counted), the
// duration, the user and provider, the User-Agent (its first
// maxLoggedAgent bytes) and the request id; no cookies, no other headers.
func (s *Server) instrument(m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.InFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		id := requestID(r)
		// One value for both headers, kept in sw: its capacity is 1, so an
		// append to either (an upstream answering its own X-Request-Id)
		// copies it first.
		sw.requestID[0] = id
		r.Header["X-Request-Id"] = sw.requestID[:1:1]
		w.Header()["X-Request-Id"] = sw.requestID[:1:1]
		if sw.body = s.guardBody(sw, r, start); sw.body != nil {
			defer sw.body.settle()
		}
		route := s.routeClass(r)
		if route != "proxy" {
			// Our own pages, redirects and answers; the upstream's are its own.
			setSecurityHeaders(w.Header())
		}
		defer func() {
			m.InFlight.Dec()
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			m.Requests.WithLabelValues(route, metrics.Code(status)).Inc()
			if !s.log.Enabled(r.Context(), slog.LevelInfo) {
				return
			}
			bytes := sw.bytes
			if r.Method == http.MethodHead {
				bytes = 0 // written by the handler, dropped by the server
			}
			agent := r.Header.Get("User-Agent")
			if len(agent) > maxLoggedAgent {
				agent = agent[:maxLoggedAgent]
			}
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("client", s.clientAddr(r)),
				slog.String("host", r.Host),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Int64("bytes", bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("user", sw.user),
				slog.String("provider", sw.provider),
				slog.String("user_agent", agent),
				slog.String("request_id", id),
			)
		}()
		next.ServeHTTP(sw, r)
	})
}
