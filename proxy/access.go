package proxy

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/session"
)

// Route rules: which of Options.Access's routes apply to a request
// (access.decide, over every reading of its path: readings.go), and
// whether a signed-in user passes them (access.allowed; the rules
// themselves: authz.go).

// Route is a per-route rule: requests whose method and path match are
// public, or must also pass Rules (which narrow the global rules).
type Route struct {
	Methods []string       // upper-case; empty: any
	Path    *regexp.Regexp // matched against the path only, never the query
	Public  bool
	Rules   Rules

	// fold is Path's case-insensitive form, for case-folded readings of
	// a path, when Path names upper-case letters; nil otherwise.
	fold *regexp.Regexp
}

// access is Options.Access as New settles it: the rules normalized, the
// routes prepared, and what judging a request whose path or method is
// unknown takes.
type access struct {
	Access
	// restricting are the routes that aren't public, for a request whose
	// path is unknown; foldRoutes says some route has a fold pattern.
	restricting []*Route
	foldRoutes  bool
	// methodRoutes says some route names methods; anyMethod lists them
	// and "" (any other), to judge a request whose method is unknown.
	methodRoutes bool
	anyMethod    []string
}

// newAccess settles o: its rules and each route's normalized, each
// route's fold pattern made, in routes of its own (o's are not changed).
func newAccess(o Access) (access, error) {
	a := access{Access: o}
	a.Rules = o.Rules.normalized()
	a.Routes = make([]Route, len(o.Routes))
	for i, rt := range o.Routes {
		if rt.Path == nil {
			return access{}, fmt.Errorf("proxy: route %d has no path pattern", i)
		}
		rt.Rules = rt.Rules.normalized()
		rt.fold = foldPattern(rt.Path)
		a.foldRoutes = a.foldRoutes || rt.fold != nil
		a.methodRoutes = a.methodRoutes || len(rt.Methods) > 0
		for _, m := range rt.Methods {
			a.anyMethod = appendNew(a.anyMethod, m)
		}
		a.Routes[i] = rt
	}
	for i := range a.Routes {
		if !a.Routes[i].Public {
			a.restricting = append(a.restricting, &a.Routes[i])
		}
	}
	a.restricting = slices.Clip(a.restricting) // shared: an append must copy
	a.anyMethod = append(a.anyMethod, "")
	return a, nil
}

// matches reports whether rt applies to method and the path reading p;
// folded says p is a case-folded reading.
func (rt *Route) matches(method, p string, folded bool) bool {
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
	if folded && rt.fold != nil {
		return rt.fold.MatchString(p)
	}
	return rt.Path.MatchString(p)
}

// route returns the first route matching method and the reading p, or nil.
func (a *access) route(method, p string, folded bool) *Route {
	for i := range a.Routes {
		if a.Routes[i].matches(method, p, folded) {
			return &a.Routes[i]
		}
	}
	return nil
}

// decision is what the route rules say of a request.
type decision struct {
	public bool
	// The restricting routes that apply: first, and any others in more
	// (read-only: it may be shared).
	first *Route
	more  []*Route
}

// restrict adds rt to the routes that apply.
func (d *decision) restrict(rt *Route) {
	switch {
	case d.first == nil:
		d.first = rt
	case d.first != rt && !slices.Contains(d.more, rt):
		d.more = append(d.more, rt)
	}
}

// restricted is the decision for a request whose path is unknown (an
// ingress sent no trusted original URI, or one that doesn't parse, or the
// path reads in too many ways): not public, and every restricting route's
// rules apply, so not knowing the path never widens access.
func (a *access) restricted() decision {
	return decision{more: a.restricting}
}

// decide applies the route rules to a request with one of methods (each
// upper-case) and a path, decoded and escaped (as sent). The path is
// read every way a server may read it (isPlain, pathReadings), and
// case-folded (foldReadings). Per reading the first matching route
// decides, as ever; the request is public only if every reading is, and
// the rules of every reading's restricting route apply, so however the
// upstream reads the path, no rule for it is skipped.
func (a *access) decide(methods []string, decoded, escaped string) decision {
	var one, oneFolded [1]string
	var plain, folded []string
	if ok, upper := plainBut(decoded); ok && decoded == escaped {
		one[0] = decoded // its only reading
		plain = one[:]
		if upper { // and its lower-cased form (else it is its own)
			oneFolded[0] = strings.ToLower(decoded)
			folded = oneFolded[:]
		}
	} else {
		var ok bool
		if plain, ok = pathReadings(decoded, escaped); !ok {
			return a.restricted()
		}
		folded = foldReadings(plain)
	}
	d := decision{public: true}
	for _, m := range methods {
		for _, p := range plain {
			a.judge(&d, m, p, false)
		}
		switch {
		case folded != nil:
			for _, p := range folded {
				a.judge(&d, m, p, true)
			}
		case a.foldRoutes: // the readings are folded already, but some patterns aren't
			for _, p := range plain {
				a.judge(&d, m, p, true)
			}
		}
	}
	return d
}

// judge adds to d what the first route matching method and the reading p
// says.
func (a *access) judge(d *decision, method, p string, folded bool) {
	rt := a.route(method, p, folded)
	if rt == nil || !rt.Public {
		d.public = false
	}
	if rt != nil && !rt.Public {
		d.restrict(rt)
	}
}

// methods appends to dst the methods a request is judged under: its own,
// upper-cased ("post" is POST to most frameworks), and the value of each
// method-override header (X-HTTP-Method-Override, X-HTTP-Method,
// X-Method-Override, in any spelling), which frameworks take for the
// method. Overrides are read only when some route names methods.
func (a *access) methods(dst []string, own string, h http.Header) []string {
	dst = append(dst, strings.ToUpper(own))
	if !a.methodRoutes {
		return dst
	}
	for name, values := range h {
		if !isMethodOverride(name) {
			continue
		}
		for _, v := range values {
			if v = strings.ToUpper(strings.TrimSpace(v)); v != "" {
				dst = appendNew(dst, v)
			}
			if strings.Contains(v, ",") { // a list: each entry, too
				for m := range strings.SplitSeq(v, ",") {
					if m = strings.TrimSpace(m); m != "" {
						dst = appendNew(dst, m)
					}
				}
			}
		}
	}
	return dst
}

// methodOverrides are the method-override headers, lower-case.
var methodOverrides = [...]string{"x-http-method-override", "x-http-method", "x-method-override"}

// isMethodOverride reports whether name is a method-override header in
// any spelling a server may fold to it (X-Http-Method, x_http_method).
func isMethodOverride(name string) bool {
	if name == "" || name[0] != 'X' && name[0] != 'x' {
		return false // most headers, settled at once
	}
	for _, m := range methodOverrides {
		if foldEqual(name, m) {
			return true
		}
	}
	return false
}

// preflight reports a CORS preflight that SKIP_AUTH_PREFLIGHT lets
// through: the request's own method and the original's (the same in proxy
// mode) are both OPTIONS, no method-override header names another, and it
// carries Origin and Access-Control-Request-Method. An ingress that checks
// with GET (Traefik, Caddy) can't vouch for a preflight: a client's
// X-Forwarded-Method could say OPTIONS of anything.
func (a *access) preflight(r *http.Request, original string) bool {
	if !a.SkipAuthPreflight || r.Method != http.MethodOptions || original != http.MethodOptions ||
		r.Header.Get("Origin") == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	for name, values := range r.Header {
		if !isMethodOverride(name) {
			continue
		}
		for _, v := range values {
			if !strings.EqualFold(strings.TrimSpace(v), http.MethodOptions) {
				return false
			}
		}
	}
	return true
}

// allowGlobal applies the global rules, with the addresses of Emails, when
// set, instead of Rules.Emails.
func (a *access) allowGlobal(st *session.State) (bool, string) {
	return a.Rules.allow(st, a.Emails.current())
}

// allowed applies the global rules, then each of the routes that d says
// apply, then extra (which may be nil or empty).
func (a *access) allowed(st *session.State, d decision, extra *Rules) (bool, string) {
	if ok, why := a.allowGlobal(st); !ok {
		return false, why
	}
	if d.first != nil {
		if ok, why := d.first.Rules.Allow(st); !d.first.Rules.empty() && !ok {
			return false, why
		}
	}
	for _, rt := range d.more {
		if ok, why := rt.Rules.Allow(st); !rt.Rules.empty() && !ok {
			return false, why
		}
	}
	if extra != nil && !extra.empty() {
		return extra.Allow(st)
	}
	return true, ""
}
