package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Load reads the configuration through getenv (os.Getenv in production, a
// map in tests), reads the files named by _FILE variables, parses and
// validates everything. Its error joins every problem, sorted by variable
// name, one a line, each starting with the variable's full name: the
// _FILE twin's when the value was read from it, the name the operator set.
//
// checks run after validation, on the configuration as parsed, and their
// problems join the list: main passes the providers package's checks of
// each provider against its preset, which config, importing no package of
// Portcullis, can't make. Each line of their errors must start with the
// full name of the variable it is about ("PORTCULLIS_ISSUER_URL: …"); a
// variable that already has a problem gets no more.
func Load(getenv func(string) string, checks ...func(*Config) error) (*Config, error) {
	return load(getenv, os.ReadFile, checks...)
}

func load(getenv func(string) string, readFile func(string) ([]byte, error), checks ...func(*Config) error) (*Config, error) {
	r := &reader{getenv: getenv, readFile: readFile, broken: map[string]bool{}, fromFile: map[string]bool{}}

	c := &Config{}
	keys, err := envKeys(c, Prefix)
	if err != nil {
		return nil, err
	}
	parsed := parse(c, Prefix, r.environment(keys, listKeys(c, Prefix)))
	c.normalize()
	if k := Prefix + "ALLOWED_EMAILS"; !r.broken[k] && r.getenv(k) == "" {
		c.AllowedEmailsFile = r.getenv(k + "_FILE")
	}
	routes, routeProblems := r.readRoutes()
	c.Routes = routes
	parsed = append(parsed, routeProblems...)

	if !r.broken[Prefix+"PROVIDERS"] {
		for _, p := range providerList(c.ProviderIDs) {
			keys, err := envKeys(&p, p.Prefix)
			if err != nil {
				return nil, err
			}
			m := r.environment(keys, listKeys(&p, p.Prefix))
			parsed = append(parsed, parse(&p, p.Prefix, m)...)
			if m[p.Prefix+"CLAIM_ID"] != "" && len(p.ClaimID) == 0 {
				// Set, but to separators only: not the same as unset.
				parsed = append(parsed, problemf(p.Prefix+"CLAIM_ID", "must name at least one path"))
			}
			p.normalize()
			if p.ID == "" {
				p.ID = p.Preset
			}
			c.Providers = append(c.Providers, p)
		}
	}

	// A variable whose file could not be read, that was set twice, or whose
	// value did not parse already has its problem: validation would only
	// add "required" and the like about the zero value left behind.
	quiet := maps.Clone(r.broken)
	for _, err := range parsed {
		quiet[problemName(err)] = true
	}
	problems := append(r.problems, parsed...)
	if err := c.validate(); err != nil {
		for _, err := range unjoin(err) {
			if !quiet[problemName(err)] {
				problems = append(problems, err)
			}
		}
	}
	for _, err := range problems {
		quiet[problemName(err)] = true
	}
	for _, check := range checks {
		if err := check(c); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				name, msg, ok := strings.Cut(line, ": ")
				switch {
				case !ok:
					problems = append(problems, errors.New(line))
				case !quiet[name]:
					problems = append(problems, problem{name: name, msg: msg})
				}
			}
		}
	}
	if len(problems) > 0 {
		for i, err := range problems {
			// The operator set the _FILE twin: name it.
			if p, ok := err.(problem); ok && r.fromFile[p.name] {
				p.name += "_FILE"
				problems[i] = p
			}
		}
		slices.SortStableFunc(problems, func(a, b error) int {
			return strings.Compare(problemName(a), problemName(b))
		})
		return nil, errors.Join(problems...)
	}

	c.CookieSecrets, _ = cookieSecrets(c.CookieSecret)
	return c, nil
}

// A problem is one thing wrong with one variable.
type problem struct {
	name string // full variable name
	msg  string
}

func (p problem) Error() string { return p.name + ": " + p.msg }

func problemf(name, format string, args ...any) problem {
	return problem{name: name, msg: fmt.Sprintf(format, args...)}
}

func problemName(err error) string {
	if p, ok := err.(problem); ok {
		return p.name
	}
	return ""
}

// unjoin splits an errors.Join result back into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// A reader builds env's environment map from getenv and _FILE twins.
type reader struct {
	getenv   func(string) string
	readFile func(string) ([]byte, error)
	problems []error
	broken   map[string]bool // variables with a problem of their own
	fromFile map[string]bool // variables whose value came from their _FILE twin
}

// environment asks getenv for each key and its _FILE twin and returns the
// keys that have a value. Empty values count as unset. The file of a key in
// lists (a list variable) holds one entry per line or a comma list (see
// listFile).
func (r *reader) environment(keys []string, lists map[string]bool) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		fk := k + "_FILE"
		v, path := r.getenv(k), r.getenv(fk)
		switch {
		case v != "" && path != "":
			r.problems = append(r.problems, problemf(k, "set both %s and %s", k, fk))
			r.broken[k] = true
		case path != "":
			b, err := r.readFile(path)
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				r.problems = append(r.problems, problemf(fk, "cannot read %q: %v", path, err))
				r.broken[k] = true
				continue
			}
			r.fromFile[k] = true
			s := string(b)
			if lists[k] {
				s = listFile(s)
			} else if k == Prefix+"COOKIE_SECRET" {
				s = secretsFile(s)
			} else if t, ok := strings.CutSuffix(s, "\r\n"); ok {
				s = t
			} else {
				s = strings.TrimSuffix(s, "\n")
			}
			if s != "" {
				m[k] = s
			}
		case v != "":
			m[k] = v
		}
	}
	return m
}

// listFile turns the content of a list variable's _FILE twin into the
// variable's comma list: each line is one entry or a comma list of them,
// and blank lines and lines starting with # are left out (oauth2-proxy's
// authenticated-emails-file has one address per line). A UTF-8 byte order
// mark at the start is not part of the first entry.
func listFile(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	var entries []string
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		entries = append(entries, line)
	}
	return strings.Join(entries, ",")
}

// secretsFile turns the content of COOKIE_SECRET_FILE into its comma
// list: one secret a line (a rotation, the newest first), blank lines left
// out. Unlike a list's file, every other line is kept whole: a secret may
// start with #.
func secretsFile(s string) string {
	var secrets []string
	for line := range strings.Lines(strings.TrimPrefix(s, "\ufeff")) {
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			secrets = append(secrets, line)
		}
	}
	return strings.Join(secrets, ",")
}

// listKeys returns the full names of the list variables (slices, written
// as comma lists) that v's struct declares.
func listKeys(v any, prefix string) map[string]bool {
	m := map[string]bool{}
	for _, f := range envFields(reflect.TypeOf(v).Elem()) {
		if f.Type.Kind() == reflect.Slice {
			m[prefix+f.key] = true
		}
	}
	return m
}

// envKeys lists the full variable names v's struct declares.
func envKeys(v any, prefix string) ([]string, error) {
	params, err := env.GetFieldParamsWithOptions(v, env.Options{Prefix: prefix, Environment: map[string]string{}})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	keys := make([]string, len(params))
	for i, p := range params {
		keys[i] = p.Key
	}
	return keys, nil
}

// providerList returns the providers to read, with ID and Prefix set: one
// per listed id, or a single one with the bare prefix (its ID is set from
// PROVIDER after parsing). Bad ids are validate's business; they are skipped
// here.
func providerList(ids []string) []Provider {
	if len(ids) == 0 {
		return []Provider{{Prefix: Prefix}}
	}
	var ps []Provider
	seen := map[string]bool{}
	for _, id := range ids {
		if !validID(id) || seen[id] || globalCollision(id) != "" {
			continue
		}
		seen[id] = true
		ps = append(ps, Provider{ID: id, Prefix: Prefix + strings.ToUpper(id) + "_"})
	}
	return ps
}

// globalCollision says which of id's provider variables (or their _FILE
// twins) would be named like a global variable (or its twin), or "" when
// none is: with id upstream, PORTCULLIS_UPSTREAM_CLIENT_KEY_FILE would be
// both the provider's CLIENT_KEY_FILE and UPSTREAM_CLIENT_KEY's twin.
func globalCollision(id string) string {
	globals := map[string]string{} // full name → what it is
	for _, f := range envFields(reflect.TypeFor[Config]()) {
		globals[Prefix+f.key] = Prefix + f.key
		globals[Prefix+f.key+"_FILE"] = "the _FILE twin of " + Prefix + f.key
	}
	prefix := Prefix + strings.ToUpper(id) + "_"
	for _, f := range envFields(reflect.TypeFor[Provider]()) {
		for _, own := range []string{f.key, f.key + "_FILE"} {
			if g, ok := globals[prefix+own]; ok {
				return fmt.Sprintf("%s would be both its %s and %s", prefix+own, own, g)
			}
		}
	}
	return ""
}

func validID(id string) bool {
	if id == "" {
		return false
	}
	for _, c := range id {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// parse fills v from m with env and turns env's errors into problems naming
// the variable.
func parse(v any, prefix string, m map[string]string) []error {
	err := env.ParseWithOptions(v, env.Options{Environment: m, Prefix: prefix, FuncMap: parsers()})
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return []error{err}
	}
	keys := ownKeys(reflect.TypeOf(v).Elem())
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			out = append(out, e)
			continue
		}
		name := prefix + keys[pe.Name]
		out = append(out, parseProblems(name, m[name], pe)...)
	}
	return out
}

// parseProblems words a parse error for the variable name holding raw.
func parseProblems(name, raw string, pe env.ParseError) []error {
	switch pe.Type {
	case reflect.TypeFor[time.Duration]():
		return []error{problemf(name, "not a duration: %q", raw)}
	case reflect.TypeFor[bool](), reflect.TypeFor[*bool]():
		return []error{problemf(name, "not a boolean (true or false): %q", raw)}
	case reflect.TypeFor[slog.Level]():
		return []error{problemf(name, "must be debug, info, warn or error, got %q", raw)}
	}
	var out []error
	for _, e := range unjoin(pe.Err) {
		out = append(out, problem{name: name, msg: e.Error()})
	}
	return out
}

// ownKeys maps a struct's field names to their variable names without
// prefix.
func ownKeys(t reflect.Type) map[string]string {
	m := map[string]string{}
	for _, f := range envFields(t) {
		m[f.Name] = f.key
	}
	return m
}

// envField is a struct field that has a variable.
type envField struct {
	reflect.StructField
	key string // variable name without prefix
}

// envFields lists t's fields that have a variable, in declaration order.
func envFields(t reflect.Type) []envField {
	var fs []envField
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if key == "" || key == "-" {
			continue
		}
		fs = append(fs, envField{StructField: f, key: key})
	}
	return fs
}

func (c *Config) normalize() {
	c.SessionStore = strings.ToLower(strings.TrimSpace(c.SessionStore))
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	c.UserFrom = strings.ToLower(strings.TrimSpace(c.UserFrom))
	switch c.IdentityHeaders = strings.ToLower(strings.TrimSpace(c.IdentityHeaders)); c.IdentityHeaders {
	case "true":
		c.IdentityHeaders = "on"
	case "false":
		c.IdentityHeaders = "off"
	}
}

func (p *Provider) normalize() {
	p.Preset = strings.ToLower(strings.TrimSpace(p.Preset))
	p.ResponseType = strings.ToLower(strings.TrimSpace(p.ResponseType))
	p.ResponseMode = strings.ToLower(strings.TrimSpace(p.ResponseMode))
	if p.LogoutRedirectURL = strings.TrimSpace(p.LogoutRedirectURL); strings.EqualFold(p.LogoutRedirectURL, "none") {
		p.LogoutRedirectURL = "none"
	}
	p.TokenMethod = strings.ToUpper(strings.TrimSpace(p.TokenMethod))
	p.TokenAuthStyle = strings.ToLower(strings.TrimSpace(p.TokenAuthStyle))
	p.UserinfoMethod = strings.ToUpper(strings.TrimSpace(p.UserinfoMethod))
	p.UserinfoToken = strings.ToLower(strings.TrimSpace(p.UserinfoToken))
	var scopes []string
	for _, s := range p.Scopes {
		scopes = append(scopes, strings.Fields(s)...)
	}
	p.Scopes = scopes
}
