package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/testclock"
)

// endedLists returns an Ended list in memory and, where redis-server is
// installed, two on one Redis (two replicas).
func endedLists(t *testing.T, clock *testclock.Clock) map[string][2]*Ended {
	t.Helper()
	mem := NewEnded(EndedOptions{Expire: time.Hour, Now: clock.Now})
	lists := map[string][2]*Ended{"memory": {mem, mem}}
	url := redistest.Start(t)
	newOne := func() *Ended {
		r, err := NewRedis(RedisOptions{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return NewEnded(EndedOptions{Expire: time.Hour, Redis: r, Now: clock.Now})
	}
	lists["redis"] = [2]*Ended{newOne(), newOne()}
	return lists
}

func TestEnded(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_900_000_000, 0).UTC()
	clock := testclock.New(t0)
	for name, pair := range endedLists(t, clock) {
		t.Run(name, func(t *testing.T) {
			ender, other := pair[0], pair[1]
			ctx := context.Background()
			old := &State{Provider: "corp", User: "ann", UserID: "u1", Subject: "sub1", SID: "sid1", ID: "id1", CreatedAt: t0.Add(-time.Minute)}
			if ender.Ends(old) {
				t.Fatal("Ends before any ending = true; want false")
			}
			endings := []struct {
				name   string
				ending Ending
				ends   bool
			}{
				{"other user", Ending{Kind: EndUser, Value: "bob"}, false},
				{"sid at another provider", Ending{Kind: EndSID, Provider: "other", Value: "sid1"}, false},
				{"other sid", Ending{Kind: EndSID, Provider: "corp", Value: "sid2"}, false},
				{"sub at another provider", Ending{Kind: EndSubject, Provider: "other", Value: "sub1"}, false},
				{"user id is not the sub", Ending{Kind: EndSubject, Provider: "corp", Value: "u1"}, false},
				{"sid", Ending{Kind: EndSID, Provider: "corp", Value: "sid1"}, true},
			}
			for _, c := range endings {
				if err := ender.End(ctx, c.ending); err != nil {
					t.Fatalf("End(%s) = %v", c.name, err)
				}
				if err := other.Sync(ctx); err != nil {
					t.Fatalf("Sync = %v", err)
				}
				if got := other.Ends(old); got != c.ends {
					t.Fatalf("after End(%s): Ends = %v; want %v", c.name, got, c.ends)
				}
			}
			// A session signed in after the cut-off goes on.
			fresh := *old
			fresh.CreatedAt = t0.Add(time.Second)
			if other.Ends(&fresh) {
				t.Fatal("Ends(signed in after the ending) = true; want false")
			}
			for _, c := range []struct {
				name   string
				ending Ending
				st     State
			}{
				{"user", Ending{Kind: EndUser, Value: "ann"}, State{User: "ann"}},
				{"id", Ending{Kind: EndID, Value: "id9"}, State{ID: "id9"}},
				{"sub", Ending{Kind: EndSubject, Provider: "p", Value: "s9"}, State{Provider: "p", Subject: "s9"}},
				{"sub of a session without one is its user id", Ending{Kind: EndSubject, Provider: "p", Value: "u9"}, State{Provider: "p", UserID: "u9"}},
				{"registry id, whatever X-User is", Ending{Kind: EndLocal, Value: "4242"}, State{User: "ann@corp.example", LocalID: 4242}},
			} {
				if !c.ending.Matches(&c.st) {
					t.Errorf("%s: Matches(%+v) = false; want true", c.name, c.st)
				}
				c.st.CreatedAt = t0
				if err := ender.End(ctx, c.ending); err != nil {
					t.Fatal(err)
				}
				other.Sync(ctx)
				if !other.Ends(&c.st) {
					t.Errorf("after End(%s): Ends(%+v) = false; want true", c.name, c.st)
				}
			}
			// Entries go once no session they name can still be alive.
			clock.Advance(2 * time.Hour)
			ender.End(ctx, Ending{Kind: EndUser, Value: "zed"})
			other.Sync(ctx)
			if got := other.Len(); got != 1 {
				t.Errorf("after expiry: Len = %d; want 1 (zed only)", got)
			}
			clock.Advance(-2 * time.Hour)
		})
	}
}

// TestEndedAll ends every session signed in until now.
func TestEndedAll(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_900_000_000, 0).UTC()
	e := NewEnded(EndedOptions{Now: testclock.New(t0).Now})
	if err := e.End(context.Background(), Ending{Kind: EndAll}); err != nil {
		t.Fatal(err)
	}
	if !e.Ends(&State{CreatedAt: t0}) || e.Ends(&State{CreatedAt: t0.Add(time.Second)}) {
		t.Fatal("EndAll: want sessions until now ended, later ones not")
	}
}

// TestEndedRedisDown: ending fails clearly and ends nothing here either;
// what was ended stays ended when Redis forgets it.
func TestEndedRedisDown(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_900_000_000, 0).UTC()
	srv := redistest.New(t)
	r, err := NewRedis(RedisOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e := NewEnded(EndedOptions{Redis: r, Now: testclock.New(t0).Now})
	ctx := context.Background()
	ann := &State{User: "ann", CreatedAt: t0}
	if err := e.End(ctx, Ending{Kind: EndUser, Value: "ann"}); err != nil {
		t.Fatal(err)
	}
	srv.Do("FLUSHALL")
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !e.Ends(ann) {
		t.Fatal("after Redis forgot the list: Ends = false; want the session still ended")
	}
	srv.Kill()
	err = e.End(ctx, Ending{Kind: EndUser, Value: "bob"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("End with Redis down = %v; want ErrUnavailable", err)
	}
	if e.Ends(&State{User: "bob", CreatedAt: t0}) {
		t.Fatal("End failed, yet bob's session ended here")
	}
	if err := e.Sync(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Sync with Redis down = %v; want ErrUnavailable", err)
	}
	if !e.Ends(ann) {
		t.Fatal("Redis down: ann's session revived")
	}
}

func TestSeen(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Unix(1_900_000_000, 0))
	url := redistest.Start(t)
	r, err := NewRedis(RedisOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, s := range map[string]*Seen{"memory": NewSeen(nil, clock.Now), "redis": NewSeen(r, clock.Now)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for i, want := range []bool{true, false, false} {
				if got, err := s.FirstSeen(ctx, "corp", "jti-"+name, time.Minute); err != nil || got != want {
					t.Fatalf("FirstSeen #%d = %v, %v; want %v", i, got, err, want)
				}
			}
			if got, _ := s.FirstSeen(ctx, "other", "jti-"+name, time.Minute); !got {
				t.Fatal("FirstSeen(same id, other scope) = false; want true")
			}
			if err := s.Forget(ctx, "corp", "jti-"+name); err != nil {
				t.Fatalf("Forget = %v", err)
			}
			if got, err := s.FirstSeen(ctx, "corp", "jti-"+name, time.Minute); err != nil || !got {
				t.Fatalf("FirstSeen after Forget = %v, %v; want true, nil", got, err)
			}
		})
	}
}

// TestEndedFlushThenEnd: Redis forgets the list (FLUSHALL, a failover to a
// replica that had not the last writes, a restart without persistence),
// then a new ending comes before a replica polled. The change counter
// starts again and can reach the very number the replica last read: the
// replica must still read the new ending.
func TestEndedFlushThenEnd(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_900_000_000, 0).UTC()
	srv := redistest.New(t)
	replica := func() *Ended {
		r, err := NewRedis(RedisOptions{URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return NewEnded(EndedOptions{Redis: r, Now: testclock.New(t0).Now})
	}
	admin, serving := replica(), replica()
	ctx := context.Background()
	if err := admin.End(ctx, Ending{Kind: EndUser, Value: "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := serving.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Do("FLUSHALL")
	// No poll in between: the next ending is the first change Redis counts.
	if err := admin.End(ctx, Ending{Kind: EndUser, Value: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := serving.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	bob := &State{User: "bob", CreatedAt: t0}
	if got := serving.Ends(bob); !got {
		t.Fatalf("after FLUSHALL and a new ending: Ends(bob) = %v on the other replica; want true", got)
	}
	if !serving.Ends(&State{User: "ann", CreatedAt: t0}) {
		t.Fatal("after FLUSHALL: ann's session revived")
	}
}

// TestEndedEndsAllocs: asked on every request, Ends allocates nothing,
// whatever the list holds.
func TestEndedEndsAllocs(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0).UTC()
	e := NewEnded(EndedOptions{Now: testclock.New(t0).Now})
	st := &State{Provider: "corp", User: "ann", ID: "id1", SID: "sid1", Subject: "sub1", LocalID: 7, CreatedAt: t0.Add(time.Second)}
	for _, c := range []struct {
		name    string
		endings []Ending
	}{
		{"empty", nil},
		{"others", []Ending{{Kind: EndUser, Value: "bob"}, {Kind: EndSID, Provider: "corp", Value: "sid2"}, {Kind: EndSubject, Provider: "corp", Value: "sub2"}, {Kind: EndID, Value: "id2"}}},
		{"registry ids", []Ending{{Kind: EndLocal, Value: "7"}, {Kind: EndLocal, Value: "1234567"}}},
	} {
		if err := e.End(context.Background(), c.endings...); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { e.Ends(st) }); n != 0 {
			t.Errorf("%s: Ends allocates %v times; want 0", c.name, n)
		}
	}
}

// FuzzEndedFields: what the ended list reads back from Redis (anyone who
// can write there can put anything) never panics, and what it accepts
// writes back the same.
func FuzzEndedFields(f *testing.F) {
	f.Add(endKey{EndSID, "corp", "sid-1"}.field(), endEntry{1_900_000_000, 1_900_604_800}.value())
	f.Add(endKey{EndLocal, "", "42"}.field(), "1:2")
	f.Add("#", "17")
	f.Add("9\x00\x00x", "-1:5")
	f.Fuzz(func(t *testing.T, field, value string) {
		k, ok := parseEndField(field)
		if ok {
			if k.kind < EndAll || k.kind > EndLocal {
				t.Fatalf("parseEndField(%q) = kind %d; want a known kind", field, k.kind)
			}
			if again, ok := parseEndField(k.field()); !ok || again != k {
				t.Fatalf("parseEndField(field()) = %+v, %v; want %+v", again, ok, k)
			}
		}
		en, ok := parseEndValue(value)
		if ok {
			if en.before <= 0 {
				t.Fatalf("parseEndValue(%q) = cut-off %d; want > 0", value, en.before)
			}
			if again, ok := parseEndValue(en.value()); !ok || again != en {
				t.Fatalf("parseEndValue(value()) = %+v, %v; want %+v", again, ok, en)
			}
		}
	})
}
