package testproc

import "syscall"

// SysProcAttr makes the kernel kill a child process when the test binary
// dies without running its cleanups (a timeout panic, a kill), so no server
// outlives the tests. It is nil off Linux.
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// SysProcAttrAs is SysProcAttr for a child run as uid/gid. Go sets the
// parent-death signal after changing the credentials, so the change does
// not clear it. It is nil off Linux: the child runs as the test's own user.
func SysProcAttrAs(uid, gid uint32) *syscall.SysProcAttr {
	a := SysProcAttr()
	a.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	return a
}
