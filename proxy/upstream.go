package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/session"
)

// Proxy mode: the application's handler (protected) and the reverse
// proxy to the upstream; the headers it strips and sets are headers.go's.

// protected serves every path that is not one of ours: signed-in and
// allowed users go to the upstream; others are sent to sign in (browsers)
// or refused with 401.
func (s *Server) protected(w http.ResponseWriter, r *http.Request) {
	// The path is judged in every way the upstream may read it (decide).
	var d decision
	if len(s.access.Routes) > 0 { // no rules: no need to read the path at all
		var buf [4]string
		d = s.access.decide(s.access.methods(buf[:0], r.Method, r.Header), r.URL.Path, escapedPath(r.URL))
	}
	if d.public || s.access.SkipAuthPreflight && s.access.preflight(r, r.Method) {
		if len(s.upstreams) == 0 {
			s.notFound(w, r)
			return
		}
		s.serveUpstream(w, r, nil) // no identity; spoofed headers still stripped
		return
	}
	st, err := s.loadSession(w, r)
	if err != nil {
		s.authFailed(w, r, err)
		return
	}
	if st == nil {
		s.unauthenticated(w, r)
		return
	}
	if ok, why := s.access.allowed(st, d, nil); !ok {
		s.fail(w, r, http.StatusForbidden, "Access denied", why)
		return
	}
	if len(s.upstreams) == 0 {
		s.fail(w, r, http.StatusNotFound, "Page not found", "This Portcullis serves sign-in and forward-auth only; it has no upstream to show.")
		return
	}
	s.serveUpstream(w, r, st)
}

// unauthenticated sends a browser to sign in, coming back to where it was,
// and answers anyone else 401.
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request) {
	rd := r.URL.RequestURI()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rd = "/" // a form POST can't be replayed after sign-in
	}
	if !wantsHTML(r) {
		s.writeUnauthenticated(w, rd, "")
		return
	}
	setSecurityHeaders(w.Header())
	http.Redirect(w, r, s.signInURL(rd), http.StatusFound)
}

type ctxKey int

const upstreamKey ctxKey = 0

// upstreamCall carries the session and the start time from serveUpstream to
// the reverse proxy's hooks. It is the request's context itself, answering
// for upstreamKey and passing everything else to its parent: one allocation
// where context.WithValue would take two.
type upstreamCall struct {
	context.Context
	st    *session.State
	start time.Time
}

func (c *upstreamCall) Value(key any) any {
	if key == upstreamKey {
		return c
	}
	return c.Context.Value(key)
}

// newReverseProxy returns the proxy to rt's upstream. Its Rewrite strips
// what the client sent that only we may say (identity and connection
// headers in every spelling, our cookies; ReverseProxy itself drops only
// the canonical Forwarded and X-Forwarded-For, -Host and -Proto), sets the
// identity from the session found earlier in the request's context, and
// sets X-Forwarded-For, -Host and -Proto.
func (s *Server) newReverseProxy(rt *upstreamRoute, transport http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			var st *session.State
			c, _ := pr.In.Context().Value(upstreamKey).(*upstreamCall)
			if c != nil {
				st = c.st
			}
			h := s.outboundHeader(pr.Out.Header, st)
			stripOwnCookies(h, s.sessions.IsOwnCookie)
			if st != nil {
				s.identity.setUpstreamHeaders(h, st)
				if a := s.assertionFor(st); a != "" {
					h["X-Portcullis-Assertion"] = []string{a}
				}
			}
			pr.Out.Header = h
			rt.setURL(pr.Out.URL)
			setXForwarded(h, pr.In, s.trustsForwarded(pr.In))
			pr.Out.Host = pr.In.Host // like oauth2-proxy: the upstream sees the host the user asked for
		},
		Transport: transport,
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode < 100 || resp.StatusCode > 599 {
				return fmt.Errorf("upstream answered with invalid status %d", resp.StatusCode)
			}
			if c, ok := resp.Request.Context().Value(upstreamKey).(*upstreamCall); ok {
				s.metrics.UpstreamDuration.WithLabelValues(metrics.Code(resp.StatusCode)).Observe(time.Since(c.start).Seconds())
			}
			return nil
		},
		ErrorHandler: s.upstreamError,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BufferPool:   bufferPool{},
	}
}

// defaultTransport is the transport to the upstream when Options names
// none (tests; main passes the one UPSTREAM_* describe):
// http.DefaultTransport's, without a proxy from the environment, and
// keeping as many idle connections to the upstream as it keeps in all.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConnsPerHost = t.MaxIdleConns
	return t
}

// copyBuffers are the reverse proxy's body-copy buffers, reused: a fresh
// 32 KiB buffer per request was most of what a proxied request allocated.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// bufferPool lends copyBuffers to httputil.ReverseProxy.
type bufferPool struct{}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// serveUpstream sends r, for the signed-in user st (nil on a public
// route), to the upstream whose route takes its path; a path that no route
// takes gets 404.
func (s *Server) serveUpstream(w http.ResponseWriter, r *http.Request, st *session.State) {
	p, resolved := upstreamPath(r.URL.Path)
	rt := s.upstreams.route(p)
	if rt == nil {
		s.notFound(w, r)
		return
	}
	switch {
	case rt.dir != "":
		s.serveFile(w, r, rt, p)
		return
	case rt.status != 0:
		w.WriteHeader(rt.status) // and no body
		return
	}
	r = r.WithContext(&upstreamCall{Context: r.Context(), st: st, start: time.Now()})
	if resolved { // the upstream gets the path the route was chosen by
		u := *r.URL
		u.Path, u.RawPath = p, ""
		r.URL = &u
	}
	rt.handler.ServeHTTP(w, r)
}

// upstreamPath is the path a request is proxied by: its own (decoded)
// path, or, when escapes in it decode to "." or ".." segments or to a
// doubled slash (/a/%2e%2e/b, /a%2F..%2Fb), the path those resolve to
// (resolved is then true). The mux redirects such segments written
// plainly, but not escaped ones; resolved, the upstream gets the path that
// the rules judged among the path's readings and that most servers would
// act on, not one that a server which decodes it would read as another.
func upstreamPath(p string) (_ string, resolved bool) {
	if !strings.Contains(p, "/.") && !strings.Contains(p, "//") {
		return p, false // most paths: nothing to resolve
	}
	return resolveDots(p)
}

// upstreamError answers 502 when the upstream can't be reached or fails,
// and 408 when the request's body arrived too slowly to send (slowBody).
func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if sw, ok := w.(*statusWriter); ok && sw.body != nil && sw.body.timedOut(time.Now()) {
		s.bodyTooSlow(w, r) // the client's fault, not the upstream's
		return
	}
	if c, ok := r.Context().Value(upstreamKey).(*upstreamCall); ok {
		s.metrics.UpstreamDuration.WithLabelValues("502").Observe(time.Since(c.start).Seconds())
	}
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its URL may carry a query string with secrets
	}
	s.log.Warn("upstream request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.fail(w, r, http.StatusBadGateway, "The application is not responding",
		"Portcullis could not reach the application behind it. Try again in a moment.")
}
