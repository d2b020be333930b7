package session

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testclock"
)

func TestNewCookieStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want []string // parts of the error; none: no error
	}{
		{name: "defaults", opts: Options{Secrets: [][]byte{secretA}}},
		{name: "raw 32 bytes", opts: Options{Secrets: [][]byte{make([]byte, 32)}}},
		{name: "rotation", opts: Options{Secrets: [][]byte{secretB, secretA}}},
		{name: "no secret", opts: Options{}, want: []string{"no cookie secret"}},
		{
			name: "short secrets listed together",
			opts: Options{Secrets: [][]byte{secretA, []byte("short"), make([]byte, 31)}},
			want: []string{"secret 2 is 5 bytes", "secret 3 is 31 bytes"},
		},
		{
			name: "every problem at once",
			opts: Options{Expire: -time.Hour, Path: "app", SameSite: http.SameSiteNoneMode},
			want: []string{"no cookie secret", "expire", "path", "SameSite=None"},
		},
		{name: "bad name", opts: Options{Secrets: [][]byte{secretA}, Name: "a b"}, want: []string{"cookie name"}},
		{name: "bad domain", opts: Options{Secrets: [][]byte{secretA}, Domain: "exa mple.com"}, want: []string{"domain"}},
		{name: "path with semicolon", opts: Options{Secrets: [][]byte{secretA}, Path: "/a;b"}, want: []string{"path"}},
		{
			name: "path too long for a value",
			opts: Options{Secrets: [][]byte{secretA}, Path: "/" + strings.Repeat("p", 3500)},
			want: []string{"leave less than"},
		},
		{name: "SameSite None and Secure", opts: Options{Secrets: [][]byte{secretA}, SameSite: http.SameSiteNoneMode, Secure: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewCookieStore(tt.opts)
			if len(tt.want) == 0 {
				if err != nil || c == nil {
					t.Fatalf("NewCookieStore() = %v, %v; want a store", c, err)
				}
				return
			}
			if c != nil {
				t.Errorf("NewCookieStore() = %v; want nil with the error", c)
			}
			wantErrorLike(t, err, tt.want...)
		})
	}
}

func TestSaveNotSecure(t *testing.T) {
	t.Parallel()
	c := newStore(t, testclock.New(t0), func(o *Options) { o.Secure = false; o.SameSite = http.SameSiteDefaultMode })
	rec := httptest.NewRecorder()
	if err := c.Save(rec, jar{}.request(), sampleState(t0, 10)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	line := rec.Header().Get("Set-Cookie")
	if strings.Contains(line, "Secure") || strings.Contains(line, "SameSite") || !strings.Contains(line, "HttpOnly") {
		t.Errorf("Set-Cookie = %q; want HttpOnly without Secure or SameSite", line)
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	longDomain := strings.Repeat("d", 60) + "." + strings.Repeat("e", 60) + "." + strings.Repeat("f", 60) + ".example.com"
	tests := []struct {
		name      string
		tokenLen  int
		mod       func(*Options)
		wantParts int // 0: the base cookie alone
	}{
		{name: "1 KB token fits one cookie", tokenLen: 1000},
		{name: "10 KB token", tokenLen: 10_000, wantParts: 6},
		{name: "20 KB token", tokenLen: 20_000, wantParts: 10},
		{
			name: "long domain and path", tokenLen: 10_000, wantParts: 6,
			mod: func(o *Options) { o.Domain = longDomain; o.Path = "/" + strings.Repeat("p", 300) },
		},
		{
			name: "long name", tokenLen: 10_000, wantParts: 6,
			mod: func(o *Options) { o.Name = "_" + strings.Repeat("n", 200) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mods := []func(*Options){}
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			c := newStore(t, testclock.New(t0), mods...)
			s := sampleState(t0, tt.tokenLen)
			j := jar{}
			rec := j.save(t, c, s)

			lines := setCookieLines(rec)
			for _, line := range lines {
				if len(line) >= 4096 {
					t.Errorf("Set-Cookie line is %d bytes; want under 4096", len(line))
				}
			}
			var want []string
			if tt.wantParts == 0 {
				want = []string{c.cookies.name}
			}
			for i := range tt.wantParts {
				want = append(want, c.cookies.name+"_"+strconv.Itoa(i))
			}
			if got := j.names(); !reflect.DeepEqual(got, sortedCopy(want)) {
				t.Errorf("cookies after Save = %q; want %q", got, want)
			}
			got, err := c.Load(j.request())
			if err != nil {
				t.Fatalf("Load() error = %v; want nil", err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Errorf("Load() = %+v; want %+v", got, s)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	j := jar{}
	for _, n := range s {
		j[n] = ""
	}
	return j.names()
}

func TestSaveExpiresStaleCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		before       int // access token size of the earlier session
		after        int // and of the new one
		wantSet      []string
		wantExpired  []string
		wantInJarNow []string
	}{
		{
			name: "shrink from parts to one", before: 5000, after: 100,
			wantSet:      []string{"_portcullis"},
			wantExpired:  []string{"_portcullis_0", "_portcullis_1", "_portcullis_2"},
			wantInJarNow: []string{"_portcullis"},
		},
		{
			name: "grow from one to parts", before: 100, after: 5000,
			wantSet:      []string{"_portcullis_0", "_portcullis_1", "_portcullis_2"},
			wantExpired:  []string{"_portcullis"},
			wantInJarNow: []string{"_portcullis_0", "_portcullis_1", "_portcullis_2"},
		},
		{
			name: "fewer parts", before: 10_000, after: 5000,
			wantSet:      []string{"_portcullis_0", "_portcullis_1", "_portcullis_2"},
			wantExpired:  []string{"_portcullis_3", "_portcullis_4", "_portcullis_5"},
			wantInJarNow: []string{"_portcullis_0", "_portcullis_1", "_portcullis_2"},
		},
		{
			name: "same size", before: 100, after: 100,
			wantSet:      []string{"_portcullis"},
			wantInJarNow: []string{"_portcullis"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newStore(t, testclock.New(t0))
			j := jar{"theme": "dark"}
			j.save(t, c, sampleState(t0, tt.before))
			s := sampleState(t0, tt.after)
			rec := httptest.NewRecorder()
			if err := c.Save(rec, j.request(), s); err != nil {
				t.Fatalf("Save: %v", err)
			}
			var set, expired []string
			for _, ck := range j.update(rec) {
				if ck.MaxAge < 0 {
					expired = append(expired, ck.Name)
				} else {
					set = append(set, ck.Name)
				}
			}
			if !reflect.DeepEqual(set, tt.wantSet) {
				t.Errorf("Save set %q; want %q", set, tt.wantSet)
			}
			if !reflect.DeepEqual(sortedCopy(expired), sortedCopy(tt.wantExpired)) {
				t.Errorf("Save expired %q; want %q", expired, tt.wantExpired)
			}
			if got, want := j.names(), sortedCopy(append(tt.wantInJarNow, "theme")); !reflect.DeepEqual(got, want) {
				t.Errorf("cookies after Save = %q; want %q", got, want)
			}
			got, err := c.Load(j.request())
			if err != nil || !reflect.DeepEqual(got, s) {
				t.Errorf("Load() = %+v, %v; want the new session", got, err)
			}
		})
	}
}

func TestSaveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		state   *State
		wantErr error  // checked with errors.Is, when set
		wantMsg string // part of the message
	}{
		{name: "nil", state: nil, wantMsg: "nil state"},
		{name: "no CreatedAt", state: &State{UserID: "1"}, wantMsg: "no CreatedAt"},
		{name: "CreatedAt in the future", state: &State{CreatedAt: t0.Add(time.Hour)}, wantMsg: "future"},
		{name: "expired", state: sampleState(t0.Add(-168*time.Hour), 10), wantErr: ErrExpired},
		{name: "less than a second left", state: sampleState(t0.Add(-168*time.Hour+time.Second/2), 10), wantErr: ErrExpired},
		{name: "too large", state: sampleState(t0, 40_000), wantErr: ErrTooLarge, wantMsg: "PORTCULLIS_SESSION_STORE=redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newStore(t, testclock.New(t0))
			rec := httptest.NewRecorder()
			err := c.Save(rec, jar{"_portcullis": "old"}.request(), tt.state)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Save() error = %v; want %v", err, tt.wantErr)
			}
			wantErrorLike(t, err, tt.wantMsg)
			if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
				t.Errorf("Save() set cookies %q on error; want none", got)
			}
		})
	}
}

func TestTooLargeBoundary(t *testing.T) {
	t.Parallel()
	c := newStore(t, testclock.New(t0))
	// The largest token that fits in 12 parts saves; a larger one does not.
	fits := func(n int) bool {
		return c.Save(httptest.NewRecorder(), jar{}.request(), sampleState(t0, n)) == nil
	}
	lo, hi := 1000, 100_000 // fits(lo), !fits(hi)
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	j := jar{}
	j.save(t, c, sampleState(t0, lo))
	if got := len(j); got != maxParts {
		t.Errorf("largest session uses %d cookies; want %d", got, maxParts)
	}
	if _, err := c.Load(j.request()); err != nil {
		t.Errorf("Load() of the largest session: %v", err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		encode  [][]byte
		decode  [][]byte
		tokens  int
		wantErr error
	}{
		{name: "old secret still listed", encode: [][]byte{secretA}, decode: [][]byte{secretB, secretA}},
		{name: "old secret still listed, parts", encode: [][]byte{secretA}, decode: [][]byte{secretB, secretA}, tokens: 10_000},
		{name: "new secret first encodes", encode: [][]byte{secretB, secretA}, decode: [][]byte{secretB}},
		{name: "old secret dropped", encode: [][]byte{secretA}, decode: [][]byte{secretB}, wantErr: ErrInvalid},
		{name: "old secret dropped, parts", encode: [][]byte{secretA}, decode: [][]byte{secretB}, tokens: 10_000, wantErr: ErrInvalid},
		{name: "restart with the same secret", encode: [][]byte{secretA}, decode: [][]byte{secretA}},
		{name: "restart with another secret", encode: [][]byte{secretA}, decode: [][]byte{secretB}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(t0)
			s := sampleState(t0, max(tt.tokens, 1000))
			j := jar{}
			j.save(t, newStore(t, clk, withSecrets(tt.encode...)), s)
			j.saveFlow(t, newFlows(t, clk, withSecrets(tt.encode...)), &Flow{State: "st", CreatedAt: t0})

			c := newStore(t, clk, withSecrets(tt.decode...))
			got, err := c.Load(j.request())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load() error = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !reflect.DeepEqual(got, s) {
				t.Errorf("Load() = %+v; want %+v", got, s)
			}
			_, err = newFlows(t, clk, withSecrets(tt.decode...)).Load(j.request(), "st")
			if wantFlow := tt.wantErr == nil; (err == nil) != wantFlow {
				t.Errorf("Flows.Load() error = %v; want a flow: %v", err, wantFlow)
			}
		})
	}
}

func TestTamper(t *testing.T) {
	t.Parallel()
	clk := testclock.New(t0)
	c := newStore(t, clk)
	other := newStore(t, clk, func(o *Options) { o.Name = "_other" })

	small, parts, flows := jar{}, jar{}, jar{}
	small.save(t, c, sampleState(t0, 1000))
	parts.save(t, c, sampleState(t0, 10_000))
	flows.saveFlow(t, newFlows(t, clk), &Flow{State: "st", CreatedAt: t0})
	elsewhere := jar{}
	elsewhere.save(t, other, sampleState(t0, 1000))
	base := small["_portcullis"]

	tests := []struct {
		name string
		jar  jar
	}{
		{name: "flip first byte", jar: jar{"_portcullis": flip(base, 0)}},
		{name: "flip a middle byte", jar: jar{"_portcullis": flip(base, len(base)/2)}},
		{name: "flip a byte near the end", jar: jar{"_portcullis": flip(base, len(base)-20)}},
		{name: "truncated", jar: jar{"_portcullis": base[:len(base)/2]}},
		{name: "one byte short", jar: jar{"_portcullis": base[:len(base)-1]}},
		{name: "one byte more", jar: jar{"_portcullis": base + "A"}},
		{name: "empty", jar: jar{"_portcullis": ""}},
		{name: "not base64", jar: jar{"_portcullis": "!!!!"}},
		{name: "parts swapped", jar: jar{
			"_portcullis_0": parts["_portcullis_1"], "_portcullis_1": parts["_portcullis_0"],
			"_portcullis_2": parts["_portcullis_2"], "_portcullis_3": parts["_portcullis_3"],
			"_portcullis_4": parts["_portcullis_4"],
		}},
		{name: "last part missing", jar: jar{
			"_portcullis_0": parts["_portcullis_0"], "_portcullis_1": parts["_portcullis_1"],
			"_portcullis_2": parts["_portcullis_2"], "_portcullis_3": parts["_portcullis_3"],
		}},
		{name: "middle part missing", jar: jar{
			"_portcullis_0": parts["_portcullis_0"], "_portcullis_1": parts["_portcullis_1"],
			"_portcullis_3": parts["_portcullis_3"], "_portcullis_4": parts["_portcullis_4"],
		}},
		{name: "flip a byte in a part", jar: jar{
			"_portcullis_0": parts["_portcullis_0"], "_portcullis_1": parts["_portcullis_1"],
			"_portcullis_2": flip(parts["_portcullis_2"], 100), "_portcullis_3": parts["_portcullis_3"],
			"_portcullis_4": parts["_portcullis_4"],
		}},
		{name: "CSRF cookie under the session name", jar: jar{"_portcullis": flows["_portcullis_csrf"]}},
		{name: "another store's cookie renamed", jar: jar{"_portcullis": elsewhere["_other"]}},
		{name: "too long", jar: jar{"_portcullis": strings.Repeat("A", maxParts*maxChunk+1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Load(tt.jar.request())
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Load() = %v, %v; want %v", got, err, ErrInvalid)
			}
			if got != nil {
				t.Errorf("Load() state = %+v; want nil", got)
			}
		})
	}

}

// seal encodes s as the store would, bypassing Save's checks, to make
// cookies Save refuses to write.
func seal(t *testing.T, c *CookieStore, s *State) jar {
	t.Helper()
	v, err := c.cookies.codecs[0].Encode(c.cookies.name, appendState(nil, s))
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return jar{c.cookies.name: v}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		createdAt time.Time
		now       time.Time
		wantErr   error
	}{
		{name: "fresh", createdAt: t0, now: t0},
		{name: "a second to go", createdAt: t0, now: t0.Add(168*time.Hour - time.Second)},
		{name: "at the limit", createdAt: t0, now: t0.Add(168 * time.Hour), wantErr: ErrExpired},
		{name: "long after", createdAt: t0, now: t0.Add(1000 * time.Hour), wantErr: ErrExpired},
		{name: "zero CreatedAt", createdAt: time.Time{}, now: t0, wantErr: ErrInvalid},
		{name: "CreatedAt slightly ahead (clock skew)", createdAt: t0.Add(30 * time.Second), now: t0},
		{name: "CreatedAt in the future", createdAt: t0.Add(2 * time.Minute), now: t0, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(tt.now)
			c := newStore(t, clk)
			s := sampleState(tt.createdAt, 100)
			got, err := c.Load(seal(t, c, s).request())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load() error = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !reflect.DeepEqual(got, s) {
				t.Errorf("Load() = %+v; want %+v", got, s)
			}
		})
	}
}

// TestExpiryServerSide checks that a session ends COOKIE_EXPIRE after sign-in
// even when the browser keeps sending the cookie, and that rewriting the
// cookie (a refresh) does not extend it.
func TestExpiryServerSide(t *testing.T) {
	t.Parallel()
	clk := testclock.New(t0)
	c := newStore(t, clk, func(o *Options) { o.Expire = time.Hour })
	j := jar{}
	s := sampleState(t0, 1000)
	j.save(t, c, s)

	clk.Advance(40 * time.Minute)
	s.AccessToken = "refreshed"
	rec := j.save(t, c, s)
	if got, want := rec.Result().Cookies()[0].MaxAge, 20*60; got != want {
		t.Errorf("Max-Age after a refresh = %d; want %d (what remains)", got, want)
	}
	if _, err := c.Load(j.request()); err != nil {
		t.Errorf("Load() at 40m = %v; want nil", err)
	}

	clk.Advance(20 * time.Minute)
	if _, err := c.Load(j.request()); err != ErrExpired {
		t.Errorf("Load() at 60m = %v; want %v", err, ErrExpired)
	}
	if err := c.Save(httptest.NewRecorder(), j.request(), s); !errors.Is(err, ErrExpired) {
		t.Errorf("Save() at 60m = %v; want %v", err, ErrExpired)
	}
}

func TestClear(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		jar         jar
		header      string // the Cookie line, instead of jar's
		wantExpired []string
	}{
		{name: "nothing carried", jar: jar{"theme": "dark"}, wantExpired: []string{"_portcullis"}},
		{
			// Load reads a part net/http would skip, so Clear must expire it.
			name:        "part with a value net/http skips",
			header:      `_portcullis_0=a\b; _portcullis_1="x`,
			wantExpired: []string{"_portcullis", "_portcullis_0", "_portcullis_1"},
		},
		{name: "base", jar: jar{"_portcullis": "x", "theme": "dark"}, wantExpired: []string{"_portcullis"}},
		{
			name:        "parts",
			jar:         jar{"_portcullis_0": "x", "_portcullis_1": "y", "_portcullis_7": "z", "_portcullis_csrf": "f"},
			wantExpired: []string{"_portcullis", "_portcullis_0", "_portcullis_1", "_portcullis_7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newStore(t, testclock.New(t0), func(o *Options) { o.Domain = "example.com"; o.Path = "/app" })
			rec := httptest.NewRecorder()
			r := tt.jar.request()
			if tt.header != "" {
				r.Header.Set("Cookie", tt.header)
			}
			c.Clear(rec, r)
			var got []string
			for _, line := range rec.Header().Values("Set-Cookie") {
				name, _, _ := strings.Cut(line, "=")
				got = append(got, name)
				for _, want := range []string{"; Max-Age=0", "; Domain=example.com", "; Path=/app", "; HttpOnly"} {
					if !strings.Contains(line, want) {
						t.Errorf("Set-Cookie = %q; want it to contain %q", line, want)
					}
				}
			}
			if !reflect.DeepEqual(sortedCopy(got), tt.wantExpired) {
				t.Errorf("Clear() expired %q; want %q", got, tt.wantExpired)
			}
		})
	}
}

func TestIsOwnCookie(t *testing.T) {
	t.Parallel()
	tests := []struct {
		store string // Options.Name
		name  string
		want  bool
	}{
		{"", "_portcullis", true},
		{"", "_portcullis_0", true},
		{"", "_portcullis_11", true},
		{"", "_portcullis_123", true},
		{"", "_portcullis_csrf", true},
		{"", "_portcullis_", false},
		{"", "_portcullis_x", false},
		{"", "_portcullis_1a", false},
		{"", "_portcullisx", false},
		{"", "_Portcullis", false},
		{"", "session", false},
		{"", "", false},
		{"sid", "sid", true},
		{"sid", "sid_2", true},
		{"sid", "sid_csrf", true},
		{"sid", "_portcullis", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.store, tt.name), func(t *testing.T) {
			t.Parallel()
			c := newStore(t, testclock.New(t0), func(o *Options) { o.Name = tt.store })
			if got := c.IsOwnCookie(tt.name); got != tt.want {
				t.Errorf("IsOwnCookie(%q) = %v; want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := newStore(t, testclock.New(t0))
	j := jar{}
	j.save(t, c, sampleState(t0, 5000))
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 20 {
				if _, err = c.Load(j.request()); err != nil {
					break
				}
				err = c.Save(httptest.NewRecorder(), j.request(), sampleState(t0, 5000))
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Errorf("concurrent Load/Save: %v", err)
		}
	}
}

// FuzzLoad feeds Load arbitrary Cookie headers: it must return a session or
// one of its errors, never panic, and the same whether the value was in its
// cache of verified values or not.
func FuzzLoad(f *testing.F) {
	clk := testclock.New(t0)
	c := newStore(f, clk)
	cold := newStore(f, clk) // its cache is emptied for each input
	for _, n := range []int{100, 1000, 6000} {
		rec := httptest.NewRecorder()
		if err := c.Save(rec, jar{}.request(), sampleState(t0, n)); err != nil {
			f.Fatal(err)
		}
		var pairs []string
		for _, ck := range rec.Result().Cookies() {
			pairs = append(pairs, ck.Name+"="+ck.Value)
		}
		f.Add(strings.Join(pairs, "; "))
	}
	f.Add("_portcullis=")
	f.Add("_portcullis_0=AAAA; _portcullis_1=BBBB")
	f.Add("_portcullis=" + strings.Repeat("A", 5000))
	f.Add(`_portcullis_0="AAAA"; _portcullis_0=BBBB; _portcullis_csrf=x; _portcullis_01=y`)
	f.Add("_portcullis")

	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", header)
		s, err := c.Load(r)
		again, errAgain := c.Load(r)
		cold.verified = verifiedCache{}
		fresh, errFresh := cold.Load(r)
		for _, o := range []struct {
			s   *State
			err error
		}{{again, errAgain}, {fresh, errFresh}} {
			if !reflect.DeepEqual(o.s, s) || (o.err == nil) != (err == nil) || o.err != nil && o.err.Error() != err.Error() {
				t.Fatalf("Load() = %+v, %v, then %+v, %v; want the same", s, err, o.s, o.err)
			}
		}
		switch {
		case err == nil:
			if s == nil || s.CreatedAt.IsZero() {
				t.Fatalf("Load() = %+v, nil; want a plausible session", s)
			}
		case errors.Is(err, ErrNoSession), errors.Is(err, ErrInvalid), errors.Is(err, ErrExpired):
			if s != nil {
				t.Fatalf("Load() = %+v, %v; want nil with the error", s, err)
			}
		default:
			t.Fatalf("Load() error = %v; want one of the package's", err)
		}
	})
}

// BenchmarkLoad is Load of a valid session: "token=…" the usual case, a
// value verified before (the cache hit); "verify/token=…" the first
// request with a cookie, decrypted and verified by securecookie.
func BenchmarkLoad(b *testing.B) {
	for _, verify := range []bool{false, true} {
		for _, n := range []int{1000, 10_000} {
			name := fmt.Sprintf("token=%dB", n)
			if verify {
				name = "verify/" + name
			}
			b.Run(name, func(b *testing.B) {
				c := newStore(b, testclock.New(t0))
				rec := httptest.NewRecorder()
				if err := c.Save(rec, jar{}.request(), sampleState(t0, n)); err != nil {
					b.Fatal(err)
				}
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				for _, ck := range rec.Result().Cookies() {
					r.AddCookie(ck)
				}
				b.ReportAllocs()
				for b.Loop() {
					if verify {
						c.verified = verifiedCache{}
					}
					if _, err := c.Load(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkSave(b *testing.B) {
	c := newStore(b, testclock.New(t0))
	s := sampleState(t0, 1000)
	r := jar{"_portcullis": "x"}.request()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Save(httptest.NewRecorder(), r, s); err != nil {
			b.Fatal(err)
		}
	}
}

// stdSessionValue is sessionValue as it was over net/http's parsing: the
// first base cookie's value, or else the first of each consecutive part
// joined.
func stdSessionValue(c *CookieStore, r *http.Request) (string, bool) {
	first := func(name string) (string, bool) {
		ck, err := r.Cookie(name)
		if err != nil {
			return "", false
		}
		return ck.Value, true
	}
	if v, ok := first(c.cookies.name); ok {
		return v, true
	}
	var b strings.Builder
	n := 0
	for ; n < maxParts; n++ {
		v, ok := first(c.cookies.partName(n))
		if !ok {
			break
		}
		b.WriteString(v)
	}
	return b.String(), n > 0
}

// lookupNames are the names whose first cookie the tests compare with
// net/http's: the store's, and some that must not be taken for them.
var lookupNames = []string{
	"_portcullis", "_portcullis_0", "_portcullis_1", "_portcullis_11", "_portcullis_csrf",
	"_portcullis_01", "_portcullis_x", "_portcullis_", "_Portcullis", "other",
}

func headerWith(lines ...string) http.Header {
	h := http.Header{}
	for _, l := range lines {
		h.Add("Cookie", l)
	}
	return h
}

func TestSessionValue(t *testing.T) {
	t.Parallel()
	c := newStore(t, testclock.New(t0))
	tests := []struct {
		name   string
		lines  []string // Cookie header lines
		want   string
		wantOK bool
	}{
		{name: "no header"},
		{name: "empty line", lines: []string{""}},
		{name: "base", lines: []string{"_portcullis=abc"}, want: "abc", wantOK: true},
		{name: "among others", lines: []string{"theme=dark; _portcullis=abc; lang=fr"}, want: "abc", wantOK: true},
		{name: "no spaces", lines: []string{"a=1;_portcullis=abc;b=2"}, want: "abc", wantOK: true},
		{name: "spaces and tabs", lines: []string{" \t a=1 ;\t_portcullis = abc \t; b=2 "}, want: " abc", wantOK: true},
		{name: "value with '='", lines: []string{"_portcullis=YWJj=="}, want: "YWJj==", wantOK: true},
		{name: "quoted", lines: []string{`_portcullis="abc"`}, want: "abc", wantOK: true},
		{name: "quoted empty", lines: []string{`_portcullis=""`}, want: "", wantOK: true},
		{name: "quoted with spaces", lines: []string{`_portcullis=" a b "`}, want: " a b ", wantOK: true},
		{name: "empty value", lines: []string{"_portcullis=; a=1"}, want: "", wantOK: true},
		{name: "lone name", lines: []string{"a=1; _portcullis"}, want: "", wantOK: true},
		{name: "empty parts", lines: []string{";; ;_portcullis=abc;;"}, want: "abc", wantOK: true},
		{name: "empty name", lines: []string{"=x; _portcullis=abc"}, want: "abc", wantOK: true},
		{name: "first of duplicates", lines: []string{"_portcullis=first; _portcullis=second"}, want: "first", wantOK: true},
		{name: "first line first", lines: []string{"a=1", "_portcullis=first", "_portcullis=second"}, want: "first", wantOK: true},
		{name: "parts", lines: []string{"_portcullis_0=A; _portcullis_1=B; _portcullis_2=C"}, want: "ABC", wantOK: true},
		{name: "parts out of order", lines: []string{"_portcullis_2=C; _portcullis_0=A; _portcullis_1=B"}, want: "ABC", wantOK: true},
		{name: "parts over lines", lines: []string{"x=1; _portcullis_1=B", "_portcullis_0=A"}, want: "AB", wantOK: true},
		{name: "one part", lines: []string{"_portcullis_0=A"}, want: "A", wantOK: true},
		{name: "lone part name", lines: []string{"_portcullis_0; _portcullis_1=B"}, want: "B", wantOK: true},
		{name: "twelve parts", lines: []string{"_portcullis_0=0; _portcullis_1=1; _portcullis_2=2; _portcullis_3=3; _portcullis_4=4; _portcullis_5=5; " +
			"_portcullis_6=6; _portcullis_7=7; _portcullis_8=8; _portcullis_9=9; _portcullis_10=a; _portcullis_11=b; _portcullis_12=c"},
			want: "0123456789ab", wantOK: true},
		{name: "first of duplicate parts", lines: []string{"_portcullis_0=A; _portcullis_0=Z; _portcullis_1=B"}, want: "AB", wantOK: true},
		{name: "parts stop at a gap", lines: []string{"_portcullis_0=A; _portcullis_2=C"}, want: "A", wantOK: true},
		{name: "parts without the first", lines: []string{"_portcullis_1=B; _portcullis_2=C"}},
		{name: "base before parts", lines: []string{"_portcullis_0=A; _portcullis=base"}, want: "base", wantOK: true},
		{name: "CSRF cookie", lines: []string{"_portcullis_csrf=x"}},
		{name: "leading zero", lines: []string{"_portcullis_00=A; _portcullis_01=B"}},
		{name: "sign", lines: []string{"_portcullis_+0=A; _portcullis_-0=B"}},
		{name: "not digits", lines: []string{"_portcullis_x=A; _portcullis_=B; _portcullis_0x=C"}},
		{name: "beyond the last part", lines: []string{"_portcullis_12=A"}},
		{name: "longer name", lines: []string{"_portcullisx=A; x_portcullis=B; _portcullis__0=C"}},
		{name: "other case", lines: []string{"_Portcullis=A; _PORTCULLIS_0=B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = headerWith(tt.lines...)
			got, ok := c.cookies.sessionValue(r.Header)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("sessionValue(%q) = %q, %v; want %q, %v", tt.lines, got, ok, tt.want, tt.wantOK)
			}
			if std, stdOK := stdSessionValue(c, r); got != std || ok != stdOK {
				t.Errorf("sessionValue(%q) = %q, %v; net/http's parsing gives %q, %v", tt.lines, got, ok, std, stdOK)
			}
			for _, name := range lookupNames {
				got, ok := cookieValue(r.Header, name)
				var want string
				ck, err := r.Cookie(name)
				if err == nil {
					want = ck.Value
				}
				if got != want || ok != (err == nil) {
					t.Errorf("cookieValue(%q, %q) = %q, %v; want %q, %v as r.Cookie", tt.lines, name, got, ok, want, err == nil)
				}
			}
		})
	}
}

// TestSessionValueDivergence pins where the scanner parts from net/http on
// purpose: it doesn't check values, so a malformed first cookie hides a
// later one, and Load then fails on it.
func TestSessionValueDivergence(t *testing.T) {
	t.Parallel()
	clk := testclock.New(t0)
	c := newStore(t, clk)
	j := jar{}
	j.save(t, c, sampleState(t0, 100))
	good := j["_portcullis"]
	many := strings.Repeat("x=1; ", 3000) + "_portcullis=" + good
	tests := []struct {
		name    string
		line    string
		want    string // sessionValue's
		wantStd string // net/http's
		wantErr error  // Load's
	}{
		{name: "control byte", line: "_portcullis=a\x01b; _portcullis=" + good, want: "a\x01b", wantStd: good, wantErr: ErrInvalid},
		{name: "backslash", line: `_portcullis=a\b; _portcullis=` + good, want: `a\b`, wantStd: good, wantErr: ErrInvalid},
		{name: "unbalanced quote", line: `_portcullis="ab; _portcullis=` + good, want: `"ab`, wantStd: good, wantErr: ErrInvalid},
		{name: "non-ASCII", line: "_portcullis=é; _portcullis=" + good, want: "é", wantStd: good, wantErr: ErrInvalid},
		{name: "over 3000 cookies", line: many, want: good, wantStd: "", wantErr: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", tt.line)
			if got, _ := c.cookies.sessionValue(r.Header); got != tt.want {
				t.Errorf("sessionValue() = %q; want %q", got, tt.want)
			}
			if got, _ := stdSessionValue(c, r); got != tt.wantStd {
				t.Errorf("net/http's session value = %q; want %q", got, tt.wantStd)
			}
			if _, err := c.Load(r); !errors.Is(err, tt.wantErr) {
				t.Errorf("Load() error = %v; want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSessionValueAllocs(t *testing.T) {
	c := newStore(t, testclock.New(t0))
	tests := []struct {
		name string
		line string
	}{
		{name: "base", line: "theme=dark; _portcullis=" + token(2000) + "; lang=fr"},
		{name: "one part", line: "theme=dark; _portcullis_0=" + token(2000) + "; _portcullis_csrf=x"},
		{name: "none", line: "theme=dark; _portcullis_1=x; lang=fr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headerWith(tt.line)
			if n := testing.AllocsPerRun(100, func() { c.cookies.sessionValue(h) }); n != 0 {
				t.Errorf("sessionValue(%.20q…) allocates %v times; want 0", tt.line, n)
			}
			if n := testing.AllocsPerRun(100, func() { cookieValue(h, c.cookies.name) }); n != 0 {
				t.Errorf("cookieValue(%.20q…) allocates %v times; want 0", tt.line, n)
			}
		})
	}
	t.Run("Load", func(t *testing.T) {
		j := jar{"theme": "dark"}
		j.save(t, c, sampleState(t0, 1000))
		r := j.request()
		if n := testing.AllocsPerRun(100, func() { c.Load(r) }); n > 1 {
			t.Errorf("Load() of a known session allocates %v times; want 1, its copy", n)
		}
	})
}

// TestLoadCached checks that a session loaded from the cache of verified
// values equals one decoded afresh, and that callers get their own copy.
func TestLoadCached(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1000, 10_000} {
		t.Run(fmt.Sprintf("token=%dB", n), func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(t0)
			c := newStore(t, clk)
			j := jar{}
			j.save(t, c, sampleState(t0, n))
			want := sampleState(t0, n)

			miss, err := c.Load(j.request())
			if err != nil {
				t.Fatalf("Load() error = %v; want nil", err)
			}
			value, _ := c.cookies.sessionValue(j.request().Header)
			if _, ok := c.verified.get(value); !ok {
				t.Fatalf("after Load(), the value is not in the cache")
			}
			hit, err := c.Load(j.request())
			if err != nil {
				t.Fatalf("Load() from the cache error = %v; want nil", err)
			}
			cold, err := newStore(t, clk).Load(j.request())
			if err != nil {
				t.Fatalf("Load() by another store error = %v; want nil", err)
			}
			for _, got := range []*State{miss, hit, cold} {
				if !reflect.DeepEqual(got, want) {
					t.Errorf("Load() = %+v; want %+v", got, want)
				}
			}
			if hit == miss {
				t.Errorf("Load() twice returned the same *State; want a copy each")
			}
			hit.User, hit.AccessToken = "mallory", "changed"
			if again, _ := c.Load(j.request()); !reflect.DeepEqual(again, want) {
				t.Errorf("Load() after a caller changed its copy = %+v; want %+v", again, want)
			}

			clk.Advance(168 * time.Hour)
			if _, err := c.Load(j.request()); err != ErrExpired {
				t.Errorf("Load() from the cache after Expire error = %v; want %v", err, ErrExpired)
			}
		})
	}
}

func TestVerifiedCacheBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		puts   int
		keyLen func(i int) int
	}{
		{name: "small values", puts: 3 * verifiedCacheSize, keyLen: func(int) int { return 40 }},
		{name: "large values", puts: 300, keyLen: func(int) int { return maxParts * maxChunk }},
		{name: "mixed", puts: 2 * verifiedCacheSize, keyLen: func(i int) int { return []int{100, 3000, 20_000}[i%3] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v verifiedCache
			s := &State{}
			evicted := false
			for i := range tt.puts {
				key := fmt.Sprintf("%08d", i) + strings.Repeat("v", tt.keyLen(i)-8)
				before := len(v.m)
				v.put(key, s)
				v.put(key, s) // again: no change
				if len(v.m) < before {
					evicted = true
				}
				if len(v.m) > verifiedCacheSize || v.bytes > verifiedCacheBytes {
					t.Fatalf("after %d puts: %d entries, %d key bytes; want at most %d, %d",
						i+1, len(v.m), v.bytes, verifiedCacheSize, verifiedCacheBytes)
				}
				if _, ok := v.get(key); !ok {
					t.Fatalf("get() of the value just put failed")
				}
			}
			if !evicted {
				t.Errorf("%d puts never evicted; want the test to reach a bound", tt.puts)
			}
			sum := 0
			for k := range v.m {
				sum += len(k)
			}
			if sum != v.bytes {
				t.Errorf("bytes = %d; want %d, the keys' total", v.bytes, sum)
			}
		})
	}
}

// FuzzRequestCookies compares requestCookies with net/http's parsing of the
// same Cookie lines: where net/http accepts a cookie, the scanner must yield
// it alike, and the store must find the same session value.
func FuzzRequestCookies(f *testing.F) {
	c := newStore(f, testclock.New(t0))
	f.Add("_portcullis=abc; theme=dark", "")
	f.Add(`a=1;_portcullis_0="A"; _portcullis_1=B`, "_portcullis_0=Z;_portcullis_2=C")
	f.Add(" \t_portcullis = x ;;_portcullis_csrf=y", "_portcullis")
	f.Add("_portcullis_01=A; _portcullis_x=B; _Portcullis=C; _portcullis_11=D", "=e; f")
	f.Add(`_portcullis="; _portcullis=""; _portcullis=a\b`, "_portcullis=\x7f; _portcullis=é")

	f.Fuzz(func(t *testing.T, line1, line2 string) {
		h := headerWith(line1, line2)
		r := &http.Request{Header: h}
		if strings.Count(line1+line2, ";")+2 > 3000 {
			t.Skip("net/http ignores the header past 3000 cookies")
		}

		// Where net/http accepts a cookie, the scanner yields the same.
		var got [][2]string
		bad := map[string]bool{} // names with a cookie net/http skips
		for name, value := range requestCookies(h) {
			if (&http.Cookie{Name: name, Value: value}).Valid() != nil {
				bad[name] = true
				continue
			}
			got = append(got, [2]string{name, value})
		}
		var want [][2]string
		for _, ck := range r.Cookies() {
			want = append(want, [2]string{ck.Name, ck.Value})
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("requestCookies(%q, %q) accepted by net/http = %q; r.Cookies() = %q", line1, line2, got, want)
		}

		// Where ParseCookie accepts every line, the scanner yields exactly it.
		want = nil
		strict := true
		for _, line := range h["Cookie"] {
			cookies, err := http.ParseCookie(line)
			if err != nil {
				strict = false
				break
			}
			for _, ck := range cookies {
				want = append(want, [2]string{ck.Name, ck.Value})
			}
		}
		if strict {
			var all [][2]string
			for name, value := range requestCookies(h) {
				all = append(all, [2]string{name, value})
			}
			if !reflect.DeepEqual(all, want) {
				t.Fatalf("requestCookies(%q, %q) = %q; http.ParseCookie gives %q", line1, line2, all, want)
			}
		}

		// The store finds what it found over net/http, unless a cookie of
		// its names is one net/http skips.
		for _, name := range lookupNames {
			if bad[name] {
				continue
			}
			got, ok := cookieValue(h, name)
			ck, err := r.Cookie(name)
			if ok != (err == nil) || ok && got != ck.Value {
				t.Fatalf("cookieValue(%q) = %q, %v; r.Cookie = %v, %v", name, got, ok, ck, err)
			}
		}
		for name := range bad {
			if name == c.cookies.name || c.cookies.isPart(name) {
				return
			}
		}
		got1, ok := c.cookies.sessionValue(h)
		want1, wantOK := stdSessionValue(c, r)
		if got1 != want1 || ok != wantOK {
			t.Fatalf("sessionValue(%q, %q) = %q, %v; net/http's parsing gives %q, %v", line1, line2, got1, ok, want1, wantOK)
		}
	})
}

// TestLoadRefusesSessionsFromBeforeBinding: a cookie sealed in the
// encoding of before sessions were bound (version 2) ends once a store
// binds sessions, and still opens in a store that does not.
func TestLoadRefusesSessionsFromBeforeBinding(t *testing.T) {
	t.Parallel()
	s := sampleState(t0, 100)
	for _, tt := range []struct {
		name     string
		bindings map[string]string
		want     error
	}{
		{"bound", map[string]string{"corp": "client-a https://sso.a.example"}, ErrInvalid},
		{"not bound", nil, nil},
	} {
		c := newStore(t, testclock.New(t0), func(o *Options) { o.Bindings = tt.bindings })
		v4 := appendState(nil, s)
		// Less the empty binding, ID, SID and Subject (a byte each) and the
		// zero LastUsed (a byte); Encode encrypts it in place.
		v2 := append([]byte{2}, v4[1:len(v4)-5]...)
		v, err := c.cookies.codecs[0].Encode(c.cookies.name, v2)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Load(jar{c.cookies.name: v}.request())
		if !errors.Is(err, tt.want) || (tt.want == nil && got.UserID != s.UserID) {
			t.Errorf("%s: Load(version 2 cookie) = %v, %v; want %v", tt.name, got != nil, err, tt.want)
		}
	}
}
