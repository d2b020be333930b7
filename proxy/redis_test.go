package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/redistest"
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
	c := &clock{}
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
		opts := session.Options{Name: "_portcullis", Secrets: [][]byte{[]byte(testSecret)}, Path: "/", Expire: 24 * time.Hour, Now: c.now}
		store, err := session.NewRedisStore(opts, client)
		if err != nil {
			t.Fatal(err)
		}
		coord, err = session.NewRedisCoordinator(opts, client)
		if err != nil {
			t.Fatal(err)
		}
		o.Sessions = store
		o.Tokens.Refresher = session.NewRefresher(session.RefreshOptions{Coordinator: coord, Now: c.now})
		o.ReadyChecks = append(o.ReadyChecks, store.Ping)
	})
	// A second replica: the same options, its own process state.
	replicas = append(replicas, h.proxy)
	opts2 := h.opts
	opts2.Tokens.Refresher = session.NewRefresher(session.RefreshOptions{Coordinator: coord, Now: c.now})
	second, err := proxy.New(opts2)
	if err != nil {
		t.Fatal(err)
	}
	replica2 := httptest.NewServer(second)
	t.Cleanup(replica2.Close)
	replicas = append(replicas, replica2)

	if len(b.cookies) != 1 || b.cookies["_portcullis"] == nil || len(b.cookies["_portcullis"].Value) > 400 {
		t.Errorf("redis store cookies = %v; want one small ticket", b.cookies)
	}
	get := func(base, path string) *http.Response {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept", "application/json")
		for _, ck := range b.cookies {
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(replica2.URL, "/"); resp.StatusCode != 200 {
		t.Fatalf("session on the second replica = %d; want 200", resp.StatusCode)
	}

	c.advance(2 * time.Hour)
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
	for name, ck := range b.cookies {
		copied[name] = ck
	}
	readBody(t, b.get("/oauth2/sign_out"))
	req, _ := http.NewRequest("GET", replica2.URL+"/", nil)
	req.Header.Set("Accept", "application/json")
	for _, ck := range copied {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a copied cookie after sign-out = %d; want 401", resp.StatusCode)
	}

	// Redis down: 503 and /ready reports it; nothing panics.
	b2 := h.browser()
	b2.signIn("/")
	rds.Kill()
	b2.header = http.Header{"Accept": {"application/json"}}
	resp = b2.get("/")
	readBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("request with Redis down = %d; want 503", resp.StatusCode)
	}
	if resp := b2.get("/ready"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/ready with Redis down = %d; want 503", resp.StatusCode)
	}
	if len(b2.cookies) == 0 {
		t.Errorf("the session cookie was cleared during the outage")
	}

	// A sign-in that can't store its session gets a 503 that says to
	// sign in again (its code is spent), and signing in again works once
	// Redis is back.
	b3 := h.browser()
	resp, hops := b3.follow("/page")
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Sign in again") {
		t.Errorf("sign-in with Redis down ended with %d (Retry-After %q) after %v: %.400s; want 503 with Retry-After, saying to sign in again",
			resp.StatusCode, resp.Header.Get("Retry-After"), hops, body)
	}
	rds.Restart()
	b3.signIn("/page")
}
