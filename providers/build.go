package providers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// BuildOptions are what Build needs besides a provider's settings.
type BuildOptions struct {
	// Timeout bounds every call to the provider (PROVIDER_TIMEOUT); 0:
	// DefaultTimeout.
	Timeout time.Duration
	// Transport makes every call; nil: http.DefaultTransport.
	Transport http.RoundTripper
	// Instrument, when not nil, wraps next, the transport of every call to
	// provider id; endpoint names each call: discovery, token, userinfo,
	// jwks, revoke or other (metrics.Metrics.InstrumentProvider).
	Instrument func(id string, next http.RoundTripper, endpoint func(*http.Request) string) http.RoundTripper
	// Logger is told that a preset is deprecated; nil: nothing is logged.
	Logger *slog.Logger
}

// Built is one provider, ready to sign users in: the provider and what the
// proxy needs to know about it.
type Built struct {
	// ID names the provider.
	ID       string
	Provider Provider
	// DisplayName is the sign-in button's label; empty for the generic
	// presets (the button shows the id).
	DisplayName  string
	RedirectURL  string
	ResponseType string
	// ResponseMode is "form_post" when the provider POSTs its answer to
	// the callback from its own site, else "query" or "" (Settings).
	ResponseMode string
	// PassthroughParams are Settings.AuthPassthroughParams.
	PassthroughParams []string
	ClientID          string
	PKCE              bool
	// LogoutURL is the provider's end-session URL; empty for OpenID
	// Connect, whose provider reports it (OIDC.LogoutURL) once discovered.
	LogoutURL string
	// LogoutRedirectParam names the end-session URL's parameter that says
	// where to send the browser back; empty: post_logout_redirect_uri
	// (Preset.LogoutRedirectParam).
	LogoutRedirectParam string
	// UnverifiedByDefault counts an e-mail address as unverified when the
	// provider sends no verification flag (Preset.EmailVerifiedDefault).
	UnverifiedByDefault bool
	// Bearer validates machine clients' bearer tokens; nil unless
	// BearerTokens.
	Bearer *BearerValidator
	// TokenCheck confirms an implicit-flow sign-in's access token; nil
	// unless ResponseType is "token".
	TokenCheck *BearerValidator
	// Discovery is the OpenID Connect provider, whose discovery the caller
	// runs (OIDC.Run) before it is ready; nil for the others.
	Discovery *OIDC
	// Binding names the client at its provider: the client id and, for
	// OpenID Connect, the issuer, else the token URL. Sessions made with
	// another binding are not this provider's.
	Binding string

	config  Config // the generic settings, for ClientCredentials
	prefix  string
	timeout time.Duration
}

// Build resolves s (see Resolve) and builds its provider: the generic
// OAuth2, OIDC, or the preset's own small wrapper (GitHub, Facebook,
// Bitbucket), with
// a bearer-token validator for BearerTokens and for the implicit flow. It
// does no I/O: an OIDC provider's discovery is the caller's to run
// (Built.Discovery). Every error starts with a variable's full name.
func Build(s Settings, opts BuildOptions) (*Built, error) {
	r, err := Resolve(s)
	if err != nil {
		return nil, err
	}
	b, err := r.build(opts)
	if err != nil {
		return nil, prefixLines(s.Prefix, err)
	}
	return b, nil
}

func (r *Resolved) build(opts BuildOptions) (*Built, error) {
	p := r.Preset
	if p.Deprecated != "" && opts.Logger != nil {
		opts.Logger.Warn("provider preset is deprecated", "provider", r.ID, "preset", p.Name, "warning", p.Deprecated)
	}
	cfg := r.config()
	b := &Built{
		ID:                  r.ID,
		DisplayName:         r.DisplayName,
		RedirectURL:         r.RedirectURL,
		ResponseType:        r.ResponseType,
		ResponseMode:        r.ResponseMode,
		PassthroughParams:   r.AuthPassthroughParams,
		ClientID:            r.ClientID,
		PKCE:                *r.PKCE,
		LogoutURL:           r.LogoutURL,
		LogoutRedirectParam: p.LogoutRedirectParam,
		UnverifiedByDefault: !p.EmailVerifiedDefault,
		config:              cfg,
		prefix:              r.Prefix,
		timeout:             opts.Timeout,
	}
	if b.timeout <= 0 {
		b.timeout = DefaultTimeout
	}
	where := cfg.TokenURL
	if p.Kind == KindOIDC {
		where = p.IssuerURL
	}
	b.Binding = cfg.ClientID + "\x00" + where

	// Every call to the provider is bounded by the timeout and, with
	// Instrument, timed, labelled by endpoint.
	transport := opts.Transport
	if opts.Instrument != nil {
		transport = opts.Instrument(r.ID, transport, endpointLabel(cfg, &b.Discovery))
	}
	cfg.HTTPClient = &http.Client{Timeout: b.timeout, Transport: transport}
	b.config.HTTPClient = cfg.HTTPClient

	switch p.Kind {
	case KindOIDC:
		o, err := NewOIDC(OIDCConfig{
			Config:      cfg,
			IssuerURL:   p.IssuerURL,
			LogoutURL:   b.LogoutURL,
			LogoutPath:  p.LogoutPath,
			MultiTenant: p.MultiTenant,
		})
		if err != nil {
			return nil, err
		}
		b.LogoutURL = "" // the provider reports it once discovered
		b.Provider, b.Discovery = o, o
	case KindGitHub:
		g, err := NewGitHub(cfg, GitHubOptions{Teams: true})
		if err != nil {
			return nil, err
		}
		b.Provider = g
	case KindFacebook:
		f, err := NewFacebook(cfg, FacebookOptions{AppSecretProof: true})
		if err != nil {
			return nil, err
		}
		b.Provider = f
	case KindBitbucket:
		bb, err := NewBitbucket(cfg)
		if err != nil {
			return nil, err
		}
		b.Provider = bb
	default:
		o, err := NewOAuth2(cfg)
		if err != nil {
			return nil, err
		}
		b.Provider = o
	}
	// Bearer tokens and implicit-flow tokens alike must be this client's:
	// one validator checks both.
	implicit := cfg.ResponseType == "token"
	if !r.BearerTokens && !implicit {
		return b, nil
	}
	v, err := NewBearerValidator(BearerConfig{
		Provider:           b.Provider,
		OIDC:               b.Discovery,
		ID:                 cfg.ID,
		ClientID:           cfg.ClientID,
		ClientSecret:       cfg.ClientSecret,
		Claims:             cfg.Claims,
		Audiences:          r.BearerAudiences,
		IntrospectionURL:   r.IntrospectionURL,
		TokenCheck:         p.TokenCheck,
		OpaqueAccessTokens: p.OpaqueAccessTokens,
		AccessTokenClaims:  p.AccessTokenClaims,
		IntrospectJWTs:     p.IntrospectJWTs,
		ClientIDClaim:      p.ClientIDClaim,
		TokenKindClaim:     p.TokenKindClaim,
		AccessTokenKind:    p.AccessTokenKind,
		IntrospectedClaims: p.IntrospectedClaims,
		AllowUnbound:       r.BearerAllowUnbound,
		HTTPClient:         cfg.HTTPClient,
	})
	if err != nil {
		// Never a partial start: Resolve checks the settings this could
		// refuse, so this is a bug, not a bad environment.
		return nil, fmt.Errorf("bearer tokens: %w", err)
	}
	if r.BearerTokens {
		b.Bearer = v
	}
	if implicit {
		b.TokenCheck = v
	}
	return b, nil
}

// endpointLabel names the endpoint a request to the provider calls, for
// metrics: discovery, token, userinfo, jwks, revoke or other. For an OIDC
// provider (*oidc, set once built) the discovered endpoints count too.
func endpointLabel(cfg Config, oidc **OIDC) func(*http.Request) string {
	static := map[string]string{}
	for u, name := range map[string]string{cfg.TokenURL: "token", cfg.RefreshURL: "token", cfg.UserinfoURL: "userinfo", cfg.RevokeURL: "revoke"} {
		if u != "" {
			static[u] = name
		}
	}
	return func(r *http.Request) string {
		u := *r.URL
		u.RawQuery, u.Fragment = "", ""
		s := u.String()
		if strings.HasSuffix(u.Path, "/.well-known/openid-configuration") {
			return "discovery"
		}
		if o := *oidc; o != nil {
			ep := o.Endpoints()
			switch s {
			case ep.TokenURL, ep.RefreshURL:
				return "token"
			case ep.UserinfoURL:
				return "userinfo"
			case ep.JWKSURL:
				return "jwks"
			case ep.RevokeURL:
				return "revoke"
			}
		}
		if name, ok := static[s]; ok {
			return name
		}
		return "other"
	}
}

// ClientCredentials performs the client-credentials grant (see the
// function ClientCredentials) as b's client, at its token URL; an OIDC
// provider without TOKEN_URL first fetches its discovery document for
// it. A problem with a setting starts with the variable's full name.
func (b *Built) ClientCredentials(ctx context.Context, scopes []string) (map[string]any, error) {
	cfg := b.config
	if cfg.TokenURL == "" && b.Discovery != nil {
		dctx, cancel := context.WithTimeout(ctx, b.timeout)
		err := b.Discovery.Discover(dctx)
		cancel()
		if err != nil {
			return nil, err
		}
		cfg.TokenURL = b.Discovery.Endpoints().TokenURL
	}
	tok, err := ClientCredentials(ctx, cfg, scopes)
	if _, ok := errors.AsType[*Error](err); err != nil && !ok {
		err = prefixLines(b.prefix, err) // a setting's problem
	}
	return tok, err
}

// prefixLines puts prefix before each line of err that lacks it
// ("TOKEN_METHOD: …" becomes "PORTCULLIS_CORP_TOKEN_METHOD: …").
func prefixLines(prefix string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			lines[i] = prefix + l
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}
