package proxy

import (
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
