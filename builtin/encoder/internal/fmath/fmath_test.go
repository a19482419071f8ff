package fmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestClamp01(t *testing.T) {
	for _, tc := range []struct{ x, want float64 }{
		{-1, 0}, {0, 0}, {0.25, 0.25}, {1, 1}, {7, 1}, {math.Inf(-1), 0}, {math.Inf(1), 1},
	} {
		if got := Clamp01(tc.x); got != tc.want {
			t.Errorf("Clamp01(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

// Round agrees with math.Round on halves, near-halves, the edges of
// float64's integers and random values.
func TestRound(t *testing.T) {
	xs := []float64{0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
		4503599627370495.5, 4503599627370497, 1 << 53, 1e300, -1e300, math.Nextafter(0.5, 0), math.Nextafter(0.5, 1)}
	r := rand.New(rand.NewPCG(7, 8))
	for range 10000 {
		xs = append(xs, (r.Float64()-0.5)*1e12, math.Floor(r.Float64()*1e9)+0.5)
	}
	for _, x := range xs {
		if got, want := Round(x), math.Round(x); got != want {
			t.Fatalf("Round(%v) = %v, want %v", x, got, want)
		}
	}
}
