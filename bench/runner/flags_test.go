package main

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	defaults := flags{
		duration: 10 * time.Second, warmup: 2 * time.Second, rounds: 3, threads: 2, connections: 64,
		upstream: "auto", tokenSize: 1000, pooled: true, memConns: 1000, memPace: 250 * time.Millisecond, memMaxConns: 128,
	}
	short := defaults
	short.rounds, short.duration, short.memConns = 1, time.Second, 0
	for _, c := range []struct {
		args    []string
		want    flags
		wantErr error
	}{
		{args: nil, want: defaults},
		{args: []string{"-rounds", "1", "-duration", "1s", "-memory-connections", "0"}, want: short},
		{args: []string{"-rounds", "0"}, wantErr: errBounds},
		{args: []string{"-rounds", "21"}, wantErr: errBounds},
		{args: []string{"-duration", "999ms"}, wantErr: errBounds},
		{args: []string{"-duration", "6m"}, wantErr: errBounds},
		{args: []string{"-h"}, wantErr: flag.ErrHelp},
	} {
		got, err := parseFlags("runner", c.args, io.Discard)
		if !errors.Is(err, c.wantErr) {
			t.Errorf("parseFlags(%q) error = %v; want %v", c.args, err, c.wantErr)
			continue
		}
		if c.wantErr == nil && got != c.want {
			t.Errorf("parseFlags(%q) = %+v; want %+v", c.args, got, c.want)
		}
	}
	if _, err := parseFlags("runner", []string{"-no-such-flag"}, io.Discard); err == nil {
		t.Error("parseFlags(-no-such-flag) = nil error; want one")
	}
}
