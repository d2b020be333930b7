package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/metrics"
)

// redisPassword is the ACL user's password in these tests.
const redisPassword = "failover-acl-password"

// A redisTopology starts a Redis that can fail over, with the README's
// ACL user on every data node, and returns the variables that point
// Portcullis at it and a function that kills the master a key lives on
// and returns once a replica has taken over.
type redisTopology func(t *testing.T) (env map[string]string, failover func(t *testing.T))

var failoverTopologies = map[string]redisTopology{
	"sentinel": func(t *testing.T) (map[string]string, func(*testing.T)) {
		s := redistest.NewSentinel(t, redistest.SentinelOptions{})
		addUser(t, s.Data...)
		env := map[string]string{
			"PORTCULLIS_REDIS_SENTINEL_ADDRS":  strings.Join(s.Addrs, ","),
			"PORTCULLIS_REDIS_SENTINEL_MASTER": s.MasterName,
		}
		return env, func(t *testing.T) {
			old := s.Master()
			old.Kill()
			s.WaitFailover(old, 30*time.Second)
		}
	},
	"cluster": func(t *testing.T) (map[string]string, func(*testing.T)) {
		c := redistest.NewCluster(t, redistest.ClusterOptions{})
		addUser(t, c.Nodes...)
		env := map[string]string{"PORTCULLIS_REDIS_CLUSTER_ADDRS": strings.Join(c.Addrs, ",")}
		return env, func(t *testing.T) {
			old := c.Nodes[0]
			old.Kill()
			c.WaitHealthy(30 * time.Second)
		}
	},
}

// addUser creates the README's ACL user on nodes.
func addUser(t *testing.T, nodes ...*redistest.Server) {
	t.Helper()
	user := redistest.DocumentedUser(t, "README.md", redisPassword)
	for _, n := range nodes {
		n.Do(user...)
	}
}

// TestRedisFailover kills the Redis master under load, on a Sentinel-watched
// master and on a Cluster, Portcullis reaching it as an ACL user with its
// password in a file. Browsers keep signing in, and signed-in browsers keep
// making requests, before, during and after the failover; the assertions:
//
//   - no session is lost: every session made before the kill or during the
//     failover works once it is over, and no request meanwhile is sent to
//     sign in again or has its cookie cleared;
//   - no sign-in is lost: each one ends signed in at the page it started
//     from, or (when the store stays out of reach longer than
//     REDIS_FAILOVER_WAIT) with a 503 that says to retry, and a retry after
//     the failover signs in. The provider's code is spent by then, so the
//     retry is a new sign-in, which the provider's session makes silent;
//   - a request that needs Redis while there is no master waits for the new
//     one, or gets a 503 with Retry-After; never 500, 502 or 401.
func TestRedisFailover(t *testing.T) {
	t.Parallel()
	for name, topology := range failoverTopologies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			redisEnv, failover := topology(t)
			base := failoverStack(t, redisEnv)

			var (
				mu       sync.Mutex
				sessions []*stack.Browser // signed in: each must work after the failover
				retries  []*stack.Browser // got a 503 at sign-in: each must sign in after the failover
				counts   = map[string]int{}
				stop     = make(chan struct{})
				wg       sync.WaitGroup
			)
			count := func(what string) {
				mu.Lock()
				counts[what]++
				mu.Unlock()
			}
			for w := range 4 {
				wg.Go(func() {
					wt := workerTB{t}
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						b := stack.NewBrowser(wt, base)
						page := fmt.Sprintf("/w%d/page%d", w, i)
						switch resp, hops := b.Follow(page, nil); {
						case resp.StatusCode == http.StatusOK:
							resp.Body.Close()
							count("sign-in")
							mu.Lock()
							sessions = append(sessions, b)
							mu.Unlock()
						case isRetryable(resp):
							resp.Body.Close()
							count("sign-in 503")
							mu.Lock()
							retries = append(retries, b)
							mu.Unlock()
							continue
						default:
							t.Errorf("sign-in from %s ended with %d after %v: %.300s", page, resp.StatusCode, hops, stack.ReadBody(t, resp))
							continue
						}
						for range 5 {
							resp := b.Get(page)
							body, _ := io.ReadAll(resp.Body)
							resp.Body.Close()
							switch {
							case resp.StatusCode == http.StatusOK:
								count("request")
							case isRetryable(resp):
								count("request 503")
							default:
								t.Errorf("signed-in GET %s = %d (Location %q): %.300s", page, resp.StatusCode, resp.Header.Get("Location"), body)
							}
							if b.Cookie(stack.CookieName) == "" {
								t.Errorf("signed-in GET %s = %d cleared the session cookie", page, resp.StatusCode)
								break
							}
						}
					}
				})
			}
			time.Sleep(time.Second)
			start := time.Now()
			failover(t)
			t.Logf("%s: a replica took over %v after the master was killed", name, time.Since(start))
			time.Sleep(time.Second)
			close(stop)
			wg.Wait()
			t.Logf("%s: %v", name, counts)

			for i, b := range sessions {
				if resp := b.Get("/after"); resp.StatusCode != http.StatusOK {
					t.Errorf("session %d of %d after the failover: GET /after = %d (Location %q); want 200", i+1, len(sessions), resp.StatusCode, resp.Header.Get("Location"))
				}
			}
			for i, b := range retries {
				if resp, hops := b.Follow("/retry", nil); resp.StatusCode != http.StatusOK {
					t.Errorf("retried sign-in %d of %d after the failover ended with %d after %v; want 200", i+1, len(retries), resp.StatusCode, hops)
				}
			}
			if counts["sign-in"] == 0 || counts["request"] == 0 {
				t.Errorf("load: %v; want sign-ins and requests", counts)
			}
		})
	}
}

// isRetryable reports whether resp is a 503 that says when to retry.
func isRetryable(resp *http.Response) bool {
	return resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""
}

// failoverStack serves Portcullis, built from the environment as serve
// builds it, with the Redis store at redisEnv, in front of an echoing
// upstream and the development provider, and returns its URL.
func failoverStack(t *testing.T, redisEnv map[string]string) string {
	t.Helper()
	idp := stack.StartProvider(t, nil)
	app := stack.Serve(t, stack.EchoHandler())
	pwFile := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(pwFile, []byte(redisPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PORTCULLIS_UPSTREAM":            app.URL,
		"PORTCULLIS_COOKIE_SECRET":       stack.CookieSecret,
		"PORTCULLIS_COOKIE_SECURE":       "false",
		"PORTCULLIS_CLIENT_ID":           stack.ClientID,
		"PORTCULLIS_CLIENT_SECRET":       stack.ClientSecret,
		"PORTCULLIS_AUTH_URL":            idp.Endpoints.AuthURL,
		"PORTCULLIS_TOKEN_URL":           idp.Endpoints.TokenURL,
		"PORTCULLIS_USERINFO_URL":        idp.Endpoints.UserinfoURL,
		"PORTCULLIS_SESSION_STORE":       "redis",
		"PORTCULLIS_REDIS_USERNAME":      "portcullis",
		"PORTCULLIS_REDIS_PASSWORD_FILE": pwFile,
	}
	for k, v := range redisEnv {
		env[k] = v
	}
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, _, err := newServer(cfg, metrics.New(), log, nil)
	if err != nil {
		t.Fatal(err)
	}
	return stack.Serve(t, srv).URL
}

// A workerTB is the test for a goroutine of its own: Fatalf fails the
// test and ends the goroutine, not the test.
type workerTB struct{ testing.TB }

func (w workerTB) Helper() {}

func (w workerTB) Fatalf(format string, args ...any) {
	w.TB.Errorf(format, args...)
	runtime.Goexit()
}
