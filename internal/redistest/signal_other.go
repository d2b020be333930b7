//go:build !unix

package redistest

import "os"

// Pausing a process needs job-control signals, which only Unix has; on
// other systems Pause fails the test.
var pauseSignal, resumeSignal os.Signal = nil, nil
