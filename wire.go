package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
	"github.com/portcullis/portcullis/users"
)

// redisOptions maps the Redis variables onto the session package's
// options; ok is false when no Redis is configured.
func redisOptions(cfg *config.Config) (ro session.RedisOptions, ok bool) {
	ro = session.RedisOptions{
		URL:              cfg.RedisURL,
		SentinelAddrs:    cfg.RedisSentinelAddrs,
		SentinelMaster:   cfg.RedisSentinelMaster,
		ClusterAddrs:     cfg.RedisClusterAddrs,
		Username:         cfg.RedisUsername,
		Password:         cfg.RedisPassword,
		SentinelPassword: cfg.RedisSentinelPassword,
		TLS:              cfg.RedisTLS,
		CA:               []byte(cfg.RedisCA),
		FailoverWait:     cfg.RedisFailoverWait,
	}
	return ro, cfg.RedisURL != "" || len(cfg.RedisSentinelAddrs) > 0 || len(cfg.RedisClusterAddrs) > 0
}

// A job runs in the background for as long as the server serves
// (provider discovery, retried until it succeeds).
type job func(ctx context.Context)

// newServer maps the configuration onto the packages' options. It does no
// network I/O: discovery and the like are returned as jobs for serve to
// start.
func newServer(cfg *config.Config, m *metrics.Metrics, log *slog.Logger, reg *users.Registry) (*proxy.Server, []job, error) {
	built, err := buildProviders(cfg, m, log)
	if err != nil {
		return nil, nil, err
	}
	sessOpts := sessionOptions(cfg, built)
	var (
		store       proxy.Sessions
		readyChecks []func(context.Context) error
		refresher   *session.Refresher
		jobs        []job
		redisClient *session.Redis // nil without Redis
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
	if ro, ok := redisOptions(cfg); ok {
		// The client connects lazily: building it does no I/O.
		client, err := session.NewRedis(ro)
		if err != nil {
			return nil, nil, fmt.Errorf("PORTCULLIS_REDIS_*: %w", err)
		}
		coord, err := session.NewRedisCoordinator(sessOpts, client)
		if err != nil {
			return nil, nil, fmt.Errorf("PORTCULLIS_REDIS_*: %w", err)
		}
		refresher = session.NewRefresher(session.RefreshOptions{Coordinator: coord})
		readyChecks = append(readyChecks, coord.Ping)
		if cfg.SessionStore == "redis" {
			rs, err := session.NewRedisStore(sessOpts, client)
			if err != nil {
				return nil, nil, fmt.Errorf("PORTCULLIS_SESSION_STORE: %w", err)
			}
			store = rs
			// Each replica's cache of sessions is served only while it
			// hears the others' invalidations.
			jobs = append(jobs, func(ctx context.Context) {
				rs.Listen(ctx, func(err error) {
					if err != nil {
						log.Warn("session cache: invalidations not received; reading every session from Redis until they are", "err", err)
						return
					}
					log.Info("session cache: receiving invalidations")
				})
			})
		}
		log.Info("redis", "topology", client.String())
		redisClient = client
	}
	// Sessions ended before their time: shared through Redis when there
	// is one, else this process's own (README "Ending sessions").
	ended := session.NewEnded(session.EndedOptions{Expire: cfg.CookieExpire, Redis: redisClient})
	if ended.Shared() {
		readyChecks = append(readyChecks, ended.Ready)
		jobs = append(jobs, func(ctx context.Context) {
			ended.Run(ctx, func(err error) {
				log.Warn("ended sessions: can't read the list from Redis; keeping the last one", "err", err)
			})
		})
	}
	var (
		entries    []proxy.Provider
		attrNames  []string
		clientKeys []json.RawMessage // private_key_jwt public keys, for the JWKS
	)
	for i, b := range built { // in the order of cfg.Providers (buildProviders)
		entries = append(entries, proxyProvider(b, cfg.Providers[i]))
		if b.PublicKey != nil {
			clientKeys = append(clientKeys, b.PublicKey)
		}
		if o := b.Discovery; o != nil {
			id := b.ID
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
	}
	for _, pc := range cfg.Providers {
		for _, a := range pc.ClaimAttributes {
			attrNames = append(attrNames, a.Name)
		}
	}
	transport, err := upstreamTransport(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	signer, err := assertionSigner(cfg)
	if err != nil {
		return nil, nil, err
	}
	var emails *proxy.EmailList // ALLOWED_EMAILS_FILE's: even an empty list is a rule
	if cfg.AllowedEmailsFile != "" {
		emails = proxy.NewEmailList(cfg.AllowedEmails)
		f := &emailsFile{path: cfg.AllowedEmailsFile, list: emails, log: log}
		jobs = append(jobs, func(ctx context.Context) {
			t := time.NewTicker(emailsPollInterval)
			defer t.Stop()
			f.watch(ctx, t.C)
		})
	}
	var registry proxy.Registry
	var checker proxy.ActiveChecker
	var templates *proxy.Templates
	if cfg.TemplatesDir != "" {
		if templates, err = proxy.ParseTemplates(cfg.TemplatesDir); err != nil {
			return nil, nil, prefixLines("PORTCULLIS_TEMPLATES_DIR: ", err)
		}
	}
	if reg != nil {
		registry = reg
		checker = users.NewChecker(reg.Status, users.CheckerOptions{TTL: cfg.UsersCheckInterval, MaxStale: cfg.UsersMaxStale})
		readyChecks = append(readyChecks, reg.Ping)
	}
	srv, err := proxy.New(proxy.Options{
		Providers: entries,
		Sessions:  store,
		Flows:     flows,
		Upstream:  proxy.Upstream{Routes: upstreamRoutes(cfg), Transport: transport},
		Body: proxy.Body{
			ReadTimeout:       cfg.BodyReadTimeout,
			MinRate:           cfg.BodyMinRate,
			ServerReadTimeout: cfg.ReadTimeout,
		},
		Site: proxy.Site{
			PublicURL:              cfg.PublicURL,
			AllowedHosts:           cfg.AllowedHosts,
			AllowedRedirectDomains: cfg.AllowedRedirectDomains,
		},
		Trust: proxy.Trust{ForwardedHeaders: cfg.TrustForwardedHeaders, Proxies: cfg.TrustedProxies},
		Access: proxy.Access{
			Rules:                proxy.Rules{Emails: cfg.AllowedEmails, Domains: cfg.AllowedEmailDomains, Groups: cfg.AllowedGroups},
			Emails:               emails,
			Routes:               routes(cfg),
			SkipAuthPreflight:    cfg.SkipAuthPreflight,
			BearerTokens:         cfg.BearerTokens,
			AllowUnverifiedEmail: cfg.AllowUnverifiedEmail,
		},
		Tokens: proxy.Tokens{
			ValidateExternal: cfg.ValidateExternalToken,
			RefreshSkew:      cfg.RefreshSkew,
			RefreshGrace:     cfg.RefreshGrace,
			Refresher:        refresher,
		},
		Identity: proxy.Identity{
			UserFrom:         proxy.UserFrom(cfg.UserFrom),
			PassAccessToken:  cfg.PassAccessToken,
			SetAuthorization: cfg.SetAuthorization,
			AttributeNames:   attrNames,
			Assertions:       signer,
			ClientKeys:       clientKeys,

			NoIdentityHeaders: cfg.IdentityHeaders == "off",
			Inject:            headerRules(cfg.InjectHeaders),
			AuthResponse:      headerRules(cfg.AuthResponseHeaders),
			BasicAuthPassword: cfg.BasicAuthPassword,
		},
		Users: proxy.Users{
			Registry: registry,
			Checker:  checker,
			SignIn: users.SignInOptions{
				AutoSignup:            cfg.AutoSignup,
				LinkByVerifiedEmail:   cfg.LinkByVerifiedEmail,
				TrustedEmailProviders: cfg.TrustedEmailProviders,
			},
		},
		Paths: proxy.Paths{Prefix: cfg.ProxyPrefix, Ping: cfg.PingPath, Ready: cfg.ReadyPath},
		Pages: proxy.Pages{
			SignInTitle:   cfg.SignInTitle,
			SignInLogoURL: cfg.SignInLogoURL,
			SignInBanner:  cfg.SignInBanner,
			SignInFooter:  cfg.SignInFooter,
			Templates:     templates,
		},
		Apps: proxy.Apps{
			ExposeAccessToken: cfg.ExposeAccessToken,
			SessionLifetime:   cfg.CookieExpire,
		},
		Ending: proxy.Ending{
			Ended:       ended,
			Seen:        session.NewSeen(redisClient, nil),
			IdleTimeout: cfg.SessionIdleTimeout,
		},
		ReadyChecks: readyChecks,
		Metrics:     m,
		Logger:      log,
	})
	return srv, jobs, err
}

// sessionOptions are the sessions' options as serve seals them, for
// serve and for the commands that read its stored sessions.
func sessionOptions(cfg *config.Config, built []*providers.Built) session.Options {
	return session.Options{
		Name:     cfg.CookieName,
		Secrets:  cfg.CookieSecrets,
		Domain:   cfg.CookieDomain,
		Path:     cfg.CookiePath,
		Secure:   cfg.CookieSecure,
		SameSite: cfg.CookieSameSite,
		Expire:   cfg.CookieExpire,
		Bindings: sessionBindings(built),
	}
}

// sessionBindings binds each provider's sessions to the client that made
// them (session.Options.Bindings; providers.Built.Binding). Another
// deployment with the same COOKIE_SECRET but another client or issuer
// can't pass its sessions off here; replicas of one deployment share them.
func sessionBindings(built []*providers.Built) map[string]string {
	m := make(map[string]string, len(built))
	for _, b := range built {
		m[b.ID] = b.Binding
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

// upstreamTransport is the transport to the upstream: a pool of
// connections that waits UPSTREAM_TIMEOUT at most for the response's
// headers, opens UPSTREAM_MAX_CONNS connections at most, speaks TLS as
// upstreamTLS says, and never goes through a proxy from the environment.
func upstreamTransport(cfg *config.Config, log *slog.Logger) (*http.Transport, error) {
	tlsConfig, err := upstreamTLS(cfg, log)
	if err != nil {
		return nil, err
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		MaxConnsPerHost:       cfg.UpstreamMaxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: cfg.UpstreamTimeout,
		TLSClientConfig:       tlsConfig,
	}, nil
}

// upstreamRoutes are the routes of UPSTREAM (a single URL is the route
// of "/"); none: forward-auth only.
func upstreamRoutes(cfg *config.Config) []proxy.UpstreamRoute {
	routes := make([]proxy.UpstreamRoute, len(cfg.Upstream))
	for i, r := range cfg.Upstream {
		routes[i] = proxy.UpstreamRoute{Path: r.Path, URL: r.URL}
	}
	return routes
}

// checkUpstreams checks UPSTREAM's routes as the proxy will take them
// (proxy.UpstreamRoute.Check: a file:// route's directory must exist),
// for config.Load to list with its own problems.
func checkUpstreams(cfg *config.Config) error {
	var errs []error
	for _, r := range upstreamRoutes(cfg) {
		if err := r.Check(); err != nil {
			errs = append(errs, fmt.Errorf("%sUPSTREAM: route %q: %w", config.Prefix, r.Path, err))
		}
	}
	return errors.Join(errs...)
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

// headerRules are INJECT_HEADERS' or AUTH_RESPONSE_HEADERS' rules.
func headerRules(in []config.HeaderRule) []proxy.HeaderRule {
	out := make([]proxy.HeaderRule, len(in))
	for i, r := range in {
		out[i] = proxy.HeaderRule{Name: r.Name, Source: r.Source}
	}
	return out
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

// buildProviders builds every configured provider (providers.Build); the
// error lists every problem.
func buildProviders(cfg *config.Config, m *metrics.Metrics, log *slog.Logger) ([]*providers.Built, error) {
	var (
		built []*providers.Built
		errs  []error
		kids  = map[string]config.Provider{} // private_key_jwt keys' providers by kid
		jwks  = map[string]json.RawMessage{}
	)
	for _, pc := range cfg.Providers {
		b, err := providers.Build(providerSettings(cfg, pc), providers.BuildOptions{
			Timeout:    cfg.ProviderTimeout,
			Instrument: m.InstrumentProvider,
			Logger:     log,
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		built = append(built, b)
		// Portcullis's JWKS lists a kid once: another key under a kid
		// already taken would be left out, and that provider's client
		// assertions would never verify.
		var key struct {
			Kid string `json:"kid"`
		}
		if b.PublicKey == nil || json.Unmarshal(b.PublicKey, &key) != nil {
			continue
		}
		if other, ok := kids[key.Kid]; ok {
			if !bytes.Equal(jwks[key.Kid], b.PublicKey) {
				errs = append(errs, fmt.Errorf("%sCLIENT_KEY_ID: %q is already the kid of another key (%sCLIENT_KEY_ID); "+
					"Portcullis's JWKS can publish only one of them: give each key its own kid, or leave CLIENT_KEY_ID unset (the key's thumbprint)",
					pc.Prefix, key.Kid, other.Prefix))
			}
			continue
		}
		kids[key.Kid], jwks[key.Kid] = pc, b.PublicKey
	}
	return built, errors.Join(errs...)
}

// checkProviders checks each configured provider against its preset
// (providers.Resolve), for config.Load to list with its own problems.
func checkProviders(cfg *config.Config) error {
	var errs []error
	for _, pc := range cfg.Providers {
		if err := providers.Check(providerSettings(cfg, pc)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkPages parses TEMPLATES_DIR's templates (proxy.ParseTemplates), for
// config.Load to list their problems with its own.
func checkPages(cfg *config.Config) error {
	if cfg.TemplatesDir == "" {
		return nil
	}
	_, err := proxy.ParseTemplates(cfg.TemplatesDir)
	return prefixLines("PORTCULLIS_TEMPLATES_DIR: ", err)
}

// prefixLines starts each line of err with prefix; nil stays nil.
func prefixLines(prefix string, err error) error {
	if err == nil {
		return nil
	}
	lines := strings.Split(err.Error(), "\n")
	errs := make([]error, len(lines))
	for i, l := range lines {
		errs[i] = errors.New(prefix + l)
	}
	return errors.Join(errs...)
}

// proxyProvider is what the proxy needs of a built provider, and of its
// configuration (pc).
func proxyProvider(b *providers.Built, pc config.Provider) proxy.Provider {
	p := proxy.Provider{
		ID:                  b.ID,
		DisplayName:         b.DisplayName,
		RedirectURL:         b.RedirectURL,
		PKCE:                b.PKCE,
		ResponseType:        b.ResponseType,
		ResponseMode:        b.ResponseMode,
		PassthroughParams:   b.PassthroughParams,
		LogoutRedirectURL:   pc.LogoutRedirectURL,
		ClientID:            b.ClientID,
		LogoutURL:           b.LogoutURL,
		LogoutRedirectParam: b.LogoutRedirectParam,
		UnverifiedByDefault: b.UnverifiedByDefault,
		Provider:            b.Provider,
	}
	// Only set validators: a nil *BearerValidator in the interface would
	// not be nil.
	if b.Bearer != nil {
		p.Bearer = b.Bearer
	}
	if b.TokenCheck != nil {
		p.TokenCheck = b.TokenCheck
	}
	return p
}

// providerSettings maps one configured provider onto the providers
// package's settings, where an empty setting takes the preset's value.
func providerSettings(cfg *config.Config, pc config.Provider) providers.Settings {
	s := providers.Settings{
		ID:                 pc.ID,
		Prefix:             pc.Prefix,
		ClientID:           pc.ClientID,
		ClientSecret:       pc.ClientSecret,
		Tenant:             pc.Tenant,
		RedirectURL:        pc.RedirectURL,
		PKCE:               pc.PKCE,
		BearerTokens:       cfg.BearerTokens,
		BearerAudiences:    pc.BearerAudiences,
		BearerAllowUnbound: cfg.BearerAllowUnbound,

		AuthPassthroughParams: pc.AuthPassthroughParams,
	}
	for _, f := range presetStrings(&pc, &s) {
		*f[1] = *f[0]
	}
	for _, f := range presetLists(&pc, &s) {
		*f[1] = *f[0]
	}
	for _, f := range presetParams(&pc, &s) {
		*f[1] = *f[0]
	}
	for _, a := range pc.ClaimAttributes {
		s.Claims.Attributes = append(s.Claims.Attributes, providers.Attribute{Name: a.Name, Paths: []string{a.Path}})
	}
	s.Claims.Values = pc.ClaimValues
	return s
}

// resolvedProvider is pc with the values its preset resolved it to.
func resolvedProvider(pc config.Provider, r *providers.Resolved) config.Provider {
	s := r.Settings
	for _, f := range presetStrings(&pc, &s) {
		*f[0] = *f[1]
	}
	for _, f := range presetLists(&pc, &s) {
		*f[0] = *f[1]
	}
	for _, f := range presetParams(&pc, &s) {
		*f[0] = *f[1]
	}
	pc.PKCE = s.PKCE
	pc.ClaimAttributes = nil
	for _, a := range s.Claims.Attributes {
		pc.ClaimAttributes = append(pc.ClaimAttributes, config.Attribute{Name: a.Name, Path: strings.Join(a.Paths, ",")})
	}
	pc.ClaimValues = s.Claims.Values
	return pc
}

// presetStrings pairs each string setting a preset may resolve with its
// field in the providers package's settings.
func presetStrings(pc *config.Provider, s *providers.Settings) [][2]*string {
	return [][2]*string{
		{&pc.Preset, &s.Preset}, {&pc.DisplayName, &s.DisplayName}, {&pc.IssuerURL, &s.IssuerURL},
		{&pc.AuthURL, &s.AuthURL}, {&pc.TokenURL, &s.TokenURL}, {&pc.UserinfoURL, &s.UserinfoURL},
		{&pc.RefreshURL, &s.RefreshURL}, {&pc.LogoutURL, &s.LogoutURL}, {&pc.RevokeURL, &s.RevokeURL},
		{&pc.IntrospectionURL, &s.IntrospectionURL}, {&pc.ResponseType, &s.ResponseType}, {&pc.ResponseMode, &s.ResponseMode},
		{&pc.TokenMethod, &s.TokenMethod}, {&pc.TokenAuthStyle, &s.TokenAuthStyle},
		{&pc.ClientIDParam, &s.ClientIDParam}, {&pc.ClientSecretParam, &s.ClientSecretParam},
		{&pc.UserinfoMethod, &s.UserinfoMethod}, {&pc.UserinfoToken, &s.UserinfoToken},
		{&pc.UserinfoTokenParam, &s.UserinfoTokenParam}, {&pc.TokenUserIDField, &s.TokenUserIDField},
		{&pc.UserinfoUserIDParam, &s.UserinfoUserIDParam},
		{&pc.ProviderCAFile, &s.CAFile}, {&pc.ProviderCertFile, &s.CertFile}, {&pc.ProviderKeyFile, &s.KeyFile},
		{&pc.ClientKeyFile, &s.ClientKeyFile}, {&pc.ClientKeyID, &s.ClientKeyID},
		{&pc.ClientAssertionFile, &s.ClientAssertionFile}, {&pc.AppleTeamID, &s.AppleTeamID},
	}
}

// presetLists is presetStrings for the list settings.
func presetLists(pc *config.Provider, s *providers.Settings) [][2]*[]string {
	c := &s.Claims
	return [][2]*[]string{
		{&pc.Scopes, &s.Scopes},
		{&pc.ClaimID, &c.ID}, {&pc.ClaimEmail, &c.Email}, {&pc.ClaimEmailVerified, &c.EmailVerified},
		{&pc.ClaimName, &c.Name}, {&pc.ClaimGivenName, &c.GivenName}, {&pc.ClaimFamilyName, &c.FamilyName},
		{&pc.ClaimUsername, &c.Username}, {&pc.ClaimGroups, &c.Groups}, {&pc.ClaimPicture, &c.Picture},
		{&pc.ClaimLocale, &c.Locale},
	}
}

// presetParams is presetStrings for the parameter settings.
func presetParams(pc *config.Provider, s *providers.Settings) [][2]*url.Values {
	return [][2]*url.Values{
		{&pc.AuthParams, &s.AuthParams}, {&pc.TokenParams, &s.TokenParams}, {&pc.UserinfoParams, &s.UserinfoParams},
	}
}
