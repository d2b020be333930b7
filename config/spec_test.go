package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The variables the SPEC names for issues 14 to 17 ("Upstreams, headers
// and listeners", "Provider trust and client authentication", "Sessions
// that can be ended", "Single-page apps"), by their exact names: each is
// read, with the SPEC's own example values, into its field, and unset
// each has the SPEC's default. Outside tests use these names: a renamed
// env tag fails here.

func TestSpecVariablesRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	emails := writeFile(t, dir, "emails", "# team\nann@example.com\n\nbob@example.com\n")
	redisPassword := writeFile(t, dir, "redis-password", "data-pw\n")
	sentinelPassword := writeFile(t, dir, "sentinel-password", "sentinel-pw\n")
	redisCA := writeFile(t, dir, "redis-ca.pem", testCAPEM)
	basicPassword := writeFile(t, dir, "basic", "legacy\n")
	env := with(minimal(),
		"PORTCULLIS_UPSTREAM", "/api/=http://api:8080/v1/,/=unix:///run/app.sock,/site/=file:///srv/site/,/gone=static://410",
		"PORTCULLIS_INJECT_HEADERS", "Remote-User=user,X-WEBAUTH-USER=email,Authorization=bearer:id_token",
		"PORTCULLIS_AUTH_RESPONSE_HEADERS", "X-Id=id,X-Basic=basic:username,X-Fixed=literal:yes",
		"PORTCULLIS_IDENTITY_HEADERS", "off",
		"PORTCULLIS_BASIC_AUTH_PASSWORD_FILE", basicPassword,
		"PORTCULLIS_TLS_CERT_FILE", "/etc/tls/tls.crt",
		"PORTCULLIS_TLS_KEY_FILE", "/etc/tls/tls.key",
		"PORTCULLIS_TLS_MIN_VERSION", "1.3",
		"PORTCULLIS_LISTEN", "unix:/run/portcullis.sock",
		"PORTCULLIS_PROXY_PREFIX", "/sso",
		"PORTCULLIS_PING_PATH", "/healthz",
		"PORTCULLIS_READY_PATH", "off",
		"PORTCULLIS_TEMPLATES_DIR", "/etc/portcullis/templates",
		"PORTCULLIS_SIGN_IN_BANNER", "Staff only",
		"PORTCULLIS_SIGN_IN_FOOTER", "Help: ext. 42",
		"PORTCULLIS_ALLOWED_EMAILS_FILE", emails,

		"PORTCULLIS_PROVIDER_CA_FILE", "/etc/idp/ca.pem",
		"PORTCULLIS_PROVIDER_CERT_FILE", "/etc/idp/client.pem",
		"PORTCULLIS_PROVIDER_KEY_FILE", "/etc/idp/client.key",
		"PORTCULLIS_TOKEN_AUTH_STYLE", "private_key_jwt",
		"PORTCULLIS_CLIENT_SECRET", "",
		"PORTCULLIS_CLIENT_KEY_FILE", "/etc/idp/jwt.key",
		"PORTCULLIS_CLIENT_KEY_ID", "key-1",
		"PORTCULLIS_RESPONSE_MODE", "form_post",
		"PORTCULLIS_AUTH_PASSTHROUGH_PARAMS", "login_hint,prompt,kc_idp_hint,domain_hint,ui_locales",
		"PORTCULLIS_LOGOUT_REDIRECT_URL", "none",

		"PORTCULLIS_SESSION_STORE", "redis",
		"PORTCULLIS_REDIS_SENTINEL_ADDRS", "10.0.0.1:26379,10.0.0.2:26379",
		"PORTCULLIS_REDIS_SENTINEL_MASTER", "mymaster",
		"PORTCULLIS_REDIS_USERNAME", "portcullis",
		"PORTCULLIS_REDIS_PASSWORD_FILE", redisPassword,
		"PORTCULLIS_REDIS_SENTINEL_PASSWORD_FILE", sentinelPassword,
		"PORTCULLIS_REDIS_CA_FILE", redisCA,
		"PORTCULLIS_REDIS_TLS", "true",

		"PORTCULLIS_SESSION_IDLE_TIMEOUT", "30m",
		"PORTCULLIS_EXPOSE_ACCESS_TOKEN", "true",
	)
	c := mustLoad(t, env)
	p := c.Providers[0]
	routes := make([]string, len(c.Upstream))
	for i, r := range c.Upstream {
		routes[i] = r.String()
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"PORTCULLIS_UPSTREAM", routes, []string{"/api/=http://api:8080/v1/", "/=unix:///run/app.sock", "/site/=file:///srv/site/", "/gone=static://410"}},
		{"PORTCULLIS_INJECT_HEADERS", c.InjectHeaders, []HeaderRule{{"Remote-User", "user"}, {"X-WEBAUTH-USER", "email"}, {"Authorization", "bearer:id_token"}}},
		{"PORTCULLIS_AUTH_RESPONSE_HEADERS", c.AuthResponseHeaders, []HeaderRule{{"X-Id", "id"}, {"X-Basic", "basic:username"}, {"X-Fixed", "literal:yes"}}},
		{"PORTCULLIS_IDENTITY_HEADERS", c.IdentityHeaders, "off"},
		{"PORTCULLIS_BASIC_AUTH_PASSWORD_FILE", c.BasicAuthPassword, "legacy"},
		{"PORTCULLIS_TLS_CERT_FILE", c.TLSCertFile, "/etc/tls/tls.crt"},
		{"PORTCULLIS_TLS_KEY_FILE", c.TLSKeyFile, "/etc/tls/tls.key"},
		{"PORTCULLIS_TLS_MIN_VERSION", c.TLSMinVersion, "1.3"},
		{"PORTCULLIS_LISTEN", c.Listen, "unix:/run/portcullis.sock"},
		{"PORTCULLIS_PROXY_PREFIX", c.ProxyPrefix, "/sso"},
		{"PORTCULLIS_PING_PATH", c.PingPath, "/healthz"},
		{"PORTCULLIS_READY_PATH", c.ReadyPath, "off"},
		{"PORTCULLIS_TEMPLATES_DIR", c.TemplatesDir, "/etc/portcullis/templates"},
		{"PORTCULLIS_SIGN_IN_BANNER", c.SignInBanner, "Staff only"},
		{"PORTCULLIS_SIGN_IN_FOOTER", c.SignInFooter, "Help: ext. 42"},
		{"PORTCULLIS_ALLOWED_EMAILS_FILE", c.AllowedEmails, []string{"ann@example.com", "bob@example.com"}},
		{"PORTCULLIS_ALLOWED_EMAILS_FILE (its path)", c.AllowedEmailsFile, emails},

		{"PORTCULLIS_PROVIDER_CA_FILE", p.ProviderCAFile, "/etc/idp/ca.pem"},
		{"PORTCULLIS_PROVIDER_CERT_FILE", p.ProviderCertFile, "/etc/idp/client.pem"},
		{"PORTCULLIS_PROVIDER_KEY_FILE", p.ProviderKeyFile, "/etc/idp/client.key"},
		{"PORTCULLIS_TOKEN_AUTH_STYLE", p.TokenAuthStyle, "private_key_jwt"},
		{"PORTCULLIS_CLIENT_KEY_FILE", p.ClientKeyFile, "/etc/idp/jwt.key"},
		{"PORTCULLIS_CLIENT_KEY_ID", p.ClientKeyID, "key-1"},
		{"PORTCULLIS_RESPONSE_MODE", p.ResponseMode, "form_post"},
		{"PORTCULLIS_AUTH_PASSTHROUGH_PARAMS", p.AuthPassthroughParams, []string{"login_hint", "prompt", "kc_idp_hint", "domain_hint", "ui_locales"}},
		{"PORTCULLIS_LOGOUT_REDIRECT_URL", p.LogoutRedirectURL, "none"},

		{"PORTCULLIS_REDIS_SENTINEL_ADDRS", c.RedisSentinelAddrs, []string{"10.0.0.1:26379", "10.0.0.2:26379"}},
		{"PORTCULLIS_REDIS_SENTINEL_MASTER", c.RedisSentinelMaster, "mymaster"},
		{"PORTCULLIS_REDIS_USERNAME", c.RedisUsername, "portcullis"},
		{"PORTCULLIS_REDIS_PASSWORD_FILE", c.RedisPassword, "data-pw"},
		{"PORTCULLIS_REDIS_SENTINEL_PASSWORD_FILE", c.RedisSentinelPassword, "sentinel-pw"},
		{"PORTCULLIS_REDIS_CA_FILE", c.RedisCA, strings.TrimSuffix(testCAPEM, "\n")}, // a file's last line break is not part of the value
		{"PORTCULLIS_REDIS_TLS", c.RedisTLS, true},

		{"PORTCULLIS_SESSION_IDLE_TIMEOUT", c.SessionIdleTimeout, 30 * time.Minute},
		{"PORTCULLIS_EXPOSE_ACCESS_TOKEN", c.ExposeAccessToken, true},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %#v; want %#v", tt.name, tt.got, tt.want)
		}
	}

	// The other topologies, and the apple preset's own setting, with
	// several providers (PORTCULLIS_<ID>_…).
	c = mustLoad(t, with(minimal(),
		"PORTCULLIS_REDIS_CLUSTER_ADDRS", "redis-0:6379,redis-1:6379",
		"PORTCULLIS_PROVIDERS", "corp,apple",
		"PORTCULLIS_CORP_PROVIDER", "oauth2", "PORTCULLIS_CORP_CLIENT_ID", "c",
		"PORTCULLIS_CORP_TOKEN_AUTH_STYLE", "client_assertion", "PORTCULLIS_CORP_CLIENT_ASSERTION_FILE", "/var/run/secrets/tokens/idp",
		"PORTCULLIS_CORP_AUTH_URL", "https://idp.example.com/a", "PORTCULLIS_CORP_TOKEN_URL", "https://idp.example.com/t",
		"PORTCULLIS_CORP_USERINFO_URL", "https://idp.example.com/u",
		"PORTCULLIS_APPLE_PROVIDER", "apple", "PORTCULLIS_APPLE_CLIENT_ID", "com.example.web",
		"PORTCULLIS_APPLE_CLIENT_KEY_FILE", "/etc/apple/AuthKey.p8", "PORTCULLIS_APPLE_CLIENT_KEY_ID", "ABC123DEFG",
		"PORTCULLIS_APPLE_APPLE_TEAM_ID", "TEAM123456",
	))
	if got, want := c.RedisClusterAddrs, []string{"redis-0:6379", "redis-1:6379"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PORTCULLIS_REDIS_CLUSTER_ADDRS: got %q; want %q", got, want)
	}
	corp, apple := c.Providers[0], c.Providers[1]
	if corp.TokenAuthStyle != "client_assertion" || corp.ClientAssertionFile != "/var/run/secrets/tokens/idp" {
		t.Errorf("PORTCULLIS_CORP_TOKEN_AUTH_STYLE, _CLIENT_ASSERTION_FILE: got %q, %q", corp.TokenAuthStyle, corp.ClientAssertionFile)
	}
	if apple.Preset != "apple" || apple.AppleTeamID != "TEAM123456" || apple.ClientKeyID != "ABC123DEFG" {
		t.Errorf("PORTCULLIS_APPLE_PROVIDER, _APPLE_TEAM_ID, _CLIENT_KEY_ID: got %q, %q, %q", apple.Preset, apple.AppleTeamID, apple.ClientKeyID)
	}
}

func TestSpecDefaultsOfNewVariables(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, minimal())
	p := c.Providers[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"PORTCULLIS_INJECT_HEADERS", c.InjectHeaders, []HeaderRule(nil)},
		{"PORTCULLIS_AUTH_RESPONSE_HEADERS", c.AuthResponseHeaders, []HeaderRule(nil)},
		{"PORTCULLIS_IDENTITY_HEADERS", c.IdentityHeaders, "on"},
		{"PORTCULLIS_TEMPLATES_DIR", c.TemplatesDir, ""},
		{"PORTCULLIS_SIGN_IN_BANNER", c.SignInBanner, ""},
		{"PORTCULLIS_SIGN_IN_FOOTER", c.SignInFooter, ""},
		{"PORTCULLIS_ALLOWED_EMAILS_FILE", c.AllowedEmailsFile, ""},
		{"PORTCULLIS_SESSION_IDLE_TIMEOUT", c.SessionIdleTimeout, time.Duration(0)},
		{"PORTCULLIS_EXPOSE_ACCESS_TOKEN", c.ExposeAccessToken, false},
		{"PORTCULLIS_REDIS_TLS", c.RedisTLS, false},
		{"PROVIDER_CA_FILE", p.ProviderCAFile, ""},
		{"RESPONSE_MODE", p.ResponseMode, ""},
		{"AUTH_PASSTHROUGH_PARAMS", p.AuthPassthroughParams, []string(nil)},
		{"LOGOUT_REDIRECT_URL", p.LogoutRedirectURL, ""}, // rd, else PUBLIC_URL/
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v; want %#v", tt.name, tt.got, tt.want)
		}
	}
}
