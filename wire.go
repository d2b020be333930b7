package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
	"github.com/portcullis/portcullis/users"
)

// A job runs in the background for as long as the server serves
// (provider discovery, retried until it succeeds).
type job func(ctx context.Context)

// newServer maps the configuration onto the packages' options. It does no
// network I/O: discovery and the like are returned as jobs for serve to
// start.
func newServer(cfg *config.Config, m *metrics.Metrics, log *slog.Logger, reg *users.Registry) (*proxy.Server, []job, error) {
	sessOpts := session.Options{
		Name:     cfg.CookieName,
		Secrets:  cfg.CookieSecrets,
		Domain:   cfg.CookieDomain,
		Path:     cfg.CookiePath,
		Secure:   cfg.CookieSecure,
		SameSite: cfg.CookieSameSite,
		Expire:   cfg.CookieExpire,
		Bindings: sessionBindings(cfg),
	}
	var (
		store       proxy.Sessions
		readyChecks []func(context.Context) error
		refresher   *session.Refresher
		jobs        []job
	)
	cookies, err := session.NewCookieStore(sessOpts)
	if err != nil {
		return nil, nil, fmt.Errorf("session cookie settings (PORTCULLIS_COOKIE_*): %w", err)
	}
	store = cookies
	flows, err := session.NewFlows(sessOpts)
	if err != nil {
		return nil, nil, fmt.Errorf("session cookie settings (PORTCULLIS_COOKIE_*): %w", err)
	}
	if cfg.RedisURL != "" {
		// The client connects lazily: building it does no I/O.
		client, err := session.NewRedisClient(cfg.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("PORTCULLIS_REDIS_URL: %w", err)
		}
		coord, err := session.NewRedisCoordinator(sessOpts, client)
		if err != nil {
			return nil, nil, fmt.Errorf("PORTCULLIS_REDIS_URL: %w", err)
		}
		refresher = session.NewRefresher(session.RefreshOptions{Coordinator: coord})
		readyChecks = append(readyChecks, coord.Ping)
		if cfg.SessionStore == "redis" {
			rs, err := session.NewRedisStore(sessOpts, client)
			if err != nil {
				return nil, nil, fmt.Errorf("PORTCULLIS_SESSION_STORE: %w", err)
			}
			store = rs
		}
	}
	var (
		entries   []proxy.Provider
		attrNames []string
		errs      []error
	)
	for _, pc := range cfg.Providers {
		b, err := newProvider(cfg, pc, m, log)
		if err != nil {
			errs = append(errs, prefixLines(pc.Prefix, err))
			continue
		}
		entries = append(entries, b.entry)
		if b.discovery != nil {
			o, id := b.discovery, pc.ID
			readyChecks = append(readyChecks, func(context.Context) error {
				if !o.Ready() {
					return fmt.Errorf("provider %s: discovery not done yet", id)
				}
				return nil
			})
			jobs = append(jobs, func(ctx context.Context) {
				o.Run(ctx, func(err error) { log.Warn("provider discovery failed; retrying", "provider", id, "err", err) })
			})
		}
		for _, a := range pc.ClaimAttributes {
			attrNames = append(attrNames, a.Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	upstreamTLS, err := upstreamTLS(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	signer, err := assertionSigner(cfg)
	if err != nil {
		return nil, nil, err
	}
	var registry proxy.Registry
	var checker proxy.ActiveChecker
	if reg != nil {
		registry = reg
		checker = users.NewChecker(reg.Status, users.CheckerOptions{TTL: cfg.UsersCheckInterval, MaxStale: cfg.UsersMaxStale})
		readyChecks = append(readyChecks, reg.Ping)
	}
	srv, err := proxy.New(proxy.Options{
		Registry:        registry,
		RegistryChecker: checker,
		SignInOptions: users.SignInOptions{
			AutoSignup:            cfg.AutoSignup,
			LinkByVerifiedEmail:   cfg.LinkByVerifiedEmail,
			TrustedEmailProviders: cfg.TrustedEmailProviders,
		},
		Upstream:               cfg.Upstream,
		UpstreamTLS:            upstreamTLS,
		UpstreamTimeout:        cfg.UpstreamTimeout,
		UpstreamMaxConns:       cfg.UpstreamMaxConns,
		BodyReadTimeout:        cfg.BodyReadTimeout,
		BodyMinRate:            cfg.BodyMinRate,
		ReadTimeout:            cfg.ReadTimeout,
		PublicURL:              cfg.PublicURL,
		Providers:              entries,
		Sessions:               store,
		Flows:                  flows,
		Refresher:              refresher,
		ReadyChecks:            readyChecks,
		Rules:                  proxy.Rules{Emails: cfg.AllowedEmails, Domains: cfg.AllowedEmailDomains, Groups: cfg.AllowedGroups},
		Routes:                 routes(cfg),
		BearerTokens:           cfg.BearerTokens,
		Assertions:             signer,
		SkipAuthPreflight:      cfg.SkipAuthPreflight,
		TrustForwardedHeaders:  cfg.TrustForwardedHeaders,
		TrustedProxies:         cfg.TrustedProxies,
		AllowedRedirectDomains: cfg.AllowedRedirectDomains,
		AllowedHosts:           cfg.AllowedHosts,
		AllowUnverifiedEmail:   cfg.AllowUnverifiedEmail,
		UserFrom:               proxy.UserFrom(cfg.UserFrom),
		ValidateExternalToken:  cfg.ValidateExternalToken,
		RefreshSkew:            cfg.RefreshSkew,
		RefreshGrace:           cfg.RefreshGrace,
		PassAccessToken:        cfg.PassAccessToken,
		SetAuthorization:       cfg.SetAuthorization,
		AttributeNames:         attrNames,
		SignInTitle:            cfg.SignInTitle,
		SignInLogoURL:          cfg.SignInLogoURL,
		Metrics:                m,
		Logger:                 log,
	})
	return srv, jobs, err
}

// sessionBindings binds each provider's sessions to the client that made
// them (session.Options.Bindings): its client id and, for OpenID Connect,
// the issuer, else the token URL. Another deployment with the same
// COOKIE_SECRET but another client or issuer can't pass its sessions off
// here; replicas of one deployment share them.
func sessionBindings(cfg *config.Config) map[string]string {
	m := make(map[string]string, len(cfg.Providers))
	for _, pc := range cfg.Providers {
		pcfg, preset, err := providerConfig(pc)
		if err != nil {
			continue // newProvider reports it
		}
		where := pcfg.TokenURL
		if preset.Kind == "oidc" {
			where = preset.IssuerURL
		}
		m[pc.ID] = pcfg.ClientID + "\x00" + where
	}
	return m
}

// assertionSigner builds the signer of X-Portcullis-Assertion, or nil.
func assertionSigner(cfg *config.Config) (*assertion.Signer, error) {
	if !cfg.Assertion {
		return nil, nil
	}
	opts := assertion.Options{Issuer: "portcullis", Audience: cfg.AssertionAudience, TTL: cfg.AssertionTTL}
	if cfg.PublicURL != nil {
		opts.Issuer = strings.TrimSuffix(cfg.PublicURL.String(), "/")
	}
	if cfg.AssertionKey != "" {
		key, err := assertion.ParsePrivateKeyPEM([]byte(cfg.AssertionKey))
		if err != nil {
			return nil, fmt.Errorf("PORTCULLIS_ASSERTION_KEY: %w", err)
		}
		opts.Key = key
	}
	s, err := assertion.NewSigner(opts)
	if err != nil {
		return nil, fmt.Errorf("PORTCULLIS_ASSERTION_*: %w", err)
	}
	return s, nil
}

// upstreamTLS builds the TLS settings toward the upstream: the system's
// roots plus UPSTREAM_CA, a client certificate, and (loudly) no
// verification at all.
func upstreamTLS(cfg *config.Config, log *slog.Logger) (*tls.Config, error) {
	if cfg.UpstreamCA == "" && cfg.UpstreamClientCert == "" && !cfg.UpstreamInsecureSkipVerify {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.UpstreamCA != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(cfg.UpstreamCA)) {
			return nil, errors.New("PORTCULLIS_UPSTREAM_CA: no PEM certificate found")
		}
		tc.RootCAs = pool
	}
	if cfg.UpstreamClientCert != "" {
		pair, err := tls.X509KeyPair([]byte(cfg.UpstreamClientCert), []byte(cfg.UpstreamClientKey))
		if err != nil {
			return nil, fmt.Errorf("PORTCULLIS_UPSTREAM_CLIENT_CERT: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if cfg.UpstreamInsecureSkipVerify {
		log.Warn("PORTCULLIS_UPSTREAM_INSECURE_SKIP_VERIFY=true: the upstream's TLS certificate is NOT verified; anyone on the path can impersonate it. Use PORTCULLIS_UPSTREAM_CA instead.")
		tc.InsecureSkipVerify = true
	}
	return tc, nil
}

// routes are the ROUTE_<N> rules followed by SKIP_AUTH_ROUTES (public), in
// order: the first that matches a request decides.
func routes(cfg *config.Config) []proxy.Route {
	out := make([]proxy.Route, 0, len(cfg.Routes)+len(cfg.SkipAuthRoutes))
	// ROUTE_<N> first: an explicit rule for /api/admin/ is not undone by a
	// SKIP_AUTH_ROUTES entry for /api/.
	for _, r := range cfg.Routes {
		out = append(out, proxy.Route{
			Methods: r.Methods,
			Path:    r.Path,
			Public:  r.Public,
			Rules:   proxy.Rules{Emails: r.Emails, Domains: r.Domains, Groups: r.Groups, Claims: r.Claims},
		})
	}
	for _, r := range cfg.SkipAuthRoutes {
		rt := proxy.Route{Path: r.Path, Public: true}
		if r.Method != "" {
			rt.Methods = []string{r.Method}
		}
		out = append(out, rt)
	}
	return out
}

// builtProvider is one configured provider, ready for the proxy.
type builtProvider struct {
	entry proxy.Provider
	// discovery is set for OIDC providers, whose discovery runs in the
	// background.
	discovery *providers.OIDC
}

// explicitOr returns the configured value where the environment set it,
// else the preset's when it has one, else the configured default.
func explicitOr[T comparable](pc config.Provider, suffix string, configured, preset T) T {
	var zero T
	if pc.Explicit[suffix] || preset == zero {
		return configured
	}
	return preset
}

// providerConfig maps one configured provider onto the generic provider
// settings, under its preset's data: the preset fills what the environment
// didn't set. It also returns the expanded preset.
func providerConfig(pc config.Provider) (providers.Config, providers.Preset, error) {
	preset, ok := providers.LookupPreset(pc.Preset)
	if !ok {
		return providers.Config{}, preset, fmt.Errorf("PROVIDER: unknown preset %q", pc.Preset)
	}
	preset = preset.Expand(pc.Tenant, pc.IssuerURL)
	style := map[string]providers.AuthStyle{
		"auto": providers.AuthStyleAuto, "header": providers.AuthStyleHeader, "params": providers.AuthStyleParams,
	}[strings.ToLower(pc.TokenAuthStyle)]
	attrs := make([]providers.Attribute, 0, len(pc.ClaimAttributes))
	for _, a := range pc.ClaimAttributes {
		attrs = append(attrs, providers.Attribute{Name: a.Name, Paths: []string{a.Path}})
	}
	pcfg := providers.Config{
		ID:                  pc.ID,
		ClientID:            pc.ClientID,
		ClientSecret:        pc.ClientSecret,
		AuthURL:             pc.AuthURL,
		TokenURL:            pc.TokenURL,
		UserinfoURL:         pc.UserinfoURL,
		RefreshURL:          pc.RefreshURL,
		RevokeURL:           pc.RevokeURL,
		RedirectURL:         pc.RedirectURL,
		Scopes:              pc.Scopes,
		ResponseType:        pc.ResponseType,
		TokenMethod:         pc.TokenMethod,
		TokenAuthStyle:      style,
		ClientIDParam:       pc.ClientIDParam,
		ClientSecretParam:   pc.ClientSecretParam,
		AuthParams:          pc.AuthParams,
		TokenParams:         pc.TokenParams,
		UserinfoParams:      pc.UserinfoParams,
		UserinfoMethod:      pc.UserinfoMethod,
		UserinfoToken:       pc.UserinfoToken,
		UserinfoTokenParam:  pc.UserinfoTokenParam,
		TokenUserIDField:    pc.TokenUserIDField,
		UserinfoUserIDParam: pc.UserinfoUserIDParam,
		Claims: providers.Claims{
			ID: pc.ClaimID, Email: pc.ClaimEmail, EmailVerified: pc.ClaimEmailVerified,
			Name: pc.ClaimName, GivenName: pc.ClaimGivenName, FamilyName: pc.ClaimFamilyName,
			Username: pc.ClaimUsername, Groups: pc.ClaimGroups, Picture: pc.ClaimPicture, Locale: pc.ClaimLocale,
			Attributes: attrs,
			Values:     pc.ClaimValues,
		},
	}
	explicit := func(setting string) bool {
		// For OIDC, discovery supplies the endpoints the environment didn't.
		if preset.Kind == "oidc" && (setting == "AUTH_URL" || setting == "TOKEN_URL" || setting == "USERINFO_URL") {
			return true
		}
		return pc.Explicit[setting]
	}
	return preset.Apply(pcfg, explicit), preset, nil
}

// newProvider builds the provider for one configured entry: the preset's
// data under the environment's settings, then the generic OAuth2, OIDC,
// or the preset's own small wrapper (GitHub, Facebook), with a bearer-token
// validator when BEARER_TOKENS is on.
func newProvider(cfg *config.Config, pc config.Provider, m *metrics.Metrics, log *slog.Logger) (builtProvider, error) {
	pcfg, preset, err := providerConfig(pc)
	if err != nil {
		return builtProvider{}, err
	}
	if preset.Deprecated != "" {
		log.Warn("provider preset is deprecated", "provider", pc.ID, "preset", preset.Name, "warning", preset.Deprecated)
	}
	var problems []error
	for _, need := range preset.Needs {
		if need == "ISSUER_URL" && preset.IssuerURL == "" || need != "ISSUER_URL" && settingEmpty(pcfg, need) {
			problems = append(problems, fmt.Errorf("%s: required by the %s preset", need, preset.Name))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return builtProvider{}, err
	}

	entry := proxy.Provider{
		ID:                  pc.ID,
		DisplayName:         explicitOr(pc, "DISPLAY_NAME", pc.DisplayName, preset.DisplayName),
		RedirectURL:         pc.RedirectURL,
		ResponseType:        pcfg.ResponseType,
		ClientID:            pc.ClientID,
		LogoutURL:           explicitOr(pc, "LOGOUT_URL", pc.LogoutURL, preset.LogoutURL),
		UnverifiedByDefault: !preset.EmailVerifiedDefault && preset.Name != "oauth2" && preset.Name != "oidc",
	}
	// PKCE: the environment's word, else the preset's (the generic presets
	// follow the SPEC's default, on).
	entry.PKCE = pc.PKCE
	if !pc.Explicit["PKCE"] && preset.Name != "oauth2" && preset.Name != "oidc" {
		entry.PKCE = preset.PKCE
	}

	// Every call to the provider is bounded by PROVIDER_TIMEOUT and timed,
	// labelled by endpoint.
	var oidcRef *providers.OIDC
	static := map[string]string{}
	for u, name := range map[string]string{pcfg.TokenURL: "token", pcfg.RefreshURL: "token", pcfg.UserinfoURL: "userinfo", pcfg.RevokeURL: "revoke"} {
		if u != "" {
			static[u] = name
		}
	}
	pcfg.HTTPClient = &http.Client{
		Timeout: cfg.ProviderTimeout,
		Transport: m.InstrumentProvider(pc.ID, nil, func(r *http.Request) string {
			u := *r.URL
			u.RawQuery, u.Fragment = "", ""
			s := u.String()
			if strings.HasSuffix(u.Path, "/.well-known/openid-configuration") {
				return "discovery"
			}
			if oidcRef != nil {
				ep := oidcRef.Endpoints()
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
		}),
	}

	var b builtProvider
	switch {
	case preset.Kind == "oidc":
		o, err := providers.NewOIDC(providers.OIDCConfig{
			Config:      pcfg,
			IssuerURL:   preset.IssuerURL,
			LogoutURL:   entry.LogoutURL,
			MultiTenant: preset.MultiTenant,
		})
		if err != nil {
			return b, err
		}
		oidcRef = o
		entry.LogoutURL = "" // the provider reports it once discovered
		entry.Provider, b.discovery = o, o
	case preset.Name == "github":
		g, err := providers.NewGitHub(pcfg, providers.GitHubOptions{Teams: true})
		if err != nil {
			return b, err
		}
		entry.Provider = g
	case preset.Name == "facebook":
		f, err := providers.NewFacebook(pcfg, providers.FacebookOptions{AppSecretProof: true})
		if err != nil {
			return b, err
		}
		entry.Provider = f
	default:
		p, err := providers.NewOAuth2(pcfg)
		if err != nil {
			return b, err
		}
		entry.Provider = p
	}
	// Bearer tokens and implicit-flow tokens alike must be this client's:
	// one validator checks both.
	implicit := pcfg.ResponseType == "token"
	if cfg.BearerTokens || implicit {
		introspect := explicitOr(pc, "INTROSPECTION_URL", pc.IntrospectionURL, preset.IntrospectionURL)
		if err := errors.Join(tokenCheckProblems(cfg, pc, preset, introspect, implicit)...); err != nil {
			return b, err
		}
		v, err := providers.NewBearerValidator(providers.BearerConfig{
			Provider:           entry.Provider,
			Claims:             pcfg.Claims,
			Audiences:          pc.BearerAudiences,
			IntrospectionURL:   introspect,
			TokenCheck:         preset.TokenCheck,
			OpaqueAccessTokens: preset.OpaqueAccessTokens,
			AccessTokenClaims:  preset.AccessTokenClaims,
			AllowUnbound:       cfg.BearerAllowUnbound,
			HTTPClient:         pcfg.HTTPClient,
		})
		if err != nil {
			// Never a partial start: the configuration checks the settings
			// this could refuse, so this is a bug, not a bad environment.
			return b, fmt.Errorf("bearer tokens: %w", err)
		}
		if cfg.BearerTokens {
			entry.Bearer = v
		}
		if implicit {
			entry.TokenCheck = v
		}
	}
	b.entry = entry
	return b, nil
}

// tokenCheckProblems are the settings that keep a provider from telling
// whether an access token was issued to this client, for bearer tokens and
// the implicit flow, each naming its variable. Bearer tokens of a provider
// that can't tell are refused at run time (an OIDC provider's discovery
// may still bring an introspection endpoint); the implicit flow could
// then sign no one in, so it is refused here.
func tokenCheckProblems(cfg *config.Config, pc config.Provider, preset providers.Preset, introspect string, implicit bool) []error {
	var errs []error
	if implicit && introspect == "" && preset.TokenCheck == providers.CheckIntrospection && !cfg.BearerAllowUnbound {
		errs = append(errs, errors.New("INTROSPECTION_URL: required with RESPONSE_TYPE=token: the provider must confirm that "+
			"the implicit flow's access token was issued to this client (RFC 7662 introspection); "+
			"PORTCULLIS_BEARER_ALLOW_UNBOUND=true accepts any token its userinfo URL accepts instead, other apps' included"))
	}
	if (preset.TokenCheck == providers.CheckGitHub || preset.TokenCheck == providers.CheckFacebook) && pc.ClientSecret == "" {
		errs = append(errs, fmt.Errorf("CLIENT_SECRET: required by the %s preset's token check (BEARER_TOKENS, RESPONSE_TYPE=token)", preset.Name))
	}
	return errs
}

// settingEmpty reports whether a provider setting (by suffix) is empty.
func settingEmpty(c providers.Config, suffix string) bool {
	switch suffix {
	case "AUTH_URL":
		return c.AuthURL == ""
	case "TOKEN_URL":
		return c.TokenURL == ""
	case "USERINFO_URL":
		return c.UserinfoURL == ""
	}
	return false
}
