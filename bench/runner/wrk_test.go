package main

import (
	"context"
	"slices"
	"testing"
	"time"
)

// wrkReport is wrk 4's --latency report of a run with errors.
const wrkReport = `Running 1s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  500.00us  10.00ms   80.00%
    Req/Sec    30.00k     2.00k   35.00k    70.00%
  Latency Distribution
     50%  709.00us
     75%    1.20ms
     90%    1.50ms
     99%    1.95ms
  85267 requests in 1.00s, 15.00MB read
  Socket errors: connect 1, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  85267.42
Transfer/sec:     15.00MB
`

func TestParseWrk(t *testing.T) {
	got, err := parseWrk([]byte(wrkReport))
	if err != nil {
		t.Fatalf("parseWrk: %v", err)
	}
	want := result{rps: 85267.42, p50: 709 * time.Microsecond, p99: 1950 * time.Microsecond, requests: 85267, errors: 13}
	if got != want {
		t.Errorf("parseWrk = %+v; want %+v", got, want)
	}
	for _, bad := range []string{"", "Requests/sec:  12.0\n", "     50%  1.00ms\n     99%  2.00ms\n", "Requests/sec: many\n"} {
		if r, err := parseWrk([]byte(bad)); err == nil {
			t.Errorf("parseWrk(%q) = %+v, nil; want an error", bad, r)
		}
	}
}

func TestParseWrkDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"271.00us", 271 * time.Microsecond},
		{"1.23ms", 1230 * time.Microsecond},
		{"2.00s", 2 * time.Second},
		{"1.50m", 90 * time.Second},
	} {
		if got, err := parseWrkDuration(c.in); err != nil || got != c.want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "12", "1.2h", "fastms"} {
		if got, err := parseWrkDuration(bad); err == nil {
			t.Errorf("parseWrkDuration(%q) = %v, nil; want an error", bad, got)
		}
	}
}

func TestWrkCommand(t *testing.T) {
	w := wrkRunner{bin: "/usr/bin/wrk", threads: 2, connections: 64, headers: []string{"-H", "Cookie: a=b"}}
	for _, c := range []struct {
		conns int
		d     time.Duration
		extra []string
		want  []string
	}{
		{64, 10 * time.Second, nil, []string{"/usr/bin/wrk", "-t2", "-c64", "-d10s", "--latency", "-H", "Cookie: a=b", "http://x/"}},
		{1000, 5 * time.Second, []string{"-s", "paced.lua"}, []string{"/usr/bin/wrk", "-t2", "-c1000", "-d5s", "--latency", "-s", "paced.lua", "-H", "Cookie: a=b", "http://x/"}},
	} {
		if got := w.command(context.Background(), "http://x/", c.conns, c.d, c.extra...).Args; !slices.Equal(got, c.want) {
			t.Errorf("command(%d, %v, %q) = %q; want %q", c.conns, c.d, c.extra, got, c.want)
		}
	}
}

func TestFmtDur(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want string
	}{
		{9500 * time.Nanosecond, "9.5µs"},
		{84 * time.Microsecond, "84µs"},
		{3670 * time.Microsecond, "3.67ms"},
		{1500 * time.Millisecond, "1.50s"},
	} {
		if got := fmtDur(c.in); got != c.want {
			t.Errorf("fmtDur(%v) = %q; want %q", c.in, got, c.want)
		}
	}
}
