//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package caddytest

import (
	"os"
	"syscall"
)

// lock takes an exclusive lock on the file at path (creating it), waiting
// for other holders, in this process or others, to let go. The kernel
// releases it if the holder dies.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
