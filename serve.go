package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// loadConfig reads and validates the configuration; the error lists every
// problem, one per line.
func loadConfig(getenv func(string) string) (*config.Config, error) {
	cfg, err := config.Load(getenv)
	if err == nil {
		err = notYetSupported(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// notYetSupported refuses settings this build accepts in its configuration
// but does not implement yet, rather than ignoring them silently.
func notYetSupported(cfg *config.Config) error {
	var errs []error
	no := func(name, what string) {
		errs = append(errs, fmt.Errorf("%s: %s is not supported by this version yet", name, what))
	}
	if cfg.UsersDB != "" {
		no("PORTCULLIS_USERS_DB", "a user registry")
	}
	if cfg.BearerTokens {
		no("PORTCULLIS_BEARER_TOKENS", "bearer-token authentication")
	}
	for _, p := range cfg.Providers {
		if p.Preset != "oauth2" {
			no(p.Prefix+"PROVIDER", fmt.Sprintf("the %q preset (use oauth2 with AUTH_URL, TOKEN_URL and USERINFO_URL)", p.Preset))
		}
		if p.ResponseType != "code" {
			no(p.Prefix+"RESPONSE_TYPE", "the implicit flow")
		}
	}
	return errors.Join(errs...)
}

// redisLogger sends go-redis's own messages (failed dials) to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serve runs the proxy until ctx is done. listening, if not nil, is told
// the main listener's address once it accepts connections.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer, listening func(addr string)) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	redis.SetLogger(redisLogger{log}) // go-redis logs through a package global
	m := metrics.New()
	srv, err := newServer(cfg, m, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("PORTCULLIS_LISTEN: %w", err)
	}
	servers := []*http.Server{newHTTPServer(srv, log)}
	listeners := []net.Listener{ln}
	if cfg.MetricsListen != "off" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("PORTCULLIS_METRICS_LISTEN: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		servers = append(servers, newHTTPServer(mux, log))
		listeners = append(listeners, mln)
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	log.Info("portcullis listening", "addr", ln.Addr().String(), "upstream", redactURL(cfg), "providers", len(cfg.Providers), "version", version)
	if listening != nil {
		listening(ln.Addr().String())
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: /ready turns 503 at once, in-flight requests get
	// SHUTDOWN_TIMEOUT to finish.
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	srv.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		log.Warn("shutdown deadline passed with requests in flight", "err", err)
	}
	return nil
}

func redactURL(cfg *config.Config) string {
	if cfg.Upstream == nil {
		return ""
	}
	return cfg.Upstream.Redacted()
}

// newHTTPServer returns a server with bounded timeouts, so slow clients
// can't hold connections forever. WriteTimeout stays 0: proxied responses
// may stream for long.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// newServer maps the configuration onto the packages' options.
func newServer(cfg *config.Config, m *metrics.Metrics, log *slog.Logger) (*proxy.Server, error) {
	sessOpts := session.Options{
		Name:     cfg.CookieName,
		Secrets:  cfg.CookieSecrets,
		Domain:   cfg.CookieDomain,
		Path:     cfg.CookiePath,
		Secure:   cfg.CookieSecure,
		SameSite: cfg.CookieSameSite,
		Expire:   cfg.CookieExpire,
	}
	var (
		store       proxy.Sessions
		readyChecks []func(context.Context) error
		refresher   *session.Refresher
	)
	cookies, err := session.NewCookieStore(sessOpts)
	if err != nil {
		return nil, fmt.Errorf("session cookie settings (PORTCULLIS_COOKIE_*): %w", err)
	}
	store = cookies
	if cfg.RedisURL != "" {
		// The client connects lazily: building it does no I/O.
		client, err := session.NewRedisClient(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("PORTCULLIS_REDIS_URL: %w", err)
		}
		coord, err := session.NewRedisCoordinator(sessOpts, client)
		if err != nil {
			return nil, fmt.Errorf("PORTCULLIS_REDIS_URL: %w", err)
		}
		refresher = session.NewRefresher(session.RefreshOptions{Coordinator: coord})
		readyChecks = append(readyChecks, coord.Ping)
		if cfg.SessionStore == "redis" {
			rs, err := session.NewRedisStore(sessOpts, client)
			if err != nil {
				return nil, fmt.Errorf("PORTCULLIS_SESSION_STORE: %w", err)
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
		p, err := newProvider(cfg, pc, m)
		if err != nil {
			errs = append(errs, prefixLines(pc.Prefix, err))
			continue
		}
		entries = append(entries, proxy.Provider{
			ID:          pc.ID,
			DisplayName: pc.DisplayName,
			RedirectURL: pc.RedirectURL,
			PKCE:        pc.PKCE,
			ClientID:    pc.ClientID,
			LogoutURL:   pc.LogoutURL,
			Provider:    p,
		})
		for _, a := range pc.ClaimAttributes {
			attrNames = append(attrNames, a.Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return proxy.New(proxy.Options{
		Upstream:               cfg.Upstream,
		UpstreamTimeout:        cfg.UpstreamTimeout,
		PublicURL:              cfg.PublicURL,
		Providers:              entries,
		Sessions:               store,
		Refresher:              refresher,
		ReadyChecks:            readyChecks,
		Rules:                  proxy.Rules{Emails: cfg.AllowedEmails, Domains: cfg.AllowedEmailDomains, Groups: cfg.AllowedGroups},
		Routes:                 routes(cfg),
		SkipAuthPreflight:      cfg.SkipAuthPreflight,
		TrustForwardedHeaders:  cfg.TrustForwardedHeaders,
		TrustedProxies:         cfg.TrustedProxies,
		AllowedRedirectDomains: cfg.AllowedRedirectDomains,
		AllowUnverifiedEmail:   cfg.AllowUnverifiedEmail,
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
}

// routes are SKIP_AUTH_ROUTES (public) followed by the ROUTE_<N> rules, in
// order: the first that matches a request decides.
func routes(cfg *config.Config) []proxy.Route {
	var out []proxy.Route
	for _, r := range cfg.SkipAuthRoutes {
		rt := proxy.Route{Path: r.Path, Public: true}
		if r.Method != "" {
			rt.Methods = []string{r.Method}
		}
		out = append(out, rt)
	}
	for _, r := range cfg.Routes {
		out = append(out, proxy.Route{
			Methods: r.Methods,
			Path:    r.Path,
			Public:  r.Public,
			Rules:   proxy.Rules{Emails: r.Emails, Domains: r.Domains, Groups: r.Groups, Claims: r.Claims},
		})
	}
	return out
}

// newProvider builds the provider for one configured entry.
func newProvider(cfg *config.Config, pc config.Provider, m *metrics.Metrics) (providers.Provider, error) {
	style := map[string]providers.AuthStyle{
		"auto": providers.AuthStyleAuto, "header": providers.AuthStyleHeader, "params": providers.AuthStyleParams,
	}[strings.ToLower(pc.TokenAuthStyle)]
	attrs := make([]providers.Attribute, 0, len(pc.ClaimAttributes))
	for _, a := range pc.ClaimAttributes {
		attrs = append(attrs, providers.Attribute{Name: a.Name, Paths: []string{a.Path}})
	}
	endpoints := map[string]string{}
	for url, name := range map[string]string{pc.TokenURL: "token", pc.RefreshURL: "token", pc.UserinfoURL: "userinfo", pc.RevokeURL: "revoke"} {
		if url != "" {
			endpoints[url] = name
		}
	}
	client := &http.Client{
		Timeout: cfg.ProviderTimeout,
		Transport: m.InstrumentProvider(pc.ID, nil, func(r *http.Request) string {
			u := *r.URL
			u.RawQuery, u.Fragment = "", ""
			if name, ok := endpoints[u.String()]; ok {
				return name
			}
			return "other"
		}),
	}
	return providers.NewOAuth2(providers.Config{
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
		HTTPClient: client,
	})
}

// prefixLines puts prefix before each line of err ("TOKEN_METHOD: …"
// becomes "PORTCULLIS_CORP_TOKEN_METHOD: …").
func prefixLines(prefix string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			lines[i] = prefix + l
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// check validates the configuration and prints the effective settings with
// secrets redacted. It also builds the server, whose constructors do no
// network I/O, so what serve would refuse is refused here too.
func check(getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if _, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	for _, s := range cfg.Settings() {
		v := s.Value
		if v == "" {
			v = "(unset)"
		}
		fmt.Fprintf(stdout, "%s=%s\n", s.Name, v)
	}
	fmt.Fprintln(stdout, "configuration OK")
	return nil
}
