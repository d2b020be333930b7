package e2e_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testproc"
)

// TestReplicas runs two Portcullis processes (the binary, built once) with
// the Redis store on one real redis-server, the fake provider behind them
// (access tokens living 2 s, refresh tokens rotated: a refresh token spent
// twice is refused) and an echoing app, under a bounded load: 8 clients
// for 10 s, each signing in on one replica and using its session on both at
// once, so that expired tokens are refreshed by whichever replica gets
// there; some sign out on one replica and check that the other refuses the
// session within 3 s (the README's bound is 1 s; the figure is logged).
// Halfway, replica A is killed (SIGKILL). Then: every sign-in that
// completed and was not ended works on B, no refresh token was spent twice
// (counted at the provider), and every ended session is refused.
func TestReplicas(t *testing.T) {
	t.Parallel()
	rds := redistest.New(t)
	bin := buildPortcullis(t)

	// The provider, counting the grants of each refresh token.
	var (
		grantsMu sync.Mutex
		grants   = map[[32]byte]int{}
	)
	prov := idp.New(func() idp.Options {
		o := stack.IDPOptions()
		o.ExpiresIn = 2 * time.Second
		o.IssueRefreshTokens = true
		o.RotateRefreshTokens = true
		return o
	}())
	idpSrv := stack.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" && r.Method == http.MethodPost {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			if form, err := url.ParseQuery(string(body)); err == nil && form.Get("grant_type") == "refresh_token" {
				grantsMu.Lock()
				grants[sha256.Sum256([]byte(form.Get("refresh_token")))]++
				grantsMu.Unlock()
			}
		}
		prov.ServeHTTP(w, r)
	}))
	ep := idp.EndpointsAt(idpSrv.URL)
	app := stack.Serve(t, stack.EchoHandler())

	env := []string{
		"PORTCULLIS_PROVIDER=oauth2",
		"PORTCULLIS_CLIENT_ID=" + stack.ClientID,
		"PORTCULLIS_CLIENT_SECRET=" + stack.ClientSecret,
		"PORTCULLIS_AUTH_URL=" + ep.AuthURL,
		"PORTCULLIS_TOKEN_URL=" + ep.TokenURL,
		"PORTCULLIS_USERINFO_URL=" + ep.UserinfoURL,
		"PORTCULLIS_SCOPES=openid email profile",
		"PORTCULLIS_UPSTREAM=" + app.URL,
		"PORTCULLIS_COOKIE_SECRET=" + stack.CookieSecret,
		"PORTCULLIS_COOKIE_SECURE=false",
		"PORTCULLIS_SESSION_STORE=redis",
		"PORTCULLIS_REDIS_URL=" + rds.URL,
		"PORTCULLIS_REFRESH_SKEW=0s",
		"PORTCULLIS_METRICS_LISTEN=off",
		"PORTCULLIS_LOG_FORMAT=text",
		"PORTCULLIS_LOG_LEVEL=warn",
	}
	a := startReplica(t, "A", bin, env)
	b := startReplica(t, "B", bin, env)

	const (
		clients  = 8
		duration = 10 * time.Second
		bound    = 3 * time.Second
	)
	var (
		mu       sync.Mutex
		live     []*replicaClient // signed in, not ended
		ended    []*replicaClient
		endings  []time.Duration // sign-out on one replica to refusal on the other
		failures []string
		signIns  atomic.Int64
		requests atomic.Int64
		aDown    atomic.Bool
		lostToA  atomic.Int64 // requests to A that failed once it was killed
		stopLoad = time.Now().Add(duration)
		killAt   = time.Now().Add(duration / 2)
		wg       sync.WaitGroup
		failf    = func(format string, args ...any) {
			mu.Lock()
			failures = append(failures, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		replicaOf = func(down bool, i int) *replica {
			if down || i%2 == 1 {
				return b
			}
			return a
		}
	)
	for w := range clients {
		wg.Go(func() {
			for n := 0; time.Now().Before(stopLoad); n++ {
				first := replicaOf(aDown.Load(), n+w)
				c := newReplicaClient(t)
				if err := c.signIn(first); err != nil {
					if first == a && aDown.Load() {
						lostToA.Add(1)
						continue // a sign-in under way when A died: never completed
					}
					failf("sign-in on %s: %v", first.name, err)
					return
				}
				signIns.Add(1)
				mu.Lock()
				live = append(live, c)
				mu.Unlock()
				// Use it on both replicas at once for a while: past its
				// token's expiry, so both want to refresh it.
				for i := 0; i < 10 && time.Now().Before(stopLoad); i++ {
					var both sync.WaitGroup
					for _, r := range []*replica{a, b} {
						if r == a && aDown.Load() {
							continue
						}
						both.Go(func() {
							requests.Add(1)
							down := aDown.Load()
							code, err := c.get(r, "/app")
							switch {
							case r == a && (down || aDown.Load()) && err != nil:
								lostToA.Add(1)
							case err != nil || code != http.StatusOK:
								failf("session signed in on %s: GET %s/app = %d, %v; want 200", first.name, r.name, code, err)
							}
						})
					}
					both.Wait()
					time.Sleep(200 * time.Millisecond)
				}
				if (n+w)%2 == 0 {
					continue // half the sessions stay
				}
				// Sign out on one replica; the other must refuse it.
				from, other := b, a
				if n%2 == 0 && !aDown.Load() {
					from, other = a, b
				}
				copied := c.cookieHeader(b)
				start := time.Now()
				if err := c.signOut(from); err != nil {
					if from == a && aDown.Load() {
						lostToA.Add(1)
						continue // it may or may not have ended; not counted either way
					}
					failf("sign-out on %s: %v", from.name, err)
					continue
				}
				mu.Lock()
				live = slices.DeleteFunc(live, func(x *replicaClient) bool { return x == c })
				ended = append(ended, c)
				mu.Unlock()
				c.ended = copied
				if other == a && aDown.Load() {
					continue
				}
				for {
					code, err := getWithCookie(c.http, other, "/app", copied)
					if err == nil && code != http.StatusOK {
						mu.Lock()
						endings = append(endings, time.Since(start))
						mu.Unlock()
						break
					}
					if err != nil && other == a && aDown.Load() {
						break
					}
					if time.Since(start) > bound {
						failf("signed out on %s, the session still works on %s after %v", from.name, other.name, bound)
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	time.Sleep(time.Until(killAt))
	aDown.Store(true)
	a.proc.Kill() // SIGKILL, mid-load
	wg.Wait()

	for _, f := range failures {
		t.Error(f)
	}
	// Every sign-in that completed and was not ended works on the survivor.
	for _, c := range live {
		if code, err := c.get(b, "/app"); err != nil || code != http.StatusOK {
			t.Errorf("after A was killed, a session signed in on %s: GET B/app = %d, %v; want 200", c.signedInOn, code, err)
		}
	}
	// Every ended session is refused.
	for _, c := range ended {
		if code, err := getWithCookie(c.http, b, "/app", c.ended); err != nil || code == http.StatusOK {
			t.Errorf("an ended session: GET B/app = %d, %v; want it refused", code, err)
		}
	}
	// No refresh token was spent twice.
	grantsMu.Lock()
	refreshes, twice := 0, 0
	for _, n := range grants {
		refreshes += n
		if n > 1 {
			twice++
		}
	}
	grantsMu.Unlock()
	if twice > 0 {
		t.Errorf("%d refresh tokens were spent more than once (of %d refresh grants); want each once", twice, refreshes)
	}
	if refreshes == 0 || len(endings) == 0 || signIns.Load() < clients {
		t.Errorf("the load made %d sign-ins, %d refresh grants, %d endings checked; want at least %d, 1, 1", signIns.Load(), refreshes, len(endings), clients)
	}
	slices.Sort(endings)
	var median, worst time.Duration
	if len(endings) > 0 {
		median, worst = endings[len(endings)/2], endings[len(endings)-1]
	}
	t.Logf("%d sign-ins, %d requests, %d refresh grants (each refresh token once), %d sessions ended; requests lost with A: %d",
		signIns.Load(), requests.Load(), refreshes, len(ended), lostToA.Load())
	t.Logf("signed out on one replica, refused by the other after: median %v, max %v (%d endings)", median, worst, len(endings))
	if t.Failed() {
		t.Logf("replica A's log:\n%s", testproc.LastLines(a.proc.Output(), 30))
		t.Logf("replica B's log:\n%s", testproc.LastLines(b.proc.Output(), 30))
	}
}

// buildPortcullis builds this module's binary into the test's temporary
// directory.
func buildPortcullis(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		testproc.Missing(t, "the go command is not on PATH", "install Go")
	}
	bin := filepath.Join(t.TempDir(), "portcullis")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// A replica is one Portcullis process.
type replica struct {
	name string
	url  string
	proc *testproc.Process
}

// startReplica runs bin with env on a free port, which is also its public
// URL, until the test ends, and waits until it is ready.
func startReplica(t *testing.T, name, bin string, env []string) *replica {
	t.Helper()
	r := &replica{name: name}
	_, err := testproc.OnFreePort(func(port int) error {
		r.url = "http://127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(slices.Clone(env), "PORTCULLIS_LISTEN=127.0.0.1:"+strconv.Itoa(port), "PORTCULLIS_PUBLIC_URL="+r.url)
		proc, err := testproc.Start(cmd)
		if err != nil {
			return err
		}
		err = proc.WaitReady(15*time.Second, 20*time.Millisecond, func() error {
			resp, err := http.Get(r.url + "/ready")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("/ready: %d", resp.StatusCode)
			}
			return nil
		})
		if err != nil {
			proc.Kill()
			return fmt.Errorf("portcullis %v:\n%s", err, testproc.LastLines(proc.Output(), 20))
		}
		r.proc = proc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !r.proc.Exited() {
			r.proc.Stop(5 * time.Second)
		}
	})
	return r
}

// A replicaClient is a browser: its cookies (host-only on 127.0.0.1, so
// shared by both replicas, which differ only by port) and its session.
type replicaClient struct {
	http       *http.Client
	signedInOn string
	ended      string // the session's cookie header once signed out
}

func newReplicaClient(t *testing.T) *replicaClient {
	jar, _ := cookiejar.New(nil)
	c := stack.HTTPClient(t)
	c.Jar = jar
	c.Timeout = 10 * time.Second
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &replicaClient{http: c}
}

// signIn goes through the whole sign-in on r, redirects followed, and
// fails unless it ends on the app.
func (c *replicaClient) signIn(r *replica) error {
	next := r.url + "/app"
	for range 10 {
		req, _ := http.NewRequest("GET", next, nil)
		req.Header.Set("Accept", "text/html") // a browser: sent to sign in
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			c.signedInOn = r.name
			return nil
		}
		loc, err := resp.Location()
		if err != nil {
			return fmt.Errorf("GET %s = %d without Location", next, resp.StatusCode)
		}
		next = loc.String()
	}
	return errors.New("too many redirects")
}

// get GETs path on r with the client's cookies, redirects not followed.
func (c *replicaClient) get(r *replica, path string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", r.url+path, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// signOut signs out on r.
func (c *replicaClient) signOut(r *replica) error {
	code, err := c.get(r, "/oauth2/sign_out")
	if err != nil {
		return err
	}
	if code != http.StatusFound && code != http.StatusSeeOther {
		return fmt.Errorf("GET /oauth2/sign_out = %d; want a redirect", code)
	}
	return nil
}

// cookieHeader is the Cookie header the client sends to r.
func (c *replicaClient) cookieHeader(r *replica) string {
	u, _ := url.Parse(r.url)
	var parts []string
	for _, ck := range c.http.Jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// getWithCookie GETs path on r with the Cookie header cookie only.
func getWithCookie(client *http.Client, r *replica, path, cookie string) (int, error) {
	req, _ := http.NewRequest("GET", r.url+path, nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Cookie", cookie)
	bare := &http.Client{Transport: client.Transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := bare.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
