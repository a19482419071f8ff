package calibrate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// rowsOf lays out (mode, value) rows: a two-way mode head, then the value.
func rowsOf(modes []int, values []float32) []float32 {
	x := make([]float32, 0, 3*len(values))
	for i, v := range values {
		m := [2]float32{1, 0}
		if modes != nil && modes[i] == 1 {
			m = [2]float32{0, 1}
		}
		x = append(x, m[0], m[1], v)
	}
	return x
}

var modeHead = Head{Name: "len.mode", Off: 0, Width: 2}

func TestQuantiles(t *testing.T) {
	vals := make([]float32, 100)
	modes := make([]int, 100)
	for i := range vals {
		vals[i] = float32(i)
		modes[i] = i % 4 / 3 // 75 rows in mode 0, 25 in mode 1
	}
	x := rowsOf(modes, vals)
	plain := Quantiles(x, 3, nil, []Column{{Name: "len", Col: 2}})
	if len(plain) != 1 || len(plain[0]) != 1 || len(plain[0][0]) != 100 || plain[0][0][0] != 0 || plain[0][0][99] != 99 || plain[0][0][50] != 50 {
		t.Fatalf("quantiles of 0..99: %v", plain)
	}
	byMode := Quantiles(x, 3, nil, []Column{{Name: "len", Col: 2, Cond: &modeHead}})
	if got := byMode[0]; len(got) != 2 || len(got[0]) != 75 || got[1] != nil {
		t.Fatalf("by mode: %d knots in mode 0, %v in mode 1 (25 values: too few)", len(got[0]), got[1])
	}
	// 600 values: 257 knots at equal steps
	many := make([]float32, 600)
	for i := range many {
		many[i] = float32(i) / 599
	}
	q := Quantiles(rowsOf(nil, many), 3, nil, []Column{{Name: "len", Col: 2}})[0][0]
	if len(q) != maxSteps+1 || q[0] != 0 || q[maxSteps] != 1 || math.Abs(float64(q[128])-0.5) > 1e-6 {
		t.Fatalf("600 values: %d knots, first %g, middle %g, last %g", len(q), q[0], q[128], q[len(q)-1])
	}
}

// TestTransport: generated values move onto the training quantiles in
// their own order; equal ones spread; rows of weight 0 and categories
// without quantiles stay.
func TestTransport(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	train := make([]float32, 400)
	for i := range train {
		train[i] = float32(i%2)*0.5 + 0.1 + 0.05*rng.Float32() // two peaks, 0.1 and 0.6
	}
	cols := []Column{{Name: "len", Col: 2, Cond: &modeHead}}
	knots := Quantiles(rowsOf(nil, train), 3, nil, cols) // mode 0 only
	n := 200
	gen := make([]float32, n)
	modes := make([]int, n)
	for i := range gen {
		gen[i] = 0.3 + 0.01*float32(i%10) // narrow, many ties
		if i%50 == 0 {
			modes[i] = 1 // mode 1: no training quantiles
		}
	}
	x := rowsOf(modes, gen)
	weight := make([]float64, n)
	for i := range weight {
		weight[i] = 1
	}
	weight[7] = 0
	orig := slices.Clone(x)
	if moved := Transport(x, 3, weight, cols, knots); moved != 1 {
		t.Errorf("moved %d column categories, want 1", moved)
	}
	var got []float32
	for r := range n {
		v, o := x[3*r+2], orig[3*r+2]
		switch {
		case weight[r] == 0 || modes[r] == 1:
			if v != o {
				t.Fatalf("row %d (weight %g, mode %d) moved %g → %g", r, weight[r], modes[r], o, v)
			}
			continue
		}
		got = append(got, v)
		// the order of distinct generated values stays
		for q := range n {
			if weight[q] > 0 && modes[q] == 0 && orig[3*q+2] < o && x[3*q+2] > v {
				t.Fatalf("rows %d and %d swapped order", q, r)
			}
		}
	}
	// the peaks come back in their shares
	low := 0
	for _, v := range got {
		if v < 0.35 {
			low++
		}
	}
	if share := float64(low) / float64(len(got)); math.Abs(share-0.5) > 0.02 {
		t.Errorf("share at the low peak %.3f, want 0.5", share)
	}
	if mn, mx := slices.Min(got), slices.Max(got); mn < 0.1 || mx > 0.65 {
		t.Errorf("values in [%g, %g], outside the training's [0.1, 0.65]", mn, mx)
	}
}
