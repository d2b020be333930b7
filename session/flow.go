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

// Flows binds sign-ins in progress to the browser that started them: each
// is kept, sealed like a session, in the CSRF cookie (Options.Name +
// "_csrf"), which holds the sign-ins of several tabs at once, newest
// first, for 15 minutes each, and a callback must present the state of one
// of them. It is safe for concurrent use.
type Flows struct {
	cookies cookieJar
}

// NewFlows returns the Flows for opts, or every problem with opts joined
// into one error. The CSRF cookie takes the name, secrets and attributes
// the session's cookies take from the same opts, and the same problems are
// reported; Expire and Bindings don't apply to it.
func NewFlows(opts Options) (*Flows, error) {
	j, err := newCookieJar(opts)
	if err != nil {
		return nil, err
	}
	return &Flows{cookies: j}, nil
}

// Save binds a new sign-in to the browser: it adds flow to the flows in the
// CSRF cookie, newest first, dropping flows older than 15 minutes, the
// oldest beyond five, and as many more of the oldest as it takes for the
// cookie to fit. flow.State must be set; a zero flow.CreatedAt is stored
// as now. Save fails with ErrTooLarge when flow alone does not fit.
func (f *Flows) Save(w http.ResponseWriter, r *http.Request, flow *Flow) error {
	if flow == nil || flow.State == "" {
		return errors.New("session: save flow: no state")
	}
	now := f.cookies.now()
	nf := *flow
	if nf.CreatedAt.IsZero() {
		nf.CreatedAt = now
	}
	fs := f.live(r, now)
	fs = slices.DeleteFunc(fs, func(old Flow) bool { return sameState(old.State, nf.State) })
	fs = slices.Insert(fs, 0, nf)
	fs = fs[:min(len(fs), maxFlows)]
	for ; len(fs) > 0; fs = fs[:len(fs)-1] {
		ok, err := f.set(w, fs, now)
		if err != nil {
			return fmt.Errorf("session: save flow: %w", err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("session: save flow: %w: the sign-in's redirect or parameters are too long", ErrTooLarge)
}

// Load returns the pending sign-in whose State is state, from the
// request's CSRF cookie. It fails with ErrNoFlow when there is none: the
// cookie is missing, invalid or expired, or holds no unexpired flow with
// that state.
func (f *Flows) Load(r *http.Request, state string) (*Flow, error) {
	if state == "" {
		return nil, ErrNoFlow
	}
	for _, flow := range f.live(r, f.cookies.now()) {
		if sameState(flow.State, state) {
			return &flow, nil
		}
	}
	return nil, ErrNoFlow
}

// Clear removes the sign-in with state from the CSRF cookie, so that a
// state is accepted once, and expires the cookie when no flow remains.
func (f *Flows) Clear(w http.ResponseWriter, r *http.Request, state string) {
	now := f.cookies.now()
	fs := f.live(r, now)
	formPost := anyFormPost(fs) // the cookie as the browser keeps it: delete that one
	fs = slices.DeleteFunc(fs, func(flow Flow) bool { return sameState(flow.State, state) })
	if len(fs) > 0 {
		// The remaining flows fitted with one more; they fit now.
		if ok, err := f.set(w, fs, now); ok && err == nil {
			return
		}
	}
	http.SetCookie(w, f.cookies.flowCookie("", -1, time.Unix(1, 0).UTC(), formPost))
}

// anyFormPost reports whether a provider answers one of fs with a
// cross-site POST, which makes the CSRF cookie SameSite=None; Secure.
func anyFormPost(fs []Flow) bool {
	return slices.ContainsFunc(fs, func(f Flow) bool { return f.FormPost })
}

// set sets the CSRF cookie to fs, for 15 minutes from now, unless they
// don't fit in it; it reports whether they did. The cookie is SameSite=None;
// Secure while it holds a flow answered by a cross-site POST (Flow.FormPost).
func (f *Flows) set(w http.ResponseWriter, fs []Flow, now time.Time) (bool, error) {
	value, err := f.cookies.flowCodecs[0].Encode(f.cookies.csrfName, appendFlows(nil, fs))
	if err != nil || len(value) > f.cookies.flowRoom {
		return false, err
	}
	http.SetCookie(w, f.cookies.flowCookie(value, flowMaxAge, now.Add(flowLifetime), anyFormPost(fs)))
	return true, nil
}

// live returns the flows in the request's CSRF cookie that have not
// expired, newest first; none when the cookie is missing or invalid.
func (f *Flows) live(r *http.Request, now time.Time) []Flow {
	ck, err := r.Cookie(f.cookies.csrfName)
	if err != nil || len(ck.Value) > f.cookies.flowRoom {
		return nil
	}
	var payload []byte
	if securecookie.DecodeMulti(f.cookies.csrfName, ck.Value, &payload, f.cookies.flowCodecs...) != nil {
		return nil
	}
	fs, err := decodeFlows(payload)
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(fs, func(flow Flow) bool {
		return flow.CreatedAt.IsZero() || flow.CreatedAt.After(now.Add(futureSkew)) || !now.Before(flow.CreatedAt.Add(flowLifetime))
	})
}

// sameState compares two states in constant time.
func sameState(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
