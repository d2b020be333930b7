package testclock_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testclock"
)

func TestNew(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := testclock.New(t0)
	for _, step := range []struct {
		advance time.Duration
		want    time.Time
	}{
		{0, t0},
		{time.Minute, t0.Add(time.Minute)},
		{0, t0.Add(time.Minute)}, // a stopped clock stays where it was put
		{-2 * time.Minute, t0.Add(-time.Minute)},
	} {
		c.Advance(step.advance)
		if got := c.Now(); !got.Equal(step.want) {
			t.Errorf("after Advance(%v): Now() = %v; want %v", step.advance, got, step.want)
		}
	}
}

func TestWall(t *testing.T) {
	c := testclock.Wall()
	for _, shift := range []time.Duration{0, time.Hour, -3 * time.Hour} {
		c.Advance(shift)
	}
	want := -2 * time.Hour
	before := time.Now()
	got := c.Now()
	after := time.Now()
	if got.Before(before.Add(want)) || got.After(after.Add(want)) {
		t.Errorf("Wall().Now() after advancing -2h = %v; want between %v and %v", got, before.Add(want), after.Add(want))
	}
	if a, b := c.Now(), c.Now(); b.Before(a) {
		t.Errorf("Wall().Now() went back from %v to %v", a, b)
	}
}

// Readers and writers at once: the race detector checks the locking.
func TestConcurrent(t *testing.T) {
	for _, c := range []*testclock.Clock{testclock.New(time.Unix(0, 0)), testclock.Wall()} {
		start := c.Now()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 100 {
					c.Advance(time.Second)
					_ = c.Now()
				}
			})
		}
		wg.Wait()
		if got := c.Now().Sub(start); got < 800*time.Second {
			t.Errorf("after 800 Advance(1s) from 8 goroutines, the clock moved %v; want at least 800s", got)
		}
	}
}

func ExampleNew() {
	clk := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	now := clk.Now // what the code under test takes, e.g. Options{Now: clk.Now}
	clk.Advance(90 * time.Minute)
	fmt.Println(now().Format(time.Kitchen))
	// Output: 10:30AM
}
