package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// TestRedisReplicas runs two proxy instances sharing one real Redis for
// sessions and refresh coordination: a session made on one works on the
// other, an expired one is refreshed once in all, and sign-out on one
// ends it on both.
func TestRedisReplicas(t *testing.T) {
	t.Parallel()
	rds := redistest.New(t)
	c := testclock.Wall()
	var (
		replicas []*httptest.Server
		coord    *session.RedisCoordinator
	)
	m := metrics.New() // both replicas' counts, summed as Prometheus would
	h, b := lifecycleHarness(t, c, nil, func(o *proxy.Options) {
		o.Metrics = m
		client, err := session.NewRedis(session.RedisOptions{URL: rds.URL})
		if err != nil {
			t.Fatal(err)
		}
		opts := stack.CookieOptions() // as lifecycleHarness's cookie store
		opts.Expire, opts.Now = 24*time.Hour, c.Now
		store, err := session.NewRedisStore(opts, client)
		if err != nil {
			t.Fatal(err)
		}
		coord, err = session.NewRedisCoordinator(opts, client)
		if err != nil {
			t.Fatal(err)
		}
		o.Sessions = store
		o.Tokens.Refresher = session.NewRefresher(session.RefreshOptions{Coordinator: coord, Now: c.Now})
		o.ReadyChecks = append(o.ReadyChecks, store.Ping)
	})
	// A second replica: the same options, its own process state.
	replicas = append(replicas, h.proxy)
	opts2 := h.opts
	opts2.Tokens.Refresher = session.NewRefresher(session.RefreshOptions{Coordinator: coord, Now: c.Now})
	second, err := proxy.New(opts2)
	if err != nil {
		t.Fatal(err)
	}
	replica2 := stack.Serve(t, second)
	replicas = append(replicas, replica2)

	if len(b.Cookies) != 1 || b.Cookies["_portcullis"] == nil || len(b.Cookies["_portcullis"].Value) > 400 {
		t.Errorf("redis store cookies = %v; want one small ticket", b.Cookies)
	}
	client := stack.HTTPClient(t)
	get := func(base, path string) *http.Response {
		resp, err := client.Do(apiRequest(base+path, b.Cookies))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(replica2.URL, "/"); resp.StatusCode != 200 {
		t.Fatalf("session on the second replica = %d; want 200", resp.StatusCode)
	}

	c.Advance(2 * time.Hour)
	var wg sync.WaitGroup
	statuses := make([]int, 30)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = get(replicas[i%2].URL, "/page").StatusCode
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("request %d through replica %d = %d; want 200", i, i%2+1, st)
		}
	}
	if got := h.idp.Calls("refresh"); got != 1 {
		t.Errorf("refresh grants across two replicas = %d; want 1", got)
	}
	if got := counter(t, m, `portcullis_token_refreshes_total{provider="oauth2",result="ok"}`); got != 1 {
		t.Errorf("portcullis_token_refreshes_total{result=\"ok\"} across two replicas = %v; want 1 (one grant)", got)
	}

	// Sign-out on replica 1 ends the session on replica 2 too, even for a
	// copy of the cookie taken before.
	copied := map[string]*http.Cookie{}
	for name, ck := range b.Cookies {
		copied[name] = ck
	}
	stack.ReadBody(t, b.Get("/oauth2/sign_out"))
	resp, err := client.Do(apiRequest(replica2.URL+"/", copied))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a copied cookie after sign-out = %d; want 401", resp.StatusCode)
	}

	// Redis down: 503 and /ready reports it; nothing panics.
	b2 := h.browser()
	b2.SignIn("/")
	rds.Kill()
	b2.Header = http.Header{"Accept": {"application/json"}}
	resp = b2.Get("/")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("request with Redis down = %d; want 503", resp.StatusCode)
	}
	if resp := b2.Get("/ready"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/ready with Redis down = %d; want 503", resp.StatusCode)
	}
	if len(b2.Cookies) == 0 {
		t.Errorf("the session cookie was cleared during the outage")
	}

	// A sign-in that can't store its session gets a 503 that says to
	// sign in again (its code is spent), and signing in again works once
	// Redis is back.
	b3 := h.browser()
	resp, hops := b3.Follow("/page", nil)
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Sign in again") {
		t.Errorf("sign-in with Redis down ended with %d (Retry-After %q) after %v: %.400s; want 503 with Retry-After, saying to sign in again",
			resp.StatusCode, resp.Header.Get("Retry-After"), hops, body)
	}
	rds.Restart()
	b3.SignIn("/page")
}
