package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReportVersus: the Redis store's targets are compared with the
// cookie store's, round by round, against the 0.9× target; ten upstream
// routes with one, against their own 0.95×.
func TestReportVersus(t *testing.T) {
	run := func(rps ...float64) []result {
		var rs []result
		for _, v := range rps {
			rs = append(rs, result{rps: v, p50: time.Millisecond, p99: 2 * time.Millisecond})
		}
		return rs
	}
	targets := []*target{
		{name: "bare Go proxy", runs: run(1000, 1000, 1000)},
		{name: "Portcullis proxied", runs: run(900, 800, 1000)},
		{name: "Portcullis /oauth2/auth", runs: run(2000, 2000, 2000)},
		{name: "Portcullis Redis proxied", runs: run(855, 800, 700), versus: "Portcullis proxied"},
		{name: "Portcullis Redis /oauth2/auth", runs: run(1900, 1900, 1500), versus: "Portcullis /oauth2/auth"},
		{name: "Portcullis 10 routes proxied", runs: run(846, 752, 940), versus: "Portcullis proxied", versusTarget: 0.95},
	}
	var b strings.Builder
	report(&b, targets, flags{rounds: 3, duration: time.Second, threads: 2, connections: 64})
	for _, want := range []string{
		"Portcullis Redis proxied requests/s      0.95× Portcullis proxied (target ≥ 0.90×): met",
		"Portcullis Redis /oauth2/auth requests/s 0.95× Portcullis /oauth2/auth (target ≥ 0.90×): met",
		"0.94× Portcullis proxied (target ≥ 0.95×): MISSED",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report() =\n%s\nwant a line %q", b.String(), want)
		}
	}
	targets[3].runs = run(800, 700, 700)
	b.Reset()
	report(&b, targets, flags{rounds: 3, duration: time.Second, threads: 2, connections: 64})
	if want := "0.88× Portcullis proxied (target ≥ 0.90×): MISSED"; !strings.Contains(b.String(), want) {
		t.Errorf("report() =\n%s\nwant a line with %q", b.String(), want)
	}
}

// TestWrkTargetHeaders: a target with its own headers (its own session
// cookie) is loaded with them instead of the runner's.
func TestWrkTargetHeaders(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "wrk")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"$@\"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := wrkRunner{bin: bin, threads: 1, connections: 1, headers: []string{"-H", "Cookie: a=b"}}
	for _, c := range []struct {
		headers []string
		want    string
	}{
		{nil, "Cookie: a=b"},
		{[]string{"-H", "Cookie: c=d"}, "Cookie: c=d"},
	} {
		_, err := w.run(t.Context(), &target{name: "x", url: "http://127.0.0.1:1/", headers: c.headers}, time.Second)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "Cookie:") != 1 {
			t.Errorf("run with target headers %q: wrk called as %v; want it given %q only", c.headers, err, c.want)
		}
	}
}
