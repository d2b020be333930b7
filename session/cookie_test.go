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

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state *State
	}{
		{name: "minimal", state: &State{Provider: "github", UserID: "42", CreatedAt: t0}},
		{name: "realistic", state: sampleState(t0, 1000)},
		{name: "earlier sign-in", state: sampleState(t0.Add(-100*time.Hour), 1000)},
		{name: "unicode and empty values", state: &State{
			Provider: "oidc", UserID: "ユーザー", Name: "Zoë 🚀", Groups: []string{"", "a,b"},
			Attributes: map[string]string{"": "", "K": "line1\nline2"}, CreatedAt: t0,
		}},
		{name: "large", state: sampleState(t0, 10_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newStore(t, &clock{t0})
			j := jar{}
			j.save(t, c, tt.state)
			got, err := c.Load(j.request())
			if err != nil {
				t.Fatalf("Load() error = %v; want nil", err)
			}
			if !reflect.DeepEqual(got, tt.state) {
				t.Errorf("Load() = %+v; want %+v", got, tt.state)
			}
		})
	}
}

func TestLoadNoSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		jar  jar
	}{
		{name: "no cookies", jar: jar{}},
		{name: "other cookies", jar: jar{"theme": "dark", "_portcullisx": "1"}},
		{name: "only the CSRF cookie", jar: jar{"_portcullis_csrf": "x"}},
		{name: "parts without the first", jar: jar{"_portcullis_1": "x", "_portcullis_2": "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newStore(t, &clock{t0})
			if _, err := c.Load(tt.jar.request()); err != ErrNoSession {
				t.Errorf("Load() error = %v; want %v", err, ErrNoSession)
			}
		})
	}
}

func TestSaveAttributes(t *testing.T) {
	t.Parallel()
	clk := &clock{t0}
	c := newStore(t, clk, func(o *Options) {
		o.Domain = "example.com"
		o.Path = "/app"
		o.SameSite = http.SameSiteStrictMode
	})
	// Signed in 100 hours ago: 68 hours remain of 168.
	rec := httptest.NewRecorder()
	if err := c.Save(rec, jar{}.request(), sampleState(t0.Add(-100*time.Hour), 1000)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	lines := setCookieLines(rec)
	if len(lines) != 1 {
		t.Fatalf("Save set %d cookies: %q; want 1", len(lines), lines)
	}
	for _, want := range []string{
		"Set-Cookie: _portcullis=", "; Path=/app", "; Domain=example.com",
		"; Max-Age=244800", "; Expires=" + t0.Add(68*time.Hour).Format(http.TimeFormat),
		"; HttpOnly", "; Secure", "; SameSite=Strict",
	} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("Set-Cookie = %q; want it to contain %q", lines[0], want)
		}
	}
}

func TestSaveNotSecure(t *testing.T) {
	t.Parallel()
	c := newStore(t, &clock{t0}, func(o *Options) { o.Secure = false; o.SameSite = http.SameSiteDefaultMode })
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
			c := newStore(t, &clock{t0}, mods...)
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
				want = []string{c.name}
			}
			for i := range tt.wantParts {
				want = append(want, c.name+"_"+strconv.Itoa(i))
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
			c := newStore(t, &clock{t0})
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
			c := newStore(t, &clock{t0})
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
	c := newStore(t, &clock{t0})
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
			clk := &clock{t0}
			s := sampleState(t0, max(tt.tokens, 1000))
			j := jar{}
			j.save(t, newStore(t, clk, withSecrets(tt.encode...)), s)
			j.saveFlow(t, newStore(t, clk, withSecrets(tt.encode...)), &Flow{State: "st", CreatedAt: t0})

			c := newStore(t, clk, withSecrets(tt.decode...))
			got, err := c.Load(j.request())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load() error = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !reflect.DeepEqual(got, s) {
				t.Errorf("Load() = %+v; want %+v", got, s)
			}
			_, err = c.LoadFlow(j.request(), "st")
			if wantFlow := tt.wantErr == nil; (err == nil) != wantFlow {
				t.Errorf("LoadFlow() error = %v; want a flow: %v", err, wantFlow)
			}
		})
	}
}

func TestTamper(t *testing.T) {
	t.Parallel()
	clk := &clock{t0}
	c := newStore(t, clk)
	other := newStore(t, clk, func(o *Options) { o.Name = "_other" })

	small, parts, flows := jar{}, jar{}, jar{}
	small.save(t, c, sampleState(t0, 1000))
	parts.save(t, c, sampleState(t0, 10_000))
	flows.saveFlow(t, c, &Flow{State: "st", CreatedAt: t0})
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

	t.Run("session cookie under the CSRF name", func(t *testing.T) {
		t.Parallel()
		r := jar{"_portcullis_csrf": base}.request()
		if f, err := c.LoadFlow(r, "st"); err != ErrNoFlow {
			t.Errorf("LoadFlow() = %v, %v; want %v", f, err, ErrNoFlow)
		}
	})
	t.Run("flip a byte in the CSRF cookie", func(t *testing.T) {
		t.Parallel()
		r := jar{"_portcullis_csrf": flip(flows["_portcullis_csrf"], 30)}.request()
		if f, err := c.LoadFlow(r, "st"); err != ErrNoFlow {
			t.Errorf("LoadFlow() = %v, %v; want %v", f, err, ErrNoFlow)
		}
	})
}

// seal encodes s as the store would, bypassing Save's checks, to make
// cookies Save refuses to write.
func seal(t *testing.T, c *CookieStore, s *State) jar {
	t.Helper()
	v, err := c.codecs[0].Encode(c.name, appendState(nil, s))
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return jar{c.name: v}
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
			clk := &clock{tt.now}
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
	clk := &clock{t0}
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
		wantExpired []string
	}{
		{name: "nothing carried", jar: jar{"theme": "dark"}, wantExpired: []string{"_portcullis"}},
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
			c := newStore(t, &clock{t0}, func(o *Options) { o.Domain = "example.com"; o.Path = "/app" })
			rec := httptest.NewRecorder()
			c.Clear(rec, tt.jar.request())
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
			c := newStore(t, &clock{t0}, func(o *Options) { o.Name = tt.store })
			if got := c.IsOwnCookie(tt.name); got != tt.want {
				t.Errorf("IsOwnCookie(%q) = %v; want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := newStore(t, &clock{t0})
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
// one of its errors, never panic.
func FuzzLoad(f *testing.F) {
	clk := &clock{t0}
	c := newStore(f, clk)
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

	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", header)
		s, err := c.Load(r)
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

func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1000, 10_000} {
		b.Run(fmt.Sprintf("token=%dB", n), func(b *testing.B) {
			c := newStore(b, &clock{t0})
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
				if _, err := c.Load(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSave(b *testing.B) {
	c := newStore(b, &clock{t0})
	s := sampleState(t0, 1000)
	r := jar{"_portcullis": "x"}.request()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Save(httptest.NewRecorder(), r, s); err != nil {
			b.Fatal(err)
		}
	}
}
