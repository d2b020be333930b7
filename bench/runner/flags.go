package main

import (
	"errors"
	"flag"
	"io"
	"time"
)

// flags are the runner's command-line settings.
type flags struct {
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	threads     int
	connections int
	upstream    string
	tokenSize   int
	pooled      bool
	keep        bool
	memConns    int
	memPace     time.Duration
	memMaxConns int
}

// errBounds is parseFlags's answer to a -rounds or -duration out of bounds.
var errBounds = errors.New("-rounds must be 1..20 and -duration 1s..5m")

// parseFlags reads the command line args (without the program's name)
// into flags. A flag it does not know or can't read is reported to output
// with the usage, as the flag package does, and returned; -h returns
// flag.ErrHelp; a -rounds or -duration out of bounds returns errBounds.
func parseFlags(name string, args []string, output io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "length of each wrk run")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "untimed wrk run per target before the first round")
	fs.IntVar(&f.rounds, "rounds", 3, "how many times each target is measured (alternating); the table shows medians")
	fs.IntVar(&f.threads, "threads", 2, "wrk threads (-t)")
	fs.IntVar(&f.connections, "connections", 64, "wrk connections (-c)")
	fs.StringVar(&f.upstream, "upstream", "auto", "upstream server: nginx, go (in this process) or auto (nginx when installed)")
	fs.IntVar(&f.tokenSize, "token-size", 1000, "access token size in bytes from the provider (a JWT is about 1 KB); it sets the session cookie's size")
	fs.BoolVar(&f.pooled, "pooled", true, "also measure the bare proxy with a BufferPool (for reference; the ratios stay to the bare proxy without)")
	fs.BoolVar(&f.keep, "keep", false, "keep the temporary directory (binaries, configuration, logs)")
	fs.IntVar(&f.memConns, "memory-connections", 1000, "after the rounds, load each proxy with this many keep-alive connections, paced and saturated, and report its resident size; 0 skips it")
	fs.DurationVar(&f.memPace, "memory-pace", 250*time.Millisecond, "in the paced memory run, each connection's pause between an answer and its next request")
	fs.IntVar(&f.memMaxConns, "memory-max-conns", 128, "also measure a Portcullis with PORTCULLIS_UPSTREAM_MAX_CONNS set to this; 0 skips it")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.rounds < 1 || f.rounds > 20 || f.duration < time.Second || f.duration > 5*time.Minute {
		return f, errBounds
	}
	return f, nil
}
