package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The ended list: sessions ended before their time (back-channel and
// front-channel logout, `portcullis sessions end`, a user disabled), with
// either store. Each entry names sessions (by user, by the provider's sid
// or sub, by session id, or all of them) and a cut-off: those signed in
// at or before it have ended. An entry is kept until the last session it
// can name has reached its natural end (cut-off + Options.Expire).
//
// Every replica checks each request's session against its own copy in
// memory (Ended.Ends: map look-ups, no round trip). With Redis the list
// lives in one hash, "portcullis:ended" (one key: Cluster-safe), whose
// field "#" counts the changes and field "@" holds a random mark of the
// last one; each replica reads both every PollInterval (half a second)
// and the whole hash when either moved, so an ending reaches every
// replica within a second. (The counter alone starts again when Redis
// loses the hash, and could come back to the very number a replica last
// read: the mark tells that change apart.) A replica's copy only grows
// between expiries: what Redis forgets (a flush, a restart without
// persistence) is not forgotten here, so an ended session is never
// revived.

// EndKind says what an Ending names.
type EndKind uint8

// The kinds of Ending.
const (
	EndAll     EndKind = iota + 1 // every session
	EndUser                       // State.User == Value
	EndID                         // State.ID == Value
	EndSID                        // State.Provider == Provider and State.SID == Value
	EndSubject                    // State.Provider == Provider and the ID token's sub (else UserID) == Value
	EndLocal                      // State.LocalID, in decimal, == Value: a user of the registry, whatever X-User names them
)

// An Ending ends the sessions it names that were signed in at or before
// Before.
type Ending struct {
	Kind     EndKind
	Provider string // for EndSID and EndSubject
	Value    string
	Before   time.Time
}

// endKey is what an Ending names; map keys of strings look up without
// allocating.
type endKey struct {
	kind            EndKind
	provider, value string
}

// endEntry is an Ending's cut-off and the time it can be forgotten, in
// unix seconds.
type endEntry struct{ before, until int64 }

// maxEndings bounds the ended list. Entries come from verified logout
// tokens and administrators, and leave when their sessions would have
// ended anyway; a list that is full refuses new entries (ErrEndedFull)
// rather than forget one, which could revive a session.
const maxEndings = 1 << 20

// ErrEndedFull means the ended list holds maxEndings entries.
var ErrEndedFull = errors.New("session: the ended list is full")

// EndedOptions configure an Ended list.
type EndedOptions struct {
	// Expire is sessions' longest life (Options.Expire): how long an
	// entry is kept after its cut-off. Default 168h.
	Expire time.Duration
	// Redis, when set, shares the list between replicas; nil: this
	// process's memory only.
	Redis *Redis
	// PollInterval is how often Run reads Redis's change counter;
	// default 500ms.
	PollInterval time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Ended is the list of sessions ended before their time. It is safe for
// concurrent use.
type Ended struct {
	opts    EndedOptions
	mu      sync.Mutex // serializes changes to snap
	snap    atomic.Pointer[endedSet]
	version atomic.Pointer[string] // Redis's "#" and "@" as last read; nil before
}

// endedSet is one immutable copy of the list.
type endedSet struct {
	m     map[endKey]endEntry
	all   endEntry           // EndAll's entry; before == 0 when none
	local map[int64]endEntry // m's EndLocal entries by id: looked up without formatting the id
}

const (
	endedKey        = "portcullis:ended"
	endedVersionKey = "#"
	endedMarkKey    = "@"
)

// NewEnded returns an empty ended list for opts. With Redis it reads
// nothing yet: call Sync (or Run) before serving.
func NewEnded(opts EndedOptions) *Ended {
	if opts.Expire <= 0 {
		opts.Expire = defaultExpire
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 500 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Ended{opts: opts}
	e.snap.Store(&endedSet{})
	return e
}

// Shared reports whether the list is shared between replicas (Redis).
func (e *Ended) Shared() bool { return e.opts.Redis != nil }

// Ready fails until the list shared through Redis has been read once
// (Sync): before, sessions ended elsewhere would be taken for live. A
// list in memory is always ready.
func (e *Ended) Ready(context.Context) error {
	if e.opts.Redis != nil && e.version.Load() == nil {
		return fmt.Errorf("%w: the ended sessions have not been read from Redis yet", ErrUnavailable)
	}
	return nil
}

// Ends reports whether st has been ended. It reads memory only and, while
// the list is empty, allocates nothing.
func (e *Ended) Ends(st *State) bool {
	set := e.snap.Load()
	if len(set.m) == 0 && set.all.before == 0 {
		return false
	}
	created := st.CreatedAt.Unix()
	ended := func(en endEntry, ok bool) bool { return ok && en.before != 0 && created <= en.before }
	if ended(set.all, true) {
		return true
	}
	if len(set.m) == 0 {
		return false
	}
	if st.User != "" && ended(endLookup(set.m, endKey{EndUser, "", st.User})) {
		return true
	}
	if st.ID != "" && ended(endLookup(set.m, endKey{EndID, "", st.ID})) {
		return true
	}
	if st.SID != "" && ended(endLookup(set.m, endKey{EndSID, st.Provider, st.SID})) {
		return true
	}
	if st.LocalID != 0 && len(set.local) > 0 {
		if en, ok := set.local[st.LocalID]; ended(en, ok) {
			return true
		}
	}
	sub := st.subject()
	return sub != "" && ended(endLookup(set.m, endKey{EndSubject, st.Provider, sub}))
}

func endLookup(m map[endKey]endEntry, k endKey) (endEntry, bool) {
	en, ok := m[k]
	return en, ok
}

// End adds endings to the list: with Redis, for every replica (its error
// then wraps ErrUnavailable when Redis can't be reached, and nothing is
// ended here either, so that what the caller reports holds everywhere).
func (e *Ended) End(ctx context.Context, endings ...Ending) error {
	now := e.opts.Now()
	add := make(map[endKey]endEntry, len(endings))
	for _, en := range endings {
		if en.Kind < EndAll || en.Kind > EndLocal {
			return fmt.Errorf("session: end: unknown kind %d", en.Kind)
		}
		before := en.Before
		if before.IsZero() {
			before = now
		}
		k := endKey{en.Kind, en.Provider, en.Value}
		if en.Kind == EndAll || en.Kind == EndUser || en.Kind == EndID || en.Kind == EndLocal {
			k.provider = ""
		}
		if en.Kind == EndAll {
			k.value = ""
		}
		add[k] = endEntry{before: before.Unix(), until: before.Add(e.opts.Expire).Unix()}
	}
	if e.opts.Redis != nil {
		if err := e.storeRedis(ctx, add); err != nil {
			return err
		}
	}
	return e.merge(add)
}

// merge adds entries to the local copy, keeping the later cut-off where
// both name the same sessions and dropping what has expired.
func (e *Ended) merge(add map[endKey]endEntry) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.snap.Load()
	now := e.opts.Now().Unix()
	next := &endedSet{m: make(map[endKey]endEntry, len(old.m)+len(add)), all: old.all}
	if next.all.until != 0 && next.all.until < now {
		next.all = endEntry{}
	}
	for k, en := range old.m {
		if en.until >= now {
			next.m[k] = en
		}
	}
	for k, en := range add {
		if en.until < now {
			continue
		}
		if k.kind == EndAll {
			if en.before > next.all.before {
				next.all = en
			}
			continue
		}
		if cur, ok := next.m[k]; ok && cur.before >= en.before {
			continue
		}
		next.m[k] = en
	}
	if len(next.m) > maxEndings {
		return ErrEndedFull
	}
	for k, en := range next.m {
		if id, err := strconv.ParseInt(k.value, 10, 64); k.kind == EndLocal && err == nil && id != 0 {
			if next.local == nil {
				next.local = make(map[int64]endEntry)
			}
			next.local[id] = en
		}
	}
	e.snap.Store(next)
	return nil
}

// Len returns the number of entries in this replica's copy.
func (e *Ended) Len() int {
	set := e.snap.Load()
	n := len(set.m)
	if set.all.before != 0 {
		n++
	}
	return n
}

// field is k's field in the Redis hash: kind, provider and value,
// separated by NUL (which none of them holds: they come from JSON
// strings, headers and command lines).
func (k endKey) field() string {
	return strconv.Itoa(int(k.kind)) + "\x00" + k.provider + "\x00" + k.value
}

func parseEndField(f string) (endKey, bool) {
	parts := strings.SplitN(f, "\x00", 3)
	if len(parts) != 3 {
		return endKey{}, false
	}
	kind, err := strconv.Atoi(parts[0])
	if err != nil || kind < int(EndAll) || kind > int(EndLocal) {
		return endKey{}, false
	}
	return endKey{EndKind(kind), parts[1], parts[2]}, true
}

func (en endEntry) value() string {
	return strconv.FormatInt(en.before, 10) + ":" + strconv.FormatInt(en.until, 10)
}

func parseEndValue(v string) (endEntry, bool) {
	b, u, ok := strings.Cut(v, ":")
	if !ok {
		return endEntry{}, false
	}
	before, err1 := strconv.ParseInt(b, 10, 64)
	until, err2 := strconv.ParseInt(u, 10, 64)
	return endEntry{before, until}, err1 == nil && err2 == nil && before > 0
}

// endScript sets each field ARGV[2i+1] to ARGV[2i+2] (i >= 1) unless it
// holds a later cut-off, counts the change in "#" and marks it in "@"
// with ARGV[2] (random), and forgets fields whose time is past ARGV[1]
// (unix seconds). One key: Cluster-safe.
var endScript = redis.NewScript(`
local now = tonumber(ARGV[1])
for i = 3, #ARGV, 2 do
	local cur = redis.call("HGET", KEYS[1], ARGV[i])
	local keep = false
	if cur then
		local b = tonumber(string.match(cur, "^(%d+):"))
		local nb = tonumber(string.match(ARGV[i+1], "^(%d+):"))
		if b and nb and b >= nb then keep = true end
	end
	if not keep then redis.call("HSET", KEYS[1], ARGV[i], ARGV[i+1]) end
end
local all = redis.call("HGETALL", KEYS[1])
for i = 1, #all, 2 do
	if all[i] ~= "#" and all[i] ~= "@" then
		local u = tonumber(string.match(all[i+1], ":(%d+)$"))
		if u and u < now then redis.call("HDEL", KEYS[1], all[i]) end
	end
end
redis.call("HSET", KEYS[1], "@", ARGV[2])
return redis.call("HINCRBY", KEYS[1], "#", 1)
`)

func (e *Ended) storeRedis(ctx context.Context, add map[endKey]endEntry) error {
	args := make([]any, 0, 2+2*len(add))
	args = append(args, e.opts.Now().Unix(), rand.Text())
	for k, en := range add {
		args = append(args, k.field(), en.value())
	}
	// Through write, as a session is: retried while a master is replaced,
	// and, with replicas, returned once a replica has it, so that a
	// failover right after does not forget the ending.
	var run *redis.Cmd
	err := e.opts.Redis.write(ctx, endedKey, func(ctx context.Context, p redis.Pipeliner) {
		run = endScript.Eval(ctx, p, []string{endedKey}, args...)
	})
	if err == nil {
		err = run.Err()
	}
	if err != nil {
		return fmt.Errorf("session: end sessions: %w", err)
	}
	return nil
}

// Sync reads the list from Redis when its change counter or mark moved
// since the last Sync, and merges it into this replica's copy. Without Redis it
// does nothing. Its error wraps ErrUnavailable; the copy is then kept.
func (e *Ended) Sync(ctx context.Context) error {
	r := e.opts.Redis
	if r == nil {
		return nil
	}
	var vals []any
	err := r.retry(ctx, func(ctx context.Context) error {
		var err error
		vals, err = r.client.HMGet(ctx, endedKey, endedVersionKey, endedMarkKey).Result()
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
	}
	if last := e.version.Load(); last != nil && *last == endedVersion(vals...) {
		return nil
	}
	var all map[string]string
	err = r.retry(ctx, func(ctx context.Context) error {
		var err error
		all, err = r.client.HGetAll(ctx, endedKey).Result()
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: redis: read ended sessions: %w", ErrUnavailable, err)
	}
	add := make(map[endKey]endEntry, len(all))
	for f, v := range all {
		k, ok1 := parseEndField(f)
		en, ok2 := parseEndValue(v)
		if ok1 && ok2 {
			add[k] = en
		}
	}
	if err := e.merge(add); err != nil {
		return err
	}
	v := endedVersion(all[endedVersionKey], all[endedMarkKey])
	e.version.Store(&v)
	return nil
}

// endedVersion is the list's version from its fields "#" and "@" (nil or
// "" when absent).
func endedVersion(fields ...any) string {
	v := ""
	for _, f := range fields {
		s, _ := f.(string)
		v += s + "\x00"
	}
	return v
}

// Run keeps this replica's copy up to date until ctx ends: Sync every
// PollInterval. onError is told of failures (Redis down), at most once
// until a Sync succeeds again. Without Redis, Run returns at once.
func (e *Ended) Run(ctx context.Context, onError func(error)) {
	if e.opts.Redis == nil {
		return
	}
	t := time.NewTicker(e.opts.PollInterval)
	defer t.Stop()
	failing := false
	for {
		err := e.Sync(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			failing = true
			if onError != nil {
				onError(err)
			}
		case err == nil:
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// A Seen list remembers the ids of single-use tokens (a logout token's
// jti) until they expire, so that a replay is refused: in Redis (SET NX,
// for every replica) when it has one, else in this process's memory,
// bounded. It is safe for concurrent use.
type Seen struct {
	redis *Redis
	now   func() time.Time

	mu sync.Mutex
	m  map[string]time.Time // id → when it may be forgotten
}

// maxSeen bounds a Seen list in memory; a full one refuses new ids
// (FirstSeen fails) until some expire.
const maxSeen = 100000

// NewSeen returns a Seen list in r, or in memory when r is nil.
func NewSeen(r *Redis, now func() time.Time) *Seen {
	if now == nil {
		now = time.Now
	}
	return &Seen{redis: r, now: now, m: map[string]time.Time{}}
}

// FirstSeen records id for ttl and reports whether it is new: false when
// it was recorded before and hasn't expired. Its error wraps
// ErrUnavailable when Redis can't be reached, or ErrEndedFull when the
// memory list is full.
func (s *Seen) FirstSeen(ctx context.Context, scope, id string, ttl time.Duration) (bool, error) {
	key := seenKey(scope, id)
	if s.redis != nil {
		var first bool
		err := s.redis.retry(ctx, func(ctx context.Context) error {
			ok, err := s.redis.client.SetNX(ctx, key, "1", ttl).Result()
			first = ok
			return err
		})
		if err != nil {
			return false, fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
		}
		return first, nil
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if until, ok := s.m[key]; ok && now.Before(until) {
		return false, nil
	}
	if len(s.m) >= maxSeen {
		for k, until := range s.m {
			if !now.Before(until) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= maxSeen {
			return false, fmt.Errorf("%w: too many single-use ids remembered", ErrEndedFull)
		}
	}
	s.m[key] = now.Add(ttl)
	return true, nil
}

// Forget forgets id, recorded by FirstSeen, so that it counts as new
// again: for a token whose use failed after it was recorded, which its
// sender may send again. Its error wraps ErrUnavailable when Redis can't
// be reached.
func (s *Seen) Forget(ctx context.Context, scope, id string) error {
	key := seenKey(scope, id)
	if s.redis != nil {
		err := s.redis.retry(ctx, func(ctx context.Context) error {
			return s.redis.client.Del(ctx, key).Err()
		})
		if err != nil {
			return fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
		}
		return nil
	}
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
	return nil
}

// seenKey is where a Seen list keeps id of scope.
func seenKey(scope, id string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + id))
	return "portcullis:seen:" + hex.EncodeToString(sum[:])
}
