package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/portcullis/portcullis/config"
)

const importUsage = `Usage: portcullis import-oauth2-proxy [--config FILE] [-- FLAGS…]

Reads an oauth2-proxy configuration: its TOML file (--config), its
command-line flags (after --) and the OAUTH2_PROXY_* environment, with
oauth2-proxy's precedence (flags, then environment, then the file). Prints
the equivalent PORTCULLIS_* variables on stdout, one NAME=value a line,
quoted for a POSIX shell:

  portcullis import-oauth2-proxy --config /etc/oauth2-proxy.cfg > portcullis.env
  set -a; . ./portcullis.env; set +a; portcullis check

and on stderr one line for each setting that could not be carried over,
saying why.

Exit status: 0 everything carried over, 3 something was not (read stderr
before serving), 1 an input could not be read (missing file, bad TOML,
unknown flag, bad value), 2 usage error.
`

// Exit statuses of import-oauth2-proxy besides 0 (all carried over), 1
// (unreadable input) and 2 (usage).
const importIncomplete = 3

// importCommand is `portcullis import-oauth2-proxy`.
func importCommand(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portcullis import-oauth2-proxy: "+format+"\n\n%s", append(a, importUsage)...)
		return 2
	}
	var file string
	var flags []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			flags = args[i+1:]
			i = len(args)
		case a == "-h" || a == "-help" || a == "--help":
			fmt.Fprint(stdout, importUsage)
			return 0
		case a == "--config" || a == "-config":
			if i+1 >= len(args) {
				return usageError("%s needs a file name", a)
			}
			i++
			file = args[i]
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			_, file, _ = strings.Cut(a, "=")
		default:
			return usageError("unexpected argument %q (oauth2-proxy's flags go after --)", a)
		}
	}

	cfg, errs := readOAuth2Proxy(file, flags, getenv, os.ReadFile)
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(stderr, "portcullis import-oauth2-proxy: %v\n", err)
		}
		return 1
	}
	out, notes := translate(cfg, getenv)
	for _, name := range slices.Sorted(maps.Keys(out)) {
		fmt.Fprintf(stdout, "%s=%s\n", name, shellQuote(out[name]))
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, n)
	}
	if len(notes) > 0 {
		return importIncomplete
	}
	return 0
}

// shellQuote writes v so that a POSIX shell reads it back unchanged in an
// assignment: as it is when it holds only characters no shell treats
// specially there, else between single quotes, each single quote in it
// written as quote, backslash, quote, quote (close, escaped quote, reopen).
func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// An o2pKind is the type of an oauth2-proxy option.
type o2pKind int

const (
	kString o2pKind = iota
	kBool
	kList
	kDuration
	kInt
)

// An o2pOption is one option of oauth2-proxy's legacy (TOML, flags and
// environment) configuration, as its pkg/apis/options declares it: the
// flag, the TOML key (the environment variable is OAUTH2_PROXY_ and the
// key in upper case), its type and its default.
type o2pOption struct {
	flag, key string
	kind      o2pKind
	def       string
}

func (o *o2pOption) env() string { return "OAUTH2_PROXY_" + strings.ToUpper(o.key) }

// o2pOptions are oauth2-proxy's options (v7.x, legacy configuration).
// google-group has two keys, google_group (deprecated) and google_groups.
var o2pOptions = []o2pOption{
	{"acr-values", "acr_values", kString, ""},
	{"allow-query-semicolons", "allow_query_semicolons", kBool, "false"},
	{"allowed-group", "allowed_groups", kList, ""},
	{"allowed-role", "allowed_roles", kList, ""},
	{"api-route", "api_routes", kList, ""},
	{"approval-prompt", "approval_prompt", kString, "force"},
	{"auth-logging-format", "auth_logging_format", kString, ""},
	{"auth-logging", "auth_logging", kBool, "true"},
	{"auth-request-response-mode", "auth_request_response_mode", kString, ""},
	{"authenticated-emails-file", "authenticated_emails_file", kString, ""},
	{"azure-graph-group-field", "azure_graph_group_field", kString, ""},
	{"azure-tenant", "azure_tenant", kString, "common"},
	{"backend-logout-url", "backend_logout_url", kString, ""},
	{"banner", "banner", kString, ""},
	{"basic-auth-password", "basic_auth_password", kString, ""},
	{"bearer-token-login-fallback", "bearer_token_login_fallback", kBool, "true"},
	{"bitbucket-repository", "bitbucket_repository", kString, ""},
	{"bitbucket-team", "bitbucket_team", kString, ""},
	{"client-id", "client_id", kString, ""},
	{"client-secret-file", "client_secret_file", kString, ""},
	{"client-secret", "client_secret", kString, ""},
	{"code-challenge-method", "code_challenge_method", kString, ""},
	{"cookie-csrf-expire", "cookie_csrf_expire", kDuration, "15m"},
	{"cookie-csrf-per-request-limit", "cookie_csrf_per_request_limit", kInt, "0"},
	{"cookie-csrf-per-request", "cookie_csrf_per_request", kBool, "false"},
	{"cookie-csrf-samesite", "cookie_csrf_samesite", kString, ""},
	{"cookie-domain", "cookie_domains", kList, ""},
	{"cookie-expire", "cookie_expire", kDuration, "168h"},
	{"cookie-httponly", "cookie_httponly", kBool, "true"},
	{"cookie-name", "cookie_name", kString, "_oauth2_proxy"},
	{"cookie-path", "cookie_path", kString, "/"},
	{"cookie-refresh", "cookie_refresh", kDuration, "0s"},
	{"cookie-samesite", "cookie_samesite", kString, ""},
	{"cookie-secret-file", "cookie_secret_file", kString, ""},
	{"cookie-secret", "cookie_secret", kString, ""},
	{"cookie-secure", "cookie_secure", kBool, "true"},
	{"custom-sign-in-logo", "custom_sign_in_logo", kString, ""},
	{"custom-templates-dir", "custom_templates_dir", kString, ""},
	{"disable-keep-alives", "disable_keep_alives", kBool, "false"},
	{"display-htpasswd-form", "display_htpasswd_form", kBool, "true"},
	{"email-domain", "email_domains", kList, ""},
	{"encode-state", "encode_state", kBool, "false"},
	{"entra-id-allowed-tenant", "entra_id_allowed_tenants", kList, ""},
	{"entra-id-federated-token-auth", "entra_id_federated_token_auth", kBool, "false"},
	{"errors-to-info-log", "errors_to_info_log", kBool, "false"},
	{"exclude-logging-path", "exclude_logging_paths", kList, ""},
	{"extra-jwt-issuers", "extra_jwt_issuers", kList, ""},
	{"flush-interval", "flush_interval", kDuration, "1s"},
	{"footer", "footer", kString, ""},
	{"force-code-challenge-method", "force_code_challenge_method", kString, ""},
	{"force-https", "force_https", kBool, "false"},
	{"force-json-errors", "force_json_errors", kBool, "false"},
	{"gcp-healthchecks", "gcp_healthchecks", kBool, "false"},
	{"github-org", "github_org", kString, ""},
	{"github-repo", "github_repo", kString, ""},
	{"github-team", "github_team", kString, ""},
	{"github-token", "github_token", kString, ""},
	{"github-user", "github_users", kList, ""},
	{"gitlab-group", "gitlab_groups", kList, ""},
	{"gitlab-project", "gitlab_projects", kList, ""},
	{"google-admin-api-user-scope", "google_admin_api_user_scope", kString, ""},
	{"google-admin-email", "google_admin_email", kString, ""},
	{"google-group", "google_group", kList, ""},
	{"google-group", "google_groups", kList, ""},
	{"google-service-account-json", "google_service_account_json", kString, ""},
	{"google-target-principal", "google_target_principal", kString, ""},
	{"google-use-application-default-credentials", "google_use_application_default_credentials", kBool, "false"},
	{"google-use-organization-id", "google_use_organization_id", kBool, "false"},
	{"htpasswd-file", "htpasswd_file", kString, ""},
	{"htpasswd-user-group", "htpasswd_user_groups", kList, ""},
	{"http-address", "http_address", kString, "127.0.0.1:4180"},
	{"https-address", "https_address", kString, ":443"},
	{"insecure-oidc-allow-unverified-email", "insecure_oidc_allow_unverified_email", kBool, "false"},
	{"insecure-oidc-skip-issuer-verification", "insecure_oidc_skip_issuer_verification", kBool, "false"},
	{"insecure-oidc-skip-nonce", "insecure_oidc_skip_nonce", kBool, "true"},
	{"jwt-key-file", "jwt_key_file", kString, ""},
	{"jwt-key", "jwt_key", kString, ""},
	{"keycloak-group", "keycloak_groups", kList, ""},
	{"logging-compress", "logging_compress", kBool, "false"},
	{"logging-filename", "logging_filename", kString, ""},
	{"logging-local-time", "logging_local_time", kBool, "true"},
	{"logging-max-age", "logging_max_age", kInt, "7"},
	{"logging-max-backups", "logging_max_backups", kInt, "0"},
	{"logging-max-size", "logging_max_size", kInt, "100"},
	{"login-url", "login_url", kString, ""},
	{"metrics-address", "metrics_address", kString, ""},
	{"metrics-secure-address", "metrics_secure_address", kString, ""},
	{"metrics-tls-cert-file", "metrics_tls_cert_file", kString, ""},
	{"metrics-tls-key-file", "metrics_tls_key_file", kString, ""},
	{"oidc-audience-claim", "oidc_audience_claims", kList, "aud"},
	{"oidc-email-claim", "oidc_email_claim", kString, "email"},
	{"oidc-enabled-signing-alg", "oidc_enabled_signing_algs", kList, ""},
	{"oidc-extra-audience", "oidc_extra_audiences", kList, ""},
	{"oidc-groups-claim", "oidc_groups_claim", kString, "groups"},
	{"oidc-issuer-url", "oidc_issuer_url", kString, ""},
	{"oidc-jwks-url", "oidc_jwks_url", kString, ""},
	{"oidc-public-key-file", "oidc_public_key_files", kList, ""},
	{"pass-access-token", "pass_access_token", kBool, "false"},
	{"pass-authorization-header", "pass_authorization_header", kBool, "false"},
	{"pass-basic-auth", "pass_basic_auth", kBool, "true"},
	{"pass-host-header", "pass_host_header", kBool, "true"},
	{"pass-user-headers", "pass_user_headers", kBool, "true"},
	{"ping-path", "ping_path", kString, "/ping"},
	{"ping-user-agent", "ping_user_agent", kString, ""},
	{"prefer-email-to-user", "prefer_email_to_user", kBool, "false"},
	{"profile-url", "profile_url", kString, ""},
	{"prompt", "prompt", kString, ""},
	{"provider-ca-file", "provider_ca_files", kList, ""},
	{"provider-display-name", "provider_display_name", kString, ""},
	{"provider", "provider", kString, "google"},
	{"proxy-prefix", "proxy_prefix", kString, "/oauth2"},
	{"proxy-websockets", "proxy_websockets", kBool, "true"},
	{"pubjwk-url", "pubjwk_url", kString, ""},
	{"ready-path", "ready_path", kString, "/ready"},
	{"real-client-ip-header", "real_client_ip_header", kString, "X-Real-IP"},
	{"redeem-url", "redeem_url", kString, ""},
	{"redirect-url", "redirect_url", kString, ""},
	{"redis-ca-path", "redis_ca_path", kString, ""},
	{"redis-cluster-connection-urls", "redis_cluster_connection_urls", kList, ""},
	{"redis-connection-idle-timeout", "redis_connection_idle_timeout", kInt, "0"},
	{"redis-connection-url", "redis_connection_url", kString, ""},
	{"redis-insecure-skip-tls-verify", "redis_insecure_skip_tls_verify", kBool, "false"},
	{"redis-password", "redis_password", kString, ""},
	{"redis-sentinel-connection-urls", "redis_sentinel_connection_urls", kList, ""},
	{"redis-sentinel-master-name", "redis_sentinel_master_name", kString, ""},
	{"redis-sentinel-password", "redis_sentinel_password", kString, ""},
	{"redis-use-cluster", "redis_use_cluster", kBool, "false"},
	{"redis-use-sentinel", "redis_use_sentinel", kBool, "false"},
	{"redis-username", "redis_username", kString, ""},
	{"relative-redirect-url", "relative_redirect_url", kBool, "false"},
	{"request-id-header", "request_id_header", kString, "X-Request-Id"},
	{"request-logging-format", "request_logging_format", kString, ""},
	{"request-logging", "request_logging", kBool, "true"},
	{"resource", "resource", kString, ""},
	{"reverse-proxy", "reverse_proxy", kBool, "false"},
	{"scope", "scope", kString, ""},
	{"session-cookie-minimal", "session_cookie_minimal", kBool, "false"},
	{"session-store-type", "session_store_type", kString, "cookie"},
	{"set-authorization-header", "set_authorization_header", kBool, "false"},
	{"set-basic-auth", "set_basic_auth", kBool, "false"},
	{"set-xauthrequest", "set_xauthrequest", kBool, "false"},
	{"show-debug-on-error", "show_debug_on_error", kBool, "false"},
	{"signature-key", "signature_key", kString, ""},
	{"silence-ping-logging", "silence_ping_logging", kBool, "false"},
	{"skip-auth-preflight", "skip_auth_preflight", kBool, "false"},
	{"skip-auth-regex", "skip_auth_regex", kList, ""},
	{"skip-auth-route", "skip_auth_routes", kList, ""},
	{"skip-auth-strip-headers", "skip_auth_strip_headers", kBool, "true"},
	{"skip-claims-from-profile-url", "skip_claims_from_profile_url", kBool, "false"},
	{"skip-jwt-bearer-tokens", "skip_jwt_bearer_tokens", kBool, "false"},
	{"skip-oidc-discovery", "skip_oidc_discovery", kBool, "false"},
	{"skip-provider-button", "skip_provider_button", kBool, "false"},
	{"ssl-insecure-skip-verify", "ssl_insecure_skip_verify", kBool, "false"},
	{"ssl-upstream-insecure-skip-verify", "ssl_upstream_insecure_skip_verify", kBool, "false"},
	{"standard-logging-format", "standard_logging_format", kString, ""},
	{"standard-logging", "standard_logging", kBool, "true"},
	{"tls-cert-file", "tls_cert_file", kString, ""},
	{"tls-cipher-suite", "tls_cipher_suites", kList, ""},
	{"tls-key-file", "tls_key_file", kString, ""},
	{"tls-min-version", "tls_min_version", kString, ""},
	{"trusted-ip", "trusted_ips", kList, ""},
	{"trusted-proxy-ip", "trusted_proxy_ips", kList, ""},
	{"upstream-timeout", "upstream_timeout", kDuration, "30s"},
	{"upstream", "upstreams", kList, ""},
	{"use-system-trust-store", "use_system_trust_store", kBool, "false"},
	{"user-id-claim", "user_id_claim", kString, "email"},
	{"validate-url", "validate_url", kString, ""},
	{"whitelist-domain", "whitelist_domains", kList, ""},
}

// An o2pValue is an option's effective value, and how it was set.
type o2pValue struct {
	opt  *o2pOption
	from string // as the user wrote it: --flag, OAUTH2_PROXY_NAME or the TOML key
	set  bool   // given in the file, the environment or a flag; else the default
	str  string
	b    bool
	list []string
	d    time.Duration
	n    int64
}

// String writes the value the way a flag would take it.
func (v *o2pValue) String() string {
	switch v.opt.kind {
	case kBool:
		return strconv.FormatBool(v.b)
	case kList:
		return strings.Join(v.list, ",")
	case kDuration:
		return config.FormatDuration(v.d)
	case kInt:
		return strconv.FormatInt(v.n, 10)
	}
	return v.str
}

// changed reports whether the option was set to something other than
// oauth2-proxy's default.
func (v *o2pValue) changed() bool {
	if !v.set {
		return false
	}
	def := o2pValue{opt: v.opt}
	def.parse(v.opt.def) // the defaults parse
	return v.String() != def.String()
}

// parse reads s into v by v's kind, as a flag or an environment variable
// (lists: comma-separated).
func (v *o2pValue) parse(s string) error {
	switch v.opt.kind {
	case kString:
		v.str = s
	case kBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.b = b
	case kList:
		v.list = nil
		if s != "" {
			v.list = strings.Split(s, ",")
		}
	case kDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 168h or 30s", s)
		}
		v.d = d
	case kInt:
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.n = n
	}
	return nil
}

// parseTOML reads a value of the TOML file into v, converting between
// types as oauth2-proxy's decoder does (a string for a list is a comma
// list; a number for a duration is nanoseconds).
func (v *o2pValue) parseTOML(x any) error {
	scalar := func(x any) (string, bool) {
		switch t := x.(type) {
		case string:
			return t, true
		case int64:
			return strconv.FormatInt(t, 10), true
		case float64:
			return strconv.FormatFloat(t, 'f', -1, 64), true
		case bool:
			return strconv.FormatBool(t), true
		}
		return "", false
	}
	switch t := x.(type) {
	case []any:
		if v.opt.kind != kList {
			return errors.New("is a list; want a single value")
		}
		v.list = nil
		for _, e := range t {
			s, ok := scalar(e)
			if !ok {
				return fmt.Errorf("holds a %T; want strings", e)
			}
			v.list = append(v.list, s)
		}
		return nil
	case bool:
		if v.opt.kind == kBool {
			v.b = t
			return nil
		}
	case int64:
		switch v.opt.kind {
		case kDuration:
			v.d = time.Duration(t)
			return nil
		case kBool:
			v.b = t != 0
			return nil
		}
	}
	s, ok := scalar(x)
	if !ok {
		return fmt.Errorf("is a %s; want a %s", tomlType(x), kindName(v.opt.kind))
	}
	return v.parse(s)
}

func tomlType(x any) string {
	switch x.(type) {
	case map[string]any:
		return "table"
	case []map[string]any:
		return "list of tables"
	}
	return fmt.Sprintf("%T", x)
}

func kindName(k o2pKind) string {
	return [...]string{"string", "boolean", "list", "duration", "number"}[k]
}

// An o2pConfig is an oauth2-proxy configuration, read.
type o2pConfig struct {
	vals  map[string]*o2pValue // by TOML key
	notes []string             // what reading found that is not carried over
}

// get returns the option with this TOML key (which must exist).
func (c *o2pConfig) get(key string) *o2pValue {
	v, ok := c.vals[key]
	if !ok {
		panic("import-oauth2-proxy: no option " + key)
	}
	return v
}

// readOAuth2Proxy reads the TOML file (if named), the environment and the
// flags, later ones overriding earlier ones, into one configuration. Its
// errors are every input it could not read.
func readOAuth2Proxy(file string, flags []string, getenv func(string) string, readFile func(string) ([]byte, error)) (*o2pConfig, []error) {
	c := &o2pConfig{vals: map[string]*o2pValue{}}
	byKey := map[string]*o2pOption{}
	byFlag := map[string][]*o2pOption{}
	for i := range o2pOptions {
		o := &o2pOptions[i]
		v := &o2pValue{opt: o, from: "--" + o.flag}
		v.parse(o.def)
		c.vals[o.key] = v
		byKey[o.key] = o
		byFlag[o.flag] = append(byFlag[o.flag], o)
	}

	// Flags first, to learn a --config among them; applied last.
	type flagValue struct {
		name, value string
	}
	var given []flagValue
	var errs []error
	for i := 0; i < len(flags); i++ {
		a := flags[i]
		if a == "--" {
			if i+1 < len(flags) {
				errs = append(errs, fmt.Errorf("unexpected argument %q: oauth2-proxy takes no arguments", flags[i+1]))
			}
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			errs = append(errs, fmt.Errorf("unexpected argument %q: oauth2-proxy takes no arguments", a))
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		isBool := false
		switch name {
		case "config", "alpha-config":
		case "version", "config-test", "convert-config-to-alpha":
			isBool = true
		default:
			opts, ok := byFlag[name]
			if !ok {
				errs = append(errs, fmt.Errorf("unknown flag %q: oauth2-proxy has no such flag", "--"+name))
				if !hasValue && i+1 < len(flags) && !strings.HasPrefix(flags[i+1], "-") {
					i++ // most likely its value
				}
				continue
			}
			isBool = opts[0].kind == kBool
		}
		if !hasValue {
			if isBool {
				value = "true"
			} else if i+1 < len(flags) {
				i++
				value = flags[i]
			} else {
				errs = append(errs, fmt.Errorf("flag %q needs a value", "--"+name))
				continue
			}
		}
		switch name {
		case "config":
			if file != "" && file != value {
				errs = append(errs, fmt.Errorf("two configuration files: %q and, after --, %q", file, value))
			}
			file = value
		case "alpha-config":
			c.notes = append(c.notes, "--alpha-config: the alpha (YAML) configuration is not read: its upstreams, headers, providers and server settings are not carried over; convert them by hand (README, Moving from oauth2-proxy)")
		case "version", "config-test", "convert-config-to-alpha":
			// oauth2-proxy's modes, not settings.
		default:
			given = append(given, flagValue{name, value})
		}
	}

	if file != "" {
		errs = append(errs, c.readTOML(file, byKey, readFile)...)
	}

	for i := range o2pOptions {
		o := &o2pOptions[i]
		s := getenv(o.env())
		if s == "" { // oauth2-proxy (viper) ignores empty variables
			continue
		}
		v := c.vals[o.key]
		if err := v.parse(s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", o.env(), err))
			continue
		}
		v.set, v.from = true, o.env()
	}
	// A list's variable is named after its plural TOML key; the flag's
	// spelling (OAUTH2_PROXY_EMAIL_DOMAIN) is a common slip that
	// oauth2-proxy ignores silently.
	for i := range o2pOptions {
		o := &o2pOptions[i]
		name := "OAUTH2_PROXY_" + strings.ToUpper(strings.ReplaceAll(o.flag, "-", "_"))
		if _, isKey := byKey[strings.ToLower(strings.TrimPrefix(name, "OAUTH2_PROXY_"))]; isKey || getenv(name) == "" {
			continue
		}
		c.notes = append(c.notes, fmt.Sprintf("%s: oauth2-proxy ignores this variable (its name is %s), so it is not carried over either", name, o.env()))
	}

	lists := map[string]bool{} // a list flag given again appends
	for _, f := range given {
		for _, o := range byFlag[f.name] {
			v := c.vals[o.key]
			if o.kind == kList {
				items, err := csv.NewReader(strings.NewReader(f.value)).Read()
				if err != nil && !errors.Is(err, io.EOF) {
					errs = append(errs, fmt.Errorf("--%s: %q is not a comma list: %v", f.name, f.value, err))
					continue
				}
				if !lists[o.key] {
					v.list = nil
				}
				lists[o.key] = true
				v.list = append(v.list, items...)
			} else if err := v.parse(f.value); err != nil {
				errs = append(errs, fmt.Errorf("--%s: %v", f.name, err))
				continue
			}
			v.set, v.from = true, "--"+f.name
		}
	}
	return c, errs
}

// readTOML reads oauth2-proxy's TOML configuration file into c.
func (c *o2pConfig) readTOML(file string, byKey map[string]*o2pOption, readFile func(string) ([]byte, error)) []error {
	b, err := readFile(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return []error{fmt.Errorf("--config: cannot read %q: %v", file, err)}
	}
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return []error{fmt.Errorf("--config: %s is not valid TOML: line %d: %s", file, pe.Position.Line, pe.Message)}
		}
		return []error{fmt.Errorf("--config: %s is not valid TOML: %v", file, err)}
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key := strings.ToLower(k) // as viper reads it
		o, ok := byKey[key]
		if !ok {
			c.notes = append(c.notes, fmt.Sprintf("%s: not an oauth2-proxy option (oauth2-proxy refuses to start with it): not carried over", k))
			continue
		}
		v := c.vals[o.key]
		if err := v.parseTOML(m[k]); err != nil {
			errs = append(errs, fmt.Errorf("%s in %s: %v", k, file, err))
			continue
		}
		v.set, v.from = true, k
	}
	return errs
}

// A translation turns an oauth2-proxy configuration into Portcullis's
// variables, noting what it cannot carry over.
type translation struct {
	c     *o2pConfig
	out   map[string]string // PORTCULLIS_… variable → value
	notes []string
	used  map[string]bool // TOML keys translate has looked at
	allOf []string        // groups a user must also have one of (github-org/team beside allowed-group)
}

// v returns the option with this TOML key and marks it as handled.
func (t *translation) v(key string) *o2pValue {
	t.used[key] = true
	return t.c.get(key)
}

func (t *translation) emit(name, value string) { t.out["PORTCULLIS_"+name] = value }

// note says why v could not be carried over.
func (t *translation) note(v *o2pValue, format string, a ...any) {
	t.notes = append(t.notes, v.from+": "+fmt.Sprintf(format, a...))
}

// widens is what a note adds when leaving a rule out lets more people in.
const widens = "; without it Portcullis admits users that oauth2-proxy refused, so restrict access with PORTCULLIS_ALLOWED_EMAILS, _ALLOWED_EMAIL_DOMAINS or _ALLOWED_GROUPS before serving"

// translate maps c onto PORTCULLIS_* variables. Its notes are one line for
// each setting that could not be carried over, saying why.
func translate(c *o2pConfig, getenv func(string) string) (map[string]string, []string) {
	t := &translation{c: c, out: map[string]string{}, notes: slices.Clone(c.notes), used: map[string]bool{}}
	t.provider(getenv)
	t.redirect()
	t.upstreams()
	t.listeners()
	t.cookies()
	t.sessions()
	t.access()
	t.skipAuth()
	t.headers()
	t.pages()
	for _, ne := range o2pNoEquivalent {
		v := t.v(ne.key)
		if v.changed() && !slices.Contains(ne.same, v.String()) {
			t.note(v, "%s", ne.why)
		}
	}
	for _, o := range o2pOptions {
		if v := c.vals[o.key]; !t.used[o.key] && v.changed() {
			t.note(v, "Portcullis has no equivalent; not carried over")
		}
	}
	for name, value := range t.out {
		if strings.ContainsRune(value, 0) {
			delete(t.out, name)
			t.notes = append(t.notes, name+": its value holds a NUL byte, which no shell variable can; not carried over")
		}
	}
	return t.out, t.notes
}

// o2pPresets maps oauth2-proxy's provider types onto Portcullis presets.
var o2pPresets = map[string]string{
	"google": "google", "github": "github", "gitlab": "gitlab", "facebook": "facebook",
	"linkedin": "linkedin", "oidc": "oidc", "keycloak-oidc": "keycloak", "keycloak": "keycloak",
	"azure": "microsoft", "entra-id": "microsoft", "bitbucket": "bitbucket",
	"adfs": "oidc", "cidaas": "oidc", "login.gov": "oidc",
	"digitalocean": "oauth2", "nextcloud": "oauth2", "sourcehut": "oauth2",
}

// o2pOIDC are the Portcullis presets that read ISSUER_URL.
var o2pOIDC = []string{"oidc", "keycloak", "gitlab", "google", "linkedin", "microsoft"}

var microsoftIssuer = regexp.MustCompile(`^https://(?:login\.microsoftonline\.com/([^/]+)/v2\.0|sts\.windows\.net/([^/]+))/?$`)

// provider maps the provider settings.
func (t *translation) provider(getenv func(string) string) {
	typ := t.v("provider")
	preset, ok := o2pPresets[typ.str]
	if !ok {
		t.note(typ, "provider type %q has no Portcullis preset; configure PORTCULLIS_PROVIDER=oauth2 with AUTH_URL, TOKEN_URL, USERINFO_URL and CLAIM_* by hand", typ.str)
		preset = "oauth2"
	}
	switch typ.str {
	case "adfs", "cidaas":
		t.note(typ, "carried over as the generic oidc preset; oauth2-proxy's %s extras (%s) are not", typ.str,
			map[string]string{"adfs": "the upn claim as the e-mail address", "cidaas": "groups and roles from its own claims"}[typ.str])
	case "digitalocean", "nextcloud", "sourcehut":
		t.note(typ, "Portcullis has no %s preset: carried over as the generic oauth2 preset; check AUTH_URL, TOKEN_URL, USERINFO_URL and set CLAIM_ID, CLAIM_EMAIL (dot paths into its userinfo answer) by hand", typ.str)
	}
	t.emit("PROVIDER", preset)
	if v := t.v("client_id"); v.str != "" {
		t.emit("CLIENT_ID", v.str)
	}
	if v := t.v("client_secret"); v.str != "" {
		t.emit("CLIENT_SECRET", v.str)
		t.v("client_secret_file") // oauth2-proxy uses client_secret when both are set
	} else if v := t.v("client_secret_file"); v.str != "" {
		t.emit("CLIENT_SECRET_FILE", v.str)
	}
	if v := t.v("provider_display_name"); v.str != "" {
		t.emit("DISPLAY_NAME", v.str)
	}

	// Endpoints.
	issuer := t.v("oidc_issuer_url")
	login, redeem, profile, validate := t.v("login_url"), t.v("redeem_url"), t.v("profile_url"), t.v("validate_url")
	switch {
	case preset == "microsoft":
		tenant := t.v("azure_tenant").str
		if m := microsoftIssuer.FindStringSubmatch(issuer.str); m != nil {
			tenant = m[1] + m[2]
		} else if issuer.str != "" {
			t.emit("ISSUER_URL", issuer.str)
		}
		if tenant != "" && tenant != "common" {
			t.emit("TENANT", tenant)
		}
	case typ.str == "keycloak" && issuer.str == "":
		// The legacy keycloak provider names the realm's endpoints; its
		// realm URL is Portcullis's issuer.
		if iss, ok := strings.CutSuffix(login.str, "/protocol/openid-connect/auth"); ok && iss != "" {
			t.emit("ISSUER_URL", iss)
			for _, v := range []*o2pValue{redeem, profile, validate} {
				if v.str != "" && !strings.HasPrefix(v.str, iss+"/protocol/openid-connect/") {
					t.note(v, "not under the realm %s: not carried over (Portcullis finds the realm's endpoints by discovery)", iss)
				}
			}
			login, redeem, profile, validate = &o2pValue{}, &o2pValue{}, &o2pValue{}, &o2pValue{}
		}
	case slices.Contains(o2pOIDC, preset):
		if issuer.str != "" && !(preset == "google" && strings.TrimSuffix(issuer.str, "/") == "https://accounts.google.com") {
			t.emit("ISSUER_URL", issuer.str)
		}
	case issuer.str != "":
		t.note(issuer, "%s is not an OpenID provider in Portcullis; not carried over", typ.str)
	}
	if login.str != "" {
		t.emit("AUTH_URL", login.str)
	}
	if redeem.str != "" {
		t.emit("TOKEN_URL", redeem.str)
	}
	if profile.str != "" {
		t.emit("USERINFO_URL", profile.str)
	}
	if validate.str != "" {
		t.validateURL(validate, preset, profile.str != "")
	}
	if v := t.v("skip_oidc_discovery"); v.b {
		t.v("oidc_jwks_url")
		t.note(v, "Portcullis always reads PORTCULLIS_ISSUER_URL/.well-known/openid-configuration (for the provider's keys: oidc-jwks-url has no equivalent); the explicit endpoint URLs carried over win over it")
	}

	// Scopes and authorization parameters.
	if v := t.v("scope"); v.str != "" {
		if preset == "linkedin" && strings.Contains(v.str, "r_liteprofile") {
			t.note(v, "%q asks for LinkedIn's retired profile API; the linkedin preset uses OpenID Connect (openid profile email): not carried over", v.str)
		} else {
			t.emit("SCOPES", v.str)
		}
	} else if preset == "github" && (t.c.get("github_org").str != "" || t.c.get("github_team").str != "") {
		t.emit("SCOPES", "read:user user:email read:org") // oauth2-proxy asks for read:org by default
	}
	params := url.Values{}
	if v := t.v("prompt"); v.str != "" {
		params.Set("prompt", v.str)
		t.v("approval_prompt")
	} else if v := t.v("approval_prompt"); v.changed() && v.str != "" {
		params.Set("approval_prompt", v.str)
	}
	if v := t.v("acr_values"); v.str != "" {
		params.Set("acr_values", v.str)
	}
	if len(params) > 0 {
		t.emit("AUTH_PARAMS", params.Encode())
	}
	if v := t.v("auth_request_response_mode"); v.str != "" && v.str != "query" {
		if v.str == "form_post" {
			t.emit("RESPONSE_MODE", "form_post")
		} else {
			t.note(v, "Portcullis takes the code in the query or, with PORTCULLIS_RESPONSE_MODE=form_post, in a POST; not %q", v.str)
		}
	}
	method := t.v("code_challenge_method")
	if force := t.v("force_code_challenge_method"); method.str == "" {
		method = force
	}
	if method.str != "" && !strings.EqualFold(method.str, "S256") {
		t.note(method, "Portcullis sends PKCE with S256 only (PORTCULLIS_PKCE), never %q", method.str)
	}

	// Claims.
	email := t.v("oidc_email_claim")
	if legacy := t.v("user_id_claim"); !email.changed() && legacy.changed() {
		email = legacy // the deprecated name for oidc_email_claim
	}
	if email.changed() {
		t.emit("CLAIM_EMAIL", email.str)
	}
	if v := t.v("oidc_groups_claim"); v.changed() {
		t.emit("CLAIM_GROUPS", v.str)
	}
	if v := t.v("insecure_oidc_allow_unverified_email"); v.b {
		t.emit("ALLOW_UNVERIFIED_EMAIL", "true")
	}

	// Client authentication and trust.
	if v := t.v("entra_id_federated_token_auth"); v.b {
		t.emit("TOKEN_AUTH_STYLE", "client_assertion")
		t.emit("CLIENT_ASSERTION_FILE", cmp.Or(getenv("AZURE_FEDERATED_TOKEN_FILE"), "/var/run/secrets/azure/tokens/azure-identity-token"))
	}
	if v := t.v("jwt_key_file"); v.str != "" {
		t.emit("TOKEN_AUTH_STYLE", "private_key_jwt")
		t.emit("CLIENT_KEY_FILE", v.str)
	} else if v := t.v("jwt_key"); v.str != "" {
		t.note(v, "Portcullis reads the private_key_jwt key from a file: write it to one and set PORTCULLIS_TOKEN_AUTH_STYLE=private_key_jwt and PORTCULLIS_CLIENT_KEY_FILE")
	}
	cas, system := t.v("provider_ca_files"), t.v("use_system_trust_store")
	switch len(cas.list) {
	case 0:
	case 1:
		t.emit("PROVIDER_CA_FILE", cas.list[0])
		if !system.b {
			t.note(cas, "Portcullis trusts PORTCULLIS_PROVIDER_CA_FILE besides the system's roots, never instead of them (use-system-trust-store=false)")
		}
	default:
		t.note(cas, "Portcullis takes one CA bundle: concatenate the %d files into one and set PORTCULLIS_PROVIDER_CA_FILE", len(cas.list))
	}
}

// validateURL maps oauth2-proxy's validate URL, which for GitHub is the
// base of its API.
func (t *translation) validateURL(v *o2pValue, preset string, haveProfile bool) {
	if preset != "github" {
		t.note(v, "Portcullis does not poll a token-validation URL: a session lasts as long as its access token, which it refreshes when it expires")
		return
	}
	u, err := url.Parse(v.str)
	if err != nil || u.Host == "" {
		t.note(v, "not a URL; not carried over")
		return
	}
	if u.Host == "api.github.com" || haveProfile {
		return // the preset's own API, or profile-url already says where
	}
	base := u.Path // oauth2-proxy: the /api/vN prefix of the path, else the path
	if m := regexp.MustCompile(`^/api/v\d+`).FindString(u.Path); m != "" {
		base = m
	}
	u.Path, u.RawQuery, u.Fragment = path.Join("/", base, "user"), "", ""
	t.emit("USERINFO_URL", u.String())
}

// redirect maps redirect-url and proxy-prefix.
func (t *translation) redirect() {
	prefix := t.v("proxy_prefix")
	if prefix.changed() {
		t.emit("PROXY_PREFIX", prefix.str)
	}
	r, relative := t.v("redirect_url"), t.v("relative_redirect_url")
	if r.str == "" {
		t.note(r, "not set: oauth2-proxy builds the redirect URI from any request's Host, Portcullis only from a loopback Host or one in PORTCULLIS_ALLOWED_HOSTS; set PORTCULLIS_PUBLIC_URL to the address users type")
		return
	}
	u, err := url.Parse(r.str)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		if relative.b {
			t.note(r, "a relative redirect URI: Portcullis builds it from PORTCULLIS_PUBLIC_URL, or from a loopback Host or one in PORTCULLIS_ALLOWED_HOSTS; set one of them")
		} else {
			t.note(r, "not an absolute http(s) URL; not carried over")
		}
		return
	}
	origin := u.Scheme + "://" + u.Host
	t.emit("PUBLIC_URL", origin)
	if u.Path != prefix.str+"/callback" || u.RawQuery != "" {
		t.emit("REDIRECT_URL", r.str)
	}
}

// upstreams maps upstreams and the upstream transport settings.
func (t *translation) upstreams() {
	ups := t.v("upstreams")
	var routes []string // PATH=URL
	proxied := false
	for _, s := range ups.list {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if err != nil {
			t.note(ups, "%q is not a URL; not carried over", s)
			continue
		}
		var route, target string
		switch u.Scheme {
		case "http", "https":
			route, target = cmp.Or(u.Path, "/"), u.Scheme+"://"+u.Host
			proxied = true
			if !strings.HasSuffix(route, "/") {
				t.note(ups, "%q: oauth2-proxy sends it the path %s alone; Portcullis routes are path prefixes, so the route %s carried over takes %s/… too", s, route, route, route)
			}
		case "file":
			route, target = u.Path, "file://"+u.Path
			if u.Fragment != "" {
				route = u.Fragment
			}
		case "static":
			route, target = "/", "static://"+u.Host
		case "unix":
			route, target = "/", "unix://"+u.Path
			proxied = true
		default:
			t.note(ups, "%q: Portcullis proxies to http, https, unix, file and static upstreams only; not carried over", s)
			continue
		}
		if strings.ContainsAny(route+target, ", ") {
			t.note(ups, "%q holds a comma or a space, which PORTCULLIS_UPSTREAM cannot; not carried over", s)
			continue
		}
		routes = append(routes, route+"="+target)
	}
	switch {
	case len(routes) == 1 && strings.HasPrefix(routes[0], "/="):
		t.emit("UPSTREAM", strings.TrimPrefix(routes[0], "/="))
	case len(routes) > 0:
		t.emit("UPSTREAM", strings.Join(routes, ","))
	}
	if timeout := t.v("upstream_timeout"); proxied {
		t.emit("UPSTREAM_TIMEOUT", config.FormatDuration(timeout.d)) // oauth2-proxy's 30s applies unless set
	}
	if v := t.v("ssl_upstream_insecure_skip_verify"); v.b {
		t.emit("UPSTREAM_INSECURE_SKIP_VERIFY", "true")
	}
}

// listeners maps the HTTP, HTTPS and metrics addresses.
func (t *translation) listeners() {
	http, https := t.v("http_address"), t.v("https_address")
	cert, key := t.v("tls_cert_file"), t.v("tls_key_file")
	minVersion := t.v("tls_min_version")
	if cert.str != "" || key.str != "" {
		// oauth2-proxy then serves HTTPS on https-address only.
		t.emit("LISTEN", trimScheme(https.str, "https://"))
		t.emit("TLS_CERT_FILE", cert.str)
		t.emit("TLS_KEY_FILE", key.str)
		if http.changed() {
			t.note(http, "oauth2-proxy serves no plain HTTP when it has a certificate, and Portcullis one listener: HTTPS on PORTCULLIS_LISTEN")
		}
		switch strings.ToUpper(minVersion.str) {
		case "":
		case "TLS1.2":
			t.emit("TLS_MIN_VERSION", "1.2")
		case "TLS1.3":
			t.emit("TLS_MIN_VERSION", "1.3")
		default:
			t.note(minVersion, "Portcullis takes TLS 1.2 or 1.3 (PORTCULLIS_TLS_MIN_VERSION), not %q", minVersion.str)
		}
	} else {
		addr := trimScheme(http.str, "http://")
		switch {
		case strings.HasPrefix(strings.ToLower(addr), "unix://"):
			t.emit("LISTEN", "unix:"+addr[len("unix://"):])
		case strings.HasPrefix(strings.ToLower(addr), "fd:"):
			t.note(http, "Portcullis does not take a listening socket from systemd (fd:); give it an address")
		default:
			t.emit("LISTEN", addr) // oauth2-proxy's default is loopback only
		}
		if https.changed() {
			t.note(https, "oauth2-proxy serves HTTPS only with tls-cert-file and tls-key-file, which are not set")
		}
	}
	if v := t.v("metrics_address"); v.str != "" {
		t.emit("METRICS_LISTEN", trimScheme(v.str, "http://"))
	} else {
		t.emit("METRICS_LISTEN", "off") // oauth2-proxy serves no metrics unless asked
	}
}

func trimScheme(s, scheme string) string {
	if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
		return s[len(scheme):]
	}
	return s
}

// cookies maps the cookie settings.
func (t *translation) cookies() {
	if v := t.v("cookie_name"); v.changed() {
		t.emit("COOKIE_NAME", v.str)
	}
	secret, file := t.v("cookie_secret"), t.v("cookie_secret_file")
	switch {
	case secret.str != "":
		if why := cookieSecretProblem(secret.str); why != "" {
			t.note(secret, "%s; generate a new one (openssl rand -base64 32) for PORTCULLIS_COOKIE_SECRET: oauth2-proxy's sessions do not carry over anyway", why)
		} else {
			t.emit("COOKIE_SECRET", secret.str)
		}
	case file.str != "":
		t.emit("COOKIE_SECRET_FILE", file.str)
	}
	if d := t.v("cookie_domains"); len(d.list) == 1 {
		t.emit("COOKIE_DOMAIN", d.list[0])
	} else if len(d.list) > 1 {
		t.note(d, "Portcullis sets one cookie domain (PORTCULLIS_COOKIE_DOMAIN), not the longest of %d that matches the request", len(d.list))
	}
	if v := t.v("cookie_path"); v.changed() {
		t.emit("COOKIE_PATH", v.str)
	}
	if v := t.v("cookie_secure"); !v.b {
		t.emit("COOKIE_SECURE", "false")
	}
	if v := t.v("cookie_samesite"); v.str != "" {
		t.emit("COOKIE_SAMESITE", strings.ToLower(v.str))
	}
	if v := t.v("cookie_expire"); v.d <= 0 {
		t.note(v, "a cookie that lasts while the browser runs: Portcullis's sessions always end, after PORTCULLIS_COOKIE_EXPIRE (default 168h) at the latest")
	} else if v.changed() {
		t.emit("COOKIE_EXPIRE", config.FormatDuration(v.d))
	}
}

// cookieSecretProblem says why Portcullis cannot take oauth2-proxy's
// cookie secret s, or returns "". oauth2-proxy takes 16, 24 or 32 bytes
// (raw, or URL-safe base64 of them); Portcullis takes base64 of 32 bytes
// or at least 32 characters, and reads a comma as a list of secrets.
func cookieSecretProblem(s string) string {
	if strings.Contains(s, ",") || strings.TrimSpace(s) != s {
		return "it holds a comma or surrounding spaces, which PORTCULLIS_COOKIE_SECRET reads as a list of secrets"
	}
	if config.CookieSecretOK(s) {
		return ""
	}
	n := len(s)
	if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil && (len(b) == 16 || len(b) == 24) {
		n = len(b) // what oauth2-proxy made of it
	}
	return fmt.Sprintf("a %d-byte secret is too short for Portcullis, which needs base64 of 32 bytes or at least 32 characters", n)
}

// redisAddrs turns oauth2-proxy's redis:// URLs into host:port entries,
// and returns the user, password and TLS they ask for.
func redisAddrs(urls []string) (addrs []string, user, password string, tls bool, err error) {
	for _, s := range urls {
		u, perr := url.Parse(strings.TrimSpace(s))
		if perr != nil || u.Host == "" {
			return nil, "", "", false, errors.New("an entry is not a redis:// URL")
		}
		addrs = append(addrs, u.Host)
		tls = tls || u.Scheme == "rediss"
		if u.User != nil {
			user = u.User.Username()
			password, _ = u.User.Password()
		}
	}
	return addrs, user, password, tls, nil
}

// sessions maps the session store and Redis.
func (t *translation) sessions() {
	store := t.v("session_store_type")
	conn, sentinel, cluster := t.v("redis_connection_url"), t.v("redis_use_sentinel"), t.v("redis_use_cluster")
	sURLs, master, sPass := t.v("redis_sentinel_connection_urls"), t.v("redis_sentinel_master_name"), t.v("redis_sentinel_password")
	cURLs := t.v("redis_cluster_connection_urls")
	user, pass, ca := t.v("redis_username"), t.v("redis_password"), t.v("redis_ca_path")
	switch store.str {
	case "cookie":
		return // the redis options are unused then, by oauth2-proxy too
	case "redis":
	default:
		t.note(store, "Portcullis stores sessions in the cookie or in Redis, not %q", store.str)
		return
	}
	t.emit("SESSION_STORE", "redis")
	var urlUser, urlPass string
	var rediss bool
	switch {
	case sentinel.b:
		addrs, u, p, tls, err := redisAddrs(sURLs.list)
		if err != nil {
			t.note(sURLs, "%v; not carried over", err)
			break
		}
		t.emit("REDIS_SENTINEL_ADDRS", strings.Join(addrs, ","))
		if master.str != "" {
			t.emit("REDIS_SENTINEL_MASTER", master.str)
		}
		if sPass.str != "" {
			t.emit("REDIS_SENTINEL_PASSWORD", sPass.str)
		}
		// As in oauth2-proxy, the URLs' user and password are the data nodes'.
		urlUser, urlPass, rediss = u, p, tls
	case cluster.b:
		addrs, u, p, tls, err := redisAddrs(cURLs.list)
		if err != nil {
			t.note(cURLs, "%v; not carried over", err)
			break
		}
		t.emit("REDIS_CLUSTER_ADDRS", strings.Join(addrs, ","))
		urlUser, urlPass, rediss = u, p, tls
	default:
		if conn.str != "" {
			t.emit("REDIS_URL", conn.str)
		}
	}
	if v := cmp.Or(user.str, urlUser); v != "" {
		t.emit("REDIS_USERNAME", v)
	}
	if v := cmp.Or(pass.str, urlPass); v != "" {
		t.emit("REDIS_PASSWORD", v)
	}
	if rediss {
		t.emit("REDIS_TLS", "true")
	}
	if ca.str != "" {
		t.emit("REDIS_CA_FILE", ca.str)
	}
}

// access maps who may sign in, and the trust in forwarded headers.
func (t *translation) access() {
	typ := t.c.get("provider").str
	domains, file := t.v("email_domains"), t.v("authenticated_emails_file")
	var exact, wild []string
	star := false
	for _, d := range domains.list {
		switch d = strings.TrimSpace(d); {
		case d == "*":
			star = true
		case strings.HasPrefix(d, ".") || strings.HasPrefix(d, "*."):
			wild = append(wild, d)
		case d != "":
			exact = append(exact, strings.ToLower(d))
		}
	}
	switch {
	case star: // every address; Portcullis's empty lists admit everyone
	case len(domains.list) == 0 && file.str == "":
		t.note(domains, "neither email-domain nor authenticated-emails-file is set, so oauth2-proxy would not start; Portcullis admits every user unless PORTCULLIS_ALLOWED_EMAILS, _ALLOWED_EMAIL_DOMAINS or _ALLOWED_GROUPS say otherwise")
	default:
		if len(exact) > 0 {
			t.emit("ALLOWED_EMAIL_DOMAINS", strings.Join(exact, ","))
		}
		if file.str != "" {
			t.emit("ALLOWED_EMAILS_FILE", file.str)
		}
		if len(wild) > 0 {
			why := "; users of those domains are refused"
			if len(exact) == 0 && file.str == "" {
				why = widens
			}
			t.note(domains, "Portcullis matches the domain after the @ exactly, so it cannot admit the subdomains of %s%s", strings.Join(wild, ", "), why)
		}
	}

	// Groups: oauth2-proxy admits a user in any of allowed-group and the
	// provider's group options; github-org/team is a rule of its own that
	// must hold as well.
	var anyOf []string
	anyOf = append(anyOf, t.v("allowed_groups").list...)
	var dropped []*o2pValue
	keycloakGroups, roles := t.v("keycloak_groups"), t.v("allowed_roles")
	gitlabGroups, projects := t.v("gitlab_groups"), t.v("gitlab_projects")
	googleGroups, legacyGoogle := t.v("google_groups"), t.v("google_group")
	switch typ {
	case "keycloak", "keycloak-oidc":
		anyOf = append(anyOf, keycloakGroups.list...)
		if typ == "keycloak-oidc" && len(roles.list) > 0 {
			dropped = append(dropped, roles)
		}
	case "gitlab":
		anyOf = append(anyOf, gitlabGroups.list...)
		if len(projects.list) > 0 {
			dropped = append(dropped, projects)
		}
	case "google":
		for _, g := range []*o2pValue{googleGroups, legacyGoogle} {
			if len(g.list) > 0 {
				dropped = append(dropped, g)
				break
			}
		}
	}
	for _, d := range dropped {
		why := "; users admitted only through them are refused"
		if len(anyOf) == 0 {
			why = widens
		}
		switch d {
		case roles:
			t.note(d, "Portcullis reads groups from the userinfo answer, not Keycloak's roles from the access token (map the roles into a userinfo claim and name it in PORTCULLIS_CLAIM_GROUPS)%s", why)
		case projects:
			t.note(d, "Portcullis cannot check GitLab project membership%s", why)
		default:
			t.note(d, "Portcullis does not read Google Workspace groups (that needs the Admin SDK)%s", why)
		}
	}
	var allOf []string
	if typ == "github" {
		allOf = t.github(len(anyOf) > 0)
	}
	if typ == "bitbucket" {
		for _, v := range []*o2pValue{t.v("bitbucket_team"), t.v("bitbucket_repository")} {
			if v.str != "" {
				t.note(v, "Portcullis cannot check Bitbucket team or repository membership%s", widens)
			}
		}
	}
	if typ == "entra-id" {
		if v := t.v("entra_id_allowed_tenants"); len(v.list) > 0 {
			tenant := t.out["PORTCULLIS_TENANT"]
			single := tenant != "" && tenant != "organizations" && tenant != "consumers"
			for _, a := range v.list {
				single = single && strings.EqualFold(strings.TrimSpace(a), tenant)
			}
			if !single {
				t.note(v, "Portcullis admits the accounts of every tenant that PORTCULLIS_TENANT admits; it has no list of tenants (set TENANT to one tenant id to admit only that tenant)%s", widens)
			}
		}
	}
	switch {
	case slices.ContainsFunc(append(anyOf, allOf...), func(g string) bool { return strings.Contains(g, ",") }):
		t.notes = append(t.notes, "allowed groups: a group name holds a comma, which PORTCULLIS_ALLOWED_GROUPS reads as a separator; not carried over"+widens)
	case len(anyOf) > 0:
		t.emit("ALLOWED_GROUPS", strings.Join(anyOf, ","))
		if len(allOf) > 0 {
			t.allOf = allOf // a catch-all route rule, written by skipAuth
		}
	case len(allOf) > 0:
		t.emit("ALLOWED_GROUPS", strings.Join(allOf, ","))
	}

	if v := t.v("reverse_proxy"); v.b {
		t.emit("TRUST_FORWARDED_HEADERS", "true")
		if p := t.v("trusted_proxy_ips"); len(p.list) > 0 {
			t.emit("TRUSTED_PROXIES", strings.Join(p.list, ","))
		}
	}
	if v := t.v("real_client_ip_header"); v.changed() && !strings.EqualFold(v.str, "X-Forwarded-For") {
		t.note(v, "Portcullis takes the client's address from X-Forwarded-For (from trusted peers) only")
	}
	var redirects []string
	for _, d := range t.v("whitelist_domains").list {
		if d = strings.TrimSpace(d); d != "" {
			if rest, ok := strings.CutPrefix(d, "*."); ok {
				d = "." + rest // Portcullis writes a domain and its subdomains .example.com
			}
			redirects = append(redirects, d)
		}
	}
	if len(redirects) > 0 {
		t.emit("ALLOWED_REDIRECT_DOMAINS", strings.Join(redirects, ","))
	}
}

// github maps github-org, -team, -user and -repo; it returns the groups a
// user must have one of (org, or org:team).
func (t *translation) github(othersRestrict bool) []string {
	org, team, users, repo := t.v("github_org"), t.v("github_team"), t.v("github_users"), t.v("github_repo")
	t.v("github_token") // only for github-repo's collaborator check
	var groups []string
	switch {
	case org.str != "" && team.str != "":
		for _, tm := range strings.Split(team.str, ",") {
			if tm = strings.TrimSpace(tm); tm != "" {
				groups = append(groups, org.str+":"+tm)
			}
		}
	case org.str != "":
		groups = []string{org.str}
	case team.str != "":
		t.note(team, "Portcullis names teams org:team, and without github-org the organisation is unknown%s", widens)
	}
	restricted := len(groups) > 0 || othersRestrict
	if repo.str != "" && org.str == "" {
		why := widens
		if restricted {
			why = "; its collaborators outside the groups are refused"
		}
		t.note(repo, "Portcullis cannot check repository collaborators%s", why)
		restricted = true
	}
	if len(users.list) > 0 {
		why := widens
		if restricted {
			why = "; they are refused unless another rule admits them"
		}
		t.note(users, "Portcullis cannot admit users by GitHub login (list their e-mail addresses in PORTCULLIS_ALLOWED_EMAILS, or put them in a team)%s", why)
	}
	return groups
}

// skipAuth maps the routes that need no sign-in.
func (t *translation) skipAuth() {
	type route struct{ method, re, from string }
	var rs []route
	regexes, routes := t.v("skip_auth_regex"), t.v("skip_auth_routes")
	for _, re := range regexes.list {
		rs = append(rs, route{"", re, regexes.from})
	}
	for _, s := range routes.list {
		parts := regexp.MustCompile("!?=").Split(s, 2) // as oauth2-proxy reads it
		r := route{"", parts[0], routes.from}
		if len(parts) == 2 {
			r.method, r.re = strings.ToUpper(parts[0]), parts[1]
		}
		if strings.Contains(s, "!=") {
			t.notes = append(t.notes, fmt.Sprintf("%s: %q: Portcullis cannot skip sign-in for every method or path but one (!=); not carried over, so those requests need a session", r.from, s))
			continue
		}
		rs = append(rs, r)
	}
	var skip, rules []string
	for _, r := range rs {
		if _, err := regexp.Compile(r.re); err != nil {
			t.notes = append(t.notes, fmt.Sprintf("%s: %q does not compile (oauth2-proxy would not start); not carried over", r.from, r.re))
			continue
		}
		if r.method != "" && strings.Trim(r.method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			t.notes = append(t.notes, fmt.Sprintf("%s: %q is not an HTTP method; not carried over", r.from, r.method))
			continue
		}
		if t.allOf == nil && !strings.Contains(r.re, ",") && strings.TrimSpace(r.re) == r.re {
			entry := r.re
			if m, _, ok := strings.Cut(r.re, "="); ok && r.method == "" && m != "" && strings.Trim(strings.ToUpper(m), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "" {
				entry = "(?:" + r.re + ")" // so that no letters before a = read as a method
			}
			if r.method != "" {
				entry = r.method + "=" + r.re
			}
			skip = append(skip, entry)
			continue
		}
		if strings.ContainsAny(r.re, " \t\n\r\v\f") {
			t.notes = append(t.notes, fmt.Sprintf("%s: %q holds white space, which a PORTCULLIS_ROUTE_<N> rule cannot; not carried over, so those requests need a session", r.from, r.re))
			continue
		}
		rules = append(rules, cmp.Or(r.method, "*")+" "+r.re+" public")
	}
	if t.allOf != nil {
		rules = append(rules, "* ^/ allowed_groups="+strings.Join(t.allOf, ","))
	}
	if len(skip) > 0 {
		t.emit("SKIP_AUTH_ROUTES", strings.Join(skip, ","))
	}
	for i, r := range rules {
		t.emit("ROUTE_"+strconv.Itoa(i+1), r)
	}
	if v := t.v("skip_auth_preflight"); v.b {
		t.emit("SKIP_AUTH_PREFLIGHT", "true")
	}
}

// headers maps what oauth2-proxy sends upstream and answers on /oauth2/auth.
func (t *translation) headers() {
	passBasic, password, preferEmail := t.v("pass_basic_auth"), t.v("basic_auth_password"), t.v("prefer_email_to_user")
	passUser, passToken, passAuthz := t.v("pass_user_headers"), t.v("pass_access_token"), t.v("pass_authorization_header")
	setX, setBasic, setAuthz := t.v("set_xauthrequest"), t.v("set_basic_auth"), t.v("set_authorization_header")
	user := "user"
	if preferEmail.b {
		user = "email"
		t.emit("USER_FROM", "email")
	}
	var inject, answer []string
	if passBasic.b && password.str != "" {
		inject = append(inject, "Authorization=basic:"+user)
	}
	if passAuthz.b {
		if len(inject) > 0 {
			t.note(passAuthz, "Authorization already carries pass-basic-auth's credentials (oauth2-proxy would send both); not carried over")
		} else {
			inject = append(inject, "Authorization=bearer:id_token")
		}
	}
	if passToken.b {
		t.emit("PASS_ACCESS_TOKEN", "true")
	}
	if !passBasic.b && !passUser.b {
		t.emit("IDENTITY_HEADERS", "off")
		if setX.b {
			answer = append(answer, "X-Auth-Request-User="+user, "X-Auth-Request-Email=email",
				"X-Auth-Request-Preferred-Username=username", "X-Auth-Request-Groups=groups")
		}
	}
	if setX.b && passToken.b {
		answer = append(answer, "X-Auth-Request-Access-Token=access_token")
	}
	if setBasic.b {
		answer = append(answer, "Authorization=basic:"+user)
	}
	if setAuthz.b {
		if setBasic.b {
			t.note(setAuthz, "Authorization already carries set-basic-auth's credentials (oauth2-proxy would send both); not carried over")
		} else {
			answer = append(answer, "Authorization=bearer:id_token")
		}
	}
	if len(inject) > 0 {
		t.emit("INJECT_HEADERS", strings.Join(inject, ","))
	}
	if len(answer) > 0 {
		t.emit("AUTH_RESPONSE_HEADERS", strings.Join(answer, ","))
	}
	if password.str != "" && slices.ContainsFunc(append(inject, answer...), func(h string) bool { return strings.Contains(h, "=basic:") }) {
		t.emit("BASIC_AUTH_PASSWORD", password.str)
	}
	if v := t.v("skip_jwt_bearer_tokens"); v.b {
		t.emit("BEARER_TOKENS", "true")
		var audiences []string
		audiences = append(audiences, t.v("oidc_extra_audiences").list...)
		issuer := strings.TrimSuffix(t.out["PORTCULLIS_ISSUER_URL"], "/")
		extra := t.v("extra_jwt_issuers")
		for _, e := range extra.list {
			iss, aud, _ := strings.Cut(e, "=")
			if issuer != "" && strings.TrimSuffix(iss, "/") == issuer && aud != "" {
				audiences = append(audiences, aud)
				continue
			}
			t.note(extra, "%q: Portcullis accepts bearer tokens from its provider's issuer only; not carried over", iss)
		}
		if len(audiences) > 0 {
			t.emit("BEARER_AUDIENCES", strings.Join(audiences, ","))
		}
	} else if v := t.v("oidc_extra_audiences"); len(v.list) > 0 {
		t.note(v, "Portcullis accepts ID tokens issued to its client id only; extra audiences are for bearer tokens (PORTCULLIS_BEARER_AUDIENCES with skip-jwt-bearer-tokens)")
	}
}

// pages maps the sign-in page and the health endpoints.
func (t *translation) pages() {
	if v := t.v("custom_templates_dir"); v.str != "" {
		t.note(v, "oauth2-proxy's templates use other data than Portcullis's: rewrite sign_in.html and error.html (README, Templates) and set PORTCULLIS_TEMPLATES_DIR")
	}
	for _, p := range []struct{ key, name string }{{"banner", "SIGN_IN_BANNER"}, {"footer", "SIGN_IN_FOOTER"}} {
		switch v := t.v(p.key); {
		case v.str == "" || v.str == "-":
		case strings.ContainsAny(v.str, "<>&"):
			t.note(v, "holds HTML, and Portcullis shows PORTCULLIS_%s as plain text; not carried over", p.name)
		default:
			t.emit(p.name, v.str)
		}
	}
	switch v := t.v("custom_sign_in_logo"); {
	case v.str == "" || v.str == "-":
	case strings.HasPrefix(v.str, "https://") || strings.HasPrefix(v.str, "http://") || strings.HasPrefix(v.str, "data:"):
		t.emit("SIGN_IN_LOGO_URL", v.str)
	default:
		t.note(v, "a file: Portcullis shows a logo from a URL (PORTCULLIS_SIGN_IN_LOGO_URL: http(s), data: or a path the app serves)")
	}
	for _, p := range []struct{ key, name string }{{"ping_path", "PING_PATH"}, {"ready_path", "READY_PATH"}} {
		if v := t.v(p.key); v.changed() {
			t.emit(p.name, cmp.Or(v.str, "off"))
		}
	}
}

const logsWhy = "Portcullis writes structured logs to stderr (PORTCULLIS_LOG_FORMAT json or text, PORTCULLIS_LOG_LEVEL), one access line a request; it has no such setting"

// o2pNoEquivalent are the options Portcullis has no setting for, with
// why. Values in same behave as Portcullis does anyway.
var o2pNoEquivalent = []struct {
	key, why string
	same     []string
}{
	{"skip_provider_button", "Portcullis has no such setting: with one provider it goes straight to the provider, unless the sign-in page has something to show (PORTCULLIS_SIGN_IN_BANNER, PORTCULLIS_SIGN_IN_FOOTER, a sign_in.html in PORTCULLIS_TEMPLATES_DIR)", nil},
	{"cookie_refresh", "Portcullis refreshes when the access token expires (PORTCULLIS_VALIDATE_EXTERNAL_TOKEN, _REFRESH_SKEW), not on a cookie timer", nil},
	{"cookie_httponly", "Portcullis's cookies are always HttpOnly", nil},
	{"cookie_csrf_per_request", "Portcullis's sign-in flow cookie is its own, short-lived; it has no settings", nil},
	{"cookie_csrf_per_request_limit", "Portcullis's sign-in flow cookie is its own, short-lived; it has no settings", nil},
	{"cookie_csrf_expire", "Portcullis's sign-in flow cookie is its own, short-lived; it has no settings", nil},
	{"cookie_csrf_samesite", "Portcullis's sign-in flow cookie is its own (SameSite=None only with PORTCULLIS_RESPONSE_MODE=form_post); it has no settings", nil},
	{"proxy_websockets", "Portcullis always proxies WebSockets", nil},
	{"pass_host_header", "Portcullis always passes the request's Host to the upstream", nil},
	{"flush_interval", "Portcullis passes streamed responses (no Content-Length, text/event-stream) on as they come; it has no flush interval", nil},
	{"disable_keep_alives", "Portcullis keeps connections to the upstream open; bound them with PORTCULLIS_UPSTREAM_MAX_CONNS", nil},
	{"skip_auth_strip_headers", "Portcullis always removes the identity headers a client sends", nil},
	{"force_https", "Portcullis does not redirect plain HTTP to HTTPS: let the ingress do it, or serve only HTTPS (PORTCULLIS_TLS_CERT_FILE)", nil},
	{"force_json_errors", "Portcullis answers JSON to every request that does not accept text/html, and pages to browsers; it has no such setting", nil},
	{"api_routes", "Portcullis answers 401 with JSON, instead of redirecting, to every request that does not accept text/html; it has no list of API routes", nil},
	{"encode_state", "", []string{"true", "false"}},
	{"allow_query_semicolons", "Portcullis has no such setting", nil},
	{"trusted_ips", "Portcullis never skips sign-in by client address: make such paths public (PORTCULLIS_SKIP_AUTH_ROUTES) or give those clients bearer tokens", nil},
	{"htpasswd_file", "Portcullis signs users in through OAuth2 and OpenID providers only; it has no password file", nil},
	{"htpasswd_user_groups", "Portcullis signs users in through OAuth2 and OpenID providers only; it has no password file", nil},
	{"display_htpasswd_form", "", []string{"true", "false"}},
	{"signature_key", "Portcullis does not sign requests with GAP-Signature; PORTCULLIS_ASSERTION=true sends the upstream a signed JWT of the identity instead (X-Portcullis-Assertion)", nil},
	{"gcp_healthchecks", "Portcullis has no GCP health-check mode: point the health checks at /ping and /ready", nil},
	{"ping_user_agent", "Portcullis answers health checks on its paths (/ping, /ready), not by User-Agent", nil},
	{"session_cookie_minimal", "Portcullis keeps the tokens it needs to refresh and sign out in the session; PORTCULLIS_SESSION_STORE=redis keeps them out of the cookie", nil},
	{"redis_connection_idle_timeout", "Portcullis's Redis client has no idle timeout setting", nil},
	{"redis_insecure_skip_tls_verify", "Portcullis always verifies Redis's certificate: trust its CA with PORTCULLIS_REDIS_CA_FILE", nil},
	{"ssl_insecure_skip_verify", "Portcullis always verifies the provider's certificate: trust a private CA with PORTCULLIS_PROVIDER_CA_FILE", nil},
	{"skip_claims_from_profile_url", "Portcullis completes the ID token's claims from the userinfo URL whenever there is one", nil},
	{"insecure_oidc_skip_nonce", "", []string{"true", "false"}}, // Portcullis always sends and checks a nonce
	{"insecure_oidc_skip_issuer_verification", "Portcullis always checks the ID token's issuer (for multi-tenant Microsoft, against the token's tid)", nil},
	{"oidc_audience_claims", "Portcullis checks the ID token's aud against the client id (bearer tokens also against PORTCULLIS_BEARER_AUDIENCES)", nil},
	{"oidc_jwks_url", "Portcullis takes the provider's keys from the discovery document at PORTCULLIS_ISSUER_URL", nil},
	{"oidc_public_key_files", "Portcullis takes the provider's keys from the discovery document at PORTCULLIS_ISSUER_URL", nil},
	{"oidc_enabled_signing_algs", "Portcullis accepts the signing algorithms of the provider's keys", nil},
	{"pubjwk_url", "Portcullis takes the provider's keys from the discovery document at PORTCULLIS_ISSUER_URL", nil},
	{"backend_logout_url", "Portcullis signs out by revoking the token (REVOKE_URL) and sending the browser to the provider's end-session URL (LOGOUT_URL, from discovery); it makes no back-end logout call", nil},
	{"azure_graph_group_field", "Portcullis takes groups from the ID token's groups claim (ids); it does not call Microsoft Graph", nil},
	{"resource", "Portcullis uses Microsoft's v2.0 endpoints, which take scopes, not a resource", nil},
	{"google_admin_email", "Portcullis does not call Google's Admin SDK", nil},
	{"google_service_account_json", "Portcullis does not call Google's Admin SDK", nil},
	{"google_use_application_default_credentials", "Portcullis does not call Google's Admin SDK", nil},
	{"google_target_principal", "Portcullis does not call Google's Admin SDK", nil},
	{"google_admin_api_user_scope", "Portcullis does not call Google's Admin SDK", nil},
	{"google_use_organization_id", "Portcullis has no such setting (the Workspace domain is sent as X-User-Attr-Domain)", nil},
	{"bearer_token_login_fallback", "", []string{"true", "false"}},
	{"show_debug_on_error", "Portcullis never shows error details to users; they are in its log", nil},
	{"tls_cipher_suites", "Portcullis uses Go's default cipher suites (PORTCULLIS_TLS_MIN_VERSION sets the lowest version)", nil},
	{"metrics_secure_address", "Portcullis serves metrics over plain HTTP on PORTCULLIS_METRICS_LISTEN", nil},
	{"metrics_tls_cert_file", "Portcullis serves metrics over plain HTTP on PORTCULLIS_METRICS_LISTEN", nil},
	{"metrics_tls_key_file", "Portcullis serves metrics over plain HTTP on PORTCULLIS_METRICS_LISTEN", nil},
	{"auth_logging", logsWhy, nil},
	{"auth_logging_format", logsWhy, nil},
	{"request_logging", logsWhy, nil},
	{"request_logging_format", logsWhy, nil},
	{"standard_logging", logsWhy, nil},
	{"standard_logging_format", logsWhy, nil},
	{"errors_to_info_log", logsWhy, nil},
	{"exclude_logging_paths", logsWhy, nil},
	{"logging_local_time", logsWhy, nil},
	{"silence_ping_logging", logsWhy, nil},
	{"request_id_header", logsWhy, nil},
	{"logging_filename", logsWhy + "; collect and rotate them outside", nil},
	{"logging_max_size", logsWhy, nil},
	{"logging_max_age", logsWhy, nil},
	{"logging_max_backups", logsWhy, nil},
	{"logging_compress", logsWhy, nil},
}
