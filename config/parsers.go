package config

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"strings"

	"github.com/caarlos0/env/v11"
)

// parsers are env's parsers for our field types; each returns every problem
// in its value joined, so that all are reported.
func parsers() map[reflect.Type]env.ParserFunc {
	return map[reflect.Type]env.ParserFunc{
		reflect.TypeFor[[]string]():                     func(v string) (any, error) { return splitList(v), nil },
		reflect.TypeFor[url.URL]():                      parseURL,
		reflect.TypeFor[url.Values]():                   parseQuery,
		reflect.TypeFor[http.SameSite]():                parseSameSite,
		reflect.TypeFor[[]netip.Prefix]():               parsePrefixes,
		reflect.TypeFor[[]Route]():                      parseRoutes,
		reflect.TypeFor[[]UpstreamRoute]():              parseUpstreams,
		reflect.TypeFor[[]Attribute]():                  parseAttributes,
		reflect.TypeFor[[]HeaderRule]():                 parseHeaderRules,
		reflect.TypeFor[map[string]map[string]string](): parseClaimValues,
	}
}

// splitList splits a comma list, trimming spaces and dropping empty entries.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseURL is env's URL parser without the URL in its error, as it may hold
// a password.
func parseURL(v string) (any, error) {
	u, err := url.Parse(v)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("not a URL: %v", err)
	}
	return *u, nil
}

func parseQuery(v string) (any, error) {
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, fmt.Errorf("not a query string (a=1&b=2): %v", err)
	}
	return q, nil
}

func parseSameSite(v string) (any, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return nil, fmt.Errorf("must be lax, strict or none, got %q", v)
}

func formatSameSite(s http.SameSite) string {
	switch s {
	case http.SameSiteLaxMode:
		return "lax"
	case http.SameSiteStrictMode:
		return "strict"
	case http.SameSiteNoneMode:
		return "none"
	}
	return ""
}

// parsePrefixes reads a list of CIDRs and single addresses.
func parsePrefixes(v string) (any, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range splitList(v) {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%q is not a CIDR (10.0.0.0/8) or an IP address", s))
				continue
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is not a CIDR (10.0.0.0/8) or an IP address", s))
			continue
		}
		a = a.WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, errors.Join(errs...)
}

// parseRoutes reads SKIP_AUTH_ROUTES: METHOD=regex or regex. The part before
// the first '=' is a method when it is letters only; otherwise the whole
// entry is the pattern.
func parseRoutes(v string) (any, error) {
	var out []Route
	var errs []error
	for _, s := range splitList(v) {
		var r Route
		pattern := s
		if m, rest, ok := strings.Cut(s, "="); ok && isLetters(m) {
			r.Method, pattern = strings.ToUpper(m), rest
		}
		if pattern == "" {
			errs = append(errs, fmt.Errorf("%q has an empty pattern; want METHOD=regex or regex", s))
			continue
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q does not compile: %v", pattern, err))
			continue
		}
		r.Path = re
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

func isLetters(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// isName reports whether s may follow X-User-Attr-: letters, digits and '-'.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// parseAttributes reads CLAIM_ATTRIBUTES: Name=path,Name2=path2.
func parseAttributes(v string) (any, error) {
	var out []Attribute
	var errs []error
	seen := map[string]bool{}
	for _, s := range splitList(v) {
		name, path, ok := strings.Cut(s, "=")
		name, path = strings.TrimSpace(name), strings.TrimSpace(path)
		switch {
		case !ok || path == "":
			errs = append(errs, fmt.Errorf("%q must be Name=path", s))
		case !isName(name):
			errs = append(errs, fmt.Errorf("%q is not a valid attribute name: use letters, digits and '-'", name))
		case seen[strings.ToLower(name)]:
			errs = append(errs, fmt.Errorf("attribute %q is listed twice", name))
		default:
			seen[strings.ToLower(name)] = true
			out = append(out, Attribute{Name: name, Path: path})
		}
	}
	return out, errors.Join(errs...)
}

// parseClaimValues reads CLAIM_VALUES: NAME:OUT=IN,OUT=IN;NAME2:OUT=IN into
// lower-case NAME → IN → OUT.
func parseClaimValues(v string) (any, error) {
	out := map[string]map[string]string{}
	var errs []error
	for _, group := range strings.Split(v, ";") {
		group = strings.TrimSpace(group)
		if group == "" {
			continue
		}
		name, pairs, ok := strings.Cut(group, ":")
		name = strings.TrimSpace(name)
		if !ok {
			errs = append(errs, fmt.Errorf("%q must be NAME:OUT=IN,OUT=IN", group))
			continue
		}
		if !isName(strings.ReplaceAll(name, "_", "-")) {
			errs = append(errs, fmt.Errorf("%q is not a valid field or attribute name", name))
			continue
		}
		key := strings.ToLower(name)
		m := out[key]
		if m == nil {
			m = map[string]string{}
		}
		entries := splitList(pairs)
		if len(entries) == 0 {
			errs = append(errs, fmt.Errorf("%s: no OUT=IN mapping", name))
			continue
		}
		for _, e := range entries {
			to, from, ok := strings.Cut(e, "=")
			to, from = strings.TrimSpace(to), strings.TrimSpace(from)
			if !ok || to == "" || from == "" {
				errs = append(errs, fmt.Errorf("%s: %q must be OUT=IN", name, e))
				continue
			}
			if prev, dup := m[from]; dup && prev != to {
				errs = append(errs, fmt.Errorf("%s: %q maps to both %q and %q", name, from, prev, to))
				continue
			}
			m[from] = to
		}
		if len(m) > 0 {
			out[key] = m
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, errors.Join(errs...)
}
