package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// target is one URL wrk loads.
type target struct {
	name string
	url  string
	runs []result
	// server is the process that answers; nil when it is not a process
	// of its own (the Go upstream).
	server *process
	// headers replace the runner's -H pairs for this target (its own
	// session cookie); nil: the runner's.
	headers []string
	// versus names the target this one is compared with besides the bare
	// proxy (the Redis store's with the cookie store's); "": none.
	versus string
	// versusTarget is the least ratio to versus that meets the target;
	// 0 means 0.90 (the Redis store's).
	versusTarget float64
}

// result is what one wrk run reported.
type result struct {
	rps      float64
	p50, p99 time.Duration
	requests int
	errors   int // non-2xx/3xx answers and socket errors
	// serverCPU and wrkCPU are the CPU time (user and system) the server
	// and wrk spent per request: unlike requests/s, they hardly depend on
	// what else the machine is doing.
	serverCPU, wrkCPU time.Duration
}

// wrkRunner runs wrk with the same threads and headers against every
// target.
type wrkRunner struct {
	bin         string // wrk's path
	threads     int
	connections int
	headers     []string // -H pairs, the same for every target
}

// command is wrk loading url with conns connections for d, with its
// latency report and extra arguments before the headers.
func (w wrkRunner) command(ctx context.Context, url string, conns int, d time.Duration, extra ...string) *exec.Cmd {
	args := []string{"-t" + strconv.Itoa(w.threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(int(d/time.Second)) + "s", "--latency"}
	args = append(append(append(args, extra...), w.headers...), url)
	return exec.CommandContext(ctx, w.bin, args...)
}

// run loads t for d and returns what wrk reported, with the CPU time per
// request that t's server (when it is a process) and wrk spent.
func (w wrkRunner) run(ctx context.Context, t *target, d time.Duration) (result, error) {
	if t.headers != nil {
		w.headers = t.headers
	}
	cmd := w.command(ctx, t.url, w.connections, d)
	var cpu0 time.Duration
	if t.server != nil {
		cpu0 = t.server.cpu()
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %v\n%s", t.url, err, out)
	}
	r, err := parseWrk(out)
	if err != nil || r.requests == 0 {
		return r, err
	}
	if t.server != nil {
		r.serverCPU = (t.server.cpu() - cpu0) / time.Duration(r.requests)
	}
	r.wrkCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()) / time.Duration(r.requests)
	return r, nil
}

// parseWrk reads requests/s, the 50% and 99% latencies and the error
// counts from wrk's --latency report.
func parseWrk(out []byte) (result, error) {
	var r result
	var haveRPS, have50, have99 bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 2 && fields[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(fields[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk: bad Requests/sec %q", fields[1])
			}
			r.rps, haveRPS = v, true
		case len(fields) == 2 && (fields[0] == "50%" || fields[0] == "99%"):
			d, err := parseWrkDuration(fields[1])
			if err != nil {
				return r, err
			}
			if fields[0] == "50%" {
				r.p50, have50 = d, true
			} else {
				r.p99, have99 = d, true
			}
		case len(fields) >= 3 && fields[1] == "requests" && fields[2] == "in":
			r.requests, _ = strconv.Atoi(fields[0])
		case strings.HasPrefix(sc.Text(), "  Non-2xx or 3xx responses:"):
			n, _ := strconv.Atoi(fields[len(fields)-1])
			r.errors += n
		case len(fields) > 2 && fields[0] == "Socket" && fields[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 3; i < len(fields); i += 2 {
				n, _ := strconv.Atoi(strings.TrimSuffix(fields[i], ","))
				r.errors += n
			}
		}
	}
	if !haveRPS || !have50 || !have99 {
		return r, fmt.Errorf("wrk: unexpected output:\n%s", out)
	}
	return r, nil
}

// parseWrkDuration reads wrk's latencies: 271.00us, 1.23ms, 2.00s, 1.50m.
func parseWrkDuration(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				break
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("wrk: bad latency %q", s)
}
