package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// ErrRefreshDead marks a refresh that can never succeed: the provider
// refused the refresh token (invalid_grant) or there is none. The session
// must end.
var ErrRefreshDead = errors.New("session: refresh token no longer valid")

// ErrUnavailable marks a session store that can't be reached (Redis down).
// Requests that need the store get a 503; nothing is cleared.
var ErrUnavailable = errors.New("session: store unavailable")

// A Coordinator lets several replicas share one refresh: the replica that
// takes the lock for a refresh token spends it and publishes the result
// under the same key; the others wait for that result instead of spending
// the token again. Keys are hashes of the old refresh token, never the
// token itself.
type Coordinator interface {
	// Lock tries to take the refresh lock for key for at most ttl. ok is
	// false when another replica holds it. unlock releases it (only if still
	// held by this caller).
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error)
	// Result returns the published result for key, if any.
	Result(ctx context.Context, key string) (s *State, ok bool, err error)
	// Publish stores the result of the refresh for key for ttl.
	Publish(ctx context.Context, key string, s *State, ttl time.Duration) error
}

// ErrRefreshBackoff is returned instead of calling the provider again when
// the last refresh of this token failed transiently only moments ago.
var ErrRefreshBackoff = errors.New("session: refresh failed moments ago; not retrying yet")

// RefreshFunc obtains fresh tokens for s from the provider and returns the
// session with them. An error wrapping ErrRefreshDead ends the session; any
// other error is taken as transient. A Refresher calls it once per grant it
// makes at the provider, however many callers (or, with a Coordinator,
// replicas) share the outcome, so it is where grants are counted.
type RefreshFunc func(ctx context.Context, s *State) (*State, error)

// RefreshOptions configure a Refresher. Zero values take the defaults.
type RefreshOptions struct {
	// Coordinator shares refreshes across replicas; nil: this process only.
	Coordinator Coordinator
	// Backoff is the least time between two tries for one refresh token
	// after a transient failure. Default 5s.
	Backoff time.Duration
	// ResultTTL is how long a refresh's outcome is handed to late requests
	// that still carry the old refresh token. Default 1m.
	ResultTTL time.Duration
	// LockTTL bounds how long one replica may hold a refresh lock, and how
	// long the others wait for its result. Default 15s.
	LockTTL time.Duration
	// Timeout bounds one refresh call, whoever asked for it. Default 30s.
	Timeout time.Duration
	// MaxEntries bounds the remembered outcomes. Default 10000.
	MaxEntries int
	Now        func() time.Time
}

// A Refresher runs refresh grants so that all the requests carrying one
// session's refresh token cause one grant between them: concurrent callers
// share one call (single flight), callers arriving shortly after get the
// same result, and with a Coordinator, so do other replicas. Providers
// that rotate refresh tokens refuse a second use of the old one, so
// spending it twice would end the session.
type Refresher struct {
	opts  RefreshOptions
	group singleflight.Group

	mu       sync.Mutex
	outcomes map[string]outcome // by refreshKey
}

// outcome is a finished refresh: a new session, a dead grant, or (neither)
// a transient failure; it is remembered until expires.
type outcome struct {
	state   *State
	dead    error
	expires time.Time
}

// NewRefresher returns a Refresher.
func NewRefresher(opts RefreshOptions) *Refresher {
	if opts.Backoff <= 0 {
		opts.Backoff = 5 * time.Second
	}
	if opts.ResultTTL <= 0 {
		opts.ResultTTL = time.Minute
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = 15 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Refresher{opts: opts, outcomes: make(map[string]outcome)}
}

// refreshKey names a refresh by the session's provider and refresh token,
// hashed so the token itself is never a map or Redis key.
func refreshKey(s *State) string {
	sum := sha256.Sum256([]byte(s.Provider + "\x00" + s.RefreshToken))
	return hex.EncodeToString(sum[:])
}

// Refresh returns s with fresh tokens, calling fn at most once for all the
// callers that present the same refresh token at about the same time.
// The caller's ctx bounds only its own wait: the shared call runs on until
// Timeout, so one impatient client can't fail the others.
func (r *Refresher) Refresh(ctx context.Context, s *State, fn RefreshFunc) (*State, error) {
	key := refreshKey(s)
	if st, err, ok := r.remembered(key); ok {
		if err != nil {
			return nil, err
		}
		return copyState(st), nil
	}
	ch := r.group.DoChan(key, func() (any, error) {
		if st, err, ok := r.remembered(key); ok {
			return st, err
		}
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.Timeout)
		defer cancel()
		st, err := r.refresh(callCtx, key, s, fn)
		r.remember(key, st, err)
		return st, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return copyState(res.Val.(*State)), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refresh spends the refresh token, or, with a Coordinator, waits for the
// replica that holds the lock to publish its result.
func (r *Refresher) refresh(ctx context.Context, key string, s *State, fn RefreshFunc) (*State, error) {
	c := r.opts.Coordinator
	if c == nil {
		return fn(ctx, s)
	}
	deadline := r.opts.Now().Add(r.opts.LockTTL)
	for {
		if st, ok, err := c.Result(ctx, key); err != nil {
			return nil, err
		} else if ok {
			return st, nil
		}
		unlock, ok, err := c.Lock(ctx, key, r.opts.LockTTL)
		if err != nil {
			return nil, err
		}
		if ok {
			defer unlock()
			// The holder before us may have published just before we locked.
			if st, ok, err := c.Result(ctx, key); err == nil && ok {
				return st, nil
			}
			st, err := fn(ctx, s)
			if err == nil {
				if perr := c.Publish(ctx, key, st, r.opts.ResultTTL); perr != nil {
					// The grant is spent; this replica's caller still gets it.
					return st, nil
				}
			}
			return st, err
		}
		// Another replica is refreshing: wait for its result, and take
		// over if its lock lapses without one.
		if !r.opts.Now().Before(deadline) {
			return nil, errors.New("session: timed out waiting for another replica's refresh")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// remembered returns a recent outcome for key: the new session, a dead
// grant, or ErrRefreshBackoff after a recent transient failure.
func (r *Refresher) remembered(key string) (*State, error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.outcomes[key]
	if !ok {
		return nil, nil, false
	}
	now := r.opts.Now()
	if !now.Before(o.expires) {
		delete(r.outcomes, key)
		return nil, nil, false
	}
	switch {
	case o.state != nil:
		return o.state, nil, true
	case o.dead != nil:
		return nil, o.dead, true
	default:
		return nil, ErrRefreshBackoff, true
	}
}

// remember records the outcome of a refresh.
func (r *Refresher) remember(key string, st *State, err error) {
	now := r.opts.Now()
	o := outcome{state: st, expires: now.Add(r.opts.ResultTTL)}
	switch {
	case err == nil:
	case errors.Is(err, ErrRefreshDead):
		o.dead = err
	default:
		o.expires = now.Add(r.opts.Backoff)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.outcomes) >= r.opts.MaxEntries {
		for k, v := range r.outcomes {
			if !now.Before(v.expires) || len(r.outcomes) >= r.opts.MaxEntries {
				delete(r.outcomes, k)
			}
		}
	}
	r.outcomes[key] = o
}

// copyState returns a copy of s that shares no slices or maps with it, so
// callers sharing one refresh can't affect each other.
func copyState(s *State) *State {
	c := *s
	c.Groups = append([]string(nil), s.Groups...)
	if s.Attributes != nil {
		c.Attributes = make(map[string]string, len(s.Attributes))
		for k, v := range s.Attributes {
			c.Attributes[k] = v
		}
	}
	return &c
}
