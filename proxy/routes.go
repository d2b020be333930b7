package proxy

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The mux: Portcullis's own routes (ownRoutes), in one place, and the
// shortcut past the mux for the requests that come most; everything else
// is the application's (protected, upstream.go).

// routes is the mux of every route, with a way past its matching for the
// requests that come most.
func (s *Server) routes() http.Handler {
	mux := s.ownMux
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch s.paths.shortcut(r) {
		case toAuth:
			s.auth(w, r)
		case toForwardAuth:
			s.forwardAuth(w, r)
		case toApp:
			s.protected(w, r)
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

// paths is Options.Paths as New settles it: where each route of ours is.
type paths struct {
	prefix      string // PROXY_PREFIX: "/oauth2" by default
	auth        string // prefix + "/auth"
	forwardAuth string // prefix + "/forward-auth"
	ping, ready string // "": turned off
}

// jwksPath is where the assertion signer's public keys are served.
const jwksPath = "/.well-known/portcullis/jwks.json"

// newPaths settles o, or says why it can't: a path the mux would read
// as a pattern of its own, or two routes on one path.
func newPaths(o Paths) (paths, error) {
	p := paths{prefix: cmp.Or(o.Prefix, "/oauth2"), ping: cmp.Or(o.Ping, "/ping"), ready: cmp.Or(o.Ready, "/ready")}
	if !cleanPath(p.prefix) {
		return paths{}, fmt.Errorf("proxy: Paths.Prefix %q is not a path like /oauth2", p.prefix)
	}
	for _, hp := range []*string{&p.ping, &p.ready} {
		switch {
		case *hp == Off:
			*hp = ""
		case !cleanPath(*hp):
			return paths{}, fmt.Errorf("proxy: health check path %q is not a path like /ping", *hp)
		case *hp == p.prefix || strings.HasPrefix(*hp, p.prefix+"/") || *hp == jwksPath:
			return paths{}, fmt.Errorf("proxy: health check path %q is one of Portcullis's own", *hp)
		}
	}
	if p.ping != "" && p.ping == p.ready {
		return paths{}, fmt.Errorf("proxy: Paths.Ping and Paths.Ready are both %q", p.ping)
	}
	p.auth, p.forwardAuth = p.prefix+"/auth", p.prefix+"/forward-auth"
	return p, nil
}

// cleanPath reports whether p is a path that the mux takes literally and
// leaves as it is: "/" and segments of RFC 3986 path characters, none
// empty, "." or "..", no percent-escapes, and no "/" at the end.
func cleanPath(p string) bool {
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0) {
				return false
			}
		}
	}
	return true
}

// ownRoute is a route Portcullis answers itself.
type ownRoute struct {
	pattern string
	// route is its label in the metrics (SPEC: auth, forward_auth,
	// sign_in, start, callback, sign_out, userinfo, other).
	route   string
	handler http.Handler
}

// ownRoutes are Portcullis's own routes, in one place: everything else is
// the application's (s.protected).
func (s *Server) ownRoutes() []ownRoute {
	pre := s.paths.prefix
	routes := []ownRoute{
		// The sign-in routes build our own URLs (the redirect URI, redirects
		// back to us): only on a host we know (knownHost).
		{"GET " + pre + "/sign_in", "sign_in", s.onKnownHost(s.signIn)},
		{"GET " + pre + "/start", "start", s.onKnownHost(s.start)},
		{"GET " + pre + "/callback", "callback", s.onKnownHost(s.callback)},
		{"POST " + pre + "/callback", "callback", s.onKnownHost(s.callbackPost)},
		{"GET " + pre + "/sign_out", "sign_out", s.onKnownHost(s.signOut)},
		{"POST " + pre + "/sign_out", "sign_out", s.onKnownHost(s.signOut)},
		{"GET " + pre + "/userinfo", "userinfo", http.HandlerFunc(s.userinfo)},
		// Single-page apps (spa.go, status.go, popup.go).
		{"GET " + pre + "/session", "other", http.HandlerFunc(s.sessionStatus)},
		{"GET " + pre + "/token", "other", http.HandlerFunc(s.accessToken)},
		{"GET " + pre + "/portcullis.js", "other", portcullisAsset},
		{"GET " + pre + "/popup.js", "other", popupAsset},
		// Called by the providers, not on a host of ours necessarily
		// (logout.go).
		{"POST " + pre + "/backchannel-logout", "other", http.HandlerFunc(s.backchannelLogout)},
		{"GET " + pre + "/frontchannel-logout", "other", http.HandlerFunc(s.frontchannelLogout)},
		// Any method: Envoy ext_authz checks with the request's own method.
		{s.paths.auth, "auth", http.HandlerFunc(s.auth)},
		{s.paths.forwardAuth, "forward_auth", http.HandlerFunc(s.forwardAuth)},
		{pre + "/", "other", http.HandlerFunc(s.notFound)},
	}
	if s.paths.ping != "" {
		routes = append(routes, ownRoute{"GET " + s.paths.ping, "other", http.HandlerFunc(s.ping)})
	}
	if s.paths.ready != "" {
		routes = append(routes, ownRoute{"GET " + s.paths.ready, "other", http.HandlerFunc(s.readyz)})
	}
	if s.identity.Assertions != nil || len(s.identity.ClientKeys) > 0 {
		routes = append(routes, ownRoute{"GET " + jwksPath, "other", &jwks{signer: s.identity.Assertions, static: s.identity.ClientKeys}})
	}
	return routes
}

// mux routes every request.
func (s *Server) mux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range s.ownRoutes() {
		mux.Handle(rt.pattern, rt.handler)
	}
	mux.HandleFunc("/", s.protected)
	return mux
}

// routeLabels maps each pattern of the mux to its route's metric label.
func (s *Server) routeLabels() map[string]string {
	m := map[string]string{"/": "proxy"}
	for _, rt := range s.ownRoutes() {
		m[rt.pattern] = rt.route
	}
	return m
}

// routeClass names r's route in the metrics, by the handler that answers
// it wherever PROXY_PREFIX puts it: for a path that names no route of
// ours as it is written, the application ("proxy"; the mux's redirect of
// an unclean path of the application's counts as the application's);
// for any other, the route of the mux's pattern for r, "other" for the
// mux's own answers (a 405). A path of the application's costs a few
// comparisons, as in shortcut.
func (s *Server) routeClass(r *http.Request) string {
	ps := &s.paths
	if p := r.URL.Path; r.URL.RawPath == "" {
		switch {
		case p == ps.auth:
			return "auth"
		case p == ps.forwardAuth:
			return "forward_auth"
		case len(p) > 0 && p[0] == '/' && r.Method != http.MethodConnect &&
			!strings.HasPrefix(p, ps.prefix) && p != ps.ping && p != ps.ready && p != jwksPath:
			return "proxy"
		}
	}
	if r.RequestURI == "*" {
		return "other" // the mux answers 400
	}
	_, pattern := s.ownMux.Handler(r)
	if route, ok := s.labels[pattern]; ok {
		return route
	}
	return "other"
}

// A destination is where shortcut sends a request.
type destination int

const (
	viaMux        destination = iota // anything else: the mux decides
	toAuth                           // s.auth
	toForwardAuth                    // s.forwardAuth
	toApp                            // s.protected
)

// shortcut chooses, cheaply, what the mux would choose for the requests
// that come most: forward-auth checks and the application's own. Anything
// unsure goes through the mux; TestShortcut and FuzzShortcut hold the two
// to the same answer, and TestShortcutKnowsOwnRoutes to ownRoutes.
func (ps *paths) shortcut(r *http.Request) destination {
	p := r.URL.Path
	if r.URL.RawPath == "" { // to the mux an encoded "/" (%2F) separates nothing
		switch p {
		case ps.auth: // any method, and an exact path is a clean one
			return toAuth
		case ps.forwardAuth:
			return toForwardAuth
		}
	}
	// The application's: a clean path (no empty or dot segment, which the
	// mux would redirect) outside every route of ours. A health check
	// that is off is "", which no such path is.
	if r.Method != http.MethodConnect &&
		len(p) > 0 && p[0] == '/' &&
		!strings.HasPrefix(p, ps.prefix) &&
		p != ps.ping && p != ps.ready &&
		!strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return toApp
	}
	return viaMux
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready"))
		return
	}
	for _, check := range s.readyChecks {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := check(ctx)
		cancel()
		if err != nil {
			// The reason may name internal hosts: the log has it, the
			// answer (to anyone) does not.
			s.log.Warn("not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready"))
			return
		}
	}
	w.Write([]byte("OK"))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, "Page not found", "There is no such page.")
}
