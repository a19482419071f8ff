// Package dist holds the distribution arithmetic the builtin metrics share:
// Jensen–Shannon divergence, the 1-D earth mover's distance with scipy's
// semantics, and the downsampled curves the report plots. It is pure Go and
// allocation-conscious because it runs inside the Wasm module.
package dist

import (
	"math"
	"sort"
)

// MaxCurvePoints bounds the points of every CDF series a metric returns,
// so a report stays small whatever the trace size.
const MaxCurvePoints = 200

// JSD is the Jensen–Shannon divergence, natural log, of the distributions
// proportional to p and q (equal lengths, non-negative, neither all zero):
// ½·KL(P‖M) + ½·KL(Q‖M) with M = ½(P+Q). It equals
// scipy.spatial.distance.jensenshannon(p, q)**2 and lies in [0, ln 2].
func JSD(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp <= 0 || sq <= 0 {
		return math.NaN()
	}
	var d float64
	for i := range p {
		a, b := p[i]/sp, q[i]/sq
		m := (a + b) / 2
		if a > 0 {
			d += a * math.Log(a/m)
		}
		if b > 0 {
			d += b * math.Log(b/m)
		}
	}
	d /= 2
	// Rounding can push identical distributions a hair below zero.
	return max(d, 0)
}

// EMD is the 1-D Wasserstein-1 distance between the empirical
// distributions of u and v, which must both be sorted ascending and
// non-empty: ∫|F_u(x) − F_v(x)| dx, exactly what
// scipy.stats.wasserstein_distance(u, v) computes. The CDF difference is
// kept as an integer (i·m − j·n) so that large traces lose no precision to
// repeated division.
func EMD(u, v []float64) float64 {
	n, m := len(u), len(v)
	if n == 0 || m == 0 {
		return math.NaN()
	}
	var sum float64
	i, j := 0, 0
	cur := min(u[0], v[0])
	for {
		for i < n && u[i] <= cur {
			i++
		}
		for j < m && v[j] <= cur {
			j++
		}
		var next float64
		switch {
		case i < n && j < m:
			next = min(u[i], v[j])
		case i < n:
			next = u[i]
		case j < m:
			next = v[j]
		default:
			return sum / (float64(n) * float64(m))
		}
		diff := int64(i)*int64(m) - int64(j)*int64(n)
		if diff < 0 {
			diff = -diff
		}
		sum += float64(diff) * (next - cur)
		cur = next
	}
}

// CDF samples the empirical CDFs of the sorted samples u and v at no more
// than MaxCurvePoints x positions: quantiles of the pooled sample, so the
// points follow the mass of the data whatever its scale. fu[k] and fv[k]
// are the fractions of u and v that are ≤ x[k].
func CDF(u, v []float64) (x, fu, fv []float64) {
	total := len(u) + len(v)
	if total == 0 {
		return nil, nil, nil
	}
	// Walk the merge of u and v once, picking the pooled order statistics
	// at evenly spaced ranks.
	npts := min(MaxCurvePoints, total)
	x = make([]float64, 0, npts)
	i, j := 0, 0
	for p := 0; p < npts; p++ {
		k := 0
		if npts > 1 {
			k = int(math.Round(float64(p) * float64(total-1) / float64(npts-1)))
		}
		var xv float64
		for {
			takeU := j >= len(v) || (i < len(u) && u[i] <= v[j])
			if takeU {
				xv = u[i]
			} else {
				xv = v[j]
			}
			if i+j == k {
				break
			}
			if takeU {
				i++
			} else {
				j++
			}
		}
		if len(x) == 0 || xv > x[len(x)-1] {
			x = append(x, xv)
		}
	}
	fu = make([]float64, len(x))
	fv = make([]float64, len(x))
	for k, xv := range x {
		if len(u) > 0 {
			fu[k] = float64(searchAfter(u, xv)) / float64(len(u))
		}
		if len(v) > 0 {
			fv[k] = float64(searchAfter(v, xv)) / float64(len(v))
		}
	}
	return x, fu, fv
}

// searchAfter is the number of elements of the sorted s that are ≤ x.
func searchAfter(s []float64, x float64) int {
	return sort.Search(len(s), func(i int) bool { return s[i] > x })
}

// RankCurve turns two popularity vectors (counts sorted descending) into
// cumulative shares by rank, sampled at no more than MaxCurvePoints ranks
// spaced evenly on a log scale: the top ranks, where most traffic sits,
// get the most points. x[k] is a 1-based rank; fr[k] and fs[k] are the
// shares of all records held by the x[k] most popular values.
func RankCurve(real, syn []float64) (x, fr, fs []float64) {
	n := max(len(real), len(syn))
	if n == 0 {
		return nil, nil, nil
	}
	cum := func(c []float64) []float64 {
		out := make([]float64, len(c))
		var s float64
		for i, v := range c {
			s += v
			out[i] = s
		}
		if s > 0 {
			for i := range out {
				out[i] /= s
			}
		}
		return out
	}
	cr, cs := cum(real), cum(syn)
	at := func(c []float64, rank int) float64 {
		if len(c) == 0 {
			return 0
		}
		return c[min(rank, len(c))-1]
	}
	npts := min(MaxCurvePoints, n)
	for p := 0; p < npts; p++ {
		r := 1
		if npts > 1 {
			r = int(math.Round(math.Exp(float64(p) * math.Log(float64(n)) / float64(npts-1))))
		}
		r = min(max(r, 1), n)
		if len(x) > 0 && float64(r) <= x[len(x)-1] {
			continue
		}
		x = append(x, float64(r))
		fr = append(fr, at(cr, r))
		fs = append(fs, at(cs, r))
	}
	if x[len(x)-1] != float64(n) { // always show where both curves reach 1
		x = append(x, float64(n))
		fr = append(fr, at(cr, n))
		fs = append(fs, at(cs, n))
	}
	return x, fr, fs
}
