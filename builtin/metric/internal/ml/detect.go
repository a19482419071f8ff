package ml

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Detector is a one-class anomaly detector: Fit on unlabelled rows, then
// Score a row; the row is anomalous when its score exceeds Threshold,
// a fixed rule of the detector (not a quantile of the fitted data), so the
// share of anomalies it finds is a property of the data it sees.
type Detector interface {
	Fit(x []float64, d int) error
	Score(x []float64) float64
	Threshold() float64
}

// Detectors names the detectors NewDetector builds, in report order.
var Detectors = []string{"iforest", "mahalanobis", "lof"}

// NewDetector returns the named detector with its documented settings.
func NewDetector(name string, seed uint64) (Detector, error) {
	switch name {
	case "iforest":
		return &IForest{Trees: 100, Sample: 256, Cut: 0.6, Seed: seed}, nil
	case "mahalanobis":
		return &Mahalanobis{Level: 0.99}, nil
	case "lof":
		return &LOF{K: 20, Cut: 1.5, MaxFit: 1000, Seed: seed}, nil
	}
	return nil, fmt.Errorf("unknown detector %q (known: %s)", name, strings.Join(Detectors, ", "))
}

func checkRows(x []float64, d int) error {
	if d <= 0 || len(x)%d != 0 {
		return fmt.Errorf("%d values are not rows of %d features", len(x), d)
	}
	if len(x) == 0 {
		return fmt.Errorf("no rows to fit")
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("row %d feature %d is %v", i/d, i%d, v)
		}
	}
	return nil
}

// IForest is Liu et al.'s isolation forest. Score is 2^(−E[h(x)]/c(ψ)) in
// (0, 1]; the paper reads scores well above 0.5 as anomalies, and Cut is
// that line.
type IForest struct {
	Trees, Sample int
	Cut           float64
	Seed          uint64
	ts            [][]isoNode
	c             float64
}

type isoNode struct {
	feat        int32 // −1: leaf
	left, right int32
	thr         float64
	size        int32
}

// Fit grows the trees on subsamples of ψ rows.
func (f *IForest) Fit(x []float64, d int) error {
	if err := checkRows(x, d); err != nil {
		return err
	}
	n := len(x) / d
	psi := min(f.Sample, n)
	f.c = avgPath(psi)
	limit := int(math.Ceil(math.Log2(float64(max(psi, 2)))))
	rng := NewRand(f.Seed)
	f.ts = nil
	idx := make([]int32, psi)
	for range f.Trees {
		// Sample without replacement: a partial shuffle of all rows.
		perm := Perm(n, rng)
		copy(idx, perm[:psi])
		f.ts = append(f.ts, isoGrow(x, d, idx, limit, rng))
	}
	return nil
}

// isoGrow grows one isolation tree over rows idx of x: random splits on
// random non-constant features until a row is alone or the depth limit.
func isoGrow(x []float64, d int, idx []int32, limit int, rng *rand.Rand) []isoNode {
	var nodes []isoNode
	var rec func(idx []int32, depth int) int32
	rec = func(idx []int32, depth int) int32 {
		id := int32(len(nodes))
		nodes = append(nodes, isoNode{feat: -1, size: int32(len(idx))})
		if depth >= limit || len(idx) <= 1 {
			return id
		}
		// Pick a feature that is not constant on this node, trying each at
		// most once in a random order.
		start := rng.IntN(d)
		for t := 0; t < d; t++ {
			f := (start + t) % d
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, r := range idx {
				v := x[int(r)*d+f]
				lo, hi = min(lo, v), max(hi, v)
			}
			if lo == hi {
				continue
			}
			thr := lo + rng.Float64()*(hi-lo)
			i, j := 0, len(idx)-1
			for i <= j {
				if x[int(idx[i])*d+f] < thr {
					i++
				} else {
					idx[i], idx[j] = idx[j], idx[i]
					j--
				}
			}
			l := rec(idx[:i], depth+1)
			r := rec(idx[i:], depth+1)
			nodes[id].feat, nodes[id].thr, nodes[id].left, nodes[id].right = int32(f), thr, l, r
			return id
		}
		return id
	}
	rec(idx, 0)
	return nodes
}

// avgPath is c(n), the mean path length of an unsuccessful search in a
// binary search tree of n nodes, which normalises isolation depths.
func avgPath(n int) float64 {
	if n <= 1 {
		return 0
	}
	if n == 2 {
		return 1
	}
	h := math.Log(float64(n-1)) + 0.5772156649
	return 2*h - 2*float64(n-1)/float64(n)
}

// Score is the anomaly score of x.
func (f *IForest) Score(x []float64) float64 {
	var sum float64
	for _, t := range f.ts {
		i, depth := int32(0), 0.0
		for t[i].feat >= 0 {
			if x[t[i].feat] < t[i].thr {
				i = t[i].left
			} else {
				i = t[i].right
			}
			depth++
		}
		sum += depth + avgPath(int(t[i].size))
	}
	if f.c == 0 {
		return 0.5
	}
	return math.Pow(2, -sum/float64(len(f.ts))/f.c)
}

func (f *IForest) Threshold() float64 { return f.Cut }

// Mahalanobis scores the squared Mahalanobis distance from the fitted mean
// under the fitted covariance (with a small ridge so constant features do
// not make it singular). Under a Gaussian the score is χ²(d); Threshold is
// its Level quantile, by the Wilson–Hilferty approximation.
type Mahalanobis struct {
	Level float64
	mean  []float64
	chol  []float64 // lower-triangular Cholesky factor, d×d
	d     int
	tmp   []float64
}

// Fit estimates the mean and covariance.
func (m *Mahalanobis) Fit(x []float64, d int) error {
	if err := checkRows(x, d); err != nil {
		return err
	}
	n := len(x) / d
	m.d = d
	m.mean = make([]float64, d)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			m.mean[j] += x[i*d+j]
		}
	}
	for j := range m.mean {
		m.mean[j] /= float64(n)
	}
	cov := make([]float64, d*d)
	for i := 0; i < n; i++ {
		r := x[i*d : (i+1)*d]
		for a := 0; a < d; a++ {
			da := r[a] - m.mean[a]
			for b := 0; b <= a; b++ {
				cov[a*d+b] += da * (r[b] - m.mean[b])
			}
		}
	}
	var tr float64
	for a := 0; a < d; a++ {
		tr += cov[a*d+a] / float64(n)
	}
	ridge := 1e-6*tr/float64(d) + 1e-12
	for a := 0; a < d; a++ {
		for b := 0; b <= a; b++ {
			cov[a*d+b] /= float64(n)
		}
		cov[a*d+a] += ridge
	}
	// Cholesky in place on the lower triangle.
	for a := 0; a < d; a++ {
		for b := 0; b <= a; b++ {
			s := cov[a*d+b]
			for k := 0; k < b; k++ {
				s -= cov[a*d+k] * cov[b*d+k]
			}
			if a == b {
				if s <= 0 {
					s = ridge
				}
				cov[a*d+a] = math.Sqrt(s)
			} else {
				cov[a*d+b] = s / cov[b*d+b]
			}
		}
	}
	m.chol = cov
	m.tmp = make([]float64, d)
	return nil
}

// Score is the squared distance of x: ‖L⁻¹(x−μ)‖².
func (m *Mahalanobis) Score(x []float64) float64 {
	d := m.d
	var s float64
	for a := 0; a < d; a++ {
		v := x[a] - m.mean[a]
		for k := 0; k < a; k++ {
			v -= m.chol[a*d+k] * m.tmp[k]
		}
		v /= m.chol[a*d+a]
		m.tmp[a] = v
		s += v * v
	}
	return s
}

func (m *Mahalanobis) Threshold() float64 { return ChiSquareQuantile(m.Level, m.d) }

// ChiSquareQuantile approximates the p-quantile of χ² with k degrees of
// freedom (Wilson–Hilferty; within about 1% for k ≥ 3 at p = 0.99).
func ChiSquareQuantile(p float64, k int) float64 {
	z := normalQuantile(p)
	kf := float64(k)
	c := 2 / (9 * kf)
	v := 1 - c + z*math.Sqrt(c)
	return kf * v * v * v
}

// normalQuantile inverts the standard normal CDF by bisection on Erf,
// which is plenty for a handful of calls.
func normalQuantile(p float64) float64 {
	lo, hi := -10.0, 10.0
	for range 100 {
		mid := (lo + hi) / 2
		if 0.5*(1+math.Erf(mid/math.Sqrt2)) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// LOF is Breunig et al.'s local outlier factor in novelty mode: a query's
// local reachability density against its K nearest fitted rows. A score
// near 1 is an inlier; Cut is the line above which a row is an outlier.
// The fitted set is capped at MaxFit rows (a seeded sample) because the
// neighbour search is brute force.
type LOF struct {
	K, MaxFit int
	Cut       float64
	Seed      uint64
	x         []float64
	d         int
	kdist     []float64
	lrd       []float64
	nbr       []int32
	dist      []float64
}

// Fit stores the rows and their k-distances and densities.
func (l *LOF) Fit(x []float64, d int) error {
	if err := checkRows(x, d); err != nil {
		return err
	}
	n := len(x) / d
	if n > l.MaxFit && l.MaxFit > 0 {
		p := Perm(n, NewRand(l.Seed))[:l.MaxFit]
		slices.Sort(p)
		sub := make([]float64, 0, len(p)*d)
		for _, r := range p {
			sub = append(sub, x[int(r)*d:int(r)*d+d]...)
		}
		x, n = sub, len(p)
	}
	l.x, l.d = x, d
	k := min(l.K, n-1)
	if k < 1 {
		return fmt.Errorf("lof needs at least 2 rows, have %d", n)
	}
	l.K = k
	nbrs := make([]int32, n*k)
	dists := make([]float64, n*k)
	l.kdist = make([]float64, n)
	for i := 0; i < n; i++ {
		l.knn(x[i*d:(i+1)*d], i, nbrs[i*k:(i+1)*k], dists[i*k:(i+1)*k])
		l.kdist[i] = dists[i*k+k-1]
	}
	l.lrd = make([]float64, n)
	for i := 0; i < n; i++ {
		l.lrd[i] = l.density(nbrs[i*k:(i+1)*k], dists[i*k:(i+1)*k])
	}
	l.nbr, l.dist = make([]int32, k), make([]float64, k)
	return nil
}

// knn fills nb and ds with the k nearest fitted rows of q (excluding row
// skip), nearest first, by insertion into a sorted list.
func (l *LOF) knn(q []float64, skip int, nb []int32, ds []float64) {
	k, d := len(nb), l.d
	cnt := 0
	for j := 0; j*d < len(l.x); j++ {
		if j == skip {
			continue
		}
		r := l.x[j*d : (j+1)*d]
		var s float64
		for f, v := range q {
			dv := v - r[f]
			s += dv * dv
		}
		if cnt == k && s >= ds[k-1] {
			continue
		}
		pos := min(cnt, k-1)
		for pos > 0 && ds[pos-1] > s {
			ds[pos], nb[pos] = ds[pos-1], nb[pos-1]
			pos--
		}
		ds[pos], nb[pos] = s, int32(j)
		if cnt < k {
			cnt++
		}
	}
	for i := range ds {
		ds[i] = math.Sqrt(ds[i])
	}
}

// density is the local reachability density from neighbours nb at
// distances ds: 1 / mean reach-dist, reach-dist = max(k-dist(o), d).
func (l *LOF) density(nb []int32, ds []float64) float64 {
	var s float64
	for i, o := range nb {
		s += max(l.kdist[o], ds[i])
	}
	// Duplicates make the density infinite; a tiny floor keeps ratios finite.
	return float64(len(nb)) / max(s, 1e-12)
}

// Score is the local outlier factor of q.
func (l *LOF) Score(q []float64) float64 {
	l.knn(q, -1, l.nbr, l.dist)
	lrd := l.density(l.nbr, l.dist)
	var s float64
	for _, o := range l.nbr {
		s += l.lrd[o]
	}
	return s / float64(len(l.nbr)) / lrd
}

func (l *LOF) Threshold() float64 { return l.Cut }

// NearestDistances returns, for every row of q, the Euclidean distance to
// its nearest row of ref (both row-major with d features). It is exact but
// prunes: ref is sorted along its feature of largest variance, each query scans
// outwards from its place in that order and stops once the gap along that
// feature alone exceeds the best distance so far, and a candidate is
// dropped as soon as its partial sum does.
func NearestDistances(q, ref []float64, d int) []float64 {
	nq, nr := len(q)/d, len(ref)/d
	out := make([]float64, nq)
	if nr == 0 {
		for i := range out {
			out[i] = math.Inf(1)
		}
		return out
	}
	// The axis of largest variance spreads the rows most evenly; range
	// would pick a feature with few distinct values and prune little.
	sc := FitScaler(ref, d)
	axis := 0
	for f := range sc.Scale {
		if sc.Scale[f] > sc.Scale[axis] {
			axis = f
		}
	}
	order := make([]int32, nr)
	key := make([]float64, nr)
	for j := range order {
		order[j] = int32(j)
	}
	slices.SortFunc(order, func(a, b int32) int {
		x, y := ref[int(a)*d+axis], ref[int(b)*d+axis]
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return int(a - b)
	})
	// Sorted copies keep the scan's memory access sequential.
	sorted := make([]float64, len(ref))
	for j, r := range order {
		copy(sorted[j*d:(j+1)*d], ref[int(r)*d:int(r)*d+d])
		key[j] = sorted[j*d+axis]
	}
	// The scan is written without calls: in Wasm every Go call costs a
	// trampoline through the goroutine stack kept in linear memory.
	for i := 0; i < nq; i++ {
		qi := q[i*d : (i+1)*d]
		qa := qi[axis]
		best := math.Inf(1)
		start, _ := slices.BinarySearch(key, qa)
		lo, hi := start-1, start
		for best > 0 {
			// Take the nearer side along the axis; stop when neither side
			// can hold a closer row.
			var j int
			gl, gh := math.Inf(1), math.Inf(1)
			if lo >= 0 {
				gl = qa - key[lo]
			}
			if hi < nr {
				gh = key[hi] - qa
			}
			if gh <= gl {
				if gh*gh >= best {
					break
				}
				j = hi
				hi++
			} else {
				if gl*gl >= best {
					break
				}
				j = lo
				lo--
			}
			r := sorted[j*d : (j+1)*d]
			var s float64
			for f, v := range qi {
				dv := v - r[f]
				s += dv * dv
				if s >= best {
					break
				}
			}
			if s < best {
				best = s
			}
		}
		out[i] = math.Sqrt(best)
	}
	return out
}
