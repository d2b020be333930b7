package providers

import (
	"container/list"
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// bearerEntry is one remembered verdict.
type bearerEntry struct {
	key   [sha256.Size]byte
	id    *Identity
	exp   time.Time // the token's, as the provider said; zero: unknown
	iat   time.Time // the token's issue time, as the provider said; zero: unknown
	first time.Time // when the token was first accepted, kept across re-checks; zero: never
	err   error
	until time.Time // the verdict holds until then; the entry (and first) stays until evicted
}

// result returns the entry's verdict, with an identity the caller may
// change.
func (e *bearerEntry) result() (BearerVerdict, error) {
	if e.err != nil {
		return BearerVerdict{}, e.err
	}
	return BearerVerdict{Identity: cloneIdentity(e.id), Expiry: e.exp, IssuedAt: e.iat, FirstVerified: e.first}, nil
}

func cloneIdentity(id *Identity) *Identity {
	c := *id
	c.Groups = slices.Clone(id.Groups)
	if id.Attributes != nil {
		c.Attributes = make(map[string]string, len(id.Attributes))
		for k, v := range id.Attributes {
			c.Attributes[k] = v
		}
	}
	if id.EmailVerified != nil {
		v := *id.EmailVerified
		c.EmailVerified = &v
	}
	return &c
}

// bearerCache is a bounded LRU of verdicts keyed by token hash. An entry
// whose verdict has expired stays (until the bound evicts it) so that a
// token checked again keeps the time it was first accepted: the ended
// list judges a token without iat by it.
type bearerCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List // of *bearerEntry, most recently used first
	m   map[[sha256.Size]byte]*list.Element
}

func newBearerCache(max int) *bearerCache {
	return &bearerCache{max: max, ll: list.New(), m: make(map[[sha256.Size]byte]*list.Element)}
}

// get returns the live entry for key.
func (c *bearerCache) get(key [sha256.Size]byte, now time.Time) (*bearerEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*bearerEntry)
	if !now.Before(e.until) {
		return nil, false // kept for its first; put replaces it
	}
	c.ll.MoveToFront(el)
	return e, true
}

// expire ends the verdict for key now; the entry's first stays.
func (c *bearerCache) expire(key [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		e := *el.Value.(*bearerEntry) // entries are read without the lock: never changed
		e.until = time.Time{}
		el.Value = &e
	}
}

// put stores e, evicting the least recently used entries beyond the bound,
// and returns it, with the first acceptance of the entry it replaces when
// that was earlier.
func (c *bearerCache) put(e *bearerEntry) *bearerEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[e.key]; ok {
		if old := el.Value.(*bearerEntry).first; !old.IsZero() && (e.first.IsZero() || old.Before(e.first)) {
			e.first = old
		}
		el.Value = e
		c.ll.MoveToFront(el)
		return e
	}
	c.m[e.key] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.m, last.Value.(*bearerEntry).key)
	}
	return e
}

// len reports the number of entries, for tests.
func (c *bearerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
