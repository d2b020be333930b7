package proxy

import (
	"net"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/portcullis/portcullis/session"
)

// The headers on the way upstream: the client's identity and connection
// headers stripped in every spelling (isOwnHeader, outboundHeader), our
// cookies removed, and the identity and X-Forwarded-* headers set.

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

// connectionHeaders describe the connection or the request as a proxy in
// front saw it, folded like identityHeaders. Apps believe them (the
// client's address, scheme, host, path), so only Portcullis may send them
// upstream: X-Forwarded-For, -Host and -Proto as setXForwarded sets them,
// the others never. Every X-Forwarded-… and X-Original-… header counts too.
var connectionHeaders = map[string]bool{
	"x-forwarded":         true,
	"x-real-ip":           true,
	"x-client-ip":         true,
	"x-cluster-client-ip": true,
	"x-rewrite-url":       true,
	// The few that don't start with X are matched in isOwnHeader.
	"forwarded":        true,
	"true-client-ip":   true,
	"client-ip":        true,
	"cf-connecting-ip": true,
	"fastly-client-ip": true,
	"proxy":            true, // httpoxy: CGI's HTTP_PROXY, the app's outbound proxy
}

// maxFold is the most of a header name isOwnHeader folds: more than the
// longest name in identityHeaders and connectionHeaders, so a longer name
// can only match by one of the prefixes.
const maxFold = 64

// isOwnHeader reports whether a header name, in any spelling a server
// might fold to the same name (X-User, x-user, X_User, X.User — CGI-style
// servers turn every non-alphanumeric byte into "_"), is one only
// Portcullis may send upstream: an identity header (identityHeaders, and
// every X-User-… and X-Auth-Request-… header, so attributes that are not
// configured today can't be smuggled in either) or one that describes the
// connection (connectionHeaders, and every X-Forwarded-… and X-Original-…
// header).
//
// It runs for every header of every proxied request, so it allocates
// nothing, and most headers are settled by their first byte.
func isOwnHeader(name string) bool {
	if name == "" {
		return false
	}
	switch name[0] | 0x20 { // lower-cases a letter
	case 'x':
	case 'f':
		return foldEqual(name, "forwarded") || foldEqual(name, "fastly-client-ip")
	case 't':
		return foldEqual(name, "true-client-ip")
	case 'c':
		return foldEqual(name, "client-ip") || foldEqual(name, "cf-connecting-ip")
	case 'p':
		return foldEqual(name, "proxy")
	default:
		return false
	}
	var buf [maxFold]byte
	n := foldHeaderName(buf[:], name)
	f := buf[:n]
	if len(name) <= maxFold && (identityHeaders[string(f)] || connectionHeaders[string(f)]) {
		return true
	}
	return hasPrefix(f, "x-user-") || hasPrefix(f, "x-auth-request-") ||
		hasPrefix(f, "x-forwarded-") || hasPrefix(f, "x-original-")
}

// foldHeaderName writes name into dst lower-cased, with every byte that is
// not a letter or digit turned into "-", as far as dst holds it, and
// returns how many bytes it wrote.
func foldHeaderName(dst []byte, name string) int {
	n := min(len(dst), len(name))
	for i := range n {
		dst[i] = foldByte(name[i])
	}
	return n
}

func foldByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return c
	}
	return '-'
}

// foldEqual reports whether name folds to folded (as foldHeaderName
// would fold it), without allocating.
func foldEqual(name, folded string) bool {
	if len(name) != len(folded) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if foldByte(name[i]) != folded[i] {
			return false
		}
	}
	return true
}

// hasPrefix is strings.HasPrefix for a folded name, without converting it.
func hasPrefix(f []byte, prefix string) bool {
	return len(f) >= len(prefix) && string(f[:len(prefix)]) == prefix
}

// identityHeaderCount is the most headers setIdentity sets, not counting
// attributes; authRequestHeaderCount the most setAuthRequest sets.
const (
	identityHeaderCount    = 14
	authRequestHeaderCount = 5
)

// setUpstreamHeaders sets on h what the upstream is told of st: the
// identity headers of the SPEC's table (setIdentity), then the injected
// headers (INJECT_HEADERS). Empty values are left out. The values share
// one backing array: one allocation instead of one per header.
func (id *identity) setUpstreamHeaders(h http.Header, st *session.State) {
	hs := headerSetter{h: h, st: st, vals: make([]string, 0, identityHeaderCount+len(st.Attributes)+len(id.inject))}
	hs.setIdentity(id)
	hs.rules(id.inject, id.BasicAuthPassword)
}

// setAnswerHeaders sets on h what a forward-auth endpoint's 2xx answer
// tells of st: the identity headers, the X-Auth-Request-… headers that
// nginx auth_request and forward-auth callers copy from the answer, then
// AUTH_RESPONSE_HEADERS.
func (id *identity) setAnswerHeaders(h http.Header, st *session.State) {
	hs := headerSetter{h: h, st: st, vals: make([]string, 0, identityHeaderCount+authRequestHeaderCount+len(st.Attributes)+len(id.answer))}
	hs.setIdentity(id)
	hs.setAuthRequest(id)
	hs.rules(id.answer, id.BasicAuthPassword)
}

// setIdentity sets the default identity set (unless NoIdentityHeaders),
// X-Forwarded-Access-Token with PassAccessToken and Authorization with
// SetAuthorization.
func (hs *headerSetter) setIdentity(id *identity) {
	s := hs.st
	if !id.NoIdentityHeaders {
		groups := hs.groups()
		hs.set("X-User", s.User)
		hs.set("X-User-Id", s.UserID)
		hs.set("X-User-Provider", s.Provider)
		hs.set("X-Email", s.Email)
		hs.set("X-User-Name", s.Name)
		hs.set("X-User-Given-Name", s.GivenName)
		hs.set("X-User-Family-Name", s.FamilyName)
		hs.set("X-User-Groups", groups)
		for name, v := range s.Attributes {
			key, ok := id.attrKeys[name]
			if !ok {
				key = http.CanonicalHeaderKey("X-User-Attr-" + name)
			}
			hs.set(key, v)
		}
		hs.set("X-Forwarded-User", s.User)
		hs.set("X-Forwarded-Email", s.Email)
		hs.set("X-Forwarded-Preferred-Username", s.Username)
		hs.set("X-Forwarded-Groups", groups)
	}
	if id.PassAccessToken {
		hs.set("X-Forwarded-Access-Token", s.AccessToken)
	}
	if id.SetAuthorization && s.AccessToken != "" {
		hs.set("Authorization", "Bearer "+s.AccessToken)
	}
}

// setAuthRequest sets the X-Auth-Request-… headers: the identity's
// (unless NoIdentityHeaders) and the access token's with PassAccessToken.
func (hs *headerSetter) setAuthRequest(id *identity) {
	s := hs.st
	if !id.NoIdentityHeaders {
		hs.set("X-Auth-Request-User", s.User)
		hs.set("X-Auth-Request-Email", s.Email)
		hs.set("X-Auth-Request-Preferred-Username", s.Username)
		hs.set("X-Auth-Request-Groups", hs.groups())
	}
	if id.PassAccessToken {
		hs.set("X-Auth-Request-Access-Token", s.AccessToken)
	}
}

// headerSetter sets headers of one session on h. It stores canonical
// header keys without re-canonicalizing them, each value a one-element
// window on a shared backing array, and joins the session's groups once
// for every header that carries them.
type headerSetter struct {
	h    http.Header
	st   *session.State
	vals []string

	joined       string
	groupsJoined bool
}

func (hs *headerSetter) set(key, value string) {
	if value == "" {
		return
	}
	i := len(hs.vals)
	hs.vals = append(hs.vals, value)
	hs.h[key] = hs.vals[i : i+1 : i+1]
}

// groups is the session's groups, comma-joined.
func (hs *headerSetter) groups() string {
	if !hs.groupsJoined {
		hs.joined, hs.groupsJoined = strings.Join(hs.st.Groups, ","), true
	}
	return hs.joined
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

// outboundHeader returns a copy of the client's headers h without the
// identity and connection headers (any spelling: isOwnHeader), without
// those INJECT_HEADERS and AUTH_RESPONSE_HEADERS set (any spelling:
// ownNames), and, when Portcullis sets Authorization itself, without the
// client's. The copy has room for the identity and X-Forwarded-* headers
// still to come: adding a dozen headers to the exact-size map ReverseProxy
// cloned would grow it twice, which cost more than the copy.
func (s *Server) outboundHeader(h http.Header, st *session.State) http.Header {
	room := len(h) + 4 // X-Forwarded-For, -Host, -Proto; the assertion
	if st != nil {
		room += identityHeaderCount + len(st.Attributes) + len(s.identity.inject)
	}
	out := make(http.Header, room)
	for name, v := range h {
		if isOwnHeader(name) || s.identity.own.has(name) || s.identity.SetAuthorization && name == "Authorization" {
			continue
		}
		out[name] = v
	}
	return out
}

// setXForwarded sets X-Forwarded-For, -Host and -Proto in h for the
// request in, as httputil.ProxyRequest.SetXForwarded does, but with one
// allocation for the three values instead of one each. From a trusted
// peer (trusted), its own X-Forwarded-For is kept with the peer's address
// appended, as SetXForwarded documents for a proxy behind another, and its
// X-Forwarded-Host and -Proto are kept; from any other peer the three
// describe the connection Portcullis received. Only the canonical
// spellings are read (net/http merges x-forwarded-for into
// X-Forwarded-For); isOwnHeader has removed every other from h. Each value
// has capacity 1, so an append to one copies it first.
func setXForwarded(h http.Header, in *http.Request, trusted bool) {
	var prior http.Header
	if trusted {
		prior = in.Header
	}
	vals := make([]string, 3)
	clientIP, _, err := net.SplitHostPort(in.RemoteAddr)
	switch ips := prior["X-Forwarded-For"]; {
	case err == nil:
		if len(ips) > 0 {
			clientIP = strings.Join(ips, ", ") + ", " + clientIP
		}
		vals[0] = clientIP
		h["X-Forwarded-For"] = vals[0:1:1]
	case len(ips) > 0: // a peer without an address (a Unix socket): its list as it is
		vals[0] = strings.Join(ips, ", ")
		h["X-Forwarded-For"] = vals[0:1:1]
	default:
		delete(h, "X-Forwarded-For")
	}
	if v := prior["X-Forwarded-Host"]; len(v) > 0 {
		h["X-Forwarded-Host"] = v[:len(v):len(v)]
	} else {
		vals[1] = in.Host
		h["X-Forwarded-Host"] = vals[1:2:2]
	}
	if v := prior["X-Forwarded-Proto"]; len(v) > 0 {
		h["X-Forwarded-Proto"] = v[:len(v):len(v)]
	} else {
		vals[2] = "http"
		if in.TLS != nil {
			vals[2] = "https"
		}
		h["X-Forwarded-Proto"] = vals[2:3:3]
	}
}
