// Package stack is the test stack that the end-to-end tests, the proxy's
// tests and the proxy's benchmarks share: the development provider
// (internal/idp) served over real HTTP, the OAuth2 client for it, the
// session cookie store, alice's signed-in session sealed into cookies, an
// upstream that echoes what it got, and a browser that keeps its cookies
// and follows redirects hop by hop.
//
// It does not import package proxy, so that the proxy's own (in-package)
// tests and benchmarks can use it: each harness puts the parts into
// proxy.Options itself, and keeps what is its own (nginx for the
// end-to-end tests, an in-memory transport for the benchmarks).
package stack

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/providers"
)

// The client, provider and cookie of every stack.
const (
	ClientID     = "portcullis-test"
	ClientSecret = "s3cret-client-value-never-shown"
	// ProviderID is the provider's id in the proxy (X-User-Provider) and
	// in the sessions Alice makes.
	ProviderID = "oauth2"
	// DisplayName is the provider's label on the sign-in page.
	DisplayName = "Test provider"
	// CookieName and CookieSecret (32 bytes) are the session cookie's.
	CookieName   = "_portcullis"
	CookieSecret = "0123456789abcdef0123456789abcdef"
)

// A Provider is the development provider (internal/idp) served over HTTP
// on loopback until the test ends.
type Provider struct {
	*idp.Server // Calls, SetOptions
	// URL is the provider's base URL, http://127.0.0.1:PORT.
	URL       string
	Endpoints idp.Endpoints
	HTTP      *httptest.Server
}

// IDPOptions are the development provider's options in every stack: this
// client registered, alice approved at once (no sign-in page), PKCE
// required.
func IDPOptions() idp.Options {
	return idp.Options{
		ClientID:     ClientID,
		ClientSecret: ClientSecret,
		AutoApprove:  "alice",
		RequirePKCE:  true,
	}
}

// StartProvider serves the development provider with IDPOptions, changed
// by edit when it is not nil, until t ends.
func StartProvider(t testing.TB, edit func(*idp.Options)) *Provider {
	t.Helper()
	o := IDPOptions()
	if edit != nil {
		edit(&o)
	}
	p := &Provider{Server: idp.New(o)}
	p.HTTP = httptest.NewServer(p.Server)
	t.Cleanup(p.HTTP.Close)
	p.URL = p.HTTP.URL
	p.Endpoints = idp.EndpointsAt(p.URL)
	return p
}

// ClientConfig is the stacks' OAuth2 client of p: ProviderID, this
// client's id and secret, p's authorization, token and userinfo URLs,
// scopes openid, email and profile.
func (p *Provider) ClientConfig() providers.Config {
	return providers.Config{
		ID:           ProviderID,
		ClientID:     ClientID,
		ClientSecret: ClientSecret,
		AuthURL:      p.Endpoints.AuthURL,
		TokenURL:     p.Endpoints.TokenURL,
		UserinfoURL:  p.Endpoints.UserinfoURL,
		Scopes:       []string{"openid", "email", "profile"},
	}
}

// OfflineConfig is an OAuth2 client whose provider is never reached (its
// URLs are on port 1), for stacks that start signed in and never refresh.
func OfflineConfig() providers.Config {
	return providers.Config{
		ID:           ProviderID,
		ClientID:     ClientID,
		ClientSecret: ClientSecret,
		AuthURL:      "http://127.0.0.1:1/authorize",
		TokenURL:     "http://127.0.0.1:1/token",
		UserinfoURL:  "http://127.0.0.1:1/userinfo",
	}
}

// NewClient returns the OAuth2 client cfg describes, failing t when cfg
// is not valid.
func NewClient(t testing.TB, cfg providers.Config) *providers.OAuth2 {
	t.Helper()
	c, err := providers.NewOAuth2(cfg)
	if err != nil {
		t.Fatalf("providers.NewOAuth2: %v", err)
	}
	return c
}

// Serve serves h over HTTP on loopback until t ends.
func Serve(t testing.TB, h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
