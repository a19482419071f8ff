package ml

import (
	"math"
	"testing"
)

// blobs draws n rows per class around centres spaced sep apart on the
// diagonal, so classes are separable when sep is large against unit noise.
func blobs(n, k, d int, sep float64, seed uint64) *Dataset {
	rng := NewRand(seed)
	ds := &Dataset{D: d, K: k}
	for i := 0; i < n*k; i++ {
		y := int32(i % k)
		for f := 0; f < d; f++ {
			ds.X = append(ds.X, float64(y)*sep+rng.NormFloat64())
		}
		ds.Y = append(ds.Y, y)
	}
	return ds
}

func TestClassifiersSeparable(t *testing.T) {
	train, test := blobs(300, 3, 4, 10, 1), blobs(100, 3, 4, 10, 2)
	for _, name := range Learners {
		t.Run(name, func(t *testing.T) {
			c, err := NewClassifier(name, 7)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Fit(train); err != nil {
				t.Fatal(err)
			}
			if acc := Accuracy(c, test); acc < 0.99 {
				t.Errorf("accuracy %.3f on separable blobs, want ≥ 0.99", acc)
			}
		})
	}
}

// A depth-unlimited tree memorises any consistent labelling: XOR of two
// thresholds, which no linear model fits, gives 100% on its training rows.
func TestTreeFitsXORExactly(t *testing.T) {
	rng := NewRand(3)
	ds := &Dataset{D: 2, K: 2}
	for range 400 {
		a, b := rng.Float64(), rng.Float64()
		y := int32(0)
		if (a > 0.5) != (b > 0.3) {
			y = 1
		}
		ds.X = append(ds.X, a, b)
		ds.Y = append(ds.Y, y)
	}
	tr := &Tree{MaxDepth: 16, MinLeaf: 1}
	if err := tr.Fit(ds); err != nil {
		t.Fatal(err)
	}
	if acc := Accuracy(tr, ds); acc != 1 {
		t.Errorf("tree accuracy %.3f on XOR training rows, want 1", acc)
	}
	lr := &LogReg{Epochs: 20, Batch: 32, Rate: 0.02}
	if err := lr.Fit(ds); err != nil {
		t.Fatal(err)
	}
	if acc := Accuracy(lr, ds); acc > 0.8 {
		t.Errorf("logistic regression accuracy %.3f on XOR, want it to fail (≤ 0.8)", acc)
	}
}

func TestClassifiersDeterministic(t *testing.T) {
	train, test := blobs(100, 3, 3, 1.5, 4), blobs(50, 3, 3, 1.5, 5)
	for _, name := range Learners {
		var got []int
		for range 2 {
			c, _ := NewClassifier(name, 11)
			if err := c.Fit(train); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < test.N(); i++ {
				got = append(got, c.Predict(test.Row(i)))
			}
		}
		h := len(got) / 2
		for i := 0; i < h; i++ {
			if got[i] != got[h+i] {
				t.Fatalf("%s: prediction %d differs between two fits with one seed", name, i)
			}
		}
	}
}

func TestDatasetCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		ds   Dataset
	}{
		{"no rows", Dataset{D: 1, K: 1}},
		{"shape", Dataset{X: []float64{1, 2, 3}, D: 2, Y: []int32{0, 0}, K: 1}},
		{"label", Dataset{X: []float64{1}, D: 1, Y: []int32{2}, K: 2}},
		{"nan", Dataset{X: []float64{math.NaN()}, D: 1, Y: []int32{0}, K: 1}},
	} {
		if err := tc.ds.Check(); err == nil {
			t.Errorf("%s: Check accepted a bad dataset", tc.name)
		}
		for _, name := range Learners {
			c, _ := NewClassifier(name, 1)
			if err := c.Fit(&tc.ds); err == nil {
				t.Errorf("%s: %s.Fit accepted a bad dataset", tc.name, name)
			}
		}
	}
}

func TestSpearman(t *testing.T) {
	for _, tc := range []struct {
		a, b []float64
		want float64
		ok   bool
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1, true},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1, true},
		// Hand-computed: ranks (1,2,3,4,5) and (2,1,4,3,5): d² = 4, ρ = 1 − 6·4/120.
		{[]float64{1, 2, 3, 4, 5}, []float64{2, 1, 4, 3, 5}, 0.8, true},
		// Ties share ranks: (1.5,1.5,3) against (1,2,3): Pearson of ranks = √3/2.
		{[]float64{5, 5, 7}, []float64{1, 2, 3}, math.Sqrt(3) / 2, true},
		{[]float64{1, 1, 1}, []float64{1, 2, 3}, 0, false},
		{[]float64{1}, []float64{1}, 0, false},
	} {
		got, ok := Spearman(tc.a, tc.b)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Spearman(%v, %v) = %v, %v; want %v, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
}

func TestQuantile(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5}
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {1, 5}, {0.5, 3}, {0.1, 1.4}, {0.95, 4.8}} {
		if got := Quantile(s, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestChiSquareQuantile(t *testing.T) {
	// Tabulated χ² quantiles at 0.99.
	for _, tc := range []struct {
		k    int
		want float64
	}{{3, 11.345}, {6, 16.812}, {10, 23.209}, {30, 50.892}} {
		if got := ChiSquareQuantile(0.99, tc.k); math.Abs(got-tc.want)/tc.want > 0.01 {
			t.Errorf("χ²(%d) 0.99 quantile %.3f, want %.3f within 1%%", tc.k, got, tc.want)
		}
	}
}

// Each detector fitted on a Gaussian cloud flags a far point and few of
// fresh inliers.
func TestDetectors(t *testing.T) {
	rng := NewRand(9)
	const d = 4
	fit := make([]float64, 2000*d)
	for i := range fit {
		fit[i] = rng.NormFloat64()
	}
	for _, name := range Detectors {
		t.Run(name, func(t *testing.T) {
			det, err := NewDetector(name, 3)
			if err != nil {
				t.Fatal(err)
			}
			if err := det.Fit(fit, d); err != nil {
				t.Fatal(err)
			}
			if s := det.Score([]float64{8, -8, 8, 8}); s <= det.Threshold() {
				t.Errorf("far point scores %.3f, not above threshold %.3f", s, det.Threshold())
			}
			flagged := 0
			for range 1000 {
				x := []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
				if det.Score(x) > det.Threshold() {
					flagged++
				}
			}
			if flagged > 50 {
				t.Errorf("%d of 1000 fresh inliers flagged, want ≤ 50", flagged)
			}
			if err := det.Fit(nil, d); err == nil {
				t.Errorf("Fit accepted no rows")
			}
			if err := det.Fit([]float64{1, math.Inf(1), 0, 0}, d); err == nil {
				t.Errorf("Fit accepted Inf")
			}
		})
	}
}

// The pruned search must agree with brute force, including on discrete
// data where many rows tie along the sorting axis, and find exact copies.
func TestNearestDistances(t *testing.T) {
	rng := NewRand(5)
	for _, tc := range []struct {
		d, nq, nr int
		levels    int // 0: continuous values; else values in 0..levels-1
	}{{3, 50, 200, 0}, {1, 40, 100, 0}, {5, 60, 300, 3}, {2, 30, 500, 2}, {4, 20, 1, 0}} {
		q, ref := make([]float64, tc.nq*tc.d), make([]float64, tc.nr*tc.d)
		draw := func() float64 {
			if tc.levels > 0 {
				return float64(rng.IntN(tc.levels))
			}
			return rng.Float64()
		}
		for i := range q {
			q[i] = draw()
		}
		for i := range ref {
			ref[i] = draw()
		}
		copy(ref[(tc.nr/2)*tc.d:], q[:tc.d]) // query 0 has an exact copy
		got := NearestDistances(q, ref, tc.d)
		for i := 0; i < tc.nq; i++ {
			best := math.Inf(1)
			for j := 0; j < tc.nr; j++ {
				var s float64
				for f := 0; f < tc.d; f++ {
					s += (q[i*tc.d+f] - ref[j*tc.d+f]) * (q[i*tc.d+f] - ref[j*tc.d+f])
				}
				best = min(best, math.Sqrt(s))
			}
			if math.Abs(got[i]-best) > 1e-12 {
				t.Fatalf("%+v query %d: distance %v, brute force %v", tc, i, got[i], best)
			}
		}
		if got[0] != 0 {
			t.Errorf("%+v: exact copy at distance %v", tc, got[0])
		}
	}
}

func BenchmarkNearestDistances(b *testing.B) {
	rng := NewRand(1)
	const d = 14
	q, ref := make([]float64, 1000*d), make([]float64, 10000*d)
	for i := range q {
		q[i] = rng.Float64()
	}
	for i := range ref {
		ref[i] = rng.Float64()
	}
	for b.Loop() {
		NearestDistances(q, ref, d)
	}
}

func BenchmarkClassifiers(b *testing.B) {
	train := blobs(14000/3, 3, 12, 1, 1)
	for _, name := range Learners {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				c, _ := NewClassifier(name, 1)
				if err := c.Fit(train); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
