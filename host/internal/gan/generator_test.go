package gan

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/netshare/netshare/host/internal/tensor"
)

func smallOutputs() (attr, feat []tensor.Output) {
	attr = []tensor.Output{
		{Name: "cat", Width: 3, Kind: tensor.Discrete, Activation: tensor.Softmax},
		{Name: "s", Width: 1, Kind: tensor.Continuous, Activation: tensor.Sigmoid},
		{Name: "t", Width: 2, Kind: tensor.Continuous, Activation: tensor.Tanh},
	}
	feat = []tensor.Output{
		{Name: "x", Width: 1, Kind: tensor.Continuous, Activation: tensor.Sigmoid},
		{Name: "k", Width: 2, Kind: tensor.Discrete, Activation: tensor.Softmax},
		{Name: "y", Width: 1, Kind: tensor.Continuous, Activation: tensor.Tanh},
	}
	return attr, feat
}

// TestGeneratorGradFD checks every generator parameter's gradient (MLP with
// BatchNorm, attribute heads, LSTM, feature heads) against finite
// differences of a random linear functional of its outputs.
func TestGeneratorGradFD(t *testing.T) {
	cases := []struct {
		layers, lpad int
		endBias      float64 // added to every record's end flag
		bins         bool    // length bins as the MLP's condition
		unused       bool    // feature y is FirstUnused
	}{{1, 6, 0, false, false}, {3, 6, 0, false, true}, {3, 16, 0.5, false, true}, {1, 6, 0, true, false}, {3, 16, 0, true, true}}
	for _, tc := range cases {
		layers := tc.layers
		name := "attr_gen_layers=" + strconv.Itoa(layers) + "/lpad=" + strconv.Itoa(tc.lpad)
		if tc.bins {
			name += "/bins"
		}
		if tc.unused {
			name += "/first_unused"
		}
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.AttrNoiseDim, cfg.FeatNoiseDim = 3, 2
			cfg.AttrGenLayers, cfg.AttrGenUnits = layers, 6
			cfg.LSTMUnits, cfg.SampleLen = 4, 2
			ao, fo := smallOutputs()
			fo[2].FirstUnused = tc.unused
			nb := 0
			if tc.bins {
				nb = bits.Len(uint(tc.lpad))
				ao = append(ao, tensor.Output{Name: "bins", Width: nb, Kind: tensor.Discrete, Activation: tensor.Softmax})
			}
			g := newGenerator[float64](cfg, ao, fo, tc.lpad, nb)
			g.maxLen = tc.lpad
			rng := rand.New(rand.NewPCG(3, 4))
			g.init(rng)
			for i := 0; i < g.S; i++ {
				g.featHead.b.w[i*g.F+g.D+1] += tc.endBias
			}
			var nz genNoise[float64]
			const n = 5
			g.drawNoise(n, rng, &nz, true)
			cond := make([]float64, n*nb)
			for r := 0; r < n && nb > 0; r++ {
				cond[r*nb+rng.IntN(nb)] = 1
			}
			wf := make([]float64, n*g.lpad()*g.F)
			wa := make([]float64, n*g.A)
			for i := range wf {
				wf[i] = rng.NormFloat64()
			}
			for i := range wa {
				wa[i] = rng.NormFloat64()
			}
			// The hard attributes condition the LSTM without gradient (they are
			// detached, as in DoppelGANger), so hold them fixed for the check.
			g.forwardAttr(nz.za, cond, n, true)
			hard := append([]float64(nil), g.cache.attrHard...)
			loss := func() float64 {
				g.forwardAttr(nz.za, cond, n, true)
				copy(g.cache.attrHard, hard)
				g.forwardFeat(hard, &nz)
				return dot(wf, g.cache.feat) + dot(wa, g.cache.attrSoft)
			}
			zeroGrads(g.params())
			loss()
			valid := 0.0
			for _, m := range g.cache.mask {
				valid += m
			}
			if valid <= n {
				t.Fatalf("only %g valid records: the LSTM path would go untested", valid)
			}
			// With the longer padding every flow ends before the last pass,
			// so BPTT starts early; the check must cover that path too.
			if tc.endBias != 0 && g.cache.live >= g.passes {
				t.Fatalf("%d of %d passes live: want fewer", g.cache.live, g.passes)
			}
			// Scratch left over from an earlier batch must not leak in.
			g.cache.dG = make([]float64, n*g.passes*4*g.H)
			for i := range g.cache.dG {
				g.cache.dG[i] = math.NaN()
			}
			g.backward(wf, wa, &nz)
			const h = 1e-6
			for _, p := range g.params() {
				analytic := append([]float64(nil), p.g...)
				for i := range p.w {
					w0 := p.w[i]
					p.w[i] = w0 + h
					lp := loss()
					p.w[i] = w0 - h
					lm := loss()
					p.w[i] = w0
					num := (lp - lm) / (2 * h)
					if !(math.Abs(num-analytic[i]) <= 1e-5*(1+math.Abs(num))) { // NaN fails too
						t.Fatalf("%s[%d]: analytic %g, finite difference %g", p.name, i, analytic[i], num)
					}
				}
			}
		})
	}
}
