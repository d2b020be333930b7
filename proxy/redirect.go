package proxy

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirectLen bounds an rd value; longer ones fall back to "/".
const maxRedirectLen = 4096

// safeRedirect returns rd when it is a same-host path or an absolute http(s)
// URL whose host is ownHost or matches one of allowed, and "/" otherwise.
// ownHost is the host (with optional port) the user reached us on.
//
// Entries of allowed are "host", ".host" (the host and its subdomains),
// "host:port", and "host:*" (any port).
//
// Browsers are liberal in what they treat as a host: they turn backslashes
// into slashes, drop tabs and newlines anywhere and spaces at the ends, so
// "/\evil", "/\t/evil" and " //evil" all lead off-site. Anything with a
// backslash, a control character or a space is therefore refused outright.
func safeRedirect(rd, ownHost string, allowed []string) string {
	if rd == "" || len(rd) > maxRedirectLen {
		return "/"
	}
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if rd[0] == '/' {
		if len(rd) > 1 && rd[1] == '/' {
			return "/" // protocol-relative: //evil.example
		}
		u, err := url.Parse(rd)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
			return "/"
		}
		return rd
	}
	u, err := url.Parse(rd)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "/" // "https:evil", "https://user@evil", relative paths
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "/"
	}
	if !strings.HasPrefix(strings.ToLower(rd), u.Scheme+"://") {
		return "/"
	}
	if !redirectHostAllowed(u, ownHost, allowed) {
		return "/"
	}
	return rd
}

// redirectHostAllowed reports whether u's host is ownHost or one of allowed.
func redirectHostAllowed(u *url.URL, ownHost string, allowed []string) bool {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || strings.ContainsAny(host, "%@") {
		return false
	}
	if ownHost != "" {
		oh, op := splitHostPort(strings.ToLower(ownHost))
		if host == oh && port == op {
			return true
		}
	}
	return hostMatches(host, port, allowed)
}

// hostMatches reports whether host (lower-case) and port match one of
// allowed: "host", ".host" (the host and its subdomains), "host:port", and
// "host:*" (any port); a bare entry matches only a host without a port.
func hostMatches(host, port string, allowed []string) bool {
	if host == "" || strings.ContainsAny(host, "%@") {
		return false
	}
	for _, a := range allowed {
		ah, ap := splitHostPort(strings.ToLower(a))
		if ap != "*" && ap != port {
			continue
		}
		if sub, ok := strings.CutPrefix(ah, "."); ok {
			if host == sub || strings.HasSuffix(host, ah) {
				return true
			}
		} else if host == ah {
			return true
		}
	}
	return false
}

// splitHostPort splits "host:port" and leaves a bare host (or IPv6
// literal in brackets) alone.
func splitHostPort(hp string) (host, port string) {
	if h, p, err := net.SplitHostPort(hp); err == nil {
		return strings.Trim(h, "[]"), p
	}
	return strings.Trim(hp, "[]"), ""
}

// redirectTarget validates an rd value.
func (s *Server) redirectTarget(r *http.Request, rd string) string {
	return safeRedirect(rd, s.ownHost(r), s.site.AllowedRedirectDomains)
}
