package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/testclock"
)

// A sessionStore is what the proxy asks of a session store
// (proxy.Sessions); every implementation passes storeSuite.
type sessionStore interface {
	Load(r *http.Request) (*State, error)
	Save(w http.ResponseWriter, r *http.Request, s *State) error
	Clear(w http.ResponseWriter, r *http.Request)
	IsOwnCookie(name string) bool
}

var (
	_ sessionStore = (*CookieStore)(nil)
	_ sessionStore = (*RedisStore)(nil)
)

// A storeMaker returns a new store with secretA, a 168h expiry and clk,
// after applying mods to the options. Stores from one maker share their
// backing (one Redis), as replicas or a restarted process would.
type storeMaker func(t testing.TB, clk *testclock.Clock, mods ...func(*Options)) sessionStore

// TestStoreSuite runs the shared session store suite against every store.
func TestStoreSuite(t *testing.T) {
	t.Parallel()
	t.Run("cookie", func(t *testing.T) {
		t.Parallel()
		storeSuite(t, func(t testing.TB, clk *testclock.Clock, mods ...func(*Options)) sessionStore {
			return newStore(t, clk, mods...)
		})
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		url := redistest.Start(t)
		storeSuite(t, func(t testing.TB, clk *testclock.Clock, mods ...func(*Options)) sessionStore {
			return newRedisStore(t, url, clk, mods...)
		})
	})
	t.Run("redis with a listening cache", func(t *testing.T) {
		t.Parallel()
		url := redistest.Start(t)
		storeSuite(t, func(t testing.TB, clk *testclock.Clock, mods ...func(*Options)) sessionStore {
			s, _ := listening(t, url, clk, mods...)
			return s
		})
	})
}

// newRedisStore returns a RedisStore on the Redis at url, with its own
// client and testOptions.
func newRedisStore(t testing.TB, url string, clk *testclock.Clock, mods ...func(*Options)) *RedisStore {
	t.Helper()
	return newRedisStoreOn(t, RedisOptions{URL: url}, clk, mods...)
}

// newRedisStoreOn returns a RedisStore on the Redis ro describes, with
// its own client and testOptions.
func newRedisStoreOn(t testing.TB, ro RedisOptions, clk *testclock.Clock, mods ...func(*Options)) *RedisStore {
	t.Helper()
	s, err := NewRedisStore(testOptions(clk, mods...), newRedis(t, ro))
	if err != nil {
		t.Fatalf("NewRedisStore: %v", err)
	}
	return s
}

// newRedis returns a client of the Redis ro describes, closed when t ends.
func newRedis(t testing.TB, ro RedisOptions) *Redis {
	t.Helper()
	r, err := NewRedis(ro)
	if err != nil {
		t.Fatalf("NewRedis(%v): %v", ro, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// rawRedis returns a client for inspecting the Redis at url directly.
func rawRedis(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis.ParseURL(%q): %v", url, err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func storeSuite(t *testing.T, newStore storeMaker) {
	t.Run("round trip", func(t *testing.T) {
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
				st := newStore(t, testclock.New(t0))
				j := jar{}
				j.save(t, st, tt.state)
				got, err := st.Load(j.request())
				if err != nil {
					t.Fatalf("Load() error = %v; want nil", err)
				}
				if !reflect.DeepEqual(got, tt.state) {
					t.Errorf("Load() = %+v; want %+v", got, tt.state)
				}
			})
		}
	})

	t.Run("bound to provider and client", func(t *testing.T) {
		t.Parallel()
		// Deployments sharing COOKIE_SECRET (and, for Redis, the server):
		// ours signs in to corp as client-a at issuer A.
		bind := func(b map[string]string) func(*Options) { return func(o *Options) { o.Bindings = b } }
		ours := map[string]string{"corp": "client-a https://sso.a.example", "github": "gh-client https://github.com/login/oauth/access_token"}
		st := newStore(t, testclock.New(t0), bind(ours))
		tests := []struct {
			name     string
			bindings map[string]string // of the store that made the cookie
			want     error             // nil: ours opens it
		}{
			{"a replica of ours", map[string]string{"corp": "client-a https://sso.a.example"}, nil},
			{"another client id", map[string]string{"corp": "client-b https://sso.a.example"}, ErrInvalid},
			{"another issuer", map[string]string{"corp": "client-a https://sso.b.example"}, ErrInvalid},
			{"made before sessions were bound", nil, ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				j := jar{}
				j.save(t, newStore(t, testclock.New(t0), bind(tt.bindings)), sampleState(t0, 100))
				got, err := st.Load(j.request())
				if tt.want == nil {
					if err != nil || got.UserID != "248289761001" {
						t.Errorf("Load() = %+v, %v; want the session", got, err)
					}
					return
				}
				if !errors.Is(err, tt.want) {
					who := ""
					if got != nil {
						who = got.Provider + ":" + got.UserID
					}
					t.Errorf("Load() of a cookie made for %q = session %q, %v; want %v: not a session here", tt.bindings["corp"], who, err, tt.want)
				}
			})
		}
		// Per provider: a session names its provider, and is checked
		// against that provider's binding only.
		t.Run("per provider", func(t *testing.T) {
			t.Parallel()
			j := jar{}
			gh := &State{Provider: "github", UserID: "583231", CreatedAt: t0}
			j.save(t, st, gh)
			if got, err := st.Load(j.request()); err != nil || got.Provider != "github" {
				t.Errorf("Load() of our github session = %+v, %v; want it", got, err)
			}
			j = jar{}
			j.save(t, newStore(t, testclock.New(t0), bind(map[string]string{"corp": ours["corp"], "github": "other-gh " + "https://github.com/login/oauth/access_token"})), gh)
			if got, err := st.Load(j.request()); !errors.Is(err, ErrInvalid) {
				t.Errorf("Load() of a github session of another GitHub app = %v, %v; want ErrInvalid", got != nil, err)
			}
			rec := httptest.NewRecorder()
			if err := st.Save(rec, jar{}.request(), &State{Provider: "unknown", UserID: "1", CreatedAt: t0}); err == nil {
				t.Error("Save() of a session of a provider without a binding = nil; want an error")
			}
		})
	})

	t.Run("no session", func(t *testing.T) {
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
		st := newStore(t, testclock.New(t0))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				if _, err := st.Load(tt.jar.request()); err != ErrNoSession {
					t.Errorf("Load() error = %v; want %v", err, ErrNoSession)
				}
			})
		}
	})

	t.Run("invalid cookie", func(t *testing.T) {
		t.Parallel()
		st := newStore(t, testclock.New(t0))
		good := jar{}
		good.save(t, st, sampleState(t0, 100))
		value := good["_portcullis"]
		tests := []struct {
			name  string
			value string
		}{
			{name: "flipped in the middle", value: flip(value, len(value)/2)},
			{name: "flipped at the end", value: flip(value, len(value)-2)},
			{name: "truncated", value: value[:len(value)/2]},
			{name: "garbage", value: "not-a-session"},
			{name: "empty", value: ""},
			{name: "huge", value: strings.Repeat("A", 100_000)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				j := jar{"_portcullis": tt.value}
				if _, err := st.Load(j.request()); !errors.Is(err, ErrInvalid) {
					t.Errorf("Load() error = %v; want %v", err, ErrInvalid)
				}
			})
		}
	})

	t.Run("secrets", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name       string
			save, load [][]byte
			wantErr    error
		}{
			{name: "same secret", save: [][]byte{secretA}, load: [][]byte{secretA}},
			{name: "changed secret", save: [][]byte{secretA}, load: [][]byte{secretB}, wantErr: ErrInvalid},
			{name: "rotated: old sessions still open", save: [][]byte{secretA}, load: [][]byte{secretB, secretA}},
			{name: "rotated: new sessions open", save: [][]byte{secretB, secretA}, load: [][]byte{secretB}},
			{name: "rotated: new sessions need the new secret", save: [][]byte{secretB, secretA}, load: [][]byte{secretA}, wantErr: ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				want := sampleState(t0, 1000)
				j := jar{}
				j.save(t, newStore(t, testclock.New(t0), withSecrets(tt.save...)), want)
				// A new store: another replica, or this one restarted.
				got, err := newStore(t, testclock.New(t0), withSecrets(tt.load...)).Load(j.request())
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Load() error = %v; want %v", err, tt.wantErr)
				}
				if err == nil && !reflect.DeepEqual(got, want) {
					t.Errorf("Load() = %+v; want %+v", got, want)
				}
			})
		}
	})

	t.Run("expiry from sign-in", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			after   time.Duration // from sign-in
			wantErr error
		}{
			{name: "fresh", after: 0},
			{name: "a second before the end", after: 168*time.Hour - time.Second},
			{name: "at the end", after: 168 * time.Hour, wantErr: ErrExpired},
			{name: "long after", after: 1000 * time.Hour, wantErr: ErrExpired},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				clk := testclock.New(t0)
				st := newStore(t, clk)
				j := jar{}
				j.save(t, st, sampleState(t0, 100))
				clk.Advance(tt.after) // whatever the browser keeps
				if _, err := st.Load(j.request()); !errors.Is(err, tt.wantErr) {
					t.Errorf("Load() %v after sign-in: error = %v; want %v", tt.after, err, tt.wantErr)
				}
			})
		}
	})

	t.Run("save errors", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			state   *State
			wantErr error  // checked with errors.Is when set
			want    string // part of the error otherwise
		}{
			{name: "nil", state: nil, want: "nil state"},
			{name: "no CreatedAt", state: &State{Provider: "p", UserID: "1"}, want: "no CreatedAt"},
			{name: "future", state: sampleState(t0.Add(time.Hour), 10), want: "future"},
			{name: "expired", state: sampleState(t0.Add(-168*time.Hour), 10), wantErr: ErrExpired},
		}
		st := newStore(t, testclock.New(t0))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				rec := httptest.NewRecorder()
				err := st.Save(rec, jar{}.request(), tt.state)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Errorf("Save() error = %v; want %v", err, tt.wantErr)
					}
				} else {
					wantErrorLike(t, err, tt.want)
				}
				if lines := setCookieLines(rec); len(lines) != 0 {
					t.Errorf("Save() failed but set %q; want no cookie", lines)
				}
			})
		}
	})

	t.Run("refresh rewrites the session", func(t *testing.T) {
		t.Parallel()
		clk := testclock.New(t0)
		st := newStore(t, clk)
		j := jar{}
		j.save(t, st, sampleState(t0, 1000))
		clk.Advance(time.Hour)
		refreshed := sampleState(t0, 1000)
		refreshed.AccessToken, refreshed.RefreshToken = "new access", "new refresh"
		refreshed.Expiry = clk.Now().Add(time.Hour)
		j.save(t, st, refreshed)
		got, err := st.Load(j.request())
		if err != nil {
			t.Fatalf("Load() error = %v; want nil", err)
		}
		if !reflect.DeepEqual(got, refreshed) {
			t.Errorf("Load() = %+v; want %+v", got, refreshed)
		}
	})

	t.Run("cookie attributes", func(t *testing.T) {
		t.Parallel()
		st := newStore(t, testclock.New(t0), func(o *Options) {
			o.Domain = "example.com"
			o.Path = "/app"
			o.SameSite = http.SameSiteStrictMode
		})
		// Signed in 100 hours ago: 68 hours remain of 168.
		rec := httptest.NewRecorder()
		if err := st.Save(rec, jar{}.request(), sampleState(t0.Add(-100*time.Hour), 1000)); err != nil {
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
	})

	t.Run("save expires stale parts", func(t *testing.T) {
		t.Parallel()
		st := newStore(t, testclock.New(t0))
		j := jar{"_portcullis_0": "old", "_portcullis_1": "old", "_portcullis_7": "old", "theme": "dark"}
		j.save(t, st, sampleState(t0, 100))
		if got, want := j.names(), []string{"_portcullis", "theme"}; !reflect.DeepEqual(got, want) {
			t.Errorf("cookies after Save = %q; want %q", got, want)
		}
		if _, err := st.Load(j.request()); err != nil {
			t.Errorf("Load() error = %v; want nil", err)
		}
	})

	t.Run("clear", func(t *testing.T) {
		t.Parallel()
		st := newStore(t, testclock.New(t0))
		j := jar{"_portcullis_3": "stale", "theme": "dark"}
		j.save(t, st, sampleState(t0, 100))
		rec := httptest.NewRecorder()
		st.Clear(rec, j.request())
		j.update(rec)
		for _, ck := range rec.Result().Cookies() {
			if ck.MaxAge >= 0 || ck.Value != "" || !ck.HttpOnly {
				t.Errorf("Clear set %s=%q Max-Age=%d; want it expired", ck.Name, ck.Value, ck.MaxAge)
			}
		}
		if got, want := j.names(), []string{"theme"}; !reflect.DeepEqual(got, want) {
			t.Errorf("cookies after Clear = %q; want %q", got, want)
		}
		if _, err := st.Load(j.request()); !errors.Is(err, ErrNoSession) {
			t.Errorf("Load() after Clear: error = %v; want %v", err, ErrNoSession)
		}
		// Clearing without a session is harmless.
		st.Clear(httptest.NewRecorder(), jar{}.request())
	})

	t.Run("own cookies", func(t *testing.T) {
		t.Parallel()
		st := newStore(t, testclock.New(t0))
		tests := []struct {
			name string
			want bool
		}{
			{"_portcullis", true}, {"_portcullis_0", true}, {"_portcullis_11", true},
			{"_portcullis_csrf", true}, {"_portcullis_", false}, {"_portcullis_x", false},
			{"_portcullisx", false}, {"theme", false}, {"", false},
		}
		for _, tt := range tests {
			if got := st.IsOwnCookie(tt.name); got != tt.want {
				t.Errorf("IsOwnCookie(%q) = %v; want %v", tt.name, got, tt.want)
			}
		}
	})

	t.Run("flow cookie is no session", func(t *testing.T) {
		t.Parallel()
		clk := testclock.New(t0)
		st := newStore(t, clk)
		fl := newFlows(t, clk)
		j := jar{}
		for _, state := range []string{"tab-1", "tab-2"} {
			j.saveFlow(t, fl, &Flow{State: state, Provider: "corp", Redirect: "/" + state})
		}
		if _, err := st.Load(j.request()); !errors.Is(err, ErrNoSession) {
			t.Errorf("Load() with only flows: error = %v; want %v", err, ErrNoSession)
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		t.Parallel()
		st := newStore(t, testclock.New(t0))
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				want := sampleState(t0, 100)
				want.UserID = fmt.Sprint(i)
				rec := httptest.NewRecorder()
				if err := st.Save(rec, jar{}.request(), want); err != nil {
					t.Errorf("Save: %v", err)
					return
				}
				j := jar{}
				j.update(rec)
				for range 10 {
					got, err := st.Load(j.request())
					if err != nil || got.UserID != want.UserID {
						t.Errorf("Load() = %v, %v; want user %s", got, err, want.UserID)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestNewRedisStore(t *testing.T) {
	t.Parallel()
	client := newRedis(t, RedisOptions{URL: "redis://127.0.0.1:1"}) // never contacted
	tests := []struct {
		name   string
		opts   Options
		client *Redis
		want   []string // parts of the error; none: no error
	}{
		{name: "ok", opts: Options{Secrets: [][]byte{secretA}}, client: client},
		{name: "no client", opts: Options{Secrets: [][]byte{secretA}}, want: []string{"no redis client"}},
		{
			name: "every problem at once",
			opts: Options{Secrets: [][]byte{[]byte("short")}, Path: "app"},
			want: []string{"secret 1 is 5 bytes", "path", "no redis client"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewRedisStore(tt.opts, tt.client)
			if len(tt.want) == 0 {
				if err != nil || s == nil {
					t.Fatalf("NewRedisStore() = %v, %v; want a store", s, err)
				}
				return
			}
			if s != nil {
				t.Errorf("NewRedisStore() = %v; want nil with the error", s)
			}
			wantErrorLike(t, err, tt.want...)
		})
	}
}

// ticketOf returns the ticket in the jar's session cookie.
func ticketOf(t *testing.T, s *RedisStore, j jar) []byte {
	t.Helper()
	ticket, err := s.ticket(j.request())
	if err != nil {
		t.Fatalf("ticket in the cookie: %v", err)
	}
	return ticket
}

// redisDump returns every key in the Redis at url with its value, but
// the index sets (index.go; indexDump has them).
func redisDump(t *testing.T, c *redis.Client) map[string]string {
	t.Helper()
	ctx := t.Context()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("KEYS *: %v", err)
	}
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		if strings.HasPrefix(k, indexKeyPrefix) {
			continue
		}
		v, err := c.Get(ctx, k).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", k, err)
		}
		m[k] = v
	}
	return m
}

func TestRedisStoreDumpRevealsNothing(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	s := newRedisStore(t, url, testclock.New(t0))
	want := sampleState(t0, 2000)
	want.AccessToken = "access-" + token(2000)
	want.RefreshToken = "refresh-" + token(90)
	want.IDToken = "id-" + token(500)
	j := jar{}
	j.save(t, s, want)
	ticket := ticketOf(t, s, j)

	m := redisDump(t, rawRedis(t, url))
	sum := sha256.Sum256(ticket)
	wantKey := "portcullis:session:" + hex.EncodeToString(sum[:])
	if len(m) != 1 || m[wantKey] == "" {
		t.Fatalf("Redis holds keys %q; want only %q", keysOf(m), wantKey)
	}
	secrets := map[string]string{
		"access token":            want.AccessToken,
		"refresh token":           want.RefreshToken,
		"ID token":                want.IDToken,
		"e-mail":                  want.Email,
		"name":                    want.Name,
		"ticket (hex)":            hex.EncodeToString(ticket),
		"ticket (base64)":         base64.StdEncoding.EncodeToString(ticket),
		"ticket (base64url)":      base64.RawURLEncoding.EncodeToString(ticket),
		"ticket (raw)":            string(ticket),
		"cookie":                  j["_portcullis"],
		"access token (base64)":   base64.StdEncoding.EncodeToString([]byte(want.AccessToken))[:40],
		"refresh token (base64)":  base64.StdEncoding.EncodeToString([]byte(want.RefreshToken))[:40],
		"access token (prefix)":   want.AccessToken[:16],
		"refresh token (hex)":     hex.EncodeToString([]byte(want.RefreshToken))[:40],
		"e-mail (base64url)":      base64.RawURLEncoding.EncodeToString([]byte(want.Email))[:20],
		"e-mail (base64, padded)": base64.URLEncoding.EncodeToString([]byte(want.Email))[:20],
	}
	for k, v := range indexDump(t, rawRedis(t, url)) {
		m[k] = v
	}
	for k, v := range m {
		for what, secret := range secrets {
			if strings.Contains(k, secret) || strings.Contains(v, secret) {
				t.Errorf("Redis entry %q reveals the %s", k, what)
			}
		}
	}
}

// indexDump returns the index sets in the Redis at url, each with its
// members joined by spaces.
func indexDump(t *testing.T, c *redis.Client) map[string]string {
	t.Helper()
	ctx := t.Context()
	keys, err := c.Keys(ctx, indexKeyPrefix+"*").Result()
	if err != nil {
		t.Fatalf("KEYS: %v", err)
	}
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		members, err := c.SMembers(ctx, k).Result()
		if err != nil {
			t.Fatalf("SMEMBERS %s: %v", k, err)
		}
		m[k] = strings.Join(members, " ")
	}
	return m
}

func TestRedisStoreSignOutEndsSessionEverywhere(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	a := newRedisStore(t, url, testclock.New(t0)) // two replicas
	b := newRedisStore(t, url, testclock.New(t0))
	browser := jar{}
	browser.save(t, a, sampleState(t0, 100))
	stolen := maps.Clone(browser) // another device, or a copied cookie
	if _, err := b.Load(stolen.request()); err != nil {
		t.Fatalf("replica b: Load() error = %v; want the session", err)
	}

	rec := httptest.NewRecorder()
	a.Clear(rec, browser.request())
	browser.update(rec)

	for name, st := range map[string]*RedisStore{"a": a, "b": b} {
		if _, err := st.Load(stolen.request()); !errors.Is(err, ErrExpired) {
			t.Errorf("replica %s: Load() of a copy after sign-out: error = %v; want %v", name, err, ErrExpired)
		}
		if _, err := st.Load(browser.request()); !errors.Is(err, ErrNoSession) {
			t.Errorf("replica %s: Load() after sign-out: error = %v; want %v", name, err, ErrNoSession)
		}
	}
}

func TestRedisStoreTTL(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	raw := rawRedis(t, url)
	tests := []struct {
		name     string
		signedIn time.Duration // before now
		want     time.Duration
	}{
		{name: "just signed in", signedIn: 0, want: 168 * time.Hour},
		{name: "signed in 100h ago", signedIn: 100 * time.Hour, want: 68 * time.Hour},
		{name: "a minute left", signedIn: 168*time.Hour - time.Minute, want: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newRedisStore(t, url, testclock.New(t0))
			j := jar{}
			rec := j.save(t, s, sampleState(t0.Add(-tt.signedIn), 100))
			got, err := raw.PTTL(t.Context(), sessionID(ticketOf(t, s, j))).Result()
			if err != nil {
				t.Fatalf("PTTL: %v", err)
			}
			if got > tt.want || got < tt.want-2*time.Second {
				t.Errorf("TTL in Redis = %v; want about %v", got, tt.want)
			}
			ck := cookieNamed(rec.Result().Cookies(), "_portcullis")
			if want := int(tt.want / time.Second); ck == nil || ck.MaxAge != want {
				t.Errorf("cookie = %v; want Max-Age=%d", ck, want)
			}
		})
	}
}

func TestRedisStoreExpiresInRedis(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	s := newRedisStore(t, url, nil) // the real clock: Redis keeps its own
	raw := rawRedis(t, url)
	j := jar{}
	// Signed in 168h minus 1.2s ago: the session has 1.2s left.
	j.save(t, s, sampleState(time.Now().Add(-168*time.Hour+1200*time.Millisecond), 100))
	key := sessionID(ticketOf(t, s, j))
	deadline := time.Now().Add(3 * time.Second)
	for raw.Exists(t.Context(), key).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatalf("session still in Redis 3s after its end; want it gone")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.Load(j.request()); !errors.Is(err, ErrExpired) {
		t.Errorf("Load() after the end: error = %v; want %v", err, ErrExpired)
	}
}

func TestRedisStoreLargeSession(t *testing.T) {
	t.Parallel()
	s := newRedisStore(t, redistest.Start(t), testclock.New(t0))
	want := sampleState(t0, 200_000)
	j := jar{"_portcullis_0": "left over from the cookie store"}
	rec := j.save(t, s, want)
	var set []string
	for _, line := range setCookieLines(rec) {
		if !strings.Contains(line, "Max-Age=0") {
			set = append(set, line)
		}
		if len(line) > 400 {
			t.Errorf("Set-Cookie line is %d bytes; want a small ticket cookie", len(line))
		}
	}
	if len(set) != 1 {
		t.Errorf("Save set %q; want one cookie", set)
	}
	if got, want := j.names(), []string{"_portcullis"}; !reflect.DeepEqual(got, want) {
		t.Errorf("cookies after Save = %q; want %q", got, want)
	}
	got, err := s.Load(j.request())
	if err != nil {
		t.Fatalf("Load() error = %v; want nil", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() returned a different session (access token %d bytes; want %d)", len(got.AccessToken), len(want.AccessToken))
	}
}

func TestRedisStoreTicket(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	raw := rawRedis(t, url)
	s := newRedisStore(t, url, testclock.New(t0))

	// A sign-in, then a refresh of the same session: one ticket, one key.
	browser := jar{}
	browser.save(t, s, sampleState(t0, 100))
	first := ticketOf(t, s, browser)
	refreshed := sampleState(t0, 100)
	refreshed.AccessToken = "refreshed"
	browser.save(t, s, refreshed)
	if got := ticketOf(t, s, browser); !reflect.DeepEqual(got, first) {
		t.Errorf("ticket after a refresh changed; want the same ticket, so the same key")
	}
	if got := redisDump(t, raw); len(got) != 1 {
		t.Errorf("Redis holds %q after a refresh; want one session", keysOf(got))
	}

	// A new sign-in in the same browser gets a new ticket; the old session
	// is deleted.
	old := maps.Clone(browser)
	again := sampleState(t0.Add(-time.Minute), 100)
	again.UserID = "someone else"
	browser.save(t, s, again)
	if got := ticketOf(t, s, browser); reflect.DeepEqual(got, first) {
		t.Errorf("ticket after a new sign-in is the old one; want a new one")
	}
	if got := redisDump(t, raw); len(got) != 1 {
		t.Errorf("Redis holds %q after a new sign-in; want the new session only", keysOf(got))
	}
	if _, err := s.Load(old.request()); !errors.Is(err, ErrExpired) {
		t.Errorf("Load() with the old ticket: error = %v; want %v", err, ErrExpired)
	}
}

func TestRedisStoreRefreshAfterSignOut(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	clk := testclock.New(t0)
	s := newRedisStore(t, url, clk)
	browser := jar{}
	browser.save(t, s, sampleState(t0.Add(-time.Hour), 100))
	stale := maps.Clone(browser)
	inFlight := stale.request() // a request refreshing the session…

	rec := httptest.NewRecorder()
	s.Clear(rec, browser.request()) // …while the user signs out
	browser.update(rec)

	refreshed := sampleState(t0.Add(-time.Hour), 100)
	refreshed.AccessToken = "refreshed"
	rec = httptest.NewRecorder()
	if err := s.Save(rec, inFlight, refreshed); !errors.Is(err, ErrExpired) {
		t.Errorf("Save() of a refresh after sign-out: error = %v; want %v", err, ErrExpired)
	}
	if lines := setCookieLines(rec); len(lines) != 0 {
		t.Errorf("Save() after sign-out set %q; want no cookie", lines)
	}
	if got := redisDump(t, rawRedis(t, url)); len(got) != 0 {
		t.Errorf("Redis holds %q after sign-out; want nothing", keysOf(got))
	}

	// A new sign-in from a browser still holding the dead ticket works.
	stale.save(t, s, sampleState(t0, 100))
	if _, err := s.Load(stale.request()); err != nil {
		t.Errorf("Load() after signing in again: error = %v; want nil", err)
	}
}

func TestRedisStoreSessionFixation(t *testing.T) {
	t.Parallel()
	s := newRedisStore(t, redistest.Start(t), testclock.New(t0))
	// The attacker signs in and plants their ticket in the victim's
	// browser (a sibling subdomain can set cookies for the parent).
	attacker := jar{}
	mine := sampleState(t0.Add(-time.Hour), 100)
	mine.UserID = "attacker"
	attacker.save(t, s, mine)
	victim := maps.Clone(attacker)

	// The victim signs in.
	theirs := sampleState(t0, 100)
	theirs.UserID = "victim"
	victim.save(t, s, theirs)

	if got, err := s.Load(attacker.request()); err == nil && got.UserID == "victim" {
		t.Fatalf("the attacker's planted ticket opens the victim's session; want a new ticket at sign-in")
	}
	if got, err := s.Load(victim.request()); err != nil || got.UserID != "victim" {
		t.Errorf("victim: Load() = %v, %v; want their session", got, err)
	}
}

func TestRedisStoreValueBoundToKey(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	s := newRedisStore(t, url, testclock.New(t0))
	raw := rawRedis(t, url)
	admin, user := jar{}, jar{}
	adminState := sampleState(t0, 100)
	adminState.Groups = []string{"admins"}
	admin.save(t, s, adminState)
	userState := sampleState(t0, 100)
	userState.UserID, userState.Groups = "user", nil
	user.save(t, s, userState)

	// Someone who can write to Redis copies the admin's value over the
	// user's.
	ctx := t.Context()
	value := raw.Get(ctx, sessionID(ticketOf(t, s, admin))).Val()
	raw.Set(ctx, sessionID(ticketOf(t, s, user)), value, time.Hour)
	if got, err := s.Load(user.request()); !errors.Is(err, ErrInvalid) {
		t.Errorf("Load() of a value moved from another key = %v, %v; want %v", got, err, ErrInvalid)
	}
}

func TestRedisStoreRefusesCookieStoreCookie(t *testing.T) {
	t.Parallel()
	s := newRedisStore(t, redistest.Start(t), testclock.New(t0))
	j := jar{}
	j.save(t, newStore(t, testclock.New(t0)), sampleState(t0, 100)) // same secret and name
	if _, err := s.Load(j.request()); !errors.Is(err, ErrInvalid) {
		t.Errorf("Load() of a CookieStore cookie: error = %v; want %v", err, ErrInvalid)
	}
	// A CookieStore can't take a ticket for a session either.
	tickets := jar{}
	tickets.save(t, s, sampleState(t0, 100))
	if _, err := newStore(t, testclock.New(t0)).Load(tickets.request()); !errors.Is(err, ErrInvalid) {
		t.Errorf("CookieStore.Load() of a ticket: error = %v; want %v", err, ErrInvalid)
	}
}

// finishesWithin fails unless f returns within d, and returns how long it
// took. d is a generous bound (several times the store's timeouts, for a
// shared, loaded machine): it catches a call that waits for Redis without
// a timeout, not one that is a little slow.
func finishesWithin(t *testing.T, what string, d time.Duration, f func()) time.Duration {
	t.Helper()
	start := time.Now()
	f()
	took := time.Since(start)
	if took > d {
		t.Errorf("%s took %v; want at most %v", what, took, d)
	}
	return took
}

func TestRedisStoreOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		down  func(*redistest.Server)
		limit time.Duration
	}{
		{name: "killed", down: (*redistest.Server).Kill, limit: 8 * time.Second},
		{name: "hung", down: (*redistest.Server).Pause, limit: 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			s := newRedisStore(t, srv.URL, testclock.New(t0))
			j := jar{}
			j.save(t, s, sampleState(t0, 100))
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping() = %v; want nil", err)
			}

			tt.down(srv)
			took := finishesWithin(t, "Load", tt.limit, func() {
				if _, err := s.Load(j.request()); !errors.Is(err, ErrUnavailable) {
					t.Errorf("Load() error = %v; want %v", err, ErrUnavailable)
				}
			})
			t.Logf("Load failed after %v", took)
			finishesWithin(t, "Save", tt.limit, func() {
				rec := httptest.NewRecorder()
				refreshed := sampleState(t0, 100)
				if err := s.Save(rec, j.request(), refreshed); !errors.Is(err, ErrUnavailable) {
					t.Errorf("Save() error = %v; want %v", err, ErrUnavailable)
				}
				if lines := setCookieLines(rec); len(lines) != 0 {
					t.Errorf("Save() failed but set %q; want no cookie", lines)
				}
			})
			finishesWithin(t, "Ping", tt.limit, func() {
				if err := s.Ping(t.Context()); !errors.Is(err, ErrUnavailable) {
					t.Errorf("Ping() = %v; want %v", err, ErrUnavailable)
				}
			})
			finishesWithin(t, "Clear", tt.limit, func() {
				rec := httptest.NewRecorder()
				s.Clear(rec, maps.Clone(j).request())
				ck := cookieNamed(rec.Result().Cookies(), "_portcullis")
				if ck == nil || ck.MaxAge >= 0 {
					t.Errorf("Clear() during an outage set %v; want the cookie expired", ck)
				}
			})

			srv.Restart() // empty: no persistence
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping() after restart = %v; want nil", err)
			}
			if _, err := s.Load(j.request()); !errors.Is(err, ErrExpired) {
				t.Errorf("Load() after restart: error = %v; want %v", err, ErrExpired)
			}
		})
	}
}

func TestNewRedisCoordinator(t *testing.T) {
	t.Parallel()
	client := newRedis(t, RedisOptions{URL: "redis://127.0.0.1:1"}) // never contacted
	if c, err := NewRedisCoordinator(Options{Secrets: [][]byte{secretA}}, client); err != nil || c == nil {
		t.Errorf("NewRedisCoordinator() = %v, %v; want a coordinator", c, err)
	}
	c, err := NewRedisCoordinator(Options{Secrets: [][]byte{[]byte("short")}}, nil)
	if c != nil {
		t.Errorf("NewRedisCoordinator() = %v; want nil with the error", c)
	}
	wantErrorLike(t, err, "secret 1 is 5 bytes", "no redis client")
}

// newCoordinator returns a RedisCoordinator on the Redis at url with its
// own client.
func newCoordinator(t *testing.T, url string, secrets ...[]byte) *RedisCoordinator {
	t.Helper()
	return newCoordinatorOn(t, RedisOptions{URL: url}, secrets...)
}

// newCoordinatorOn returns a RedisCoordinator on the Redis ro describes,
// with its own client.
func newCoordinatorOn(t testing.TB, ro RedisOptions, secrets ...[]byte) *RedisCoordinator {
	t.Helper()
	if len(secrets) == 0 {
		secrets = [][]byte{secretA}
	}
	c, err := NewRedisCoordinator(Options{Secrets: secrets}, newRedis(t, ro))
	if err != nil {
		t.Fatalf("NewRedisCoordinator: %v", err)
	}
	return c
}

func TestRedisCoordinatorLockOneWinner(t *testing.T) {
	t.Parallel()
	lockOneWinner(t, RedisOptions{URL: redistest.Start(t)})
}

// lockOneWinner: of replicas racing for one lock on the Redis ro
// describes, one wins.
func lockOneWinner(t *testing.T, ro RedisOptions) {
	const replicas = 20
	cs := make([]*RedisCoordinator, replicas)
	for i := range cs {
		cs[i] = newCoordinatorOn(t, ro)
	}
	var (
		wins    atomic.Int32
		unlocks = make(chan func(), replicas)
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for _, c := range cs {
		wg.Go(func() {
			<-start
			unlock, ok, err := c.Lock(t.Context(), "key-1", 10*time.Second)
			if err != nil {
				t.Errorf("Lock() error = %v; want nil", err)
				return
			}
			if ok {
				wins.Add(1)
				unlocks <- unlock
			} else if unlock != nil {
				t.Errorf("Lock() lost but returned an unlock func")
			}
		})
	}
	close(start)
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Fatalf("%d of %d concurrent Lock() calls won; want exactly 1", got, replicas)
	}

	// Other keys are independent; the lock is free again once released.
	if _, ok, err := cs[0].Lock(t.Context(), "key-2", time.Second); !ok || err != nil {
		t.Errorf("Lock(key-2) = %v, %v; want it taken", ok, err)
	}
	unlock := <-unlocks
	unlock()
	unlock() // twice is harmless
	if _, ok, err := cs[1].Lock(t.Context(), "key-1", time.Second); !ok || err != nil {
		t.Errorf("Lock(key-1) after unlock = %v, %v; want it taken", ok, err)
	}
}

func TestRedisCoordinatorStaleUnlock(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	a, b, c := newCoordinator(t, url), newCoordinator(t, url), newCoordinator(t, url)
	raw := rawRedis(t, url)

	unlockA, ok, err := a.Lock(t.Context(), "k", 100*time.Millisecond)
	if !ok || err != nil {
		t.Fatalf("a: Lock() = %v, %v; want it taken", ok, err)
	}
	// a stalls past its ttl; the lock lapses and b takes it.
	deadline := time.Now().Add(3 * time.Second)
	for raw.Exists(t.Context(), "portcullis:refresh:lock:k").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatalf("lock still held 3s after its 100ms ttl")
		}
		time.Sleep(20 * time.Millisecond)
	}
	unlockB, ok, err := b.Lock(t.Context(), "k", 10*time.Second)
	if !ok || err != nil {
		t.Fatalf("b: Lock() after a's lapsed = %v, %v; want it taken", ok, err)
	}

	unlockA() // stale: must not release b's lock
	if _, ok, err := c.Lock(t.Context(), "k", time.Second); ok || err != nil {
		t.Errorf("c: Lock() after a's stale unlock = %v, %v; want false: b still holds it", ok, err)
	}
	unlockB()
	if _, ok, err := c.Lock(t.Context(), "k", time.Second); !ok || err != nil {
		t.Errorf("c: Lock() after b's unlock = %v, %v; want it taken", ok, err)
	}
}

func TestRedisCoordinatorResult(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	raw := rawRedis(t, url)
	ctx := t.Context()
	c := newCoordinator(t, url)
	other := newCoordinator(t, url) // another replica

	if got, ok, err := other.Result(ctx, "k"); got != nil || ok || err != nil {
		t.Fatalf("Result() before Publish = %v, %v, %v; want nil, false, nil", got, ok, err)
	}
	want := sampleState(t0, 1000)
	if err := c.Publish(ctx, "k", want, 10*time.Second); err != nil {
		t.Fatalf("Publish() = %v; want nil", err)
	}
	got, ok, err := other.Result(ctx, "k")
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("Result() = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if ttl := raw.PTTL(ctx, "portcullis:refresh:result:k").Val(); ttl > 10*time.Second || ttl < 9*time.Second {
		t.Errorf("result TTL in Redis = %v; want about 10s", ttl)
	}
	for k, v := range redisDump(t, raw) {
		for what, secret := range map[string]string{"access token": want.AccessToken, "refresh token": want.RefreshToken, "e-mail": want.Email} {
			if strings.Contains(v, secret) {
				t.Errorf("Redis entry %q reveals the %s", k, what)
			}
		}
	}
	if _, ok, _ := other.Result(ctx, "other-key"); ok {
		t.Errorf("Result(other-key) found a result; want none")
	}

	// Rotation: a replica with the new secret first still reads it; one
	// without the old secret can't.
	if _, ok, err := newCoordinator(t, url, secretB, secretA).Result(ctx, "k"); !ok || err != nil {
		t.Errorf("Result() with rotated secrets = %v, %v; want the result", ok, err)
	}
	if _, _, err := newCoordinator(t, url, secretB).Result(ctx, "k"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Result() with another secret: error = %v; want %v", err, ErrInvalid)
	}
	// A value moved to another key does not open.
	raw.Set(ctx, "portcullis:refresh:result:moved", raw.Get(ctx, "portcullis:refresh:result:k").Val(), time.Minute)
	if _, _, err := other.Result(ctx, "moved"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Result() of a moved value: error = %v; want %v", err, ErrInvalid)
	}

	// Results lapse after their ttl.
	if err := c.Publish(ctx, "short", want, 100*time.Millisecond); err != nil {
		t.Fatalf("Publish() = %v; want nil", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, ok, err := other.Result(ctx, "short")
		if err != nil {
			t.Fatalf("Result() error = %v", err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("result still there 3s after its 100ms ttl")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisCoordinatorArguments(t *testing.T) {
	t.Parallel()
	c := newCoordinator(t, "redis://127.0.0.1:1/0") // never reached
	ctx := t.Context()
	if _, _, err := c.Lock(ctx, "k", 0); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("Lock() with ttl 0: error = %v; want an argument error", err)
	}
	if err := c.Publish(ctx, "k", sampleState(t0, 10), -time.Second); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("Publish() with a negative ttl: error = %v; want an argument error", err)
	}
	if err := c.Publish(ctx, "k", nil, time.Second); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("Publish() of nil: error = %v; want an argument error", err)
	}
}

func TestRedisCoordinatorOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCoordinator(t, srv.URL)
	ctx := t.Context()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping() = %v; want nil", err)
	}
	srv.Kill()
	tests := []struct {
		name string
		call func() error
	}{
		{"Lock", func() error { _, _, err := c.Lock(ctx, "k", time.Second); return err }},
		{"Result", func() error { _, _, err := c.Result(ctx, "k"); return err }},
		{"Publish", func() error { return c.Publish(ctx, "k", sampleState(t0, 10), time.Second) }},
		{"Ping", func() error { return c.Ping(ctx) }},
	}
	for _, tt := range tests {
		finishesWithin(t, tt.name, 8*time.Second, func() {
			if err := tt.call(); !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s() during an outage: error = %v; want %v", tt.name, err, ErrUnavailable)
			}
		})
	}
}

// TestRefresherAcrossReplicasOnRedis has two replicas, each with its own
// Refresher and Redis client, refresh one session under load: the
// provider sees one grant, and every caller gets its result.
func TestRefresherAcrossReplicasOnRedis(t *testing.T) {
	t.Parallel()
	refreshAcrossReplicas(t, RedisOptions{URL: redistest.Start(t)})
}

// refreshAcrossReplicas: two replicas sharing the Redis ro describes
// refresh one session under load with one grant.
func refreshAcrossReplicas(t *testing.T, ro RedisOptions) {
	var grants atomic.Int32
	fn := func(ctx context.Context, s *State) (*State, error) {
		grants.Add(1)
		time.Sleep(50 * time.Millisecond) // the provider takes a while
		n := *s
		n.AccessToken, n.RefreshToken = "new access", "new refresh"
		return &n, nil
	}
	replicas := []*Refresher{
		NewRefresher(RefreshOptions{Coordinator: newCoordinatorOn(t, ro)}),
		NewRefresher(RefreshOptions{Coordinator: newCoordinatorOn(t, ro)}),
	}
	old := sampleState(t0, 100)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			got, err := replicas[i%2].Refresh(t.Context(), old, fn)
			if err != nil || got.RefreshToken != "new refresh" {
				t.Errorf("Refresh() = %v, %v; want the new tokens", got, err)
			}
		})
	}
	wg.Wait()
	if got := grants.Load(); got != 1 {
		t.Errorf("provider saw %d refresh grants; want 1", got)
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func BenchmarkRedisStore(b *testing.B) {
	s := newRedisStore(b, redistest.Start(b), nil)
	st := sampleState(time.Now(), 1000)
	j := jar{}
	rec := httptest.NewRecorder()
	if err := s.Save(rec, j.request(), st); err != nil {
		b.Fatalf("Save: %v", err)
	}
	j.update(rec)
	r := j.request()
	b.Run("Load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Load(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Save refresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Save(httptest.NewRecorder(), r, st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Load parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Load(r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// ExampleRedisStore shows the wiring; it needs a Redis, so it is not run.
func ExampleRedisStore() {
	client, err := NewRedis(RedisOptions{URL: "redis://127.0.0.1:6379/0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	store, err := NewRedisStore(Options{
		Secrets: [][]byte{[]byte("an example secret of at least 32 bytes")},
		Secure:  true,
		Expire:  168 * time.Hour,
	}, client)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := store.Ping(context.Background()); err != nil {
		fmt.Println("not ready:", err) // errors.Is(err, ErrUnavailable)
		return
	}

	// The callback saves the session: Redis keeps it, the browser gets a
	// ticket. Later requests load it; sign-out clears it everywhere.
	rec := httptest.NewRecorder()
	st := &State{Provider: "github", UserID: "42", User: "octocat", CreatedAt: time.Now()}
	if err := store.Save(rec, httptest.NewRequest(http.MethodGet, "/oauth2/callback", nil), st); err != nil {
		fmt.Println(err)
	}
}
