package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

// Several upstreams: Options.Upstream's routes as New prepares them, the
// route a request's path takes (the longest that matches), and the path
// it arrives with there. The reverse proxy itself is upstream.go's.

// upstreamRoute is one route of Options.Upstream, prepared.
type upstreamRoute struct {
	// path is the route's path as configured. When under (it ends in
	// "/") it takes the paths that start with it; otherwise it takes
	// itself and the paths under it (path + "/…").
	path  string
	under bool
	// stem is path without its trailing "/": the part of a request's
	// path that a replacing URL path takes the place of.
	stem   string
	target *url.URL
	// replace says the target's path replaces stem: base and rawBase
	// are that path, decoded and escaped. A target path of "" or "/"
	// keeps the request's path as it is.
	replace       bool
	base, rawBase string
	handler       http.Handler
}

// upstreams are the routes, the longest path first; none: forward-auth
// only.
type upstreams []*upstreamRoute

// newUpstreams prepares o's routes (o.URL is the route of "/"), each
// with the handler that serves it.
func (s *Server) newUpstreams(o Upstream) (upstreams, error) {
	routes := o.Routes
	if o.URL != nil {
		if len(routes) > 0 {
			return nil, errors.New("proxy: Upstream.URL and Upstream.Routes are both set")
		}
		routes = []UpstreamRoute{{Path: "/", URL: o.URL}}
	}
	if len(routes) == 0 {
		return nil, nil
	}
	transport := o.Transport
	if transport == nil {
		transport = defaultTransport()
	}
	out := make(upstreams, 0, len(routes))
	sockets := map[string]http.RoundTripper{} // one transport a socket
	for _, r := range routes {
		switch {
		case !strings.HasPrefix(r.Path, "/"):
			return nil, fmt.Errorf("proxy: upstream route %q does not start with /", r.Path)
		case r.URL == nil:
			return nil, fmt.Errorf("proxy: upstream route %q has no URL", r.Path)
		case slices.ContainsFunc(out, func(rt *upstreamRoute) bool { return rt.path == r.Path }):
			return nil, fmt.Errorf("proxy: upstream route %q appears twice", r.Path)
		}
		rt := &upstreamRoute{path: r.Path, stem: strings.TrimSuffix(r.Path, "/"), target: r.URL}
		rt.under = rt.stem != r.Path
		switch r.URL.Scheme {
		case "http", "https":
			if r.URL.Host == "" {
				return nil, fmt.Errorf("proxy: upstream route %q: %s has no host", r.Path, r.URL.Redacted())
			}
			if p := r.URL.Path; p != "" && p != "/" {
				rt.replace, rt.base, rt.rawBase = true, p, r.URL.EscapedPath()
			}
			rt.handler = s.newReverseProxy(rt, transport)
		case "unix":
			sock := r.URL.Path
			if r.URL.Host != "" || !path.IsAbs(sock) {
				return nil, fmt.Errorf("proxy: upstream route %q: want unix:///path/to.sock, got %s", r.Path, r.URL.Redacted())
			}
			// The socket's path is no request path: the route's is kept.
			rt.target = &url.URL{Scheme: "http", Host: "localhost"}
			if sockets[sock] == nil {
				sockets[sock] = unixTransport(transport, sock)
			}
			rt.handler = s.newReverseProxy(rt, sockets[sock])
		default:
			return nil, fmt.Errorf("proxy: upstream route %q: unknown scheme %q", r.Path, r.URL.Scheme)
		}
		out = append(out, rt)
	}
	slices.SortStableFunc(out, func(a, b *upstreamRoute) int { return cmp.Compare(len(b.path), len(a.path)) })
	return out, nil
}

// unixTransport is base's settings (timeouts, most connections), when it
// is an *http.Transport, else the default transport's, dialing the Unix
// socket sock for every connection.
func unixTransport(base http.RoundTripper, sock string) *http.Transport {
	t, ok := base.(*http.Transport)
	if ok {
		t = t.Clone()
	} else {
		t = defaultTransport()
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, "unix", sock)
	}
	t.DialTLSContext = nil
	t.Proxy = nil
	return t
}

// route returns the route that takes the path p (decoded and resolved:
// upstreamPath), or nil. Routes are few and sorted longest first, so
// the first that matches is the longest, found without allocating.
func (us upstreams) route(p string) *upstreamRoute {
	for _, rt := range us {
		if rt.matches(p) {
			return rt
		}
	}
	return nil
}

// matches reports whether rt takes the path p.
func (rt *upstreamRoute) matches(p string) bool {
	if !strings.HasPrefix(p, rt.path) {
		return false
	}
	return rt.under || len(p) == len(rt.path) || p[len(rt.path)] == '/'
}

// setURL points out, the outgoing request's URL (its path the one rt was
// chosen by), at rt's upstream, as httputil.ProxyRequest.SetURL does,
// rt's path replaced by the target's when it has one.
func (rt *upstreamRoute) setURL(out *url.URL) {
	if rt.replace {
		out.Path, out.RawPath = rt.replacePath(out.Path, out.RawPath)
	}
	out.Scheme, out.Host = rt.target.Scheme, rt.target.Host
	if q := rt.target.RawQuery; q != "" {
		if out.RawQuery == "" {
			out.RawQuery = q
		} else {
			out.RawQuery = q + "&" + out.RawQuery
		}
	}
}

// replacePath returns the path p (and raw, its escaped form when it is
// not the default one: url.URL's RawPath) with rt's stem replaced by the
// target's path: /api/=…/v1/ sends /api/x to /v1/x and /api/ to /v1/;
// /healthz=…/status sends /healthz to /status and /healthz/x to
// /status/x. An escaped slash that ends the stem (/api%2Fx, which
// matched as /api/x) is written as a slash.
func (rt *upstreamRoute) replacePath(p, raw string) (string, string) {
	if !strings.HasPrefix(p, rt.stem) {
		return p, raw // not chosen by p: can't happen
	}
	rest := p[len(rt.stem):] // "" or "/…"
	if rest == "" {
		return rt.base, rt.rawBase
	}
	base := strings.TrimSuffix(rt.base, "/")
	if raw == "" {
		return base + rest, ""
	}
	rawRest := afterDecoded(raw, len(rt.stem))
	if len(rawRest) >= 3 && rawRest[0] == '%' && rawRest[1] == '2' && (rawRest[2] == 'F' || rawRest[2] == 'f') {
		rawRest = "/" + rawRest[3:]
	}
	return base + rest, strings.TrimSuffix(rt.rawBase, "/") + rawRest
}

// afterDecoded returns what follows the first n decoded bytes of the
// escaped path raw (each escape %XX decodes to one byte).
func afterDecoded(raw string, n int) string {
	i := 0
	for ; n > 0 && i < len(raw); n-- {
		if raw[i] == '%' {
			i += 3
		} else {
			i++
		}
	}
	return raw[min(i, len(raw)):]
}
