package encoding

import (
	"math"
	"testing"
)

func TestNonFinite(t *testing.T) {
	for _, tc := range []struct {
		x    float32
		want uint32
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0}, {1, 0}, {-1, 0},
		{math.MaxFloat32, 0}, {-math.MaxFloat32, 0}, {math.SmallestNonzeroFloat32, 0},
		{float32(math.Inf(1)), 1}, {float32(math.Inf(-1)), 1}, {float32(math.NaN()), 1},
		{math.Float32frombits(0xffffffff), 1}, {math.Float32frombits(0x7f800001), 1},
	} {
		if got := nonFinite(tc.x); got != tc.want {
			t.Errorf("nonFinite(%v) = %d, want %d", tc.x, got, tc.want)
		}
	}
}
