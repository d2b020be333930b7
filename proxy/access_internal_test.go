package proxy

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fuzzRoutes are the rules the decision tests and fuzz targets judge by:
// public and restricting, with and without methods, one with upper-case
// letters.
var fuzzRoutes = []Route{
	{Path: regexp.MustCompile(`^/public/`), Public: true},
	{Path: regexp.MustCompile(`^/admin(/|$)`), Rules: Rules{Groups: []string{"admins"}}},
	{Path: regexp.MustCompile(`^/api/v[0-9]+/Users(/|$)`), Rules: Rules{Groups: []string{"hr"}}},
	{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/docs/`), Public: true},
	{Methods: []string{"POST"}, Path: regexp.MustCompile(`^/forms/`), Rules: Rules{Emails: []string{"bob@example.com"}}},
	{Path: regexp.MustCompile(`^/Static/.*\.js$`), Public: true},
	{Path: regexp.MustCompile(`^/api/`), Public: true},
}

// routesOf lists the routes d says apply.
func routesOf(d decision) []*Route {
	var out []*Route
	if d.first != nil {
		out = append(out, d.first)
	}
	return append(out, d.more...)
}

func TestDecide(t *testing.T) {
	s := routingServer(t, fuzzRoutes...)
	admin, users, forms := &s.access.Routes[1], &s.access.Routes[2], &s.access.Routes[4]
	for _, tt := range []struct {
		method, escaped string
		public          bool
		routes          []*Route
	}{
		{"GET", "/public/x", true, nil},
		{"GET", "/other", false, nil},
		{"GET", "/admin", false, []*Route{admin}},
		{"GET", "/ADMIN/x", false, []*Route{admin}},
		{"GET", "/public/..;/admin", false, []*Route{admin}},
		{"GET", "/api/v1/Users/7", false, []*Route{users}},
		{"GET", "/api/v1/users/7", false, []*Route{users}}, // /Users/ to a case-insensitive server
		{"GET", "/API/V1/USERS", false, []*Route{users}},
		{"GET", "/api/v1/things", true, nil},
		{"GET", "/Static/app.js", true, nil},
		{"GET", "/static/app.js", false, nil}, // a case-sensitive server serves another file
		{"GET", "/STATIC/app.js", false, nil},
		{"GET", "/docs/a", true, nil},
		{"HEAD", "/docs/a", true, nil},
		{"POST", "/docs/a", false, nil},
		{"POST", "/forms/a", false, []*Route{forms}},
		{"POST", "/Forms/a", false, []*Route{forms}},
	} {
		decoded, err := url.PathUnescape(tt.escaped)
		if err != nil {
			t.Fatal(err)
		}
		d := s.access.decide([]string{tt.method}, decoded, tt.escaped)
		if d.public != tt.public || !slices.Equal(routesOf(d), tt.routes) {
			t.Errorf("decide(%s %s) = public %v, %d routes; want public %v, %d routes", tt.method, tt.escaped, d.public, len(routesOf(d)), tt.public, len(tt.routes))
		}
	}
	// Unknown: every restricting route applies.
	d := s.access.decide([]string{"GET"}, "/a%2e;x/..\\b%20/c.\x00", "/a%252e;x/..%5cb%2520/c.%00")
	if d.public || !slices.Equal(routesOf(d), s.access.restricting) {
		t.Errorf("decide of a path with too many readings = public %v, %d routes; want every restricting route (%d)", d.public, len(routesOf(d)), len(s.access.restricting))
	}
}

// TestDecideAllocations: a plain path is judged without allocating.
func TestDecideAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts don't hold under the race detector (sync.Pool drops at random)")
	}
	s := routingServer(t, fuzzRoutes...)
	h := http.Header{"Accept": {"text/html"}, "User-Agent": {"Mozilla/5.0"}, "Cookie": {"a=b"}, "X-Requested-With": {"XMLHttpRequest"}}
	if n := testing.AllocsPerRun(100, func() {
		var buf [4]string
		s.access.decide(s.access.methods(buf[:0], "GET", h), "/app/page", "/app/page")
	}); n != 0 {
		t.Errorf("decide(GET /app/page) allocates %v times; want 0", n)
	}
}

// checkDecision checks d against the readings of the path, judged one by
// one the plain way (the first route matching each): every restricting
// route of a reading applies, and d is public only if every reading is.
func checkDecision(t *testing.T, s *Server, method, decoded, escaped string, d decision) {
	t.Helper()
	plain, ok := pathReadings(decoded, escaped)
	if !ok {
		if d.public || !slices.Equal(routesOf(d), s.access.restricting) {
			t.Fatalf("%s %q: too many readings, but not every restricting route applies", method, escaped)
		}
		return
	}
	applied := routesOf(d)
	check := func(p string, folded bool) {
		for i := range s.access.Routes {
			rt := &s.access.Routes[i]
			if !rt.matches(method, p, folded) {
				continue
			}
			if !rt.Public && !slices.Contains(applied, rt) {
				t.Fatalf("%s %q: reading %q (folded %v) matches restricting route %s, which does not apply", method, escaped, p, folded, rt.Path)
			}
			if rt.Public {
				return
			}
			break
		}
		if d.public {
			t.Fatalf("%s %q: public, but reading %q (folded %v) is not", method, escaped, p, folded)
		}
	}
	for _, p := range plain {
		check(p, false)
		f, _ := foldCase(p)
		check(f, true)
	}
}

// FuzzDecide: for any path, every reading's restricting route applies and
// public means every reading is public.
func FuzzDecide(f *testing.F) {
	for _, seed := range []string{"/admin", "/ADMIN.", "/public/..;/admin", "/%2561dmin", "/admin%00", "/public/x", "/api/v1/users", "/Static/a.js", "/docs/%2e%2e/admin"} {
		f.Add("GET", seed)
	}
	s := routingServer(f, fuzzRoutes...)
	f.Fuzz(func(t *testing.T, method, escaped string) {
		if len(escaped) > 512 || method == "" {
			return
		}
		method = strings.ToUpper(method)
		decoded, err := url.PathUnescape(escaped)
		if err != nil {
			return // an undecodable path is unknown to forward-auth, never served in proxy mode
		}
		d := s.access.decide([]string{method}, decoded, escaped)
		// The plain regex match of the plain path (decoded, dots
		// resolved): its restricting route applies, whatever else.
		plain, _ := resolveDots(decoded)
		for i := range s.access.Routes {
			if rt := &s.access.Routes[i]; rt.matches(method, plain, false) {
				if !rt.Public && !slices.Contains(routesOf(d), rt) && !slices.Equal(routesOf(d), s.access.restricting) {
					t.Fatalf("%s %q: the plain path %q gets route %s, which does not apply", method, escaped, plain, rt.Path)
				}
				break
			}
		}
		checkDecision(t, s, method, decoded, escaped, d)
	})
}
