package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Endpoints are the URLs a provider uses, for `portcullis check` and for
// labelling metrics. Empty fields are not in use (or not known before
// discovery).
type Endpoints struct {
	// Issuer is the issuer ID tokens are checked against; it may hold
	// {tenantid} for a multi-tenant provider.
	Issuer      string
	AuthURL     string
	TokenURL    string
	RefreshURL  string
	UserinfoURL string
	JWKSURL     string
	// LogoutURL is the end-session endpoint.
	LogoutURL string
	// RevokeURL is the RFC 7009 revocation endpoint.
	RevokeURL string
	// IntrospectionURL is the RFC 7662 introspection endpoint discovery
	// advertises, which a BearerValidator of this provider uses when it is
	// given none.
	IntrospectionURL string
	// SigningAlgs are the algorithms ID tokens are accepted in.
	SigningAlgs []string
}

// shownURL makes a URL fit for a message: a password in it hidden, control
// characters removed, at most 200 bytes.
func shownURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if _, ok := u.User.Password(); ok {
			raw = u.Redacted() // else as it is: Redacted would re-escape "{tenantid}"
		}
	} else if i := strings.IndexByte(raw, '@'); i >= 0 {
		raw = "…" + raw[i:] // unparsable, and it may hold credentials before the @
	}
	s := cleanText(raw)
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Discover fetches the discovery document with the configured HTTP client
// and sets the provider up from it: endpoints not set explicitly, the
// end-session and revocation endpoints, and the ID token verifier, whose
// key set is fetched when first needed and again when a token names a key
// it lacks (rotation), at most once per JWKSMinInterval. It may be called
// again to pick up changes.
func (o *OIDC) Discover(ctx context.Context) error {
	fail := func(kind ErrorKind, desc string, err error) error {
		return &Error{Provider: o.id, Endpoint: "discovery", Kind: kind, Description: desc, Err: err}
	}
	dctx := oidc.ClientContext(ctx, o.client)
	if o.cfg.MultiTenant {
		// The document's issuer may differ from the URL it is fetched
		// from; it is read below and checked against each token.
		dctx = oidc.InsecureIssuerURLContext(dctx, o.cfg.IssuerURL)
	}
	p, err := oidc.NewProvider(dctx, o.cfg.IssuerURL)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			c := *e
			c.Provider, c.Endpoint = o.id, "discovery"
			return &c
		}
		if m, ok := errors.AsType[*oidc.IssuerMismatchError](err); ok {
			return fail(ErrBadResponse, fmt.Sprintf("the discovery document's issuer %q differs from ISSUER_URL %q (they must match exactly, trailing slash included)",
				shownURL(m.Discovered), shownURL(m.Provided)), err)
		}
		if isNetError(err) {
			return networkError(&Error{Provider: o.id, Endpoint: "discovery"}, err)
		}
		return fail(ErrBadResponse, "the discovery document is not a JSON object", err)
	}
	var doc struct {
		Issuer     string   `json:"issuer"`
		Auth       string   `json:"authorization_endpoint"`
		Token      string   `json:"token_endpoint"`
		Userinfo   string   `json:"userinfo_endpoint"`
		JWKS       string   `json:"jwks_uri"`
		EndSession string   `json:"end_session_endpoint"`
		Revocation string   `json:"revocation_endpoint"`
		Introspect string   `json:"introspection_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		return fail(ErrBadResponse, "the discovery document is not a JSON object", err)
	}
	var problems []string
	check := func(field, raw string, required bool) {
		if raw == "" {
			if required {
				problems = append(problems, "the discovery document has no "+field)
			}
			return
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, "the discovery document's "+field+" is not an absolute http or https URL")
		}
	}
	cfg := o.cfg.Config
	if doc.Issuer == "" {
		problems = append(problems, "the discovery document has no issuer")
	}
	check("authorization_endpoint", doc.Auth, cfg.AuthURL == "")
	check("token_endpoint", doc.Token, cfg.TokenURL == "")
	check("userinfo_endpoint", doc.Userinfo, false)
	check("jwks_uri", doc.JWKS, true)
	check("end_session_endpoint", doc.EndSession, false)
	check("revocation_endpoint", doc.Revocation, false)
	check("introspection_endpoint", doc.Introspect, false)
	if len(problems) > 0 {
		return fail(ErrBadResponse, strings.Join(problems, "; "), nil)
	}

	or := orDefault
	or(&cfg.AuthURL, doc.Auth)
	or(&cfg.TokenURL, doc.Token)
	or(&cfg.UserinfoURL, doc.Userinfo)
	or(&cfg.RevokeURL, doc.Revocation)
	if cfg.RefreshURL == o.cfg.TokenURL {
		cfg.RefreshURL = "" // the default followed TOKEN_URL; follow the discovered one
	}
	hasUserinfo := cfg.UserinfoURL != ""
	if !hasUserinfo {
		cfg.UserinfoURL = cfg.TokenURL // never called; NewOAuth2 wants one
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	inner, err := NewOAuth2(cfg)
	if err != nil {
		return fail(ErrBadResponse, "the discovered endpoints are not usable", err)
	}

	algs := o.cfg.SigningAlgs
	if len(algs) == 0 {
		for _, a := range doc.Algs {
			if slices.Contains(supportedAlgs, a) {
				algs = append(algs, a)
			}
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256}
	}
	keys := newRemoteKeys(doc.JWKS, o.jwks, o.now)
	verifier := oidc.NewVerifier(doc.Issuer, keys, &oidc.Config{
		ClientID:             cfg.ClientID,
		SupportedSigningAlgs: algs,
		// Issuer, audience and expiry are checked by verifyClaims, which
		// knows {tenantid} and says which check failed.
		SkipIssuerCheck:   true,
		SkipClientIDCheck: true,
		SkipExpiryCheck:   true,
	})
	logout := o.cfg.LogoutURL
	or(&logout, doc.EndSession)
	if u, err := url.Parse(inner.cfg.AuthURL); logout == "" && o.cfg.LogoutPath != "" && err == nil {
		logout = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: o.cfg.LogoutPath}).String()
	}
	userinfo := ""
	if hasUserinfo {
		userinfo = inner.cfg.UserinfoURL
	}
	o.state.Store(&oidcState{
		inner:       inner,
		verifier:    verifier,
		keys:        keys,
		issuer:      doc.Issuer,
		hasUserinfo: hasUserinfo,
		endpoints: Endpoints{
			Issuer:           doc.Issuer,
			AuthURL:          inner.cfg.AuthURL,
			TokenURL:         inner.cfg.TokenURL,
			RefreshURL:       inner.cfg.RefreshURL,
			UserinfoURL:      userinfo,
			JWKSURL:          doc.JWKS,
			LogoutURL:        logout,
			RevokeURL:        inner.cfg.RevokeURL,
			IntrospectionURL: doc.Introspect,
			SigningAlgs:      slices.Clone(algs),
		},
	})
	return nil
}

// Run calls Discover until it succeeds or ctx ends, waiting 1s after the
// first failure and doubling the wait up to a minute. onError, if not nil,
// is told of each failure. It returns at once when discovery has already
// succeeded.
func (o *OIDC) Run(ctx context.Context, onError func(error)) {
	wait := o.minBackoff
	for !o.Ready() {
		err := o.Discover(ctx)
		if err == nil || ctx.Err() != nil {
			o.failed.Store(nil)
			return
		}
		o.failed.Store(&err)
		if onError != nil {
			onError(err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, o.maxBackoff)
	}
}

// DiscoveryError returns why discovery (Run) last failed while the
// provider is not ready; nil once it is, or before a first failure.
func (o *OIDC) DiscoveryError() error {
	if o.Ready() {
		return nil
	}
	if e := o.failed.Load(); e != nil {
		return *e
	}
	return nil
}

// Endpoints returns the URLs in use: after discovery, the explicit settings
// completed by the discovery document; before, the explicit settings only.
func (o *OIDC) Endpoints() Endpoints {
	if s := o.state.Load(); s != nil {
		e := s.endpoints
		e.SigningAlgs = slices.Clone(e.SigningAlgs)
		return e
	}
	c := o.cfg
	return Endpoints{
		Issuer:      c.IssuerURL,
		AuthURL:     c.AuthURL,
		TokenURL:    c.TokenURL,
		RefreshURL:  c.RefreshURL,
		UserinfoURL: c.UserinfoURL,
		LogoutURL:   c.LogoutURL,
		RevokeURL:   c.RevokeURL,
		SigningAlgs: slices.Clone(c.SigningAlgs),
	}
}

// LogoutURL returns LOGOUT_URL when set, else the discovered
// end_session_endpoint; "" when there is none (yet).
func (o *OIDC) LogoutURL() string { return o.Endpoints().LogoutURL }

// RevokeURL returns REVOKE_URL when set, else the discovered
// revocation_endpoint; "" when there is none (yet).
func (o *OIDC) RevokeURL() string { return o.Endpoints().RevokeURL }

// fetchTransport carries discovery and JWKS requests: it bounds the
// answer's size and turns an error status (and, for the JWKS, an answer
// that is no key set) into an *Error, so that the cause survives go-oidc's
// wrapping and no body is quoted in a message.
type fetchTransport struct {
	base http.RoundTripper
	max  int64
	jwks bool
}

// RoundTrip implements http.RoundTripper.
func (f *fetchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := f.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := readLimited(resp.Body, f.max)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > f.max {
		return nil, &Error{Kind: ErrBadResponse, Status: resp.StatusCode, Description: fmt.Sprintf("response larger than %d bytes refused", f.max)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode}
		if doc, err := decodeJSONObject(body); err == nil {
			e.Code, e.Description, _ = errorShape(doc, true)
		}
		e.Kind = classify(resp.StatusCode, e.Code)
		return nil, e
	}
	if f.jwks {
		doc, err := decodeJSONObject(body)
		if _, ok := doc["keys"].([]any); err != nil || !ok {
			return nil, &Error{Kind: ErrBadResponse, Status: resp.StatusCode, Description: "the JWKS is not a JSON object with a keys array"}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}
