package session

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/redis/go-redis/v9"
)

const (
	// ticketLen is the size of a session ticket in random bytes.
	ticketLen = 32
	// maxTicketCookie bounds a ticket cookie's value; a sealed ticket is
	// about 150 bytes.
	maxTicketCookie = 1024

	// redisTimeout bounds every Redis operation of a store or coordinator,
	// whatever the client's own timeouts and retries.
	redisTimeout = 3 * time.Second

	// newSession is how recent a State's CreatedAt must be for Save to
	// take it for a new sign-in rather than a renewal of an older session.
	newSession = time.Minute

	sessionKeyPrefix = "portcullis:session:"
	lockKeyPrefix    = "portcullis:refresh:lock:"
	resultKeyPrefix  = "portcullis:refresh:result:"

	// The names values are sealed under in Redis, followed by the key they
	// are stored at, so that a value moved to another key does not open.
	sessionValueName = "portcullis-redis-session:"
	resultValueName  = "portcullis-redis-refresh:"
)

// A RedisStore keeps sessions in Redis and gives the browser only a ticket:
// 32 random bytes in the session cookie (Options.Name), sealed like the
// CookieStore's cookies. A session therefore has no size limit, and Clear
// ends it for every copy of the cookie. Sign-ins in progress stay in the
// CSRF cookie (Flows). It is safe for concurrent use, and several replicas
// may share one Redis.
//
// A session is stored at "portcullis:session:" + hex(SHA-256(ticket)), so
// the ticket itself never reaches Redis, and its value is sealed with
// securecookie under keys derived from the cookie secrets (HKDF-SHA256, the
// first secret seals, all open) and bound to its key: a Redis dump reveals
// no tokens, and a value copied to another key does not open. Keys expire
// with the session, CreatedAt + Options.Expire; Load enforces that time too.
//
// When Redis can't be reached, Load, Save and Ping fail with an error
// wrapping ErrUnavailable within about three seconds; nothing is cleared.
// With RedisOptions.FailoverWait, Load and Save first retry for that long
// what looks like a master being replaced, so that a failover costs
// requests a wait rather than a failure.
//
// Each replica keeps the sessions it read lately in a bounded cache
// (Options.Cache; cache.go) and serves them without Redis while Listen
// receives the invalidations every replica publishes when a session is
// rewritten or ended (broadcast.go).
type RedisStore struct {
	cookies cookieJar // the ticket's cookie: its name, attributes and sealing
	redis   *Redis
	codecs  []securecookie.Codec // values at rest; the first encodes
	cache   *sessionCache        // nil: none
	name    string               // random: the sender of its invalidations
}

// NewRedisStore returns a RedisStore keeping sessions in r, with cookies
// and secrets as opts says, or every problem with opts joined into one
// error. It does not contact Redis; Ping does.
func NewRedisStore(opts Options, r *Redis) (*RedisStore, error) {
	var errs []error
	cookies, err := newCookieJar(opts)
	if err != nil {
		errs = append(errs, err)
	}
	if r == nil {
		errs = append(errs, errors.New("session: no redis client"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	codecs, err := redisCodecs(opts.Secrets, cookies.expire)
	if err != nil {
		return nil, err
	}
	return &RedisStore{cookies: cookies, redis: r, codecs: codecs, cache: newSessionCache(opts.Cache), name: rand.Text()}, nil
}

// redisCodecs returns the codecs that seal values at rest in Redis, one for
// each secret, with keys derived apart from the cookies' keys.
func redisCodecs(secrets [][]byte, maxAge time.Duration) ([]securecookie.Codec, error) {
	if errs := secretErrors(secrets); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newCodecs(secrets, "redis", maxAge)
}

// Load returns the request's session from Redis. It fails with
// ErrNoSession when the request carries no session cookie, ErrInvalid when
// the cookie or the stored value does not open, ErrExpired when the session
// is older than Options.Expire or no longer in Redis (signed out, or its
// time is up), and an error wrapping ErrUnavailable when Redis can't be
// reached and the session is not in the cache (see Listen and
// CacheOptions.Grace).
//
// The State is the caller's to change, but its Groups and Attributes may
// be shared with other Loads of the same session: replace them, never
// change them in place.
func (s *RedisStore) Load(r *http.Request) (*State, error) {
	if s.cache == nil {
		ticket, err := s.ticket(r)
		if err != nil {
			return nil, err
		}
		st, err := s.get(r.Context(), sessionID(ticket))
		if err != nil {
			return nil, err
		}
		if err := s.cookies.checkAge(st); err != nil {
			return nil, err
		}
		return st, nil
	}
	st, err := s.loadCached(r)
	if err != nil {
		return nil, err
	}
	if err := s.cookies.checkAge(st); err != nil {
		return nil, err
	}
	cp := *st // shallow: see the doc comment
	return &cp, nil
}

// ticket returns the ticket in the request's session cookie.
func (s *RedisStore) ticket(r *http.Request) ([]byte, error) {
	value, ok := cookieValue(r.Header, s.cookies.name)
	if !ok {
		return nil, ErrNoSession
	}
	return s.openTicket(value)
}

// openTicket returns the ticket in a session cookie's value.
func (s *RedisStore) openTicket(value string) ([]byte, error) {
	if len(value) > maxTicketCookie {
		return nil, fmt.Errorf("%w: %d bytes; want a ticket", ErrInvalid, len(value))
	}
	var ticket []byte
	if err := securecookie.DecodeMulti(s.cookies.name, value, &ticket, s.cookies.codecs...); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(ticket) != ticketLen {
		// A CookieStore's cookie, perhaps, from before the switch to Redis.
		return nil, fmt.Errorf("%w: not a ticket", ErrInvalid)
	}
	return ticket, nil
}

// sessionID returns the Redis key of the session with ticket.
func sessionID(ticket []byte) string {
	sum := sha256.Sum256(ticket)
	return sessionKeyPrefix + hex.EncodeToString(sum[:])
}

// get reads and opens the session stored at key.
func (s *RedisStore) get(ctx context.Context, key string) (*State, error) {
	value, found, err := s.redis.get(ctx, key)
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, fmt.Errorf("%w: not in the store (signed out, or its time is up)", ErrExpired)
	}
	st, binding, err := openState(sessionValueName+key, value, s.codecs)
	if err != nil {
		return nil, fmt.Errorf("%w: stored value: %v", ErrInvalid, err)
	}
	if err := s.cookies.checkBinding(st, binding); err != nil {
		return nil, err
	}
	return st, nil
}

// Save stores st in Redis until st.CreatedAt+Options.Expire and sets the
// session cookie to its ticket, with the same lifetime, expiring any
// CookieStore cookie parts the request carries. st.CreatedAt must be set.
//
// When the request's ticket already names this session (same provider,
// user and sign-in time), as on a refresh, Save rewrites the session under
// it and the cookie keeps the ticket. Otherwise, as on a sign-in, the
// session gets a new ticket and whatever the old one named is deleted, so
// a ticket planted in the browser beforehand never names the new session.
// But when the request's ticket names a session that has ended (signed
// out while a refresh was under way) and st was signed in more than a
// minute ago, st is that session renewed too late: Save refuses to bring
// it back and fails with ErrExpired.
//
// Save fails with ErrExpired when st's time has passed, and with an error
// wrapping ErrUnavailable when Redis can't be reached; it then sets no
// cookie.
func (s *RedisStore) Save(w http.ResponseWriter, r *http.Request, st *State) error {
	end, maxAge, binding, err := s.cookies.saving(st)
	if err != nil {
		return err
	}
	now := s.cookies.now()

	// A response may be cut short once the session is stored; the
	// session must still be stored whole (a refresh token may be spent).
	ctx := context.WithoutCancel(r.Context())
	ticket, stale, err := s.ticketFor(ctx, r, st, now)
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	key := sessionID(ticket)
	value, err := s.codecs[0].Encode(sessionValueName+key, appendBoundState(nil, st, binding))
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	ttl := end.Sub(now)
	if err := s.redis.write(ctx, key, func(ctx context.Context, p redis.Pipeliner) { p.Set(ctx, key, value, ttl) }); err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	s.index(ctx, key, st, ttl) // index.go
	if stale != "" {
		// Best effort, and not waited for: it expires anyway.
		dctx, cancel := context.WithTimeout(ctx, redisTimeout)
		s.redis.client.Del(dctx, stale)
		cancel()
	}
	if err := s.saved(ctx, key, stale); err != nil {
		return fmt.Errorf("session: save: %w", err)
	}

	return s.cookies.setSession(w, r, ticket, maxAge, end)
}

// ticketFor returns the ticket to store st under: the request's when it
// names the same session, else a new one, and then also the key of what
// the request's ticket named, to delete. When the request's session has
// ended (signed out, or gone from Redis) and st was signed in before now,
// st is that session renewed too late, and ticketFor refuses to bring it
// back with ErrExpired.
func (s *RedisStore) ticketFor(ctx context.Context, r *http.Request, st *State, now time.Time) ([]byte, string, error) {
	stale := ""
	if old, err := s.ticket(r); err == nil {
		key := sessionID(old)
		prev, err := s.get(ctx, key)
		switch {
		case err == nil && sameSession(prev, st):
			return old, "", nil
		case errors.Is(err, ErrUnavailable):
			return nil, "", err
		case errors.Is(err, ErrExpired) && st.CreatedAt.Before(now.Add(-newSession)):
			return nil, "", fmt.Errorf("%w: it ended while being renewed", ErrExpired)
		}
		stale = key
	}
	ticket := make([]byte, ticketLen)
	rand.Read(ticket) // never fails
	return ticket, stale, nil
}

// sameSession reports whether a and b are the same sign-in: same provider,
// user and sign-in time (to the second, as stored).
func sameSession(a, b *State) bool {
	return a.Provider == b.Provider && a.UserID == b.UserID && a.CreatedAt.Unix() == b.CreatedAt.Unix()
}

// Clear deletes the request's session from Redis, so that it ends for
// every copy of the cookie, and expires the session cookie and every
// cookie part the request carries. When Redis can't be reached the cookies
// are cleared all the same; the stored session then lasts until its time
// is up.
func (s *RedisStore) Clear(w http.ResponseWriter, r *http.Request) {
	if err := s.End(w, r); err != nil {
		s.cookies.clearSession(w, r)
	}
}

// End is Clear that reports whether the session ended everywhere, for a
// sign-out that must not claim what did not happen: its error wraps
// ErrUnavailable when the session could not be deleted from Redis or the
// other replicas could not be told (they would then refuse it at their
// next read from Redis, within CacheOptions.Revalidate). On an error the
// cookies stay, so that the sign-out can be tried again; this replica
// forgets the session either way. A request without a valid ticket ends
// nothing, and gets its cookies cleared.
func (s *RedisStore) End(w http.ResponseWriter, r *http.Request) error {
	ticket, err := s.ticket(r)
	if err != nil {
		s.cookies.clearSession(w, r)
		return nil
	}
	key := sessionID(ticket)
	if s.cache != nil {
		s.cache.forget(key) // here at once, whatever happens next
	}
	ctx := context.WithoutCancel(r.Context())
	if err := s.redis.write(ctx, key, func(ctx context.Context, p redis.Pipeliner) { p.Del(ctx, key) }); err != nil {
		return fmt.Errorf("session: end: %w", err)
	}
	if err := s.saved(ctx, key); err != nil {
		return fmt.Errorf("session: end: %w", err)
	}
	s.cookies.clearSession(w, r)
	return nil
}

// Ping reports whether Redis answers, for a readiness check; its error
// wraps ErrUnavailable.
func (s *RedisStore) Ping(ctx context.Context) error {
	return s.redis.Ping(ctx)
}

// IsOwnCookie reports whether name is one of the cookies under
// Options.Name: the session cookie, a CookieStore part of it, or the CSRF
// cookie of the Flows made with the same Options. The proxy removes these
// before a request goes upstream.
func (s *RedisStore) IsOwnCookie(name string) bool {
	return s.cookies.isOwn(name)
}

// A RedisCoordinator shares refreshes between replicas through Redis. A
// lock is a key "portcullis:refresh:lock:" + key set only if absent, with a
// random value and the lock's time to live; unlocking deletes it only while
// it still holds that value, so a holder whose lock lapsed can't release
// the next holder's. A result is stored at "portcullis:refresh:result:" +
// key, sealed like a RedisStore's sessions. It is safe for concurrent use.
type RedisCoordinator struct {
	redis  *Redis
	codecs []securecookie.Codec
}

var _ Coordinator = (*RedisCoordinator)(nil)

// NewRedisCoordinator returns a RedisCoordinator using r, sealing results
// with opts.Secrets; the other options are not used. It does not contact
// Redis.
func NewRedisCoordinator(opts Options, r *Redis) (*RedisCoordinator, error) {
	codecs, err := redisCodecs(opts.Secrets, cmp.Or(opts.Expire, defaultExpire))
	if r == nil {
		err = errors.Join(err, errors.New("session: no redis client"))
	}
	if err != nil {
		return nil, err
	}
	return &RedisCoordinator{redis: r, codecs: codecs}, nil
}

// unlockScript deletes KEYS[1] if it holds ARGV[1].
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// Lock takes the refresh lock for key for ttl, unless another holder has
// it. Its error wraps ErrUnavailable when Redis can't be reached. unlock is
// safe to call more than once, and after the lock lapsed.
func (c *RedisCoordinator) Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error) {
	if ttl < time.Millisecond {
		return nil, false, fmt.Errorf("session: lock %q: ttl %v is under a millisecond", key, ttl)
	}
	lockKey := lockKeyPrefix + key
	token := rand.Text()
	var holder *redis.StringCmd
	if err := c.redis.write(ctx, lockKey, func(ctx context.Context, p redis.Pipeliner) {
		p.SetNX(ctx, lockKey, token, ttl)
		holder = p.Get(ctx, lockKey)
	}); err != nil {
		return nil, false, err
	}
	// The lock is ours when it holds our token, whether this try set it
	// or an earlier one whose answer was lost did.
	if holder.Val() != token {
		return nil, false, nil
	}
	unlock = func() {
		// Best effort: a lock that stays lapses after ttl.
		ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
		defer cancel()
		unlockScript.Run(ctx, c.redis.client, []string{lockKey}, token)
	}
	return unlock, true, nil
}

// Result returns the result published for key, if any. Its error wraps
// ErrUnavailable when Redis can't be reached, and ErrInvalid when the
// stored value does not open.
func (c *RedisCoordinator) Result(ctx context.Context, key string) (*State, bool, error) {
	resultKey := resultKeyPrefix + key
	value, found, err := c.redis.get(ctx, resultKey)
	if err != nil || !found {
		return nil, false, err
	}
	st, _, err := openState(resultValueName+resultKey, value, c.codecs) // a result is bound when saved
	if err != nil {
		return nil, false, fmt.Errorf("%w: refresh result: %v", ErrInvalid, err)
	}
	return st, true, nil
}

// Publish stores s as the result for key for ttl. Its error wraps
// ErrUnavailable when Redis can't be reached.
func (c *RedisCoordinator) Publish(ctx context.Context, key string, s *State, ttl time.Duration) error {
	if s == nil {
		return fmt.Errorf("session: publish %q: nil state", key)
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("session: publish %q: ttl %v is under a millisecond", key, ttl)
	}
	resultKey := resultKeyPrefix + key
	value, err := c.codecs[0].Encode(resultValueName+resultKey, appendState(nil, s))
	if err != nil {
		return fmt.Errorf("session: publish: %w", err)
	}
	return c.redis.write(ctx, resultKey, func(ctx context.Context, p redis.Pipeliner) { p.Set(ctx, resultKey, value, ttl) })
}

// Ping reports whether Redis answers, for a readiness check; its error
// wraps ErrUnavailable.
func (c *RedisCoordinator) Ping(ctx context.Context) error {
	return c.redis.Ping(ctx)
}
