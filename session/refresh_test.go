package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testclock"
)

// fakeProvider counts refresh grants and can rotate, fail or die.
type fakeProvider struct {
	calls   atomic.Int32
	delay   time.Duration
	failure error // returned when set
}

func (p *fakeProvider) refresh(ctx context.Context, s *State) (*State, error) {
	n := p.calls.Add(1)
	select {
	case <-time.After(p.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if p.failure != nil {
		return nil, p.failure
	}
	c := *s
	c.AccessToken = fmt.Sprintf("access-%d", n)
	c.RefreshToken = fmt.Sprintf("refresh-%d", n) // rotates
	return &c, nil
}

func expiredSession() *State {
	return &State{Provider: "p", User: "alice", AccessToken: "access-0", RefreshToken: "refresh-0", Groups: []string{"g"}}
}

func TestRefresherConcurrentCallersShareOneGrant(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{delay: 50 * time.Millisecond}
	r := NewRefresher(RefreshOptions{})
	var wg sync.WaitGroup
	results := make([]*State, 50)
	errs := make([]error, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.Refresh(context.Background(), expiredSession(), p.refresh)
		}()
	}
	wg.Wait()
	if got := p.calls.Load(); got != 1 {
		t.Fatalf("refresh grants = %d; want 1", got)
	}
	for i := range results {
		if errs[i] != nil || results[i].AccessToken != "access-1" || results[i].RefreshToken != "refresh-1" {
			t.Errorf("caller %d got %+v, %v; want access-1/refresh-1", i, results[i], errs[i])
		}
	}
	results[0].Groups[0] = "mutated"
	if results[1].Groups[0] != "g" {
		t.Errorf("callers share a slice: a change by one is seen by another")
	}
	// A request that still carries the old cookie a moment later gets the
	// same result, not a second grant (the old refresh token is spent).
	late, err := r.Refresh(context.Background(), expiredSession(), p.refresh)
	if err != nil || late.RefreshToken != "refresh-1" || p.calls.Load() != 1 {
		t.Errorf("late caller got %+v, %v after %d grants; want the shared result", late, err, p.calls.Load())
	}
}

func TestRefresherFailures(t *testing.T) {
	t.Parallel()
	clk := testclock.New(time.Unix(1_700_000_000, 0))

	t.Run("dead grant is remembered", func(t *testing.T) {
		p := &fakeProvider{failure: fmt.Errorf("%w: invalid_grant", ErrRefreshDead)}
		r := NewRefresher(RefreshOptions{Now: clk.Now})
		for i := 0; i < 3; i++ {
			if _, err := r.Refresh(context.Background(), expiredSession(), p.refresh); !errors.Is(err, ErrRefreshDead) {
				t.Fatalf("Refresh #%d = %v; want ErrRefreshDead", i, err)
			}
		}
		if got := p.calls.Load(); got != 1 {
			t.Errorf("grants = %d; want 1", got)
		}
	})
	t.Run("transient failure backs off", func(t *testing.T) {
		p := &fakeProvider{failure: errors.New("503 from provider")}
		r := NewRefresher(RefreshOptions{Now: clk.Now, Backoff: 5 * time.Second})
		if _, err := r.Refresh(context.Background(), expiredSession(), p.refresh); err == nil || errors.Is(err, ErrRefreshDead) {
			t.Fatalf("first Refresh = %v; want a transient error", err)
		}
		if _, err := r.Refresh(context.Background(), expiredSession(), p.refresh); !errors.Is(err, ErrRefreshBackoff) {
			t.Fatalf("Refresh within the backoff = %v; want ErrRefreshBackoff", err)
		}
		if got := p.calls.Load(); got != 1 {
			t.Fatalf("grants within the backoff = %d; want 1", got)
		}
		clk.Advance(6 * time.Second)
		p.failure = nil
		st, err := r.Refresh(context.Background(), expiredSession(), p.refresh)
		if err != nil || st.AccessToken != "access-2" {
			t.Errorf("Refresh after the backoff = %+v, %v; want a fresh token", st, err)
		}
	})
}

func TestRefresherImpatientCallerDoesNotCancelOthers(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{delay: 100 * time.Millisecond}
	r := NewRefresher(RefreshOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Refresh(ctx, expiredSession(), p.refresh)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("impatient caller = %v; want context.Canceled", err)
	}
	st, err := r.Refresh(context.Background(), expiredSession(), p.refresh)
	if err != nil || st.AccessToken != "access-1" || p.calls.Load() != 1 {
		t.Errorf("patient caller = %+v, %v after %d grants; want the one shared grant", st, err, p.calls.Load())
	}
}

// memCoordinator is a Coordinator in memory, shared by Refreshers standing
// in for replicas.
type memCoordinator struct {
	mu      sync.Mutex
	locks   map[string]string
	results map[string]*State
	n       int
}

func newMemCoordinator() *memCoordinator {
	return &memCoordinator{locks: map[string]string{}, results: map[string]*State{}}
}

func (c *memCoordinator) Lock(_ context.Context, key string, _ time.Duration) (func(), bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, held := c.locks[key]; held {
		return nil, false, nil
	}
	c.n++
	tok := fmt.Sprint(c.n)
	c.locks[key] = tok
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.locks[key] == tok {
			delete(c.locks, key)
		}
	}, true, nil
}

func (c *memCoordinator) Result(_ context.Context, key string) (*State, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.results[key]
	return s, ok, nil
}

func (c *memCoordinator) Publish(_ context.Context, key string, s *State, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results[key] = s
	return nil
}

func TestRefresherAcrossReplicas(t *testing.T) {
	t.Parallel()
	coord := newMemCoordinator()
	p := &fakeProvider{delay: 100 * time.Millisecond}
	replicas := []*Refresher{NewRefresher(RefreshOptions{Coordinator: coord}), NewRefresher(RefreshOptions{Coordinator: coord})}
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := replicas[i%2].Refresh(context.Background(), expiredSession(), p.refresh)
			if err != nil || st.RefreshToken != "refresh-1" {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := p.calls.Load(); got != 1 {
		t.Errorf("grants across two replicas = %d; want 1", got)
	}
	if n := bad.Load(); n != 0 {
		t.Errorf("%d callers did not get the shared result", n)
	}
}

func TestRefreshKeyHidesToken(t *testing.T) {
	t.Parallel()
	s := expiredSession()
	if k := refreshKey(s); len(k) != 64 || k == s.RefreshToken {
		t.Errorf("refreshKey = %q; want a sha256 hex digest", k)
	}
}
