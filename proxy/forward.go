package proxy

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// The forward-auth endpoints, /oauth2/auth (nginx auth_request) and
// /oauth2/forward-auth (Traefik, Caddy, Envoy).

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
	case len(s.access.Routes) == 0: // no rules: nothing to decide
	case !o.known:
		d = s.access.restricted()
	case o.method == "": // no header names it: judged under every method
		d = s.access.decide(s.access.anyMethod, o.decoded, o.escaped)
	default:
		var buf [4]string
		d = s.access.decide(s.access.methods(buf[:0], o.method, r.Header), o.decoded, o.escaped)
	}
	if d.public || s.access.SkipAuthPreflight && o.known && s.access.preflight(r, o.method) {
		w.WriteHeader(okStatus)
		return
	}
	st, err := s.loadSession(w, r)
	if errors.Is(err, errBearerRejected) {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		s.writeUnauthenticated(w, cmp.Or(o.url, "/"), "the bearer token is not valid")
		return
	}
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if st == nil {
		rd := cmp.Or(o.url, "/") // never back to a request that is unknown
		if redirect && wantsRedirect(r) {
			http.Redirect(w, r, s.absoluteSignInURL(rd), http.StatusFound)
			return
		}
		// Traefik and Caddy hand this body to the client; nginx's
		// auth_request drops it.
		s.writeUnauthenticated(w, rd, "")
		return
	}
	var extra *Rules
	if r.URL.RawQuery != "" {
		q := queryRules(r.URL.Query())
		extra = &q
	}
	if ok, _ := s.access.allowed(st, d, extra); !ok {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	s.identity.setAnswerHeaders(h, st)
	if a := s.assertionFor(st); a != "" {
		h["X-Portcullis-Assertion"] = []string{a}
	}
	w.WriteHeader(okStatus)
}
