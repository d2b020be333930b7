package config

import (
	"errors"
	"fmt"
	"strings"
)

// A HeaderRule is one INJECT_HEADERS or AUTH_RESPONSE_HEADERS entry,
// Name=Source: a header, and where its value comes from (HeaderSources).
type HeaderRule struct {
	Name   string // as written: letters, digits and '-'
	Source string // keywords lower-cased; attr.NAME's name and literal:TEXT's text as written
}

// String returns the rule as written in the environment.
func (r HeaderRule) String() string { return r.Name + "=" + r.Source }

// plainHeaderSources are the sources named by a word alone.
var plainHeaderSources = []string{
	"user", "id", "provider", "email", "name", "given_name", "family_name", "username", "groups",
	"access_token", "id_token",
}

// HeaderSources lists the sources of INJECT_HEADERS and
// AUTH_RESPONSE_HEADERS, for messages and the documentation.
const HeaderSources = "user, id, provider, email, name, given_name, family_name, username, groups, attr.NAME, " +
	"access_token, id_token, bearer:access_token, bearer:id_token, basic:SOURCE or literal:TEXT"

// maxHeaderName is the longest header name a rule may set.
const maxHeaderName = 64

// parseHeaderRules reads INJECT_HEADERS and AUTH_RESPONSE_HEADERS:
// Name=source,Name2=source2. Every problem is returned; the variable's
// name is added by parse.
func parseHeaderRules(v string) (any, error) {
	var out []HeaderRule
	var errs []error
	seen := map[string]bool{}
	for i, entry := range splitList(v) {
		name, src, ok := strings.Cut(entry, "=")
		name, src = strings.TrimSpace(name), strings.TrimSpace(src)
		if !ok || name == "" || src == "" {
			errs = append(errs, fmt.Errorf("entry %d%s must be Name=source", i+1, entryName(entry)))
			continue
		}
		if err := checkHeaderName(name); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[strings.ToLower(name)] {
			errs = append(errs, fmt.Errorf("%s is listed twice", name))
			continue
		}
		seen[strings.ToLower(name)] = true
		src, err := headerSource(src)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		out = append(out, HeaderRule{Name: name, Source: src})
	}
	return out, errors.Join(errs...)
}

// checkHeaderName accepts a name that Portcullis may set: letters, digits
// and '-', starting with a letter (so no two spellings of it can reach an
// app that folds '_' and '-' alike), at most maxHeaderName bytes, and none
// that a proxy must not set from the session (reservedHeader).
func checkHeaderName(name string) error {
	ok := len(name) <= maxHeaderName && isLetters(name[:1])
	for _, c := range name {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')
	}
	if !ok {
		return fmt.Errorf("%q is not a header name Portcullis sets: use letters, digits and '-', starting with a letter, at most %d characters", name, maxHeaderName)
	}
	if why := reservedHeader(strings.ToLower(name)); why != "" {
		return fmt.Errorf("%s can't be set: %s", name, why)
	}
	return nil
}

// reservedHeader says why a header (lower-case) can't be chosen, or "".
func reservedHeader(h string) string {
	switch h {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
		"proxy-authenticate", "proxy-authorization":
		return "it is a hop-by-hop header, which proxies remove"
	case "host", "content-length", "content-type", "content-encoding", "content-range", "expect":
		return "it describes the request itself"
	case "cookie", "set-cookie":
		return "Portcullis's cookies are its own, and the app's are the browser's"
	case "x-request-id", "x-portcullis-assertion":
		return "Portcullis sets it"
	case "forwarded", "x-forwarded", "x-real-ip", "true-client-ip", "x-client-ip", "x-cluster-client-ip", "client-ip",
		"cf-connecting-ip", "fastly-client-ip", "x-rewrite-url", "proxy",
		"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-prefix",
		"x-forwarded-server", "x-forwarded-uri", "x-forwarded-method", "x-forwarded-ssl", "x-forwarded-scheme":
		return "it describes the connection, which Portcullis tells the app as it received it"
	}
	if strings.HasPrefix(h, "x-original-") {
		return "it describes the connection, which Portcullis tells the app as it received it"
	}
	return ""
}

// A rule's text may be a secret (a literal: text, a static token), so a
// problem never quotes it: a malformed entry is named by its place and,
// when it starts with one, its header name (entryName); a source only
// when it is a word as the keywords are (sourceWord).

// entryName is ` ("Name=…")` for a malformed entry that starts with a
// header name and then "=" or ":", else "".
func entryName(entry string) string {
	entry = strings.TrimSpace(entry)
	i := strings.IndexAny(entry, "=:")
	if i <= 0 {
		return ""
	}
	name := strings.TrimSpace(entry[:i])
	if name == "" || len(name) > maxHeaderName || strings.ContainsFunc(name, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')
	}) {
		return ""
	}
	return fmt.Sprintf(" (%q)", name+entry[i:i+1]+"…")
}

// sourceWord is src quoted when it is a word like the keywords (lower-
// case letters and '_', at most 20), else a note that it is not shown.
func sourceWord(src string) string {
	if len(src) > 0 && len(src) <= 20 && !strings.ContainsFunc(src, func(c rune) bool { return !(c >= 'a' && c <= 'z' || c == '_') }) {
		return fmt.Sprintf("%q", src)
	}
	return "(not shown: it may be a secret)"
}

// headerSource checks a source and returns it with its keywords
// lower-cased.
func headerSource(src string) (string, error) {
	lower := strings.ToLower(src)
	switch {
	case strings.HasPrefix(lower, "bearer:"):
		rest := strings.TrimSpace(lower[len("bearer:"):])
		if rest != "access_token" && rest != "id_token" {
			if w := strings.TrimSpace(src[len("bearer:"):]); sourceWord(w)[0] == '"' {
				return "", fmt.Errorf("bearer: takes access_token or id_token, got %s", sourceWord(w))
			}
			return "", errors.New("bearer: takes access_token or id_token (bearer:TEXT is no literal: write literal:Bearer TEXT)")
		}
		return "bearer:" + rest, nil
	case strings.HasPrefix(lower, "basic:"):
		rest := strings.TrimSpace(src[len("basic:"):])
		if r := strings.ToLower(rest); strings.HasPrefix(r, "bearer:") || strings.HasPrefix(r, "basic:") {
			return "", fmt.Errorf("basic: takes a source without bearer: or basic:, got %s…", rest[:strings.IndexByte(rest, ':')+1])
		}
		inner, err := headerSource(rest)
		if err != nil {
			return "", fmt.Errorf("basic:%w", err)
		}
		return "basic:" + inner, nil
	case strings.HasPrefix(lower, "literal:"):
		text := src[len("literal:"):]
		if strings.TrimSpace(text) == "" || strings.ContainsFunc(text, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return "", errors.New("literal: needs a text, without control characters")
		}
		return "literal:" + text, nil
	case strings.HasPrefix(lower, "attr."):
		name := src[len("attr."):]
		if !isName(name) {
			return "", fmt.Errorf("%q names no attribute: want attr. and a CLAIM_ATTRIBUTES name", src)
		}
		return "attr." + name, nil
	}
	for _, p := range plainHeaderSources {
		if lower == p {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown source %s; want %s", sourceWord(src), HeaderSources)
}

// headerRuleProblems checks the rules of the variable name against the
// rest of c: basic: needs BASIC_AUTH_PASSWORD, attr.NAME a CLAIM_ATTRIBUTES
// name, and Authorization can't be both SET_AUTHORIZATION's and a rule's.
func (v *validator) headerRules(name string, rules []HeaderRule, c *Config) {
	for _, r := range rules {
		src := strings.TrimPrefix(r.Source, "basic:")
		if src != r.Source && c.BasicAuthPassword == "" {
			v.add(name, "%s needs %sBASIC_AUTH_PASSWORD (or its _FILE twin)", redactLiterals([]HeaderRule{r}), Prefix)
		}
		if attr, ok := strings.CutPrefix(src, "attr."); ok && !c.hasAttribute(attr) {
			v.add(name, "%s=%s: no provider's CLAIM_ATTRIBUTES names %q", r.Name, r.Source, attr)
		}
		if strings.EqualFold(r.Name, "Authorization") && c.SetAuthorization {
			v.add(name, "Authorization is %sSET_AUTHORIZATION's already (true): set one or the other", Prefix)
		}
	}
}

// hasAttribute reports whether some provider's CLAIM_ATTRIBUTES names
// attr (as written).
func (c *Config) hasAttribute(attr string) bool {
	for _, p := range c.Providers {
		for _, a := range p.ClaimAttributes {
			if a.Name == attr {
				return true
			}
		}
	}
	return false
}
