package dist

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func TestEMD(t *testing.T) {
	tests := []struct {
		name string
		u, v []float64
		want float64
	}{
		// scipy.stats.wasserstein_distance([0,1,3],[5,6,8]) = 5.0: v is u
		// shifted by 5.
		{"shift", []float64{0, 1, 3}, []float64{5, 6, 8}, 5},
		// Unequal sizes with ties. F_u steps .25@1 .75@2 1@7, F_v .5@0 1@3:
		// [0,1)·.5 + [1,2)·.25 + [2,3)·.25 + [3,7)·.25 = .5+.25+.25+1 = 2.
		// scipy gives 2.0.
		{"ties", []float64{1, 2, 2, 7}, []float64{0, 3}, 2},
		// [1,3.5)·.75 + [3.5,10)·.25 = 1.875 + 1.625 = 3.5; scipy 3.5.
		{"single", []float64{3.5}, []float64{1, 1, 1, 10}, 3.5},
		{"identical", []float64{1, 2, 3}, []float64{1, 2, 3}, 0},
		{"same distribution, different sizes", []float64{1, 2}, []float64{1, 1, 2, 2}, 0},
		{"points", []float64{4}, []float64{-2}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EMD(tt.u, tt.v)
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("EMD(%v, %v) = %v, want %v", tt.u, tt.v, got, tt.want)
			}
			if back := EMD(tt.v, tt.u); math.Abs(back-got) > 1e-12 {
				t.Errorf("EMD is not symmetric: %v vs %v", got, back)
			}
		})
	}
	if !math.IsNaN(EMD(nil, []float64{1})) {
		t.Error("EMD of an empty sample should be NaN")
	}
}

// naiveEMD is scipy's algorithm transcribed literally: pool and sort all
// values, and at each gap weight |F_u − F_v| found by binary search.
func naiveEMD(u, v []float64) float64 {
	all := append(slices.Clone(u), v...)
	slices.Sort(all)
	var d float64
	for k := 0; k+1 < len(all); k++ {
		fu := float64(searchAfter(u, all[k])) / float64(len(u))
		fv := float64(searchAfter(v, all[k])) / float64(len(v))
		d += math.Abs(fu-fv) * (all[k+1] - all[k])
	}
	return d
}

func TestEMDMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		u := make([]float64, 1+r.IntN(40))
		v := make([]float64, 1+r.IntN(40))
		for i := range u {
			u[i] = float64(r.IntN(10)) // small range: many ties
		}
		for i := range v {
			v[i] = r.NormFloat64() * 5
		}
		slices.Sort(u)
		slices.Sort(v)
		got, want := EMD(u, v), naiveEMD(u, v)
		if math.Abs(got-want) > 1e-9*max(1, want) {
			t.Fatalf("trial %d: EMD = %v, naive = %v\nu=%v\nv=%v", trial, got, want, u, v)
		}
	}
}

func FuzzEMD(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte{3, 4})
	f.Add([]byte{0}, []byte{0, 0, 255})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) == 0 || len(b) == 0 {
			return
		}
		u, v := make([]float64, len(a)), make([]float64, len(b))
		for i, x := range a {
			u[i] = float64(x)
		}
		for i, x := range b {
			v[i] = float64(x)
		}
		slices.Sort(u)
		slices.Sort(v)
		got, want := EMD(u, v), naiveEMD(u, v)
		if math.Abs(got-want) > 1e-9*max(1, want) || got < 0 || got > 255 {
			t.Fatalf("EMD = %v, naive = %v", got, want)
		}
	})
}

func TestJSD(t *testing.T) {
	tests := []struct {
		name string
		p, q []float64
		want float64
	}{
		// P=(1/6,1/3,1/2), Q reversed, M uniform: KL(P‖M) = 1/6·ln(1/2) +
		// 1/2·ln(3/2) = 0.0872080…, the same for Q, so JSD = 0.0872080.
		// scipy: jensenshannon([1,2,3],[3,2,1])**2 = 0.08720802396075797.
		{"mirror", []float64{1, 2, 3}, []float64{3, 2, 1}, 0.08720802396075797},
		// Disjoint supports: the maximum, ln 2.
		{"disjoint", []float64{1, 0}, []float64{0, 1}, math.Ln2},
		// scipy: jensenshannon([5,3,1,1],[4,4,2,0])**2 = 0.04951950920176285.
		{"zero in q", []float64{5, 3, 1, 1}, []float64{4, 4, 2, 0}, 0.04951950920176285},
		// Counts are normalised: scaling a side changes nothing.
		{"scaled", []float64{1, 1}, []float64{9, 1}, 0.10174922507919676},
		{"identical", []float64{2, 7, 1}, []float64{4, 14, 2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := JSD(tt.p, tt.q)
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("JSD(%v, %v) = %.17g, want %.17g", tt.p, tt.q, got, tt.want)
			}
		})
	}
	if !math.IsNaN(JSD([]float64{0, 0}, []float64{1, 0})) {
		t.Error("JSD of an all-zero side should be NaN")
	}
}

func TestCDF(t *testing.T) {
	// Small samples: every pooled value is a point.
	u := []float64{1, 2, 2, 7}
	v := []float64{0, 3}
	x, fu, fv := CDF(u, v)
	wantX := []float64{0, 1, 2, 3, 7}
	wantU := []float64{0, 0.25, 0.75, 0.75, 1}
	wantV := []float64{0.5, 0.5, 0.5, 1, 1}
	if !slices.Equal(x, wantX) || !slices.Equal(fu, wantU) || !slices.Equal(fv, wantV) {
		t.Fatalf("CDF = %v %v %v, want %v %v %v", x, fu, fv, wantX, wantU, wantV)
	}

	// Large samples: at most MaxCurvePoints, strictly increasing x, both
	// ends included, CDFs monotone and ending at 1.
	r := rand.New(rand.NewPCG(3, 4))
	big := make([]float64, 10000)
	for i := range big {
		big[i] = math.Exp(r.NormFloat64() * 3)
	}
	small := []float64{0.5, 1, 1e6}
	sort.Float64s(big)
	x, fu, fv = CDF(big, small)
	if len(x) > MaxCurvePoints || len(x) < MaxCurvePoints/2 {
		t.Fatalf("CDF has %d points, want ≤ %d and not far fewer", len(x), MaxCurvePoints)
	}
	if x[0] != big[0] || x[len(x)-1] != 1e6 {
		t.Errorf("CDF x spans %v..%v, want %v..%v", x[0], x[len(x)-1], big[0], 1e6)
	}
	for k := 1; k < len(x); k++ {
		if x[k] <= x[k-1] || fu[k] < fu[k-1] || fv[k] < fv[k-1] {
			t.Fatalf("CDF not increasing at point %d", k)
		}
	}
	if fu[len(fu)-1] != 1 || fv[len(fv)-1] != 1 {
		t.Errorf("CDF ends at %v, %v; want 1, 1", fu[len(fu)-1], fv[len(fv)-1])
	}
}

func TestRankCurve(t *testing.T) {
	x, fr, fs := RankCurve([]float64{6, 3, 1}, []float64{5, 5})
	wantX := []float64{1, 2, 3}
	wantR := []float64{0.6, 0.9, 1}
	wantS := []float64{0.5, 1, 1}
	for i := range wantX {
		if x[i] != wantX[i] || math.Abs(fr[i]-wantR[i]) > 1e-12 || math.Abs(fs[i]-wantS[i]) > 1e-12 {
			t.Fatalf("RankCurve = %v %v %v, want %v %v %v", x, fr, fs, wantX, wantR, wantS)
		}
	}
	long := make([]float64, 100000)
	for i := range long {
		long[i] = float64(len(long) - i)
	}
	x, _, _ = RankCurve(long, []float64{1})
	if len(x) > MaxCurvePoints+1 || x[0] != 1 || x[len(x)-1] != 100000 {
		t.Errorf("long RankCurve: %d points from %v to %v", len(x), x[0], x[len(x)-1])
	}
}
