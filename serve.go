package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/users"
)

// loadConfig reads and validates the configuration, each provider's
// settings against its preset and each upstream route as the proxy takes
// it included; the error lists every problem, one per line.
func loadConfig(getenv func(string) string) (*config.Config, error) {
	cfg, err := config.Load(getenv, checkProviders, checkPages, checkListener, checkUpstreams)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
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
	out := newBufferedLog(stderr, 200*time.Millisecond)
	defer out.Close()
	log := newLogger(cfg, out)
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	redis.SetLogger(redisLogger{log}) // go-redis logs through a package global
	m := metrics.New()
	var reg *users.Registry
	if cfg.UsersDB != "" {
		// Migrations run here; a database that is corrupt or from a newer
		// version stops the start, untouched.
		reg, err = users.Open(ctx, cfg.UsersDB)
		if err != nil {
			return fmt.Errorf("PORTCULLIS_USERS_DB: %w", err)
		}
		defer reg.Close()
	}
	srv, jobs, err := newServer(cfg, m, log, reg)
	if err != nil {
		return err
	}
	jobCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	for _, j := range jobs {
		go j(jobCtx)
	}
	mainSrv := newHTTPServer(cfg, srv, log)
	if cfg.TLSCertFile != "" {
		cert, err := newCertificate(cfg.TLSCertFile, cfg.TLSKeyFile, log)
		if err != nil {
			return err
		}
		go cert.watch(jobCtx, certCheckInterval)
		mainSrv.TLSConfig = serverTLS(cfg, cert)
	}
	ln, err := listen(cfg.Listen)
	if err != nil {
		return fmt.Errorf("PORTCULLIS_LISTEN: %w", err)
	}
	servers := []*http.Server{mainSrv}
	listeners := []net.Listener{ln}
	if cfg.MetricsListen != "off" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("PORTCULLIS_METRICS_LISTEN: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		servers = append(servers, newHTTPServer(cfg, mux, log))
		listeners = append(listeners, mln)
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		// Serve and ServeTLS change s (HTTP/2's settings): read nothing
		// of it once they run.
		tls := s.TLSConfig != nil
		go func() {
			if tls { // HTTP/2 too, offered by ALPN
				errc <- s.ServeTLS(listeners[i], "", "")
				return
			}
			errc <- s.Serve(listeners[i])
		}()
	}
	log.Info("portcullis listening", "addr", ln.Addr().String(), "tls", cfg.TLSCertFile != "", "upstream", redactURL(cfg), "providers", len(cfg.Providers), "version", version)
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

// redactURL is UPSTREAM as check shows it, a password hidden.
func redactURL(cfg *config.Config) string {
	for _, s := range cfg.Settings() {
		if s.Name == config.Prefix+"UPSTREAM" {
			return s.Value
		}
	}
	return ""
}

// newHTTPServer returns a server with the configured timeouts, so slow
// clients can't hold connections forever (READ_HEADER_TIMEOUT bounds a
// slow-loris client; WRITE_TIMEOUT stays 0 by default because proxied
// responses may stream for long).
func newHTTPServer(cfg *config.Config, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// check validates the configuration and prints the effective settings with
// secrets redacted (each provider's with its preset applied), then the
// configuration's warnings. It also builds the
// server, whose constructors do no network I/O, so what serve would refuse
// is refused here too.
func check(getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if _, _, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	for _, s := range resolvedSettings(cfg) {
		v := s.Value
		if v == "" {
			v = "(unset)"
		}
		fmt.Fprintf(stdout, "%s=%s\n", s.Name, v)
	}
	if ro, ok := redisOptions(cfg); ok {
		fmt.Fprintf(stdout, "redis: %s\n", ro)
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if err := checkDiscovery(cfg, stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "configuration OK")
	return nil
}

// checkDiscovery fetches each OIDC provider's discovery document and says,
// per provider, what it found and what is missing.
func checkDiscovery(cfg *config.Config, stdout io.Writer) error {
	var errs []error
	for _, pc := range cfg.Providers {
		b, err := providers.Build(providerSettings(cfg, pc), providers.BuildOptions{Timeout: cfg.ProviderTimeout})
		if err != nil || b.Discovery == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ProviderTimeout)
		err = b.Discovery.Discover(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(stdout, "provider %s: discovery failed: %v\n", pc.ID, err)
			errs = append(errs, fmt.Errorf("%sISSUER_URL: discovery failed: %w", pc.Prefix, err))
			continue
		}
		ep := b.Discovery.Endpoints()
		show := func(v string) string {
			if v == "" {
				return "missing"
			}
			return v
		}
		fmt.Fprintf(stdout, "provider %s: discovery OK at %s\n", pc.ID, ep.Issuer)
		for _, row := range [][2]string{
			{"authorization", ep.AuthURL}, {"token", ep.TokenURL}, {"userinfo", ep.UserinfoURL}, {"jwks", ep.JWKSURL},
			{"end session (sign-out at the provider)", ep.LogoutURL}, {"revocation", ep.RevokeURL},
			{"introspection (discovered; INTROSPECTION_URL wins)", ep.IntrospectionURL},
		} {
			fmt.Fprintf(stdout, "  %s: %s\n", row[0], show(row[1]))
		}
	}
	return errors.Join(errs...)
}

// resolvedSettings are the settings check prints: the configuration's,
// each provider's with its preset applied, a value the preset supplied
// marked "(preset NAME)".
func resolvedSettings(cfg *config.Config) []config.Setting {
	rc := *cfg
	rc.Providers = slices.Clone(cfg.Providers)
	marks := map[string]string{}
	for i, pc := range rc.Providers {
		r, err := providers.Resolve(providerSettings(cfg, pc))
		if err != nil {
			continue // loadConfig has reported it
		}
		rc.Providers[i] = resolvedProvider(pc, r)
		for name := range r.FromPreset {
			marks[pc.Prefix+name] = " (preset " + r.Preset.Name + ")"
		}
	}
	out := rc.Settings()
	for i, s := range out {
		if m, ok := marks[s.Name]; ok && s.Value != "" {
			out[i].Value += m
		}
	}
	return out
}
