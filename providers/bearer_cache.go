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
	err   error
	until time.Time
}

// result returns the entry's verdict, with an identity the caller may
// change.
func (e *bearerEntry) result() (*Identity, time.Time, error) {
	if e.err != nil {
		return nil, time.Time{}, e.err
	}
	return cloneIdentity(e.id), e.exp, nil
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

// bearerCache is a bounded LRU of verdicts keyed by token hash.
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
		c.ll.Remove(el)
		delete(c.m, key)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e, true
}

// put stores e, evicting the least recently used entries beyond the bound.
func (c *bearerCache) put(e *bearerEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[e.key]; ok {
		el.Value = e
		c.ll.MoveToFront(el)
		return
	}
	c.m[e.key] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.m, last.Value.(*bearerEntry).key)
	}
}

// len reports the number of entries, for tests.
func (c *bearerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
