package session

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/testclock"
)

// cacheKey is the session key of the i-th test session.
func cacheKey(i int) string { return fmt.Sprintf("%s%064x", sessionKeyPrefix, i) }

func TestSessionCacheBounded(t *testing.T) {
	t.Parallel()
	c := newSessionCache(CacheOptions{Entries: 3})
	c.setLive(true)
	now := t0
	put := func(i int) {
		c.put(c.get(cacheKey(i), now), cacheKey(i), sampleState(t0, 10), now)
	}
	for i := range 3 {
		put(i)
	}
	if l := c.get(cacheKey(0), now); !l.fresh { // 0 is now the most recently used
		t.Fatalf("get(0) fresh = false; want true")
	}
	put(3) // evicts 1, the least recently used
	put(4) // evicts 2
	if got := c.len(); got != 3 {
		t.Errorf("len() = %d; want 3", got)
	}
	for i, want := range []bool{true, false, false, true, true} {
		if got := c.get(cacheKey(i), now).st != nil; got != want {
			t.Errorf("after 5 puts into 3 places, session %d kept = %v; want %v", i, got, want)
		}
	}

	// The cookie hashes are bounded too.
	for i := range 10 {
		c.rememberKey([32]byte{byte(i)}, cacheKey(i))
	}
	if got := len(c.tickets); got > 3 {
		t.Errorf("len(tickets) = %d after 10 into a cache of 3; want at most 3", got)
	}
	if key, ok := c.keyFor([32]byte{9}); !ok || key != cacheKey(9) {
		t.Errorf("keyFor(last) = %q, %v; want %q, true", key, ok, cacheKey(9))
	}
}

func TestSessionCacheAges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		age              time.Duration
		wantFresh, wantS bool
	}{
		{name: "just read", age: 0, wantFresh: true, wantS: true},
		{name: "before revalidation", age: 10*time.Second - time.Nanosecond, wantFresh: true, wantS: true},
		{name: "due for revalidation", age: 10 * time.Second, wantFresh: false, wantS: true},
		{name: "end of grace", age: 60*time.Second - time.Nanosecond, wantFresh: false, wantS: true},
		{name: "after grace", age: 60 * time.Second, wantFresh: false, wantS: false},
		{name: "read in the future", age: -time.Second, wantFresh: false, wantS: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSessionCache(CacheOptions{})
			c.setLive(true)
			key := cacheKey(1)
			c.put(c.get(key, t0), key, sampleState(t0, 10), t0)
			l := c.get(key, t0.Add(tt.age))
			if l.fresh != tt.wantFresh || (l.st != nil) != tt.wantS {
				t.Errorf("get after %v: fresh %v, state %v; want %v, %v", tt.age, l.fresh, l.st != nil, tt.wantFresh, tt.wantS)
			}
		})
	}
}

func TestSessionCacheInvalidation(t *testing.T) {
	t.Parallel()
	key := cacheKey(1)
	t.Run("forget", func(t *testing.T) {
		c := newSessionCache(CacheOptions{})
		c.setLive(true)
		c.put(c.get(key, t0), key, sampleState(t0, 10), t0)
		c.forget(key)
		if l := c.get(key, t0); l.st != nil {
			t.Errorf("get after forget = %+v; want nothing, not even for the grace", l)
		}
	})
	t.Run("read under way", func(t *testing.T) {
		// A read that began before the invalidation does not put back
		// what it read.
		c := newSessionCache(CacheOptions{})
		c.setLive(true)
		l := c.get(key, t0)
		c.forget(key)
		c.put(l, key, sampleState(t0, 10), t0)
		if got := c.get(key, t0); got.st != nil {
			t.Errorf("get after a put older than the invalidation = %+v; want nothing", got)
		}
	})
	t.Run("not listening", func(t *testing.T) {
		c := newSessionCache(CacheOptions{})
		c.put(c.get(key, t0), key, sampleState(t0, 10), t0)
		if l := c.get(key, t0); l.fresh || l.st == nil {
			t.Errorf("get without a subscription: fresh %v, state %v; want false, true (for the grace only)", l.fresh, l.st != nil)
		}
	})
	t.Run("disconnect", func(t *testing.T) {
		// Entries read before a disconnection are never served fresh
		// again, not even once subscribed again: they may have missed an
		// invalidation meanwhile.
		c := newSessionCache(CacheOptions{})
		c.setLive(true)
		c.put(c.get(key, t0), key, sampleState(t0, 10), t0)
		c.setLive(false)
		if l := c.get(key, t0); l.fresh {
			t.Errorf("get after a disconnection: fresh; want a read from Redis")
		}
		c.setLive(true)
		if l := c.get(key, t0); l.fresh || l.st == nil {
			t.Errorf("get after resubscribing: fresh %v, state %v; want false, true (for the grace only)", l.fresh, l.st != nil)
		}
		c.put(c.get(key, t0), key, sampleState(t0, 10), t0)
		if l := c.get(key, t0); !l.fresh {
			t.Errorf("get after a read in the new subscription: not fresh; want fresh")
		}
	})
	t.Run("off", func(t *testing.T) {
		if c := newSessionCache(CacheOptions{Entries: -1}); c != nil {
			t.Errorf("newSessionCache(Entries: -1) = %p; want nil", c)
		}
	})
}

// listening returns a RedisStore on url whose cache listens to the
// invalidations, once it does, and a channel of what Listen reports.
func listening(t testing.TB, url string, clk *testclock.Clock, mods ...func(*Options)) (*RedisStore, <-chan error) {
	t.Helper()
	return listeningOn(t, RedisOptions{URL: url}, clk, mods...)
}

// listeningOn is listening on the Redis ro describes.
func listeningOn(t testing.TB, ro RedisOptions, clk *testclock.Clock, mods ...func(*Options)) (*RedisStore, <-chan error) {
	t.Helper()
	s := newRedisStoreOn(t, ro, clk, mods...)
	reports := make(chan error, 100)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		s.Listen(ctx, func(err error) {
			select {
			case reports <- err:
			default:
			}
		})
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitReport(t, reports, false)
	return s, reports
}

// waitReport waits for Listen to report that it subscribed (lost false)
// or lost its subscription (lost true).
func waitReport(t testing.TB, reports <-chan error, lost bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case err := <-reports:
			if (err != nil) == lost {
				return
			}
		case <-timeout:
			t.Fatalf("Listen did not report lost=%v within 10s", lost)
		}
	}
}

// TestRedisStoreCache shows the cache serving without Redis, and every
// replica's cache invalidated at once: two stores on one Redis, as two
// replicas.
func TestRedisStoreCache(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	raw := rawRedis(t, srv.URL)
	clk := testclock.New(t0)
	a, _ := listening(t, srv.URL, clk)
	b, reports := listening(t, srv.URL, clk)

	signIn := func(t *testing.T) (jar, string) {
		t.Helper()
		j := jar{}
		j.save(t, a, sampleState(clk.Now(), 100))
		if _, err := b.Load(j.request()); err != nil {
			t.Fatalf("replica b: Load() = %v; want the session", err)
		}
		return j, sessionID(ticketOf(t, a, j))
	}

	t.Run("served from the cache until revalidated", func(t *testing.T) {
		j := jar{}
		j.save(t, b, sampleState(clk.Now(), 100)) // on b: no message to race with
		if _, err := b.Load(j.request()); err != nil {
			t.Fatalf("Load() = %v; want the session", err)
		}
		key := sessionID(ticketOf(t, b, j))
		raw.Del(t.Context(), key) // behind the stores' backs: no invalidation
		if _, err := b.Load(j.request()); err != nil {
			t.Errorf("Load() of a cached session = %v; want it, without Redis", err)
		}
		clk.Advance(defaultRevalidate)
		if _, err := b.Load(j.request()); !errors.Is(err, ErrExpired) {
			t.Errorf("Load() %v later: error = %v; want %v (read from Redis again)", defaultRevalidate, err, ErrExpired)
		}
	})

	t.Run("sign-out ends it on the other replica", func(t *testing.T) {
		j, _ := signIn(t)
		copied := maps.Clone(j)
		a.Clear(httptest.NewRecorder(), j.request())
		refusedWithin(t, b, copied, 3*time.Second)

		j, _ = signIn(t)
		copied = maps.Clone(j)
		if err := a.End(httptest.NewRecorder(), j.request()); err != nil {
			t.Errorf("End() = %v; want nil", err)
		}
		refusedWithin(t, b, copied, 3*time.Second)
		if err := a.End(httptest.NewRecorder(), jar{}.request()); err != nil {
			t.Errorf("End() without a session = %v; want nil", err)
		}
	})

	t.Run("refresh replaces it on the other replica", func(t *testing.T) {
		j, _ := signIn(t)
		st, err := a.Load(j.request())
		if err != nil {
			t.Fatal(err)
		}
		st.AccessToken = "refreshed-access-token"
		j.save(t, a, st)
		deadline := time.Now().Add(3 * time.Second)
		for {
			got, err := b.Load(j.request())
			if err == nil && got.AccessToken == st.AccessToken {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica b: Load() 3s after a refresh: error %v, refreshed %v; want the refreshed session", err, got != nil && got.AccessToken == st.AccessToken)
			}
			time.Sleep(time.Millisecond)
		}
	})

	t.Run("ending bound", func(t *testing.T) {
		// How long an Invalidate on a takes to be refused on b, over 50
		// endings: the figure the README gives.
		var took []time.Duration
		for range 50 {
			j, key := signIn(t)
			start := time.Now()
			if err := a.Invalidate(t.Context(), SessionID(key)); err != nil {
				t.Fatalf("Invalidate() = %v", err)
			}
			refusedWithin(t, b, j, 3*time.Second)
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		t.Logf("an ended session refused by the other replica after: median %v, max %v (50 endings)", took[len(took)/2], took[len(took)-1])
	})

	t.Run("invalidate arguments", func(t *testing.T) {
		for _, id := range []string{"", "zz", strings.Repeat("A", 64), sessionKeyPrefix + strings.Repeat("a", 64)} {
			if err := a.Invalidate(t.Context(), id); err == nil {
				t.Errorf("Invalidate(%q) = nil; want an error", id)
			}
		}
		if err := a.Invalidate(t.Context(), strings.Repeat("a", 64)); err != nil {
			t.Errorf("Invalidate(an unknown id) = %v; want nil", err)
		}
	})

	t.Run("a lost subscription stops the cache", func(t *testing.T) {
		j, key := signIn(t)
		srv.Do("CLIENT", "KILL", "TYPE", "pubsub") // both replicas' subscriptions
		waitReport(t, reports, true)
		raw.Del(t.Context(), key) // an ending b may never hear of
		if _, err := b.Load(j.request()); !errors.Is(err, ErrExpired) {
			t.Errorf("Load() after the subscription was lost: error = %v; want %v (read through)", err, ErrExpired)
		}
		waitReport(t, reports, false) // subscribed again
		j2, _ := signIn(t)
		if _, err := b.Load(j2.request()); err != nil {
			t.Errorf("Load() after resubscribing = %v; want the session", err)
		}
	})
}

// refusedWithin waits until s refuses the session in j, for at most d,
// and returns how long that took.
func refusedWithin(t *testing.T, s *RedisStore, j jar, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := s.Load(j.request())
		if errors.Is(err, ErrExpired) {
			return time.Since(start)
		}
		if err != nil {
			t.Fatalf("Load() = %v; want the session or %v", err, ErrExpired)
		}
		if time.Since(start) > d {
			t.Fatalf("the session is still served %v after it ended; want it refused", d)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestRedisStoreCacheRedisDown: with Redis killed, a session read lately
// keeps working for the grace, then the store answers ErrUnavailable;
// sign-in (Save) and ending (Invalidate) fail loudly.
func TestRedisStoreCacheRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := testclock.New(t0)
	s, reports := listening(t, srv.URL, clk)
	j := jar{}
	j.save(t, s, sampleState(t0, 100))
	if _, err := s.Load(j.request()); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	id := SessionID(sessionID(ticketOf(t, s, j)))

	srv.Kill()
	waitReport(t, reports, true)
	clk.Advance(defaultRevalidate) // due for a read from Redis, which fails
	if _, err := s.Load(j.request()); err != nil {
		t.Errorf("Load() with Redis down, within the grace: %v; want the session", err)
	}
	if err := s.Save(httptest.NewRecorder(), jar{}.request(), sampleState(clk.Now(), 10)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Save() of a sign-in with Redis down = %v; want %v", err, ErrUnavailable)
	}
	if err := s.Invalidate(t.Context(), id); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Invalidate() with Redis down = %v; want %v", err, ErrUnavailable)
	}
	rec := httptest.NewRecorder()
	if err := s.End(rec, j.request()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("End() (sign-out) with Redis down = %v; want %v", err, ErrUnavailable)
	}
	if lines := setCookieLines(rec); len(lines) != 0 {
		t.Errorf("End() with Redis down set %q; want no cookie change, so that it can be tried again", lines)
	}
	// Invalidate forgot it here all the same.
	if _, err := s.Load(j.request()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Load() after a failed Invalidate: error = %v; want %v", err, ErrUnavailable)
	}

	j2 := jar{}
	srv.Restart()
	waitReport(t, reports, false)
	j2.save(t, s, sampleState(clk.Now(), 100))
	if _, err := s.Load(j2.request()); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	srv.Kill()
	waitReport(t, reports, true)
	clk.Advance(defaultGrace - time.Second)
	if _, err := s.Load(j2.request()); err != nil {
		t.Errorf("Load() with Redis down, %v after the last read: %v; want the session", defaultGrace-time.Second, err)
	}
	clk.Advance(time.Second)
	if _, err := s.Load(j2.request()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Load() with Redis down, after the grace: error = %v; want %v", err, ErrUnavailable)
	}
}

// invalidationsAcrossReplicas: on the Redis ro describes, two listening
// stores see each other's sign-outs and Invalidates.
func invalidationsAcrossReplicas(t *testing.T, ro RedisOptions) {
	clk := testclock.New(t0)
	a, _ := listeningOn(t, ro, clk)
	b, _ := listeningOn(t, ro, clk)
	for _, end := range []struct {
		name string
		end  func(t *testing.T, j jar)
	}{
		{"sign-out", func(t *testing.T, j jar) { a.Clear(httptest.NewRecorder(), j.request()) }},
		{"Invalidate", func(t *testing.T, j jar) {
			if err := a.Invalidate(t.Context(), SessionID(sessionID(ticketOf(t, a, j)))); err != nil {
				t.Fatalf("Invalidate() = %v", err)
			}
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			// Signed in on b (whose own messages b skips) and cached
			// there: only a's message can end it on b before the clock,
			// which stands still, makes b read Redis again.
			j := jar{}
			j.save(t, b, sampleState(t0, 100))
			if _, err := b.Load(j.request()); err != nil {
				t.Fatalf("replica b: Load() = %v; want the session", err)
			}
			if l := b.cache.get(sessionID(ticketOf(t, b, j)), t0); !l.fresh {
				t.Fatal("replica b: the session is not in its cache")
			}
			end.end(t, j)
			took := refusedWithin(t, b, j, 3*time.Second)
			t.Logf("refused by the other replica after %v", took)
		})
	}
}

// TestRedisStoreCacheHungRedis: a subscription that stops answering (the
// server frozen, the connection still open) is taken for lost within a
// few seconds, and for back once it answers again.
func TestRedisStoreCacheHungRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := testclock.New(t0)
	s, reports := listening(t, srv.URL, clk)
	j := jar{}
	j.save(t, s, sampleState(t0, 100))
	if _, err := s.Load(j.request()); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	start := time.Now()
	srv.Pause()
	waitReport(t, reports, true)
	t.Logf("a frozen Redis was noticed after %v", time.Since(start))
	if l := s.cache.get(sessionID(ticketOf(t, s, j)), t0); l.fresh {
		t.Error("the session is still served from the cache with the subscription lost")
	}
	srv.Resume()
	waitReport(t, reports, false)
}

// TestRedisStoreCachedLoadAllocs: a Load served from the cache allocates
// what the CookieStore's does, the State's copy, and nothing for the
// cookie's hash. (Run without -race by make test, which changes counts.)
func TestRedisStoreCachedLoadAllocs(t *testing.T) {
	s, _ := listening(t, redistest.Start(t), testclock.New(t0))
	j := jar{"theme": "dark"}
	j.save(t, s, sampleState(t0, 1000))
	r := j.request()
	if _, err := s.Load(r); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { s.Load(r) }); n > 1 {
		t.Errorf("a cached Load allocates %v times; want at most 1", n)
	}
}

func TestInvalidatedKeys(t *testing.T) {
	t.Parallel()
	id1, id2 := strings.Repeat("ab", 32), strings.Repeat("0f", 32)
	tests := []struct {
		name, payload string
		want          []string
	}{
		{"two ids", "other " + id1 + " " + id2, []string{sessionKeyPrefix + id1, sessionKeyPrefix + id2}},
		{"our own", "self " + id1, nil},
		{"no ids", "other", nil},
		{"not ids", "other " + strings.ToUpper(id1) + " " + id1[:63] + " ../" + id1 + " " + id1 + "0", nil},
		{"mixed", "other x " + id1 + "\t" + id2, []string{sessionKeyPrefix + id1, sessionKeyPrefix + id2}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := invalidatedKeys(tt.payload, "self"); !slices.Equal(got, tt.want) {
				t.Errorf("invalidatedKeys(%q) = %q; want %q", tt.payload, got, tt.want)
			}
		})
	}
}

// FuzzInvalidatedKeys: whatever a message holds (anyone who may publish
// on the channel chooses it), only well-formed session keys come out.
func FuzzInvalidatedKeys(f *testing.F) {
	f.Add("other " + strings.Repeat("ab", 32))
	f.Add("self " + strings.Repeat("ab", 32))
	f.Add("")
	f.Fuzz(func(t *testing.T, payload string) {
		for _, key := range invalidatedKeys(payload, "self") {
			id, ok := strings.CutPrefix(key, sessionKeyPrefix)
			if !ok || !validID(id) || !strings.Contains(payload, id) {
				t.Errorf("invalidatedKeys(%q) gave %q", payload, key)
			}
		}
	})
}
