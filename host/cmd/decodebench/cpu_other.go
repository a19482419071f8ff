//go:build !unix

package main

import "time"

// cpuTime is unknown here: 0 makes the report fall back to wall time.
func cpuTime() time.Duration { return 0 }
