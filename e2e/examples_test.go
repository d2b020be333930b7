package e2e_test

import (
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// examplesDir holds the ingress and deployment examples. Their settings
// are checked in the main package's tests (TestExampleSettingsLoad),
// where the providers' checks are.
const examplesDir = "../examples"

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
