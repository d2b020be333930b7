package config

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Setting is one variable's effective value, for `portcullis check`.
// Secrets are already redacted in Value; an empty Value means unset.
type Setting struct {
	Name   string
	Value  string
	Secret bool // Value is hidden
}

// Settings lists every variable's value: the globals in declaration order,
// then each provider's, as c holds them (main shows each provider's with
// its preset applied). COOKIE_SECRET and CLIENT_SECRET read "[redacted]"
// when set; a password in REDIS_URL or USERS_DB reads "xxxxx".
func (c *Config) Settings() []Setting {
	out := settings(nil, reflect.ValueOf(c).Elem(), Prefix)
	for _, r := range c.Routes {
		out = append(out, Setting{Name: r.Name, Value: r.String()})
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		out = settings(out, reflect.ValueOf(p).Elem(), p.Prefix)
	}
	return out
}

func settings(out []Setting, v reflect.Value, prefix string) []Setting {
	for _, f := range envFields(v.Type()) {
		s := Setting{Name: prefix + f.key, Value: formatValue(v.FieldByIndex(f.Index).Interface())}
		switch f.Tag.Get("secret") {
		case "true":
			if s.Value != "" {
				s.Value, s.Secret = "[redacted]", true
			}
		case "password":
			s.Value = redactURL(s.Value)
		case "params":
			s.Value = redactParams(s.Value)
		case "headers":
			s.Value = redactLiterals(v.FieldByIndex(f.Index).Interface().([]HeaderRule))
		}
		out = append(out, s)
	}
	return out
}

// formatValue writes a field's value the way it would be written in the
// environment.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case *bool:
		if x == nil {
			return ""
		}
		return strconv.FormatBool(*x)
	case time.Duration:
		return FormatDuration(x)
	case *url.URL:
		if x == nil {
			return ""
		}
		return x.Redacted()
	case []string:
		return strings.Join(x, ",")
	case url.Values:
		return x.Encode()
	case http.SameSite:
		return formatSameSite(x)
	case slog.Level:
		return strings.ToLower(x.String())
	case []netip.Prefix:
		return joinStrings(x)
	case []Route:
		return joinStrings(x)
	case []UpstreamRoute:
		return formatUpstreams(x)
	case []HeaderRule:
		return joinStrings(x)
	case []Attribute:
		s := make([]string, len(x))
		for i, a := range x {
			s[i] = a.Name + "=" + a.Path
		}
		return strings.Join(s, ",")
	case map[string]map[string]string:
		var groups []string
		for _, name := range slices.Sorted(maps.Keys(x)) {
			var pairs []string
			for _, in := range slices.Sorted(maps.Keys(x[name])) {
				pairs = append(pairs, x[name][in]+"="+in)
			}
			groups = append(groups, name+":"+strings.Join(pairs, ","))
		}
		return strings.Join(groups, ";")
	}
	return fmt.Sprint(v)
}

func joinStrings[T fmt.Stringer](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

// FormatDuration writes d in Go syntax without zero units: 168h rather
// than 168h0m0s, 1h30m, 90s.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// redactURL hides a URL's password (userinfo or a password query
// parameter); a value that does not parse is hidden whole.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[redacted]"
	}
	if u.RawQuery != "" {
		u.RawQuery = redactParams(u.RawQuery) // api_key=…, password=…: values may be secrets
	}
	return u.Redacted()
}

// redactLiterals writes header rules with their literal texts hidden: a
// fixed header is often a shared secret (X-Api-Key=literal:…).
func redactLiterals(rules []HeaderRule) string {
	s := make([]string, len(rules))
	for i, r := range rules {
		if i := strings.Index(r.Source, "literal:"); i == 0 || i > 0 && r.Source[:i] == "basic:" {
			r.Source = r.Source[:i+len("literal:")] + "[redacted]"
		}
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

// redactParams hides the values of query parameters whose names suggest a
// secret (password=…, api_key=…, client_assertion=…, access_token=…).
func redactParams(s string) string {
	if s == "" {
		return ""
	}
	q, err := url.ParseQuery(s)
	if err != nil {
		return "[redacted]"
	}
	for k, vs := range q {
		if !secretName(k) {
			continue
		}
		for i := range vs {
			vs[i] = "xxxxx"
		}
	}
	return q.Encode()
}

// secretName reports whether a parameter's name suggests its value is a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "secret", "key", "token", "assertion", "signature", "sig", "credential", "auth", "code"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Reference documents every variable as a markdown table (variable,
// default, meaning), generated from the struct tags: the globals, then the
// provider variables, then notes on provider prefixes and _FILE twins.
func Reference() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n| --- | --- | --- |\n")
	rows := func(t reflect.Type, prefix string) {
		for _, f := range envFields(t) {
			def := "—"
			if d, ok := f.Tag.Lookup("refDefault"); ok {
				def = markdown(d)
			} else if d := f.Tag.Get("envDefault"); d != "" {
				def = "`" + d + "`"
			}
			fmt.Fprintf(&b, "| `%s%s` | %s | %s |\n", prefix, f.key, def, markdown(f.Tag.Get("doc")))
		}
	}
	rows(reflect.TypeFor[Config](), Prefix)
	b.WriteString("| `PORTCULLIS_ROUTE_<N>` | — | per-route rule, N from 1 to 200, evaluated in order (the first match decides): " +
		"`METHODS REGEX RULE…` — METHODS `*` or `GET,HEAD`; REGEX (RE2) matched against the path only; RULE `public`, " +
		"`allowed_emails=…`, `allowed_email_domains=…`, `allowed_groups=…` or `claim.<Attribute>=…` (comma-separated values), " +
		"which narrow the global lists. Example: `* ^/admin/ allowed_groups=admins` |\n")
	rows(reflect.TypeFor[Provider](), Prefix+"[<ID>_]")
	b.WriteString("\n" +
		"Provider variables take the prefix `PORTCULLIS_` when there is one provider " +
		"(`PORTCULLIS_CLIENT_ID`), and `PORTCULLIS_<ID>_` for each id listed in " +
		"`PORTCULLIS_PROVIDERS` (`PORTCULLIS_CORP_CLIENT_ID`).\n\n" +
		"Every variable has a `_FILE` twin (`PORTCULLIS_CLIENT_SECRET_FILE=/run/secrets/client`): " +
		"the value is read from that file, less one trailing newline. Setting both a variable " +
		"and its twin is an error; a problem with a value read from a file names the `_FILE` twin. Lists are comma-separated; the `_FILE` twin of a list holds one entry " +
		"per line or a comma list, and blank lines and lines starting with `#` are left out " +
		"(`PORTCULLIS_ALLOWED_EMAILS_FILE` in oauth2-proxy's one-address-per-line format works as it is, and is read again when it changes, within 2 s; other `_FILE` twins are read at start); `PORTCULLIS_COOKIE_SECRET_FILE` holds one secret a line, the newest first, each line kept whole. " +
		"Durations use Go syntax (`90s`, `168h`).\n")
	return b.String()
}

// markdown escapes text for a table cell.
func markdown(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}
