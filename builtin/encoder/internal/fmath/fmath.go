// Package fmath holds float helpers for encoders' row loops, written for
// Go compiled to Wasm: there the builtins min and max on floats are calls
// into the runtime (fmin64, fmax64) that spill a loop's variables to
// memory around them, and math.Round is bit fiddling, while comparisons
// and math.Trunc are single instructions. All inline.
package fmath

import "math"

// Clamp01 is min(max(x, 0), 1) for x that is not NaN, up to the sign of a
// zero (callers add or scale after it, which no caller can see).
func Clamp01(x float64) float64 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

// Round is math.Round (halves away from zero) for finite x, branch-free:
// with t = trunc(x), x-t is exact and trunc(2(x-t)) is the ±1 or 0 to add.
func Round(x float64) float64 {
	t := math.Trunc(x)
	return t + math.Trunc(2*(x-t))
}
