package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Claims says where each identity field is in the provider's userinfo
// answer. Each field is a list of dot paths tried in order; the first that
// gives a non-empty value wins. An empty list maps nothing: call
// WithDefaults to fill empty lists with the defaults of the SPEC.
type Claims struct {
	ID, Email, EmailVerified, Name, GivenName, FamilyName []string
	Username, Groups, Picture, Locale                     []string
	// Attributes are the CLAIM_ATTRIBUTES, sent as X-User-Attr-<Name>.
	Attributes []Attribute
	// Values are the CLAIM_VALUES: lower-case field or attribute name →
	// provider value → output value. Unmapped values pass through.
	Values map[string]map[string]string
}

// An Attribute is one CLAIM_ATTRIBUTES entry: a header name and the dot
// paths of its value.
type Attribute struct {
	Name  string
	Paths []string
}

// WithDefaults returns a copy of c with every empty path list set to its
// default: ID "sub","id"; Email "email"; EmailVerified "email_verified";
// Name "name"; GivenName "given_name"; FamilyName "family_name"; Username
// "preferred_username"; Groups "groups"; Picture "picture"; Locale "locale".
func (c Claims) WithDefaults() Claims {
	def := func(paths []string, d ...string) []string {
		if len(paths) == 0 {
			return d
		}
		return append([]string(nil), paths...)
	}
	c.ID = def(c.ID, "sub", "id")
	c.Email = def(c.Email, "email")
	c.EmailVerified = def(c.EmailVerified, "email_verified")
	c.Name = def(c.Name, "name")
	c.GivenName = def(c.GivenName, "given_name")
	c.FamilyName = def(c.FamilyName, "family_name")
	c.Username = def(c.Username, "preferred_username")
	c.Groups = def(c.Groups, "groups")
	c.Picture = def(c.Picture, "picture")
	c.Locale = def(c.Locale, "locale")
	return c
}

// isFieldName reports whether name is one CLAIM_VALUES accepts besides attribute names.
func isFieldName(name string) bool {
	switch name {
	case "id", "email", "name", "given_name", "family_name", "username", "groups", "picture", "locale":
		return true
	}
	return false
}

// Map maps a userinfo document, decoded with json.Decoder.UseNumber, onto an
// Identity, using c's paths as they are. Values are passed on exactly as the
// provider sent them (JSON numbers as integers when integral), or not at
// all: a value holding a control character, invalid UTF-8 or white space at
// either end counts as absent (see cleanValue); display names alone are
// cleaned instead (see cleanText). It fails with an *Error of kind
// ErrBadResponse when no user id is found, or when the id claim holds such
// a value.
func (c Claims) Map(doc map[string]any) (*Identity, error) {
	id, err := c.read(doc)
	if err != nil {
		return nil, err
	}
	if id.ID == "" {
		return nil, c.noIDError()
	}
	return id, nil
}

// withEndpoint names the provider and endpoint of a claims error (from
// Claims.read), which knows neither.
func withEndpoint(err error, provider, endpoint string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Provider, c.Endpoint = provider, endpoint
		return &c
	}
	return err
}

func (c Claims) noIDError() *Error {
	return &Error{
		Kind:        ErrBadResponse,
		Description: fmt.Sprintf("no user id found at CLAIM_ID %q", strings.Join(c.ID, ",")),
	}
}

// identity maps doc without requiring an id; an id claim that can't be
// passed on leaves the id empty.
func (c Claims) identity(doc map[string]any) *Identity {
	id, _ := c.read(doc)
	return id
}

// read maps doc without requiring an id. Its error, of kind ErrBadResponse,
// says that the id claim holds a value that can't be passed on; the
// Identity then has no id.
func (c Claims) read(doc map[string]any) (*Identity, error) {
	uid, err := c.userID(doc)
	id := &Identity{
		ID:         uid,
		Email:      c.first(doc, c.Email, "email"),
		Name:       c.text(doc, c.Name, "name"),
		GivenName:  c.text(doc, c.GivenName, "given_name"),
		FamilyName: c.text(doc, c.FamilyName, "family_name"),
		Username:   c.first(doc, c.Username, "username"),
		Picture:    c.first(doc, c.Picture, "picture"),
		Locale:     c.first(doc, c.Locale, "locale"),
		Groups:     c.groups(doc),
	}
	for _, p := range c.EmailVerified {
		if v, ok := Lookup(doc, p); ok {
			b := verified(v)
			id.EmailVerified = &b
			break
		}
	}
	for _, a := range c.Attributes {
		if v := c.first(doc, a.Paths, strings.ToLower(a.Name)); v != "" {
			if id.Attributes == nil {
				id.Attributes = make(map[string]string)
			}
			id.Attributes[a.Name] = v
		}
	}
	return id, err
}

// userID returns the user id at the first of the CLAIM_ID paths that holds
// one. An id holding a control character is an error, not a reason to try
// the next path: it names no one.
func (c Claims) userID(doc map[string]any) (string, error) {
	for _, p := range c.ID {
		v, ok := Lookup(doc, p)
		if !ok {
			continue
		}
		s, ok := stringValue(v)
		if !ok || s == "" {
			continue
		}
		if cleanValue(s) == "" {
			return "", &Error{
				Kind:        ErrBadResponse,
				Description: fmt.Sprintf("the user id at CLAIM_ID %q holds a control character, invalid UTF-8 or white space at either end", p),
			}
		}
		return c.value("id", s), nil
	}
	return "", nil
}

// first returns the first value at paths that can be passed on as it is
// (see cleanValue), through the CLAIM_VALUES of name; a value that can't
// counts as absent.
func (c Claims) first(doc map[string]any, paths []string, name string) string {
	for _, p := range paths {
		v, ok := Lookup(doc, p)
		if !ok {
			continue
		}
		if s, ok := stringValue(v); ok {
			if s = cleanValue(s); s != "" {
				return c.value(name, s)
			}
		}
	}
	return ""
}

// text is first for display names, which are shown rather than compared:
// they are cleaned (see cleanText) instead of left out. A path that is not
// a key may join several with "+" ("first_name+last_name"): their values,
// separated by a space.
func (c Claims) text(doc map[string]any, paths []string, name string) string {
	for _, p := range paths {
		if s := joinedText(doc, p); s != "" {
			return c.value(name, s)
		}
	}
	return ""
}

// joinedText is the cleaned display text at path, or at each of its
// "+"-joined parts when path itself leads nowhere.
func joinedText(doc map[string]any, path string) string {
	if v, ok := Lookup(doc, path); ok || !strings.Contains(path, "+") {
		s, _ := stringValue(v)
		return cleanText(s)
	}
	var parts []string
	for part := range strings.SplitSeq(path, "+") {
		if s := joinedText(doc, part); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// value applies the CLAIM_VALUES of name to s.
func (c Claims) value(name, s string) string {
	if out, ok := c.Values[name][s]; ok {
		return cleanValue(out)
	}
	return s
}

// groups returns the groups at the first path holding any: an array (its
// elements as strings, each taken exactly as sent) or a comma-separated
// string (spaces around the commas separate; nothing else is trimmed).
func (c Claims) groups(doc map[string]any) []string {
	for _, p := range c.Groups {
		v, ok := Lookup(doc, p)
		if !ok {
			continue
		}
		var out []string
		add := func(s string) {
			if g := c.group(s); g != "" {
				out = append(out, g)
			}
		}
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if s, ok := stringValue(e); ok {
					add(s)
				}
			}
		default:
			if s, ok := stringValue(v); ok {
				for part := range strings.SplitSeq(s, ",") {
					add(strings.Trim(part, " "))
				}
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// group returns one group name as sent, through its CLAIM_VALUES; "" when
// the name is to be left out: empty, not passed on as it is (see
// cleanValue: "admins\x00" and "admins " are not "admins"), or holding a
// comma, because X-User-Groups is comma-joined and "book-club,admins" would
// read upstream as two groups.
func (c Claims) group(s string) string {
	s = cleanValue(s)
	if s == "" || strings.Contains(s, ",") {
		return ""
	}
	return c.value("groups", s)
}

// Lookup reads the value at a dot path in a JSON document decoded into
// map[string]any and []any. A segment that is a decimal number indexes an
// array ("emails.0.value"). Keys that contain dots work: at each level the
// longest run of segments that is an existing key is taken
// ("https://slack.com/team_id"). It reports false when the path leads
// nowhere or is empty.
func Lookup(doc any, path string) (any, bool) {
	if path == "" {
		return nil, false
	}
	// ends[i] is the end offset of segment i in path.
	var ends []int
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			ends = append(ends, i)
		}
	}
	ends = append(ends, len(path))
	cur := doc
	start, seg := 0, 0 // offset and index of the next segment
	for seg < len(ends) {
		switch node := cur.(type) {
		case map[string]any:
			next, ok := -1, false
			if len(ends)-seg <= len(node) {
				// Few segments left: try runs from the longest.
				for j := len(ends) - 1; j >= seg; j-- {
					if v, found := node[path[start:ends[j]]]; found {
						cur, next, ok = v, j, true
						break
					}
				}
			} else {
				// Few keys: find the longest key that is a run.
				best := -1
				for k, v := range node {
					if len(k) <= best-start || !strings.HasPrefix(path[start:], k) {
						continue
					}
					if end := start + len(k); end == len(path) || path[end] == '.' {
						best, cur, ok = end, v, true
					}
				}
				if ok {
					for next = seg; ends[next] != best; next++ {
					}
				}
			}
			if !ok {
				return nil, false
			}
			seg = next + 1
		case []any:
			i, err := strconv.Atoi(path[start:ends[seg]])
			if err != nil || i < 0 || i >= len(node) || !isDigits(path[start:ends[seg]]) {
				return nil, false
			}
			cur = node[i]
			seg++
		default:
			return nil, false
		}
		if seg < len(ends) {
			start = ends[seg-1] + 1
		}
	}
	return cur, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// stringValue turns a scalar JSON value into text: strings as they are,
// numbers as integers when integral (never in exponent form), booleans as
// "true"/"false". Objects, arrays and null give false.
func stringValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return numberText(string(v)), true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	}
	return "", false
}

// maxExponent bounds the exponents numberText expands; larger ones keep the
// provider's text rather than print a thousand zeros.
const maxExponent = 1000

// numberText writes a JSON number in plain decimal: 5.83231e5 → "583231",
// 2.02593498e+08 → "202593498", 1.5e-1 → "0.15". Digits are never rounded,
// so integers beyond 2^53 stay exact. Text that is not a JSON number, or has
// an exponent beyond ±1000, is returned as it is.
func numberText(s string) string {
	m, neg := strings.CutPrefix(s, "-")
	exp := 0
	if i := strings.IndexAny(m, "eE"); i >= 0 {
		e := m[i+1:]
		if len(e) > 0 && (e[0] == '+' || e[0] == '-') {
			if !isDigits(e[1:]) {
				return s
			}
		} else if !isDigits(e) {
			return s
		}
		n, err := strconv.Atoi(e)
		if err != nil || n > maxExponent || n < -maxExponent {
			return s
		}
		exp, m = n, m[:i]
	}
	intPart, frac, hasPoint := strings.Cut(m, ".")
	if !isDigits(intPart) || (hasPoint && !isDigits(frac)) {
		return s
	}
	digits := intPart + frac
	point := len(intPart) + exp
	var ip, fp string
	switch {
	case point <= 0:
		ip, fp = "", strings.Repeat("0", -point)+digits
	case point >= len(digits):
		ip = digits + strings.Repeat("0", point-len(digits))
	default:
		ip, fp = digits[:point], digits[point:]
	}
	ip = strings.TrimLeft(ip, "0")
	if ip == "" {
		ip = "0"
	}
	out := ip
	if fp = strings.TrimRight(fp, "0"); fp != "" {
		out += "." + fp
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}

// verified reads an e-mail verification flag that is present: only the JSON
// true and the string "true" mean verified; any other value ("no", "", 1,
// [], an object, null) means not verified.
func verified(v any) bool {
	return v == true || v == "true"
}

// cleanValue returns s when it can be passed on exactly as the provider sent
// it: valid UTF-8, no control character (below 0x20, or 0x7f) and no white
// space at either end. Otherwise it returns "": such a value counts as
// absent, for it is never cleaned into another one ("admins\x00", "\tadmins"
// and "admins " are not "admins"). White space at the ends counts because
// HTTP trims it from header values (and upstreams trim too), which would
// make " admin" arrive as "admin".
func cleanValue(s string) string {
	if s == "" {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return ""
		}
	}
	if !utf8.ValidString(s) {
		return ""
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return ""
	}
	return s
}

// cleanText makes s fit to show, for display names and provider messages
// only: invalid UTF-8 is replaced, control characters (below 0x20, and
// 0x7f) are removed, and white space at either end is trimmed.
func cleanText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if !clean {
		s = strings.ToValidUTF8(s, "\uFFFD")
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// isHeaderName reports whether s may follow X-User-Attr-: letters, digits
// and hyphens, not at either end.
func isHeaderName(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
