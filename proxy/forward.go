package proxy

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// Route is a per-route rule: requests whose method and path match are
// public, or must also pass Rules (which narrow the global rules).
type Route struct {
	Methods []string       // upper-case; empty: any
	Path    *regexp.Regexp // matched against the path only, never the query
	Public  bool
	Rules   Rules
}

func (rt *Route) matches(method, p string) bool {
	if len(rt.Methods) > 0 {
		found := false
		for _, m := range rt.Methods {
			// HEAD is served by GET handlers almost everywhere.
			if m == method || m == http.MethodGet && method == http.MethodHead {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return rt.Path.MatchString(p)
}

// route returns the first route matching method and p, or nil.
func (s *Server) route(method, p string) *Route {
	for i := range s.routeRules {
		if s.routeRules[i].matches(method, p) {
			return &s.routeRules[i]
		}
	}
	return nil
}

// restricted is the decision for a request whose path is unknown (an
// ingress sent no trusted X-Forwarded-Uri, or one that doesn't parse): not
// public, and every restricting route's rules apply, so not knowing the
// path never widens access.
func (s *Server) restricted() decision {
	var d decision
	for i := range s.routeRules {
		if !s.routeRules[i].Public {
			d.routes = append(d.routes, &s.routeRules[i])
		}
	}
	return d
}

// pathReadings are the ways an upstream may read a request path: as
// decoded, as sent (it may keep "%2F"), and as servers that take ";" for
// path parameters ("/public/..;/admin" is /admin to Tomcat) or "\" for "/"
// (IIS) would. Rules must hold for every reading.
func pathReadings(decoded, raw string) []string {
	out := []string{cleanPath(decoded)}
	add := func(p string) {
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	add(cleanPath(raw))
	if strings.ContainsAny(decoded, ";\\") {
		segs := strings.Split(strings.ReplaceAll(decoded, "\\", "/"), "/")
		for i, seg := range segs {
			segs[i], _, _ = strings.Cut(seg, ";")
		}
		add(cleanPath(strings.Join(segs, "/")))
	}
	return out
}

// decision is what the route rules say of a request.
type decision struct {
	public bool
	routes []*Route // every matched route's rules apply
}

// decide applies the route rules to a request whose path reads as any of
// paths (the decoded and the raw form, when they differ: an upstream may
// resolve "%2F" or not). It is public only if every reading is public, and
// the rules of every reading's route apply, so ambiguity never widens
// access.
func (s *Server) decide(method string, paths ...string) decision {
	method = strings.ToUpper(method) // "post" is POST to most frameworks
	d := decision{public: len(paths) > 0}
	for _, p := range paths {
		rt := s.route(method, p)
		if rt == nil || !rt.Public {
			d.public = false
		}
		if rt != nil && !rt.Public {
			d.routes = append(d.routes, rt)
		}
	}
	return d
}

// isPreflight reports a CORS preflight request.
func isPreflight(r *http.Request, method string) bool {
	return method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

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
	method string
	paths  []string // the path's readings (pathReadings); nil: unknown
	url    string   // absolute URL to come back to after sign-in; "" if unknown
}

// originalRequest reads the request an ingress is asking about from the
// X-Forwarded-* headers (X-Original-URI and X-Original-Method as nginx
// setups name them) when they are trusted. Untrusted, nothing of them is
// believed: the path is "/" and no rule for a specific path can apply.
func (s *Server) originalRequest(r *http.Request) original {
	o := original{method: http.MethodGet}
	if !s.trustsForwarded(r) {
		return o
	}
	h := r.Header
	if m := firstHeader(h, "X-Forwarded-Method", "X-Original-Method"); m != "" {
		o.method = strings.ToUpper(m)
	}
	uri := firstHeader(h, "X-Forwarded-Uri", "X-Original-Uri")
	u, err := url.ParseRequestURI(uri)
	if uri == "" || err != nil || u.Host != "" || !strings.HasPrefix(u.Path, "/") {
		return o
	}
	o.paths = pathReadings(u.Path, u.EscapedPath())
	proto := strings.ToLower(h.Get("X-Forwarded-Proto"))
	host := h.Get("X-Forwarded-Host")
	if (proto == "http" || proto == "https") && host != "" && !strings.ContainsAny(host, "/\\@ ") {
		o.url = proto + "://" + host + u.RequestURI()
	} else {
		o.url = u.RequestURI()
	}
	return o
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// cleanPath resolves dot segments and doubled slashes the way the
// upstream will, so /public/../admin is judged as /admin.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
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
	case o.paths == nil:
		d = s.restricted()
	default:
		d = s.decide(o.method, o.paths...)
	}
	if d.public || (s.opts.SkipAuthPreflight && isPreflight(r, o.method)) {
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
			if rd == "" {
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
	if ok, _ := s.allowed(st, d.routes, extra); !ok {
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

// absoluteSignInURL is signInURL on PUBLIC_URL when one is set, so an
// ingress can hand it to the browser from any host.
func (s *Server) absoluteSignInURL(rd string) string {
	u := s.signInURL(rd)
	if s.opts.PublicURL != nil {
		return strings.TrimSuffix(s.opts.PublicURL.String(), "/") + u
	}
	return u
}
