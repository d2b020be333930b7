//go:build !linux

package pgtest

import "syscall"

// sysProcAttr is nil off Linux: the server runs as the test's own user, and
// initdb refuses to run as root there.
func sysProcAttr(uid, gid uint32, ok bool) *syscall.SysProcAttr { return nil }
