package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/testproc"
)

// process is a server the runner started.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string // its output, in the temporary directory
	addr string // host:port it listens on
	done chan struct{}
}

// cpu is the CPU time (user and system, every thread) the process has
// used so far, from /proc/PID/stat in clock ticks of 10 ms.
func (p *process) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is the first, utime the 12th, stime the 13th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// rss is the process's resident size now and at its peak.
func (p *process) rss() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return "?"
	}
	var now, peak string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			kb, _ := strconv.Atoi(f[1])
			switch f[0] {
			case "VmRSS:":
				now = fmt.Sprintf("%.0f MB", float64(kb)/1024)
			case "VmHWM:":
				peak = fmt.Sprintf("%.0f MB", float64(kb)/1024)
			}
		}
	}
	return now + " (peak " + peak + ")"
}

func (p *process) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// procs stops what the runner started, in reverse order.
type procs struct{ stops []func() }

func (ps *procs) onStop(f func()) { ps.stops = append(ps.stops, f) }

func (ps *procs) stopAll() {
	for i := len(ps.stops) - 1; i >= 0; i-- {
		ps.stops[i]()
	}
}

// startProcess runs a server with its output in dir/<name>.log. Servers
// that take -listen 127.0.0.1:0 print the address they got
// ("… listening on 127.0.0.1:PORT"); it is read from the log.
func startProcess(ctx context.Context, ps *procs, dir, name string, env []string, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if env != nil {
		cmd.Env = env
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); out.Close(); close(p.done) }()
	ps.onStop(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	if slices.Contains(args, "127.0.0.1:0") {
		deadline := time.Now().Add(startTimeout)
		for p.addr == "" && time.Now().Before(deadline) {
			b, _ := os.ReadFile(logPath)
			if _, rest, ok := strings.Cut(string(b), "listening on "); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					p.addr = strings.TrimSuffix(f[0], ",")
				}
			}
			select {
			case <-p.done:
				return nil, fmt.Errorf("%s exited:\n%s", name, p.logTail())
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		if p.addr == "" {
			return nil, fmt.Errorf("%s did not say where it listens:\n%s", name, p.logTail())
		}
		if err := waitHTTP(ctx, "http://"+p.addr+"/"); err != nil {
			return nil, fmt.Errorf("%s: %v\n%s", name, err, p.logTail())
		}
	}
	return p, nil
}

// waitHTTP waits until rawURL answers at all, for at most startTimeout.
func waitHTTP(ctx context.Context, rawURL string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	var err error
	for time.Now().Before(deadline) {
		var resp *http.Response
		if resp, err = client.Get(rawURL); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("no answer from %s within %v: %v", rawURL, startTimeout, err)
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	port, err := testproc.FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// freeAddrs returns two loopback addresses made by freeAddr: a server's
// and its metrics listener's.
func freeAddrs() (string, string, error) {
	a, err := freeAddr()
	if err != nil {
		return "", "", err
	}
	b, err := freeAddr()
	return a, b, err
}
