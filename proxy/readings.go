package proxy

import (
	"net/url"
	"path"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Servers read one request path in several ways: Go and most routers
// decode it once and resolve "." and ".."; IIS also decodes twice, takes
// "\" for "/", ignores a segment's trailing dots and spaces and the case of
// letters; Tomcat drops ";parameters" from each segment; C code stops at a
// NUL; some apps stop at a decoded "?" or "#". A route rule is checked
// against every such reading (see decide), so a restricting rule can't be
// passed by writing its path another way, and a public one must hold
// however the path is read.

const (
	// maxReadings bounds the readings listed for one path. A path that
	// reads in more ways (it takes several tricks at once) is judged as
	// an unknown path: not public, every restricting route applies.
	maxReadings = 32
	// maxReadingLen bounds the length of a path whose readings are
	// listed: a longer one that isn't plain is judged as unknown too, so
	// listing readings never costs a request more than about a megabyte
	// (maxReadings × the steps × maxReadingLen).
	maxReadingLen = 4096
)

// isPlain reports whether p reads the same way to every server: it starts
// with "/" and has no escape, backslash, ";", upper-case or non-ASCII
// letter, space or control character, "?", "#", empty segment, and no
// segment that ends in "." (which covers "." and ".." too). Most paths
// are plain; their only reading is themselves, found without allocating.
func isPlain(p string) bool {
	plain, upper := plainBut(p)
	return plain && !upper
}

// plainBut reports whether p is plain but for ASCII upper-case letters
// (upper says it has some): its readings are then itself and its
// lower-cased form.
func plainBut(p string) (plain, upper bool) {
	if p == "" || p[0] != '/' {
		return false, false
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c <= ' ' || c >= 0x7f:
			return false, false
		case c == '%' || c == '\\' || c == ';' || c == '?' || c == '#':
			return false, false
		case c == '/':
			if i+1 < len(p) && p[i+1] == '/' {
				return false, false
			}
		case c == '.':
			if i+1 == len(p) || p[i+1] == '/' {
				return false, false
			}
		}
	}
	return true, upper
}

// pathReadings lists the readings of a path that is not plain: decoded
// (as Go reads it) and escaped (as sent), and every string reached from
// them by any number of these steps, each a way some server reads a path:
//
//   - "." and ".." segments resolved, doubled slashes merged;
//   - percent-decoded once more (an invalid escape stays as it is);
//   - "\" taken for "/";
//   - ";parameters" removed from each segment;
//   - each segment's trailing dots and whitespace removed;
//   - cut at a "?", "#" or NUL in it (decoded ones, or the raw "#" that
//     Go's server keeps in a path and nginx and most apps stop at).
//
// The readings are not case-folded (see foldReadings). ok is false when
// the path is too long, has more than maxReadings readings or a reading
// that isn't UTF-8: it is then to be judged as unknown.
func pathReadings(decoded, escaped string) (out []string, ok bool) {
	if len(decoded) > maxReadingLen || len(escaped) > maxReadingLen {
		return nil, false
	}
	out = make([]string, 0, 8)
	add := func(p string) bool {
		for _, q := range out {
			if q == p {
				return true
			}
		}
		out = append(out, p)
		// A reading that isn't UTF-8 (overlong "/" as C0 AF, which old
		// IIS decoded) can be read in ways no step here follows.
		return len(out) <= maxReadings && utf8.ValidString(p)
	}
	if !add(decoded) || !add(escaped) {
		return nil, false
	}
	for i := 0; i < len(out); i++ {
		p := out[i]
		for _, step := range readingSteps {
			if q, changed := step(p); changed && !add(q) {
				return nil, false
			}
		}
	}
	return out, true
}

// readingSteps are the steps of pathReadings. Each returns its input and
// false when it changes nothing.
var readingSteps = [...]func(string) (string, bool){
	resolveDots, decodeOnce, backslashes, dropParams, trimSegments, cutAtStop,
}

// resolveDots resolves "." and ".." segments and doubled slashes as the
// upstream's router would; a trailing slash is kept.
func resolveDots(p string) (string, bool) {
	if p == "" || p[0] != '/' {
		return p, false
	}
	c := path.Clean(p) // p itself when it is clean: no allocation
	if strings.HasSuffix(p, "/") && c != "/" {
		if len(p) == len(c)+1 && p[:len(c)] == c {
			return p, false // clean but for the trailing slash it keeps
		}
		c += "/"
	}
	return c, c != p
}

// decodeOnce percent-decodes p once, leniently: a "%" not followed by
// two hex digits stays as it is, as servers that decode twice leave it.
func decodeOnce(p string) (string, bool) {
	i := strings.IndexByte(p, '%')
	if i < 0 {
		return p, false
	}
	buf := make([]byte, 0, len(p))
	buf = append(buf, p[:i]...)
	changed := false
	for ; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			buf = append(buf, unhex(p[i+1])<<4|unhex(p[i+2]))
			i += 2
			changed = true
			continue
		}
		buf = append(buf, p[i])
	}
	if !changed {
		return p, false
	}
	return string(buf), true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// backslashes reads "\" as "/", as Windows servers do.
func backslashes(p string) (string, bool) {
	if strings.IndexByte(p, '\\') < 0 {
		return p, false
	}
	return strings.ReplaceAll(p, "\\", "/"), true
}

// dropParams removes ";parameters" from each segment, as servlet
// containers do ("/public/..;/admin" is /admin to Tomcat).
func dropParams(p string) (string, bool) {
	if strings.IndexByte(p, ';') < 0 {
		return p, false
	}
	return mapSegments(p, func(seg string) string {
		seg, _, _ = strings.Cut(seg, ";")
		return seg
	}), true
}

// trimSegments removes each segment's trailing dots and whitespace, as
// Windows does with file names ("/admin." and "/admin%20" are /admin to
// IIS). A segment of dots alone ("..." or ".. ") is kept as "..", the
// reading that climbs: of the ways to read it, that is the one that
// reaches furthest.
func trimSegments(p string) (string, bool) {
	if !endsInJunk(p) {
		return p, false
	}
	changed := false
	out := mapSegments(p, func(seg string) string {
		t := strings.TrimRightFunc(seg, isTrailingJunk)
		if t == seg {
			return seg
		}
		if t == "" {
			switch n := strings.Count(seg, "."); {
			case n == 1:
				t = "."
			case n > 1:
				t = ".."
			}
		}
		if t != seg {
			changed = true
		}
		return t
	})
	if !changed {
		return p, false
	}
	return out, true
}

// endsInJunk reports whether some segment of p ends in a dot or
// whitespace (trimSegments has work to do).
func endsInJunk(p string) bool {
	start := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		if r, _ := utf8.DecodeLastRuneInString(p[start:i]); i > start && isTrailingJunk(r) {
			return true
		}
		start = i + 1
	}
	return false
}

// isTrailingJunk reports a character Windows ignores at the end of a
// file name: a dot or whitespace (control characters included).
func isTrailingJunk(r rune) bool {
	return r == '.' || r <= ' ' || r == 0x7f || unicode.IsSpace(r)
}

// cutAtStop cuts p at the first "?", "#" or NUL: a server that decodes the
// path and parses it again takes what follows for a query or a fragment,
// and C code stops at a NUL.
func cutAtStop(p string) (string, bool) {
	i := strings.IndexAny(p, "?#\x00")
	if i < 0 {
		return p, false
	}
	return p[:i], true
}

// mapSegments applies f to each "/"-separated segment of p.
func mapSegments(p string, f func(string) string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		segs[i] = f(seg)
	}
	return strings.Join(segs, "/")
}

// foldCase maps each letter of p to the lower case of its upper case
// ("ſ" and "S" to "s", "ı" and "I" to "i", the Kelvin sign to "k"), as
// case-insensitive servers compare names; bytes that are not UTF-8 stay
// as they are. It returns p and false when that changes nothing.
func foldCase(p string) (string, bool) {
	i := 0
	for ; i < len(p); i++ {
		c := p[i]
		if c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
			break
		}
	}
	if i == len(p) {
		return p, false
	}
	var b strings.Builder
	b.Grow(len(p))
	b.WriteString(p[:i])
	for i < len(p) {
		r, size := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && size <= 1 {
			b.WriteByte(p[i])
			i++
			continue
		}
		b.WriteRune(foldRune(r))
		i += size
	}
	if b.String() == p {
		return p, false
	}
	return b.String(), true
}

// foldRune is the lower case of r's upper case.
func foldRune(r rune) rune {
	return unicode.ToLower(unicode.ToUpper(r))
}

// foldReadings returns the case-folded form of each reading, or nil when
// folding changes none of them (then the readings are their own folded
// forms).
func foldReadings(plain []string) []string {
	var out []string
	for i, p := range plain {
		f, changed := foldCase(p)
		if changed && out == nil {
			out = make([]string, 0, len(plain))
			for _, q := range plain[:i] {
				out = appendNew(out, q)
			}
		}
		if out != nil {
			out = appendNew(out, f)
		}
	}
	return out
}

func appendNew(list []string, s string) []string {
	for _, q := range list {
		if q == s {
			return list
		}
	}
	return append(list, s)
}

// foldPattern returns the case-insensitive form of a route's pattern, to
// match case-folded readings with, or nil when re answers alike on every
// case-folded path in either form (its letters are lower-case: the usual
// pattern). "^/Admin/" is /admin/ to a case-insensitive server, and a
// case-folded path never holds the "A".
func foldPattern(re *regexp.Regexp) *regexp.Regexp {
	src := re.String()
	tree, err := syntax.Parse(src, syntax.Perl)
	if err != nil || !caseSensitive(tree) {
		return nil
	}
	fold, err := regexp.Compile("(?i)" + src)
	if err != nil {
		return nil
	}
	return fold
}

// caseSensitive reports whether re names a character that case folding
// changes (an upper-case letter, "ſ") without the character it folds to,
// so that re and its case-insensitive form may answer differently on a
// case-folded path.
func caseSensitive(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			for _, r := range re.Rune {
				if foldRune(r) != r {
					return true
				}
			}
		}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if classFoldsOut(re.Rune, re.Rune[i], re.Rune[i+1]) {
				return true
			}
		}
	}
	for _, sub := range re.Sub {
		if caseSensitive(sub) {
			return true
		}
	}
	return false
}

// classFoldsOut reports whether some rune of lo..hi (in class, pairs of
// bounds) folds to a rune outside the class. Only runes with a case
// mapping (unicode.CaseRanges) can.
func classFoldsOut(class []rune, lo, hi rune) bool {
	for _, cr := range unicode.CaseRanges {
		a, b := max(lo, rune(cr.Lo)), min(hi, rune(cr.Hi))
		for r := a; r <= b; r++ {
			if f := foldRune(r); f != r && !inClass(class, f) {
				return true
			}
		}
	}
	return false
}

func inClass(class []rune, r rune) bool {
	for i := 0; i+1 < len(class); i += 2 {
		if class[i] <= r && r <= class[i+1] {
			return true
		}
	}
	return false
}

// escapedPath is u's path as sent, without the work of EscapedPath when
// it is plain.
func escapedPath(u *url.URL) string {
	if u.RawPath == "" && isPlain(u.Path) {
		return u.Path
	}
	return u.EscapedPath()
}
