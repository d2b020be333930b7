package testproc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// LastLines returns the last n lines of s, joined with " | ".
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// ErrExited is what Process.WaitReady returns when the process exits before
// it is ready.
var ErrExited = errors.New("exited")

// A Process is one run of a server: the command, its output, and whether it
// has exited. Its methods are safe for concurrent use.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	out  syncBuffer    // its standard output and error
}

// Start starts cmd with its standard output and error going to Output. When
// cmd.SysProcAttr is nil it sets it to SysProcAttr(), so that on Linux the
// process dies with the test binary.
func Start(cmd *exec.Cmd) (*Process, error) {
	p := &Process{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = SysProcAttr()
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// WaitReady calls ready every interval until it returns nil, and returns
// nil. When the process exits first it returns ErrExited; when timeout
// passes first it kills the process and returns an error saying so. Both
// errors read as what the process did ("exited", "did not answer within
// 10s"), to follow its name.
func (p *Process) WaitReady(timeout, interval time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.Exited() {
			return ErrExited
		}
		if ready() == nil {
			return nil
		}
		if time.Now().After(deadline) {
			p.Kill()
			return fmt.Errorf("did not answer within %v", timeout)
		}
		time.Sleep(interval)
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output returns what the process has written so far.
func (p *Process) Output() string { return p.out.String() }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill kills the process (SIGKILL) and waits for it to exit.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// Stop interrupts the process (SIGINT: for servers, a fast shutdown) and
// waits for it to exit; when it has not within timeout, Stop kills it and
// reports so.
func (p *Process) Stop(timeout time.Duration) (killed bool) {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return false
	case <-time.After(timeout):
		p.Kill()
		return true
	}
}

// A syncBuffer is a bytes.Buffer safe for a process writing it while a
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
