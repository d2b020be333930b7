package users

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxNameLen is the longest user name.
const MaxNameLen = 64

// fallbackName is a new user's name when the profile gives nothing usable.
const fallbackName = "user"

// ValidName checks that name is a well-formed user name: 1 to MaxNameLen
// characters from a-z, 0-9, '.', '_' and '-', starting and ending with a
// letter or digit. Names the registry makes at sign-up always are.
func ValidName(name string) error {
	if name == "" {
		return errorf(ErrInvalid, "empty user name")
	}
	if len(name) > MaxNameLen {
		return errorf(ErrInvalid, "user name %q is longer than %d characters", name, MaxNameLen)
	}
	for _, r := range name {
		if !nameChar(r) {
			return errorf(ErrInvalid, "user name %q: use only a-z, 0-9, '.', '_' and '-'", name)
		}
	}
	if isSep(rune(name[0])) || isSep(rune(name[len(name)-1])) {
		return errorf(ErrInvalid, "user name %q must start and end with a letter or digit", name)
	}
	return nil
}

func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || isSep(r)
}

func isSep(r rune) bool { return r == '.' || r == '_' || r == '-' }

// baseName is the name a new user would get before it is made unique: the
// username claim, else the e-mail's local part, else "user", sanitised.
func baseName(p *Profile) string {
	for _, s := range []string{p.Username, p.Email} {
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			s = localPart(s[:i])
		}
		if n := sanitize(s); n != "" {
			return n
		}
	}
	return fallbackName
}

// localPart drops a +tag from an e-mail local part: alice+news → alice.
func localPart(s string) string {
	if i := strings.IndexByte(s, '+'); i > 0 {
		return s[:i]
	}
	return s
}

// sanitize makes s a valid user name, or "" if nothing is left: accents
// dropped, lower-cased, each run of other characters turned into one '-',
// separators trimmed from the ends, cut to MaxNameLen.
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue // a combining accent, split off by NFKD
		}
		r = unicode.ToLower(r)
		if nameChar(r) {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return trimName(b.String(), MaxNameLen)
}

// trimName cuts s to at most n bytes (s is ASCII) and trims separators
// from both ends.
func trimName(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.TrimFunc(s, isSep)
}

// withSuffix returns base-n, cutting base so the result fits MaxNameLen.
func withSuffix(base string, n int) string {
	suffix := "-" + strconv.Itoa(n)
	b := trimName(base, MaxNameLen-len(suffix))
	if b == "" {
		b = fallbackName
	}
	return b + suffix
}
