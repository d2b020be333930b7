package session

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/testclock"
)

func TestNewRedisURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url         string
		wantAddr    string
		wantDB      int
		wantTLS     bool
		wantDial    time.Duration
		wantRead    time.Duration
		wantErr     string // part of the error; empty: none
		notInErrors string // a secret the error must not repeat
	}{
		{url: "redis://127.0.0.1:6379/0", wantAddr: "127.0.0.1:6379", wantDial: 2 * time.Second, wantRead: 2 * time.Second},
		{url: "redis://redis", wantAddr: "redis:6379", wantDial: 2 * time.Second, wantRead: 2 * time.Second},
		{url: "redis://:pw@redis:6380/3", wantAddr: "redis:6380", wantDB: 3, wantDial: 2 * time.Second, wantRead: 2 * time.Second},
		{url: "rediss://user:pw@redis.example.com:6380/1", wantAddr: "redis.example.com:6380", wantDB: 1, wantTLS: true, wantDial: 2 * time.Second, wantRead: 2 * time.Second},
		{url: "redis://redis/0?dial_timeout=5s&read_timeout=1s", wantAddr: "redis:6379", wantDial: 5 * time.Second, wantRead: time.Second},
		{url: "http://redis:6379", wantErr: "redis://"},
		{url: "redis-cluster", wantErr: "redis://"},
		{url: "", wantErr: "exactly one of"},
		{url: "redis://:hunter2@redis:6379/x", wantErr: "database", notInErrors: "hunter2"},
		{url: "redis://:hunter2@redis:port/0", wantErr: "redis://", notInErrors: "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			r, err := NewRedis(RedisOptions{URL: tt.url})
			if tt.wantErr != "" {
				if r != nil {
					r.Close()
				}
				wantErrorLike(t, err, tt.wantErr)
				if err != nil && tt.notInErrors != "" && strings.Contains(err.Error(), tt.notInErrors) {
					t.Errorf("NewRedis() error = %q; want it not to repeat the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRedis(%q) error = %v; want nil", tt.url, err)
			}
			defer r.Close()
			o := r.client.(*redis.Client).Options()
			if o.Addr != tt.wantAddr || o.DB != tt.wantDB || (o.TLSConfig != nil) != tt.wantTLS {
				t.Errorf("NewRedis(%q): addr %q, db %d, TLS %v; want %q, %d, %v",
					tt.url, o.Addr, o.DB, o.TLSConfig != nil, tt.wantAddr, tt.wantDB, tt.wantTLS)
			}
			if o.DialTimeout != tt.wantDial || o.ReadTimeout != tt.wantRead || o.WriteTimeout != tt.wantRead {
				t.Errorf("NewRedis(%q): dial, read, write timeouts %v, %v, %v; want %v, %v, %v",
					tt.url, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, tt.wantDial, tt.wantRead, tt.wantRead)
			}
			if !o.ContextTimeoutEnabled {
				t.Errorf("NewRedis(%q): context deadlines ignored; want them honoured", tt.url)
			}
		})
	}
}

// aclPassword is the ACL user's password in the tests.
const aclPassword = "portcullis-acl-password"

// aclUser makes the user "portcullis" on the data nodes, with the
// password aclPassword and the rights README.md's Redis section gives.
func aclUser(t testing.TB, nodes ...*redistest.Server) {
	t.Helper()
	user := redistest.DocumentedUser(t, "../README.md", aclPassword)
	for _, n := range nodes {
		n.Do(user...)
	}
}

func TestNewRedis(t *testing.T) {
	t.Parallel()
	ca := redistest.NewCA(t)
	tests := []struct {
		name    string
		opts    RedisOptions
		want    string   // what String says
		wantErr []string // parts of the error; none: no error
	}{
		{
			name: "server",
			opts: RedisOptions{URL: "redis://:url-password@redis:6379/2"},
			want: "one server: redis://:xxxxx@redis:6379/2",
		},
		{
			name: "server over TLS as an ACL user",
			opts: RedisOptions{URL: "redis://redis:6379/0", TLS: true, CA: ca.PEM, Username: "portcullis", Password: "hunter2"},
			want: `one server: redis://redis:6379/0; TLS (trusting the system's CAs and the CA file), user "portcullis", password set`,
		},
		{
			name: "sentinel",
			opts: RedisOptions{SentinelAddrs: []string{"s1:26379", "s2:26379"}, SentinelMaster: "mymaster", Password: "hunter2", SentinelPassword: "hunter3"},
			want: `sentinel: master "mymaster", sentinels s1:26379, s2:26379; password set, sentinel password set, writes wait up to 500ms for a replica`,
		},
		{
			name: "cluster",
			opts: RedisOptions{ClusterAddrs: []string{"n1:6379", "n2:6379"}, TLS: true},
			want: "cluster: nodes n1:6379, n2:6379; TLS, writes wait up to 500ms for a replica",
		},
		{name: "nothing", opts: RedisOptions{}, wantErr: []string{"exactly one of"}},
		{
			name:    "URL and Sentinel",
			opts:    RedisOptions{URL: "redis://redis:6379", SentinelAddrs: []string{"s1:26379"}, SentinelMaster: "m"},
			wantErr: []string{"exactly one of"},
		},
		{
			name:    "Sentinel and Cluster",
			opts:    RedisOptions{ClusterAddrs: []string{"n1:6379"}, SentinelAddrs: []string{"s1:26379"}, SentinelMaster: "m"},
			wantErr: []string{"exactly one of"},
		},
		{
			name:    "every problem at once",
			opts:    RedisOptions{SentinelAddrs: []string{"s1:26379"}, ClusterAddrs: []string{"n1:6379"}, CA: ca.PEM},
			wantErr: []string{"exactly one of", "master's name", "CA is only used with TLS"},
		},
		{name: "master without Sentinels", opts: RedisOptions{URL: "redis://redis", SentinelMaster: "m"}, wantErr: []string{"master's name"}},
		{name: "CA without a certificate", opts: RedisOptions{URL: "rediss://redis", CA: []byte("not PEM")}, wantErr: []string{"no PEM certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := NewRedis(tt.opts)
			if len(tt.wantErr) > 0 {
				if r != nil {
					r.Close()
					t.Errorf("NewRedis() = %v; want nil with the error", r)
				}
				wantErrorLike(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("NewRedis() error = %v; want nil", err)
			}
			defer r.Close()
			if got := r.String(); got != tt.want {
				t.Errorf("String() = %q; want %q", got, tt.want)
			}
			for _, secret := range []string{"hunter", "url-password"} {
				if strings.Contains(r.String(), secret) {
					t.Errorf("String() = %q; want no password in it", r.String())
				}
			}
		})
	}
}

// TestNewRedisOptions: what each topology's client is given.
func TestNewRedisOptions(t *testing.T) {
	t.Parallel()
	ca := redistest.NewCA(t)
	r := newRedis(t, RedisOptions{URL: "redis://url-user:url-pw@redis.example:6380/1", TLS: true, CA: ca.PEM, Username: "acl", Password: "pw"})
	o := r.client.(*redis.Client).Options()
	if o.Username != "acl" || o.Password != "pw" {
		t.Errorf("URL client: user %q, password %q; want acl, pw (the options win over the URL)", o.Username, o.Password)
	}
	if o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example" || o.TLSConfig.RootCAs == nil || o.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("URL client TLS = %+v; want server name redis.example, the CA, TLS 1.2 or later", o.TLSConfig)
	}

	r = newRedis(t, RedisOptions{URL: "redis://url-user:url-pw@redis.example:6380/1"})
	if o := r.client.(*redis.Client).Options(); o.Username != "url-user" || o.Password != "url-pw" || o.TLSConfig != nil {
		t.Errorf("URL client: user %q, password %q, TLS %v; want the URL's, no TLS", o.Username, o.Password, o.TLSConfig)
	}

	r = newRedis(t, RedisOptions{ClusterAddrs: []string{"n1:6379", "n2:6379"}, Username: "acl", Password: "pw", TLS: true, CA: ca.PEM})
	co := r.client.(*redis.ClusterClient).Options()
	if strings.Join(co.Addrs, ",") != "n1:6379,n2:6379" || co.Username != "acl" || co.Password != "pw" || co.TLSConfig == nil || co.TLSConfig.RootCAs == nil {
		t.Errorf("cluster client options = %+v; want the nodes, the user, TLS with the CA", co)
	}
	if co.DialTimeout != redisDialTimeout || co.ReadTimeout != redisReadTimeout || !co.ContextTimeoutEnabled {
		t.Errorf("cluster client: dial %v, read %v, context deadlines %v; want %v, %v, honoured", co.DialTimeout, co.ReadTimeout, co.ContextTimeoutEnabled, redisDialTimeout, redisReadTimeout)
	}
}

// TestRedisTLSAndACL: a server reached over TLS with a private CA, as an
// ACL user; what goes wrong is said, and fast.
func TestRedisTLSAndACL(t *testing.T) {
	t.Parallel()
	ca := redistest.NewCA(t)
	s := redistest.NewWith(t, redistest.Options{TLS: ca})
	aclUser(t, s)
	s.Do("ACL", "SETUSER", "default", "off")
	plain := "redis://" + s.Addr + "/0"
	tests := []struct {
		name    string
		opts    RedisOptions
		wantErr string // part of Ping's error; empty: none
	}{
		{name: "rediss with the CA", opts: RedisOptions{URL: s.URL, Username: "portcullis", Password: aclPassword, CA: ca.PEM}},
		{name: "TLS=true with the CA", opts: RedisOptions{URL: plain, TLS: true, Username: "portcullis", Password: aclPassword, CA: ca.PEM}},
		{name: "wrong password", opts: RedisOptions{URL: s.URL, Username: "portcullis", Password: "wrong", CA: ca.PEM}, wantErr: "WRONGPASS"},
		{name: "default user", opts: RedisOptions{URL: s.URL, CA: ca.PEM}, wantErr: "NOAUTH"},
		{name: "CA not trusted", opts: RedisOptions{URL: s.URL, Username: "portcullis", Password: aclPassword}, wantErr: "certificate"},
		{name: "no TLS", opts: RedisOptions{URL: plain, Username: "portcullis", Password: aclPassword}, wantErr: "redis:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRedis(t, tt.opts)
			start := time.Now()
			err := r.Ping(t.Context())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Ping() = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("Ping() = %v; want an error wrapping ErrUnavailable", err)
			}
			wantErrorLike(t, err, tt.wantErr)
			if d := time.Since(start); d > redisTimeout+time.Second {
				t.Errorf("Ping() failed after %v; want it within %v", d, redisTimeout)
			}
		})
	}
}

// TestRedisTopologies runs what keeps state in Redis on a Sentinel-watched
// master, on a Cluster, and on one server, all over TLS with a CA of the
// test's own, each time as the ACL user README.md describes: the store
// suite, the refresh lock, one refresh shared by two replicas, the
// invalidations, and ending sessions.
func TestRedisTopologies(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]func(t *testing.T) RedisOptions{
		"sentinel TLS ACL": func(t *testing.T) RedisOptions {
			ca := redistest.NewCA(t)
			s := redistest.NewSentinel(t, redistest.SentinelOptions{Data: redistest.Options{TLS: ca}})
			aclUser(t, s.Data...)
			return RedisOptions{SentinelAddrs: s.Addrs, SentinelMaster: s.MasterName, Username: "portcullis", Password: aclPassword, TLS: true, CA: ca.PEM}
		},
		"cluster TLS ACL": func(t *testing.T) RedisOptions {
			ca := redistest.NewCA(t)
			c := redistest.NewCluster(t, redistest.ClusterOptions{Node: redistest.Options{TLS: ca}})
			aclUser(t, c.Nodes...)
			return RedisOptions{ClusterAddrs: c.Addrs, Username: "portcullis", Password: aclPassword, TLS: true, CA: ca.PEM}
		},
		"TLS ACL": func(t *testing.T) RedisOptions {
			ca := redistest.NewCA(t)
			s := redistest.NewWith(t, redistest.Options{TLS: ca})
			aclUser(t, s)
			return RedisOptions{URL: s.URL, Username: "portcullis", Password: aclPassword, CA: ca.PEM}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ro := start(t)
			t.Run("store suite", func(t *testing.T) {
				t.Parallel()
				storeSuite(t, func(t testing.TB, clk *testclock.Clock, mods ...func(*Options)) sessionStore {
					return newRedisStoreOn(t, ro, clk, mods...)
				})
			})
			t.Run("lock", func(t *testing.T) {
				t.Parallel()
				lockOneWinner(t, ro)
			})
			t.Run("refresh across replicas", func(t *testing.T) {
				t.Parallel()
				refreshAcrossReplicas(t, ro)
			})
			t.Run("invalidations across replicas", func(t *testing.T) {
				t.Parallel()
				invalidationsAcrossReplicas(t, ro)
			})
			t.Run("ending across replicas", func(t *testing.T) {
				t.Parallel()
				endingAcrossReplicas(t, ro)
			})
			if ro.URL == "" {
				// A new client's first writes at once each open a connection
				// of their own (with replicas: see write), which once raced in
				// go-redis's connection set-up (-race).
				t.Run("concurrent first writes", func(t *testing.T) {
					t.Parallel()
					store := newRedisStoreOn(t, ro, testclock.New(t0))
					var wg sync.WaitGroup
					for range 10 {
						wg.Go(func() { jar{}.save(t, store, sampleState(t0, 10)) })
					}
					wg.Wait()
				})
			}
			if ro.SentinelMaster == "" {
				return
			}
			// Sentinels that know no master by that name answer nil; that
			// is no answer about a session, which must not end.
			t.Run("unknown master", func(t *testing.T) {
				t.Parallel()
				j := jar{}
				j.save(t, newRedisStoreOn(t, ro, testclock.New(t0)), sampleState(t0, 10))
				wrong := ro
				wrong.SentinelMaster, wrong.FailoverWait = "no-such-master", 10*time.Second
				_, err := newRedisStoreOn(t, wrong, testclock.New(t0)).Load(j.request())
				if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrExpired) {
					t.Errorf("Load() = %v; want ErrUnavailable, not ErrExpired", err)
				}
			})
		})
	}
}

// TestRedisRetry: with FailoverWait, what a failover looks like (no
// connection) is retried until Redis is back or the wait is over; what a
// retry can't fix is reported at once.
func TestRedisRetry(t *testing.T) {
	t.Parallel()
	t.Run("waits out an outage", func(t *testing.T) {
		t.Parallel()
		srv := redistest.New(t)
		s := newRedisStoreOn(t, RedisOptions{URL: srv.URL, FailoverWait: 10 * time.Second}, testclock.New(t0))
		srv.Kill()
		go func() {
			time.Sleep(time.Second)
			srv.Restart()
		}()
		j := jar{}
		start := time.Now()
		j.save(t, s, sampleState(t0, 100))
		if d := time.Since(start); d < 500*time.Millisecond {
			t.Errorf("Save() with Redis down for 1s returned after %v; want it to have waited", d)
		}
		if _, err := s.Load(j.request()); err != nil {
			t.Errorf("Load() after the outage = %v; want the session", err)
		}
	})
	t.Run("gives up after the wait", func(t *testing.T) {
		t.Parallel()
		srv := redistest.New(t)
		s := newRedisStoreOn(t, RedisOptions{URL: srv.URL, FailoverWait: 4 * time.Second}, testclock.New(t0))
		srv.Kill()
		start := time.Now()
		err := s.Save(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), sampleState(t0, 100))
		if d := time.Since(start); !errors.Is(err, ErrUnavailable) || d < 3500*time.Millisecond || d > 6*time.Second {
			t.Errorf("Save() with Redis gone = %v after %v; want ErrUnavailable after about 4s", err, d)
		}
	})
	t.Run("a wrong password is not retried", func(t *testing.T) {
		t.Parallel()
		srv := redistest.NewWith(t, redistest.Options{Password: "right"})
		s := newRedisStoreOn(t, RedisOptions{URL: srv.URL, Password: "wrong", FailoverWait: 10 * time.Second}, testclock.New(t0))
		start := time.Now()
		err := s.Save(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), sampleState(t0, 100))
		if d := time.Since(start); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "WRONGPASS") || d > redisTimeout {
			t.Errorf("Save() with a wrong password = %v after %v; want ErrUnavailable (WRONGPASS) at once", err, d)
		}
	})
}

// TestRedisWritesReachAReplica: a session saved a moment before its master
// dies survives the failover. Redis replicates after it answers, so what
// the master acknowledged last may not have left it when it dies; here the
// link between master and replica holds back what the master sends the
// replica for a moment while the session is saved, and the master is
// killed, with what the link holds, as soon as Save returns. Save must return only once a
// replica has the session (WAIT), else the promoted replica knows nothing
// of it and the user is signed out.
func TestRedisWritesReachAReplica(t *testing.T) {
	t.Parallel()
	s := redistest.NewSentinel(t, redistest.SentinelOptions{Link: true})
	store := newRedisStoreOn(t, RedisOptions{SentinelAddrs: s.Addrs, SentinelMaster: s.MasterName, FailoverWait: 20 * time.Second}, testclock.New(t0))
	// Connected, and the replica in sync: on a loaded machine the first
	// writes may find it still syncing, their WAIT unanswered, and then
	// the master counts as one without replicas for aloneFor; wait until
	// a write is acknowledged by the replica.
	for i := 0; ; i++ {
		jar{}.save(t, store, sampleState(t0, 10))
		if !store.redis.isAlone(store.redis.client.(*redis.Client).Options().Addr) {
			break
		}
		if i == 50 {
			t.Fatal("the replica acknowledged no write in 50 tries")
		}
		store.redis.mu.Lock()
		clear(store.redis.alone)
		store.redis.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}

	link := s.Link
	link.Hold()
	go func() {
		time.Sleep(150 * time.Millisecond)
		link.Release()
	}()
	j := jar{}
	j.save(t, store, sampleState(t0, 100))
	master := s.Master()
	master.Kill()
	link.Cut()
	s.WaitFailover(master, 30*time.Second)

	if _, err := store.Load(j.request()); err != nil {
		t.Errorf("Load() after the failover = %v; want the session saved before it", err)
	}
}

// TestRedisClusterWritesWaitForTheirReplica: on a Cluster, Save waits for
// a replica of the master that holds the session: frozen replicas hold it
// up until they answer.
func TestRedisClusterWritesWaitForTheirReplica(t *testing.T) {
	t.Parallel()
	c := redistest.NewCluster(t, redistest.ClusterOptions{})
	store := newRedisStoreOn(t, RedisOptions{ClusterAddrs: c.Addrs, FailoverWait: 10 * time.Second}, testclock.New(t0))
	jar{}.save(t, store, sampleState(t0, 10)) // connected, the replicas in sync

	for _, r := range c.Nodes[3:] {
		r.Pause()
	}
	resumed := make(chan struct{})
	go func() {
		defer close(resumed)
		time.Sleep(300 * time.Millisecond)
		for _, r := range c.Nodes[3:] {
			r.Resume()
		}
	}()
	start := time.Now()
	jar{}.save(t, store, sampleState(t0, 100))
	d := time.Since(start)
	<-resumed
	if d < 250*time.Millisecond {
		t.Errorf("Save() with the replicas frozen for 300ms returned after %v; want it to wait for one", d)
	}
}

// TestRedisWritesWithoutReplicas: a master without replicas costs one
// wait for a replica that never answers, then writes go without waiting
// for aloneFor, after which one waits again.
func TestRedisWritesWithoutReplicas(t *testing.T) {
	t.Parallel()
	c := redistest.NewCluster(t, redistest.ClusterOptions{Masters: 1, Replicas: -1})
	store := newRedisStoreOn(t, RedisOptions{ClusterAddrs: c.Addrs}, testclock.New(t0))
	clk := testclock.Wall()
	store.redis.now = clk.Now
	var took []time.Duration
	save := func() {
		start := time.Now()
		jar{}.save(t, store, sampleState(t0, 10))
		took = append(took, time.Since(start))
	}
	save()
	save()
	save()
	clk.Advance(aloneFor)
	save()
	save()
	waited := func(d time.Duration) bool { return d >= replicaWait-100*time.Millisecond }
	if !waited(took[0]) || waited(took[1]) || waited(took[2]) || !waited(took[3]) || waited(took[4]) {
		t.Errorf("Saves on a master without replicas took %v (%v later from the fourth); want the first and the fourth to wait about %v, the others not", took, aloneFor, replicaWait)
	}
}

// BenchmarkRedisReplicatedSave measures what waiting for a replica (WAIT)
// costs a Save: the same master, reached as Sentinel's (waits) and as one
// server (does not).
func BenchmarkRedisReplicatedSave(b *testing.B) {
	s := redistest.NewSentinel(b, redistest.SentinelOptions{})
	for _, bc := range []struct {
		name string
		opts RedisOptions
	}{
		{"server", RedisOptions{URL: s.Data[0].URL}},
		{"sentinel WAIT", RedisOptions{SentinelAddrs: s.Addrs, SentinelMaster: s.MasterName}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			store := newRedisStoreOn(b, bc.opts, nil)
			st := sampleState(time.Now(), 1000)
			j := jar{}
			rec := httptest.NewRecorder()
			if err := store.Save(rec, j.request(), st); err != nil {
				b.Fatalf("Save: %v", err)
			}
			j.update(rec)
			r := j.request()
			b.ReportAllocs()
			for b.Loop() {
				if err := store.Save(httptest.NewRecorder(), r, st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMain keeps go-redis's own log lines (a Sentinel chosen, a new
// master) out of the tests' and benchmarks' output: go-redis logs
// through a package variable.
func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	os.Exit(m.Run())
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// endingAcrossReplicas ends sessions through the Redis ro describes as the
// serving replicas and `portcullis sessions` do: the ended list written
// by one replica and read by another, a logout token's jti remembered,
// and the Redis store's sessions found by the index, listed and deleted.
func endingAcrossReplicas(t *testing.T, ro RedisOptions) {
	t.Helper()
	ctx := context.Background()
	clk := testclock.New(t0)
	ender := NewEnded(EndedOptions{Redis: newRedis(t, ro), Now: clk.Now})
	other := NewEnded(EndedOptions{Redis: newRedis(t, ro), Now: clk.Now})
	if err := ender.End(ctx, Ending{Kind: EndUser, Value: "ending-jane"}); err != nil {
		t.Fatalf("Ended.End() = %v; want nil", err)
	}
	if err := other.Sync(ctx); err != nil {
		t.Fatalf("Ended.Sync() = %v; want nil", err)
	}
	if !other.Ends(&State{User: "ending-jane", CreatedAt: t0}) {
		t.Error("the other replica's ended list does not end the session")
	}
	seen := NewSeen(newRedis(t, ro), clk.Now)
	for _, want := range []bool{true, false} {
		if first, err := seen.FirstSeen(ctx, "https://issuer.example", "jti-"+t.Name(), time.Minute); err != nil || first != want {
			t.Fatalf("Seen.FirstSeen() = %v, %v; want %v, nil", first, err, want)
		}
	}
	store := newRedisStoreOn(t, ro, clk)
	st := sampleState(t0, 10)
	st.User = "ending-jane"
	jar{}.save(t, store, st)
	found, err := store.Find(ctx, Ending{Kind: EndUser, Value: "ending-jane"})
	if err != nil || len(found) != 1 {
		t.Fatalf("RedisStore.Find(user) = %d sessions, %v; want 1, nil", len(found), err)
	}
	listed := 0
	if err := store.Each(ctx, func(Live) error { listed++; return nil }); err != nil || listed == 0 {
		t.Fatalf("RedisStore.Each() listed %d, %v; want the session, nil", listed, err)
	}
	if n, err := store.EndStored(ctx, []string{found[0].Key}); err != nil || n != 1 {
		t.Fatalf("RedisStore.EndStored() = %d, %v; want 1, nil", n, err)
	}
}

// TestEndingAsTheDocumentedUser: ending sessions works as the ACL user
// README.md gives (it once lacked the hash, set and scan commands that the
// ended list, the jti list and the index use).
func TestEndingAsTheDocumentedUser(t *testing.T) {
	t.Parallel()
	s := redistest.New(t)
	aclUser(t, s)
	endingAcrossReplicas(t, RedisOptions{URL: s.URL, Username: "portcullis", Password: aclPassword})
}
