package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// maxRoutes bounds the numbered PORTCULLIS_ROUTE_<N> variables read.
const maxRoutes = 200

// A RouteRule is one PORTCULLIS_ROUTE_<N>: requests whose method and path
// match are public, or must also satisfy the rule's lists. Rules are
// evaluated in order of N; the first that matches decides.
type RouteRule struct {
	Name    string         // the variable, for messages
	Methods []string       // upper-case; empty: any method
	Path    *regexp.Regexp // matched against the request path only
	Public  bool
	Emails  []string
	Domains []string
	Groups  []string
	// Claims require attribute values: attribute name → allowed values.
	Claims map[string][]string
}

// String returns the rule as written in the environment.
func (r RouteRule) String() string {
	methods := "*"
	if len(r.Methods) > 0 {
		methods = strings.Join(r.Methods, ",")
	}
	parts := []string{methods, r.Path.String()}
	if r.Public {
		parts = append(parts, "public")
	}
	add := func(k string, v []string) {
		if len(v) > 0 {
			parts = append(parts, k+"="+strings.Join(v, ","))
		}
	}
	add("allowed_emails", r.Emails)
	add("allowed_email_domains", r.Domains)
	add("allowed_groups", r.Groups)
	for _, name := range slices.Sorted(maps.Keys(r.Claims)) {
		add("claim."+name, r.Claims[name])
	}
	return strings.Join(parts, " ")
}

// readRoutes reads PORTCULLIS_ROUTE_1 … PORTCULLIS_ROUTE_200 (gaps allowed).
func (r *reader) readRoutes() ([]RouteRule, []error) {
	var (
		rules []RouteRule
		errs  []error
	)
	for n := 1; n <= maxRoutes; n++ {
		name := Prefix + "ROUTE_" + strconv.Itoa(n)
		m := r.environment([]string{name}, nil)
		raw, ok := m[name]
		if !ok || strings.TrimSpace(raw) == "" {
			continue
		}
		rule, err := ParseRouteRule(raw)
		if err != nil {
			errs = append(errs, problemf(name, "%v", err))
			continue
		}
		rule.Name = name
		rules = append(rules, rule)
	}
	return rules, errs
}

var attrName = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// ParseRouteRule parses "METHODS REGEX RULE…": METHODS is * or a comma
// list (GET,HEAD); REGEX is RE2 matched against the path only; each RULE is
// public, allowed_emails=…, allowed_email_domains=…, allowed_groups=… or
// claim.<Attribute>=… with comma-separated values.
func ParseRouteRule(s string) (RouteRule, error) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return RouteRule{}, fmt.Errorf("want METHODS REGEX RULE…, e.g. \"GET ^/static/ public\" or \"* ^/admin/ allowed_groups=admins\", got %q", s)
	}
	var rule RouteRule
	if f[0] != "*" {
		for _, m := range strings.Split(f[0], ",") {
			m = strings.ToUpper(strings.TrimSpace(m))
			if m == "" || strings.Trim(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				return RouteRule{}, fmt.Errorf("method %q: want letters only, or *", m)
			}
			rule.Methods = append(rule.Methods, m)
		}
	}
	re, err := regexp.Compile(f[1])
	if err != nil {
		return RouteRule{}, fmt.Errorf("regex %q: %v", f[1], err)
	}
	rule.Path = re
	for _, term := range f[2:] {
		if term == "public" {
			rule.Public = true
			continue
		}
		k, v, ok := strings.Cut(term, "=")
		values := splitList(v)
		if !ok || len(values) == 0 {
			return RouteRule{}, fmt.Errorf("rule %q: want public or NAME=values", term)
		}
		switch {
		case k == "allowed_emails":
			rule.Emails = append(rule.Emails, values...)
		case k == "allowed_email_domains":
			rule.Domains = append(rule.Domains, values...)
		case k == "allowed_groups":
			rule.Groups = append(rule.Groups, values...)
		case strings.HasPrefix(k, "claim.") && attrName.MatchString(strings.TrimPrefix(k, "claim.")):
			if rule.Claims == nil {
				rule.Claims = map[string][]string{}
			}
			name := strings.TrimPrefix(k, "claim.")
			rule.Claims[name] = append(rule.Claims[name], values...)
		default:
			return RouteRule{}, fmt.Errorf("rule %q: unknown; want public, allowed_emails, allowed_email_domains, allowed_groups or claim.<Attribute>", k)
		}
	}
	if rule.Public && (len(rule.Emails)+len(rule.Domains)+len(rule.Groups)+len(rule.Claims) > 0) {
		return RouteRule{}, fmt.Errorf("a public route takes no other rule")
	}
	return rule, nil
}
