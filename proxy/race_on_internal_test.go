//go:build race

package proxy

// raceEnabled: the race detector is on, and sync.Pool (under regexp)
// drops what it is given at random, so allocation counts don't hold.
const raceEnabled = true
