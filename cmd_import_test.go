package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/testpki"
)

// importRun runs `portcullis import-oauth2-proxy args…` with env as the
// environment.
func importRun(t testing.TB, args []string, env map[string]string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"import-oauth2-proxy"}, args...), envMap(env), &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeTOML writes an oauth2-proxy configuration file and returns its path.
func writeTOML(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "oauth2-proxy.cfg")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sourceEnv has a POSIX shell read stdout as an env file (set -a; . FILE)
// and returns the PORTCULLIS_* variables it then exports.
func sourceEnv(t *testing.T, stdout string) map[string]string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "portcullis.env")
	if err := os.WriteFile(file, []byte(stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `set -a; . "$1"; env -0`, "sh", file)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Dir = filepath.Dir(file)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh could not read the output as an env file: %v\n%s", err, stdout)
	}
	if _, err := os.Stat(filepath.Join(cmd.Dir, "pwned")); err == nil {
		t.Fatalf("sourcing the output ran a command:\n%s", stdout)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "PORTCULLIS_") {
			env[k] = v
		}
	}
	return env
}

var envLine = regexp.MustCompile(`^PORTCULLIS_[A-Z0-9_]+=`)

// parseOutput reads the NAME=value lines without a shell, for the table
// tests: a value is quoted only when it must be, so this checks the lines'
// shape and leaves the quoting to TestImportShellQuoting.
func parseOutput(t *testing.T, stdout string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		if !envLine.MatchString(line) {
			t.Fatalf("stdout line %q is not PORTCULLIS_NAME=value", line)
		}
		k, v, _ := strings.Cut(line, "=")
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), `'\''`, "'")
		}
		m[k] = v
	}
	return m
}

func TestImportOptions(t *testing.T) {
	t.Parallel()
	const secret = "mDELEo6UmsOiXLgrkOCk0-QqirDnWD30ZQNBN_dPYeg="
	tests := []struct {
		name     string
		toml     string            // the file's content, if any
		flags    []string          // after --
		env      map[string]string // OAUTH2_PROXY_* variables
		want     map[string]string // variables that must be printed ("" : must not be)
		wantCode int
		notes    []string // substrings of stderr, in order of lines
	}{
		{name: "defaults carried as oauth2-proxy behaves", toml: `email_domains = ["*"]
redirect_url = "https://app.example.com/oauth2/callback"`,
			want: map[string]string{"PROVIDER": "google", "LISTEN": "127.0.0.1:4180", "METRICS_LISTEN": "off", "PUBLIC_URL": "https://app.example.com",
				"REDIRECT_URL": "", "UPSTREAM": "", "UPSTREAM_TIMEOUT": "", "COOKIE_NAME": "", "ALLOWED_EMAIL_DOMAINS": ""}},
		{name: "provider oidc", flags: []string{"--provider=oidc", "--oidc-issuer-url", "https://sso.example.com", "--client-id=c", "--client-secret=s", "--provider-display-name=Corp SSO", "--scope=openid email groups"},
			want: map[string]string{"PROVIDER": "oidc", "ISSUER_URL": "https://sso.example.com", "CLIENT_ID": "c", "CLIENT_SECRET": "s", "DISPLAY_NAME": "Corp SSO", "SCOPES": "openid email groups"}, wantCode: 3},
		{name: "client secret file", flags: []string{"--client-secret-file=/run/secrets/client"}, want: map[string]string{"CLIENT_SECRET_FILE": "/run/secrets/client", "CLIENT_SECRET": ""}, wantCode: 3},
		{name: "azure tenant", flags: []string{"--provider=azure", "--azure-tenant=contoso.onmicrosoft.com"}, want: map[string]string{"PROVIDER": "microsoft", "TENANT": "contoso.onmicrosoft.com"}, wantCode: 3},
		{name: "entra tenant from the issuer", flags: []string{"--provider=entra-id", "--oidc-issuer-url=https://login.microsoftonline.com/2b8a1d6e-3c4f-4a5b-9c8d-7e6f5a4b3c2d/v2.0"},
			want: map[string]string{"PROVIDER": "microsoft", "TENANT": "2b8a1d6e-3c4f-4a5b-9c8d-7e6f5a4b3c2d", "ISSUER_URL": ""}, wantCode: 3},
		{name: "entra federated token", flags: []string{"--provider=entra-id", "--entra-id-federated-token-auth"}, env: map[string]string{"AZURE_FEDERATED_TOKEN_FILE": "/var/run/token"},
			want: map[string]string{"TOKEN_AUTH_STYLE": "client_assertion", "CLIENT_ASSERTION_FILE": "/var/run/token"}, wantCode: 3},
		{name: "entra allowed tenants widen", flags: []string{"--provider=entra-id", "--entra-id-allowed-tenant=a,b"}, wantCode: 3, notes: []string{"--entra-id-allowed-tenant: Portcullis admits the accounts of every tenant", "admits users that oauth2-proxy refused"}},
		{name: "keycloak legacy realm URL", flags: []string{"--provider=keycloak", "--login-url=https://kc.example.com/auth/realms/r/protocol/openid-connect/auth", "--redeem-url=https://kc.example.com/auth/realms/r/protocol/openid-connect/token", "--keycloak-group=/ops"},
			want: map[string]string{"PROVIDER": "keycloak", "ISSUER_URL": "https://kc.example.com/auth/realms/r", "AUTH_URL": "", "TOKEN_URL": "", "ALLOWED_GROUPS": "/ops"}, wantCode: 3},
		{name: "explicit endpoints", flags: []string{"--provider=oidc", "--login-url=https://a/auth", "--redeem-url=https://a/token", "--profile-url=https://a/me"},
			want: map[string]string{"AUTH_URL": "https://a/auth", "TOKEN_URL": "https://a/token", "USERINFO_URL": "https://a/me"}, wantCode: 3},
		{name: "skip oidc discovery", flags: []string{"--provider=oidc", "--skip-oidc-discovery", "--oidc-jwks-url=https://a/jwks"}, wantCode: 3, notes: []string{"--skip-oidc-discovery: Portcullis always reads"}},
		{name: "github enterprise", flags: []string{"--provider=github", "--validate-url=https://ghe.example.com/api/v3/", "--github-org=acme"},
			want: map[string]string{"USERINFO_URL": "https://ghe.example.com/api/v3/user", "ALLOWED_GROUPS": "acme", "SCOPES": "read:user user:email read:org"}, wantCode: 3},
		{name: "github team without org widens", flags: []string{"--provider=github", "--github-team=sre"}, wantCode: 3, notes: []string{"--github-team: Portcullis names teams org:team", "admits users that oauth2-proxy refused"}},
		{name: "github users alone widen", flags: []string{"--provider=github", "--github-user=alice,bob"}, wantCode: 3, notes: []string{"--github-user: Portcullis cannot admit users by GitHub login", "admits users that oauth2-proxy refused"}},
		{name: "github users beside org narrow", flags: []string{"--provider=github", "--github-org=acme", "--github-user=alice"}, wantCode: 3, notes: []string{"they are refused unless another rule admits them"}},
		{name: "github org and allowed groups both hold", flags: []string{"--provider=github", "--github-org=acme", "--allowed-group=acme:admins", "--skip-auth-regex=^/health$"},
			want: map[string]string{"ALLOWED_GROUPS": "acme:admins", "ROUTE_1": "* ^/health$ public", "ROUTE_2": "* ^/ allowed_groups=acme", "SKIP_AUTH_ROUTES": ""}, wantCode: 3},
		{name: "gitlab groups", flags: []string{"--provider=gitlab", "--oidc-issuer-url=https://gitlab.example.com", "--gitlab-group=acme/platform", "--gitlab-group=acme/sre"},
			want: map[string]string{"PROVIDER": "gitlab", "ISSUER_URL": "https://gitlab.example.com", "ALLOWED_GROUPS": "acme/platform,acme/sre"}, wantCode: 3},
		{name: "keycloak roles widen", flags: []string{"--provider=keycloak-oidc", "--allowed-role=admin"}, wantCode: 3, notes: []string{"--allowed-role: Portcullis reads groups from the userinfo answer", "admits users that oauth2-proxy refused"}},
		{name: "unknown provider", flags: []string{"--provider=frobnicator"}, want: map[string]string{"PROVIDER": "oauth2"}, wantCode: 3, notes: []string{`--provider: provider type "frobnicator" has no Portcullis preset`}},
		{name: "prompt and acr values", flags: []string{"--prompt=login", "--acr-values=urn:mace:incommon:iap:silver"},
			want: map[string]string{"AUTH_PARAMS": "acr_values=urn%3Amace%3Aincommon%3Aiap%3Asilver&prompt=login"}, wantCode: 3},
		{name: "approval prompt", flags: []string{"--approval-prompt=auto"}, want: map[string]string{"AUTH_PARAMS": "approval_prompt=auto"}, wantCode: 3},
		{name: "pkce plain", flags: []string{"--code-challenge-method=plain"}, wantCode: 3, notes: []string{`--code-challenge-method: Portcullis sends PKCE with S256 only`}},
		{name: "form post", flags: []string{"--auth-request-response-mode=form_post"}, want: map[string]string{"RESPONSE_MODE": "form_post"}, wantCode: 3},
		{name: "claims", flags: []string{"--oidc-email-claim=mail", "--oidc-groups-claim=roles", "--insecure-oidc-allow-unverified-email"},
			want: map[string]string{"CLAIM_EMAIL": "mail", "CLAIM_GROUPS": "roles", "ALLOW_UNVERIFIED_EMAIL": "true"}, wantCode: 3},
		{name: "provider CA", flags: []string{"--provider-ca-file=/etc/ca.pem", "--use-system-trust-store"}, want: map[string]string{"PROVIDER_CA_FILE": "/etc/ca.pem"}, wantCode: 3},
		{name: "provider CA without system roots", flags: []string{"--provider-ca-file=/etc/ca.pem"}, want: map[string]string{"PROVIDER_CA_FILE": "/etc/ca.pem"}, wantCode: 3, notes: []string{"--provider-ca-file: Portcullis trusts PORTCULLIS_PROVIDER_CA_FILE besides the system's roots"}},
		{name: "login.gov key file", flags: []string{"--provider=login.gov", "--jwt-key-file=/etc/key.pem"}, want: map[string]string{"PROVIDER": "oidc", "TOKEN_AUTH_STYLE": "private_key_jwt", "CLIENT_KEY_FILE": "/etc/key.pem"}, wantCode: 3},

		{name: "upstreams with paths", flags: []string{"--upstream=http://app:8080/", "--upstream=http://api:9000/api/,file:///srv/www/#/static/", "--upstream=unix:///run/x.sock"},
			want: map[string]string{"UPSTREAM": "/=http://app:8080,/api/=http://api:9000,/static/=file:///srv/www/,/=unix:///run/x.sock", "UPSTREAM_TIMEOUT": "30s"}, wantCode: 3},
		{name: "static upstream", toml: `upstreams = "static://202"`, want: map[string]string{"UPSTREAM": "static://202", "UPSTREAM_TIMEOUT": ""}, wantCode: 3},
		{name: "exact upstream path", flags: []string{"--upstream=http://app:8080/exact"}, want: map[string]string{"UPSTREAM": "/exact=http://app:8080"}, wantCode: 3, notes: []string{"Portcullis routes are path prefixes"}},
		{name: "upstream settings", flags: []string{"--upstream=https://app", "--upstream-timeout=1m30s", "--ssl-upstream-insecure-skip-verify", "--flush-interval=5s", "--pass-host-header=false", "--proxy-websockets=false"},
			want: map[string]string{"UPSTREAM": "https://app", "UPSTREAM_TIMEOUT": "1m30s", "UPSTREAM_INSECURE_SKIP_VERIFY": "true"}, wantCode: 3,
			notes: []string{"--flush-interval:", "--pass-host-header: Portcullis always passes", "--proxy-websockets: Portcullis always proxies WebSockets"}},

		{name: "https", flags: []string{"--https-address=:8443", "--tls-cert-file=/c", "--tls-key-file=/k", "--tls-min-version=TLS1.3", "--tls-cipher-suite=TLS_AES_128_GCM_SHA256"},
			want: map[string]string{"LISTEN": ":8443", "TLS_CERT_FILE": "/c", "TLS_KEY_FILE": "/k", "TLS_MIN_VERSION": "1.3"}, wantCode: 3, notes: []string{"--tls-cipher-suite: Portcullis uses Go's default cipher suites"}},
		{name: "unix listener", flags: []string{"--http-address=unix:///run/o2p.sock"}, want: map[string]string{"LISTEN": "unix:/run/o2p.sock"}, wantCode: 3},
		{name: "http:// listener and metrics", flags: []string{"--http-address=http://0.0.0.0:4180", "--metrics-address=:9100"}, want: map[string]string{"LISTEN": "0.0.0.0:4180", "METRICS_LISTEN": ":9100"}, wantCode: 3},

		{name: "cookies", flags: []string{"--cookie-name=_sso", "--cookie-secret=" + secret, "--cookie-domain=.example.com", "--cookie-path=/app", "--cookie-secure=false", "--cookie-samesite=Strict", "--cookie-expire=24h"},
			want: map[string]string{"COOKIE_NAME": "_sso", "COOKIE_SECRET": secret, "COOKIE_DOMAIN": ".example.com", "COOKIE_PATH": "/app", "COOKIE_SECURE": "false", "COOKIE_SAMESITE": "strict", "COOKIE_EXPIRE": "24h"}, wantCode: 3},
		{name: "cookie secret of 32 characters", flags: []string{"--cookie-secret=abcdefghijklmnopqrstuvwxyz012345"}, want: map[string]string{"COOKIE_SECRET": "abcdefghijklmnopqrstuvwxyz012345"}, wantCode: 3},
		{name: "16-byte cookie secret", flags: []string{"--cookie-secret=0123456789abcdef"}, want: map[string]string{"COOKIE_SECRET": ""}, wantCode: 3,
			notes: []string{"--cookie-secret: a 16-byte secret is too short for Portcullis"}},
		{name: "16-byte cookie secret in base64", flags: []string{"--cookie-secret=MDEyMzQ1Njc4OWFiY2RlZg=="}, want: map[string]string{"COOKIE_SECRET": ""}, wantCode: 3,
			notes: []string{"--cookie-secret: a 16-byte secret is too short"}},
		{name: "cookie secret file", flags: []string{"--cookie-secret-file=/run/secrets/cookie"}, want: map[string]string{"COOKIE_SECRET_FILE": "/run/secrets/cookie"}, wantCode: 3},
		{name: "several cookie domains", flags: []string{"--cookie-domain=.a.com,.b.com"}, want: map[string]string{"COOKIE_DOMAIN": ""}, wantCode: 3, notes: []string{"--cookie-domain: Portcullis sets one cookie domain"}},
		{name: "cookie refresh", flags: []string{"--cookie-refresh=1h"}, wantCode: 3, notes: []string{"--cookie-refresh: Portcullis refreshes when the access token expires (PORTCULLIS_VALIDATE_EXTERNAL_TOKEN"}},
		{name: "session cookie", flags: []string{"--cookie-expire=0"}, wantCode: 3, notes: []string{"--cookie-expire: a cookie that lasts while the browser runs"}},

		{name: "redis", flags: []string{"--session-store-type=redis", "--redis-connection-url=rediss://:pw@redis:6380/0", "--redis-ca-path=/etc/redis-ca.pem"},
			want: map[string]string{"SESSION_STORE": "redis", "REDIS_URL": "rediss://:pw@redis:6380/0", "REDIS_CA_FILE": "/etc/redis-ca.pem"}, wantCode: 3},
		{name: "redis sentinel", flags: []string{"--session-store-type=redis", "--redis-use-sentinel", "--redis-sentinel-master-name=m", "--redis-sentinel-connection-urls=redis://s1:26379,redis://s2:26379", "--redis-sentinel-password=sp", "--redis-username=u", "--redis-password=p"},
			want: map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379,s2:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_SENTINEL_PASSWORD": "sp", "REDIS_USERNAME": "u", "REDIS_PASSWORD": "p", "REDIS_URL": ""}, wantCode: 3},
		{name: "redis cluster", flags: []string{"--session-store-type=redis", "--redis-use-cluster", "--redis-cluster-connection-urls=rediss://u:p@c1:6379,rediss://u:p@c2:6379"},
			want: map[string]string{"REDIS_CLUSTER_ADDRS": "c1:6379,c2:6379", "REDIS_USERNAME": "u", "REDIS_PASSWORD": "p", "REDIS_TLS": "true"}, wantCode: 3},
		{name: "redis unused with the cookie store", flags: []string{"--redis-connection-url=redis://r:6379"}, want: map[string]string{"REDIS_URL": "", "SESSION_STORE": ""}, wantCode: 3},

		{name: "email domains", flags: []string{"--email-domain=Example.com", "--email-domain=example.org", "--authenticated-emails-file=/etc/emails"},
			want: map[string]string{"ALLOWED_EMAIL_DOMAINS": "example.com,example.org", "ALLOWED_EMAILS_FILE": "/etc/emails"}, wantCode: 3},
		{name: "any e-mail", flags: []string{"--email-domain=*", "--authenticated-emails-file=/etc/emails"}, want: map[string]string{"ALLOWED_EMAIL_DOMAINS": "", "ALLOWED_EMAILS_FILE": ""}, wantCode: 3},
		{name: "subdomains alone widen", flags: []string{"--email-domain=.example.com"}, want: map[string]string{"ALLOWED_EMAIL_DOMAINS": ""}, wantCode: 3, notes: []string{"cannot admit the subdomains of .example.com", "admits users that oauth2-proxy refused"}},
		{name: "no e-mail rule", flags: []string{"--redirect-url=https://a.example.com/oauth2/callback"}, wantCode: 3, notes: []string{"--email-domain: neither email-domain nor authenticated-emails-file is set"}},
		{name: "skip auth routes", flags: []string{"--skip-auth-route=GET=^/healthz$", "--skip-auth-route=^/public/", "--skip-auth-regex=^/x=y$", "--skip-auth-regex=token=abc", "--skip-auth-route=post=^/hook$", "--skip-auth-route=GET!=^/private", "--skip-auth-preflight"},
			want: map[string]string{"SKIP_AUTH_ROUTES": "^/x=y$,(?:token=abc),GET=^/healthz$,^/public/,POST=^/hook$", "SKIP_AUTH_PREFLIGHT": "true"}, wantCode: 3, notes: []string{`"GET!=^/private": Portcullis cannot skip sign-in for every method`}},
		{name: "skip route with a comma", toml: `skip_auth_routes = ["GET=^/v{1,2}/status$"]`, want: map[string]string{"ROUTE_1": "GET ^/v{1,2}/status$ public", "SKIP_AUTH_ROUTES": ""}, wantCode: 3},
		{name: "skip route that does not compile", toml: `skip_auth_regex = ["^/(unclosed"]`, wantCode: 3, notes: []string{`skip_auth_regex: "^/(unclosed" does not compile`}},
		{name: "trusted ips", flags: []string{"--trusted-ip=10.0.0.0/8"}, wantCode: 3, notes: []string{"--trusted-ip: Portcullis never skips sign-in by client address"}},
		{name: "reverse proxy", flags: []string{"--reverse-proxy", "--trusted-proxy-ip=10.0.0.0/8,192.168.1.1", "--real-client-ip-header=X-Forwarded-For", "--whitelist-domain=*.example.com,app.example.org:8443"},
			want: map[string]string{"TRUST_FORWARDED_HEADERS": "true", "TRUSTED_PROXIES": "10.0.0.0/8,192.168.1.1", "ALLOWED_REDIRECT_DOMAINS": ".example.com,app.example.org:8443"}, wantCode: 3},
		{name: "real client ip header", flags: []string{"--reverse-proxy", "--real-client-ip-header=CF-Connecting-IP"}, wantCode: 3, notes: []string{"--real-client-ip-header: Portcullis takes the client's address from X-Forwarded-For"}},
		{name: "redirect url with prefix", flags: []string{"--proxy-prefix=/sso", "--redirect-url=https://a.example.com/sso/callback", "--ping-path=/healthz", "--ready-path=/readyz"},
			want: map[string]string{"PROXY_PREFIX": "/sso", "PUBLIC_URL": "https://a.example.com", "REDIRECT_URL": "", "PING_PATH": "/healthz", "READY_PATH": "/readyz"}, wantCode: 3},
		{name: "redirect url elsewhere", flags: []string{"--redirect-url=https://auth.example.com/callback"}, want: map[string]string{"PUBLIC_URL": "https://auth.example.com", "REDIRECT_URL": "https://auth.example.com/callback"}, wantCode: 3},
		{name: "no redirect url", flags: []string{"--email-domain=*"}, want: map[string]string{"PUBLIC_URL": ""}, wantCode: 3, notes: []string{"--redirect-url: not set: oauth2-proxy builds the redirect URI from any request's Host"}},

		{name: "headers to the upstream", flags: []string{"--pass-access-token", "--pass-authorization-header", "--prefer-email-to-user"},
			want: map[string]string{"PASS_ACCESS_TOKEN": "true", "INJECT_HEADERS": "Authorization=bearer:id_token", "USER_FROM": "email", "IDENTITY_HEADERS": ""}, wantCode: 3},
		{name: "basic auth", flags: []string{"--basic-auth-password=pw", "--set-basic-auth"},
			want: map[string]string{"INJECT_HEADERS": "Authorization=basic:user", "AUTH_RESPONSE_HEADERS": "Authorization=basic:user", "BASIC_AUTH_PASSWORD": "pw"}, wantCode: 3},
		{name: "no user headers", flags: []string{"--pass-basic-auth=false", "--pass-user-headers=false", "--set-xauthrequest", "--set-authorization-header"},
			want: map[string]string{"IDENTITY_HEADERS": "off", "AUTH_RESPONSE_HEADERS": "X-Auth-Request-User=user,X-Auth-Request-Email=email,X-Auth-Request-Preferred-Username=username,X-Auth-Request-Groups=groups,Authorization=bearer:id_token"}, wantCode: 3},
		{name: "jwt bearer tokens", flags: []string{"--provider=oidc", "--oidc-issuer-url=https://sso.example.com/", "--skip-jwt-bearer-tokens", "--oidc-extra-audience=api", "--extra-jwt-issuers=https://sso.example.com=cli,https://other.example.com=x"},
			want: map[string]string{"BEARER_TOKENS": "true", "BEARER_AUDIENCES": "api,cli"}, wantCode: 3, notes: []string{`--extra-jwt-issuers: "https://other.example.com": Portcullis accepts bearer tokens from its provider's issuer only`}},

		{name: "pages", flags: []string{"--banner=Staff only", "--footer=-", "--custom-sign-in-logo=https://cdn.example.com/logo.svg", "--custom-templates-dir=/etc/templates"},
			want: map[string]string{"SIGN_IN_BANNER": "Staff only", "SIGN_IN_FOOTER": "", "SIGN_IN_LOGO_URL": "https://cdn.example.com/logo.svg"}, wantCode: 3, notes: []string{"--custom-templates-dir: oauth2-proxy's templates use other data"}},
		{name: "html banner", flags: []string{"--banner=<b>Staff</b>"}, want: map[string]string{"SIGN_IN_BANNER": ""}, wantCode: 3, notes: []string{"--banner: holds HTML"}},
		{name: "logo file", flags: []string{"--custom-sign-in-logo=/etc/logo.png"}, want: map[string]string{"SIGN_IN_LOGO_URL": ""}, wantCode: 3, notes: []string{"--custom-sign-in-logo: a file"}},
		{name: "skip provider button", flags: []string{"--skip-provider-button"}, wantCode: 3, notes: []string{"--skip-provider-button: Portcullis has no such setting: with one provider it goes straight to the provider, unless the sign-in page has something to show (PORTCULLIS_SIGN_IN_BANNER, PORTCULLIS_SIGN_IN_FOOTER, a sign_in.html in PORTCULLIS_TEMPLATES_DIR)"}},
		{name: "defaults set explicitly are no loss", toml: `cookie_secure = true
proxy_websockets = true
pass_host_header = true
skip_auth_strip_headers = true
cookie_httponly = true
insecure_oidc_skip_nonce = false
email_domains = ["*"]
redirect_url = "https://a.example.com/oauth2/callback"`, wantCode: 0},
		{name: "logging", toml: `request_logging_format = "{{.Client}}"
logging_filename = "/var/log/o2p.log"`, wantCode: 3, notes: []string{"logging_filename: Portcullis writes structured logs", "request_logging_format: Portcullis writes structured logs"}},
		{name: "unknown toml key", toml: `frobnicate = true`, wantCode: 3, notes: []string{"frobnicate: not an oauth2-proxy option"}},
		{name: "singular environment variable", env: map[string]string{"OAUTH2_PROXY_EMAIL_DOMAIN": "example.com"}, want: map[string]string{"ALLOWED_EMAIL_DOMAINS": ""}, wantCode: 3,
			notes: []string{"OAUTH2_PROXY_EMAIL_DOMAIN: oauth2-proxy ignores this variable (its name is OAUTH2_PROXY_EMAIL_DOMAINS)"}},
		{name: "alpha config", flags: []string{"--alpha-config=/etc/alpha.yaml"}, wantCode: 3, notes: []string{"--alpha-config: the alpha (YAML) configuration is not read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var args []string
			if tt.toml != "" {
				args = append(args, "--config", writeTOML(t, tt.toml))
			}
			if tt.flags != nil {
				args = append(append(args, "--"), tt.flags...)
			}
			code, stdout, stderr := importRun(t, args, tt.env)
			if code != tt.wantCode {
				t.Errorf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			got := parseOutput(t, stdout)
			for k, want := range tt.want {
				if g, ok := got["PORTCULLIS_"+k]; want == "" && ok {
					t.Errorf("PORTCULLIS_%s = %q; want it not printed", k, g)
				} else if want != "" && g != want {
					t.Errorf("PORTCULLIS_%s = %q; want %q", k, g, want)
				}
			}
			for _, n := range tt.notes {
				if !strings.Contains(stderr, n) {
					t.Errorf("stderr lacks %q:\n%s", n, stderr)
				}
			}
			if tt.wantCode == 0 && stderr != "" {
				t.Errorf("stderr = %q; want nothing", stderr)
			}
		})
	}
}

// TestImportPrecedence: flags over the environment over the file, as in
// oauth2-proxy; an empty variable counts as unset; a list flag given twice
// appends.
func TestImportPrecedence(t *testing.T) {
	t.Parallel()
	file := writeTOML(t, `client_id = "from-file"
scope = "from-file"
cookie_name = "from-file"
email_domains = ["file.example"]
upstreams = ["http://file:1/"]`)
	env := map[string]string{
		"OAUTH2_PROXY_CLIENT_ID":     "from-env",
		"OAUTH2_PROXY_SCOPE":         "from-env",
		"OAUTH2_PROXY_COOKIE_NAME":   "", // empty: unset
		"OAUTH2_PROXY_EMAIL_DOMAINS": "env.example,env2.example",
		"OAUTH2_PROXY_UPSTREAMS":     "http://env:1/",
	}
	code, stdout, stderr := importRun(t, []string{"--config", file, "--", "--client-id=from-flag", "--upstream", "http://flag:1/a/", "--upstream=http://flag:2/b/"}, env)
	if code != 3 {
		t.Fatalf("exit %d; want 3\n%s", code, stderr)
	}
	got := parseOutput(t, stdout)
	for k, want := range map[string]string{
		"PORTCULLIS_CLIENT_ID":             "from-flag",
		"PORTCULLIS_SCOPES":                "from-env",
		"PORTCULLIS_COOKIE_NAME":           "from-file",
		"PORTCULLIS_ALLOWED_EMAIL_DOMAINS": "env.example,env2.example",
		"PORTCULLIS_UPSTREAM":              "/a/=http://flag:1,/b/=http://flag:2",
	} {
		if got[k] != want {
			t.Errorf("%s = %q; want %q", k, got[k], want)
		}
	}
}

func TestImportExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badTOML := filepath.Join(dir, "bad.cfg")
	os.WriteFile(badTOML, []byte("client_id = \"unterminated\n"), 0o600)
	wrongType := filepath.Join(dir, "type.cfg")
	os.WriteFile(wrongType, []byte("cookie_secure = \"sometimes\"\nupstreams = { a = 1 }\n"), 0o600)
	complete := filepath.Join(dir, "complete.cfg")
	os.WriteFile(complete, []byte(`provider = "github"
client_id = "id"
client_secret = "secret"
email_domains = ["*"]
redirect_url = "https://a.example.com/oauth2/callback"
`), 0o600)
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		want   int
		stderr []string
	}{
		{"all carried over", []string{"--config", complete}, nil, 0, nil},
		{"something not carried over", []string{"--config", complete, "--", "--cookie-refresh=1h"}, nil, 3, []string{"--cookie-refresh:"}},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.cfg")}, nil, 1, []string{"--config: cannot read", "no such file or directory"}},
		{"file that is not TOML", []string{"--config", badTOML}, nil, 1, []string{"is not valid TOML: line 1"}},
		{"values of the wrong type", []string{"--config", wrongType}, nil, 1, []string{`cookie_secure in ` + wrongType + `: "sometimes" is not true or false`, "upstreams in " + wrongType + ": is a table; want a list"}},
		{"unknown flag", []string{"--", "--frobnicate=1"}, nil, 1, []string{`unknown flag "--frobnicate"`}},
		{"flag without its value", []string{"--", "--client-id"}, nil, 1, []string{`flag "--client-id" needs a value`}},
		{"argument among the flags", []string{"--", "stray"}, nil, 1, []string{`unexpected argument "stray"`}},
		{"bad boolean flag", []string{"--", "--cookie-secure=maybe"}, nil, 1, []string{`--cookie-secure: "maybe" is not true or false`}},
		{"bad duration variable", nil, map[string]string{"OAUTH2_PROXY_COOKIE_EXPIRE": "a week"}, 1, []string{`OAUTH2_PROXY_COOKIE_EXPIRE: "a week" is not a duration`}},
		{"every problem at once", []string{"--", "--cookie-secure=maybe", "--upstream-timeout=soon"}, nil, 1, []string{"--cookie-secure:", "--upstream-timeout:"}},
		{"config among the flags", []string{"--", "--config", complete}, nil, 0, nil},
		{"help", []string{"--help"}, nil, 0, nil},
		{"argument before --", []string{"--client-id=x"}, nil, 2, []string{`unexpected argument "--client-id=x" (oauth2-proxy's flags go after --)`}},
		{"--config without a file", []string{"--config"}, nil, 2, []string{"--config needs a file name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := importRun(t, tt.args, tt.env)
			if code != tt.want {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.want, stdout, stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if code == 1 && stdout != "" {
				t.Errorf("stdout = %q on an unreadable input; want nothing", stdout)
			}
		})
	}
}

// TestImportShellQuoting: whatever a value holds, `set -a; . FILE` gives
// the variable that value, and runs nothing.
func TestImportShellQuoting(t *testing.T) {
	t.Parallel()
	values := []string{
		`plain-value_1.2/3:4@5%6+7=8,9`,
		`it's`, `''`, `'`, `"double" quotes`, `$(touch pwned)`, "`touch pwned`", `${HOME}`, `$HOME`,
		`back\slash\`, `semi;colon`, `a && b || c`, `a | b`, `<in >out`, `#comment`, `~root`, `a:~/b`,
		`*glob?[ab]`, `{a,b}`, "tab\there", "new\nline", "  spaces  ", `!history`, `é unicode ✓`, "",
	}
	for _, v := range values {
		t.Run(strings.ReplaceAll(v, "/", "_"), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := importRun(t, []string{"--", "--client-id=" + v, "--provider-display-name=" + v}, nil)
			if code == 1 {
				t.Fatalf("exit 1: %s", stderr)
			}
			env := sourceEnv(t, stdout)
			if v == "" {
				if _, ok := env["PORTCULLIS_CLIENT_ID"]; ok {
					t.Errorf("an empty client id was printed")
				}
				return
			}
			if got := env["PORTCULLIS_CLIENT_ID"]; got != v {
				t.Errorf("PORTCULLIS_CLIENT_ID = %q after sourcing; want %q\n%s", got, v, stdout)
			}
		})
	}
}

// TestImportKeepsSecretsOffStderr: the notes never quote a secret.
func TestImportKeepsSecretsOffStderr(t *testing.T) {
	t.Parallel()
	secrets := []string{"short-cookie-sec", "client-secret-value", "redis-password-value", "basic-password-value", "github-token-value"}
	code, _, stderr := importRun(t, []string{"--", "--cookie-secret=" + secrets[0], "--client-secret=" + secrets[1],
		"--session-store-type=redis", "--redis-password=" + secrets[2], "--redis-connection-url=redis://:" + secrets[2] + "@r:6379",
		"--basic-auth-password=" + secrets[3], "--set-basic-auth", "--set-authorization-header", "--pass-authorization-header",
		"--provider=github", "--github-repo=acme/app", "--github-token=" + secrets[4], "--redis-insecure-skip-tls-verify"}, nil)
	if code != 3 {
		t.Fatalf("exit %d; want 3\n%s", code, stderr)
	}
	for _, s := range secrets {
		if strings.Contains(stderr, s) {
			t.Errorf("stderr shows the secret %q:\n%s", s, stderr)
		}
	}
}

// knownVars are the variables `portcullis check` prints, so knows.
func knownVars(t *testing.T) map[string]bool {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"check"}, envMap(validEnv()), &out, &errOut); code != 0 {
		t.Fatalf("check of validEnv = %d: %s", code, errOut.String())
	}
	known := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok {
			known[k] = true
		}
	}
	return known
}

// TestImportStartsPortcullis: real-world oauth2-proxy configurations
// (testdata/oauth2-proxy, written after oauth2-proxy's documentation)
// become an env file that a shell reads and `portcullis check` accepts,
// discovery included: the development provider stands in for each
// provider's issuer.
func TestImportStartsPortcullis(t *testing.T) {
	t.Parallel()
	known := knownVars(t)
	tests := []struct {
		file     string
		wantCode int
		issuer   string   // the provider's URL in the file, replaced by the stand-in's; "" : the preset's own
		oidc     bool     // the preset reads discovery
		want     []string // NAME=value lines
		notes    []string
	}{
		{file: "keycloak-oidc.cfg", issuer: "https://keycloak.example.com", oidc: true, want: []string{
			"PORTCULLIS_PROVIDER=keycloak", "PORTCULLIS_ISSUER_URL=https://keycloak.example.com/realms/demo", "PORTCULLIS_ALLOWED_GROUPS=/admins,/developers",
			"PORTCULLIS_SKIP_AUTH_ROUTES='GET=^/healthz$,^/static/'", "PORTCULLIS_TRUST_FORWARDED_HEADERS=true", "PORTCULLIS_DISPLAY_NAME='Example SSO'"}},
		{file: "github.cfg", want: []string{"PORTCULLIS_PROVIDER=github", "PORTCULLIS_ALLOWED_GROUPS=acme:platform,acme:sre", "PORTCULLIS_SCOPES='read:user user:email read:org'", "PORTCULLIS_METRICS_LISTEN=127.0.0.1:9100"}},
		{file: "google.cfg", wantCode: 3, oidc: true,
			want:  []string{"PORTCULLIS_PROVIDER=google", "PORTCULLIS_UPSTREAM=/=http://127.0.0.1:8080,/api/=http://127.0.0.1:9000,/static/=file:///srv/www/static/", "PORTCULLIS_ALLOWED_REDIRECT_DOMAINS=.example.com"},
			notes: []string{"google_groups: Portcullis does not read Google Workspace groups", "skip_provider_button:", "cookie_refresh:", "google_admin_email:", "google_service_account_json:"}},
		{file: "entra-id.cfg", oidc: true, want: []string{"PORTCULLIS_PROVIDER=microsoft", "PORTCULLIS_TENANT=2b8a1d6e-3c4f-4a5b-9c8d-7e6f5a4b3c2d", "PORTCULLIS_INJECT_HEADERS=Authorization=bearer:id_token"}},
		{file: "oidc-sentinel.cfg", issuer: "https://sso.example.com", oidc: true, want: []string{
			"PORTCULLIS_LISTEN=:8443", "PORTCULLIS_TLS_MIN_VERSION=1.3", "PORTCULLIS_PROXY_PREFIX=/auth", "PORTCULLIS_REDIS_SENTINEL_ADDRS=10.0.0.11:26379,10.0.0.12:26379,10.0.0.13:26379",
			"PORTCULLIS_BASIC_AUTH_PASSWORD='legacy app'\\''s shared password'", "PORTCULLIS_INJECT_HEADERS=Authorization=basic:user"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := importRun(t, []string{"--config", filepath.Join("testdata", "oauth2-proxy", tt.file)}, nil)
			if code != tt.wantCode {
				t.Fatalf("exit %d; want %d\nstderr:\n%s", code, tt.wantCode, stderr)
			}
			lines := strings.Split(stdout, "\n")
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("stdout lacks the line %s:\n%s", w, stdout)
				}
			}
			for _, n := range tt.notes {
				if !strings.Contains(stderr, n) {
					t.Errorf("stderr lacks %q:\n%s", n, stderr)
				}
			}
			if got := strings.Count(stderr, "\n"); got != len(tt.notes) {
				t.Errorf("stderr has %d lines; want %d:\n%s", got, len(tt.notes), stderr)
			}

			env := sourceEnv(t, stdout)
			srv := httptest.NewUnstartedServer(nil)
			opts := idp.Options{ClientID: env["PORTCULLIS_CLIENT_ID"], ClientSecret: env["PORTCULLIS_CLIENT_SECRET"], OIDC: true}
			base := "http://" + srv.Listener.Addr().String()
			if tt.issuer != "" {
				opts.Issuer = strings.Replace(env["PORTCULLIS_ISSUER_URL"], tt.issuer, base, 1)
				env["PORTCULLIS_ISSUER_URL"] = opts.Issuer
			} else if tt.oidc {
				opts.Issuer = base
				env["PORTCULLIS_ISSUER_URL"] = base // the stand-in for the preset's issuer
			}
			srv.Config.Handler = idp.New(opts)
			srv.Start()
			t.Cleanup(srv.Close)

			// The listeners are not opened by check; pick free ones anyway.
			env["PORTCULLIS_LISTEN"], env["PORTCULLIS_METRICS_LISTEN"] = "127.0.0.1:0", "127.0.0.1:0"
			// check reads the files the configuration names: put real ones
			// where the operator's would be.
			if _, ok := env["PORTCULLIS_TLS_CERT_FILE"]; ok {
				pki := testpki.New(t)
				env["PORTCULLIS_TLS_CERT_FILE"], env["PORTCULLIS_TLS_KEY_FILE"] = pki.CertFile, pki.KeyFile
			}
			env["PORTCULLIS_UPSTREAM"] = strings.ReplaceAll(env["PORTCULLIS_UPSTREAM"], "file:///srv/www/static/", "file://"+t.TempDir()+"/")
			for k := range env {
				if !known[k] && !known[strings.TrimSuffix(k, "_FILE")] {
					t.Errorf("%s is not a variable portcullis check knows", k)
				}
			}
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"check"}, envMap(env), &out, &errOut); code != 0 {
				t.Fatalf("portcullis check refused the output (%d):\n%s%s\nenv: %v", code, out.String(), errOut.String(), env)
			}
		})
	}
}

// FuzzImportFlags: any command line gives an exit status of 0, 1 or 3,
// well-formed NAME=value lines, and no panic.
func FuzzImportFlags(f *testing.F) {
	f.Add("--upstream=http://a/b/,static://200 --skip-auth-route=GET=^/x --email-domain=.a.com --cookie-secret=x")
	f.Add("--provider=github --github-org=o --github-team=a,b --allowed-group=g --skip-auth-regex=^/a{1,2}$")
	f.Add("--redirect-url=https://h/oauth2/callback --banner=<b> --http-address=unix:///s")
	f.Fuzz(func(t *testing.T, line string) {
		code, stdout, _ := importRun(t, append([]string{"--"}, strings.Fields(line)...), nil)
		if code != 0 && code != 1 && code != 3 {
			t.Fatalf("exit %d", code)
		}
		for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
			if l != "" && !envLine.MatchString(l) {
				t.Fatalf("stdout line %q is not PORTCULLIS_NAME=value", l)
			}
		}
	})
}
