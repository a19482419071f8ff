// Package ml holds the small learners the downstream-task and privacy
// metrics share: histogram decision trees, a random forest, gradient
// boosting, logistic regression, a one-hidden-layer MLP, and the one-class
// detectors (isolation forest, Mahalanobis distance, local outlier factor),
// plus the statistics around them (standardisation, Spearman correlation,
// quantiles, nearest-neighbour distances).
//
// They are written here rather than taken from a library because they run
// inside the Wasm sandbox: pure Go, no cgo, no goroutines, no file access,
// small in code size, and bit-for-bit deterministic given a seed. Every
// learner works on a flat row-major float64 matrix so a metric can fill
// one slice from its columnar batches without per-row allocations.
package ml

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Dataset is a labelled row-major matrix: N = len(Y) rows of D features,
// and classes 0..K-1.
type Dataset struct {
	X []float64
	D int
	Y []int32
	K int
}

// N is the number of rows.
func (ds *Dataset) N() int { return len(ds.Y) }

// Row returns row i.
func (ds *Dataset) Row(i int) []float64 { return ds.X[i*ds.D : (i+1)*ds.D] }

// Check verifies the shape and label range and refuses NaN or ±Inf, which
// no learner here is defined for.
func (ds *Dataset) Check() error {
	if ds.D <= 0 {
		return fmt.Errorf("dataset has %d features", ds.D)
	}
	if len(ds.X) != len(ds.Y)*ds.D {
		return fmt.Errorf("dataset holds %d values for %d rows of %d features", len(ds.X), len(ds.Y), ds.D)
	}
	if len(ds.Y) == 0 {
		return fmt.Errorf("dataset has no rows")
	}
	if ds.K < 1 {
		return fmt.Errorf("dataset has %d classes", ds.K)
	}
	for i, y := range ds.Y {
		if y < 0 || int(y) >= ds.K {
			return fmt.Errorf("row %d: class %d outside 0..%d", i, y, ds.K-1)
		}
	}
	for i, v := range ds.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("row %d feature %d is %v", i/ds.D, i%ds.D, v)
		}
	}
	return nil
}

// NewRand returns the deterministic generator every learner draws from.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Perm returns a seeded permutation of 0..n-1.
func Perm(n int, rng *rand.Rand) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	rng.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// Scaler standardises features to zero mean and unit variance, with the
// statistics of the data it was fitted on. A constant feature keeps scale 1
// so it maps to 0 rather than dividing by zero.
type Scaler struct {
	Mean, Scale []float64
}

// FitScaler computes the per-feature mean and standard deviation of the
// row-major matrix x with d columns.
func FitScaler(x []float64, d int) *Scaler {
	s := &Scaler{Mean: make([]float64, d), Scale: make([]float64, d)}
	n := len(x) / d
	if n == 0 {
		for j := range s.Scale {
			s.Scale[j] = 1
		}
		return s
	}
	for i := 0; i < n; i++ {
		for j, v := range x[i*d : (i+1)*d] {
			s.Mean[j] += v
		}
	}
	for j := range s.Mean {
		s.Mean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		for j, v := range x[i*d : (i+1)*d] {
			dv := v - s.Mean[j]
			s.Scale[j] += dv * dv
		}
	}
	for j := range s.Scale {
		sd := math.Sqrt(s.Scale[j] / float64(n))
		if sd < 1e-12 {
			sd = 1
		}
		s.Scale[j] = sd
	}
	return s
}

// Apply returns a standardised copy of x.
func (s *Scaler) Apply(x []float64) []float64 {
	d := len(s.Mean)
	out := make([]float64, len(x))
	for i := range x {
		j := i % d
		out[i] = (x[i] - s.Mean[j]) / s.Scale[j]
	}
	return out
}

// Ranks returns the average ranks (1-based) of v, ties sharing the mean of
// the ranks they span, as Spearman's coefficient needs.
func Ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// Spearman is the rank correlation of a and b (equal lengths). ok is false
// when it is undefined: fewer than two items, or one side constant.
func Spearman(a, b []float64) (rho float64, ok bool) {
	if len(a) != len(b) || len(a) < 2 {
		return 0, false
	}
	ra, rb := Ranks(a), Ranks(b)
	return pearson(ra, rb)
}

func pearson(a, b []float64) (float64, bool) {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return 0, false
	}
	return sab / math.Sqrt(saa*sbb), true
}

// Quantile is the q-quantile of sorted (ascending, non-empty) with linear
// interpolation between order statistics (numpy's default).
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	if lo < 0 {
		return sorted[0]
	}
	f := pos - float64(lo)
	return sorted[lo]*(1-f) + sorted[lo+1]*f
}

// Accuracy is the share of rows of ds that c predicts correctly.
func Accuracy(c Classifier, ds *Dataset) float64 {
	if ds.N() == 0 {
		return 0
	}
	hit := 0
	for i := 0; i < ds.N(); i++ {
		if c.Predict(ds.Row(i)) == int(ds.Y[i]) {
			hit++
		}
	}
	return float64(hit) / float64(ds.N())
}
