package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// An UpstreamRoute is one route of PORTCULLIS_UPSTREAM: the requests whose
// path is under Path go to URL. The longest Path that matches a request
// wins.
type UpstreamRoute struct {
	// Path is "/" (every path), a prefix ending in "/" (the paths that
	// start with it: "/api/" takes /api/x but not /api), or a path
	// without one (that path and the paths under it: "/healthz" takes
	// /healthz and /healthz/x but not /healthzx). It is a clean path,
	// matched against the request's decoded path, case and all.
	Path string
	// URL is where those requests go: an http or https URL, whose path,
	// unless it is "/", replaces Path in the requests it gets;
	// unix:///path/to.sock, HTTP over that Unix socket, Path kept; or
	// file:///path/to/dir/, the files under that directory, served at
	// Path (whether the directory exists is main's check, not Load's);
	// or static://CODE, that status with an empty body (static:// alone:
	// 200).
	URL *url.URL
}

// String returns the route as it is written in PORTCULLIS_UPSTREAM,
// PATH=URL, with a password in the URL hidden.
func (r UpstreamRoute) String() string {
	return r.Path + "=" + r.url()
}

// url is r's URL as written, with a password hidden.
func (r UpstreamRoute) url() string {
	if r.URL.Scheme == "static" && r.URL.Host == "" {
		return "static://" // url.URL writes "static:"
	}
	return redactURL(r.URL.String())
}

// formatUpstreams writes routes as PORTCULLIS_UPSTREAM: one URL alone
// when it takes every path, else PATH=URL routes.
func formatUpstreams(routes []UpstreamRoute) string {
	if len(routes) == 1 && routes[0].Path == "/" {
		return routes[0].url()
	}
	return joinStrings(routes)
}

// upstreamSchemes are the schemes an upstream URL may have, as listed in
// messages.
const upstreamSchemes = "http://, https://, unix://, file:// or static://"

// parseUpstreams reads PORTCULLIS_UPSTREAM: one URL, which takes every
// path, or a comma list of PATH=URL routes. Every problem is an error of
// its own, naming the route; none quotes a password.
func parseUpstreams(v string) (any, error) {
	entries := splitList(v)
	if len(entries) == 0 {
		return nil, errors.New("no URL and no PATH=URL route")
	}
	if len(entries) == 1 && !strings.HasPrefix(entries[0], "/") {
		u, err := upstreamURL(entries[0])
		if err != nil {
			return nil, err
		}
		return []UpstreamRoute{{Path: "/", URL: u}}, nil
	}
	var (
		out  []UpstreamRoute
		errs []error
		seen = map[string]bool{}
	)
	for _, e := range entries {
		p, raw, ok := strings.Cut(e, "=")
		p, raw = strings.TrimSpace(p), strings.TrimSpace(raw)
		if !ok || !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("%q: want PATH=URL, the path starting with / (/api/=http://api:8080), or one URL alone", redactEntry(e)))
			continue
		}
		if err := checkRoutePath(p); err != nil {
			errs = append(errs, fmt.Errorf("route %q: %v", p, err))
			continue
		}
		if seen[p] {
			errs = append(errs, fmt.Errorf("route %q is listed twice", p))
			continue
		}
		seen[p] = true
		if raw == "" {
			errs = append(errs, fmt.Errorf("route %q: no URL after =", p))
			continue
		}
		u, err := upstreamURL(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %q: %v", p, err))
			continue
		}
		out = append(out, UpstreamRoute{Path: p, URL: u})
	}
	return out, errors.Join(errs...)
}

// redactEntry is a route as written, with a password in its URL hidden.
func redactEntry(e string) string {
	if p, raw, ok := strings.Cut(e, "="); ok && !strings.Contains(p, "://") {
		return p + "=" + redactURL(raw)
	}
	return redactURL(e)
}

// checkRoutePath checks a route's path: it is matched against decoded,
// clean request paths, so it must be one too.
func checkRoutePath(p string) error {
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '?' || r == '#' || r == '%' }) {
		return errors.New("a path is matched decoded: write it without escapes (%), ?, # or control characters")
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(p[1:], "/"), "/") {
		if seg == "" && p != "/" || seg == "." || seg == ".." {
			return errors.New("must be a clean path: no empty, . or .. segment")
		}
	}
	return nil
}

// upstreamURL parses and checks one upstream URL.
func upstreamURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL may hold a password
		}
		return nil, fmt.Errorf("not a URL: %v", err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("%q has no host", redactURL(raw))
		}
	case "unix":
		if u.Host != "" || !path.IsAbs(u.Path) || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q: want unix:///path/to.sock, the socket's absolute path", redactURL(raw))
		}
	case "file":
		if u.Fragment != "" {
			return nil, fmt.Errorf("%q: a fragment (oauth2-proxy's way to say where the files are served) is no part of it: write the route's path before =, /static/=file:///var/www/", redactURL(raw))
		}
		if u.Host != "" && u.Host != "localhost" || !path.IsAbs(u.Path) || u.RawQuery != "" {
			return nil, fmt.Errorf("%q: want file:///path/to/dir/, the directory's absolute path", redactURL(raw))
		}
	case "static":
		n, err := strconv.Atoi(cmp.Or(u.Host, "200"))
		if err != nil || n < 200 || n > 599 || strings.TrimLeft(u.Host, "0123456789") != "" ||
			u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("%q: want static://CODE, CODE a status from 200 to 599", redactURL(raw))
		}
	default:
		return nil, fmt.Errorf("%q: want an %s URL", redactURL(raw), upstreamSchemes)
	}
	return u, nil
}
