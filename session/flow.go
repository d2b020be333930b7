package session

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/securecookie"
)

const (
	// flowLifetime is how long a sign-in may take from start to callback.
	flowLifetime = 15 * time.Minute
	// maxFlows is the most sign-ins pending at once in one browser (tabs).
	maxFlows = 5

	flowMaxAge = int(flowLifetime / time.Second)
)

// SaveFlow binds a new sign-in to the browser: it adds f to the flows in the
// CSRF cookie, newest first, dropping flows older than 15 minutes, the
// oldest beyond five, and as many more of the oldest as it takes for the
// cookie to fit. f.State must be set; a zero f.CreatedAt is stored as now.
// SaveFlow fails with ErrTooLarge when f alone does not fit.
func (c *CookieStore) SaveFlow(w http.ResponseWriter, r *http.Request, f *Flow) error {
	if f == nil || f.State == "" {
		return errors.New("session: save flow: no state")
	}
	now := c.cookies.now()
	nf := *f
	if nf.CreatedAt.IsZero() {
		nf.CreatedAt = now
	}
	fs := c.liveFlows(r, now)
	fs = slices.DeleteFunc(fs, func(old Flow) bool { return sameState(old.State, nf.State) })
	fs = slices.Insert(fs, 0, nf)
	fs = fs[:min(len(fs), maxFlows)]
	for ; len(fs) > 0; fs = fs[:len(fs)-1] {
		value, err := c.cookies.flowCodecs[0].Encode(c.cookies.csrfName, appendFlows(nil, fs))
		if err != nil {
			return fmt.Errorf("session: save flow: %w", err)
		}
		if len(value) <= c.cookies.flowRoom {
			http.SetCookie(w, c.cookies.flowCookie(value, flowMaxAge, now.Add(flowLifetime)))
			return nil
		}
	}
	return fmt.Errorf("session: save flow: %w: the sign-in's redirect or parameters are too long", ErrTooLarge)
}

// LoadFlow returns the pending sign-in whose State is state, from the
// request's CSRF cookie. It fails with ErrNoFlow when there is none: the
// cookie is missing, invalid or expired, or holds no unexpired flow with
// that state.
func (c *CookieStore) LoadFlow(r *http.Request, state string) (*Flow, error) {
	if state == "" {
		return nil, ErrNoFlow
	}
	for _, f := range c.liveFlows(r, c.cookies.now()) {
		if sameState(f.State, state) {
			return &f, nil
		}
	}
	return nil, ErrNoFlow
}

// ClearFlow removes the sign-in with state from the CSRF cookie, so that a
// state is accepted once, and expires the cookie when no flow remains.
func (c *CookieStore) ClearFlow(w http.ResponseWriter, r *http.Request, state string) {
	now := c.cookies.now()
	fs := c.liveFlows(r, now)
	fs = slices.DeleteFunc(fs, func(f Flow) bool { return sameState(f.State, state) })
	if len(fs) > 0 {
		// The remaining flows fitted with one more; they fit now.
		if value, err := c.cookies.flowCodecs[0].Encode(c.cookies.csrfName, appendFlows(nil, fs)); err == nil {
			http.SetCookie(w, c.cookies.flowCookie(value, flowMaxAge, now.Add(flowLifetime)))
			return
		}
	}
	http.SetCookie(w, c.cookies.flowCookie("", -1, time.Unix(1, 0).UTC()))
}

// liveFlows returns the flows in the request's CSRF cookie that have not
// expired, newest first; none when the cookie is missing or invalid.
func (c *CookieStore) liveFlows(r *http.Request, now time.Time) []Flow {
	ck, err := r.Cookie(c.cookies.csrfName)
	if err != nil || len(ck.Value) > c.cookies.flowRoom {
		return nil
	}
	var payload []byte
	if securecookie.DecodeMulti(c.cookies.csrfName, ck.Value, &payload, c.cookies.flowCodecs...) != nil {
		return nil
	}
	fs, err := decodeFlows(payload)
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(fs, func(f Flow) bool {
		return f.CreatedAt.IsZero() || f.CreatedAt.After(now.Add(futureSkew)) || !now.Before(f.CreatedAt.Add(flowLifetime))
	})
}

// sameState compares two states in constant time.
func sameState(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
