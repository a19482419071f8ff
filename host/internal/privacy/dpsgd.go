package privacy

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ClipGradient scales g in place so that its L2 norm is at most c and
// returns the norm it had. A gradient already within c is left untouched.
// The norm is accumulated in float64.
func ClipGradient(g []float32, c float64) (float64, error) {
	if !(c > 0) || math.IsInf(c, 0) {
		return 0, fmt.Errorf("privacy: clip norm %v: must be positive and finite", c)
	}
	n := l2Norm(g)
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return n, fmt.Errorf("privacy: gradient norm is %v", n)
	}
	if f := clipFactor(n, c); f != 1 {
		for i := range g {
			g[i] = float32(float64(g[i]) * f)
		}
	}
	return n, nil
}

func l2Norm(g []float32) float64 {
	var s float64
	for _, v := range g {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// clipFactor is min(1, c/n). Scaling by c/n can land a hair above c after
// rounding to float32, so the factor is nudged down by a few ulps of
// float32; the result stays within c and within 1e-6 of it.
func clipFactor(n, c float64) float64 {
	if n <= c {
		return 1
	}
	return c / n * (1 - 4e-7)
}

// Sanitizer turns a batch of per-example gradients into one DP-SGD update:
// clip each to L2 norm Clip, sum, add Gaussian noise of standard deviation
// Noise·Clip to every coordinate, and divide by a denominator. It draws its
// noise from the source it was given; a seeded source makes runs
// reproducible, but a deployment that must resist an adversary who knows
// the seed should seed it from crypto/rand. A Sanitizer is not safe for
// concurrent use.
type Sanitizer struct {
	clip, noise float64
	rng         *rand.Rand
	sum         []float64
}

// NewSanitizer returns a Sanitizer with clip norm C = clip and noise
// multiplier σ = noise, drawing noise from src.
func NewSanitizer(clip, noise float64, src rand.Source) (*Sanitizer, error) {
	if !(clip > 0) || math.IsInf(clip, 0) {
		return nil, fmt.Errorf("privacy: sanitizer: clip norm %v: must be positive and finite", clip)
	}
	if !(noise >= 0) || math.IsInf(noise, 0) {
		return nil, fmt.Errorf("privacy: sanitizer: noise multiplier %v: must be non-negative and finite", noise)
	}
	if src == nil {
		return nil, fmt.Errorf("privacy: sanitizer: nil random source")
	}
	return &Sanitizer{clip: clip, noise: noise, rng: rand.New(src)}, nil
}

// Clip returns the clip norm C.
func (s *Sanitizer) Clip() float64 { return s.clip }

// Noise returns the noise multiplier σ.
func (s *Sanitizer) Noise() float64 { return s.noise }

// Sanitize writes into dst (len(dst) = d, the gradient width) the noisy
// mean of the per-example gradients in grads, a row-major matrix of
// len(grads)/d rows of width d:
//
//	dst = (Σ_rows clip(row, C) + N(0, σ²C²·I)) / denom
//
// Rows are clipped as they are summed, in float64; grads is not modified.
// The batch may be empty (Poisson sampling can draw no record): the update
// is then pure noise, and it must still be applied for the accounting to
// hold. Under Poisson sampling denom must be the expected batch size q·N,
// not the drawn size, which would itself depend on the data. A non-finite
// gradient is an error, since it cannot be clipped.
func (s *Sanitizer) Sanitize(dst, grads []float32, denom float64) error {
	d := len(dst)
	if d == 0 {
		return fmt.Errorf("privacy: sanitize: empty destination")
	}
	if len(grads)%d != 0 {
		return fmt.Errorf("privacy: sanitize: %d gradient values are not whole rows of width %d", len(grads), d)
	}
	if !(denom > 0) || math.IsInf(denom, 0) {
		return fmt.Errorf("privacy: sanitize: denominator %v: must be positive and finite", denom)
	}
	if cap(s.sum) < d {
		s.sum = make([]float64, d)
	}
	sum := s.sum[:d]
	clear(sum)
	for r := 0; r < len(grads)/d; r++ {
		row := grads[r*d : (r+1)*d]
		n := l2Norm(row)
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("privacy: sanitize: example %d: gradient norm is %v", r, n)
		}
		f := clipFactor(n, s.clip)
		for i, v := range row {
			sum[i] += float64(v) * f
		}
	}
	std := s.noise * s.clip
	for i := range sum {
		dst[i] = float32((sum[i] + std*s.rng.NormFloat64()) / denom)
	}
	return nil
}

// PoissonSampler draws DP-SGD batches the way the accountant assumes: each
// of N records joins a batch independently with probability q, so batch
// sizes vary (binomially, mean q·N). Shuffled fixed-size batches or epochs
// without replacement are a different mechanism, and the accountant's ε
// does not hold for them.
type PoissonSampler struct {
	n     int
	q     float64
	log1q float64 // log(1 − q), for geometric gaps between members
	rng   *rand.Rand
}

// NewPoissonSampler returns a sampler over records 0..n−1 at rate q,
// drawing from src.
func NewPoissonSampler(n int, q float64, src rand.Source) (*PoissonSampler, error) {
	if n < 0 {
		return nil, fmt.Errorf("privacy: poisson sampler: %d records: must be non-negative", n)
	}
	if math.IsNaN(q) || q < 0 || q > 1 {
		return nil, fmt.Errorf("privacy: poisson sampler: rate %v: must be in [0, 1]", q)
	}
	if src == nil {
		return nil, fmt.Errorf("privacy: poisson sampler: nil random source")
	}
	return &PoissonSampler{n: n, q: q, log1q: math.Log1p(-q), rng: rand.New(src)}, nil
}

// Rate returns the sampling probability q.
func (p *PoissonSampler) Rate() float64 { return p.q }

// Sample returns the indices of the next batch in increasing order,
// appended to dst[:0]. It costs O(q·N): the gap to the next member is
// drawn from the geometric distribution instead of a coin per record.
func (p *PoissonSampler) Sample(dst []int) []int {
	dst = dst[:0]
	switch {
	case p.q == 0 || p.n == 0:
		return dst
	case p.q == 1:
		for i := 0; i < p.n; i++ {
			dst = append(dst, i)
		}
		return dst
	}
	i := -1
	for {
		// P(gap > k) = (1−q)^k: skip ⌊log U / log(1−q)⌋ records, U in (0, 1].
		u := 1 - p.rng.Float64()
		skip := math.Floor(math.Log(u) / p.log1q)
		if skip >= float64(p.n-i-1) {
			return dst
		}
		i += int(skip) + 1
		dst = append(dst, i)
	}
}
