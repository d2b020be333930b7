package session

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/portcullis/portcullis/internal/testclock"
)

func sampleFlow(state string, createdAt time.Time) *Flow {
	return &Flow{
		State:     state,
		Verifier:  token(43),
		Nonce:     token(22),
		Provider:  "corp",
		Redirect:  "https://app.example.com/reports?id=7",
		CreatedAt: createdAt,
		Mode:      "popup",
	}
}

// flowsIn decodes the CSRF cookie in j as it is, expired flows included.
func flowsIn(t *testing.T, fl *Flows, j jar) []Flow {
	t.Helper()
	var payload []byte
	if err := securecookie.DecodeMulti(fl.cookies.csrfName, j[fl.cookies.csrfName], &payload, fl.cookies.flowCodecs...); err != nil {
		t.Fatalf("decode the CSRF cookie: %v", err)
	}
	fs, err := decodeFlows(payload)
	if err != nil {
		t.Fatalf("decode the CSRF cookie's flows: %v", err)
	}
	return fs
}

func TestFlowSingleUse(t *testing.T) {
	t.Parallel()
	fl := newFlows(t, testclock.New(t0))
	j := jar{}
	want := sampleFlow("state-1", t0)
	j.saveFlow(t, fl, want)

	got, err := fl.Load(j.request(), "state-1")
	if err != nil {
		t.Fatalf("Load() error = %v; want nil", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() = %+v; want %+v", got, want)
	}

	rec := httptest.NewRecorder()
	fl.Clear(rec, j.request(), "state-1")
	ck := cookieNamed(j.update(rec), "_portcullis_csrf")
	if ck == nil || ck.MaxAge >= 0 {
		t.Errorf("Clear() of the last flow set %+v; want the CSRF cookie expired", ck)
	}
	if got, err := fl.Load(j.request(), "state-1"); err != ErrNoFlow {
		t.Errorf("Load() after Clear = %+v, %v; want %v", got, err, ErrNoFlow)
	}
}

func TestFlowTwoTabs(t *testing.T) {
	t.Parallel()
	clk := testclock.New(t0)
	fl := newFlows(t, clk)
	j := jar{}
	j.saveFlow(t, fl, sampleFlow("tab-1", clk.Now()))
	clk.Advance(time.Minute)
	j.saveFlow(t, fl, sampleFlow("tab-2", clk.Now()))

	for _, state := range []string{"tab-1", "tab-2"} {
		if _, err := fl.Load(j.request(), state); err != nil {
			t.Errorf("Load(%q) error = %v; want nil", state, err)
		}
	}
	rec := httptest.NewRecorder()
	fl.Clear(rec, j.request(), "tab-2")
	if ck := cookieNamed(j.update(rec), "_portcullis_csrf"); ck == nil || ck.MaxAge != 900 {
		t.Errorf("Clear() with a flow left set %+v; want the cookie rewritten", ck)
	}
	if _, err := fl.Load(j.request(), "tab-1"); err != nil {
		t.Errorf("Load(%q) after the other tab finished: %v; want nil", "tab-1", err)
	}
	if _, err := fl.Load(j.request(), "tab-2"); err != ErrNoFlow {
		t.Errorf("Load(%q) after Clear: %v; want %v", "tab-2", err, ErrNoFlow)
	}
}

// TestFlowClearOneTab: of two tabs' sign-ins, each loads its own, and
// clearing one leaves the other.
func TestFlowClearOneTab(t *testing.T) {
	t.Parallel()
	clk := testclock.New(t0)
	fl := newFlows(t, clk)
	j := jar{}
	for _, state := range []string{"tab-1", "tab-2"} {
		j.saveFlow(t, fl, &Flow{State: state, Provider: "corp", Redirect: "/" + state})
	}
	got, err := fl.Load(j.request(), "tab-1")
	if err != nil || got.Redirect != "/tab-1" {
		t.Fatalf("Load(tab-1) = %+v, %v; want its flow", got, err)
	}
	rec := httptest.NewRecorder()
	fl.Clear(rec, j.request(), "tab-1")
	j.update(rec)
	if _, err := fl.Load(j.request(), "tab-1"); !errors.Is(err, ErrNoFlow) {
		t.Errorf("Load(tab-1) after Clear: error = %v; want %v", err, ErrNoFlow)
	}
	if _, err := fl.Load(j.request(), "tab-2"); err != nil {
		t.Errorf("Load(tab-2) = %v; want the other tab's flow", err)
	}
}

func TestFlowWrongState(t *testing.T) {
	t.Parallel()
	fl := newFlows(t, testclock.New(t0))
	j := jar{}
	j.saveFlow(t, fl, sampleFlow("abcdef", t0))
	for _, state := range []string{"", "abcdeg", "abcde", "abcdefg", "ABCDEF", "xyz"} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			if f, err := fl.Load(j.request(), state); err != ErrNoFlow {
				t.Errorf("Load(%q) = %+v, %v; want %v", state, f, err, ErrNoFlow)
			}
		})
	}
	t.Run("no cookie", func(t *testing.T) {
		t.Parallel()
		if f, err := fl.Load(jar{}.request(), "abcdef"); err != ErrNoFlow {
			t.Errorf("Load() = %+v, %v; want %v", f, err, ErrNoFlow)
		}
	})
}

// TestFlowTamper: a session cookie under the CSRF cookie's name, or a CSRF
// cookie with a byte changed, holds no flow.
func TestFlowTamper(t *testing.T) {
	t.Parallel()
	clk := testclock.New(t0)
	fl := newFlows(t, clk)
	sessions, flows := jar{}, jar{}
	sessions.save(t, newStore(t, clk), sampleState(t0, 1000))
	flows.saveFlow(t, fl, &Flow{State: "st", CreatedAt: t0})

	t.Run("session cookie under the CSRF name", func(t *testing.T) {
		t.Parallel()
		r := jar{"_portcullis_csrf": sessions["_portcullis"]}.request()
		if f, err := fl.Load(r, "st"); err != ErrNoFlow {
			t.Errorf("Load() = %v, %v; want %v", f, err, ErrNoFlow)
		}
	})
	t.Run("flip a byte in the CSRF cookie", func(t *testing.T) {
		t.Parallel()
		r := jar{"_portcullis_csrf": flip(flows["_portcullis_csrf"], 30)}.request()
		if f, err := fl.Load(r, "st"); err != ErrNoFlow {
			t.Errorf("Load() = %v, %v; want %v", f, err, ErrNoFlow)
		}
	})
}

func TestFlowBounded(t *testing.T) {
	t.Parallel()
	clk := testclock.New(t0)
	fl := newFlows(t, clk)
	j := jar{}
	for i := range 20 {
		clk.Advance(10 * time.Second)
		rec := j.saveFlow(t, fl, sampleFlow(fmt.Sprint("state-", i), clk.Now()))
		if lines := setCookieLines(rec); len(lines) != 1 || !strings.HasPrefix(lines[0], "Set-Cookie: _portcullis_csrf=") {
			t.Fatalf("Save #%d set %q; want the CSRF cookie alone", i, lines)
		}
		if n := len(flowsIn(t, fl, j)); n != min(i+1, maxFlows) {
			t.Fatalf("after Save #%d the cookie holds %d flows; want %d", i, n, min(i+1, maxFlows))
		}
	}
	if names := j.names(); !reflect.DeepEqual(names, []string{"_portcullis_csrf"}) {
		t.Errorf("cookies = %q; want the CSRF cookie alone", names)
	}
	for i := range 20 {
		state := fmt.Sprint("state-", i)
		_, err := fl.Load(j.request(), state)
		if want := i >= 15; (err == nil) != want {
			t.Errorf("Load(%q) error = %v; want a flow: %v", state, err, want)
		}
	}
	// Newest first.
	fs := flowsIn(t, fl, j)
	if fs[0].State != "state-19" || fs[4].State != "state-15" {
		t.Errorf("flows = %q … %q; want state-19 … state-15", fs[0].State, fs[4].State)
	}
}

func TestFlowSameStateTwice(t *testing.T) {
	t.Parallel()
	clk := testclock.New(t0)
	fl := newFlows(t, clk)
	j := jar{}
	j.saveFlow(t, fl, sampleFlow("again", clk.Now()))
	clk.Advance(time.Minute)
	f := sampleFlow("again", clk.Now())
	f.Redirect = "/second"
	j.saveFlow(t, fl, f)
	fs := flowsIn(t, fl, j)
	if len(fs) != 1 || fs[0].Redirect != "/second" {
		t.Errorf("flows = %+v; want only the second", fs)
	}
}

func TestFlowExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		after   time.Duration
		wantErr error
	}{
		{name: "at once", after: 0},
		{name: "just in time", after: 15*time.Minute - time.Second},
		{name: "at 15 minutes", after: 15 * time.Minute, wantErr: ErrNoFlow},
		{name: "an hour later", after: time.Hour, wantErr: ErrNoFlow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(t0)
			fl := newFlows(t, clk)
			j := jar{}
			j.saveFlow(t, fl, sampleFlow("st", clk.Now()))
			clk.Advance(tt.after)
			if _, err := fl.Load(j.request(), "st"); err != tt.wantErr {
				t.Errorf("Load() %v later: %v; want %v", tt.after, err, tt.wantErr)
			}
		})
	}

	t.Run("Save drops expired flows", func(t *testing.T) {
		t.Parallel()
		clk := testclock.New(t0)
		fl := newFlows(t, clk)
		j := jar{}
		j.saveFlow(t, fl, sampleFlow("old", clk.Now()))
		clk.Advance(20 * time.Minute)
		j.saveFlow(t, fl, sampleFlow("new", clk.Now()))
		if raw := flowsIn(t, fl, j); len(raw) != 1 || raw[0].State != "new" {
			t.Errorf("cookie holds %+v; want the new flow alone", raw)
		}
	})

	t.Run("zero CreatedAt is stored as now", func(t *testing.T) {
		t.Parallel()
		clk := testclock.New(t0)
		fl := newFlows(t, clk)
		j := jar{}
		j.saveFlow(t, fl, &Flow{State: "st"})
		f, err := fl.Load(j.request(), "st")
		if err != nil || !f.CreatedAt.Equal(t0) {
			t.Errorf("Load() = %+v, %v; want CreatedAt %v", f, err, t0)
		}
	})
}

func TestFlowCookieAttributes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sameSite   http.SameSite
		secure     bool
		formPost   bool // the provider answers with a cross-site POST
		want       string
		wantSecure bool
	}{
		{http.SameSiteDefaultMode, true, false, "; SameSite=Lax", true},
		{http.SameSiteLaxMode, true, false, "; SameSite=Lax", true},
		{http.SameSiteStrictMode, true, false, "; SameSite=Lax", true},
		{http.SameSiteNoneMode, true, false, "; SameSite=None", true},
		{http.SameSiteStrictMode, false, false, "; SameSite=Lax", false},
		// form_post: None, and Secure as browsers require, whatever the session's.
		{http.SameSiteLaxMode, true, true, "; SameSite=None", true},
		{http.SameSiteStrictMode, true, true, "; SameSite=None", true},
		{http.SameSiteLaxMode, false, true, "; SameSite=None", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.sameSite, tt.secure, tt.formPost), func(t *testing.T) {
			t.Parallel()
			fl := newFlows(t, testclock.New(t0), func(o *Options) {
				o.SameSite, o.Secure, o.Domain, o.Path = tt.sameSite, tt.secure, "example.com", "/app"
			})
			rec := httptest.NewRecorder()
			f := sampleFlow("st", t0)
			f.FormPost = tt.formPost
			if err := fl.Save(rec, jar{}.request(), f); err != nil {
				t.Fatalf("Save: %v", err)
			}
			line := rec.Header().Get("Set-Cookie")
			want := []string{
				"_portcullis_csrf=", tt.want, "; HttpOnly", "; Max-Age=900", "; Domain=example.com", "; Path=/app",
				"; Expires=" + t0.Add(15*time.Minute).Format(http.TimeFormat),
			}
			for _, w := range want {
				if !strings.Contains(line, w) {
					t.Errorf("Set-Cookie = %q; want it to contain %q", line, w)
				}
			}
			if got := strings.Contains(line, "; Secure"); got != tt.wantSecure {
				t.Errorf("Set-Cookie = %q; Secure: %v, want %v", line, got, tt.wantSecure)
			}
		})
	}
}

// TestFlowCookieFollowsFormPostFlows: the CSRF cookie is SameSite=None
// while it holds a form_post flow, Lax again once none is left, and the
// cookie that deletes it has the attributes of the one the browser keeps.
func TestFlowCookieFollowsFormPostFlows(t *testing.T) {
	t.Parallel()
	fl := newFlows(t, testclock.New(t0))
	j := jar{}
	sameSite := func(rec *httptest.ResponseRecorder) string {
		line := rec.Header().Get("Set-Cookie")
		_, v, _ := strings.Cut(line, "SameSite=")
		v, _, _ = strings.Cut(v, ";")
		return v
	}
	plain := sampleFlow("plain", t0)
	post := sampleFlow("post", t0)
	post.FormPost = true
	if got := sameSite(j.saveFlow(t, fl, plain)); got != "Lax" {
		t.Errorf("with a plain flow: SameSite=%s; want Lax", got)
	}
	if got := sameSite(j.saveFlow(t, fl, post)); got != "None" {
		t.Errorf("with a form_post flow too: SameSite=%s; want None", got)
	}
	rec := httptest.NewRecorder()
	fl.Clear(rec, j.request(), "post")
	if got := sameSite(rec); got != "Lax" {
		t.Errorf("after the form_post flow is spent: SameSite=%s; want Lax", got)
	}

	only := jar{}
	only.saveFlow(t, fl, post)
	if f, err := fl.Load(only.request(), "post"); err != nil || !f.FormPost {
		t.Errorf("Load() = %+v, %v; want the flow with FormPost", f, err)
	}
	rec = httptest.NewRecorder()
	fl.Clear(rec, only.request(), "post")
	ck := rec.Result().Cookies()
	if len(ck) != 1 || ck[0].MaxAge >= 0 || ck[0].SameSite != http.SameSiteNoneMode || !ck[0].Secure {
		t.Errorf("deleting a cookie that holds a form_post flow: %v; want Max-Age<0, SameSite=None, Secure", ck)
	}
}

func TestFlowSize(t *testing.T) {
	t.Parallel()
	clk := testclock.New(t0)
	fl := newFlows(t, clk)

	t.Run("long redirects drop the oldest flows", func(t *testing.T) {
		t.Parallel()
		j := jar{}
		for i := range maxFlows {
			f := sampleFlow(fmt.Sprint("st-", i), t0)
			f.Redirect = "https://app.example.com/?q=" + strings.Repeat("x", 1000)
			rec := j.saveFlow(t, fl, f)
			for _, line := range setCookieLines(rec) {
				if len(line) >= 4096 {
					t.Errorf("Set-Cookie line is %d bytes; want under 4096", len(line))
				}
			}
		}
		if _, err := fl.Load(j.request(), "st-4"); err != nil {
			t.Errorf("Load() of the newest: %v; want nil", err)
		}
		if n := len(flowsIn(t, fl, j)); n >= maxFlows || n < 1 {
			t.Errorf("cookie holds %d flows; want fewer than %d", n, maxFlows)
		}
	})

	t.Run("one flow too large", func(t *testing.T) {
		t.Parallel()
		f := sampleFlow("st", t0)
		f.Redirect = "https://app.example.com/?q=" + strings.Repeat("x", 4000)
		rec := httptest.NewRecorder()
		if err := fl.Save(rec, jar{}.request(), f); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Save() error = %v; want %v", err, ErrTooLarge)
		}
		if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
			t.Errorf("Save() set %q on error; want nothing", got)
		}
	})

	t.Run("no state", func(t *testing.T) {
		t.Parallel()
		for _, f := range []*Flow{nil, {Provider: "corp"}} {
			if err := fl.Save(httptest.NewRecorder(), jar{}.request(), f); err == nil {
				t.Errorf("Save(%+v) error = nil; want one", f)
			}
		}
	})
}

func TestClearFlowWithoutCookie(t *testing.T) {
	t.Parallel()
	fl := newFlows(t, testclock.New(t0))
	rec := httptest.NewRecorder()
	fl.Clear(rec, jar{"_portcullis_csrf": "garbage"}.request(), "st")
	line := rec.Header().Get("Set-Cookie")
	if !strings.HasPrefix(line, "_portcullis_csrf=;") || !strings.Contains(line, "Max-Age=0") {
		t.Errorf("Clear() set %q; want the CSRF cookie expired", line)
	}
}
