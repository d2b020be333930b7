//go:build !linux

package testproc

import "syscall"

// SysProcAttr is nil off Linux: there is no parent-death signal.
func SysProcAttr() *syscall.SysProcAttr { return nil }

// SysProcAttrAs is nil off Linux: the child runs as the test's own user
// (initdb, for one, then refuses to run as root).
func SysProcAttrAs(uid, gid uint32) *syscall.SysProcAttr { return nil }
