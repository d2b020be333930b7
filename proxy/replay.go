package proxy

import (
	"crypto/sha256"
	"sync"
	"time"
)

// spentStates remembers the states of finished callbacks for as long as a
// flow lives, so a callback replayed by a client that kept the deleted
// CSRF cookie is refused too. It is per process and bounded: at the bound
// the expired states and then arbitrary ones are forgotten until half
// remain (the CSRF cookie's deletion still protects browsers).
type spentStates struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	spent map[[32]byte]time.Time
}

func newSpentStates(ttl time.Duration, max int) *spentStates {
	return &spentStates{ttl: ttl, max: max, spent: make(map[[32]byte]time.Time)}
}

// spend records state as used at now and reports whether it was unused.
func (s *spentStates) spend(state string, now time.Time) bool {
	key := sha256.Sum256([]byte(state))
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.spent[key]; ok && now.Sub(at) < s.ttl {
		return false
	}
	if len(s.spent) >= s.max {
		for k, at := range s.spent {
			if now.Sub(at) >= s.ttl || len(s.spent) >= s.max/2 {
				delete(s.spent, k)
			}
		}
	}
	s.spent[key] = now
	return true
}
