package e2e_test

import (
	"bufio"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/config"
)

// examplesDir holds the ingress and deployment examples. examples/providers
// has its own checks.
const examplesDir = "../examples"

// exampleEnvs are the Portcullis settings of each runnable example: its
// environment files first, then the variables its manifests set, later
// ones winning. Secrets taken from a Kubernetes Secret get a stand-in.
var exampleEnvs = map[string][]string{
	"docker-compose": {"docker-compose/portcullis.env", "docker-compose/docker-compose.yml"},
	"traefik":        {"docker-compose/portcullis.env", "traefik/compose.yml"},
	"caddy":          {"docker-compose/portcullis.env", "caddy/compose.yml"},
	"envoy":          {"docker-compose/portcullis.env", "envoy/compose.yml"},
	"kubernetes":     {"kubernetes/portcullis-sidecar.yaml"},
	"ingress-nginx":  {"ingress-nginx/ingress.yaml"},
	"upstreams":      {"upstreams/portcullis.env"},
}

var (
	envFileLine   = regexp.MustCompile(`^(PORTCULLIS_[A-Z0-9_]+)=(.*)$`)
	composeLine   = regexp.MustCompile(`^\s+(PORTCULLIS_[A-Z0-9_]+):\s*(.*)$`)
	k8sName       = regexp.MustCompile(`^\s*-\s+name:\s*(PORTCULLIS_[A-Z0-9_]+)\s*$`)
	k8sValue      = regexp.MustCompile(`^\s*value:\s*(.*)$`)
	k8sFlow       = regexp.MustCompile(`\{name:\s*(PORTCULLIS_[A-Z0-9_]+),\s*value:\s*("[^"]*"|[^}]*)\}`)
	k8sFlowFrom   = regexp.MustCompile(`-\s+name:\s*(PORTCULLIS_[A-Z0-9_]+)\s*$`)
	settingName   = regexp.MustCompile(`PORTCULLIS_[A-Z0-9_]*[A-Z0-9]`)
	secretStandIn = map[string]string{
		"PORTCULLIS_COOKIE_SECRET": "a-stand-in-cookie-secret-of-32-bytes",
		"PORTCULLIS_CLIENT_SECRET": "a-stand-in-client-secret",
	}
)

// unquote strips a trailing comment and YAML quotes from a value.
func unquote(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		if end := strings.Index(v[1:], `"`); end >= 0 {
			return v[1 : end+1]
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return strings.Trim(v, `'`)
}

// readSettings returns the PORTCULLIS_ variables set in file, an env file
// or a compose or Kubernetes manifest. A variable whose value comes from a
// Kubernetes Secret (valueFrom) gets a stand-in.
func readSettings(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(examplesDir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	pending := "" // a "- name:" waiting for its value on the next line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if pending != "" {
			if m := k8sValue.FindStringSubmatch(line); m != nil {
				env[pending] = unquote(m[1])
			} else if strings.Contains(line, "valueFrom:") {
				env[pending] = secretStandIn[pending]
			}
			pending = ""
			continue
		}
		switch {
		case envFileLine.MatchString(line):
			m := envFileLine.FindStringSubmatch(line)
			env[m[1]] = m[2]
		case k8sFlow.MatchString(line):
			m := k8sFlow.FindStringSubmatch(line)
			env[m[1]] = unquote(m[2])
		case k8sName.MatchString(line):
			pending = k8sName.FindStringSubmatch(line)[1]
		case k8sFlowFrom.MatchString(line):
			pending = k8sFlowFrom.FindStringSubmatch(line)[1]
		case composeLine.MatchString(line):
			m := composeLine.FindStringSubmatch(line)
			env[m[1]] = unquote(m[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// TestExampleSettingsLoad loads each example's Portcullis settings with the
// real configuration loader: every value parses and validates, and every
// variable the example sets is one Portcullis reads. Files named by _FILE
// variables are replaced by stand-ins.
func TestExampleSettingsLoad(t *testing.T) {
	t.Parallel()
	for name, files := range exampleEnvs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for _, f := range files {
				for k, v := range readSettings(t, f) {
					env[k] = v
				}
			}
			if len(env) < 5 {
				t.Fatalf("found only %d settings in %v: %v", len(env), files, env)
			}
			dir := t.TempDir()
			for k := range env {
				base, ok := strings.CutSuffix(k, "_FILE")
				if !ok {
					continue
				}
				path := filepath.Join(dir, base)
				if err := os.WriteFile(path, []byte(secretStandIn[base]+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				env[k] = path
			}
			asked := map[string]bool{}
			_, err := config.Load(func(k string) string {
				asked[k] = true
				return env[k]
			})
			if err != nil {
				t.Errorf("%v: the settings do not load:\n%v", files, err)
			}
			for k := range env {
				if !asked[k] {
					t.Errorf("%v sets %s, which Portcullis does not read", files, k)
				}
			}
		})
	}
}

// testVariables are read by the tests, not by Portcullis.
var testVariables = []string{"PORTCULLIS_WRK", "PORTCULLIS_WRK_DURATION", "PORTCULLIS_NGINX", "PORTCULLIS_CHROMIUM", "PORTCULLIS_SCREENSHOTS"}

// TestExamplesNameRealSettings checks that every PORTCULLIS_ variable the
// examples and their READMEs mention, anywhere, is one Portcullis reads.
func TestExamplesNameRealSettings(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, name := range testVariables {
		known[name] = true
	}
	config.Load(func(k string) string {
		known[k] = true
		if k == "PORTCULLIS_PROVIDER" {
			return "oauth2"
		}
		return ""
	})
	if len(known) < 40 {
		t.Fatalf("the loader asked for only %d variables", len(known))
	}
	var files []string
	filepath.WalkDir(examplesDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "providers" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if len(files) < 10 {
		t.Fatalf("found only %d example files: %v", len(files), files)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var unknown []string
		for _, name := range settingName.FindAllString(string(b), -1) {
			if !known[name] && !slices.Contains(unknown, name) {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) > 0 {
			t.Errorf("%s names %v, which Portcullis does not read", path, unknown)
		}
	}
}

// identityNames are the identity headers of the SPEC's table (with the
// Caddy and Traefik examples' X-User-Attr-Dept): the app trusts them, so
// only Portcullis may set them.
var identityNames = []string{
	"X-User", "X-User-Id", "X-User-Provider", "X-Email", "X-User-Name", "X-User-Given-Name",
	"X-User-Family-Name", "X-User-Groups", "X-User-Attr-Dept",
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups",
	"X-Forwarded-Access-Token", "X-Auth-Request-User", "X-Auth-Request-Email",
	"X-Auth-Request-Preferred-Username", "X-Auth-Request-Groups", "X-Auth-Request-Access-Token",
	"X-Portcullis-Assertion",
}

// foldedSpellings are the names a client may send for name so that an app
// reads name: CGI, WSGI, Rack and PHP turn each "-" into "_" and keep a
// "_" (X-User_Id and X_User-Id are X-User-Id there), and PHP also turns a
// "." into "_" (X.User); in any case, and as a Go server (Caddy, Traefik)
// stores them, canonicalized.
func foldedSpellings(name string) []string {
	var out []string
	add := func(s string) {
		for _, v := range []string{s, strings.ToLower(s), strings.ToUpper(s)} {
			if v = textproto.CanonicalMIMEHeaderKey(v); !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	add(name)
	for _, sep := range []string{"_", "."} {
		add(strings.ReplaceAll(name, "-", sep))
		for i := range len(name) {
			if name[i] == '-' { // one separator changed, the others kept
				add(name[:i] + sep + name[i+1:])
			}
		}
	}
	return out
}

// innocentNames are headers the examples must pass along.
var innocentNames = []string{
	"Accept", "Cookie", "Authorization", "Content-Type", "User-Agent", "X-Requested-With",
	"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Csrf-Token",
}

// TestTraefikStripsEverySpelling: Traefik's forwardAuth deletes every
// request header whose name authResponseHeadersRegex matches (Go's regexp,
// over the canonicalized names) before it copies Portcullis's answer, so
// the example's regex must match every spelling of every identity header
// that an app may fold into it, and no header the app needs.
func TestTraefikStripsEverySpelling(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(examplesDir, "traefik/dynamic.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*authResponseHeadersRegex:\s*(".*")\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("traefik/dynamic.yml has no authResponseHeadersRegex")
	}
	expr, err := strconv.Unquote(string(m[1]))
	if err != nil {
		t.Fatalf("authResponseHeadersRegex %s: %v", m[1], err)
	}
	re := regexp.MustCompile(expr)
	for _, name := range identityNames {
		for _, sp := range foldedSpellings(name) {
			if !re.MatchString(sp) {
				t.Errorf("authResponseHeadersRegex does not match %s: a client's %s reaches the app", sp, sp)
			}
		}
	}
	for _, name := range innocentNames {
		if re.MatchString(name) {
			t.Errorf("authResponseHeadersRegex matches %s, which the app needs", name)
		}
	}
}

// caddyDeletes reports whether Caddy's request_header -pattern deletes
// the header stored as name, as Caddy's headers handler does (HeaderOps
// in modules/caddyhttp/headers): case-insensitive, "*x*" for names
// containing x, "*x" ending in x, "x*" starting with x, else the one name.
func caddyDeletes(pattern, name string) bool {
	p, n := strings.ToLower(pattern), strings.ToLower(name)
	switch {
	case len(p) > 1 && strings.HasPrefix(p, "*") && strings.HasSuffix(p, "*"):
		return strings.Contains(n, p[1:len(p)-1])
	case strings.HasPrefix(p, "*"):
		return strings.HasSuffix(n, p[1:])
	case strings.HasSuffix(p, "*"):
		return strings.HasPrefix(n, p[:len(p)-1])
	}
	return textproto.CanonicalMIMEHeaderKey(pattern) == name
}

// TestCaddyStripsEverySpelling: the Caddyfile's request_header deletions,
// run before forward_auth copies Portcullis's answer, remove every
// spelling of every identity header that an app may fold into it, and no
// header the app needs.
func TestCaddyStripsEverySpelling(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(examplesDir, "caddy/Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	var deletes []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "request_header" && strings.HasPrefix(f[1], "-") {
			deletes = append(deletes, f[1][1:])
		}
	}
	if len(deletes) == 0 {
		t.Fatal("caddy/Caddyfile deletes no request header")
	}
	deleted := func(name string) bool {
		return slices.ContainsFunc(deletes, func(p string) bool { return caddyDeletes(p, name) })
	}
	for _, name := range identityNames {
		for _, sp := range foldedSpellings(name) {
			if !deleted(sp) {
				t.Errorf("no request_header -… of the Caddyfile deletes %s: a client's %s reaches the app", sp, sp)
			}
		}
	}
	for _, name := range innocentNames {
		if deleted(name) {
			t.Errorf("the Caddyfile deletes %s, which the app needs", name)
		}
	}
}
