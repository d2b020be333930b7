package pgtest

import "syscall"

// sysProcAttr runs the server as uid/gid (when ok) and makes the kernel kill
// it when the test binary dies without running its cleanups, so no server
// outlives the tests. Go sets the parent-death signal after changing the
// credentials, so the change does not clear it.
func sysProcAttr(uid, gid uint32, ok bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if ok {
		a.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	}
	return a
}
