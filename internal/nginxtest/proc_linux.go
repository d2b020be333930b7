package nginxtest

import "syscall"

// sysProcAttr makes the kernel kill nginx when the test binary dies
// without running its cleanups (a timeout panic, a kill), so no nginx
// outlives the tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
