package main

import (
	"testing"
	"time"
)

func TestBufferedLog(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	b := newBufferedLog(&out, time.Hour)
	b.Write([]byte("one\n"))
	if out.String() != "" {
		t.Errorf("written before a flush: %q", out.String())
	}
	b.Flush()
	if out.String() != "one\n" {
		t.Errorf("after Flush = %q; want one line", out.String())
	}
	b.Write([]byte("two\n"))
	b.Close()
	b.Close() // twice is fine
	if out.String() != "one\ntwo\n" {
		t.Errorf("after Close = %q; want both lines", out.String())
	}
	fast := newBufferedLog(&out, 10*time.Millisecond)
	defer fast.Close()
	fast.Write([]byte("three\n"))
	for i := 0; i < 100 && out.String() != "one\ntwo\nthree\n"; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if out.String() != "one\ntwo\nthree\n" {
		t.Errorf("the interval flush did not happen: %q", out.String())
	}
}
