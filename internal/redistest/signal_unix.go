//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// pauseSignal freezes a process; resumeSignal lets it run again.
var pauseSignal, resumeSignal os.Signal = syscall.SIGSTOP, syscall.SIGCONT
