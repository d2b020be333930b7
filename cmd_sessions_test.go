package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/session"
	"github.com/redis/go-redis/v9"
)

func runSessions(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"sessions"}, args...), envMap(env), &out, &errOut)
	return code, out.String(), errOut.String()
}

// signInStored stores a session for user as serve's Redis store would,
// and returns its cookie header.
func signInStored(t *testing.T, env map[string]string, user, id, sid string) string {
	t.Helper()
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	ro, _ := redisOptions(cfg)
	client, err := session.NewRedis(ro)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// Sealed as serve seals them: bound to the provider's client.
	built, err := buildProviders(cfg, metrics.New(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	store, err := session.NewRedisStore(sessionOptions(cfg, built), client)
	if err != nil {
		t.Fatal(err)
	}
	st := &session.State{Provider: "oauth2", UserID: "u-" + user, User: user, ID: id, SID: sid, CreatedAt: time.Now().Add(-time.Minute)}
	rec := httptest.NewRecorder()
	if err := store.Save(rec, httptest.NewRequest("GET", "/", nil), st); err != nil {
		t.Fatal(err)
	}
	return rec.Header().Get("Set-Cookie")
}

// userEnded reports whether a replica's ended list, read from the Redis
// at url, ends a session of user signed in an hour ago.
func userEnded(t *testing.T, url, user string) bool {
	t.Helper()
	return replicaEnds(t, url, &session.State{User: user, CreatedAt: time.Now().Add(-time.Hour)})
}

// replicaEnds reports whether a replica's ended list, read from the Redis
// at url, ends st.
func replicaEnds(t *testing.T, url string, st *session.State) bool {
	t.Helper()
	r, err := session.NewRedis(session.RedisOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e := session.NewEnded(session.EndedOptions{Redis: r})
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e.Ends(st)
}

func TestSessionsCommandRedisStore(t *testing.T) {
	t.Parallel()
	env := withEnv(validEnv(), "PORTCULLIS_SESSION_STORE", "redis", "PORTCULLIS_REDIS_URL", redistest.Start(t))
	signInStored(t, env, "ann", "id-ann-1", "sid-1")
	signInStored(t, env, "ann", "id-ann-2", "sid-2")
	signInStored(t, env, "bob", "id-bob-1", "sid-3")

	code, out, errOut := runSessions(t, env, "list", "--json")
	var listed []sessionJSON
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 3 {
		t.Fatalf("sessions list --json = %d %q %q; want 3 sessions", code, out, errOut)
	}
	if code, out, _ := runSessions(t, env, "list", "--user", "ann"); code != 0 || strings.Count(out, "\n") != 3 || strings.Contains(out, "bob") {
		t.Fatalf("sessions list --user ann = %d %q; want ann's two", code, out)
	}
	for _, c := range []struct {
		args []string
		code int
		left int // sessions listed afterwards
	}{
		{[]string{"end", "--user", "zed"}, 1, 3},
		{[]string{"end", "--id", "no-such-id"}, 1, 3},
		{[]string{"end", "--id", "id-ann-1"}, 0, 2},
		{[]string{"end", "--sid", "sid-2"}, 0, 1},
		{[]string{"end", "--user", "ann"}, 1, 1}, // none left of ann's
		{[]string{"end", "--user", "bob"}, 0, 0},
	} {
		code, out, errOut := runSessions(t, env, c.args...)
		if code != c.code {
			t.Errorf("sessions %v = %d (%q %q); want %d", c.args, code, out, errOut, c.code)
		}
		_, out, _ = runSessions(t, env, "list", "--json")
		json.Unmarshal([]byte(out), &listed)
		if len(listed) != c.left {
			t.Errorf("after sessions %v: %d sessions listed; want %d", c.args, len(listed), c.left)
		}
	}
	signInStored(t, env, "cy", "id-cy", "")
	if code, out, _ := runSessions(t, env, "end", "--all"); code != 0 || !strings.Contains(out, "ended 1") {
		t.Errorf("sessions end --all = %d %q; want 0, ended 1", code, out)
	}
}

func TestSessionsCommandCookieStore(t *testing.T) {
	t.Parallel()
	rds := redistest.New(t)
	url := rds.URL
	env := withEnv(validEnv(), "PORTCULLIS_REDIS_URL", url, "PORTCULLIS_REDIS_FAILOVER_WAIT", "0")
	if code, _, errOut := runSessions(t, env, "list"); code != 1 || !strings.Contains(errOut, "cookie store keeps no list") {
		t.Errorf("sessions list with the cookie store = %d %q; want 1 saying why", code, errOut)
	}
	if code, out, errOut := runSessions(t, env, "end", "--user", "ann"); code != 0 {
		t.Fatalf("sessions end --user ann with the cookie store and Redis = %d %q %q; want 0", code, out, errOut)
	}
	// Every replica's ended list now ends ann's cookie sessions.
	if !userEnded(t, url, "ann") {
		t.Error("ann's cookie session not ended after sessions end --user ann")
	}
	rds.Kill()
	if code, _, errOut := runSessions(t, env, "end", "--user", "bob"); code != 1 || !strings.Contains(errOut, "unavailable") {
		t.Errorf("sessions end with Redis down = %d %q; want 1 saying it is unavailable", code, errOut)
	}
	noRedis := validEnv()
	if code, _, errOut := runSessions(t, noRedis, "end", "--user", "ann"); code != 1 || !strings.Contains(errOut, "no Redis") {
		t.Errorf("sessions end without Redis = %d %q; want 1 saying why", code, errOut)
	}
}

func TestSessionsCommandUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"nope"},
		{"end"},
		{"end", "--user", "a", "--all"},
		{"end", "--json"},
		{"list", "--all"},
		{"list", "extra"},
	} {
		if code, _, _ := runSessions(t, validEnv(), args...); code != 2 {
			t.Errorf("sessions %v = %d; want 2", args, code)
		}
	}
	if code, out, _ := runSessions(t, validEnv(), "help"); code != 0 || !strings.Contains(out, "sessions end") {
		t.Errorf("sessions help = %d %q; want 0 and the usage", code, out)
	}
}

// TestUsersDisableEndsSessions: disabling a user ends their sessions on
// every replica at once when Redis is configured.
func TestUsersDisableEndsSessions(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	env := withEnv(validEnv(), "PORTCULLIS_REDIS_URL", url, "PORTCULLIS_USERS_DB", filepath.Join(t.TempDir(), "users.db"))
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"users", "add", "ann"}, envMap(env), &out, &errOut); code != 0 {
		t.Fatalf("users add = %d %q", code, errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"users", "disable", "ann"}, envMap(env), &out, &errOut); code != 0 || !strings.Contains(out.String(), "ended ann's sessions") {
		t.Fatalf("users disable = %d %q %q; want 0, sessions ended", code, out.String(), errOut.String())
	}
	if !userEnded(t, url, "ann") {
		t.Error("ann's sessions not ended by users disable")
	}
}

// TestSessionsEndReachesServe: `sessions end` against the Redis that a
// serving replica (cookie store) is configured with ends a live session
// there within about a second (asserted with slack).
func TestSessionsEndReachesServe(t *testing.T) {
	t.Parallel()
	env := withEnv(validEnv(), "PORTCULLIS_REDIS_URL", redistest.Start(t))
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv, jobs, err := newServer(cfg, metrics.New(), log, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, j := range jobs {
		go j(ctx)
	}
	// alice's cookie, sealed as serve seals them.
	built, err := buildProviders(cfg, metrics.New(), log)
	if err != nil {
		t.Fatal(err)
	}
	store, err := session.NewCookieStore(sessionOptions(cfg, built))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	st := &session.State{Provider: cfg.Providers[0].ID, UserID: "1", User: "alice@example.com", Email: "alice@example.com", CreatedAt: time.Now().Add(-time.Minute)}
	if err := store.Save(rec, httptest.NewRequest("GET", "/", nil), st); err != nil {
		t.Fatal(err)
	}
	cookie := rec.Header().Get("Set-Cookie")
	cookie = cookie[:strings.Index(cookie, ";")]
	status := func() int {
		r := httptest.NewRequest("GET", "/app", nil)
		r.Header.Set("Cookie", cookie)
		r.Header.Set("Accept", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w.Code
	}
	if got := status(); got == http.StatusUnauthorized {
		t.Fatalf("alice's session refused before it was ended (%d)", got)
	}
	if code, out, errOut := runSessions(t, env, "end", "--user", "alice@example.com"); code != 0 {
		t.Fatalf("sessions end --user alice@example.com = %d %q %q; want 0", code, out, errOut)
	}
	start := time.Now()
	for status() != http.StatusUnauthorized {
		if time.Since(start) > 3*time.Second {
			t.Fatal("alice's session still accepted 3s after sessions end; want within 1s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("ended at the serving replica after %v", time.Since(start))
}

// TestUsersDisableFindsRedisInFiles: users disable ends the user's
// sessions through Redis however the environment names it, _FILE twins
// included (every variable has one); with a Redis that can't be reached
// it says the sessions end later, rather than saying nothing.
func TestUsersDisableFindsRedisInFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	unreachable := "127.0.0.1:1"
	for _, tt := range []struct {
		name string
		kv   []string
	}{
		{"REDIS_URL", []string{"PORTCULLIS_REDIS_URL", "redis://" + unreachable}},
		{"REDIS_URL_FILE", []string{"PORTCULLIS_REDIS_URL_FILE", file("url", "redis://"+unreachable)}},
		{"REDIS_SENTINEL_ADDRS_FILE", []string{"PORTCULLIS_REDIS_SENTINEL_ADDRS_FILE", file("sentinels", unreachable), "PORTCULLIS_REDIS_SENTINEL_MASTER", "mymaster"}},
		{"REDIS_SENTINEL_MASTER_FILE", []string{"PORTCULLIS_REDIS_SENTINEL_ADDRS", unreachable, "PORTCULLIS_REDIS_SENTINEL_MASTER_FILE", file("master", "mymaster")}},
		{"REDIS_CLUSTER_ADDRS_FILE", []string{"PORTCULLIS_REDIS_CLUSTER_ADDRS_FILE", file("cluster", unreachable)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := withEnv(validEnv(), append(tt.kv, "PORTCULLIS_REDIS_FAILOVER_WAIT", "0",
				"PORTCULLIS_USERS_DB", filepath.Join(t.TempDir(), "users.db"))...)
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"users", "add", "ann"}, envMap(env), &out, &errOut); code != 0 {
				t.Fatalf("users add = %d %q", code, errOut.String())
			}
			out.Reset()
			code := run(context.Background(), []string{"users", "disable", "ann"}, envMap(env), &out, &errOut)
			if code != 0 || !strings.Contains(errOut.String(), "not at once") {
				t.Errorf("users disable with %s on an unreachable Redis = %d, stdout %q, stderr %q; want 0, saying the sessions end at the next status check",
					tt.name, code, out.String(), errOut.String())
			}
		})
	}
}

// TestUsersDisableEndsSessionsNamedOtherwise: with USER_FROM=email (or
// id, or username), X-User is not the registry's name, yet users disable
// must end the user's sessions at once all the same: by the registry's
// id, which every session of a registered user carries.
func TestUsersDisableEndsSessionsNamedOtherwise(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	env := withEnv(validEnv(), "PORTCULLIS_REDIS_URL", url, "PORTCULLIS_USERS_DB", filepath.Join(t.TempDir(), "users.db"),
		"PORTCULLIS_USER_FROM", "email")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"users", "add", "ann", "--email", "ann@corp.example"}, envMap(env), &out, &errOut); code != 0 {
		t.Fatalf("users add = %d %q", code, errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"users", "show", "ann", "--json"}, envMap(env), &out, &errOut); code != 0 {
		t.Fatalf("users show = %d %q", code, errOut.String())
	}
	var ann struct{ ID int64 }
	if err := json.Unmarshal(out.Bytes(), &ann); err != nil || ann.ID == 0 {
		t.Fatalf("users show --json = %q (%v); want ann's id", out.String(), err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"users", "disable", "ann"}, envMap(env), &out, &errOut); code != 0 {
		t.Fatalf("users disable = %d %q %q; want 0", code, out.String(), errOut.String())
	}
	st := &session.State{Provider: "oauth2", User: "ann@corp.example", Email: "ann@corp.example", LocalID: ann.ID, CreatedAt: time.Now().Add(-time.Hour)}
	if !replicaEnds(t, url, st) {
		t.Errorf("after users disable ann (%q): her session named %q by USER_FROM=email is not ended", strings.TrimSpace(out.String()), st.User)
	}
}

// TestSessionsEndUnindexed: a stored session missing from the index (saved
// before the index existed, or its index write lost to a failover: the
// index is best effort) is still found and ended by sessions end --user,
// and listed by sessions list --user.
func TestSessionsEndUnindexed(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	env := withEnv(validEnv(), "PORTCULLIS_SESSION_STORE", "redis", "PORTCULLIS_REDIS_URL", url)
	signInStored(t, env, "ann", "id-ann-1", "sid-1")
	ro, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(ro)
	defer c.Close()
	if n, err := c.Del(context.Background(), "portcullis:index:{user:ann}", "portcullis:index:{sid:oauth2:sid-1}").Result(); err != nil || n != 2 {
		t.Fatalf("DEL the index sets = %d, %v; want 2", n, err)
	}
	if code, out, errOut := runSessions(t, env, "list", "--user", "ann"); code != 0 || !strings.Contains(out, "id-ann-1") {
		t.Errorf("sessions list --user ann (not in the index) = %d %q %q; want 0 and her session", code, out, errOut)
	}
	if code, out, errOut := runSessions(t, env, "end", "--user", "ann"); code != 0 {
		t.Errorf("sessions end --user ann (not in the index) = %d %q %q; want 0", code, out, errOut)
	}
	var listed []sessionJSON
	_, out, _ := runSessions(t, env, "list", "--json")
	if json.Unmarshal([]byte(out), &listed); len(listed) != 0 {
		t.Errorf("after sessions end --user ann: %d sessions listed (%s); want none", len(listed), out)
	}
}

// TestServeReadyOnceEndedListRead: a replica sharing the ended list
// through Redis is not ready until it has read the list once: before, it
// would take every session ended elsewhere for live (a restart, Redis
// unreachable or refusing the list's commands at start).
func TestServeReadyOnceEndedListRead(t *testing.T) {
	t.Parallel()
	env := withEnv(validEnv(), "PORTCULLIS_REDIS_URL", redistest.Start(t))
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	srv, jobs, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ready := func() int {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", "/ready", nil))
		return w.Code
	}
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("GET /ready before the ended list was read = %d; want 503", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, j := range jobs {
		go j(ctx)
	}
	start := time.Now()
	for ready() != http.StatusOK {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("GET /ready = %d 5s after the jobs started; want 200 once the ended list is read", ready())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
