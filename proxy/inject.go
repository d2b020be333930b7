package proxy

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// The headers an operator chooses (INJECT_HEADERS, AUTH_RESPONSE_HEADERS):
// each HeaderRule compiled once by New into a headerRule that the request
// walks, and their names, which no client may send (ownNames).

// source is where a header's value comes from.
type source uint8

const (
	srcLiteral source = iota
	srcUser
	srcID
	srcProvider
	srcEmail
	srcName
	srcGivenName
	srcFamilyName
	srcUsername
	srcGroups
	srcAttr
	srcAccessToken
	srcIDToken
)

// plainSources are the sources named by a word alone.
var plainSources = map[string]source{
	"user": srcUser, "id": srcID, "provider": srcProvider, "email": srcEmail,
	"name": srcName, "given_name": srcGivenName, "family_name": srcFamilyName,
	"username": srcUsername, "groups": srcGroups,
	"access_token": srcAccessToken, "id_token": srcIDToken,
}

// wrapping is how a source's value is written into the header.
type wrapping uint8

const (
	wrapNone   wrapping = iota
	wrapBearer          // "Bearer " + value
	wrapBasic           // "Basic " + base64(value + ":" + password)
)

// headerRule is a HeaderRule compiled.
type headerRule struct {
	key  string // the canonical header name
	src  source
	arg  string // srcAttr: the attribute's name; srcLiteral: the text
	wrap wrapping
}

// compileHeaderRules compiles rules. Each name must be letters, digits and
// '-' (starting with a letter, at most maxFold bytes, so that ownNames can
// fold it), appear once, and its source be one HeaderRule names; basic:
// needs a password. config has checked all this and more, naming the
// variable; this is the proxy's own guard.
func compileHeaderRules(rules []HeaderRule, password string) ([]headerRule, error) {
	out := make([]headerRule, 0, len(rules))
	seen := make(map[string]bool, len(rules))
	for _, r := range rules {
		if !validInjectedName(r.Name) {
			return nil, fmt.Errorf("proxy: header name %q: want letters, digits and '-', starting with a letter, at most %d bytes", r.Name, maxFold)
		}
		key := http.CanonicalHeaderKey(r.Name)
		if seen[key] {
			return nil, fmt.Errorf("proxy: header %s is set twice", key)
		}
		seen[key] = true
		hr := headerRule{key: key}
		src := r.Source
		if rest, ok := strings.CutPrefix(src, "bearer:"); ok {
			if rest != "access_token" && rest != "id_token" {
				return nil, fmt.Errorf("proxy: header %s: bearer: takes access_token or id_token, got %q", key, rest)
			}
			hr.wrap, src = wrapBearer, rest
		} else if rest, ok := strings.CutPrefix(src, "basic:"); ok {
			if password == "" {
				return nil, fmt.Errorf("proxy: header %s: basic: needs a password", key)
			}
			hr.wrap, src = wrapBasic, rest
		}
		switch {
		case strings.HasPrefix(src, "literal:") && hr.wrap != wrapBearer:
			hr.src, hr.arg = srcLiteral, strings.TrimPrefix(src, "literal:")
			if hr.arg == "" {
				return nil, fmt.Errorf("proxy: header %s: literal: without text", key)
			}
		case strings.HasPrefix(src, "attr."):
			hr.src, hr.arg = srcAttr, strings.TrimPrefix(src, "attr.")
			if hr.arg == "" {
				return nil, fmt.Errorf("proxy: header %s: attr. without a name", key)
			}
		default:
			s, ok := plainSources[src]
			if !ok {
				return nil, fmt.Errorf("proxy: header %s: unknown source %q", key, r.Source)
			}
			hr.src = s
		}
		out = append(out, hr)
	}
	return out, nil
}

// validInjectedName reports whether name is letters, digits and '-',
// starting with a letter, at most maxFold bytes: a name that folds to
// itself lower-cased, so no two spellings of one name can both be set.
func validInjectedName(name string) bool {
	if name == "" || len(name) > maxFold || foldByte(name[0]) < 'a' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '-' && foldByte(name[i]) == '-' {
			return false
		}
	}
	return true
}

// rules sets each rule's header on hs from its session, in order; a rule
// whose value is empty removes its header (a default one of that name
// included).
func (hs *headerSetter) rules(rules []headerRule, password string) {
	for i := range rules {
		r := &rules[i]
		v := hs.value(r, password)
		if v == "" {
			delete(hs.h, r.key)
			continue
		}
		hs.set(r.key, v)
	}
}

// value is r's value for hs's session.
func (hs *headerSetter) value(r *headerRule, password string) string {
	st := hs.st
	var v string
	switch r.src {
	case srcLiteral:
		v = r.arg
	case srcUser:
		v = st.User
	case srcID:
		v = st.UserID
	case srcProvider:
		v = st.Provider
	case srcEmail:
		v = st.Email
	case srcName:
		v = st.Name
	case srcGivenName:
		v = st.GivenName
	case srcFamilyName:
		v = st.FamilyName
	case srcUsername:
		v = st.Username
	case srcGroups:
		v = hs.groups()
	case srcAttr:
		v = st.Attributes[r.arg]
	case srcAccessToken:
		v = st.AccessToken
	case srcIDToken:
		v = st.IDToken
	}
	if v == "" {
		return ""
	}
	switch r.wrap {
	case wrapBearer:
		return "Bearer " + v
	case wrapBasic:
		return basicAuth(v, password)
	}
	return v
}

// basicAuth is the Authorization value of RFC 7617 for user and password,
// or "" when user holds a ':', which would end the user-id early (the app
// would read "google:1234" as the user "google").
func basicAuth(user, password string) string {
	if strings.IndexByte(user, ':') >= 0 {
		return ""
	}
	const scheme = "Basic "
	plain := make([]byte, 0, len(user)+1+len(password))
	plain = append(append(append(plain, user...), ':'), password...)
	b := make([]byte, len(scheme)+base64.StdEncoding.EncodedLen(len(plain)))
	copy(b, scheme)
	base64.StdEncoding.Encode(b[len(scheme):], plain)
	return string(b)
}

// ownNames are the names of the headers that INJECT_HEADERS and
// AUTH_RESPONSE_HEADERS set, folded as isOwnHeader folds (each is letters,
// digits and '-': validInjectedName), which a client may not send in any
// spelling either. first marks their first bytes in both cases, so most of
// a request's headers are settled by one lookup; with no names at all,
// maxLen is 0 and every header by its length.
type ownNames struct {
	names  map[string]bool
	first  [256]bool
	maxLen int
}

func (o *ownNames) add(name string) {
	if o.names == nil {
		o.names = map[string]bool{}
	}
	var buf [maxFold]byte
	n := foldHeaderName(buf[:], name)
	o.names[string(buf[:n])] = true
	c := buf[0]
	o.first[c] = true
	if c >= 'a' && c <= 'z' {
		o.first[c-'a'+'A'] = true
	}
	o.maxLen = max(o.maxLen, len(name))
}

// has reports whether name, in any spelling, is one of o's. It allocates
// nothing.
func (o *ownNames) has(name string) bool {
	if len(name) > o.maxLen || name == "" || !o.first[name[0]] {
		return false
	}
	var buf [maxFold]byte
	n := foldHeaderName(buf[:], name)
	return o.names[string(buf[:n])]
}
