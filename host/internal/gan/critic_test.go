package gan

import (
	"math"
	"math/rand/v2"
	"testing"
)

// critFixture is a small float64 critic with a batch of real, fake and α.
type critFixture struct {
	c                 *critic[float64]
	real, fake, alpha []float64
	b                 int
	live              []int // padded fixture: each example's live sequence columns
}

func newCritFixture(act critAct, seed uint64) *critFixture {
	return newCritFixtureIn(act, seed, 5, 0, 0)
}

// Padded fixture: 4 blocks of 2 columns, then 3 attribute columns; the
// rows' flows hold padLens blocks (real, fake per example), so the batch
// uses 3 of the 4 blocks and examples fewer than that.
const padBlocks, padBlock, padAttrs = 4, 2, 3

var padLens = [][2]int{{1, 2}, {3, 1}, {0, 1}, {1, 1}}

func newPaddedFixture(act critAct, seed uint64) *critFixture {
	f := newCritFixtureIn(act, seed, padBlocks*padBlock+padAttrs, padBlocks*padBlock, padBlock)
	in := f.c.in
	for r, lens := range padLens {
		clear(f.real[r*in+lens[0]*padBlock : r*in+f.c.seq])
		clear(f.fake[r*in+lens[1]*padBlock : r*in+f.c.seq])
		f.live = append(f.live, max(lens[0], lens[1])*padBlock)
	}
	return f
}

func newCritFixtureIn(act critAct, seed uint64, in, seq, block int) *critFixture {
	rng := rand.New(rand.NewPCG(seed, 1))
	const units, layers, b = 7, 4, 4
	c := newCritic[float64]("d", in, units, layers, act)
	c.seq, c.block = seq, block
	c.init(rng)
	for _, l := range c.hidden { // non-zero biases so every term is exercised
		for i := range l.b.w {
			l.b.w[i] = rng.NormFloat64() * 0.3
		}
	}
	c.out.b.w[0] = 0.1
	f := &critFixture{c: c, b: b}
	for i := 0; i < b*in; i++ {
		f.real = append(f.real, rng.NormFloat64())
		f.fake = append(f.fake, rng.NormFloat64())
	}
	for i := 0; i < b; i++ {
		f.alpha = append(f.alpha, rng.Float64())
	}
	return f
}

const testLambda = 10

func (f *critFixture) loss() float64 {
	zeroGrads(f.c.params())
	w, gp := f.c.lossGrad(f.real, f.fake, f.alpha, f.b, testLambda, nil)
	return -w + testLambda*gp
}

// fdError returns the largest relative difference between the analytic
// gradient of the WGAN-GP loss and central finite differences, measured with
// the true activation (f) even when the analytic path uses a mutant f”.
func fdError(t *testing.T, f *critFixture, trueAct critAct) float64 {
	t.Helper()
	zeroGrads(f.c.params())
	f.c.lossGrad(f.real, f.fake, f.alpha, f.b, testLambda, nil)
	var analytic [][]float64
	for _, p := range f.c.params() {
		analytic = append(analytic, append([]float64(nil), p.g...))
	}
	mutant := f.c.act
	f.c.act = trueAct
	defer func() { f.c.act = mutant }()
	const h = 1e-6
	worst := 0.0
	for pi, p := range f.c.params() {
		for i := range p.w {
			w0 := p.w[i]
			p.w[i] = w0 + h
			lp := f.loss()
			p.w[i] = w0 - h
			lm := f.loss()
			p.w[i] = w0
			num := (lp - lm) / (2 * h)
			a := analytic[pi][i]
			worst = max(worst, math.Abs(a-num)/(math.Abs(a)+math.Abs(num)+1e-4))
		}
	}
	return worst
}

// TestCriticGradientPenaltyFD checks the analytic WGAN-GP weight gradient
// (which includes the double backward) against finite differences, and shows
// that dropping f” — the bug gorgonia has for tanh and sigmoid — is caught.
func TestCriticGradientPenaltyFD(t *testing.T) {
	cases := []struct {
		name    string
		act     critAct // what the analytic gradient uses
		trueAct critAct // what the finite differences use
		wantOK  bool
	}{
		{"relu", actReLU, actReLU, true},
		{"leaky-relu", actLeakyReLU, actLeakyReLU, true},
		{"tanh", actTanh, actTanh, true},
		{"tanh-without-second-derivative", actTanhNo2nd, actTanh, false},
	}
	fixtures := []struct {
		name string
		make func(critAct, uint64) *critFixture
	}{{"dense", newCritFixture}, {"padded", newPaddedFixture}}
	for _, tc := range cases {
		for _, fx := range fixtures {
			t.Run(tc.name+"/"+fx.name, func(t *testing.T) {
				for seed := uint64(1); seed <= 3; seed++ {
					f := fx.make(tc.act, seed)
					// the penalty must actually matter for the check to mean anything
					_, gp := f.c.lossGrad(f.real, f.fake, f.alpha, f.b, testLambda, nil)
					if gp < 1e-3 {
						t.Fatalf("seed %d: penalty %g too small to test", seed, gp)
					}
					// The loss itself, from the critic's outputs alone: a mistake
					// that changed loss and gradient alike would pass the FD check.
					checkLossValue(t, f)
					err := fdError(t, f, tc.trueAct)
					if tc.wantOK && err > 1e-5 {
						t.Errorf("seed %d: analytic vs finite-difference relative error %.3g", seed, err)
					}
					if !tc.wantOK && err < 1e-2 {
						t.Errorf("seed %d: wrong second derivative not detected (error %.3g)", seed, err)
					}
				}
			})
		}
	}
}

// checkLossValue recomputes the Wasserstein estimate and the penalty from
// critic outputs only, with ∇ₓD(x̂) by finite differences.
func checkLossValue(t *testing.T, f *critFixture) {
	t.Helper()
	c, in := f.c, f.c.in
	zeroGrads(c.params())
	w, gp := c.lossGrad(f.real, f.fake, f.alpha, f.b, testLambda, nil)
	wantW := c.score(f.real, f.b) - c.score(f.fake, f.b)
	wantGP := 0.0
	const h = 1e-6
	for r := 0; r < f.b; r++ {
		x := make([]float64, in)
		for j := range x {
			x[j] = f.real[r*in+j] + f.alpha[r]*(f.fake[r*in+j]-f.real[r*in+j])
		}
		ss := 0.0
		for j := range x {
			if f.live != nil && j >= f.live[r] && j < c.seq {
				continue // padding of both rows: not in the penalty
			}
			x0 := x[j]
			x[j] = x0 + h
			p := c.score(x, 1)
			x[j] = x0 - h
			m := c.score(x, 1)
			x[j] = x0
			g := (p - m) / (2 * h)
			ss += g * g
		}
		n := math.Sqrt(ss + 1e-8)
		wantGP += (n - 1) * (n - 1) / float64(f.b)
	}
	if math.Abs(w-wantW) > 1e-9*(1+math.Abs(wantW)) || math.Abs(gp-wantGP) > 1e-6*(1+wantGP) {
		t.Fatalf("loss terms: wasserstein %g, penalty %g; from the critic's outputs %g, %g", w, gp, wantW, wantGP)
	}
}

// TestCriticInputGradFD checks the generator-side gradient ∂mean D/∂x, and
// that on a padded batch it is 0 past the blocks any fake row holds.
func TestLastNonZero32(t *testing.T) {
	negZero, nan := float32(math.Copysign(0, -1)), float32(math.NaN())
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 40 {
		for _, tc := range []struct {
			name string
			set  func(x []float32)
		}{
			{"zeros", func([]float32) {}},
			{"negative zeros", func(x []float32) {
				for i := range x {
					x[i] = negZero
				}
			}},
			{"one value", func(x []float32) { x[rng.IntN(len(x))] = 1e-30 }},
			{"nan", func(x []float32) { x[rng.IntN(len(x))] = nan }},
			{"random", func(x []float32) {
				for i := range x {
					if rng.IntN(4) == 0 {
						x[i] = float32(rng.NormFloat64())
					}
				}
			}},
		} {
			if n == 0 && tc.name != "zeros" {
				continue
			}
			x := make([]float32, n)
			tc.set(x)
			want := n - 1
			for ; want >= 0 && x[want] == 0; want-- {
			}
			if got := lastNonZero32(x); got != want {
				t.Errorf("%s, n=%d: lastNonZero32 = %d, want %d (%v)", tc.name, n, got, want, x)
			}
		}
	}
}

func TestCriticInputGradFD(t *testing.T) {
	for _, f := range []*critFixture{newCritFixture(actReLU, 7), newPaddedFixture(actReLU, 7)} {
		checkInputGrad(t, f)
	}
}

func checkInputGrad(t *testing.T, f *critFixture) {
	t.Helper()
	n, in := f.b, f.c.in
	dx := make([]float64, len(f.fake))
	for i := range dx {
		dx[i] = math.NaN() // every element must be written
	}
	f.c.inputGrad(f.fake, n, -2, dx)
	live := 0
	for r := 0; r < n; r++ {
		live = max(live, f.c.rowLive(f.fake[r*in:(r+1)*in]))
	}
	if want := 2 * padBlock; f.live != nil && live != want { // the longest fake row: 2 blocks
		t.Fatalf("fake rows live over %d columns, fixture says %d", live, want)
	}
	const h = 1e-6
	for i := range f.fake {
		if j := i % in; j >= live && j < f.c.seq {
			if dx[i] != 0 {
				t.Fatalf("dx[%d] = %g past the live blocks, want 0", i, dx[i])
			}
			continue
		}
		x0 := f.fake[i]
		f.fake[i] = x0 + h
		lp := f.c.score(f.fake, n)
		f.fake[i] = x0 - h
		lm := f.c.score(f.fake, n)
		f.fake[i] = x0
		num := -2 * (lp - lm) / (2 * h)
		if math.Abs(num-dx[i]) > 1e-6*(1+math.Abs(num)) {
			t.Fatalf("dx[%d] = %g, finite difference %g", i, dx[i], num)
		}
	}
}

// TestCriticDPClipping checks the per-example norms read off the gemm rows
// against per-example gradients computed one example at a time, and that
// after clipping every example's gradient has norm ≤ C and the summed
// gradient is Σ min(1, C/‖g_i‖)·g_i / b.
func TestCriticDPClipping(t *testing.T) {
	for _, f := range []*critFixture{newCritFixture(actReLU, 11), newPaddedFixture(actReLU, 11)} {
		checkDPClipping(t, f)
	}
}

// checkDPClipping: on the padded fixture the examples differ in length, so
// it also shows an example's gradient does not depend on the others'.
func checkDPClipping(t *testing.T, f *critFixture) {
	t.Helper()
	b, in := f.b, f.c.in
	var per [][]float64
	var norms []float64
	for i := 0; i < b; i++ {
		zeroGrads(f.c.params())
		f.c.lossGrad(f.real[i*in:(i+1)*in], f.fake[i*in:(i+1)*in], f.alpha[i:i+1], 1, testLambda, nil)
		var g []float64
		for _, p := range f.c.params() {
			g = append(g, p.g...)
		}
		per = append(per, g)
		norms = append(norms, math.Sqrt(dot(g, g)))
	}
	zeroGrads(f.c.params())
	f.c.lossGrad(f.real, f.fake, f.alpha, b, testLambda, nil)
	got := f.c.exampleNorms(b)
	for i := range norms {
		if math.Abs(got[i]-norms[i]) > 1e-9*norms[i] {
			t.Fatalf("example %d: norm from rows %g, direct %g", i, got[i], norms[i])
		}
	}
	// a clip below some norms and above others
	clip := (slicesMin(norms) + slicesMax(norms)) / 2
	zeroGrads(f.c.params())
	f.c.lossGrad(f.real, f.fake, f.alpha, b, testLambda, &dpParams{clip: clip})
	for i, nrm := range f.c.exampleNorms(b) {
		if nrm > clip*(1+1e-12) {
			t.Errorf("example %d: clipped norm %g > C = %g", i, nrm, clip)
		}
	}
	var sum []float64
	for _, p := range f.c.params() {
		sum = append(sum, p.g...)
	}
	for j := range sum {
		want := 0.0
		for i := range per {
			want += per[i][j] * min(1, clip/norms[i]) / float64(b)
		}
		if math.Abs(sum[j]-want) > 1e-9*(1+math.Abs(want)) {
			t.Fatalf("clipped gradient[%d] = %g, want %g", j, sum[j], want)
		}
	}
}

func slicesMin(x []float64) float64 {
	m := x[0]
	for _, v := range x {
		m = min(m, v)
	}
	return m
}

func slicesMax(x []float64) float64 {
	m := x[0]
	for _, v := range x {
		m = max(m, v)
	}
	return m
}
