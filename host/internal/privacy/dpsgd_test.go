package privacy

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestClipGradient(t *testing.T) {
	tests := []struct {
		name     string
		g        []float32
		c        float64
		wantNorm float64
		want     []float32 // nil: only check the norm bound and direction
	}{
		{"inside is untouched", []float32{0.3, 0.4}, 1, 0.5, []float32{0.3, 0.4}},
		{"on the boundary is untouched", []float32{3, 4}, 5, 5, []float32{3, 4}},
		{"outside is scaled", []float32{3, 4}, 1, 5, []float32{0.6, 0.8}},
		{"zero", []float32{0, 0, 0}, 1, 0, []float32{0, 0, 0}},
		{"huge", []float32{1e30, -1e30, 1e30}, 0.5, math.Sqrt(3) * 1e30, nil},
		{"tiny clip", []float32{1, 2, 3, 4}, 1e-6, math.Sqrt(30), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := slices.Clone(tt.g)
			n, err := ClipGradient(g, tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if !near(n, tt.wantNorm, 1e-6, 0) {
				t.Errorf("returned norm %v, want %v", n, tt.wantNorm)
			}
			if after := l2Norm(g); after > tt.c {
				t.Errorf("norm after clipping %v above %v", after, tt.c)
			}
			for i := range g {
				if tt.want != nil && !near(float64(g[i]), float64(tt.want[i]), 1e-6, 0) {
					t.Errorf("g = %v, want %v", g, tt.want)
					break
				}
				if math.Signbit(float64(g[i])) != math.Signbit(float64(tt.g[i])) {
					t.Errorf("direction changed: %v from %v", g, tt.g)
					break
				}
			}
		})
	}
	for _, c := range []float64{0, -1, math.Inf(1), math.NaN()} {
		if _, err := ClipGradient([]float32{1}, c); err == nil {
			t.Errorf("clip %v: no error", c)
		}
	}
	if _, err := ClipGradient([]float32{1, float32(math.NaN())}, 1); err == nil {
		t.Error("NaN gradient: no error")
	}
}

// TestClipBoundsEveryExample clips many random gradients of wildly varying
// scale and checks every one ends within C.
func TestClipBoundsEveryExample(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []float64{1e-3, 0.1, 1, 1.5, 100} {
		for k := 0; k < 2000; k++ {
			g := make([]float32, 1+rng.IntN(300))
			scale := math.Pow(10, rng.Float64()*12-6)
			for i := range g {
				g[i] = float32(rng.NormFloat64() * scale)
			}
			before := l2Norm(g)
			if _, err := ClipGradient(g, c); err != nil {
				t.Fatal(err)
			}
			after := l2Norm(g)
			if after > c {
				t.Fatalf("C=%v: norm %v clipped to %v", c, before, after)
			}
			if before > c && after < c*(1-1e-5) {
				t.Fatalf("C=%v: norm %v clipped to %v, far inside the ball", c, before, after)
			}
		}
	}
}

func TestSanitizeWithoutNoiseIsClippedMean(t *testing.T) {
	const d = 7
	rng := rand.New(rand.NewPCG(3, 4))
	grads := make([]float32, 5*d)
	for i := range grads {
		grads[i] = float32(rng.NormFloat64() * 3)
	}
	orig := slices.Clone(grads)
	s, err := NewSanitizer(1.5, 0, rand.NewPCG(5, 6))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, d)
	if err := s.Sanitize(dst, grads, 4); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(grads, orig) {
		t.Error("Sanitize modified its input")
	}
	want := make([]float64, d)
	for r := 0; r < 5; r++ {
		row := slices.Clone(orig[r*d : (r+1)*d])
		if _, err := ClipGradient(row, 1.5); err != nil {
			t.Fatal(err)
		}
		for i, v := range row {
			want[i] += float64(v) / 4
		}
	}
	for i := range dst {
		if !near(float64(dst[i]), want[i], 1e-5, 1e-6) {
			t.Fatalf("dst = %v, want %v", dst, want)
		}
	}
}

// TestSanitizeSensitivity checks that one example, however large its
// gradient, moves the noiseless sum by at most C.
func TestSanitizeSensitivity(t *testing.T) {
	const d, c = 4, 2.0
	base := []float32{0.1, -0.2, 0.3, 0.05, 1, 1, 1, 1}
	s, err := NewSanitizer(c, 0, rand.NewPCG(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	without := make([]float32, d)
	if err := s.Sanitize(without, base, 1); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]float32{{1e20, 0, 0, 0}, {-3, 4, 12, 0}, {0.1, 0.1, 0.1, 0.1}} {
		with := make([]float32, d)
		if err := s.Sanitize(with, append(slices.Clone(base), extra...), 1); err != nil {
			t.Fatal(err)
		}
		var diff float64
		for i := range with {
			x := float64(with[i]) - float64(without[i])
			diff += x * x
		}
		if math.Sqrt(diff) > c*(1+1e-6) {
			t.Errorf("adding %v moved the sum by %v > C = %v", extra, math.Sqrt(diff), c)
		}
	}
}

// TestSanitizeNoiseStd checks the added noise statistically: on zero
// gradients the output is pure noise with standard deviation σC/B.
func TestSanitizeNoiseStd(t *testing.T) {
	for _, tt := range []struct{ clip, noise, denom float64 }{
		{1, 1.3, 150},
		{1.5, 0.7, 100},
		{0.1, 4, 1},
	} {
		const d = 200000
		s, err := NewSanitizer(tt.clip, tt.noise, rand.NewPCG(42, 7))
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float32, d)
		if err := s.Sanitize(dst, make([]float32, 3*d), tt.denom); err != nil {
			t.Fatal(err)
		}
		want := tt.noise * tt.clip / tt.denom
		var sum, sq float64
		within := 0
		for _, v := range dst {
			x := float64(v)
			sum += x
			sq += x * x
			if math.Abs(x) <= want {
				within++
			}
		}
		mean := sum / d
		std := math.Sqrt(sq/d - mean*mean)
		// Standard errors: mean σ/√n, std σ/√(2n); allow 5 of each.
		if math.Abs(mean) > 5*want/math.Sqrt(d) {
			t.Errorf("%+v: noise mean %v, want 0 ± %v", tt, mean, 5*want/math.Sqrt(d))
		}
		if math.Abs(std-want) > 5*want/math.Sqrt(2*d) {
			t.Errorf("%+v: noise std %v, want %v ± %v", tt, std, want, 5*want/math.Sqrt(2*d))
		}
		// Gaussian, not merely the right variance: 68.27% within one std.
		if frac := float64(within) / d; math.Abs(frac-0.6827) > 0.005 {
			t.Errorf("%+v: %.4f of the noise within one std, want 0.6827", tt, frac)
		}
	}
}

func TestSanitizeSeeded(t *testing.T) {
	grads := []float32{1, 2, 3, 4, 5, 6}
	out := func(seed uint64) []float32 {
		s, err := NewSanitizer(1, 1, rand.NewPCG(seed, 0))
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float32, 3)
		if err := s.Sanitize(dst, grads, 2); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	if a, b := out(9), out(9); !slices.Equal(a, b) {
		t.Errorf("same seed, different noise: %v, %v", a, b)
	}
	if a, b := out(9), out(10); slices.Equal(a, b) {
		t.Errorf("different seeds, same noise: %v", a)
	}
}

func TestSanitizeEmptyBatchIsNoise(t *testing.T) {
	s, err := NewSanitizer(1, 1, rand.NewPCG(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 16)
	if err := s.Sanitize(dst, nil, 10); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(dst, func(v float32) bool { return v != 0 }) {
		t.Error("empty batch released no noise")
	}
}

func TestSanitizeRejectsBadInput(t *testing.T) {
	for _, tt := range []struct {
		name         string
		clip, noise  float64
		nilSource    bool
		wantCtorFail bool
	}{
		{"zero clip", 0, 1, false, true},
		{"infinite clip", math.Inf(1), 1, false, true},
		{"negative noise", 1, -1, false, true},
		{"NaN noise", 1, math.NaN(), false, true},
		{"nil source", 1, 1, true, true},
	} {
		var src rand.Source = rand.NewPCG(1, 1)
		if tt.nilSource {
			src = nil
		}
		if _, err := NewSanitizer(tt.clip, tt.noise, src); (err != nil) != tt.wantCtorFail {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
	s, _ := NewSanitizer(1, 1, rand.NewPCG(1, 1))
	for _, tt := range []struct {
		name  string
		dst   []float32
		grads []float32
		denom float64
	}{
		{"empty dst", nil, []float32{1}, 1},
		{"ragged rows", make([]float32, 3), make([]float32, 4), 1},
		{"zero denominator", make([]float32, 2), make([]float32, 4), 0},
		{"NaN gradient", make([]float32, 2), []float32{1, float32(math.NaN())}, 1},
		{"infinite gradient", make([]float32, 2), []float32{float32(math.Inf(1)), 0}, 1},
	} {
		if err := s.Sanitize(tt.dst, tt.grads, tt.denom); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// TestPoissonSampler checks the sampling the accountant assumes: batch
// sizes binomial with mean qN and variance qN(1−q), every record equally
// likely, indices sorted, distinct and in range.
func TestPoissonSampler(t *testing.T) {
	for _, tt := range []struct {
		n int
		q float64
	}{
		{10000, 0.01},
		{60000, 0.0025},
		{500, 0.3},
	} {
		const batches = 3000
		p, err := NewPoissonSampler(tt.n, tt.q, rand.NewPCG(11, 12))
		if err != nil {
			t.Fatal(err)
		}
		if p.Rate() != tt.q {
			t.Errorf("Rate() = %v", p.Rate())
		}
		const buckets = 10
		hits := make([]float64, buckets)
		var sum, sq float64
		var batch []int
		for b := 0; b < batches; b++ {
			batch = p.Sample(batch)
			for i, idx := range batch {
				if idx < 0 || idx >= tt.n || (i > 0 && idx <= batch[i-1]) {
					t.Fatalf("batch %v: not sorted distinct indices in [0, %d)", batch, tt.n)
				}
				hits[idx*buckets/tt.n]++
			}
			k := float64(len(batch))
			sum += k
			sq += k * k
		}
		mean := sum / batches
		variance := sq/batches - mean*mean
		wantMean := tt.q * float64(tt.n)
		wantVar := wantMean * (1 - tt.q)
		if math.Abs(mean-wantMean) > 5*math.Sqrt(wantVar/batches) {
			t.Errorf("N=%d q=%v: mean batch %v, want %v", tt.n, tt.q, mean, wantMean)
		}
		// A fixed-size sampler would have variance 0; allow 15% (5 SE).
		if math.Abs(variance-wantVar) > 0.15*wantVar {
			t.Errorf("N=%d q=%v: batch size variance %v, want %v", tt.n, tt.q, variance, wantVar)
		}
		perBucket := wantMean * batches / buckets
		for i, h := range hits {
			if math.Abs(h-perBucket) > 5*math.Sqrt(perBucket) {
				t.Errorf("N=%d q=%v: bucket %d drew %v, want %v", tt.n, tt.q, i, h, perBucket)
			}
		}
	}
}

func TestPoissonSamplerEdges(t *testing.T) {
	all, _ := NewPoissonSampler(5, 1, rand.NewPCG(1, 1))
	if got := all.Sample(nil); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("q=1: %v", got)
	}
	none, _ := NewPoissonSampler(5, 0, rand.NewPCG(1, 1))
	if got := none.Sample([]int{7}); len(got) != 0 {
		t.Errorf("q=0: %v", got)
	}
	empty, _ := NewPoissonSampler(0, 0.5, rand.NewPCG(1, 1))
	if got := empty.Sample(nil); len(got) != 0 {
		t.Errorf("N=0: %v", got)
	}
	a, _ := NewPoissonSampler(1000, 0.05, rand.NewPCG(3, 3))
	b, _ := NewPoissonSampler(1000, 0.05, rand.NewPCG(3, 3))
	if x, y := a.Sample(nil), b.Sample(nil); !slices.Equal(x, y) {
		t.Errorf("same seed, different batches: %v, %v", x, y)
	}
	for _, tt := range []struct {
		n   int
		q   float64
		src rand.Source
	}{
		{-1, 0.1, rand.NewPCG(1, 1)},
		{10, -0.1, rand.NewPCG(1, 1)},
		{10, 1.5, rand.NewPCG(1, 1)},
		{10, math.NaN(), rand.NewPCG(1, 1)},
		{10, 0.1, nil},
	} {
		if _, err := NewPoissonSampler(tt.n, tt.q, tt.src); err == nil {
			t.Errorf("N=%d q=%v: no error", tt.n, tt.q)
		}
	}
}
