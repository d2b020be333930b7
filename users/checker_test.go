package users

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A fakeStatus answers like Registry.Status, counting calls; it can be made
// to fail or to block.
type fakeStatus struct {
	calls  atomic.Int64
	mu     sync.Mutex
	active map[int64]bool
	err    error
	gate   chan struct{} // when set, calls wait for it to close
}

func (f *fakeStatus) Status(ctx context.Context, id int64) (bool, error) {
	f.calls.Add(1)
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return false, f.err
	}
	return f.active[id], nil
}

func (f *fakeStatus) set(id int64, active bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active[id], f.err = active, err
}

func newFake() *fakeStatus { return &fakeStatus{active: map[int64]bool{1: true, 2: true}} }

var errDown = fmt.Errorf("%w: dial tcp: connection refused", ErrUnavailable)

func TestCheckerCaches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, clk := newFake(), newClock()
	c := NewChecker(f.Status, CheckerOptions{Now: clk.Now}) // TTL: a minute by default
	for i := range 100 {
		if ok, err := c.Active(ctx, 1); !ok || err != nil {
			t.Fatalf("Active #%d = %v, %v; want true", i, ok, err)
		}
		clk.Advance(500 * time.Millisecond) // 50s in all
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("status queries for 100 requests within the TTL = %d; want 1", n)
	}
	c.Active(ctx, 2)
	if n := f.calls.Load(); n != 2 {
		t.Errorf("status queries after asking for another user = %d; want 2", n)
	}

	f.set(1, false, nil) // disabled
	clk.Advance(9 * time.Second)
	if ok, _ := c.Active(ctx, 1); !ok {
		t.Errorf("Active 59s after the check = false; want the cached true")
	}
	clk.Advance(time.Second)
	if ok, err := c.Active(ctx, 1); ok || err != nil {
		t.Errorf("Active a TTL after the check = %v, %v; want false: cut off", ok, err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("status queries = %d; want 3", n)
	}

	f.set(1, true, nil)
	c.Forget(1)
	if ok, _ := c.Active(ctx, 1); !ok {
		t.Errorf("Active after Forget = false; want true, asked afresh")
	}
}

func TestCheckerSingleFlight(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.gate = make(chan struct{})
	c := NewChecker(f.Status, CheckerOptions{})
	const n = 50
	var wg sync.WaitGroup
	results := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := c.Active(context.Background(), 1)
			results <- ok && err == nil
		}()
	}
	// Let them all pile up on the one query, then answer it.
	for deadline := time.Now().Add(5 * time.Second); f.calls.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	close(f.gate)
	f.mu.Unlock()
	wg.Wait()
	close(results)
	for ok := range results {
		if !ok {
			t.Fatal("a concurrent Active failed")
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("status queries for %d concurrent requests = %d; want 1", n, got)
	}
}

func TestCheckerOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, clk := newFake(), newClock()
	c := NewChecker(f.Status, CheckerOptions{TTL: time.Minute, MaxStale: 5 * time.Minute, RetryInterval: 10 * time.Second, Now: clk.Now})
	c.Active(ctx, 1) // known active at 0:00

	f.set(1, true, errDown)
	clk.Advance(time.Minute)
	for elapsed := time.Minute; elapsed <= 5*time.Minute; elapsed += time.Second {
		if ok, err := c.Active(ctx, 1); !ok || err != nil {
			t.Fatalf("Active %v after the last good check = %v, %v; want the last known true", elapsed, ok, err)
		}
		clk.Advance(time.Second)
	}
	// 4 minutes of outage at one request a second, retrying every 10s.
	if n := f.calls.Load(); n < 20 || n > 30 {
		t.Errorf("status queries during the outage = %d; want about 25 (one per RetryInterval)", n)
	}
	ok, err := c.Active(ctx, 1)
	if ok || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Active past MaxStale = %v, %v; want false, ErrUnavailable", ok, err)
	}

	// Back: answers again, at once after the retry interval.
	f.set(1, true, nil)
	clk.Advance(10 * time.Second)
	if ok, err := c.Active(ctx, 1); !ok || err != nil {
		t.Errorf("Active after the outage = %v, %v; want true", ok, err)
	}

	// A user never checked before can't be vouched for during an outage.
	f.set(2, true, errDown)
	if ok, err := c.Active(ctx, 2); ok || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Active of an unknown user during an outage = %v, %v; want false, ErrUnavailable", ok, err)
	}
}

// A disabled user stays cut off through an outage.
func TestCheckerOutageKeepsDisabled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, clk := newFake(), newClock()
	f.set(1, false, nil)
	c := NewChecker(f.Status, CheckerOptions{Now: clk.Now})
	c.Active(ctx, 1)
	f.set(1, true, errDown)
	clk.Advance(2 * time.Minute)
	if ok, err := c.Active(ctx, 1); ok || err != nil {
		t.Errorf("Active of a disabled user during an outage = %v, %v; want false, nil", ok, err)
	}
}

// A caller that gives up gets its context's error; the check goes on for
// the others.
func TestCheckerCallerCancels(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.gate = make(chan struct{})
	c := NewChecker(f.Status, CheckerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Active(ctx, 1)
		done <- err
	}()
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Active with a cancelled context = %v; want context.Canceled", err)
	}
	close(f.gate)
	if ok, err := c.Active(context.Background(), 1); !ok || err != nil {
		t.Errorf("Active after = %v, %v; want true", ok, err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("status queries = %d; want 1: the first check finished for the second caller", n)
	}
}

func TestCheckerForgetsIdleUsers(t *testing.T) {
	t.Parallel()
	f, clk := newFake(), newClock()
	c := NewChecker(f.Status, CheckerOptions{TTL: time.Minute, Now: clk.Now})
	c.Active(context.Background(), 1)
	clk.Advance(5*time.Minute + time.Minute + time.Second) // past MaxStale + TTL
	c.Active(context.Background(), 2)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[1]; ok {
		t.Errorf("an idle user's entry is kept")
	}
	if _, ok := c.entries[2]; !ok {
		t.Errorf("an active user's entry is gone")
	}
}
