package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memoryRuns is the memory target: the resident size of each proxy
// while it serves f.memConns keep-alive connections, in two ways. Paced:
// every connection sends a request, waits for the answer, then pauses
// pace before the next, as browsers on keep-alive connections do (wrk's
// delay()); few requests are in flight at any moment. Saturated: a request
// in flight on every connection at all times (plain wrk), so as many at once
// and, unless PORTCULLIS_UPSTREAM_MAX_CONNS bounds them, as many
// connections to the upstream. A second Portcullis with
// UPSTREAM_MAX_CONNS=f.memMaxConns shows what that bound does. Sizes are
// sampled 4 s into each 5 s run.
func memoryRuns(ctx context.Context, f flags, wrk wrkRunner, dir string, targets []*target, portcullis *process, mAddr string, pc portcullisConfig, procs *procs) error {
	script := filepath.Join(dir, "paced.lua")
	lua := fmt.Sprintf("function delay()\n  return %d\nend\n", f.memPace.Milliseconds())
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		return err
	}
	type proxyUnderTest struct {
		name, url, metrics string
		proc               *process
	}
	var under []proxyUnderTest
	for _, t := range targets {
		if t.server == nil || t.server.name == "nginx" || strings.HasSuffix(t.url, "/oauth2/auth") {
			continue
		}
		pt := proxyUnderTest{name: t.name, url: t.url, proc: t.server}
		if t.server == portcullis {
			pt.metrics = "http://" + mAddr + "/metrics"
		}
		under = append(under, pt)
	}
	if f.memMaxConns > 0 {
		// The same configuration and cookie secret, so the same cookie.
		pAddr, mAddr2, err := freeAddrs()
		if err != nil {
			return err
		}
		p2, err := pc.start(ctx, procs, dir, "portcullis-maxconns", "portcullis with UPSTREAM_MAX_CONNS", pAddr, mAddr2,
			"PORTCULLIS_UPSTREAM_MAX_CONNS="+strconv.Itoa(f.memMaxConns))
		if err != nil {
			return err
		}
		under = append(under, proxyUnderTest{
			name: fmt.Sprintf("Portcullis, MAX_CONNS=%d", f.memMaxConns),
			url:  "http://" + pAddr + "/", metrics: "http://" + mAddr2 + "/metrics", proc: p2,
		})
	}

	fmt.Printf("\nResident size serving %d keep-alive connections (target for Portcullis: under 64 MB), sampled 4 s into 5 s of load:\n", f.memConns)
	fmt.Printf("steady: %d requests in flight at a time, taking the connections in turn (this runner's client);\n", memWindow)
	fmt.Printf("paced: wrk, each connection sending a request %v after the last answer (all start at once);\n", f.memPace)
	fmt.Printf("saturated: wrk, a request always in flight on each connection.\n\n")
	for _, pt := range under {
		fmt.Printf("  %s (idle: %s)\n", pt.name, pt.proc.rss())
		// sample returns the resident size and, for Portcullis, the Go
		// runtime's figures ("; …"), 4 s into a run.
		sample := func() (rss, inside string) {
			time.Sleep(4 * time.Second)
			rss = pt.proc.rss()
			if pt.metrics != "" {
				inside = "; " + goMemory(ctx, pt.metrics)
			}
			return rss, inside
		}
		var rss, inside string
		done := make(chan struct{})
		go func() {
			defer close(done)
			rss, inside = sample()
		}()
		n, errs, err := steadyLoad(ctx, strings.TrimPrefix(strings.TrimSuffix(pt.url, "/"), "http://"), wrk.headers, f.memConns, memWindow, 5*time.Second)
		<-done
		if err != nil {
			return err
		}
		fmt.Printf("    %-9s %s at %.0f req/s, %d errors%s\n", "steady", rss, float64(n)/5, errs, inside)
		for _, mode := range []string{"paced", "saturated"} {
			var paced []string
			if mode == "paced" {
				paced = []string{"-s", script}
			}
			var out bytes.Buffer
			cmd := wrk.command(ctx, pt.url, f.memConns, 5*time.Second, paced...)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("wrk -c%d: %v", f.memConns, err)
			}
			rss, inside := sample()
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("wrk -c%d: %v\n%s", f.memConns, err, out.Bytes())
			}
			r, err := parseWrk(out.Bytes())
			if err != nil {
				return err
			}
			fmt.Printf("    %-9s %s at %.0f req/s, p99 %s, %d errors%s\n", mode, rss, r.rps, fmtDur(r.p99), r.errors, inside)
		}
	}
	return nil
}

// memWindow is how many requests the steady memory run keeps in flight.
const memWindow = 50

// steadyLoad opens conns keep-alive connections to addr and, for d, sends
// GET / on them in turn, window at a time (all written, then all answers
// read), with the wrk headers given (-H pairs). It returns how many
// requests were answered 200 and how many were not.
func steadyLoad(ctx context.Context, addr string, wrkHeaders []string, conns, window int, d time.Duration) (ok, failed int, err error) {
	var req strings.Builder
	req.WriteString("GET / HTTP/1.1\r\nHost: " + addr + "\r\n")
	for i := 1; i < len(wrkHeaders); i += 2 {
		req.WriteString(wrkHeaders[i] + "\r\n")
	}
	req.WriteString("\r\n")
	request := []byte(req.String())

	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	var dialer net.Dialer
	for range conns {
		c, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return ok, failed, fmt.Errorf("steady load: connection %d: %w", len(cs)+1, err)
		}
		cs = append(cs, c)
	}
	br := bufio.NewReaderSize(nil, 16<<10)
	end := time.Now().Add(d)
	for next := 0; time.Now().Before(end); {
		batch := make([]net.Conn, 0, window)
		for range window {
			batch = append(batch, cs[next])
			next = (next + 1) % len(cs)
		}
		for _, c := range batch {
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write(request); err != nil {
				return ok, failed, fmt.Errorf("steady load: write: %w", err)
			}
		}
		for _, c := range batch {
			br.Reset(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return ok, failed, fmt.Errorf("steady load: read: %w", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && !resp.Close {
				ok++
			} else {
				failed++
			}
		}
	}
	return ok, failed, nil
}

// goMemory summarizes the Go runtime's figures from a Prometheus
// exposition: goroutines, heap in use, the next GC's goal, stacks.
func goMemory(ctx context.Context, url string) string {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "metrics: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	v := map[string]float64{}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			v[f[0]], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	mb := func(name string) string { return fmt.Sprintf("%.0f MB", v[name]/(1<<20)) }
	return fmt.Sprintf("%.0f goroutines, heap in use %s (next GC at %s), stacks %s, runtime total %s",
		v["go_goroutines"], mb("go_memstats_heap_inuse_bytes"), mb("go_memstats_next_gc_bytes"),
		mb("go_memstats_stack_inuse_bytes"), mb("go_memstats_sys_bytes"))
}
