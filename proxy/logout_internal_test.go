package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/session"
)

// TestIdle is the idle-timeout decision, one table: when a session ends
// for being unused, and when its last use is due to advance.
func TestIdle(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_900_000_000, 0).UTC()
	tests := []struct {
		name        string
		timeout     time.Duration
		created     time.Duration // before t0
		lastUsed    time.Duration // before t0; -1: never recorded
		wantEnded   bool
		wantDue     bool
		wantEndFrom time.Duration // the idle end, after t0's last use
	}{
		{name: "off", timeout: 0, created: 48 * time.Hour, lastUsed: 47 * time.Hour},
		{name: "just used", timeout: time.Hour, created: time.Hour, lastUsed: 0, wantEndFrom: time.Hour},
		{name: "used 59s ago", timeout: time.Hour, created: time.Hour, lastUsed: 59 * time.Second, wantEndFrom: time.Hour - 59*time.Second},
		{name: "used a minute ago: due", timeout: time.Hour, created: time.Hour, lastUsed: time.Minute, wantDue: true, wantEndFrom: 59 * time.Minute},
		{name: "short timeout: a quarter", timeout: 2 * time.Minute, created: time.Hour, lastUsed: 30 * time.Second, wantDue: true, wantEndFrom: 90 * time.Second},
		{name: "short timeout: under a quarter", timeout: 2 * time.Minute, created: time.Hour, lastUsed: 29 * time.Second, wantEndFrom: 91 * time.Second},
		{name: "idle exactly the timeout", timeout: time.Hour, created: 2 * time.Hour, lastUsed: time.Hour, wantEnded: true, wantDue: true},
		{name: "never recorded: counts from sign-in", timeout: time.Hour, created: 30 * time.Minute, lastUsed: -1, wantDue: true, wantEndFrom: 30 * time.Minute},
		{name: "never recorded, signed in long ago", timeout: time.Hour, created: 2 * time.Hour, lastUsed: -1, wantEnded: true, wantDue: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{ending: Ending{IdleTimeout: tt.timeout}}
			st := &session.State{CreatedAt: t0.Add(-tt.created)}
			if tt.lastUsed >= 0 {
				st.LastUsed = t0.Add(-tt.lastUsed)
			}
			end, ended, due := s.idle(st, t0)
			if ended != tt.wantEnded || due != tt.wantDue {
				t.Errorf("idle = ended %v, due %v; want %v, %v", ended, due, tt.wantEnded, tt.wantDue)
			}
			if tt.timeout == 0 {
				if !end.IsZero() {
					t.Errorf("idle end = %v; want none when off", end)
				}
				return
			}
			if !tt.wantEnded && !end.Equal(t0.Add(tt.wantEndFrom)) {
				t.Errorf("idle end = %v; want %v", end, t0.Add(tt.wantEndFrom))
			}
		})
	}
}

// TestPeekSessionDoesNotTouch: a reader that must not extend the session
// (peekSession) leaves its last use and cookie alone.
func TestPeekSessionDoesNotTouch(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_900_000_000, 0).UTC()
	clock := testclock.New(t0)
	opts := stack.CookieOptions()
	opts.Now, opts.Expire = clock.Now, 48*time.Hour
	store := stack.NewCookieStore(t, opts)
	s, err := New(Options{
		Providers: []Provider{{ID: stack.ProviderID, Provider: stack.NewClient(t, stack.OfflineConfig())}},
		Sessions:  store,
		Flows:     stack.NewFlows(t, opts),
		Ending:    Ending{IdleTimeout: time.Hour},
		Now:       clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := stack.Alice(t0, 100)
	st.LastUsed = t0
	cookie := stack.CookieHeader(stack.Seal(t, store, st))
	clock.Advance(10 * time.Minute)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", cookie)
	load := func(f func(http.ResponseWriter, *http.Request) (*session.State, error)) (*session.State, int) {
		w := httptest.NewRecorder()
		got, err := f(w, r)
		if err != nil {
			t.Fatal(err)
		}
		return got, len(w.Result().Cookies())
	}
	got, set := load(s.peekSession)
	if got == nil || !got.LastUsed.Equal(t0) || set != 0 {
		t.Fatalf("peekSession = %+v, %d cookies set; want the session untouched", got, set)
	}
	got, set = load(s.loadSession)
	if got == nil || !got.LastUsed.Equal(clock.Now()) || set == 0 {
		t.Fatalf("loadSession = %+v, %d cookies set; want its last use advanced and the cookie rewritten", got, set)
	}
	if st.ID != "" || got.ID == "" {
		t.Errorf("session from before ids: ID %q once rewritten; want one given", got.ID)
	}
}
