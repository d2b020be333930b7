package session

import (
	"cmp"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

const (
	defaultName   = "_portcullis"
	defaultPath   = "/"
	defaultExpire = 168 * time.Hour

	// minSecret is the least secret material accepted, in bytes.
	minSecret = 32
	// maxParts is the most cookies one session may be split into.
	maxParts = 12
	// maxChunk is the most value bytes in one cookie.
	maxChunk = 3800
	// maxLine bounds one Set-Cookie header line (name, value, attributes),
	// comfortably under the 4096 bytes browsers keep.
	maxLine = 4000
	// minChunk is the least room for a value that the cookie name, domain
	// and path must leave.
	minChunk = 1024
	// futureSkew is how far in the future a session's CreatedAt may lie
	// (clock differences between replicas) before it is refused.
	futureSkew = time.Minute
)

// A cookieJar is what the session stores and the sign-in flows share
// about their cookies: their names (Options.Name for the session, Name_0,
// Name_1, … for its parts, Name_csrf for the sign-in flows), their
// attributes, the codecs that seal and open their values (keys derived
// from each secret; the first seals, all open), the room a value has in
// one cookie, and a session's lifetime and binding to its provider's
// client.
type cookieJar struct {
	name     string
	csrfName string
	domain   string
	path     string
	secure   bool
	sameSite http.SameSite
	expire   time.Duration
	now      func() time.Time

	// bindings are the fingerprints of Options.Bindings by provider id;
	// nil when sessions are not bound.
	bindings map[string]string

	codecs     []securecookie.Codec // sessions; the first encodes
	flowCodecs []securecookie.Codec // the CSRF cookie; the first encodes
	chunk      int                  // value bytes in one session cookie
	flowRoom   int                  // value bytes in the CSRF cookie
}

// newCookieJar returns the cookieJar opts describe, or every problem with
// opts joined into one error.
func newCookieJar(opts Options) (cookieJar, error) {
	c := cookieJar{
		name:     cmp.Or(opts.Name, defaultName),
		domain:   opts.Domain,
		path:     cmp.Or(opts.Path, defaultPath),
		secure:   opts.Secure,
		sameSite: opts.SameSite,
		expire:   cmp.Or(opts.Expire, defaultExpire),
		now:      opts.Now,
	}
	c.csrfName = c.name + "_csrf"
	if c.now == nil {
		c.now = time.Now
	}
	if opts.Bindings != nil {
		c.bindings = make(map[string]string, len(opts.Bindings))
		for id, b := range opts.Bindings {
			c.bindings[id] = fingerprint(id, b)
		}
	}

	errs := secretErrors(opts.Secrets)
	if c.expire < time.Second {
		errs = append(errs, fmt.Errorf("session: cookie expire %v is not a positive number of seconds", opts.Expire))
	}
	if c.sameSite == http.SameSiteNoneMode && !c.secure {
		errs = append(errs, errors.New("session: SameSite=None cookies must be Secure; browsers drop them otherwise"))
	}
	if !validPath(c.path) {
		errs = append(errs, fmt.Errorf("session: cookie path %q must start with / and hold no control characters or ;", c.path))
	}
	if err := (&http.Cookie{Name: c.csrfName, Value: "v", Domain: c.domain}).Valid(); err != nil {
		errs = append(errs, fmt.Errorf("session: cookie name %q or domain %q: %w", c.name, c.domain, err))
	}
	if len(errs) > 0 {
		return cookieJar{}, errors.Join(errs...)
	}

	end := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // any date: Expires has a fixed width
	c.chunk = min(maxChunk, room(c.cookie(c.name+"_"+strconv.Itoa(maxParts-1), "", int(c.expire/time.Second), end)))
	c.flowRoom = min(maxChunk, room(c.flowCookie("", flowMaxAge, end, true))) // the longer attributes
	if c.chunk < minChunk || c.flowRoom < minChunk {
		return cookieJar{}, fmt.Errorf("session: cookie name %q, domain %q and path %q leave less than %d bytes for a value", c.name, c.domain, c.path, minChunk)
	}

	var err error
	if c.codecs, err = newCodecs(opts.Secrets, "cookie", c.expire); err != nil {
		return cookieJar{}, err
	}
	if c.flowCodecs, err = newCodecs(opts.Secrets, "cookie", flowLifetime); err != nil {
		return cookieJar{}, err
	}
	return c, nil
}

// secretErrors returns a problem for each secret shorter than minSecret,
// or one when there is no secret at all.
func secretErrors(secrets [][]byte) []error {
	if len(secrets) == 0 {
		return []error{errors.New("session: no cookie secret")}
	}
	var errs []error
	for i, s := range secrets {
		if len(s) < minSecret {
			errs = append(errs, fmt.Errorf("session: cookie secret %d is %d bytes; want at least %d", i+1, len(s), minSecret))
		}
	}
	return errs
}

// deriveKeys derives the signing and encryption keys for what ("cookie" or
// "redis") from secret with HKDF-SHA256.
func deriveKeys(secret []byte, what string) (hashKey, blockKey []byte, err error) {
	if hashKey, err = hkdf.Key(sha256.New, secret, nil, "portcullis "+what+" signing", 32); err != nil {
		return nil, nil, fmt.Errorf("derive %s signing key: %w", what, err)
	}
	if blockKey, err = hkdf.Key(sha256.New, secret, nil, "portcullis "+what+" encryption", 32); err != nil {
		return nil, nil, fmt.Errorf("derive %s encryption key: %w", what, err)
	}
	return hashKey, blockKey, nil
}

// newCodecs returns a codec for each of secrets, with keys derived for
// what ("cookie" or "redis") and refusing values sealed more than maxAge
// ago. The first seals; all open, so that a secret can be rotated.
func newCodecs(secrets [][]byte, what string, maxAge time.Duration) ([]securecookie.Codec, error) {
	codecs := make([]securecookie.Codec, 0, len(secrets))
	for i, s := range secrets {
		hashKey, blockKey, err := deriveKeys(s, what)
		if err != nil {
			return nil, fmt.Errorf("session: secret %d: %w", i+1, err)
		}
		codecs = append(codecs, newCodec(hashKey, blockKey, maxAge))
	}
	return codecs, nil
}

// newCodec returns a securecookie codec for raw byte values that refuses
// values sealed more than maxAge ago. Length is not limited here: setSession
// splits long values over several cookies and bounds them itself.
func newCodec(hashKey, blockKey []byte, maxAge time.Duration) *securecookie.SecureCookie {
	return securecookie.New(hashKey, blockKey).
		MaxLength(0).
		MaxAge(int(maxAge / time.Second)).
		SetSerializer(securecookie.NopEncoder{})
}

// openState verifies and decodes a State that one of codecs sealed under
// name, and returns the binding it was sealed with.
func openState(name, value string, codecs []securecookie.Codec) (*State, string, error) {
	var payload []byte
	if err := securecookie.DecodeMulti(name, value, &payload, codecs...); err != nil {
		return nil, "", err
	}
	return decodeBoundState(payload)
}

// fingerprint is what a session carries of its provider's binding: the
// first 16 bytes of a SHA-256 over the provider id and the binding, so
// that a cookie grows by 17 bytes, not by a client id and a URL.
func fingerprint(provider, binding string) string {
	sum := sha256.Sum256([]byte("portcullis session binding\x00" + provider + "\x00" + binding))
	return string(sum[:16])
}

// bindingFor returns the binding sessions of provider are sealed with; ok
// is false when sessions are bound and provider has no binding.
func (c *cookieJar) bindingFor(provider string) (binding string, ok bool) {
	if c.bindings == nil {
		return "", true
	}
	binding, ok = c.bindings[provider]
	return binding, ok
}

// checkBinding fails with ErrInvalid unless s was sealed with the binding
// of its provider here: a session another deployment made with the same
// secret for another client or issuer (or one sealed before sessions were
// bound) is not a session here.
func (c *cookieJar) checkBinding(s *State, binding string) error {
	if want, ok := c.bindingFor(s.Provider); !ok || binding != want {
		return fmt.Errorf("%w: made for another client of provider %q, or before sessions were bound to their client", ErrInvalid, s.Provider)
	}
	return nil
}

// checkAge fails with ErrInvalid when s has an implausible sign-in time,
// and with ErrExpired when s is older than Options.Expire.
func (c *cookieJar) checkAge(s *State) error {
	now := c.now()
	switch {
	case s.CreatedAt.IsZero() || s.CreatedAt.After(now.Add(futureSkew)):
		return fmt.Errorf("%w: implausible sign-in time", ErrInvalid)
	case !now.Before(s.CreatedAt.Add(c.expire)):
		return ErrExpired
	}
	return nil
}

// sessionValue returns the session's encoded value from h's Cookie lines:
// the base cookie's, or else the consecutive parts Name_0, Name_1, … joined.
// Of several cookies with one name, the first counts. Unless joined from
// two or more parts, the value is a substring of the header, not a copy.
func (c *cookieJar) sessionValue(h http.Header) (string, bool) {
	var parts [maxParts]string
	var seen [maxParts]bool
	for name, value := range requestCookies(h) {
		if name == c.name {
			return value, true
		}
		if i, ok := c.partIndex(name); ok && !seen[i] {
			parts[i], seen[i] = value, true
		}
	}
	n, size := 0, 0
	for ; n < maxParts && seen[n]; n++ {
		size += len(parts[n])
	}
	switch n {
	case 0:
		return "", false
	case 1:
		return parts[0], true
	}
	var b strings.Builder
	b.Grow(size)
	for _, v := range parts[:n] {
		b.WriteString(v)
	}
	return b.String(), true
}

// saving returns what a session saved now as s needs: when it ends, the
// cookies' Max-Age (what remains of Options.Expire since s.CreatedAt), and
// the binding it is sealed with. It fails when s can't be saved: nil,
// without CreatedAt, signed in in the future, with no whole second left
// (ErrExpired), or of a provider without a binding.
func (c *cookieJar) saving(s *State) (end time.Time, maxAge int, binding string, err error) {
	if s == nil {
		return end, 0, "", errors.New("session: save: nil state")
	}
	if s.CreatedAt.IsZero() {
		return end, 0, "", errors.New("session: save: state has no CreatedAt")
	}
	now := c.now()
	if s.CreatedAt.After(now.Add(futureSkew)) {
		return end, 0, "", fmt.Errorf("session: save: CreatedAt %v is in the future", s.CreatedAt)
	}
	end = s.CreatedAt.Add(c.expire)
	if maxAge = int(end.Sub(now) / time.Second); maxAge <= 0 {
		return end, 0, "", fmt.Errorf("session: save: %w", ErrExpired)
	}
	binding, ok := c.bindingFor(s.Provider)
	if !ok {
		return end, 0, "", fmt.Errorf("session: save: provider %q has no binding", s.Provider)
	}
	return end, maxAge, binding, nil
}

// setSession seals payload and sets the session cookie to it, or, when it
// does not fit in one, the parts Name_0, Name_1, …, with maxAge and end,
// and expires the session cookies the request carries that it does not
// use. It fails with ErrTooLarge when payload needs more than 12 cookies;
// it then sets no cookie.
func (c *cookieJar) setSession(w http.ResponseWriter, r *http.Request, payload []byte, maxAge int, end time.Time) error {
	value, err := c.codecs[0].Encode(c.name, payload)
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	parts := (len(value) + c.chunk - 1) / c.chunk
	if parts > maxParts {
		return fmt.Errorf("%w: it needs %d cookies of at most %d; set PORTCULLIS_SESSION_STORE=redis to keep sessions server-side",
			ErrTooLarge, parts, maxParts)
	}

	var set []string
	if parts == 1 {
		http.SetCookie(w, c.cookie(c.name, value, maxAge, end))
		set = []string{c.name}
	} else {
		set = make([]string, parts)
		for i := range parts {
			set[i] = c.partName(i)
			chunk := value[i*c.chunk : min(len(value), (i+1)*c.chunk)]
			http.SetCookie(w, c.cookie(set[i], chunk, maxAge, end))
		}
	}
	c.expireSession(w, r, func(name string) bool { return !slices.Contains(set, name) })
	return nil
}

// clearSession expires the base session cookie and every session cookie
// part the request carries.
func (c *cookieJar) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, c.expired(c.name))
	c.expireSession(w, r, func(name string) bool { return name != c.name })
}

// expireSession expires each distinct session cookie (base or part) the
// request carries for which stale reports true.
func (c *cookieJar) expireSession(w http.ResponseWriter, r *http.Request, stale func(name string) bool) {
	var done []string
	for name := range requestCookies(r.Header) {
		if (name == c.name || c.isPart(name)) && stale(name) && !slices.Contains(done, name) {
			http.SetCookie(w, c.expired(name))
			done = append(done, name)
		}
	}
}

// isOwn reports whether name is one of the jar's cookies: the base
// session cookie, a part of it, or the CSRF cookie.
func (c *cookieJar) isOwn(name string) bool {
	return name == c.name || name == c.csrfName || c.isPart(name)
}

// isPart reports whether name is Name_ followed by decimal digits.
func (c *cookieJar) isPart(name string) bool {
	rest, ok := strings.CutPrefix(name, c.name+"_")
	if !ok || rest == "" {
		return false
	}
	for i := range len(rest) {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// partIndex returns i when name is partName(i) for an i below maxParts:
// Name_ followed by i in decimal, without sign or leading zeros.
func (c *cookieJar) partIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, c.name)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutPrefix(rest, "_")
	if !ok || digits == "" || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	i := 0
	for _, d := range []byte(digits) {
		if d < '0' || d > '9' {
			return 0, false
		}
		if i = i*10 + int(d-'0'); i >= maxParts {
			return 0, false
		}
	}
	return i, true
}

func (c *cookieJar) partName(i int) string {
	return c.name + "_" + strconv.Itoa(i)
}

// cookie returns a cookie with the jar's attributes.
func (c *cookieJar) cookie(name, value string, maxAge int, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Domain:   c.domain,
		Path:     c.path,
		MaxAge:   maxAge,
		Expires:  expires,
		Secure:   c.secure,
		HttpOnly: true,
		SameSite: c.sameSite,
	}
}

// expired returns a cookie that makes the browser drop the session cookie
// called name.
func (c *cookieJar) expired(name string) *http.Cookie {
	return c.cookie(name, "", -1, time.Unix(1, 0).UTC())
}

// room returns how many value bytes fit in ck's Set-Cookie line.
func room(ck *http.Cookie) int {
	return maxLine - len("Set-Cookie: ") - len(ck.String())
}

// requestCookies yields the name and value of each cookie in h's Cookie
// lines, in order, without allocating. It splits and trims them as net/http
// does (Request.Cookies, ParseCookie): on ';', without surrounding spaces,
// tabs, CRs and LFs; a part without '=' has an empty value; a value loses one
// pair of surrounding double quotes.
//
// Unlike net/http it does not check names and values: a name that is no
// token, or a value with bytes a cookie may not hold (controls, '"', '\\',
// non-ASCII), is yielded too, where net/http skips the cookie; and it has no
// limit on the number of cookies. Callers compare names with their own,
// which are tokens, and a value only counts once securecookie has decoded
// and verified it, which such bytes fail: the base64url decoder refuses
// them, except CR and LF, which it skips and no header from the wire holds.
// So a malformed cookie makes Load fail with ErrInvalid rather than letting
// a later cookie of the same name count.
func requestCookies(h http.Header) iter.Seq2[string, string] {
	return func(yield func(name, value string) bool) {
		for _, line := range h["Cookie"] {
			for line != "" {
				var part string
				part, line, _ = strings.Cut(line, ";")
				if part = textproto.TrimString(part); part == "" {
					continue
				}
				name, value, _ := strings.Cut(part, "=")
				if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
					value = value[1 : len(value)-1]
				}
				if !yield(textproto.TrimString(name), value) {
					return
				}
			}
		}
	}
}

// cookieValue returns the value of the first cookie called name in h's
// Cookie lines, checked no more than requestCookies checks it.
func cookieValue(h http.Header, name string) (string, bool) {
	for n, v := range requestCookies(h) {
		if n == name {
			return v, true
		}
	}
	return "", false
}

// validPath reports whether p is a path the Set-Cookie header carries
// unchanged.
func validPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for i := range len(p) {
		if b := p[i]; b < 0x20 || b == 0x7f || b == ';' {
			return false
		}
	}
	return true
}

// flowCookie returns the CSRF cookie; a negative maxAge deletes it. It is
// SameSite=Lax unless the session cookies are SameSite=None: the provider's
// callback is a cross-site top-level GET, which would arrive without a
// Strict cookie. When it holds a flow whose provider answers with a POST
// from its own site (formPost: RESPONSE_MODE=form_post) it is SameSite=None
// and, as browsers require of those, Secure, whatever the session cookies
// are: browsers send no Lax cookie with a cross-site POST.
func (c *cookieJar) flowCookie(value string, maxAge int, expires time.Time, formPost bool) *http.Cookie {
	ck := c.cookie(c.csrfName, value, maxAge, expires)
	switch {
	case formPost:
		ck.SameSite, ck.Secure = http.SameSiteNoneMode, true
	case c.sameSite != http.SameSiteNoneMode:
		ck.SameSite = http.SameSiteLaxMode
	}
	return ck
}
