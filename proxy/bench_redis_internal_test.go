package proxy

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/session"
)

// BenchmarkHotPathRedis and BenchmarkAuthPathRedis are BenchmarkHotPath's
// "portcullis" and BenchmarkAuthPath with the Redis store on a real
// redis-server (skipped, saying so, without one; failed under CI=true):
// "nocache" reads every session from Redis, as the store did before its
// cache; "cached" is the store as deployed, its cache listening to the
// invalidations. Compare them with the cookie store's figures.
func BenchmarkHotPathRedis(b *testing.B) {
	url := redistest.Start(b)
	for _, c := range benchRedisCaches {
		b.Run(c.name, func(b *testing.B) {
			s, r := benchInternalServer(b, func(o *Options) { benchRedisStore(b, o, url, c.opts) })
			benchServe(b, s, r, http.StatusOK)
		})
	}
}

func BenchmarkAuthPathRedis(b *testing.B) {
	url := redistest.Start(b)
	for _, c := range benchRedisCaches {
		b.Run(c.name, func(b *testing.B) {
			s, r := benchInternalServer(b, func(o *Options) {
				o.Upstream.URL = nil
				benchRedisStore(b, o, url, c.opts)
			})
			r.URL.Path, r.URL.RawQuery = "/oauth2/auth", ""
			r.RequestURI = "/oauth2/auth"
			benchServe(b, s, r, http.StatusAccepted)
		})
	}
}

var benchRedisCaches = []struct {
	name string
	opts session.CacheOptions
}{
	{name: "nocache", opts: session.CacheOptions{Entries: -1}},
	{name: "cached", opts: session.CacheOptions{}},
}

// benchRedisStore replaces o's sessions by a RedisStore on the Redis at
// url, with the cookies benchServer's store has, listening to the
// invalidations (when it has a cache) until b ends.
func benchRedisStore(b *testing.B, o *Options, url string, cache session.CacheOptions) {
	b.Helper()
	client, err := session.NewRedis(session.RedisOptions{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	opts := stack.CookieOptions()
	opts.Expire, opts.Cache = 24*time.Hour, cache
	store, err := session.NewRedisStore(opts, client)
	if err != nil {
		b.Fatal(err)
	}
	if cache.Entries >= 0 {
		ctx, cancel := context.WithCancel(context.Background())
		live := make(chan struct{})
		var once sync.Once
		var wg sync.WaitGroup
		wg.Go(func() {
			store.Listen(ctx, func(err error) {
				if err == nil {
					once.Do(func() { close(live) })
				}
			})
		})
		b.Cleanup(func() { cancel(); wg.Wait() })
		select {
		case <-live:
		case <-time.After(10 * time.Second):
			b.Fatal("the store's cache did not subscribe within 10s")
		}
	}
	o.Sessions = store
}
