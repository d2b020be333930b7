package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"
)

// The Redis store's targets: a second Portcullis keeping its sessions in
// a private redis-server (no persistence), with its own signed-in
// session, measured like the first and compared with it (the issue's
// target: at least 0.9× the cookie store's requests/s, proxied and on
// /oauth2/auth).

// startRedisTargets starts redis-server and a Portcullis with the Redis
// store on it, signs in there, and returns its two targets. Without
// redis-server it returns none, and says so.
func startRedisTargets(ctx context.Context, ps *procs, dir string, pc portcullisConfig) ([]*target, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		fmt.Println("redis-server is not installed: the Redis store is not measured (apt-get install redis-server)")
		return nil, nil
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	rds, err := startProcess(ctx, ps, dir, "redis", nil, bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err != nil {
		return nil, err
	}
	if err := waitTCP(ctx, addr); err != nil {
		return nil, fmt.Errorf("redis-server did not start: %v\n%s", err, rds.logTail())
	}
	pAddr, mAddr, err := freeAddrs()
	if err != nil {
		return nil, err
	}
	rpc := pc
	rpc.publicURL = "http://" + pAddr
	p, err := rpc.start(ctx, ps, dir, "portcullis-redis", "portcullis with the Redis store", pAddr, mAddr,
		"PORTCULLIS_SESSION_STORE=redis", "PORTCULLIS_REDIS_URL=redis://"+addr+"/0")
	if err != nil {
		return nil, err
	}
	cookie, err := signIn(ctx, "http://"+pAddr)
	if err != nil {
		return nil, fmt.Errorf("sign-in with the Redis store: %v\n%s", err, p.logTail())
	}
	fmt.Printf("signed in as alice with the Redis store: session cookie header of %d bytes\n", len(cookie))
	headers := []string{"-H", "Cookie: " + cookie, "-H", "Accept: text/html,application/xhtml+xml", "-H", "User-Agent: wrk (portcullis bench)"}
	return []*target{
		{name: "Portcullis Redis proxied", url: "http://" + pAddr + "/", server: p, headers: headers, versus: "Portcullis proxied"},
		{name: "Portcullis Redis /oauth2/auth", url: "http://" + pAddr + "/oauth2/auth", server: p, headers: headers, versus: "Portcullis /oauth2/auth"},
	}, nil
}

// waitTCP waits until addr accepts connections, for at most startTimeout.
func waitTCP(ctx context.Context, addr string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			// Redis answers PING once it has loaded (nothing, here).
			fmt.Fprintf(c, "PING\r\n")
			c.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 16)
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("no answer at %s within %v", addr, startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startRoutesTarget starts a Portcullis whose PORTCULLIS_UPSTREAM is ten
// PATH=URL routes, the catch-all last in the list (the request for / is
// matched after the nine others are tried), and returns its proxied
// target, compared with the one-route Portcullis (the target:
// within 5%). It shares the first instance's cookie secret, so the
// runner's session cookie is valid there.
func startRoutesTarget(ctx context.Context, ps *procs, dir string, pc portcullisConfig) (*target, error) {
	pAddr, mAddr, err := freeAddrs()
	if err != nil {
		return nil, err
	}
	routes := make([]string, 0, 10)
	for _, prefix := range []string{"/api/", "/static/", "/admin/", "/docs/", "/v1/", "/v2/", "/assets/", "/metrics-app/", "/reports/"} {
		routes = append(routes, prefix+"="+pc.upstream)
	}
	routes = append(routes, "/="+pc.upstream)
	p, err := pc.start(ctx, ps, dir, "portcullis-routes", "portcullis with ten upstream routes", pAddr, mAddr,
		"PORTCULLIS_UPSTREAM="+strings.Join(routes, ","))
	if err != nil {
		return nil, err
	}
	return &target{name: "Portcullis 10 routes proxied", url: "http://" + pAddr + "/", server: p, versus: "Portcullis proxied", versusTarget: 0.95}, nil
}
