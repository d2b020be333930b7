package users

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// CheckerOptions configure a Checker. Zero values take the defaults.
type CheckerOptions struct {
	// TTL is how long an answer is used before the registry is asked
	// again: the longest a disabled user keeps access while the registry
	// is up. Default one minute.
	TTL time.Duration
	// MaxStale is how long after the last successful check the last known
	// answer is still used while the registry can't be reached; after it,
	// Active fails. Default 5 × TTL.
	MaxStale time.Duration
	// RetryInterval is how long after a failed check the next one is
	// tried; in between, Active answers from what it knows without asking.
	// Default TTL/6, at least a second, at most TTL.
	RetryInterval time.Duration
	// Timeout bounds one check. Default 5 seconds.
	Timeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// A StatusFunc reports whether a user is active: Registry.Status.
type StatusFunc func(ctx context.Context, userID int64) (active bool, err error)

// A Checker tells whether the user of an open session is still active,
// asking the registry at most once per TTL per user, however many requests
// come in (concurrent requests share one query). While the registry can't
// be reached it answers from the last known status, until MaxStale has
// passed since that was learned; then it returns an error, so that an
// outage can't keep a disabled user in for ever. Safe for concurrent use.
type Checker struct {
	status StatusFunc
	opts   CheckerOptions

	flight singleflight.Group

	mu        sync.Mutex
	entries   map[int64]*entry
	lastSweep time.Time
}

// An entry is what a Checker knows of one user.
type entry struct {
	known   bool      // a check has succeeded
	active  bool      // its answer
	checked time.Time // when it succeeded
	next    time.Time // when to ask again
	err     error     // the last check's error, nil if it succeeded
	used    time.Time // when Active last asked for this user
}

// NewChecker returns a Checker asking status (typically a Registry's
// Status method).
func NewChecker(status StatusFunc, opts CheckerOptions) *Checker {
	if opts.TTL <= 0 {
		opts.TTL = time.Minute
	}
	if opts.MaxStale <= 0 {
		opts.MaxStale = 5 * opts.TTL
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = max(opts.TTL/6, time.Second)
	}
	opts.RetryInterval = min(opts.RetryInterval, opts.TTL)
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Checker{status: status, opts: opts, entries: map[int64]*entry{}}
}

// Active reports whether the user with the given id may keep using their
// session. false means disabled or deleted: end the session. An error
// means the registry has been unreachable for longer than MaxStale (or
// since the first check of this user): refuse the request for now (503),
// but keep the session.
func (c *Checker) Active(ctx context.Context, userID int64) (bool, error) {
	now := c.opts.Now()
	c.mu.Lock()
	c.sweep(now)
	e := c.entries[userID]
	if e != nil {
		e.used = now
		if now.Before(e.next) {
			active, err := c.answer(e, now)
			c.mu.Unlock()
			return active, err
		}
	}
	c.mu.Unlock()

	ch := c.flight.DoChan(strconv.FormatInt(userID, 10), func() (any, error) {
		return c.check(userID)
	})
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return false, res.Err
		}
		return res.Val.(bool), nil
	}
}

// check asks the registry (unless another check just did) and records the
// answer.
func (c *Checker) check(userID int64) (bool, error) {
	c.mu.Lock()
	e := c.entries[userID]
	if e != nil && c.opts.Now().Before(e.next) {
		active, err := c.answer(e, c.opts.Now())
		c.mu.Unlock()
		return active, err
	}
	c.mu.Unlock()

	// Not the caller's context: a caller that gives up must not fail the
	// check for the others sharing it.
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	active, err := c.status(ctx, userID)

	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e = c.entries[userID]
	if e == nil {
		e = &entry{used: now}
		c.entries[userID] = e
	}
	if err != nil {
		e.err = err
		e.next = now.Add(c.opts.RetryInterval)
	} else {
		e.known, e.active, e.checked, e.err = true, active, now, nil
		e.next = now.Add(c.opts.TTL)
	}
	return c.answer(e, now)
}

// answer is what e says at now. c.mu is held.
func (c *Checker) answer(e *entry, now time.Time) (bool, error) {
	if e.err == nil {
		return e.active, nil
	}
	if e.known && now.Sub(e.checked) <= c.opts.MaxStale {
		return e.active, nil // the registry is down: go by what we knew
	}
	if !e.known {
		return false, fmt.Errorf("check user status: %w", e.err)
	}
	return false, fmt.Errorf("check user status: last known %s ago, more than %s: %w",
		now.Sub(e.checked).Round(time.Second), c.opts.MaxStale, e.err)
}

// Forget drops what the Checker knows of a user, so that the next Active
// asks the registry (after an administrator's change, say).
func (c *Checker) Forget(userID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, userID)
}

// sweep drops, at most once per TTL, the entries nobody asked for in
// longer than MaxStale + TTL, so the cache holds only users with open
// sessions. c.mu is held.
func (c *Checker) sweep(now time.Time) {
	if now.Sub(c.lastSweep) < c.opts.TTL {
		return
	}
	c.lastSweep = now
	for id, e := range c.entries {
		if now.Sub(e.used) > c.opts.MaxStale+c.opts.TTL {
			delete(c.entries, id)
		}
	}
}
