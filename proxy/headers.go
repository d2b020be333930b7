package proxy

import (
	"net/http"
	"net/textproto"
	"strings"

	"github.com/portcullis/portcullis/session"
)

// identityHeaders are the headers Portcullis sets from the session, in the
// lower-case, dash-separated form a client's spelling is folded to.
var identityHeaders = map[string]bool{
	"x-user":                            true,
	"x-email":                           true,
	"x-forwarded-user":                  true,
	"x-forwarded-email":                 true,
	"x-forwarded-preferred-username":    true,
	"x-forwarded-groups":                true,
	"x-forwarded-access-token":          true,
	"x-auth-request-user":               true,
	"x-auth-request-email":              true,
	"x-auth-request-preferred-username": true,
	"x-auth-request-groups":             true,
	"x-auth-request-access-token":       true,
	"x-portcullis-assertion":            true,
}

// isIdentityHeader reports whether a header name, in any spelling a server
// might fold to the same name (X-User, x-user, X_User, X.User — CGI-style
// servers turn every non-alphanumeric byte into "_"), is one Portcullis
// owns. Every X-User-… and X-Auth-Request-… header counts, so attributes
// that are not configured today can't be smuggled in either.
func isIdentityHeader(name string) bool {
	// Every identity header starts with X: most headers of a request are
	// settled here without folding (which allocates) — this runs for every
	// header of every proxied request.
	if name == "" || name[0] != 'X' && name[0] != 'x' {
		return false
	}
	n := foldHeaderName(name)
	return identityHeaders[n] ||
		strings.HasPrefix(n, "x-user-") ||
		strings.HasPrefix(n, "x-auth-request-")
}

// foldHeaderName lower-cases name and turns every byte that is not a
// letter or digit into "-".
func foldHeaderName(name string) string {
	b := make([]byte, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			c = '-'
		}
		b[i] = c
	}
	return string(b)
}

// identityHeaderCount is the most headers setUpstreamHeaders sets, not
// counting attributes.
const identityHeaderCount = 14

// setUpstreamHeaders sets the identity headers of the SPEC's table on h.
// Empty values are left out. The values share one backing array: one
// allocation instead of one per header.
func setUpstreamHeaders(h http.Header, s *session.State, attrNames map[string]string, passAccessToken, setAuthorization bool) {
	hs := headerSetter{h: h, vals: make([]string, 0, identityHeaderCount+len(s.Attributes))}
	groups := strings.Join(s.Groups, ",")
	hs.set("X-User", s.User)
	hs.set("X-User-Id", s.UserID)
	hs.set("X-User-Provider", s.Provider)
	hs.set("X-Email", s.Email)
	hs.set("X-User-Name", s.Name)
	hs.set("X-User-Given-Name", s.GivenName)
	hs.set("X-User-Family-Name", s.FamilyName)
	hs.set("X-User-Groups", groups)
	for name, v := range s.Attributes {
		key, ok := attrNames[name]
		if !ok {
			key = http.CanonicalHeaderKey("X-User-Attr-" + name)
		}
		hs.set(key, v)
	}
	hs.set("X-Forwarded-User", s.User)
	hs.set("X-Forwarded-Email", s.Email)
	hs.set("X-Forwarded-Preferred-Username", s.Username)
	hs.set("X-Forwarded-Groups", groups)
	if passAccessToken {
		hs.set("X-Forwarded-Access-Token", s.AccessToken)
	}
	if setAuthorization && s.AccessToken != "" {
		hs.set("Authorization", "Bearer "+s.AccessToken)
	}
}

// setAuthRequestHeaders sets the X-Auth-Request-… headers that nginx
// auth_request and forward-auth callers copy from our response.
func setAuthRequestHeaders(h http.Header, s *session.State, passAccessToken bool) {
	hs := headerSetter{h: h, vals: make([]string, 0, 5)}
	hs.set("X-Auth-Request-User", s.User)
	hs.set("X-Auth-Request-Email", s.Email)
	hs.set("X-Auth-Request-Preferred-Username", s.Username)
	hs.set("X-Auth-Request-Groups", strings.Join(s.Groups, ","))
	if passAccessToken {
		hs.set("X-Auth-Request-Access-Token", s.AccessToken)
	}
}

// headerSetter stores canonical header keys without re-canonicalizing
// them, each value a one-element window on a shared backing array.
type headerSetter struct {
	h    http.Header
	vals []string
}

func (hs *headerSetter) set(key, value string) {
	if value == "" {
		return
	}
	i := len(hs.vals)
	hs.vals = append(hs.vals, value)
	hs.h[key] = hs.vals[i : i+1 : i+1]
}

// stripOwnCookies removes Portcullis's cookies from the Cookie header so
// the session never reaches the upstream. The header is rewritten only
// when one of ours is present.
func stripOwnCookies(h http.Header, own func(name string) bool) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	found, size := false, 0
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if own(textproto.TrimString(name)) {
				found = true
			} else if part != "" {
				size += len(part) + len("; ")
			}
		}
	}
	if !found {
		return
	}
	var kept strings.Builder
	kept.Grow(size)
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, _, _ := strings.Cut(part, "=")
			if !own(textproto.TrimString(name)) {
				if kept.Len() > 0 {
					kept.WriteString("; ")
				}
				kept.WriteString(part)
			}
		}
	}
	if kept.Len() == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{kept.String()}
}
