package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestIsPlain(t *testing.T) {
	for _, tt := range []struct {
		p    string
		want bool
	}{
		{"/", true},
		{"/app/page", true},
		{"/a.b/c.d", true},
		{"/static/app-1.2.js", true},
		{"/a/b/", true},
		{"", false},
		{"app", false},
		{"*", false},
		{"/App", false},
		{"/a%20b", false},
		{"/a b", false},
		{"/a\tb", false},
		{"/a\\b", false},
		{"/a;b", false},
		{"/a?b", false},
		{"/a#b", false},
		{"/a//b", false},
		{"/a/./b", false},
		{"/a/..", false},
		{"/a.", false},
		{"/a./b", false},
		{"/é", false},
		{"/a\x00", false},
		{"/a\x7f", false},
	} {
		if got := isPlain(tt.p); got != tt.want {
			t.Errorf("isPlain(%q) = %v; want %v", tt.p, got, tt.want)
		}
	}
}

func TestPathReadings(t *testing.T) {
	for _, tt := range []struct {
		decoded, escaped string
		want             []string // among the readings
	}{
		{"/admin.", "/admin.", []string{"/admin.", "/admin"}},
		{"/admin ", "/admin%20", []string{"/admin ", "/admin%20", "/admin"}},
		{"/admin\t/x", "/admin%09/x", []string{"/admin/x"}},
		{"/%61dmin", "/%2561dmin", []string{"/%61dmin", "/admin"}},
		{"/admin;jsessionid=1", "/admin;jsessionid=1", []string{"/admin"}},
		{"/public/..;/admin", "/public/..;/admin", []string{"/public/..;/admin", "/public/../admin", "/admin"}},
		{"/public\\..\\admin", "/public%5C..%5Cadmin", []string{"/public/../admin", "/admin"}},
		{"/admin#x", "/admin%23x", []string{"/admin"}},
		{"/admin?x", "/admin%3Fx", []string{"/admin"}},
		{"/admin\x00.png", "/admin%00.png", []string{"/admin"}},
		{"/public/.../admin", "/public/.../admin", []string{"/public/.../admin", "/admin"}},
		{"/public/.. /admin", "/public/..%20/admin", []string{"/admin"}},
		{"/a/../b/", "/a/../b/", []string{"/a/../b/", "/b/"}},
		{"/a/b", "/a%2Fb", []string{"/a/b", "/a%2Fb"}},
		{"/admin.%2e", "/admin.%252e", []string{"/admin"}},
	} {
		got, ok := pathReadings(tt.decoded, tt.escaped)
		if !ok {
			t.Errorf("pathReadings(%q, %q): too many readings", tt.decoded, tt.escaped)
			continue
		}
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("pathReadings(%q, %q) = %q; want %q among them", tt.decoded, tt.escaped, got, w)
			}
		}
	}
	// Too long, or too many ways to read it: unknown.
	if _, ok := pathReadings("/"+strings.Repeat("a.", maxReadingLen), "/x"); ok {
		t.Errorf("pathReadings of a path longer than %d: ok; want unknown", maxReadingLen)
	}
	many := "/a%252e;x/..%5cb%2520/c.%00" // every trick at once
	decoded, _ := url.PathUnescape(many)
	if got, ok := pathReadings(decoded, many); ok {
		t.Errorf("pathReadings(%q) = %d readings, ok; want unknown (more than %d)", many, len(got), maxReadings)
	}
}

func TestFoldCase(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/admin", "/admin"},
		{"/ADMIN", "/admin"},
		{"/Admin/Users", "/admin/users"},
		{"/ſecret", "/secret"},    // long s: "S" to .NET's upper-casing
		{"/adm\u0131n", "/admin"}, // dotless i: "I" upper-cased
		{"/\u212Aeys", "/keys"},   // Kelvin sign
		{"/a%C3b\xff", "/a%c3b\xff"},
	} {
		if got, _ := foldCase(tt.in); got != tt.want {
			t.Errorf("foldCase(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestFoldPattern(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		fold    bool
	}{
		{`^/admin(/|$)`, false},
		{`^/api/[^/]+/x$`, false},
		{`^/static/.*\.js$`, false},
		{`^/[a-z0-9-]+/`, false},
		{`\S+\w\d\D`, false},
		{`\W`, true}, // it holds "ſ" and the Kelvin sign, not the "s" and "k" they fold to
		{`(?i)^/Admin`, false},
		{`^/Admin/`, true},
		{`^/api/[A-Z]+$`, true},
		{`^/\x41dmin`, true},
		{`^/\p{Lu}`, true},
		{`^/ſ`, true},
	} {
		if got := foldPattern(regexp.MustCompile(tt.pattern)) != nil; got != tt.fold {
			t.Errorf("foldPattern(%q) != nil is %v; want %v", tt.pattern, got, tt.fold)
		}
	}
}

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

// obfuscate writes a plain path the ways servers undo: op pairs pick a
// trick and a segment. Each result reads as p to some server.
func obfuscate(p string, ops []byte) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	seps := make([]string, len(segs)) // the separator before each segment
	for i := range seps {
		seps[i] = "/"
	}
	tail := ""
	for k := 0; k+1 < len(ops) && k < 16; k += 2 {
		i := int(ops[k+1]) % len(segs)
		seg := segs[i]
		switch ops[k] % 14 {
		case 0:
			segs[i] = strings.ToUpper(seg)
		case 1:
			segs[i] = seg + "."
		case 2:
			segs[i] = seg + "%20"
		case 3:
			segs[i] = seg + "%09"
		case 4:
			segs[i] = seg + "%2e"
		case 5:
			segs[i] = seg + ";x=1"
		case 6, 7: // percent-encode a character, once or twice
			if seg != "" {
				r, n := utf8.DecodeRuneInString(seg)
				if r < utf8.RuneSelf && r != '%' {
					enc := "%" + strings.ToUpper(hexByte(byte(r)))
					if ops[k]%14 == 7 {
						enc = "%25" + strings.ToUpper(hexByte(byte(r)))
					}
					segs[i] = enc + seg[n:]
				}
			}
		case 8: // a detour: zz/../seg
			segs = slices.Insert(segs, i, "zz", "..")
			seps = slices.Insert(seps, i, "/", "/")
		case 9: // Tomcat's detour: zz/..;/seg
			segs = slices.Insert(segs, i, "zz", "..;")
			seps = slices.Insert(seps, i, "/", "/")
		case 10:
			seps[i] = "\\"
		case 11:
			seps[i] = "%5C"
		case 12:
			tail = "#frag"
		case 13:
			tail = "%00.png"
		}
	}
	var b strings.Builder
	for i, seg := range segs {
		b.WriteString(seps[i])
		b.WriteString(seg)
	}
	return b.String() + tail
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

// FuzzPathTricks: a path written another way (obfuscate) never escapes a
// restricting route that the plain path gets, and is public only if the
// plain path is.
func FuzzPathTricks(f *testing.F) {
	f.Add("/admin", []byte{0, 0})
	f.Add("/admin/users", []byte{1, 0, 6, 1})
	f.Add("/api/v1/users", []byte{7, 2, 8, 0})
	f.Add("/forms/x", []byte{12, 0, 2, 0})
	f.Add("/public/x", []byte{9, 1, 10, 1})
	s := routingServer(f, fuzzRoutes...)
	keep := regexp.MustCompile(`[^a-zA-Z0-9/_-]`)
	f.Fuzz(func(t *testing.T, p string, ops []byte) {
		p = "/" + strings.Trim(keep.ReplaceAllString(p, ""), "/")
		if len(p) > 64 || strings.Contains(p, "//") {
			return
		}
		for _, method := range []string{"GET", "POST"} {
			want := s.access.decide([]string{method}, p, p)
			escaped := obfuscate(p, ops)
			decoded, err := url.PathUnescape(escaped)
			if err != nil {
				t.Fatalf("obfuscate(%q) = %q, which doesn't decode: %v", p, escaped, err)
			}
			got := s.access.decide([]string{method}, decoded, escaped)
			for _, rt := range routesOf(want) {
				if !slices.Contains(routesOf(got), rt) {
					t.Errorf("%s %q (read as %q) escapes the route %s", method, escaped, p, rt.Path)
				}
			}
			if got.public && !want.public {
				t.Errorf("%s %q is public; %q is not", method, escaped, p)
			}
		}
	})
}

// FuzzOriginalRequest: the original request is known only when every
// source present reads to one request URI and one method, and what is
// known is a path starting with "/" without fragment, space or control
// character, whose escapes decode.
func FuzzOriginalRequest(f *testing.F) {
	f.Add("/a?b", "", "", "GET", "")
	f.Add("/a", "/a", "https://h/a", "get", "GET")
	f.Add("/a#x", "", "", "", "")
	f.Add("", "", "https://h/%zz", "", "")
	f.Add("/public/x", "/finance", "", "GET", "POST")
	s := routingServer(f, fuzzRoutes...)
	s.trust.ForwardedHeaders = true
	f.Fuzz(func(t *testing.T, origURI, fwdURI, origURL, origMethod, fwdMethod string) {
		r := httptest.NewRequest("GET", "/oauth2/forward-auth", nil)
		set := func(k, v string) {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		set("X-Original-Uri", origURI)
		set("X-Forwarded-Uri", fwdURI)
		set("X-Original-Url", origURL)
		set("X-Original-Method", origMethod)
		set("X-Forwarded-Method", fwdMethod)
		o := s.originalRequest(r)
		if !o.known {
			return
		}
		uri := o.escaped
		for _, src := range []struct{ v, uri string }{{origURI, origURI}, {fwdURI, fwdURI}, {origURL, ""}} {
			if src.v == "" {
				continue
			}
			got := src.uri
			if got == "" {
				var ok bool
				if got, ok = readOriginalURL(src.v); !ok {
					t.Fatalf("known, but X-Original-Url %q is malformed", src.v)
				}
			}
			if p, _, _ := strings.Cut(got, "?"); p != uri {
				t.Fatalf("known as %q, but a source names %q", uri, got)
			}
		}
		if !strings.HasPrefix(uri, "/") || strings.ContainsAny(o.url, "# \t\r\n\x00\x7f") {
			t.Fatalf("known as %q (url %q): want a path without fragment, space or control character", uri, o.url)
		}
		if d, err := url.PathUnescape(uri); err != nil || d != o.decoded {
			t.Fatalf("known as %q, decoded %q; PathUnescape = %q, %v", uri, o.decoded, d, err)
		}
		for _, m := range []string{origMethod, fwdMethod} {
			if m != "" && strings.ToUpper(m) != o.method {
				t.Fatalf("known with method %q, but a source says %q", o.method, m)
			}
		}
	})
}
