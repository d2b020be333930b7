package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
)

const rawSecret = "0123456789abcdef0123456789abcdef!" // 33 bytes, not base64

// minimal is the smallest valid environment: a generic oauth2 provider.
func minimal() map[string]string {
	return map[string]string{
		"PORTCULLIS_COOKIE_SECRET": rawSecret,
		"PORTCULLIS_CLIENT_ID":     "client",
		"PORTCULLIS_CLIENT_SECRET": "client-secret",
		"PORTCULLIS_AUTH_URL":      "https://idp.example.com/authorize",
		"PORTCULLIS_TOKEN_URL":     "https://idp.example.com/token",
		"PORTCULLIS_USERINFO_URL":  "https://idp.example.com/userinfo",
	}
}

// with returns a copy of m with kv (name, value, …) set; an empty value
// deletes the name.
func with(m map[string]string, kv ...string) map[string]string {
	m = maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func mustLoad(t *testing.T, m map[string]string) *Config {
	t.Helper()
	c, err := Load(getenv(m))
	if err != nil {
		t.Fatalf("Load() error:\n%v", err)
	}
	return c
}

// writeFile writes content to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func lines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, minimal())
	if len(c.Providers) != 1 {
		t.Fatalf("len(Providers) = %d; want 1", len(c.Providers))
	}
	p := c.Providers[0]
	// The defaults of the SPEC's tables.
	tests := []struct {
		name      string
		got, want any
	}{
		{"PORTCULLIS_UPSTREAM", c.Upstream, []UpstreamRoute(nil)},
		{"PORTCULLIS_LISTEN", c.Listen, ":4180"},
		{"PORTCULLIS_METRICS_LISTEN", c.MetricsListen, ":9180"},
		{"PORTCULLIS_PUBLIC_URL", c.PublicURL, (*url.URL)(nil)},
		{"PORTCULLIS_ALLOWED_HOSTS", c.AllowedHosts, []string(nil)},
		{"PORTCULLIS_COOKIE_NAME", c.CookieName, "_portcullis"},
		{"PORTCULLIS_COOKIE_DOMAIN", c.CookieDomain, ""},
		{"PORTCULLIS_COOKIE_PATH", c.CookiePath, "/"},
		{"PORTCULLIS_COOKIE_SECURE", c.CookieSecure, true},
		{"PORTCULLIS_COOKIE_SAMESITE", c.CookieSameSite, http.SameSiteLaxMode},
		{"PORTCULLIS_COOKIE_EXPIRE", c.CookieExpire, 168 * time.Hour},
		{"PORTCULLIS_SESSION_STORE", c.SessionStore, "cookie"},
		{"PORTCULLIS_REDIS_URL", c.RedisURL, ""},
		{"PORTCULLIS_VALIDATE_EXTERNAL_TOKEN", c.ValidateExternalToken, true},
		{"PORTCULLIS_REFRESH_SKEW", c.RefreshSkew, 30 * time.Second},
		{"PORTCULLIS_REFRESH_GRACE", c.RefreshGrace, 5 * time.Minute},
		{"PORTCULLIS_ALLOWED_EMAIL_DOMAINS", c.AllowedEmailDomains, []string(nil)},
		{"PORTCULLIS_ALLOWED_EMAILS", c.AllowedEmails, []string(nil)},
		{"PORTCULLIS_ALLOWED_GROUPS", c.AllowedGroups, []string(nil)},
		{"PORTCULLIS_AUTO_SIGNUP", c.AutoSignup, true},
		{"PORTCULLIS_USERS_DB", c.UsersDB, ""},
		{"PORTCULLIS_SKIP_AUTH_ROUTES", c.SkipAuthRoutes, []Route(nil)},
		{"PORTCULLIS_ALLOWED_REDIRECT_DOMAINS", c.AllowedRedirectDomains, []string(nil)},
		{"PORTCULLIS_PASS_ACCESS_TOKEN", c.PassAccessToken, false},
		{"PORTCULLIS_SET_AUTHORIZATION", c.SetAuthorization, false},
		{"PORTCULLIS_BEARER_TOKENS", c.BearerTokens, false},
		{"PORTCULLIS_TRUST_FORWARDED_HEADERS", c.TrustForwardedHeaders, false},
		{"PORTCULLIS_TRUSTED_PROXIES", c.TrustedProxies, []netip.Prefix(nil)},
		{"PORTCULLIS_ALLOW_UNVERIFIED_EMAIL", c.AllowUnverifiedEmail, false},
		{"PORTCULLIS_USER_FROM", c.UserFrom, "auto"},
		{"PORTCULLIS_PROVIDERS", c.ProviderIDs, []string(nil)},
		{"PORTCULLIS_PROVIDER_TIMEOUT", c.ProviderTimeout, 10 * time.Second},
		{"PORTCULLIS_UPSTREAM_TIMEOUT", c.UpstreamTimeout, time.Duration(0)},
		{"PORTCULLIS_UPSTREAM_MAX_CONNS", c.UpstreamMaxConns, 0},
		{"PORTCULLIS_BODY_READ_TIMEOUT", c.BodyReadTimeout, 20 * time.Second},
		{"PORTCULLIS_BODY_MIN_RATE", c.BodyMinRate, 1024},
		{"PORTCULLIS_SHUTDOWN_TIMEOUT", c.ShutdownTimeout, 20 * time.Second},
		{"PORTCULLIS_LOG_LEVEL", c.LogLevel, slog.LevelInfo},
		{"PORTCULLIS_LOG_FORMAT", c.LogFormat, "json"},
		{"PORTCULLIS_SIGN_IN_TITLE", c.SignInTitle, "Sign in"},
		{"PORTCULLIS_SIGN_IN_LOGO_URL", c.SignInLogoURL, ""},

		{"provider ID", p.ID, "oauth2"},
		{"provider Prefix", p.Prefix, "PORTCULLIS_"},
		{"PROVIDER", p.Preset, "oauth2"},
		{"DISPLAY_NAME", p.DisplayName, ""},
		{"ISSUER_URL", p.IssuerURL, ""},
		{"TENANT", p.Tenant, "common"},
		{"REFRESH_URL", p.RefreshURL, ""},
		{"REDIRECT_URL", p.RedirectURL, ""},
		{"SCOPES", p.Scopes, []string(nil)},
		{"RESPONSE_TYPE", p.ResponseType, "code"},
		// Unset, the settings a preset may supply stay empty: their
		// defaults are the providers package's (TestProviderDefaults in
		// package main).
		{"PKCE", p.PKCE, (*bool)(nil)},
		{"TOKEN_METHOD", p.TokenMethod, ""},
		{"TOKEN_AUTH_STYLE", p.TokenAuthStyle, ""},
		{"CLIENT_ID_PARAM", p.ClientIDParam, ""},
		{"CLIENT_SECRET_PARAM", p.ClientSecretParam, ""},
		{"AUTH_PARAMS", p.AuthParams, url.Values(nil)},
		{"TOKEN_PARAMS", p.TokenParams, url.Values(nil)},
		{"USERINFO_PARAMS", p.UserinfoParams, url.Values(nil)},
		{"USERINFO_METHOD", p.UserinfoMethod, ""},
		{"USERINFO_TOKEN", p.UserinfoToken, ""},
		{"USERINFO_TOKEN_PARAM", p.UserinfoTokenParam, ""},
		{"TOKEN_USER_ID_FIELD", p.TokenUserIDField, ""},
		{"USERINFO_USER_ID_PARAM", p.UserinfoUserIDParam, ""},
		{"CLAIM_ID", p.ClaimID, []string(nil)},
		{"CLAIM_EMAIL", p.ClaimEmail, []string(nil)},
		{"CLAIM_EMAIL_VERIFIED", p.ClaimEmailVerified, []string(nil)},
		{"CLAIM_NAME", p.ClaimName, []string(nil)},
		{"CLAIM_GIVEN_NAME", p.ClaimGivenName, []string(nil)},
		{"CLAIM_FAMILY_NAME", p.ClaimFamilyName, []string(nil)},
		{"CLAIM_USERNAME", p.ClaimUsername, []string(nil)},
		{"CLAIM_GROUPS", p.ClaimGroups, []string(nil)},
		{"CLAIM_PICTURE", p.ClaimPicture, []string(nil)},
		{"CLAIM_LOCALE", p.ClaimLocale, []string(nil)},
		{"CLAIM_ATTRIBUTES", p.ClaimAttributes, []Attribute(nil)},
		{"CLAIM_VALUES", p.ClaimValues, map[string]map[string]string(nil)},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v; want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, with(minimal(),
		"PORTCULLIS_UPSTREAM", "http://app:8080",
		"PORTCULLIS_PUBLIC_URL", "https://app.example.com",
		"PORTCULLIS_COOKIE_SAMESITE", "Strict",
		"PORTCULLIS_ALLOWED_GROUPS", "admins, Domain Users ,",
		"PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7, ::1, 172.16.3.4/12",
		"PORTCULLIS_SKIP_AUTH_ROUTES", "GET=^/health$,^/public/,a1=b",
		"PORTCULLIS_LOG_LEVEL", "DEBUG",
		"PORTCULLIS_LOG_FORMAT", "Text",
		"PORTCULLIS_METRICS_LISTEN", "off",
		"PORTCULLIS_SCOPES", "openid profile,email ,  groups",
		"PORTCULLIS_AUTH_PARAMS", "access_type=offline&prompt=consent",
		"PORTCULLIS_TOKEN_METHOD", "get",
	))
	p := c.Providers[0]
	var routes []string
	for _, r := range c.SkipAuthRoutes {
		routes = append(routes, r.Method+" "+r.Path.String())
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Upstream", formatUpstreams(c.Upstream), "http://app:8080"},
		{"PublicURL", c.PublicURL.Host, "app.example.com"},
		{"CookieSameSite", c.CookieSameSite, http.SameSiteStrictMode},
		{"AllowedGroups", c.AllowedGroups, []string{"admins", "Domain Users"}},
		{"TrustedProxies", c.TrustedProxies, []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
			netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("172.16.0.0/12"),
		}},
		{"SkipAuthRoutes", routes, []string{"GET ^/health$", " ^/public/", " a1=b"}},
		{"LogLevel", c.LogLevel, slog.LevelDebug},
		{"LogFormat", c.LogFormat, "text"},
		{"MetricsListen", c.MetricsListen, "off"},
		{"Scopes", p.Scopes, []string{"openid", "profile", "email", "groups"}},
		{"AuthParams", p.AuthParams, url.Values{"access_type": {"offline"}, "prompt": {"consent"}}},
		{"TokenMethod", p.TokenMethod, "GET"},
		// Unset, it stays empty: the preset's value, else GET.
		{"UserinfoMethod (unset)", p.UserinfoMethod, ""},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v; want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	m := with(minimal(),
		"PORTCULLIS_COOKIE_SECRET", "seven77",
		"PORTCULLIS_REFRESH_SKEW", "abc",
		"PORTCULLIS_COOKIE_SAMESITE", "sometimes",
		"PORTCULLIS_LOG_FORMAT", "xml",
		"PORTCULLIS_CLIENT_ID", "",
	)
	c, err := Load(getenv(m))
	if c != nil {
		t.Errorf("Load() config = %v; want nil with an error", c)
	}
	got := lines(err)
	want := []string{
		"PORTCULLIS_CLIENT_ID: required",
		"PORTCULLIS_COOKIE_SAMESITE: must be lax, strict or none, got \"sometimes\"",
		"PORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes or at least 32 characters, got 7 characters",
		"PORTCULLIS_LOG_FORMAT: must be json or text, got \"xml\"",
		"PORTCULLIS_REFRESH_SKEW: not a duration: \"abc\"",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no cookie secret", with(minimal(), "PORTCULLIS_COOKIE_SECRET", ""),
			[]string{"PORTCULLIS_COOKIE_SECRET: required; generate one with: openssl rand -base64 32"}},
		{"bad bool", with(minimal(), "PORTCULLIS_COOKIE_SECURE", "yes"),
			[]string{`PORTCULLIS_COOKIE_SECURE: not a boolean (true or false): "yes"`}},
		{"bad level", with(minimal(), "PORTCULLIS_LOG_LEVEL", "verbose"),
			[]string{`PORTCULLIS_LOG_LEVEL: must be debug, info, warn or error, got "verbose"`}},
		{"zero expire", with(minimal(), "PORTCULLIS_COOKIE_EXPIRE", "0s"),
			[]string{"PORTCULLIS_COOKIE_EXPIRE: must be greater than 0, got 0s"}},
		{"zero provider timeout", with(minimal(), "PORTCULLIS_PROVIDER_TIMEOUT", "0"),
			[]string{"PORTCULLIS_PROVIDER_TIMEOUT: must be greater than 0, got 0s"}},
		{"negative durations", with(minimal(), "PORTCULLIS_REFRESH_SKEW", "-1s", "PORTCULLIS_REFRESH_GRACE", "-5m",
			"PORTCULLIS_UPSTREAM_TIMEOUT", "-1s", "PORTCULLIS_SHUTDOWN_TIMEOUT", "-1h"),
			[]string{
				"PORTCULLIS_REFRESH_GRACE: must not be negative, got -5m",
				"PORTCULLIS_REFRESH_SKEW: must not be negative, got -1s",
				"PORTCULLIS_SHUTDOWN_TIMEOUT: must not be negative, got -1h",
				"PORTCULLIS_UPSTREAM_TIMEOUT: must not be negative, got -1s",
			}},
		{"negative upstream connections", with(minimal(), "PORTCULLIS_UPSTREAM_MAX_CONNS", "-1"),
			[]string{"PORTCULLIS_UPSTREAM_MAX_CONNS: must be 0 (no limit) or more, got -1"}},
		{"negative body bounds", with(minimal(), "PORTCULLIS_BODY_READ_TIMEOUT", "-1s", "PORTCULLIS_BODY_MIN_RATE", "-5"),
			[]string{
				"PORTCULLIS_BODY_MIN_RATE: must be 0 (none) or more bytes a second, got -5",
				"PORTCULLIS_BODY_READ_TIMEOUT: must not be negative, got -1s",
			}},
		{"response mode", with(minimal(), "PORTCULLIS_RESPONSE_MODE", "fragment"),
			[]string{`PORTCULLIS_RESPONSE_MODE: must be form_post or query, got "fragment"`}},
		{"form_post with the implicit flow", with(minimal(), "PORTCULLIS_RESPONSE_MODE", "form_post", "PORTCULLIS_RESPONSE_TYPE", "token"),
			[]string{"PORTCULLIS_RESPONSE_MODE: form_post is for the code flow, not with PORTCULLIS_RESPONSE_TYPE=token"}},
		{"response_mode in AUTH_PARAMS", with(minimal(), "PORTCULLIS_AUTH_PARAMS", "response_mode=form_post"),
			[]string{"PORTCULLIS_AUTH_PARAMS: response_mode: set PORTCULLIS_RESPONSE_MODE instead, so the callback expects the answer where it comes"}},
		{"passthrough names", with(minimal(), "PORTCULLIS_AUTH_PASSTHROUGH_PARAMS", "login_hint,login hint,prompt,prompt,a&b"),
			[]string{
				`PORTCULLIS_AUTH_PASSTHROUGH_PARAMS: "login hint" is not a parameter name: use letters, digits, _ . and - only`,
				`PORTCULLIS_AUTH_PASSTHROUGH_PARAMS: "prompt" is listed twice`,
				`PORTCULLIS_AUTH_PASSTHROUGH_PARAMS: "a&b" is not a parameter name: use letters, digits, _ . and - only`,
			}},
		{"logout redirect", with(minimal(), "PORTCULLIS_LOGOUT_REDIRECT_URL", "/signed-out"),
			[]string{`PORTCULLIS_LOGOUT_REDIRECT_URL: must be an absolute http or https URL, got "/signed-out"`}},
		{"upstream not http", with(minimal(), "PORTCULLIS_UPSTREAM", "ftp://files"),
			[]string{`PORTCULLIS_UPSTREAM: "ftp://files": want an ` + upstreamSchemes + ` URL`}},
		{"upstream relative", with(minimal(), "PORTCULLIS_UPSTREAM", "app:8080"),
			[]string{`PORTCULLIS_UPSTREAM: "app:8080": want an ` + upstreamSchemes + ` URL`}},
		{"upstream unparsable", with(minimal(), "PORTCULLIS_UPSTREAM", "http://[::1"),
			[]string{`PORTCULLIS_UPSTREAM: not a URL: missing ']' in host`}},
		{"public url with query", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com/?a=1"),
			[]string{`PORTCULLIS_PUBLIC_URL: must not have a query or a fragment, got "https://app.example.com/?a=1"`}},
		{"listen", with(minimal(), "PORTCULLIS_LISTEN", "4180", "PORTCULLIS_METRICS_LISTEN", "localhost:99999"),
			[]string{
				`PORTCULLIS_LISTEN: must be host:port (":4180"), got "4180"`,
				`PORTCULLIS_METRICS_LISTEN: must be host:port (":9180") or off, got "localhost:99999"`,
			}},
		{"listen clash", with(minimal(), "PORTCULLIS_METRICS_LISTEN", ":4180"),
			[]string{`PORTCULLIS_METRICS_LISTEN: must differ from PORTCULLIS_LISTEN (":4180")`}},
		{"samesite none insecure", with(minimal(), "PORTCULLIS_COOKIE_SAMESITE", "None", "PORTCULLIS_COOKIE_SECURE", "false"),
			[]string{"PORTCULLIS_COOKIE_SAMESITE: none requires PORTCULLIS_COOKIE_SECURE=true"}},
		{"cookie name", with(minimal(), "PORTCULLIS_COOKIE_NAME", "my cookie"),
			[]string{`PORTCULLIS_COOKIE_NAME: "my cookie" is not a valid cookie name (no spaces, separators or control characters)`}},
		{"host cookie", with(minimal(), "PORTCULLIS_COOKIE_NAME", "__Host-s", "PORTCULLIS_COOKIE_DOMAIN", "example.com"),
			[]string{"PORTCULLIS_COOKIE_NAME: a __Host- cookie requires PORTCULLIS_COOKIE_SECURE=true, PORTCULLIS_COOKIE_PATH=/ and no PORTCULLIS_COOKIE_DOMAIN"}},
		{"cookie domain and path", with(minimal(), "PORTCULLIS_COOKIE_DOMAIN", "exa mple.com", "PORTCULLIS_COOKIE_PATH", "app"),
			[]string{
				`PORTCULLIS_COOKIE_DOMAIN: "exa mple.com" is not a domain name`,
				`PORTCULLIS_COOKIE_PATH: must start with / and hold no ';' or control characters, got "app"`,
			}},
		{"redis without url", with(minimal(), "PORTCULLIS_SESSION_STORE", "redis"),
			[]string{"PORTCULLIS_REDIS_URL: required with PORTCULLIS_SESSION_STORE=redis (or PORTCULLIS_REDIS_SENTINEL_ADDRS, or PORTCULLIS_REDIS_CLUSTER_ADDRS)"}},
		{"redis sentinel without master, and a cluster too", with(minimal(), "PORTCULLIS_SESSION_STORE", "redis",
			"PORTCULLIS_REDIS_SENTINEL_ADDRS", "10.0.0.1:26379,redis://10.0.0.2:26379,sentinel-3", "PORTCULLIS_REDIS_CLUSTER_ADDRS", "10.0.1.1:6379,10.0.1.2:0"),
			[]string{
				`PORTCULLIS_REDIS_CLUSTER_ADDRS: "10.0.1.2:0" is not host:port`,
				"PORTCULLIS_REDIS_SENTINEL_ADDRS: not with PORTCULLIS_REDIS_CLUSTER_ADDRS: Redis is one server, a master watched by Sentinels, or a Cluster; set one of them",
				`PORTCULLIS_REDIS_SENTINEL_ADDRS: "redis://10.0.0.2:26379" is not host:port (without a scheme)`,
				`PORTCULLIS_REDIS_SENTINEL_ADDRS: "sentinel-3" is not host:port`,
				"PORTCULLIS_REDIS_SENTINEL_MASTER: required with PORTCULLIS_REDIS_SENTINEL_ADDRS: the name in the Sentinels' sentinel monitor line",
			}},
		{"redis url and sentinel", with(minimal(), "PORTCULLIS_REDIS_URL", "redis://redis:6379", "PORTCULLIS_REDIS_SENTINEL_ADDRS", "s:26379", "PORTCULLIS_REDIS_SENTINEL_MASTER", "m"),
			[]string{"PORTCULLIS_REDIS_URL: not with PORTCULLIS_REDIS_SENTINEL_ADDRS: Redis is one server, a master watched by Sentinels, or a Cluster; set one of them"}},
		{"redis master without sentinels, sentinel password without sentinels", with(minimal(), "PORTCULLIS_REDIS_URL", "redis://redis:6379",
			"PORTCULLIS_REDIS_SENTINEL_MASTER", "m", "PORTCULLIS_REDIS_SENTINEL_PASSWORD", "pw"),
			[]string{
				"PORTCULLIS_REDIS_SENTINEL_ADDRS: required with PORTCULLIS_REDIS_SENTINEL_MASTER",
				"PORTCULLIS_REDIS_SENTINEL_PASSWORD: only used with PORTCULLIS_REDIS_SENTINEL_ADDRS",
			}},
		{"redis settings without redis", with(minimal(), "PORTCULLIS_REDIS_USERNAME", "u", "PORTCULLIS_REDIS_PASSWORD", "pw", "PORTCULLIS_REDIS_TLS", "true"),
			[]string{
				"PORTCULLIS_REDIS_PASSWORD: only used with Redis (PORTCULLIS_REDIS_URL, PORTCULLIS_REDIS_SENTINEL_ADDRS or PORTCULLIS_REDIS_CLUSTER_ADDRS)",
				"PORTCULLIS_REDIS_TLS: only used with Redis (PORTCULLIS_REDIS_URL, PORTCULLIS_REDIS_SENTINEL_ADDRS or PORTCULLIS_REDIS_CLUSTER_ADDRS)",
				"PORTCULLIS_REDIS_USERNAME: only used with Redis (PORTCULLIS_REDIS_URL, PORTCULLIS_REDIS_SENTINEL_ADDRS or PORTCULLIS_REDIS_CLUSTER_ADDRS)",
			}},
		{"redis credentials twice", with(minimal(), "PORTCULLIS_REDIS_URL", "redis://user:pw@redis:6379", "PORTCULLIS_REDIS_USERNAME", "u", "PORTCULLIS_REDIS_PASSWORD", "pw"),
			[]string{
				"PORTCULLIS_REDIS_PASSWORD: PORTCULLIS_REDIS_URL has a password already; set it in one place",
				"PORTCULLIS_REDIS_USERNAME: PORTCULLIS_REDIS_URL has a user already; set it in one place",
			}},
		{"redis CA without TLS", with(minimal(), "PORTCULLIS_REDIS_CLUSTER_ADDRS", "n:6379", "PORTCULLIS_REDIS_CA", testCAPEM),
			[]string{"PORTCULLIS_REDIS_CA: only used with TLS: set PORTCULLIS_REDIS_TLS=true, or use a rediss:// PORTCULLIS_REDIS_URL"}},
		{"redis failover wait", with(minimal(), "PORTCULLIS_REDIS_URL", "redis://redis:6379", "PORTCULLIS_REDIS_FAILOVER_WAIT", "-1s"),
			[]string{"PORTCULLIS_REDIS_FAILOVER_WAIT: must not be negative, got -1s"}},
		{"redis CA not PEM", with(minimal(), "PORTCULLIS_REDIS_URL", "rediss://redis:6379", "PORTCULLIS_REDIS_CA", "not a certificate"),
			[]string{"PORTCULLIS_REDIS_CA: no PEM certificate found"}},
		{"redis bad scheme", with(minimal(), "PORTCULLIS_SESSION_STORE", "Redis", "PORTCULLIS_REDIS_URL", "http://u:pw@redis:6379"),
			[]string{`PORTCULLIS_REDIS_URL: must start with redis:// or rediss://, got scheme "http"`}},
		{"store", with(minimal(), "PORTCULLIS_SESSION_STORE", "memcached"),
			[]string{`PORTCULLIS_SESSION_STORE: must be cookie or redis, got "memcached"`}},
		{"users db", with(minimal(), "PORTCULLIS_USERS_DB", "mysql://db/users"),
			[]string{`PORTCULLIS_USERS_DB: must be a file path or a postgres:// URL, got scheme "mysql"`}},
		{"allowed emails", with(minimal(), "PORTCULLIS_ALLOWED_EMAILS", "a@example.com,bob"),
			[]string{`PORTCULLIS_ALLOWED_EMAILS: "bob" is not an e-mail address`}},
		{"trusted proxies", with(minimal(), "PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/33,proxy,10.1.2.3"),
			[]string{
				`PORTCULLIS_TRUSTED_PROXIES: "10.0.0.0/33" is not a CIDR (10.0.0.0/8) or an IP address`,
				`PORTCULLIS_TRUSTED_PROXIES: "proxy" is not a CIDR (10.0.0.0/8) or an IP address`,
			}},
		{"skip auth routes", with(minimal(), "PORTCULLIS_SKIP_AUTH_ROUTES", "GET=^/ok$,POST=(,GET="),
			[]string{
				"PORTCULLIS_SKIP_AUTH_ROUTES: \"(\" does not compile: error parsing regexp: missing closing ): `(`",
				`PORTCULLIS_SKIP_AUTH_ROUTES: "GET=" has an empty pattern; want METHOD=regex or regex`,
			}},
		{"redirect domains", with(minimal(), "PORTCULLIS_ALLOWED_REDIRECT_DOMAINS", "example.com,.example.org,a.example.net:8443,b.example.net:*,*.example.com,c.example.com:x,http://d.com"),
			[]string{
				`PORTCULLIS_ALLOWED_REDIRECT_DOMAINS: "*.example.com" is not a host: write .example.com for a domain and its subdomains`,
				`PORTCULLIS_ALLOWED_REDIRECT_DOMAINS: "c.example.com:x" has a bad port "x": want a number or *`,
				`PORTCULLIS_ALLOWED_REDIRECT_DOMAINS: "http://d.com" is not a host, .host, host:port or host:*`,
			}},
		{"allowed hosts", with(minimal(), "PORTCULLIS_ALLOWED_HOSTS", "app.example.com,.example.org,a.example.net:8443,b.example.net:*,*.example.com,c.example.com:0,https://d.com,e.com/"),
			[]string{
				`PORTCULLIS_ALLOWED_HOSTS: "*.example.com" is not a host: write .example.com for a domain and its subdomains`,
				`PORTCULLIS_ALLOWED_HOSTS: "c.example.com:0" has a bad port "0": want a number or *`,
				`PORTCULLIS_ALLOWED_HOSTS: "https://d.com" is not a host, .host, host:port or host:*`,
				`PORTCULLIS_ALLOWED_HOSTS: "e.com/" is not a host, .host, host:port or host:*`,
			}},
		{"logo", with(minimal(), "PORTCULLIS_SIGN_IN_LOGO_URL", "logo.png"),
			[]string{"PORTCULLIS_SIGN_IN_LOGO_URL: must be an http(s) URL, a data: URL or a path starting with /"}},
		// A preset's own problems (an unknown preset, what it needs) are
		// the providers package's: TestPresetProblems in package main.
		{"oauth2 urls", with(minimal(), "PORTCULLIS_AUTH_URL", "", "PORTCULLIS_TOKEN_URL", "", "PORTCULLIS_USERINFO_URL", "/userinfo"),
			[]string{
				`PORTCULLIS_USERINFO_URL: must be an absolute http or https URL, got "/userinfo"`,
			}},
		{"introspection url", with(minimal(), "PORTCULLIS_INTROSPECTION_URL", "introspect"),
			[]string{`PORTCULLIS_INTROSPECTION_URL: must be an absolute http or https URL, got "introspect"`}},
		{"client credentials", with(minimal(), "PORTCULLIS_CLIENT_ID", "", "PORTCULLIS_CLIENT_SECRET", ""),
			[]string{
				"PORTCULLIS_CLIENT_ID: required",
				"PORTCULLIS_CLIENT_SECRET: required (unless PORTCULLIS_RESPONSE_TYPE=token)",
			}},
		{"enumerations", with(minimal(), "PORTCULLIS_RESPONSE_TYPE", "id_token", "PORTCULLIS_TOKEN_METHOD", "PUT",
			"PORTCULLIS_TOKEN_AUTH_STYLE", "jwt", "PORTCULLIS_USERINFO_METHOD", "DELETE", "PORTCULLIS_USERINFO_TOKEN", "cookie"),
			[]string{
				`PORTCULLIS_RESPONSE_TYPE: must be code or token, got "id_token"`,
				`PORTCULLIS_TOKEN_AUTH_STYLE: must be auto, header, params, private_key_jwt, client_assertion or none, got "jwt"`,
				`PORTCULLIS_TOKEN_METHOD: must be GET or POST, got "PUT"`,
				`PORTCULLIS_USERINFO_METHOD: must be GET or POST, got "DELETE"`,
				`PORTCULLIS_USERINFO_TOKEN: must be header, query or body, got "cookie"`,
			}},
		{"params", with(minimal(), "PORTCULLIS_TOKEN_PARAMS", "a=%zz"),
			[]string{`PORTCULLIS_TOKEN_PARAMS: not a query string (a=1&b=2): invalid URL escape "%zz"`}},
		{"claim id empty", with(minimal(), "PORTCULLIS_CLAIM_ID", " , "),
			[]string{"PORTCULLIS_CLAIM_ID: must name at least one path"}},
		{"user from", with(minimal(), "PORTCULLIS_USER_FROM", "preferred_username"),
			[]string{`PORTCULLIS_USER_FROM: must be auto, email, id or username, got "preferred_username"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(getenv(tt.env))
			if got := lines(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestLoadChecks: the checks main passes to Load run on the parsed
// configuration, and their problems join Load's own, sorted, each once: a
// variable that has a problem already gets none of theirs.
func TestLoadChecks(t *testing.T) {
	t.Parallel()
	var seen *Config
	check := func(c *Config) error {
		seen = c
		return errors.Join(
			errors.New("PORTCULLIS_ISSUER_URL: required by the check"),
			errors.New("PORTCULLIS_COOKIE_SECRET: the check's word on it\nPORTCULLIS_CLIENT_SECRET: also wrong"),
			errors.New("PORTCULLIS_TOKEN_URL: the check's word on it"),
			errors.New("a line naming no variable"),
		)
	}
	_, err := Load(getenv(with(minimal(), "PORTCULLIS_COOKIE_SECRET", "short", "PORTCULLIS_TOKEN_URL", "", "PORTCULLIS_TOKEN_URL_FILE", "/nonexistent/token-url")), check)
	want := []string{
		"a line naming no variable",
		"PORTCULLIS_CLIENT_SECRET: also wrong",
		"PORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes or at least 32 characters, got 5 characters",
		"PORTCULLIS_ISSUER_URL: required by the check",
		`PORTCULLIS_TOKEN_URL_FILE: cannot read "/nonexistent/token-url": no such file or directory`,
	}
	if got := lines(err); !reflect.DeepEqual(got, want) {
		t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if seen == nil || seen.Providers[0].ClientID != "client" {
		t.Errorf("the check saw %+v; want the parsed configuration", seen)
	}
	if _, err := Load(getenv(minimal()), func(*Config) error { return nil }); err != nil {
		t.Errorf("Load with a check that passes = %v; want nil", err)
	}
}

func TestLoadAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"implicit flow needs no secret", with(minimal(), "PORTCULLIS_RESPONSE_TYPE", "token", "PORTCULLIS_CLIENT_SECRET", "")},
		{"preset needs no urls", with(minimal(), "PORTCULLIS_PROVIDER", "google", "PORTCULLIS_AUTH_URL", "", "PORTCULLIS_TOKEN_URL", "", "PORTCULLIS_USERINFO_URL", "")},
		{"oidc with issuer", with(minimal(), "PORTCULLIS_PROVIDER", "OIDC", "PORTCULLIS_ISSUER_URL", "https://idp.example.com")},
		{"redis store", with(minimal(), "PORTCULLIS_SESSION_STORE", "redis", "PORTCULLIS_REDIS_URL", "rediss://:pw@redis:6380/1")},
		{"redis sentinel", with(minimal(), "PORTCULLIS_SESSION_STORE", "redis", "PORTCULLIS_REDIS_SENTINEL_ADDRS", "10.0.0.1:26379, [::1]:26379",
			"PORTCULLIS_REDIS_SENTINEL_MASTER", "mymaster", "PORTCULLIS_REDIS_SENTINEL_PASSWORD", "s", "PORTCULLIS_REDIS_USERNAME", "portcullis",
			"PORTCULLIS_REDIS_PASSWORD", "p", "PORTCULLIS_REDIS_TLS", "true", "PORTCULLIS_REDIS_CA", testCAPEM)},
		{"redis cluster for refresh locks only", with(minimal(), "PORTCULLIS_REDIS_CLUSTER_ADDRS", "redis-0.redis:6379")},
		{"redis URL with a password from the variable", with(minimal(), "PORTCULLIS_REDIS_URL", "redis://redis:6379/2", "PORTCULLIS_REDIS_PASSWORD", "p", "PORTCULLIS_REDIS_USERNAME", "u")},
		{"postgres registry", with(minimal(), "PORTCULLIS_USERS_DB", "postgres://u:p@db/users?sslmode=disable")},
		{"file registry", with(minimal(), "PORTCULLIS_USERS_DB", "/var/lib/portcullis/users.db")},
		{"samesite none secure", with(minimal(), "PORTCULLIS_COOKIE_SAMESITE", "none")},
		{"listen on loopback port 0", with(minimal(), "PORTCULLIS_LISTEN", "127.0.0.1:0", "PORTCULLIS_METRICS_LISTEN", "127.0.0.1:0")},
		{"logo path", with(minimal(), "PORTCULLIS_SIGN_IN_LOGO_URL", "/static/logo.svg")},
		{"logo data", with(minimal(), "PORTCULLIS_SIGN_IN_LOGO_URL", "data:image/png;base64,iVBORw0KGgo=")},
		{"empty value is unset", with(minimal(), "PORTCULLIS_LISTEN", "")},
		{"user from, any case", with(minimal(), "PORTCULLIS_USER_FROM", " Email ")},
		{"user from username", with(minimal(), "PORTCULLIS_USER_FROM", "username")},
		{"flow settings", with(minimal(), "PORTCULLIS_RESPONSE_MODE", " Form_Post ", "PORTCULLIS_AUTH_PASSTHROUGH_PARAMS", "login_hint, prompt,kc_idp_hint",
			"PORTCULLIS_LOGOUT_REDIRECT_URL", "https://app.example.com/signed-out")},
		{"logout redirect none", with(minimal(), "PORTCULLIS_LOGOUT_REDIRECT_URL", "None")},
		{"allowed hosts", with(minimal(), "PORTCULLIS_ALLOWED_HOSTS", "app.example.com, .corp.example,dev.example.com:*,[2001:db8::1]:8443,192.0.2.1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Load(getenv(tt.env)); err != nil {
				t.Errorf("Load() error:\n%v\nwant none", err)
			}
		})
	}
}

func TestCookieSecret(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xfb, 0xff, 0x01, 0x80}, 8) // base64 with + / (std) or - _ (URL-safe)
	std := base64.StdEncoding.EncodeToString(key)
	rawURL := base64.RawURLEncoding.EncodeToString(key)
	tests := []struct {
		name    string
		secret  string
		want    [][]byte
		wantErr string
	}{
		{"std base64 of 32 bytes", std, [][]byte{key}, ""},
		{"URL-safe base64 without padding", rawURL, [][]byte{key}, ""},
		{"raw 32+ characters", rawSecret, [][]byte{[]byte(rawSecret)}, ""},
		{"raw exactly 32 characters", rawSecret[:32], [][]byte{[]byte(rawSecret[:32])}, ""},
		{"7 characters", "hunter2", nil,
			"PORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes or at least 32 characters, got 7 characters"},
		{"base64 of 16 bytes is too short", base64.StdEncoding.EncodeToString(key[:16]), nil,
			"PORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes or at least 32 characters, got 24 characters"},
		{"rotation", std + ", " + rawSecret, [][]byte{key, []byte(rawSecret)}, ""},
		{"rotation with a short entry", rawURL + ",hunter2", nil,
			"PORTCULLIS_COOKIE_SECRET: entry 2 must be base64 of 32 bytes or at least 32 characters, got 7 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(getenv(with(minimal(), "PORTCULLIS_COOKIE_SECRET", tt.secret)))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Load() error = %v; want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("Load() error %q quotes the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error:\n%v", err)
			}
			if !reflect.DeepEqual(c.CookieSecrets, tt.want) {
				t.Errorf("CookieSecrets = %x; want %x", c.CookieSecrets, tt.want)
			}
		})
	}
}

func TestFileTwins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string { return writeFile(t, dir, name, content) }
	secretFile := write("cookie", rawSecret+"\n")
	crlfFile := write("client", "from-file\r\n")
	twoNewlines := write("id", "id\n\n")
	missing := filepath.Join(dir, "missing")

	t.Run("read, one newline trimmed", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, with(minimal(),
			"PORTCULLIS_COOKIE_SECRET", "", "PORTCULLIS_COOKIE_SECRET_FILE", secretFile,
			"PORTCULLIS_CLIENT_SECRET", "", "PORTCULLIS_CLIENT_SECRET_FILE", crlfFile,
			"PORTCULLIS_CLIENT_ID_FILE", twoNewlines, "PORTCULLIS_CLIENT_ID", "",
		))
		if got, want := c.CookieSecret, rawSecret; got != want {
			t.Errorf("CookieSecret = %q; want %q", got, want)
		}
		if got, want := c.Providers[0].ClientSecret, "from-file"; got != want {
			t.Errorf("ClientSecret = %q; want %q", got, want)
		}
		if got, want := c.Providers[0].ClientID, "id\n"; got != want {
			t.Errorf("ClientID = %q; want %q", got, want)
		}
	})

	t.Run("provider prefix", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, map[string]string{
			"PORTCULLIS_COOKIE_SECRET":           rawSecret,
			"PORTCULLIS_PROVIDERS":               "corp",
			"PORTCULLIS_CORP_PROVIDER":           "google",
			"PORTCULLIS_CORP_CLIENT_ID":          "id",
			"PORTCULLIS_CORP_CLIENT_SECRET_FILE": crlfFile,
		})
		if got, want := c.Providers[0].ClientSecret, "from-file"; got != want {
			t.Errorf("ClientSecret = %q; want %q", got, want)
		}
	})

	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"both set", with(minimal(), "PORTCULLIS_CLIENT_SECRET_FILE", crlfFile), []string{
			"PORTCULLIS_CLIENT_SECRET: set both PORTCULLIS_CLIENT_SECRET and PORTCULLIS_CLIENT_SECRET_FILE",
		}},
		{"missing file", with(minimal(), "PORTCULLIS_COOKIE_SECRET", "", "PORTCULLIS_COOKIE_SECRET_FILE", missing), []string{
			`PORTCULLIS_COOKIE_SECRET_FILE: cannot read "` + missing + `": no such file or directory`,
		}},
		{"directory", with(minimal(), "PORTCULLIS_LISTEN_FILE", dir), []string{
			`PORTCULLIS_LISTEN_FILE: cannot read "` + dir + `": is a directory`,
		}},
		{"missing providers file", with(minimal(), "PORTCULLIS_PROVIDERS_FILE", missing), []string{
			`PORTCULLIS_PROVIDERS_FILE: cannot read "` + missing + `": no such file or directory`,
		}},
		// Redis beyond one server: every problem at once.
		{"redis files and a sentinel without master", with(minimal(), "PORTCULLIS_SESSION_STORE", "redis",
			"PORTCULLIS_REDIS_SENTINEL_ADDRS", "10.0.0.1:26379", "PORTCULLIS_REDIS_TLS", "true",
			"PORTCULLIS_REDIS_CA_FILE", missing, "PORTCULLIS_REDIS_PASSWORD_FILE", dir, "PORTCULLIS_REDIS_SENTINEL_PASSWORD_FILE", missing), []string{
			`PORTCULLIS_REDIS_CA_FILE: cannot read "` + missing + `": no such file or directory`,
			`PORTCULLIS_REDIS_PASSWORD_FILE: cannot read "` + dir + `": is a directory`,
			"PORTCULLIS_REDIS_SENTINEL_MASTER: required with PORTCULLIS_REDIS_SENTINEL_ADDRS: the name in the Sentinels' sentinel monitor line",
			`PORTCULLIS_REDIS_SENTINEL_PASSWORD_FILE: cannot read "` + missing + `": no such file or directory`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(getenv(tt.env))
			if got := lines(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestListFileTwins: the _FILE twin of a list variable holds one entry per
// line or a comma list; blank lines and # comment lines are ignored
// (oauth2-proxy's authenticated-emails-file is one address per line).
func TestListFileTwins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string { return writeFile(t, dir, name, content) }
	emails := write("emails", "# people who may pass\nalice@example.com\n\n  bob@example.com  \r\n# carol@example.com left\ndave@example.com,erin@example.com\n")
	groups := write("groups", "admins\nstaff\n")
	proxies := write("proxies", "10.0.0.0/8\n# the load balancer\n192.0.2.7\n")
	routes := write("routes", "GET=^/health$\n^/public/\n")
	scopes := write("scopes", "openid\nemail profile\n")
	c := mustLoad(t, with(minimal(),
		"PORTCULLIS_ALLOWED_EMAILS_FILE", emails,
		"PORTCULLIS_ALLOWED_GROUPS_FILE", groups,
		"PORTCULLIS_TRUSTED_PROXIES_FILE", proxies,
		"PORTCULLIS_SKIP_AUTH_ROUTES_FILE", routes,
		"PORTCULLIS_SCOPES_FILE", scopes,
	))
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"ALLOWED_EMAILS", c.AllowedEmails, []string{"alice@example.com", "bob@example.com", "dave@example.com", "erin@example.com"}},
		{"ALLOWED_GROUPS", c.AllowedGroups, []string{"admins", "staff"}},
		{"TRUSTED_PROXIES", c.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}},
		{"SKIP_AUTH_ROUTES", len(c.SkipAuthRoutes), 2},
		{"SCOPES", c.Providers[0].Scopes, []string{"openid", "email", "profile"}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s from a file = %#v; want %#v", tc.name, tc.got, tc.want)
		}
	}
	if len(c.SkipAuthRoutes) == 2 && (c.SkipAuthRoutes[0].String() != "GET=^/health$" || c.SkipAuthRoutes[1].String() != "^/public/") {
		t.Errorf("SKIP_AUTH_ROUTES from a file = %v", c.SkipAuthRoutes)
	}

	// A file saved with a byte order mark (Windows editors) holds the same
	// addresses: the mark is not part of the first.
	bom := write("bom", "\ufeffalice@example.com\r\nbob@example.com\r\n")
	if c := mustLoad(t, with(minimal(), "PORTCULLIS_ALLOWED_EMAILS_FILE", bom)); !reflect.DeepEqual(c.AllowedEmails, []string{"alice@example.com", "bob@example.com"}) {
		t.Errorf("ALLOWED_EMAILS from a file with a byte order mark = %q; want alice@example.com, bob@example.com", c.AllowedEmails)
	}

	// A secret's line is kept whole: a secret is never a comment.
	secret := write("secret", "#not-a-comment-"+rawSecret+"\n")
	if c := mustLoad(t, with(minimal(), "PORTCULLIS_COOKIE_SECRET", "", "PORTCULLIS_COOKIE_SECRET_FILE", secret)); c.CookieSecret != "#not-a-comment-"+rawSecret {
		t.Errorf("COOKIE_SECRET from a file = %q; want the line as it is", c.CookieSecret)
	}
	// COOKIE_SECRET is a rotation list: its file holds one secret a line
	// (the newest first). Base64's decoder skips newlines, so two lines
	// used to read as one 64-byte secret, and neither key was ever used.
	newer, older := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
	rotation := write("rotation", newer+"\n\n"+older+"\n")
	c = mustLoad(t, with(minimal(), "PORTCULLIS_COOKIE_SECRET", "", "PORTCULLIS_COOKIE_SECRET_FILE", rotation))
	if c.CookieSecret != newer+","+older || len(c.CookieSecrets) != 2 || string(c.CookieSecrets[0]) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("COOKIE_SECRET from a file of two lines = %q, %d secrets; want %q, 2 secrets, the first line's first", c.CookieSecret, len(c.CookieSecrets), newer+","+older)
	}
}

// TestAllowedEmailsChecked: what is still not an address after splitting
// is refused, naming the variable set (the _FILE twin), so check can't say OK to a list that
// refuses everyone.
func TestAllowedEmailsChecked(t *testing.T) {
	t.Parallel()
	path := writeFile(t, t.TempDir(), "emails", "alice@example.com bob@example.com\nCarol <carol@example.com>\nbob\n@example.com\na@b@example.com\n")
	_, err := Load(getenv(with(minimal(), "PORTCULLIS_ALLOWED_EMAILS_FILE", path)))
	want := []string{
		`PORTCULLIS_ALLOWED_EMAILS_FILE: "alice@example.com bob@example.com" is not an e-mail address`,
		`PORTCULLIS_ALLOWED_EMAILS_FILE: "Carol <carol@example.com>" is not an e-mail address`,
		`PORTCULLIS_ALLOWED_EMAILS_FILE: "bob" is not an e-mail address`,
		`PORTCULLIS_ALLOWED_EMAILS_FILE: "@example.com" is not an e-mail address`,
		`PORTCULLIS_ALLOWED_EMAILS_FILE: "a@b@example.com" is not an e-mail address`,
	}
	if got := lines(err); !reflect.DeepEqual(got, want) {
		t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSeveralProviders(t *testing.T) {
	t.Parallel()
	m := map[string]string{
		"PORTCULLIS_COOKIE_SECRET":        rawSecret,
		"PORTCULLIS_PROVIDERS":            "google, corp,gh2",
		"PORTCULLIS_GOOGLE_PROVIDER":      "google",
		"PORTCULLIS_GOOGLE_CLIENT_ID":     "g-id",
		"PORTCULLIS_GOOGLE_CLIENT_SECRET": "g-secret",
		"PORTCULLIS_CORP_PROVIDER":        "oidc",
		"PORTCULLIS_CORP_ISSUER_URL":      "https://sso.corp.example",
		"PORTCULLIS_CORP_CLIENT_ID":       "c-id",
		"PORTCULLIS_CORP_CLIENT_SECRET":   "c-secret",
		"PORTCULLIS_CORP_DISPLAY_NAME":    "Corp SSO",
		"PORTCULLIS_GH2_PROVIDER":         "github",
		"PORTCULLIS_GH2_CLIENT_ID":        "gh-id",
		"PORTCULLIS_GH2_CLIENT_SECRET":    "gh-secret",
		// The single-provider variables are not read with PROVIDERS set.
		"PORTCULLIS_CLIENT_ID": "ignored",
	}
	c := mustLoad(t, m)
	type summary struct{ ID, Prefix, Preset, ClientID, DisplayName string }
	var got []summary
	for _, p := range c.Providers {
		got = append(got, summary{p.ID, p.Prefix, p.Preset, p.ClientID, p.DisplayName})
	}
	want := []summary{
		{"google", "PORTCULLIS_GOOGLE_", "google", "g-id", ""},
		{"corp", "PORTCULLIS_CORP_", "oidc", "c-id", "Corp SSO"},
		{"gh2", "PORTCULLIS_GH2_", "github", "gh-id", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Providers = %+v; want %+v", got, want)
	}
	// What corp's environment did not set stays empty: the preset's
	// value, else the generic default.
	if p := c.Providers[1]; p.TokenMethod != "" || p.PKCE != nil || p.Scopes != nil || p.ClaimID != nil || p.UserinfoToken != "" {
		t.Errorf("corp unset settings = %q, %v, %q, %q, %q; want all empty", p.TokenMethod, p.PKCE, p.Scopes, p.ClaimID, p.UserinfoToken)
	}

	// Problems name the prefixed variable. (The missing CORP_ISSUER_URL is
	// the oidc preset's problem: TestPresetProblems in package main.)
	_, err := Load(getenv(with(m, "PORTCULLIS_CORP_ISSUER_URL", "", "PORTCULLIS_GH2_CLIENT_SECRET", "", "PORTCULLIS_GOOGLE_PKCE", "maybe")))
	wantLines := []string{
		"PORTCULLIS_GH2_CLIENT_SECRET: required (unless PORTCULLIS_GH2_RESPONSE_TYPE=token)",
		`PORTCULLIS_GOOGLE_PKCE: not a boolean (true or false): "maybe"`,
	}
	if got := lines(err); !reflect.DeepEqual(got, wantLines) {
		t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
	}
}

func TestSingleProviderID(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, with(minimal(), "PORTCULLIS_PROVIDER", "GitHub"))
	if got, want := c.Providers[0].ID, "github"; got != want {
		t.Errorf("ID = %q; want %q", got, want)
	}
}

func TestBadProviderIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ids  string
		want []string
	}{
		{"Corp", []string{`PORTCULLIS_PROVIDERS: "Corp" is not a valid provider id: use lower-case letters and digits only`}},
		{"my-idp", []string{`PORTCULLIS_PROVIDERS: "my-idp" is not a valid provider id: use lower-case letters and digits only`}},
		{"a_b", []string{`PORTCULLIS_PROVIDERS: "a_b" is not a valid provider id: use lower-case letters and digits only`}},
		{"google,google", []string{`PORTCULLIS_PROVIDERS: "google" is listed twice`}},
		{"google,Bad,x.y", []string{
			`PORTCULLIS_PROVIDERS: "Bad" is not a valid provider id: use lower-case letters and digits only`,
			`PORTCULLIS_PROVIDERS: "x.y" is not a valid provider id: use lower-case letters and digits only`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.ids, func(t *testing.T) {
			t.Parallel()
			_, err := Load(getenv(map[string]string{
				"PORTCULLIS_COOKIE_SECRET":        rawSecret,
				"PORTCULLIS_PROVIDERS":            tt.ids,
				"PORTCULLIS_GOOGLE_PROVIDER":      "google",
				"PORTCULLIS_GOOGLE_CLIENT_ID":     "id",
				"PORTCULLIS_GOOGLE_CLIENT_SECRET": "secret",
			}))
			if got := lines(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestClaimAttributesAndValues(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, with(minimal(),
		"PORTCULLIS_CLAIM_ATTRIBUTES", "Dept=org.department, Amount=salaryAmount,Gender=sex",
		"PORTCULLIS_CLAIM_VALUES", "Gender:M=male,M=hombre,F=female; email_verified:true=yes ;Gender:F=mujer",
	))
	p := c.Providers[0]
	wantAttrs := []Attribute{{"Dept", "org.department"}, {"Amount", "salaryAmount"}, {"Gender", "sex"}}
	if !reflect.DeepEqual(p.ClaimAttributes, wantAttrs) {
		t.Errorf("ClaimAttributes = %v; want %v", p.ClaimAttributes, wantAttrs)
	}
	wantValues := map[string]map[string]string{
		"gender":         {"male": "M", "hombre": "M", "female": "F", "mujer": "F"},
		"email_verified": {"yes": "true"},
	}
	if !reflect.DeepEqual(p.ClaimValues, wantValues) {
		t.Errorf("ClaimValues = %v; want %v", p.ClaimValues, wantValues)
	}

	tests := []struct {
		name        string
		attrs, vals string
		want        []string
	}{
		{"attribute without path", "Dept", "", []string{`PORTCULLIS_CLAIM_ATTRIBUTES: "Dept" must be Name=path`}},
		{"attribute bad name", "Dept Name=org.dept,X_Y=a", "", []string{
			`PORTCULLIS_CLAIM_ATTRIBUTES: "Dept Name" is not a valid attribute name: use letters, digits and '-'`,
			`PORTCULLIS_CLAIM_ATTRIBUTES: "X_Y" is not a valid attribute name: use letters, digits and '-'`,
		}},
		{"attribute twice", "Dept=a,dept=b", "", []string{`PORTCULLIS_CLAIM_ATTRIBUTES: attribute "dept" is listed twice`}},
		{"values without name", "", "M=male", []string{`PORTCULLIS_CLAIM_VALUES: "M=male" must be NAME:OUT=IN,OUT=IN`}},
		{"values bad pair", "Gender=sex", "Gender:M,F=", []string{
			`PORTCULLIS_CLAIM_VALUES: Gender: "M" must be OUT=IN`,
			`PORTCULLIS_CLAIM_VALUES: Gender: "F=" must be OUT=IN`,
		}},
		{"values conflict", "Gender=sex", "Gender:M=male,F=male", []string{`PORTCULLIS_CLAIM_VALUES: Gender: "male" maps to both "M" and "F"`}},
		{"values empty mapping", "Gender=sex", "Gender:", []string{`PORTCULLIS_CLAIM_VALUES: Gender: no OUT=IN mapping`}},
		{"values unknown name", "", "Gender:M=male", []string{
			`PORTCULLIS_CLAIM_VALUES: "gender" is neither a field (id, email, email_verified, name, given_name, family_name, username, groups, picture, locale) nor a CLAIM_ATTRIBUTES name`,
		}},
		{"both bad", "=x", "a b:c=d", []string{
			`PORTCULLIS_CLAIM_ATTRIBUTES: "" is not a valid attribute name: use letters, digits and '-'`,
			`PORTCULLIS_CLAIM_VALUES: "a b" is not a valid field or attribute name`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(getenv(with(minimal(), "PORTCULLIS_CLAIM_ATTRIBUTES", tt.attrs, "PORTCULLIS_CLAIM_VALUES", tt.vals)))
			if got := lines(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSettingsHideSecrets(t *testing.T) {
	t.Parallel()
	cookieSecret := "cookie-secret-cookie-secret-cookie-secret"
	secrets := []string{cookieSecret, "g-client-secret", "c-client-secret", "redis-password", "db-password"}
	c := mustLoad(t, map[string]string{
		"PORTCULLIS_COOKIE_SECRET":        cookieSecret + "," + rawSecret,
		"PORTCULLIS_SESSION_STORE":        "redis",
		"PORTCULLIS_REDIS_URL":            "redis://default:redis-password@redis:6379/0",
		"PORTCULLIS_USERS_DB":             "postgres://portcullis:db-password@db/users?sslmode=disable",
		"PORTCULLIS_PROVIDERS":            "google,corp",
		"PORTCULLIS_GOOGLE_PROVIDER":      "google",
		"PORTCULLIS_GOOGLE_CLIENT_ID":     "g-id",
		"PORTCULLIS_GOOGLE_CLIENT_SECRET": "g-client-secret",
		"PORTCULLIS_CORP_PROVIDER":        "oidc",
		"PORTCULLIS_CORP_ISSUER_URL":      "https://sso.example.com",
		"PORTCULLIS_CORP_CLIENT_ID":       "c-id",
		"PORTCULLIS_CORP_CLIENT_SECRET":   "c-client-secret",
	})
	got := map[string]Setting{}
	for _, s := range c.Settings() {
		for _, secret := range append(secrets, rawSecret) {
			if strings.Contains(s.Value, secret) {
				t.Errorf("Settings() %s = %q shows a secret", s.Name, s.Value)
			}
		}
		got[s.Name] = s
	}
	tests := []Setting{
		{"PORTCULLIS_COOKIE_SECRET", "[redacted]", true},
		{"PORTCULLIS_GOOGLE_CLIENT_SECRET", "[redacted]", true},
		{"PORTCULLIS_CORP_CLIENT_SECRET", "[redacted]", true},
		{"PORTCULLIS_REDIS_URL", "redis://default:xxxxx@redis:6379/0", false},
		{"PORTCULLIS_USERS_DB", "postgres://portcullis:xxxxx@db/users?sslmode=disable", false},
		{"PORTCULLIS_CORP_ISSUER_URL", "https://sso.example.com", false},
		{"PORTCULLIS_GOOGLE_CLIENT_ID", "g-id", false},
		// Unset; check shows the preset's value, else the default.
		{"PORTCULLIS_GOOGLE_TOKEN_METHOD", "", false},
		{"PORTCULLIS_COOKIE_EXPIRE", "168h", false},
		{"PORTCULLIS_PUBLIC_URL", "", false},
	}
	for _, want := range tests {
		if got := got[want.Name]; got != want {
			t.Errorf("Settings() %s = %+v; want %+v", want.Name, got, want)
		}
	}
}

func TestSettingsOrder(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, with(minimal(), "PORTCULLIS_UPSTREAM", "http://app"))
	a, b := c.Settings(), c.Settings()
	if !reflect.DeepEqual(a, b) {
		t.Errorf("Settings() differs between calls")
	}
	keys, err := envKeys(&Config{}, Prefix)
	if err != nil {
		t.Fatal(err)
	}
	pkeys, err := envKeys(&Provider{}, Prefix)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range a {
		names = append(names, s.Name)
	}
	if want := append(keys, pkeys...); !reflect.DeepEqual(names, want) {
		t.Errorf("Settings() names = %v; want %v", names, want)
	}
	if got, want := a[0], (Setting{Name: "PORTCULLIS_UPSTREAM", Value: "http://app"}); got != want {
		t.Errorf("Settings()[0] = %+v; want %+v", got, want)
	}
}

func TestReferenceMentionsEveryVariable(t *testing.T) {
	t.Parallel()
	ref := Reference()
	if ref != Reference() {
		t.Errorf("Reference() differs between calls")
	}
	for _, tt := range []struct {
		v      any
		prefix string
	}{
		{&Config{}, "PORTCULLIS_"},
		{&Provider{}, "PORTCULLIS_[<ID>_]"},
	} {
		params, err := env.GetFieldParamsWithOptions(tt.v, env.Options{Prefix: tt.prefix, Environment: map[string]string{}})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range params {
			if !strings.Contains(ref, "| `"+p.Key+"` |") {
				t.Errorf("Reference() has no row for %s", p.Key)
			}
		}
	}
	for _, s := range []string{"| variable | default | meaning |", "_FILE", "| `PORTCULLIS_COOKIE_EXPIRE` | `168h` |", "| `PORTCULLIS_COOKIE_SECRET` | required |"} {
		if !strings.Contains(ref, s) {
			t.Errorf("Reference() does not contain %q", s)
		}
	}
}

func TestEveryFieldDocumented(t *testing.T) {
	t.Parallel()
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[Provider]()} {
		for _, f := range envFields(typ) {
			if f.Tag.Get("doc") == "" {
				t.Errorf("%s.%s has no doc tag", typ.Name(), f.Name)
			}
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{168 * time.Hour, "168h"}, {5 * time.Minute, "5m"}, {30 * time.Second, "30s"},
		{90 * time.Minute, "1h30m"}, {0, "0s"}, {1500 * time.Millisecond, "1.5s"},
	} {
		if got := FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}

func TestSettingsRedactURLsAndParams(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET": "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_CLIENT_ID":     "c",
		"PORTCULLIS_CLIENT_SECRET": "s",
		"PORTCULLIS_AUTH_URL":      "https://idp.example/authorize",
		"PORTCULLIS_TOKEN_URL":     "https://user:tokenpass@idp.example/token?api_key=SEKRIT&v=2",
		"PORTCULLIS_USERINFO_URL":  "https://idp.example/me",
		"PORTCULLIS_TOKEN_PARAMS":  "client_assertion=JWTSEKRIT&audience=api",
	}
	cfg, err := Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, s := range cfg.Settings() {
		all.WriteString(s.Name + "=" + s.Value + "\n")
	}
	for _, secret := range []string{"tokenpass", "SEKRIT", "JWTSEKRIT"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("Settings() shows %q:\n%s", secret, all.String())
		}
	}
	for _, shown := range []string{"v=2", "audience=api"} {
		if !strings.Contains(all.String(), shown) {
			t.Errorf("Settings() hides the harmless %q", shown)
		}
	}
}

// testCAPEM is a self-signed CA certificate, PEM-encoded.
var testCAPEM = func() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}()

func TestSettingsHideRedisSecrets(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, with(minimal(), "PORTCULLIS_SESSION_STORE", "redis",
		"PORTCULLIS_REDIS_SENTINEL_ADDRS", "10.0.0.1:26379,10.0.0.2:26379", "PORTCULLIS_REDIS_SENTINEL_MASTER", "mymaster",
		"PORTCULLIS_REDIS_USERNAME", "portcullis", "PORTCULLIS_REDIS_PASSWORD", "data-password",
		"PORTCULLIS_REDIS_SENTINEL_PASSWORD", "sentinel-password", "PORTCULLIS_REDIS_TLS", "true", "PORTCULLIS_REDIS_CA", testCAPEM))
	got := map[string]Setting{}
	for _, s := range c.Settings() {
		got[s.Name] = s
	}
	for _, want := range []Setting{
		{"PORTCULLIS_REDIS_SENTINEL_ADDRS", "10.0.0.1:26379,10.0.0.2:26379", false},
		{"PORTCULLIS_REDIS_SENTINEL_MASTER", "mymaster", false},
		{"PORTCULLIS_REDIS_USERNAME", "portcullis", false},
		{"PORTCULLIS_REDIS_PASSWORD", "[redacted]", true},
		{"PORTCULLIS_REDIS_SENTINEL_PASSWORD", "[redacted]", true},
		{"PORTCULLIS_REDIS_TLS", "true", false},
		{"PORTCULLIS_REDIS_CA", "[redacted]", true},
		{"PORTCULLIS_REDIS_CLUSTER_ADDRS", "", false},
	} {
		if got := got[want.Name]; got != want {
			t.Errorf("Settings() %s = %+v; want %+v", want.Name, got, want)
		}
	}
}

// TestProblemsNameTheFileTwin: a problem with a value read from a _FILE
// twin names the twin, the variable the operator set, whether config's
// own parsing or validation found it or a check main passes.
func TestProblemsNameTheFileTwin(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"/run/ca":      "not a certificate\n",
		"/run/expire":  "soon\n",
		"/run/token":   "ftp://idp.example.com/token\n",
		"/run/secret":  "short\n",
		"/run/issuer":  "https://issuer.example.com\n",
		"/run/corpid":  "\n",
		"/run/domains": "example.com\n",
	}
	readFile := func(path string) ([]byte, error) {
		if s, ok := files[path]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	issuerCheck := func(c *Config) error {
		if c.Providers[0].IssuerURL != "" {
			return errors.New(c.Providers[0].Prefix + "ISSUER_URL: not this preset's issuer")
		}
		return nil
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"CA without PEM", with(minimal(), "PORTCULLIS_REDIS_URL", "rediss://redis:6379", "PORTCULLIS_REDIS_CA_FILE", "/run/ca"),
			[]string{"PORTCULLIS_REDIS_CA_FILE: no PEM certificate found"}},
		{"duration that does not parse", with(minimal(), "PORTCULLIS_COOKIE_EXPIRE_FILE", "/run/expire"),
			[]string{`PORTCULLIS_COOKIE_EXPIRE_FILE: not a duration: "soon"`}},
		{"provider URL", with(minimal(), "PORTCULLIS_TOKEN_URL", "", "PORTCULLIS_TOKEN_URL_FILE", "/run/token"),
			[]string{"PORTCULLIS_TOKEN_URL_FILE: "}},
		{"cookie secret", with(minimal(), "PORTCULLIS_COOKIE_SECRET", "", "PORTCULLIS_COOKIE_SECRET_FILE", "/run/secret"),
			[]string{"PORTCULLIS_COOKIE_SECRET_FILE: "}},
		{"a check's problem", with(minimal(), "PORTCULLIS_ISSUER_URL_FILE", "/run/issuer"),
			[]string{"PORTCULLIS_ISSUER_URL_FILE: not this preset's issuer"}},
		{"set directly, the base name", with(minimal(), "PORTCULLIS_ISSUER_URL", "https://issuer.example.com"),
			[]string{"PORTCULLIS_ISSUER_URL: not this preset's issuer"}},
		{"another variable's problem keeps its name", with(minimal(), "PORTCULLIS_ALLOWED_EMAIL_DOMAINS_FILE", "/run/domains", "PORTCULLIS_COOKIE_EXPIRE", "soon"),
			[]string{`PORTCULLIS_COOKIE_EXPIRE: not a duration: "soon"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(getenv(tt.env), readFile, issuerCheck)
			got := lines(err)
			ok := len(got) == len(tt.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tt.want[i])
			}
			if !ok {
				t.Errorf("Load() error lines:\n%s\nwant (beginnings):\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestProviderIDsCollidingWithGlobals: an id that would make one of its
// provider variables (or their _FILE twins) the name of a global variable
// (or its twin) is refused, naming PORTCULLIS_PROVIDERS: with id upstream,
// PORTCULLIS_UPSTREAM_CLIENT_KEY_FILE would be both the provider's
// CLIENT_KEY_FILE and the global UPSTREAM_CLIENT_KEY's twin.
func TestProviderIDsCollidingWithGlobals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ids  string
		want []string
	}{
		{"upstream", []string{`PORTCULLIS_PROVIDERS: "upstream" can't be a provider id: PORTCULLIS_UPSTREAM_CLIENT_KEY_FILE would be both its CLIENT_KEY_FILE and the _FILE twin of PORTCULLIS_UPSTREAM_CLIENT_KEY`}},
		{"google,upstream", []string{`PORTCULLIS_PROVIDERS: "upstream" can't be a provider id: PORTCULLIS_UPSTREAM_CLIENT_KEY_FILE would be both its CLIENT_KEY_FILE and the _FILE twin of PORTCULLIS_UPSTREAM_CLIENT_KEY`}},
		{"google,upstreams", nil},
	}
	for _, tt := range tests {
		t.Run(tt.ids, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"PORTCULLIS_COOKIE_SECRET": rawSecret, "PORTCULLIS_PROVIDERS": tt.ids}
			for _, id := range strings.Split(tt.ids, ",") {
				p := "PORTCULLIS_" + strings.ToUpper(id) + "_"
				env[p+"PROVIDER"], env[p+"CLIENT_ID"], env[p+"CLIENT_SECRET"] = "google", "id", "secret"
			}
			_, err := Load(getenv(env))
			if got := lines(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
