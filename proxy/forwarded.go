package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// What an ingress in front says: whose X-Forwarded-* headers are believed
// (trustsForwarded), and the original request a forward-auth call asks
// about (originalRequest).

// trustsForwarded reports whether r's X-Forwarded-* headers may be believed:
// TRUST_FORWARDED_HEADERS is on and, when TRUSTED_PROXIES is set, the peer
// is one of them.
func (s *Server) trustsForwarded(r *http.Request) bool {
	if !s.trust.ForwardedHeaders {
		return false
	}
	if len(s.trust.Proxies) == 0 {
		return true
	}
	ip, err := netip.ParseAddr(peerHost(r))
	return err == nil && s.trustedProxy(ip)
}

// trustedProxy reports whether ip is in TRUSTED_PROXIES.
func (s *Server) trustedProxy(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.trust.Proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// peerHost is r's peer's address without its port.
func peerHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientAddr is the client's address, for the access log. From a peer
// whose X-Forwarded-* are believed (trustsForwarded), it is read from the
// peer's X-Forwarded-For, right to left: the right-most address that is
// not a TRUSTED_PROXIES one or, when any peer is trusted (no
// TRUSTED_PROXIES), the right-most, which that peer added. What stands to
// its left was written by whoever reached the proxy, anyone, so it is
// never believed; an entry that is not an address (ip, or ip:port) ends
// the walk at the address to its right. From any other peer, and when the
// header holds no address, it is the peer's address. It allocates nothing:
// the address is a part of the header as sent, or of RemoteAddr.
func (s *Server) clientAddr(r *http.Request) string {
	client := peerHost(r)
	if !s.trustsForwarded(r) {
		return client
	}
	lines := r.Header["X-Forwarded-For"]
	for i := len(lines) - 1; i >= 0; i-- {
		for rest := lines[i]; rest != ""; {
			entry := rest
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				entry, rest = rest[j+1:], rest[:j]
			} else {
				rest = ""
			}
			if entry = strings.TrimSpace(entry); entry == "" {
				continue
			}
			ip, err := netip.ParseAddr(entry)
			if err != nil {
				ap, perr := netip.ParseAddrPort(entry)
				if perr != nil {
					return client
				}
				ip = ap.Addr()
			}
			client = entry
			if len(s.trust.Proxies) == 0 || !s.trustedProxy(ip) {
				return client
			}
		}
	}
	return client
}

// original is the request an ingress asks us about on a forward-auth call.
type original struct {
	// known is false when the request is unknown: its headers are not
	// trusted, name no URI, disagree, or one is malformed.
	known   bool
	method  string // upper-case; "" when no header names it
	decoded string // the path, percent-decoded
	escaped string // the path as sent
	url     string // absolute URL to come back to after sign-in; "" if unknown
}

// An originalSource is a header that names the original request, and how
// to read it: the value it stands for, and false if it is malformed.
type originalSource struct {
	name string // canonical
	read func(string) (string, bool)
}

// Ingresses name the original request differently, and most pass the
// client's own headers along beside theirs.
var (
	uriSources = [...]originalSource{
		{"X-Original-Uri", readRequestURI},  // nginx examples
		{"X-Forwarded-Uri", readRequestURI}, // Traefik, Caddy, Envoy, examples/nginx
		{"X-Original-Url", readOriginalURL}, // ingress-nginx: a whole URL
	}
	// rewriteSources are read by apps (IIS URL Rewrite, Zend Framework)
	// but sent by no ingress: one that is present must agree with the
	// sources above, and alone it never names the original request.
	rewriteSources = [...]originalSource{
		{"X-Rewrite-Url", readRequestURI},
	}
	methodSources = [...]originalSource{
		{"X-Original-Method", readMethod},
		{"X-Forwarded-Method", readMethod},
	}
)

// originalRequest reads the request an ingress is asking about when its
// headers are trusted: from every source that is present. When two
// disagree (X-Original-URL reduced to its path and query), or one is
// malformed (readRequestURI, readMethod), the request is unknown, as it is
// when no source names a URI or the peer is not trusted. No method header
// leaves the method unknown ("") in a known request.
func (s *Server) originalRequest(r *http.Request) original {
	if !s.trustsForwarded(r) {
		return original{}
	}
	h := r.Header
	uri, ok := agreed(h, uriSources[:])
	if !ok || uri == "" {
		return original{}
	}
	if rewrite, ok := agreed(h, rewriteSources[:]); !ok || rewrite != "" && rewrite != uri {
		return original{}
	}
	method, ok := agreed(h, methodSources[:])
	if !ok {
		return original{}
	}
	escaped, _, _ := strings.Cut(uri, "?")
	decoded, err := url.PathUnescape(escaped)
	if err != nil {
		return original{} // readRequestURI lets none through; to be sure
	}
	o := original{known: true, method: method, decoded: decoded, escaped: escaped, url: uri}
	proto := strings.ToLower(h.Get("X-Forwarded-Proto"))
	host := h.Get("X-Forwarded-Host")
	if (proto == "http" || proto == "https") && host != "" && !strings.ContainsAny(host, "/\\@ ") {
		o.url = proto + "://" + host + uri
	}
	return o
}

// agreed returns the value that every present source stands for ("" when
// none is present), and false when two disagree or one is malformed. A
// header sent twice is two values that must agree.
func agreed(h http.Header, sources []originalSource) (string, bool) {
	var value string
	found := false
	for _, src := range sources {
		for _, v := range h[src.name] {
			got, ok := src.read(v)
			if !ok || found && got != value {
				return "", false
			}
			value, found = got, true
		}
	}
	return value, true
}

// readRequestURI reads an origin-form request URI as nginx's $request_uri
// or Traefik's X-Forwarded-Uri carry it: a path starting with "/" and a
// query, no fragment (a raw "#": nginx and most apps stop the path there,
// Go's url doesn't), no space or control character, and escapes in the
// path that decode.
func readRequestURI(v string) (string, bool) {
	if v == "" || v[0] != '/' {
		return "", false
	}
	inPath := true
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c <= ' ' || c == 0x7f || c == '#':
			return "", false
		case c == '?':
			inPath = false
		case c == '%' && inPath:
			if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
				return "", false
			}
		}
	}
	return v, true
}

// readOriginalURL reads ingress-nginx's X-Original-URL,
// $scheme://$http_host$request_uri, as its request URI: the scheme must
// be http or https and the host plain, and the rest is read by
// readRequestURI.
func readOriginalURL(v string) (string, bool) {
	var rest string
	switch {
	case len(v) > 7 && strings.EqualFold(v[:7], "http://"):
		rest = v[7:]
	case len(v) > 8 && strings.EqualFold(v[:8], "https://"):
		rest = v[8:]
	default:
		return "", false
	}
	i := strings.IndexByte(rest, '/')
	if i <= 0 {
		return "", false
	}
	for j := 0; j < i; j++ {
		if c := rest[j]; c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '\\' || c == '@' {
			return "", false
		}
	}
	return readRequestURI(rest[i:])
}

// readMethod reads a method name: a token, upper-cased.
func readMethod(v string) (string, bool) {
	if v == "" {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if !isTokenChar(v[i]) {
			return "", false
		}
	}
	return strings.ToUpper(v), true
}

// isTokenChar reports a tchar of RFC 9110.
func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
