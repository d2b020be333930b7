package session

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// The per-replica cache of a RedisStore: sessions read from Redis lately,
// so that a browser's every request does not cost a Redis round trip.
// Every replica forgets a session at once when it is ended or rewritten
// anywhere, through one pub/sub channel (broadcast.go); while that channel
// is not known to be listened to, nothing is served from the cache.

// Cache defaults; CacheOptions may change them.
const (
	// defaultCacheEntries bounds the sessions one replica keeps.
	defaultCacheEntries = 10000
	// defaultRevalidate is how long an entry is served without asking
	// Redis again: the bound on staleness should an invalidation be lost
	// while the subscription looked alive.
	defaultRevalidate = 10 * time.Second
	// defaultGrace is how long after it was last read from Redis an entry
	// still serves while Redis can't be reached.
	defaultGrace = 60 * time.Second
)

// CacheOptions bound a RedisStore's per-replica cache of sessions. Zero
// values take the defaults.
type CacheOptions struct {
	// Entries bounds the sessions kept; the least recently used go
	// first. Default 10000; negative: no cache.
	Entries int
	// Revalidate is how long a session is served from the cache before
	// it is read from Redis again, whatever the invalidations say.
	// Default 10s.
	Revalidate time.Duration
	// Grace is how long after it was last read from Redis a cached
	// session keeps working while Redis can't be reached. Default 60s;
	// negative: none (Redis down means 503 at once).
	Grace time.Duration
}

// A sessionCache maps session keys ("portcullis:session:" + the ticket's
// hash) to the sessions last read under them, least recently used first
// out, and the hashes of session cookie values to the keys their tickets
// name, so that neither the Redis round trip nor the cookie's decryption
// and MAC check is paid on every request. Neither the cookie nor the
// ticket is kept: only SHA-256 hashes of them.
//
// An entry is served (fresh) only while the cache is live (its replica
// listens to the invalidations), it was read during the current
// subscription, and for at most revalidate since. Otherwise it may still
// serve, for grace since it was read, when Redis can't be reached.
type sessionCache struct {
	max        int
	revalidate time.Duration
	grace      time.Duration

	mu   sync.Mutex
	live bool
	// epoch counts subscriptions: an entry read during an earlier one (or
	// while there was none) may have missed an invalidation.
	epoch uint64
	// gen counts invalidations: a read that started before one must not
	// put back what it just removed.
	gen     uint64
	lru     *list.List               // of *cacheEntry, most recently used first
	entries map[string]*list.Element // by session key
	tickets map[[sha256.Size]byte]string

	// scratch holds copies of cookie values being hashed (*[]byte):
	// sha256.Sum256 of a string converted to bytes would allocate on
	// every request.
	scratch sync.Pool
}

// A cacheEntry is one session as last read from Redis.
type cacheEntry struct {
	key   string
	st    *State
	read  time.Time // when it was read from Redis
	epoch uint64    // the subscription it was read during; 0: none
}

// newSessionCache returns a cache bounded as o says, or nil for none.
func newSessionCache(o CacheOptions) *sessionCache {
	c := &sessionCache{max: o.Entries, revalidate: o.Revalidate, grace: o.Grace}
	if c.max == 0 {
		c.max = defaultCacheEntries
	}
	if c.max < 0 {
		return nil
	}
	if c.revalidate <= 0 {
		c.revalidate = defaultRevalidate
	}
	if c.grace == 0 {
		c.grace = defaultGrace
	}
	c.lru = list.New()
	c.entries = make(map[string]*list.Element)
	c.tickets = make(map[[sha256.Size]byte]string)
	return c
}

// cookieHash returns the SHA-256 of a session cookie's value.
func (c *sessionCache) cookieHash(value string) [sha256.Size]byte {
	bp, _ := c.scratch.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append((*bp)[:0], value...)
	sum := sha256.Sum256(b)
	*bp = b[:0]
	c.scratch.Put(bp)
	return sum
}

// keyFor returns the session key the cookie value with hash h names, if
// known.
func (c *sessionCache) keyFor(h [sha256.Size]byte) (string, bool) {
	c.mu.Lock()
	key, ok := c.tickets[h]
	c.mu.Unlock()
	return key, ok
}

// rememberKey remembers that the cookie value with hash h names key:
// what its ticket names never changes. When the bound is reached, about
// half of them are forgotten.
func (c *sessionCache) rememberKey(h [sha256.Size]byte, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tickets) >= c.max {
		for k := range c.tickets {
			if len(c.tickets) < c.max/2 {
				break
			}
			delete(c.tickets, k)
		}
	}
	c.tickets[h] = key
}

// A lookup is what the cache knows of a session: fresh, its state may be
// served as it is; else, st (when not nil) serves only while Redis can't
// be reached. gen and epoch are to hand back to put after a read.
type lookup struct {
	st         *State
	fresh      bool
	gen, epoch uint64
}

// get returns what the cache knows of the session at key at now.
func (c *sessionCache) get(key string, now time.Time) lookup {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := lookup{gen: c.gen}
	if c.live {
		l.epoch = c.epoch
	}
	el, ok := c.entries[key]
	if !ok {
		return l
	}
	e := el.Value.(*cacheEntry)
	age := now.Sub(e.read)
	switch {
	case c.live && e.epoch == c.epoch && age >= 0 && age < c.revalidate:
		c.lru.MoveToFront(el)
		l.st, l.fresh = e.st, true
	case c.grace > 0 && age >= 0 && age < c.grace:
		l.st = e.st
	}
	return l
}

// put remembers st as read from Redis at key at read, unless an
// invalidation came since l was looked up.
func (c *sessionCache) put(l lookup, key string, st *State, read time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != l.gen {
		return
	}
	e := &cacheEntry{key: key, st: st, read: read, epoch: l.epoch}
	if el, ok := c.entries[key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[key] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
}

// forget removes the sessions at keys, and keeps reads under way from
// putting them back.
func (c *sessionCache) forget(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, key := range keys {
		if el, ok := c.entries[key]; ok {
			c.lru.Remove(el)
			delete(c.entries, key)
		}
	}
}

// setLive says whether invalidations are being received: when they start
// to be (a subscription, or a resubscription after the connection was
// lost), entries read before may have missed some and are served no more;
// when they stop, nothing is served fresh until they start again. Entries
// stay, for the grace while Redis can't be reached.
func (c *sessionCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.epoch++
	c.gen++
}

// len returns the number of sessions kept.
func (c *sessionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// loadCached returns the request's session from the cache when it is
// fresh there, else from Redis, else (Redis unreachable) from the cache
// within the grace.
func (s *RedisStore) loadCached(r *http.Request) (*State, error) {
	value, ok := cookieValue(r.Header, s.cookies.name)
	if !ok {
		return nil, ErrNoSession
	}
	if len(value) > maxTicketCookie {
		return nil, fmt.Errorf("%w: %d bytes; want a ticket", ErrInvalid, len(value))
	}
	h := s.cache.cookieHash(value)
	key, ok := s.cache.keyFor(h)
	if !ok {
		ticket, err := s.openTicket(value)
		if err != nil {
			return nil, err
		}
		key = sessionID(ticket)
		s.cache.rememberKey(h, key)
	}
	now := s.cookies.now()
	l := s.cache.get(key, now)
	if l.fresh {
		return l.st, nil
	}
	st, err := s.get(r.Context(), key)
	switch {
	case err == nil:
		s.cache.put(l, key, st, now)
		return st, nil
	case errors.Is(err, ErrUnavailable) && l.st != nil:
		return l.st, nil // Redis down: within the grace
	case errors.Is(err, ErrExpired):
		s.cache.forget(key) // never served again, Redis down or not
	}
	return nil, err
}

// saved tells every replica, this one first, that the sessions at keys
// were rewritten or ended, so that they read them from Redis again. Empty
// keys are skipped. Its error wraps ErrUnavailable.
func (s *RedisStore) saved(ctx context.Context, keys ...string) error {
	ids := make([]string, 0, len(keys))
	for _, key := range keys {
		if key != "" {
			ids = append(ids, SessionID(key))
		}
	}
	if s.cache != nil {
		s.cache.forget(keys...)
	}
	return s.broadcast(ctx, ids...)
}
