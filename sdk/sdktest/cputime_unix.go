//go:build unix

package sdktest

import (
	"syscall"
	"time"
)

// CPUTime is the process's user+system CPU time: on a shared machine it
// measures a benchmark's work, where wall time measures the neighbours too.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
