// Package privacy accounts for the differential privacy of DP-SGD training.
// The DP-SGD step itself (Poisson batches, per-example clipping, Gaussian
// noise from crypto/rand) lives where the gradients are, in the GAN's
// critics (host/internal/gan: critic.go, dprand.go); docs/privacy.md says
// why.
//
// The accountant works in Rényi differential privacy (RDP): each mechanism
// is described by its RDP ε(α) on a fixed grid of orders α, mechanisms
// compose by adding those vectors, and the total is converted to an (ε, δ)
// guarantee at the end. The DP-SGD step is the sampled Gaussian mechanism
// (Mironov, Talwar, Zhang 2019): every record joins a batch independently
// with probability q (Poisson sampling), each per-example gradient is clipped
// to L2 norm C, and Gaussian noise of standard deviation σC is added to the
// sum. The accountant's numbers hold only for that sampling scheme.
//
// The package depends only on the standard library. docs/privacy.md explains
// the accounting choices (critics, chunks, the noisy flow count).
package privacy

import (
	"fmt"
	"math"
	"slices"
)

// DefaultOrders returns NetShare's grid of RDP orders: 1.25 to 4.5 in steps
// of 0.25 or 0.5, every integer from 5 to 63, and 128, 256, 512. The caller
// owns the returned slice.
func DefaultOrders() []float64 {
	orders := []float64{1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5}
	for a := 5; a <= 63; a++ {
		orders = append(orders, float64(a))
	}
	return append(orders, 128, 256, 512)
}

// checkOrders reports whether orders is a usable grid: non-empty, every
// order finite and above 1.
func checkOrders(orders []float64) error {
	if len(orders) == 0 {
		return fmt.Errorf("privacy: no RDP orders")
	}
	for _, a := range orders {
		if !(a > 1) || math.IsInf(a, 0) {
			return fmt.Errorf("privacy: RDP order %v: must be finite and above 1", a)
		}
	}
	return nil
}

// SampledGaussianRDP returns the RDP at order alpha of one step of the
// sampled Gaussian mechanism: Poisson sampling with rate q, then the Gaussian
// mechanism with noise multiplier sigma. It is exact (up to floating point)
// for every order above 1: the binomial expansion for integer orders and
// the two-series expansion for fractional ones (Mironov, Talwar, Zhang 2019,
// §3.3), both summed in log space. Where the fractional series would need
// more than 200,000 terms (q near ½, σ of tens or more, α near 1: RDP
// there is tiny and such orders never attain the optimum), it returns the
// exact value at ⌈α⌉ instead, a valid upper bound since RDP does not
// decrease with the order.
//
// Special cases: q = 0 gives 0; q = 1 gives the plain Gaussian α/(2σ²);
// sigma = 0 with q > 0 gives +Inf.
func SampledGaussianRDP(q, sigma, alpha float64) (float64, error) {
	switch {
	case math.IsNaN(q) || q < 0 || q > 1:
		return 0, fmt.Errorf("privacy: sample rate %v: must be in [0, 1]", q)
	case math.IsNaN(sigma) || sigma < 0:
		return 0, fmt.Errorf("privacy: noise multiplier %v: must be non-negative", sigma)
	case !(alpha > 1) || math.IsInf(alpha, 0):
		return 0, fmt.Errorf("privacy: RDP order %v: must be finite and above 1", alpha)
	}
	switch {
	case q == 0 || math.IsInf(sigma, 1):
		return 0, nil
	case sigma == 0:
		return math.Inf(1), nil
	case q == 1:
		return alpha / (2 * sigma * sigma), nil
	}
	if alpha == math.Floor(alpha) {
		return logAInt(q, sigma, int(alpha)) / (alpha - 1), nil
	}
	if logA, ok := logAFrac(q, sigma, alpha); ok {
		return logA / (alpha - 1), nil
	}
	// The series converges too slowly (q near ½ with very large σ, where
	// the RDP is tiny anyway). RDP does not decrease with the order, so the
	// next integer order's exact value is a valid upper bound.
	up := math.Ceil(alpha)
	return logAInt(q, sigma, int(up)) / (up - 1), nil
}

// SampledGaussianRDPs returns the RDP of steps steps of the sampled Gaussian
// mechanism at each of orders. Steps compose additively.
func SampledGaussianRDPs(q, sigma float64, steps int, orders []float64) ([]float64, error) {
	if steps < 0 {
		return nil, fmt.Errorf("privacy: %d steps: must be non-negative", steps)
	}
	if err := checkOrders(orders); err != nil {
		return nil, err
	}
	out := make([]float64, len(orders))
	for i, a := range orders {
		r, err := SampledGaussianRDP(q, sigma, a)
		if err != nil {
			return nil, fmt.Errorf("sampled Gaussian q=%v σ=%v: %w", q, sigma, err)
		}
		out[i] = scale(r, steps)
	}
	return out, nil
}

// scale multiplies an RDP value by a count, keeping 0·Inf at 0 (no step of
// an infinitely costly mechanism costs nothing).
func scale(r float64, k int) float64 {
	if k == 0 {
		return 0
	}
	return r * float64(k)
}

// logAInt returns log A_α for integer α ≥ 2, where
// A_α = Σ_{i=0}^{α} C(α,i) q^i (1−q)^{α−i} exp((i²−i)/(2σ²)).
func logAInt(q, sigma float64, alpha int) float64 {
	logQ, log1Q := math.Log(q), math.Log1p(-q)
	twoVar := 2 * sigma * sigma
	terms := make([]float64, alpha+1)
	for i := 0; i <= alpha; i++ {
		fi := float64(i)
		terms[i] = logBinomInt(alpha, i) + fi*logQ + float64(alpha-i)*log1Q + (fi*fi-fi)/twoVar
	}
	return logSumExp(terms)
}

// maxFracTerms bounds the series for fractional orders. Past the order its
// terms decay polynomially, so with q near ½ and a very large σ it can need
// millions of terms; SampledGaussianRDP then falls back to an upper bound.
const maxFracTerms = 200_000

// logAFrac returns log A_α for fractional α as the sum of two convergent
// series (Mironov, Talwar, Zhang 2019, §3.3): with z0 = σ² log(1/q − 1) + ½,
//
//	A_α = Σ_i C(α,i) q^i (1−q)^{α−i} e^{(i²−i)/(2σ²)} ½ erfc((i−z0)/(√2σ))
//	    + Σ_i C(α,i) q^{α−i} (1−q)^i e^{((α−i)²−(α−i))/(2σ²)} ½ erfc((z0−(α−i))/(√2σ)).
//
// The binomial coefficients change sign once i exceeds α, so the terms are
// accumulated as signed log magnitudes. It reports false when the series
// has not converged within maxFracTerms terms or sums to a non-positive
// value (which only rounding could cause).
func logAFrac(q, sigma, alpha float64) (float64, bool) {
	logQ, log1Q := math.Log(q), math.Log1p(-q)
	twoVar := 2 * sigma * sigma
	z0 := sigma*sigma*(math.Log(1/q-1)) + 0.5
	rt2s := math.Sqrt2 * sigma
	var a0, a1 signedLog
	a0.l, a1.l = math.Inf(-1), math.Inf(-1)
	// log|C(α,i)| and its sign, updated term to term:
	// C(α,i+1) = C(α,i)·(α−i)/(i+1). α is not an integer, so α−i ≠ 0.
	lc, sign := 0.0, 1.0
	for i := 0; i < maxFracTerms; i++ {
		fi := float64(i)
		j := alpha - fi
		if i > 0 {
			lc += math.Log(math.Abs(j+1)) - math.Log(fi)
			if j+1 < 0 {
				sign = -sign
			}
		}
		t0 := lc + fi*logQ + j*log1Q + (fi*fi-fi)/twoVar + math.Log(0.5) + logErfc((fi-z0)/rt2s)
		t1 := lc + j*logQ + fi*log1Q + (j*j-j)/twoVar + math.Log(0.5) + logErfc((z0-j)/rt2s)
		a0 = a0.add(sign, t0)
		a1 = a1.add(sign, t1)
		// Past the order the terms shrink monotonically; stop once both are
		// negligible next to the running sums (A_α ≥ 1, so log A_α ≥ 0).
		if fi > alpha && math.Max(t0, t1) < math.Max(0, math.Max(a0.l, a1.l))-40 {
			s := a0.add(a1.s, a1.l)
			return s.l, s.s > 0
		}
	}
	return 0, false
}

// signedLog is s·e^l with s in {−1, 0, +1}; s = 0 (the zero value) is 0.
type signedLog struct {
	s float64
	l float64
}

func (x signedLog) add(s, l float64) signedLog {
	if math.IsInf(l, -1) || s == 0 {
		return x
	}
	if x.s == 0 || math.IsInf(x.l, -1) {
		return signedLog{s, l}
	}
	if x.s == s {
		return signedLog{s, logAdd(x.l, l)}
	}
	// Opposite signs: the larger magnitude keeps its sign.
	switch {
	case x.l > l:
		return signedLog{x.s, x.l + math.Log1p(-math.Exp(l-x.l))}
	case l > x.l:
		return signedLog{s, l + math.Log1p(-math.Exp(x.l-l))}
	}
	return signedLog{0, math.Inf(-1)}
}

// logAdd returns log(e^a + e^b).
func logAdd(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// logSumExp returns log Σ e^x over xs.
func logSumExp(xs []float64) float64 {
	m := slices.Max(xs)
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, x := range xs {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// logBinomInt returns log C(n, k) for 0 ≤ k ≤ n.
func logBinomInt(n, k int) float64 {
	a, _ := math.Lgamma(float64(n) + 1)
	b, _ := math.Lgamma(float64(k) + 1)
	c, _ := math.Lgamma(float64(n-k) + 1)
	return a - b - c
}

// logErfc returns log(erfc(x)) without underflow for large x. Below 25
// math.Erfc is accurate and far from underflow; above, the asymptotic
// expansion erfc(x) = e^{−x²}/(x√π)·(1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶) + …)
// is accurate to far below float64 precision.
func logErfc(x float64) float64 {
	if x < 25 {
		return math.Log(math.Erfc(x))
	}
	u := 1 / (2 * x * x)
	series := 1 - u + 3*u*u - 15*u*u*u + 105*u*u*u*u
	return -x*x - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(series)
}
