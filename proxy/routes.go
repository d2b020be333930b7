package proxy

import (
	"context"
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
	mux := s.mux()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch shortcut(r) {
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

// ownRoute is a route Portcullis answers itself.
type ownRoute struct {
	pattern string
	handler http.Handler
}

// ownRoutes are Portcullis's own routes, in one place: everything else is
// the application's (s.protected).
func (s *Server) ownRoutes() []ownRoute {
	routes := []ownRoute{
		{"GET /ping", http.HandlerFunc(s.ping)},
		{"GET /ready", http.HandlerFunc(s.readyz)},
		// The sign-in routes build our own URLs (the redirect URI, redirects
		// back to us): only on a host we know (knownHost).
		{"GET /oauth2/sign_in", s.onKnownHost(s.signIn)},
		{"GET /oauth2/start", s.onKnownHost(s.start)},
		{"GET /oauth2/callback", s.onKnownHost(s.callback)},
		{"POST /oauth2/callback", s.onKnownHost(s.callbackPost)},
		{"GET /oauth2/sign_out", s.onKnownHost(s.signOut)},
		{"POST /oauth2/sign_out", s.onKnownHost(s.signOut)},
		{"GET /oauth2/userinfo", http.HandlerFunc(s.userinfo)},
		// Called by the providers, not on a host of ours necessarily.
		{"POST /oauth2/backchannel-logout", http.HandlerFunc(s.backchannelLogout)},
		{"GET /oauth2/frontchannel-logout", http.HandlerFunc(s.frontchannelLogout)},
		// Any method: Envoy ext_authz checks with the request's own method.
		{"/oauth2/auth", http.HandlerFunc(s.auth)},
		{"/oauth2/forward-auth", http.HandlerFunc(s.forwardAuth)},
		{"/oauth2/", http.HandlerFunc(s.notFound)},
	}
	if s.identity.Assertions != nil {
		routes = append(routes, ownRoute{"GET /.well-known/portcullis/jwks.json", s.identity.Assertions})
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
func shortcut(r *http.Request) destination {
	p := r.URL.Path
	if r.URL.RawPath == "" { // to the mux an encoded "/" (%2F) separates nothing
		switch p {
		case "/oauth2/auth": // any method, and an exact path is a clean one
			return toAuth
		case "/oauth2/forward-auth":
			return toForwardAuth
		}
	}
	// The application's: a clean path (no empty or dot segment, which the
	// mux would redirect) outside every route of ours.
	if r.Method != http.MethodConnect &&
		len(p) > 0 && p[0] == '/' &&
		!strings.HasPrefix(p, "/oauth2") &&
		p != "/ping" && p != "/ready" &&
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
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + err.Error()))
			return
		}
	}
	w.Write([]byte("OK"))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, "Page not found", "There is no such page.")
}
