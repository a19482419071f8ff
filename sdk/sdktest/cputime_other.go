//go:build !unix

package sdktest

import "time"

// CPUTime is unknown here: 0, and callers report wall time instead.
func CPUTime() time.Duration { return 0 }
