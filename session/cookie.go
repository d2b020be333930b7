package session

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Errors returned by the stores and Flows. Check them with errors.Is:
// some are wrapped with details.
var (
	// ErrNoSession means the request carries no session cookie.
	ErrNoSession = errors.New("session: no session cookie")
	// ErrInvalid means the session cookie does not decode: tampered with,
	// truncated, renamed, sealed with a secret no longer configured, or
	// holding an implausible sign-in time.
	ErrInvalid = errors.New("session: invalid session cookie")
	// ErrExpired means the session is older than Options.Expire.
	ErrExpired = errors.New("session: session expired")
	// ErrTooLarge means the session or sign-in flow does not fit in the
	// cookies a browser keeps.
	ErrTooLarge = errors.New("session: too large for cookies")
	// ErrNoFlow means the request carries no pending sign-in with the given
	// state: the CSRF cookie is missing, invalid or expired, or the state was
	// never issued to this browser or was already used.
	ErrNoFlow = errors.New("session: no matching sign-in flow")
)

// Options configure the cookies of a CookieStore or RedisStore, and of the
// Flows beside it (made from the same Options).
type Options struct {
	// Name is the base cookie name; default "_portcullis". A session too
	// large for one cookie goes in Name_0, Name_1, …; sign-ins in progress in
	// Name_csrf.
	Name string
	// Secrets are the secret materials, each at least 32 bytes. The first
	// seals new cookies; all open them, so a secret can be rotated by putting
	// the new one first and keeping the old one until its cookies are gone.
	Secrets [][]byte
	// Domain, Path, Secure and SameSite are the cookies' attributes; Path
	// defaults to "/". Cookies are always HttpOnly. The CSRF cookie is
	// SameSite=Lax whatever SameSite says, unless it says None.
	Domain   string
	Path     string
	Secure   bool
	SameSite http.SameSite
	// Expire is a session's longest life, counted from State.CreatedAt and
	// enforced by Load whatever the browser keeps; default 168h.
	Expire time.Duration
	// Bindings bind sessions to the provider and client that made them:
	// for each provider id, what names its client (its client id and
	// issuer or token URL). A session is sealed with its provider's
	// binding and opens only where that provider has the same binding, so
	// a cookie another deployment made with the same secret for another
	// client or issuer is not a session here. nil: sessions are not bound.
	Bindings map[string]string
	// Cache bounds a RedisStore's per-replica cache of sessions; the
	// CookieStore and Flows don't use it.
	Cache CacheOptions
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// A CookieStore keeps sessions in encrypted, signed cookies; Flows keeps
// the sign-ins in progress. It is safe for concurrent use.
//
// Values are sealed with securecookie (AES-256-CTR and HMAC-SHA256 over the
// cookie name, a timestamp and the ciphertext) using keys derived from each
// secret with HKDF-SHA256. The name is part of what is signed, so a value is
// only accepted under the cookie name it was made for.
type CookieStore struct {
	cookies cookieJar

	// verified remembers recently decoded session values, so a browser's
	// every request doesn't pay for decryption and MAC checks again.
	verified verifiedCache
}

// verifiedCache maps session cookie values that decoded and verified to
// their states. Only values the codecs accepted go in, so an attacker can't
// fill it; time-dependent checks (expiry) are still made on every Load. Keys
// are whole values and compared exactly, so no collision can hand one user
// another's session. (The comparison is not constant-time, but which stored
// keys a guess is compared with depends on the map's secret random hash
// seed, and a miss costs a MAC check that dwarfs it.) It is bounded by
// entries and by key bytes (the states take about as much again): when
// either bound is reached, about half of it is forgotten.
type verifiedCache struct {
	mu    sync.Mutex
	m     map[string]*State
	bytes int // total length of the keys in m
}

const (
	verifiedCacheSize  = 4096
	verifiedCacheBytes = 4 << 20
)

func (v *verifiedCache) get(value string) (*State, bool) {
	v.mu.Lock()
	s, ok := v.m[value]
	v.mu.Unlock()
	return s, ok
}

// put remembers that value decoded to s. value may be part of a request's
// header: put keeps a copy of it.
func (v *verifiedCache) put(value string, s *State) {
	if len(value) > verifiedCacheBytes/2 {
		return // never so: Load refuses values longer than maxParts*maxChunk
	}
	key := strings.Clone(value)
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.m[key]; ok {
		return // another Load decoded it meanwhile
	}
	if v.m == nil {
		v.m = make(map[string]*State, 64)
	}
	if len(v.m) >= verifiedCacheSize || v.bytes+len(key) > verifiedCacheBytes {
		for k := range v.m {
			if len(v.m) < verifiedCacheSize/2 && v.bytes+len(key) <= verifiedCacheBytes/2 {
				break
			}
			delete(v.m, k)
			v.bytes -= len(k)
		}
	}
	v.m[key] = s
	v.bytes += len(key)
}

// NewCookieStore returns a CookieStore for opts, or every problem with
// opts joined into one error.
func NewCookieStore(opts Options) (*CookieStore, error) {
	j, err := newCookieJar(opts)
	if err != nil {
		return nil, err
	}
	return &CookieStore{cookies: j}, nil
}

// Load returns the request's session. It fails with ErrNoSession when the
// request carries no session cookie, ErrInvalid when the cookie does not
// decode, and ErrExpired when the session is older than Options.Expire.
//
// The State is the caller's to change, but its Groups and Attributes are
// shared with other Loads of the same cookie: replace them, never change
// them in place.
func (c *CookieStore) Load(r *http.Request) (*State, error) {
	value, ok := c.cookies.sessionValue(r.Header)
	if !ok {
		return nil, ErrNoSession
	}
	if len(value) > maxParts*c.cookies.chunk {
		return nil, fmt.Errorf("%w: %d bytes", ErrInvalid, len(value))
	}
	s, ok := c.verified.get(value)
	if !ok {
		// Only what decodes, verifies and is bound to our client is
		// cached: later Loads of the value need no check at all.
		st, binding, err := openState(c.cookies.name, value, c.cookies.codecs)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if err := c.cookies.checkBinding(st, binding); err != nil {
			return nil, err
		}
		s = st
		c.verified.put(value, s)
	}
	if err := c.cookies.checkAge(s); err != nil {
		return nil, err
	}
	cp := *s // shallow: see the doc comment
	return &cp, nil
}

// Save sets the cookies that carry s, expiring any session cookies the
// request carries that the new value does not use. The cookies live until
// s.CreatedAt+Options.Expire; s.CreatedAt must be set. Save fails with
// ErrTooLarge when s needs more than 12 cookies, and ErrExpired when that
// time has passed; it then sets no cookie.
func (c *CookieStore) Save(w http.ResponseWriter, r *http.Request, s *State) error {
	end, maxAge, binding, err := c.cookies.saving(s)
	if err != nil {
		return err
	}
	return c.cookies.setSession(w, r, appendBoundState(nil, s, binding), maxAge, end)
}

// Clear expires the base session cookie and every session cookie part the
// request carries.
func (c *CookieStore) Clear(w http.ResponseWriter, r *http.Request) {
	c.cookies.clearSession(w, r)
}

// IsOwnCookie reports whether name is one of the cookies under
// Options.Name: the base session cookie, a part of it (Name_0, Name_1, …),
// or the CSRF cookie of the Flows made with the same Options. The proxy
// removes these before a request goes upstream.
func (c *CookieStore) IsOwnCookie(name string) bool {
	return c.cookies.isOwn(name)
}
