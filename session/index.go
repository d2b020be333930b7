package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis store's index of sessions by user, sid and sub, and the ways
// to find and end sessions there (portcullis sessions list|end, and
// logouts): each index is a set of session keys at
// "portcullis:index:{user:NAME}", "portcullis:index:{sid:PROVIDER:SID}"
// or "portcullis:index:{sub:PROVIDER:SUB}" — every command touches one
// key, so it is Cluster-safe — that lives as long as the longest session
// in it. A set member whose session has gone (signed out, ended,
// expired) is dropped when a look-up meets it.

const indexKeyPrefix = "portcullis:index:"

// indexKeys returns the index sets st belongs in.
func indexKeys(st *State) []string {
	keys := make([]string, 0, 3)
	if st.User != "" {
		keys = append(keys, indexKey(EndUser, "", st.User))
	}
	if st.SID != "" {
		keys = append(keys, indexKey(EndSID, st.Provider, st.SID))
	}
	sub := st.subject()
	if sub != "" {
		keys = append(keys, indexKey(EndSubject, st.Provider, sub))
	}
	return keys
}

// indexKey is the index set of sessions with kind's value at provider;
// "" for a kind that has no index (EndAll, EndID).
func indexKey(kind EndKind, provider, value string) string {
	// The hash tag is the whole name: one set, one slot.
	switch kind {
	case EndUser:
		return indexKeyPrefix + "{user:" + value + "}"
	case EndSID:
		return indexKeyPrefix + "{sid:" + provider + ":" + value + "}"
	case EndSubject:
		return indexKeyPrefix + "{sub:" + provider + ":" + value + "}"
	}
	return ""
}

// indexScript adds ARGV[1] to the set KEYS[1] and makes the set live at
// least ARGV[2] more milliseconds (any Redis version: no EXPIRE GT).
var indexScript = redis.NewScript(`
redis.call("SADD", KEYS[1], ARGV[1])
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[2]) then
	redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 1
`)

// index adds the session at key to st's index sets until ttl from now
// (never shortening a set's life). Best effort: a session missing from
// the index is still found by Each (portcullis sessions falls back to it
// when the index names none), and still ended by the ended list.
func (s *RedisStore) index(ctx context.Context, key string, st *State, ttl time.Duration) {
	sets := indexKeys(st)
	s.redis.retry(ctx, func(ctx context.Context) error {
		_, err := s.redis.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, set := range sets {
				indexScript.Eval(ctx, p, []string{set}, key, ttl.Milliseconds())
			}
			return nil
		})
		return err
	})
}

// unindex removes the session at key from its index sets, before End
// deletes it. Best effort: a member left behind is dropped when a look-up
// meets it, or with its set. (Clear, which must not wait on a slow Redis
// for longer than its delete, leaves the members to those.)
func (s *RedisStore) unindex(ctx context.Context, key string) {
	st, err := s.get(ctx, key)
	if err != nil {
		return
	}
	sets := indexKeys(st)
	s.redis.retry(ctx, func(ctx context.Context) error {
		_, err := s.redis.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, set := range sets {
				p.SRem(ctx, set, key)
			}
			return nil
		})
		return err
	})
}

// A Live session is one stored in the Redis store.
type Live struct {
	// Key names it in the store (End takes it).
	Key   string
	State *State
}

// Each calls fn with every session in Redis (a Cluster's every master),
// in no order and one call at a time, until fn returns an error, which
// Each returns. A stored
// value that does not open (another secret, another deployment) is
// skipped. Its error wraps ErrUnavailable when Redis can't be reached.
func (s *RedisStore) Each(ctx context.Context, fn func(Live) error) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, sessionKeyPrefix+"*", 500).Iterator()
		for it.Next(ctx) {
			key := it.Val()
			st, err := s.get(ctx, key)
			if errors.Is(err, ErrUnavailable) {
				return err
			}
			if err != nil {
				continue // gone meanwhile, or not ours
			}
			if err := fn(Live{Key: key, State: st}); err != nil {
				return err
			}
		}
		return it.Err()
	}
	var err error
	if s.redis.cluster != nil {
		// ForEachMaster scans the masters at once: fn is called from one
		// at a time.
		var mu sync.Mutex
		each := fn
		fn = func(l Live) error {
			mu.Lock()
			defer mu.Unlock()
			return each(l)
		}
		err = s.redis.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.redis.client)
	}
	if err != nil && !errors.Is(err, ErrUnavailable) && ctx.Err() == nil {
		if _, ok := errors.AsType[redis.Error](err); !ok {
			return fmt.Errorf("%w: redis: list sessions: %w", ErrUnavailable, err)
		}
	}
	return err
}

// Find returns the sessions an ending names: by the index for a user,
// sid or sub, else (an id, a registry id, or all) by going through every session. It
// drops index members whose session has gone. Its error wraps
// ErrUnavailable when Redis can't be reached.
func (s *RedisStore) Find(ctx context.Context, e Ending) ([]Live, error) {
	set := indexKey(e.Kind, e.Provider, e.Value)
	var found []Live
	if set == "" {
		err := s.Each(ctx, func(l Live) error {
			if e.Matches(l.State) {
				found = append(found, l)
			}
			return nil
		})
		return found, err
	}
	var keys []string
	err := s.redis.retry(ctx, func(ctx context.Context) error {
		var err error
		keys, err = s.redis.client.SMembers(ctx, set).Result()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
	}
	var gone []any
	for _, key := range keys {
		if !strings.HasPrefix(key, sessionKeyPrefix) {
			continue
		}
		st, err := s.get(ctx, key)
		switch {
		case errors.Is(err, ErrUnavailable):
			return nil, err
		case err != nil:
			gone = append(gone, key)
		case e.Matches(st):
			found = append(found, Live{Key: key, State: st})
		}
	}
	if len(gone) > 0 {
		s.redis.write(ctx, set, func(ctx context.Context, p redis.Pipeliner) { p.SRem(ctx, set, gone...) })
	}
	return found, nil
}

// Matches reports whether e names st (whatever its sign-in time).
func (e Ending) Matches(st *State) bool {
	switch e.Kind {
	case EndAll:
		return true
	case EndUser:
		return st.User == e.Value
	case EndID:
		return st.ID == e.Value
	case EndLocal:
		return st.LocalID != 0 && strconv.FormatInt(st.LocalID, 10) == e.Value
	case EndSID:
		return st.Provider == e.Provider && st.SID == e.Value
	case EndSubject:
		return st.Provider == e.Provider && st.subject() == e.Value
	}
	return false
}

// EndStored deletes the sessions stored at keys (Live.Key), so that they
// end for every copy of their cookie on every replica (each replica's
// cache is told, as for a sign-out), and returns how many there were.
// Its error wraps ErrUnavailable when Redis can't be reached or the
// replicas can't be told.
func (s *RedisStore) EndStored(ctx context.Context, keys []string) (int, error) {
	n := 0
	for _, key := range keys {
		if !strings.HasPrefix(key, sessionKeyPrefix) {
			return n, fmt.Errorf("session: end: %q is not a session key", key)
		}
		s.unindex(ctx, key)
		var del *redis.IntCmd
		if err := s.redis.write(ctx, key, func(ctx context.Context, p redis.Pipeliner) { del = p.Del(ctx, key) }); err != nil {
			return n, fmt.Errorf("session: end: %w", err)
		}
		n += int(del.Val())
		if err := s.saved(ctx, key); err != nil {
			return n, fmt.Errorf("session: end: %w", err)
		}
	}
	return n, nil
}
