package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// validate checks c as parsed. It is pure: no I/O, no change to c. The
// error joins one problem per finding, each naming its variable.
func (c *Config) validate() error {
	v := &validator{}
	n := func(suffix string) string { return Prefix + suffix }

	v.httpURL(n("PUBLIC_URL"), c.PublicURL, true)
	if path, ok := strings.CutPrefix(c.Listen, "unix:"); ok {
		v.socketPath(n("LISTEN"), path)
	} else {
		v.listen(n("LISTEN"), c.Listen, false)
	}
	v.listen(n("METRICS_LISTEN"), c.MetricsListen, true)
	if c.MetricsListen == c.Listen && c.Listen != "off" && !strings.HasSuffix(c.Listen, ":0") {
		v.add(n("METRICS_LISTEN"), "must differ from %s (%q)", n("LISTEN"), c.Listen)
	}

	v.paths(c)
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		v.add(n("TLS_KEY_FILE"), "required with %s", n("TLS_CERT_FILE"))
	case c.TLSCertFile == "" && c.TLSKeyFile != "":
		v.add(n("TLS_CERT_FILE"), "required with %s", n("TLS_KEY_FILE"))
	}
	v.oneOf(n("TLS_MIN_VERSION"), c.TLSMinVersion, "1.2", "1.3")

	if c.CookieSecret == "" {
		v.add(n("COOKIE_SECRET"), "required; generate one with: openssl rand -base64 32")
	} else if _, msgs := cookieSecrets(c.CookieSecret); len(msgs) > 0 {
		for _, m := range msgs {
			v.add(n("COOKIE_SECRET"), "%s", m)
		}
	}
	v.cookie(c)
	v.positive(n("COOKIE_EXPIRE"), c.CookieExpire)
	v.nonNegative(n("SESSION_IDLE_TIMEOUT"), c.SessionIdleTimeout)

	switch c.SessionStore {
	case "cookie", "redis":
	default:
		v.add(n("SESSION_STORE"), "must be cookie or redis, got %q", c.SessionStore)
	}
	v.redis(c)

	v.oneOf(n("USER_FROM"), c.UserFrom, "auto", "email", "id", "username")
	v.oneOf(n("IDENTITY_HEADERS"), c.IdentityHeaders, "on", "off")
	v.headerRules(n("INJECT_HEADERS"), c.InjectHeaders, c)
	v.headerRules(n("AUTH_RESPONSE_HEADERS"), c.AuthResponseHeaders, c)
	v.nonNegative(n("REFRESH_SKEW"), c.RefreshSkew)
	v.nonNegative(n("REFRESH_GRACE"), c.RefreshGrace)
	for _, e := range c.AllowedEmails {
		if !isEmail(e) {
			v.add(n("ALLOWED_EMAILS"), "%q is not an e-mail address", e)
		}
	}
	if i := strings.Index(c.UsersDB, "://"); i >= 0 {
		if s := strings.ToLower(c.UsersDB[:i]); s != "postgres" && s != "postgresql" {
			v.add(n("USERS_DB"), "must be a file path or a postgres:// URL, got scheme %q", s)
		}
	}
	for _, d := range c.AllowedHosts {
		if err := checkRedirectDomain(d); err != nil {
			v.add(n("ALLOWED_HOSTS"), "%q %v", d, err)
		}
	}
	for _, d := range c.AllowedRedirectDomains {
		if err := checkRedirectDomain(d); err != nil {
			v.add(n("ALLOWED_REDIRECT_DOMAINS"), "%q %v", d, err)
		}
	}

	v.positive(n("PROVIDER_TIMEOUT"), c.ProviderTimeout)
	v.nonNegative(n("UPSTREAM_TIMEOUT"), c.UpstreamTimeout)
	if c.UpstreamMaxConns < 0 {
		v.add(n("UPSTREAM_MAX_CONNS"), "must be 0 (no limit) or more, got %d", c.UpstreamMaxConns)
	}
	v.nonNegative(n("SHUTDOWN_TIMEOUT"), c.ShutdownTimeout)
	v.positive(n("READ_HEADER_TIMEOUT"), c.ReadHeaderTimeout)
	v.nonNegative(n("READ_TIMEOUT"), c.ReadTimeout)
	v.nonNegative(n("BODY_READ_TIMEOUT"), c.BodyReadTimeout)
	if c.BodyMinRate < 0 {
		v.add(n("BODY_MIN_RATE"), "must be 0 (none) or more bytes a second, got %d", c.BodyMinRate)
	}
	v.nonNegative(n("WRITE_TIMEOUT"), c.WriteTimeout)
	v.nonNegative(n("IDLE_TIMEOUT"), c.IdleTimeout)
	if c.MaxHeaderBytes < 8<<10 || c.MaxHeaderBytes > 1<<20 {
		v.add(n("MAX_HEADER_BYTES"), "must be between 8192 and 1048576, got %d", c.MaxHeaderBytes)
	}
	if c.UpstreamCA != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.UpstreamCA)) {
		v.add(n("UPSTREAM_CA"), "no PEM certificate found")
	}
	switch {
	case (c.UpstreamClientCert == "") != (c.UpstreamClientKey == ""):
		v.add(n("UPSTREAM_CLIENT_CERT"), "set together with %s", n("UPSTREAM_CLIENT_KEY"))
	case c.UpstreamClientCert != "":
		if _, err := tls.X509KeyPair([]byte(c.UpstreamClientCert), []byte(c.UpstreamClientKey)); err != nil {
			v.add(n("UPSTREAM_CLIENT_CERT"), "not a usable certificate and key pair: %v", err)
		}
	}
	switch c.LogLevel {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default:
		v.add(n("LOG_LEVEL"), "must be debug, info, warn or error, got %q", strings.ToLower(c.LogLevel.String()))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		v.add(n("LOG_FORMAT"), "must be json or text, got %q", c.LogFormat)
	}
	if s := c.SignInLogoURL; s != "" && !strings.HasPrefix(s, "/") {
		u, err := url.Parse(s)
		if err != nil || !(u.Scheme == "data" || (u.Scheme == "http" || u.Scheme == "https") && u.Host != "") {
			v.add(n("SIGN_IN_LOGO_URL"), "must be an http(s) URL, a data: URL or a path starting with /")
		}
	}

	v.providerIDs(c.ProviderIDs)
	for i := range c.Providers {
		v.provider(&c.Providers[i])
	}
	return errors.Join(v.errs...)
}

// redis checks where Redis is (REDIS_URL, or Sentinels, or a Cluster) and
// how Portcullis reaches it.
func (v *validator) redis(c *Config) {
	n := func(suffix string) string { return Prefix + suffix }
	var set []string
	for name, on := range map[string]bool{
		"REDIS_URL": c.RedisURL != "", "REDIS_SENTINEL_ADDRS": len(c.RedisSentinelAddrs) > 0, "REDIS_CLUSTER_ADDRS": len(c.RedisClusterAddrs) > 0,
	} {
		if on {
			set = append(set, n(name))
		}
	}
	slices.Sort(set)
	switch {
	case len(set) == 0 && c.SessionStore == "redis":
		v.add(n("REDIS_URL"), "required with %s=redis (or %s, or %s)", n("SESSION_STORE"), n("REDIS_SENTINEL_ADDRS"), n("REDIS_CLUSTER_ADDRS"))
	case len(set) > 1:
		for _, name := range set[1:] {
			v.add(name, "not with %s: Redis is one server, a master watched by Sentinels, or a Cluster; set one of them", set[0])
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		switch {
		case err != nil:
			v.add(n("REDIS_URL"), "not a URL (redis://host:6379/0)")
		case u.Scheme != "redis" && u.Scheme != "rediss":
			v.add(n("REDIS_URL"), "must start with redis:// or rediss://, got scheme %q", u.Scheme)
		case u.Host == "":
			v.add(n("REDIS_URL"), "has no host")
		default:
			if _, ok := u.User.Password(); ok && c.RedisPassword != "" {
				v.add(n("REDIS_PASSWORD"), "%s has a password already; set it in one place", n("REDIS_URL"))
			}
			if u.User.Username() != "" && c.RedisUsername != "" {
				v.add(n("REDIS_USERNAME"), "%s has a user already; set it in one place", n("REDIS_URL"))
			}
		}
	}
	v.nonNegative(n("REDIS_FAILOVER_WAIT"), c.RedisFailoverWait)
	v.hostPorts(n("REDIS_SENTINEL_ADDRS"), c.RedisSentinelAddrs)
	v.hostPorts(n("REDIS_CLUSTER_ADDRS"), c.RedisClusterAddrs)
	switch {
	case len(c.RedisSentinelAddrs) > 0 && c.RedisSentinelMaster == "":
		v.add(n("REDIS_SENTINEL_MASTER"), "required with %s: the name in the Sentinels' sentinel monitor line", n("REDIS_SENTINEL_ADDRS"))
	case len(c.RedisSentinelAddrs) == 0 && c.RedisSentinelMaster != "":
		v.add(n("REDIS_SENTINEL_ADDRS"), "required with %s", n("REDIS_SENTINEL_MASTER"))
	}
	if c.RedisSentinelPassword != "" && len(c.RedisSentinelAddrs) == 0 {
		v.add(n("REDIS_SENTINEL_PASSWORD"), "only used with %s", n("REDIS_SENTINEL_ADDRS"))
	}
	if len(set) == 0 {
		for name, on := range map[string]bool{"REDIS_USERNAME": c.RedisUsername != "", "REDIS_PASSWORD": c.RedisPassword != "", "REDIS_TLS": c.RedisTLS, "REDIS_CA": c.RedisCA != ""} {
			if on {
				v.add(n(name), "only used with Redis (%s, %s or %s)", n("REDIS_URL"), n("REDIS_SENTINEL_ADDRS"), n("REDIS_CLUSTER_ADDRS"))
			}
		}
		return
	}
	if c.RedisCA != "" {
		switch {
		case !c.RedisTLS && !strings.HasPrefix(c.RedisURL, "rediss:"):
			v.add(n("REDIS_CA"), "only used with TLS: set %s=true, or use a rediss:// %s", n("REDIS_TLS"), n("REDIS_URL"))
		case !x509.NewCertPool().AppendCertsFromPEM([]byte(c.RedisCA)):
			v.add(n("REDIS_CA"), "no PEM certificate found")
		}
	}
}

// hostPorts checks a list of host:port addresses.
func (v *validator) hostPorts(name string, addrs []string) {
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			hint := ""
			if strings.Contains(a, "://") {
				hint = " (without a scheme)"
			}
			v.add(name, "%q is not host:port%s", a, hint)
		}
	}
}

// cookieSecrets decodes a COOKIE_SECRET value: a comma list, each entry
// base64 (standard or URL-safe, padded or not) of exactly 32 bytes, else a
// raw string of at least 32 bytes. The messages never quote the secret.
func cookieSecrets(raw string) ([][]byte, []string) {
	entries := strings.Split(raw, ",")
	var keys [][]byte
	var msgs []string
	for i, e := range entries {
		e = strings.TrimSpace(e)
		which := ""
		if len(entries) > 1 {
			which = fmt.Sprintf("entry %d ", i+1)
		}
		if k := decodeKey(e); k != nil {
			keys = append(keys, k)
			continue
		}
		if len(e) < 32 {
			msgs = append(msgs, fmt.Sprintf("%smust be base64 of 32 bytes or at least 32 characters, got %d characters", which, len(e)))
			continue
		}
		keys = append(keys, []byte(e))
	}
	return keys, msgs
}

// CookieSecretOK reports whether s, one COOKIE_SECRET entry, is a secret
// Portcullis takes: base64 of 32 bytes, or at least 32 bytes as it is.
func CookieSecretOK(s string) bool {
	return decodeKey(s) != nil || len(s) >= 32
}

func decodeKey(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b
		}
	}
	return nil
}

type validator struct {
	errs []error
}

func (v *validator) add(name, format string, args ...any) {
	v.errs = append(v.errs, problemf(name, format, args...))
}

func (v *validator) positive(name string, d time.Duration) {
	if d <= 0 {
		v.add(name, "must be greater than 0, got %s", FormatDuration(d))
	}
}

func (v *validator) nonNegative(name string, d time.Duration) {
	if d < 0 {
		v.add(name, "must not be negative, got %s", FormatDuration(d))
	}
}

// httpURL checks an optional absolute http(s) URL with a host; base also
// forbids a query and a fragment.
func (v *validator) httpURL(name string, u *url.URL, base bool) {
	if u == nil {
		return
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(name, "must be an absolute http or https URL, got %q", u.Redacted())
		return
	}
	if base && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "") {
		v.add(name, "must not have a query or a fragment, got %q", u.Redacted())
	}
}

// httpURLString is httpURL for a URL kept as a string.
func (v *validator) httpURLString(name, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil {
		v.add(name, "must be an absolute http or https URL")
		return
	}
	v.httpURL(name, u, false)
}

// listen checks a host:port listen address; off allows "off".
func (v *validator) listen(name, addr string, off bool) {
	if off && addr == "off" {
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = errors.New("bad port")
		}
	}
	if err != nil {
		if off {
			v.add(name, "must be host:port (\":9180\") or off, got %q", addr)
		} else {
			v.add(name, "must be host:port (\":4180\"), got %q", addr)
		}
	}
}

// paths checks PROXY_PREFIX, PING_PATH and READY_PATH: clean paths (or
// off for the health checks), the health checks outside the prefix, one
// path each.
func (v *validator) paths(c *Config) {
	n := func(suffix string) string { return Prefix + suffix }
	prefixOK := cleanPath(c.ProxyPrefix)
	if !prefixOK {
		v.add(n("PROXY_PREFIX"), "must be a path like /oauth2: %s, got %q", pathRule, c.ProxyPrefix)
	}
	for _, hc := range []struct{ name, path string }{{n("PING_PATH"), c.PingPath}, {n("READY_PATH"), c.ReadyPath}} {
		switch {
		case hc.path == "off":
		case !cleanPath(hc.path):
			v.add(hc.name, "must be a path like /ping, or off: %s, got %q", pathRule, hc.path)
		case prefixOK && (hc.path == c.ProxyPrefix || strings.HasPrefix(hc.path, c.ProxyPrefix+"/")):
			v.add(hc.name, "%q is under %s (%q), where Portcullis's own endpoints are", hc.path, n("PROXY_PREFIX"), c.ProxyPrefix)
		case hc.path == "/.well-known/portcullis/jwks.json":
			v.add(hc.name, "%q is where Portcullis publishes its assertion keys", hc.path)
		}
	}
	if c.PingPath == c.ReadyPath && c.PingPath != "off" {
		v.add(n("READY_PATH"), "must differ from %s (%q)", n("PING_PATH"), c.PingPath)
	}
}

// pathRule says what cleanPath accepts.
const pathRule = "starting with /, not ending with /, segments of letters, digits and -._~!$&'()*+,;=:@, none empty, . or .."

// cleanPath reports whether p is a path that Portcullis's routes can take
// as it is: "/" and segments of RFC 3986 path characters, none empty, "."
// or "..", no percent-escapes, and no "/" at the end (the proxy package
// holds its paths to the same rule).
func cleanPath(p string) bool {
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0) {
				return false
			}
		}
	}
	return true
}

// socketPath checks the path of a Unix socket: not empty, and short
// enough for sockaddr_un (108 bytes with its NUL on Linux, 104 on BSDs).
func (v *validator) socketPath(name, path string) {
	switch {
	case path == "":
		v.add(name, "unix: needs a socket's path (unix:/run/portcullis/portcullis.sock)")
	case len(path) > 103 || strings.ContainsRune(path, 0):
		v.add(name, "a Unix socket's path must be at most 103 bytes, got %d: choose a shorter one", len(path))
	}
}

func (v *validator) cookie(c *Config) {
	n := func(suffix string) string { return Prefix + suffix }
	name := c.CookieName
	switch {
	case name == "":
		v.add(n("COOKIE_NAME"), "must not be empty")
	case !isToken(name):
		v.add(n("COOKIE_NAME"), "%q is not a valid cookie name (no spaces, separators or control characters)", name)
	case strings.HasPrefix(name, "__Host-") && (!c.CookieSecure || c.CookiePath != "/" || c.CookieDomain != ""):
		v.add(n("COOKIE_NAME"), "a __Host- cookie requires %s=true, %s=/ and no %s", n("COOKIE_SECURE"), n("COOKIE_PATH"), n("COOKIE_DOMAIN"))
	case strings.HasPrefix(name, "__Secure-") && !c.CookieSecure:
		v.add(n("COOKIE_NAME"), "a __Secure- cookie requires %s=true", n("COOKIE_SECURE"))
	}
	if d := c.CookieDomain; d != "" && !isHost(strings.TrimPrefix(d, ".")) {
		v.add(n("COOKIE_DOMAIN"), "%q is not a domain name", d)
	}
	if p := c.CookiePath; !strings.HasPrefix(p, "/") || strings.ContainsFunc(p, func(r rune) bool { return r == ';' || r < 0x20 || r == 0x7f }) {
		v.add(n("COOKIE_PATH"), "must start with / and hold no ';' or control characters, got %q", p)
	}
	if c.CookieSameSite == http.SameSiteNoneMode && !c.CookieSecure {
		v.add(n("COOKIE_SAMESITE"), "none requires %s=true", n("COOKIE_SECURE"))
	}
}

// isEmail reports whether s reads as one bare e-mail address: one "@" with
// something on each side, and no white space, control character, comma,
// quote or angle bracket ("Carol <carol@example.com>" and two addresses on
// one line are not one address).
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && strings.Count(s, "@") == 1 &&
		!strings.ContainsFunc(s, func(r rune) bool {
			return r <= ' ' || r == 0x7f || unicode.IsSpace(r) || strings.ContainsRune(",;<>\"()[]", r)
		})
}

// isToken reports whether s is an RFC 6265 cookie-name (an RFC 2616 token).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// isHost reports whether s is a DNS name or an IP address (no port).
func isHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if net.ParseIP(s) != nil {
		return true
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// checkRedirectDomain accepts host, .host, host:port and host:* (and .host
// with a port).
func checkRedirectDomain(d string) error {
	host := strings.TrimPrefix(d, ".")
	if strings.ContainsAny(host, "/@") {
		return errors.New("is not a host, .host, host:port or host:*")
	}
	if strings.HasPrefix(host, "*.") {
		return errors.New("is not a host: write .example.com for a domain and its subdomains")
	}
	if h, port, err := net.SplitHostPort(host); err == nil {
		if port != "*" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("has a bad port %q: want a number or *", port)
			}
		}
		host = h
	}
	if !isHost(host) {
		return errors.New("is not a host, .host, host:port or host:*")
	}
	return nil
}

func (v *validator) providerIDs(ids []string) {
	name := Prefix + "PROVIDERS"
	seen := map[string]bool{}
	for _, id := range ids {
		switch {
		case !validID(id):
			v.add(name, "%q is not a valid provider id: use lower-case letters and digits only", id)
		case seen[id]:
			v.add(name, "%q is listed twice", id)
		case globalCollision(id) != "":
			v.add(name, "%q can't be a provider id: %s", id, globalCollision(id))
		}
		seen[id] = true
	}
}

func (v *validator) provider(p *Provider) {
	n := func(suffix string) string { return p.Prefix + suffix }

	if p.ClientID == "" {
		v.add(n("CLIENT_ID"), "required")
	}
	secretless := slices.Contains([]string{"private_key_jwt", "client_assertion", "none"}, p.TokenAuthStyle) || strings.EqualFold(p.Preset, "apple")
	if p.ClientSecret == "" && p.ResponseType != "token" && !secretless {
		v.add(n("CLIENT_SECRET"), "required (unless %s=token)", n("RESPONSE_TYPE"))
	}
	for _, f := range []struct{ suffix, value string }{
		{"ISSUER_URL", p.IssuerURL}, {"AUTH_URL", p.AuthURL}, {"TOKEN_URL", p.TokenURL},
		{"USERINFO_URL", p.UserinfoURL}, {"REFRESH_URL", p.RefreshURL}, {"LOGOUT_URL", p.LogoutURL},
		{"REVOKE_URL", p.RevokeURL}, {"REDIRECT_URL", p.RedirectURL}, {"INTROSPECTION_URL", p.IntrospectionURL},
	} {
		v.httpURLString(n(f.suffix), f.value)
	}

	v.oneOf(n("RESPONSE_TYPE"), p.ResponseType, "code", "token")
	v.flowSettings(p)
	// Unset, these take the preset's value.
	v.oneOfOrUnset(n("TOKEN_METHOD"), p.TokenMethod, "GET", "POST")
	v.oneOfOrUnset(n("TOKEN_AUTH_STYLE"), p.TokenAuthStyle, "auto", "header", "params", "private_key_jwt", "client_assertion", "none")
	v.oneOfOrUnset(n("USERINFO_METHOD"), p.UserinfoMethod, "GET", "POST")
	v.oneOfOrUnset(n("USERINFO_TOKEN"), p.UserinfoToken, "header", "query", "body")

	known := map[string]bool{
		"id": true, "email": true, "email_verified": true, "name": true, "given_name": true,
		"family_name": true, "username": true, "groups": true, "picture": true, "locale": true,
	}
	for _, a := range p.ClaimAttributes {
		known[strings.ToLower(a.Name)] = true
	}
	names := make([]string, 0, len(p.ClaimValues))
	for name := range p.ClaimValues {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !known[name] {
			v.add(n("CLAIM_VALUES"), "%q is neither a field (id, email, email_verified, name, given_name, family_name, username, groups, picture, locale) nor a CLAIM_ATTRIBUTES name", name)
		}
	}
}

// flowSettings checks RESPONSE_MODE, AUTH_PASSTHROUGH_PARAMS and
// LOGOUT_REDIRECT_URL. Which names a client may not pass through depends
// on the preset (CLIENT_ID_PARAM): providers.Resolve checks them.
func (v *validator) flowSettings(p *Provider) {
	n := func(suffix string) string { return p.Prefix + suffix }
	v.oneOfOrUnset(n("RESPONSE_MODE"), p.ResponseMode, "form_post", "query")
	if p.ResponseMode == "form_post" && p.ResponseType == "token" {
		v.add(n("RESPONSE_MODE"), "form_post is for the code flow, not with %s=token", n("RESPONSE_TYPE"))
	}
	if _, ok := p.AuthParams["response_mode"]; ok {
		v.add(n("AUTH_PARAMS"), "response_mode: set %s instead, so the callback expects the answer where it comes", n("RESPONSE_MODE"))
	}
	seen := map[string]bool{}
	for _, name := range p.AuthPassthroughParams {
		switch {
		case !paramName(name):
			v.add(n("AUTH_PASSTHROUGH_PARAMS"), "%q is not a parameter name: use letters, digits, _ . and - only", name)
		case seen[name]:
			v.add(n("AUTH_PASSTHROUGH_PARAMS"), "%q is listed twice", name)
		}
		seen[name] = true
	}
	if p.LogoutRedirectURL != "none" {
		v.httpURLString(n("LOGOUT_REDIRECT_URL"), p.LogoutRedirectURL)
	}
}

// paramName reports whether s is a URL parameter name of letters, digits
// and _ . - only.
func paramName(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == ""
}

func (v *validator) oneOf(name, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.add(name, "must be %s, got %q", orList(allowed), value)
	}
}

func (v *validator) oneOfOrUnset(name, value string, allowed ...string) {
	if value != "" {
		v.oneOf(name, value, allowed...)
	}
}

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
