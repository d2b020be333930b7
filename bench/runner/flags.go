package main

import "time"

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
