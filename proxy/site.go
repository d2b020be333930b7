package proxy

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Our own address: which hosts a request may name us by, and the URLs
// (callback, sign-in) built on it.

// ownHost is the host users reach us on, for building our own URLs and
// judging redirects: PUBLIC_URL's, else the request's Host when it is one
// we may trust (trustedHost), else "": nothing may be built from it.
func (s *Server) ownHost(r *http.Request) string {
	if s.site.PublicURL != nil {
		return s.site.PublicURL.Host
	}
	if s.trustedHost(r.Host) {
		return r.Host
	}
	return ""
}

// trustedHost reports whether a request's Host may name us when PUBLIC_URL
// is not set: a loopback host (localhost, 127.0.0.0/8, [::1]) on any port,
// or one matching ALLOWED_HOSTS or the host of a provider's REDIRECT_URL.
// Any other Host may be a client's invention: a redirect URI or a
// redirect built on it would send the browser, and the provider's code,
// wherever the client says.
func (s *Server) trustedHost(hostport string) bool {
	hp := strings.ToLower(hostport)
	host, port := splitHostPort(hp)
	if host == "" || strings.Contains(host, ":") && !strings.HasPrefix(hp, "[") {
		return false // an IPv6 address must be in brackets
	}
	if host == "localhost" {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback() {
		return true
	}
	return hostMatches(host, port, s.site.knownHosts)
}

// knownHost reports whether Portcullis may build its own URLs for r. When
// it may not, it answers 400 naming the settings that would let it; the
// Host itself is neither shown nor used.
func (s *Server) knownHost(w http.ResponseWriter, r *http.Request) bool {
	if s.ownHost(r) != "" {
		return true
	}
	s.log.Info("request refused: its Host is not loopback, in PORTCULLIS_ALLOWED_HOSTS or PORTCULLIS_PUBLIC_URL's", "host", clean(r.Host, 100), "path", r.URL.Path)
	s.fail(w, r, http.StatusBadRequest, "Unknown site address",
		"Portcullis does not know this site's address, so it cannot sign you in here. "+
			"The operator should set PORTCULLIS_PUBLIC_URL to the URL users reach it on, "+
			"or list this host in PORTCULLIS_ALLOWED_HOSTS.")
	return false
}

// onKnownHost serves h only for requests on a host Portcullis may build
// its own URLs from (knownHost).
func (s *Server) onKnownHost(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.knownHost(w, r) {
			h(w, r)
		}
	})
}

// baseURL is the external URL of this proxy, without a trailing slash:
// PUBLIC_URL, else the scheme of the request and its Host when that is
// trusted (knownHost has refused the request otherwise).
func (s *Server) baseURL(r *http.Request) string {
	if s.site.PublicURL != nil {
		return s.site.base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + s.ownHost(r)
}

// callbackURL is the redirect URI for p, as registered at the provider.
func (s *Server) callbackURL(r *http.Request, p *Provider) string {
	if p.RedirectURL != "" {
		return p.RedirectURL
	}
	return s.baseURL(r) + s.paths.prefix + "/callback"
}

// signInURL is where a browser goes to sign in: the provider's start
// endpoint when there is one provider and nothing else to show
// (skipSignIn), the sign-in page otherwise.
func (s *Server) signInURL(rd string) string {
	q := url.Values{"rd": {rd}}
	if s.skipSignIn {
		return s.paths.prefix + "/start?" + q.Encode()
	}
	return s.paths.prefix + "/sign_in?" + q.Encode()
}

// absoluteSignInURL is signInURL on PUBLIC_URL when one is set, so an
// ingress can hand it to the browser from any host.
func (s *Server) absoluteSignInURL(rd string) string {
	return s.site.base + s.signInURL(rd)
}
