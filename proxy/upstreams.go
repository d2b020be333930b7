package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
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
	// handler proxies to an http, https or unix route; dir is a file
	// route's directory (files.go); status is a static route's answer.
	handler http.Handler
	dir     string
	status  int
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
		if slices.ContainsFunc(out, func(rt *upstreamRoute) bool { return rt.path == r.Path }) {
			return nil, fmt.Errorf("proxy: upstream route %q appears twice", r.Path)
		}
		if err := r.Check(); err != nil {
			return nil, fmt.Errorf("proxy: upstream route %q: %w", r.Path, err)
		}
		rt := &upstreamRoute{path: r.Path, stem: strings.TrimSuffix(r.Path, "/"), target: r.URL}
		rt.under = rt.stem != r.Path
		switch r.URL.Scheme {
		case "http", "https":
			if p := r.URL.Path; p != "" && p != "/" {
				rt.replace, rt.base, rt.rawBase = true, p, r.URL.EscapedPath()
			}
			rt.handler = s.newReverseProxy(rt, transport)
		case "unix":
			// The socket's path is no request path: the route's is kept.
			rt.target = &url.URL{Scheme: "http", Host: "localhost"}
			sock := r.URL.Path
			if sockets[sock] == nil {
				sockets[sock] = unixTransport(transport, sock)
			}
			rt.handler = s.newReverseProxy(rt, sockets[sock])
		case "file":
			rt.dir = filepath.Clean(r.URL.Path)
		case "static":
			rt.status, _ = staticStatus(r.URL) // Check read it
		}
		out = append(out, rt)
	}
	slices.SortStableFunc(out, func(a, b *upstreamRoute) int { return cmp.Compare(len(b.path), len(a.path)) })
	return out, nil
}

// Check reports what is wrong with r, if anything: a path that doesn't
// start with "/"; a URL that is none of http or https with a host,
// unix:///path/to.sock, file:///dir/ whose directory exists (Check
// looks), or static://CODE.
func (r UpstreamRoute) Check() error {
	u := r.URL
	switch {
	case !strings.HasPrefix(r.Path, "/"):
		return errors.New("the path does not start with /")
	case u == nil:
		return errors.New("no URL")
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("%s has no host", u.Redacted())
		}
	case "unix":
		if u.Host != "" || !path.IsAbs(u.Path) {
			return fmt.Errorf("%s: want unix:///path/to.sock", u.Redacted())
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" || !path.IsAbs(u.Path) || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("%s: want file:///path/to/dir/", u.Redacted())
		}
		fi, err := os.Stat(u.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%s: no such directory", u.Redacted())
		case err != nil:
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("%s: %v", u.Redacted(), err)
		case !fi.IsDir():
			return fmt.Errorf("%s: not a directory", u.Redacted())
		}
	case "static":
		if _, err := staticStatus(u); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown scheme %q", u.Scheme)
	}
	return nil
}

// staticStatus is the status of a static://CODE URL: CODE, from 200 to
// 599, or 200 for static:// alone (as oauth2-proxy's).
func staticStatus(u *url.URL) (int, error) {
	code := http.StatusOK
	if u.Host != "" {
		n, err := strconv.Atoi(u.Host)
		if err != nil || n < 200 || n > 599 || strings.TrimLeft(u.Host, "0123456789") != "" {
			return 0, fmt.Errorf("%s: want static://CODE, CODE a status from 200 to 599", u.Redacted())
		}
		code = n
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return 0, fmt.Errorf("%s: want static://CODE alone", u.Redacted())
	}
	return code, nil
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
