// Command bareproxy is the ceiling any Go reverse proxy can reach on this
// machine: httputil.ReverseProxy with a tuned transport that checks
// nothing. The benchmark runner (bench/runner) compares Portcullis with it,
// so the ratio isolates what authentication costs.
//
// Its Rewrite does what Portcullis's does minus the identity: point the
// request at the upstream, set X-Forwarded-*, keep the Host the client
// sent. Its transport has Portcullis's settings, with a larger idle pool.
//
//	go run ./bench/bareproxy -listen 127.0.0.1:8081 -upstream http://127.0.0.1:8080
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on (loopback)")
	upstream := flag.String("upstream", "http://127.0.0.1:8080", "URL of the upstream")
	bufferPool := flag.Bool("buffer-pool", false, "reuse the 32 KB copy buffers (httputil.ReverseProxy.BufferPool) instead of allocating one per request")
	flag.Parse()

	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		log.Fatalf("bareproxy: -upstream %q is not an absolute URL", *upstream)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("bareproxy: %v", err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        4096,
			MaxIdleConnsPerHost: 4096,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	if *bufferPool {
		rp.BufferPool = &pool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Printf("bareproxy listening on %s, upstream %s\n", ln.Addr(), target.Redacted())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("bareproxy: %v", err)
	}
}

// pool is an httputil.BufferPool over sync.Pool.
type pool struct{ p sync.Pool }

func (p *pool) Get() []byte  { return *p.p.Get().(*[]byte) }
func (p *pool) Put(b []byte) { p.p.Put(&b) }
