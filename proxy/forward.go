package proxy

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// trustsForwarded reports whether r's X-Forwarded-* headers may be believed:
// TRUST_FORWARDED_HEADERS is on and, when TRUSTED_PROXIES is set, the peer
// is one of them.
func (s *Server) trustsForwarded(r *http.Request) bool {
	if !s.opts.TrustForwardedHeaders {
		return false
	}
	if len(s.opts.TrustedProxies) == 0 {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
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

// queryRules reads per-route narrowing from /oauth2/auth's query string:
// allowed_groups, allowed_emails, allowed_email_domains (comma lists).
func queryRules(q url.Values) Rules {
	split := func(k string) []string {
		var out []string
		for _, v := range q[k] {
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x != "" {
					out = append(out, x)
				}
			}
		}
		return out
	}
	return Rules{Emails: split("allowed_emails"), Domains: split("allowed_email_domains"), Groups: split("allowed_groups")}.normalized()
}

// wantsRedirect reports whether an unauthenticated forward-auth request
// comes from a browser navigating (not XHR, not an API client).
func wantsRedirect(r *http.Request) bool {
	return wantsHTML(r) && !strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest")
}

// forwardAuth serves Traefik forwardAuth, Caddy forward_auth and Envoy
// ext_authz: 200 with identity headers when allowed (Envoy allows only
// 200), a redirect to sign in for a browser that is not signed in, 401
// for other clients, 403 when signed in but not allowed.
func (s *Server) forwardAuth(w http.ResponseWriter, r *http.Request) {
	s.checkAccess(w, r, http.StatusOK, true)
}

// auth serves nginx auth_request: 202 with identity headers when allowed,
// 401 when not signed in, 403 when not allowed. The query may narrow the
// rules: allowed_groups, allowed_emails, allowed_email_domains.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	s.checkAccess(w, r, http.StatusAccepted, false)
}

// checkAccess is the shared body of the forward-auth endpoints.
func (s *Server) checkAccess(w http.ResponseWriter, r *http.Request, okStatus int, redirect bool) {
	h := w.Header() // with the security headers (instrument): Cache-Control: no-store
	o := s.originalRequest(r)
	var d decision
	switch {
	case len(s.routeRules) == 0: // no rules: nothing to decide
	case !o.known:
		d = s.restricted()
	case o.method == "": // no header names it: judged under every method
		d = s.decide(s.anyMethod, o.decoded, o.escaped)
	default:
		var buf [4]string
		d = s.decide(s.methods(buf[:0], o.method, r.Header), o.decoded, o.escaped)
	}
	if d.public || s.opts.SkipAuthPreflight && o.known && s.preflight(r, o.method) {
		w.WriteHeader(okStatus)
		return
	}
	st, err := s.loadSession(w, r)
	if errors.Is(err, errBearerRejected) {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if st == nil {
		if redirect && wantsRedirect(r) {
			rd := o.url
			if rd == "" { // never back to a request that is unknown
				rd = "/"
			}
			http.Redirect(w, r, s.absoluteSignInURL(rd), http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var extra *Rules
	if r.URL.RawQuery != "" {
		q := queryRules(r.URL.Query())
		extra = &q
	}
	if ok, _ := s.allowed(st, d, extra); !ok {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	setUpstreamHeaders(h, st, s.attrKeys, s.opts.PassAccessToken, s.opts.SetAuthorization)
	setAuthRequestHeaders(h, st, s.opts.PassAccessToken)
	if a := s.assertionFor(st); a != "" {
		h["X-Portcullis-Assertion"] = []string{a}
	}
	w.WriteHeader(okStatus)
}
