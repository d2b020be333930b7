// Package testclock is the tests' clock: time that moves only when the test
// moves it, handed to the code under test as its now func() time.Time.
//
// New starts a clock stopped at a given time, for tests that own every
// reading of the time. Wall follows the wall clock, shifted by what the test
// advances, for tests whose other parts read the real time (cookie jars,
// browsers, nginx) and would drop a cookie that expired in a fixed past.
package testclock

import (
	"sync"
	"time"
)

// A Clock is a settable time source. Its methods are safe for concurrent
// use, so one Clock can drive the fake provider, the provider client, the
// session store and the proxy while their servers run.
type Clock struct {
	mu     sync.Mutex
	wall   bool          // follow time.Now
	t      time.Time     // the stopped clock's time
	offset time.Duration // the wall clock's shift
}

// New returns a Clock stopped at t0: Now returns t0 until Advance moves it.
func New(t0 time.Time) *Clock { return &Clock{t: t0} }

// Wall returns a Clock that follows the wall clock (time.Now), shifted by
// every Advance.
func Wall() *Clock { return &Clock{wall: true} }

// Now returns the clock's time. Pass the method value (clk.Now) where code
// takes a func() time.Time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall {
		return time.Now().Add(c.offset)
	}
	return c.t
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall {
		c.offset += d
	} else {
		c.t = c.t.Add(d)
	}
}
