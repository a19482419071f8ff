package gan

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/netshare/netshare/host/internal/tensor"
)

// generator is DoppelGANger's generator: an attribute MLP with BatchNorm and
// per-output heads, and an LSTM that, conditioned on the hardened attributes,
// emits S records per step with a two-way generation flag per record.
type generator[T float] struct {
	attrSl, featSl      []slice // featSl covers a record including the flag
	A, D, F, S, H       int     // F = D + 2
	passes              int     // LSTM passes, each generating S records
	zA, zF              int
	mlp                 []*linear[T]
	bn                  []*batchNorm[T]
	attrHead            *linear[T]
	lstmX               *linear[T] // (A+zF) → 4H, with the gate biases
	lstmH               *param[T]  // H → 4H
	featHead            *linear[T] // H → S·F
	cache               genCache[T]
	attrBack, featBackG genBack[T]
	// lenBins length categories start at attribute column lenOff
	// (Config.LengthBins); 0: the flags alone end a flow. The attribute
	// MLP does not generate them: it is given them, drawn from the data's
	// distribution, as a condition after its noise (see forwardAttr).
	lenOff, lenBins, maxLen int
	// firstUnused are the feature columns whose value on a flow's first
	// record nothing reads (tensor.Output.FirstUnused): fixed at 0 there,
	// in the real data as in the generated, they are neither learned nor
	// judged.
	firstUnused []int
}

// genNoise is everything random in one generator pass, drawn up front so that
// a batch's fake samples are identical across the critic and generator
// rounds of an iteration.
type genNoise[T float] struct {
	n      int
	za, zf []T // n×zA, n×T×zF
	h0, c0 []T // n×H
}

type genCache[T float] struct {
	n        int
	attrIn   []T   // noise and length condition, side by side
	mlpIn    [][]T // input of each MLP layer
	mlpZ     [][]T // pre-ReLU
	mlpOut   []T   // output of the last BN
	attrSoft []T
	attrHard []T
	gates    []T // n×T×4H activated gates i,f,g,o
	cs, hs   []T // n×T×H
	tanhC    []T
	featAct  []T // n×Lpad×F activated
	mask     []T // n×Lpad, block level: multiplies the features
	live     int // LSTM passes before every row's mask is 0
	valid    []T // n×Lpad, record level: up to and including the end
	feat     []T // n×Lpad×F masked
	// scratch
	mlpOut2   [][]T
	attrRaw   []T
	base, raw []T
	dRaw, dG  []T
}

type genBack[T float] struct {
	a, b, c []T
}

// newGenerator builds a generator of attributes attrOut, the last lenBins
// of whose columns are length bins given as a condition (0: none).
func newGenerator[T float](cfg Config, attrOut, featOut []tensor.Output, lpad, lenBins int) *generator[T] {
	g := &generator[T]{A: tensor.Width(attrOut), D: tensor.Width(featOut), S: cfg.SampleLen, H: cfg.LSTMUnits,
		zA: cfg.AttrNoiseDim, zF: cfg.FeatNoiseDim, lenBins: lenBins}
	g.lenOff = g.A - lenBins
	g.F = g.D + 2
	g.passes = lpad / g.S
	g.attrSl = slicesOf(attrOut)
	off := 0
	for _, o := range featOut {
		for j := range o.Width {
			if o.FirstUnused {
				g.firstUnused = append(g.firstUnused, off+j)
			}
		}
		off += o.Width
	}
	flag := tensor.Output{Name: "gen_flag", Width: 2, Kind: tensor.Discrete, Activation: tensor.Softmax}
	rec := slicesOf(append(append([]tensor.Output(nil), featOut...), flag))
	for s := 0; s < g.S; s++ {
		for _, r := range rec {
			g.featSl = append(g.featSl, slice{s*g.F + r.off, r.width, r.act})
		}
	}
	in := g.zA + g.lenBins
	for i := 0; i < cfg.AttrGenLayers-1; i++ {
		g.mlp = append(g.mlp, newLinear[T]("gen.attr.hidden"+strconv.Itoa(i), in, cfg.AttrGenUnits))
		g.bn = append(g.bn, newBatchNorm[T]("gen.attr.bn"+strconv.Itoa(i), cfg.AttrGenUnits, 1e-5, 0.9))
		in = cfg.AttrGenUnits
	}
	g.attrHead = newLinear[T]("gen.attr.head", in, g.A)
	g.lstmX = newLinear[T]("gen.lstm.x", g.A+g.zF, 4*g.H)
	g.lstmH = newParam[T]("gen.lstm.h", g.H*4*g.H)
	g.featHead = newLinear[T]("gen.feat.head", g.H, g.S*g.F)
	return g
}

func (g *generator[T]) params() []*param[T] {
	var ps []*param[T]
	for i, l := range g.mlp {
		ps = append(ps, l.params()...)
		ps = append(ps, g.bn[i].gamma, g.bn[i].beta)
	}
	ps = append(ps, g.attrHead.params()...)
	ps = append(ps, g.lstmX.params()...)
	ps = append(ps, g.lstmH)
	return append(ps, g.featHead.params()...)
}

// init follows NetShare's torch port: PyTorch-default Linears, LSTM input
// weights Xavier, recurrent weights orthogonal, biases 0 but forget gate 1.
func (g *generator[T]) init(rng *rand.Rand) {
	for _, l := range g.mlp {
		l.initUniform(rng)
	}
	g.attrHead.initUniform(rng)
	g.featHead.initUniform(rng)
	// Xavier per gate block, as PyTorch's init on the stacked matrix would
	// see the stacked shape; use the per-gate fan to match Keras/TF too.
	s := math.Sqrt(6 / float64(g.A+g.zF+g.H))
	for i := range g.lstmX.W.w {
		g.lstmX.W.w[i] = T((rng.Float64()*2 - 1) * s)
	}
	clear(g.lstmX.b.w)
	for i := g.H; i < 2*g.H; i++ {
		g.lstmX.b.w[i] = 1
	}
	for q := 0; q < 4; q++ {
		o := orthogonal(g.H, rng)
		for r := 0; r < g.H; r++ {
			for c := 0; c < g.H; c++ {
				g.lstmH.w[r*4*g.H+q*g.H+c] = T(o[r*g.H+c])
			}
		}
	}
}

// orthogonal returns an n×n orthogonal matrix (Gram–Schmidt on Gaussians).
func orthogonal(n int, rng *rand.Rand) []float64 {
	m := make([]float64, n*n)
	for i := range m {
		m[i] = rng.NormFloat64()
	}
	for r := 0; r < n; r++ {
		row := m[r*n : (r+1)*n]
		for p := 0; p < r; p++ {
			prev := m[p*n : (p+1)*n]
			d := dot(row, prev)
			for j := range row {
				row[j] -= d * prev[j]
			}
		}
		nrm := math.Sqrt(dot(row, row))
		for j := range row {
			row[j] /= nrm
		}
	}
	return m
}

func (g *generator[T]) lpad() int { return g.passes * g.S }

// drawNoise fills a genNoise for n rows from rng; withAttr false skips z_a
// for generation from given attributes.
func (g *generator[T]) drawNoise(n int, rng *rand.Rand, dst *genNoise[T], withAttr bool) {
	dst.n = n
	fill := func(buf []T, k int) []T {
		buf = grow(buf, k)
		for i := range buf {
			buf[i] = T(rng.NormFloat64())
		}
		return buf
	}
	if withAttr {
		dst.za = fill(dst.za, n*g.zA)
	}
	dst.zf = fill(dst.zf, n*g.passes*g.zF)
	dst.h0 = fill(dst.h0, n*g.H)
	dst.c0 = fill(dst.c0, n*g.H)
}

// forwardAttr runs the attribute MLP and heads on noise za (n rows), and
// with length bins on their one-hot condition cond (n×lenBins) too,
// leaving soft and hard attributes in the cache. The bins' columns of
// both are cond itself: the head's outputs there are overwritten, and get
// no gradient, so the MLP learns the other attributes given the length
// (CTGAN's conditional generator; Xu et al., NeurIPS 2019).
func (g *generator[T]) forwardAttr(za, cond []T, n int, train bool) {
	c := &g.cache
	c.n = n
	if len(c.mlpIn) != len(g.mlp) {
		c.mlpIn, c.mlpZ = make([][]T, len(g.mlp)), make([][]T, len(g.mlp))
	}
	x := za
	if g.lenBins > 0 {
		w := g.zA + g.lenBins
		c.attrIn = grow(c.attrIn, n*w)
		for r := 0; r < n; r++ {
			copy(c.attrIn[r*w:], za[r*g.zA:(r+1)*g.zA])
			copy(c.attrIn[r*w+g.zA:(r+1)*w], cond[r*g.lenBins:(r+1)*g.lenBins])
		}
		x = c.attrIn
	}
	for k, l := range g.mlp {
		c.mlpIn[k] = x
		c.mlpZ[k] = grow(c.mlpZ[k], n*l.out)
		l.forward(x, n, c.mlpZ[k])
		if len(c.mlpOut2) != len(g.mlp) {
			c.mlpOut2 = make([][]T, len(g.mlp))
		}
		c.mlpOut2[k] = grow(c.mlpOut2[k], n*l.out)
		out := c.mlpOut2[k]
		for i, v := range c.mlpZ[k] {
			out[i] = max(v, 0)
		}
		g.bn[k].forward(out, n, out, train)
		x = out
	}
	c.mlpOut = x
	c.attrSoft = grow(c.attrSoft, n*g.A)
	c.attrRaw = grow(c.attrRaw, n*g.A)
	raw := c.attrRaw
	g.attrHead.forward(x, n, raw)
	activateRows(raw, n, g.A, g.attrSl, c.attrSoft)
	c.attrHard = grow(c.attrHard, n*g.A)
	harden(c.attrSoft, n, g.A, g.attrSl, c.attrHard)
	for r := 0; r < n && g.lenBins > 0; r++ {
		b := cond[r*g.lenBins : (r+1)*g.lenBins]
		copy(c.attrSoft[r*g.A+g.lenOff:(r+1)*g.A], b)
		copy(c.attrHard[r*g.A+g.lenOff:(r+1)*g.A], b)
	}
}

// forwardFeat runs the LSTM conditioned on hard attributes (n rows) with the
// noise's zf, h0, c0, leaving the masked features in the cache.
func (g *generator[T]) forwardFeat(hard []T, nz *genNoise[T]) {
	c := &g.cache
	n, H, H4, TT := nz.n, g.H, 4*g.H, g.passes
	c.gates = grow(c.gates, n*TT*H4)
	c.cs = grow(c.cs, n*TT*H)
	c.hs = grow(c.hs, n*TT*H)
	c.tanhC = grow(c.tanhC, n*TT*H)
	// Attribute part of the input projection is the same at every step.
	c.base = grow(c.base, n*H4)
	base := c.base
	for r := 0; r < n; r++ {
		copy(base[r*H4:(r+1)*H4], g.lstmX.b.w)
	}
	gemm(false, false, n, H4, g.A, 1, hard, g.A, g.lstmX.W.w, H4, 1, base, H4)
	gemm(false, false, n*TT, H4, g.zF, 1, nz.zf, g.zF, g.lstmX.W.w[g.A*H4:], H4, 0, c.gates, H4)
	for r := 0; r < n; r++ {
		br := base[r*H4 : (r+1)*H4]
		for t := 0; t < TT; t++ {
			gr := c.gates[(r*TT+t)*H4 : (r*TT+t+1)*H4]
			for j, v := range br {
				gr[j] += v
			}
		}
	}
	for t := 0; t < TT; t++ {
		hp, ldh := nz.h0, H
		if t > 0 {
			hp, ldh = c.hs[(t-1)*H:], TT*H
		}
		gemm(false, false, n, H4, H, 1, hp, ldh, g.lstmH.w, H4, 1, c.gates[t*H4:], TT*H4)
		cp, ldc := nz.c0, H
		if t > 0 {
			cp, ldc = c.cs[(t-1)*H:], TT*H
		}
		lstmCell(c.gates[t*H4:], TT*H4, cp, ldc, c.cs[t*H:], c.tanhC[t*H:], c.hs[t*H:], TT*H, n, H)
	}
	// Heads: rows (r, t) of hs map to records t·S..t·S+S−1 of flow r, so the
	// head output is the feature tensor's layout already.
	L, F := g.lpad(), g.F
	c.raw = grow(c.raw, n*L*F)
	raw := c.raw
	g.featHead.forward(c.hs, n*TT, raw)
	c.featAct = grow(c.featAct, n*L*F)
	// DoppelGANger masks whole S-blocks: a block is zeroed once an earlier
	// block held an end flag; records after the end inside the end's own
	// block stay, and learn to carry [0,1] as real padding there does.
	// valid is the record-level view: 1 up to and including the first end.
	// A row's blocks are activated only until it ends: the rest is masked,
	// and on a trace with a few long flows most of Lpad is past the end.
	c.mask = grow(c.mask, n*L)
	c.valid = grow(c.valid, n*L)
	c.feat = grow(c.feat, n*L*F)
	S, SF := g.S, g.S*F
	c.live = 0
	for r := 0; r < n; r++ {
		var v T = 1
		// With length bins the flow ends within its bin's lengths lo..hi:
		// not before lo whatever the flag says, and at hi at the latest.
		lo, hi := 1, L
		if g.lenBins > 0 {
			k := argmax(hard[r*g.A+g.lenOff : r*g.A+g.lenOff+g.lenBins])
			lo, hi = 1<<k, min(1<<(k+1)-1, g.maxLen) // the last bin ends at maxLen
		}
		t := 0
		for ; t < TT && (t == 0 || v != 0); t++ {
			o := (r*TT + t) * SF // block t of row r, in raw's (r, t) row order
			activateRows(raw[o:o+SF], 1, SF, g.featSl, c.featAct[o:o+SF])
			copy(c.feat[o:o+SF], c.featAct[o:o+SF])
			for s := t * S; s < (t+1)*S; s++ {
				c.mask[r*L+s], c.valid[r*L+s] = 1, v
				// flag [1,0] continues; argmax ties go to "continue" as numpy's do
				rec := c.featAct[(r*L+s)*F : (r*L+s+1)*F]
				if end := rec[g.D] < rec[g.D+1]; (end && s+1 >= lo) || s+1 >= hi {
					v = 0
				}
			}
		}
		// The features of records past the end are padding, zero in real
		// data; zeroing them here (docs/gan.md, "Generation flag") leaves each
		// record position's head to learn the records that exist.
		for s := 0; s < t*S; s++ {
			if c.valid[r*L+s] == 0 {
				clear(c.feat[(r*L+s)*F : (r*L+s)*F+g.D])
			}
		}
		for _, j := range g.firstUnused {
			c.feat[r*L*F+j] = 0
		}
		c.live = max(c.live, t)
		clear(c.featAct[(r*L+t*S)*F : (r+1)*L*F])
		clear(c.feat[(r*L+t*S)*F : (r+1)*L*F])
		clear(c.mask[r*L+t*S : (r+1)*L])
		clear(c.valid[r*L+t*S : (r+1)*L])
	}
}

// backward takes the loss gradients w.r.t. the masked features (n×Lpad×F)
// and the soft attributes (n×A) of the last training forward, and
// accumulates the parameter gradients.
func (g *generator[T]) backward(dFeat, dAttr []T, nz *genNoise[T]) {
	c := &g.cache
	n, H, H4, TT, L, F := c.n, g.H, 4*g.H, g.passes, g.lpad(), g.F
	// features: mask, activations, heads
	c.dRaw = grow(c.dRaw, n*L*F)
	dRaw := c.dRaw
	// The flags are masked by block, the features by record: what
	// forwardFeat zeroed has no gradient.
	for rec := range n * L {
		o, v, m := rec*F, c.valid[rec], c.mask[rec]
		for j := o; j < o+g.D; j++ {
			dRaw[j] = dFeat[j] * v
		}
		for j := o + g.D; j < o+F; j++ {
			dRaw[j] = dFeat[j] * m
		}
	}
	for r := range n {
		for _, j := range g.firstUnused {
			dRaw[r*L*F+j] = 0
		}
	}
	activationBackward(c.featAct, dRaw, n*TT, g.S*F, g.featSl)
	dHs := make([]T, n*TT*H)
	g.featHead.backward(c.hs, dRaw, n*TT, dHs)
	// BPTT; dG holds the pre-activation gate gradients for every step.
	c.dG = grow(c.dG, n*TT*H4)
	dG := c.dG
	dh := make([]T, n*H)
	dc := make([]T, n*H)
	// Passes past c.live are masked in every row: their gradient is zero,
	// and BPTT starts at the last live pass with dh = dc = 0.
	for r := 0; r < n; r++ {
		clear(dG[(r*TT+c.live)*H4 : (r+1)*TT*H4])
	}
	for t := c.live - 1; t >= 0; t-- {
		for r := 0; r < n; r++ {
			o := (r*TT + t) * H
			gr := c.gates[(r*TT+t)*H4 : (r*TT+t+1)*H4]
			dgr := dG[(r*TT+t)*H4 : (r*TT+t+1)*H4]
			var cp []T
			if t == 0 {
				cp = nz.c0[r*H : (r+1)*H]
			} else {
				cp = c.cs[o-H : o]
			}
			for j := 0; j < H; j++ {
				dhj := dHs[o+j] + dh[r*H+j]
				i, f, gg, oo := gr[j], gr[H+j], gr[2*H+j], gr[3*H+j]
				tc := c.tanhC[o+j]
				dcj := dc[r*H+j] + dhj*oo*(1-tc*tc)
				dgr[j] = dcj * gg * i * (1 - i)
				dgr[H+j] = dcj * cp[j] * f * (1 - f)
				dgr[2*H+j] = dcj * i * (1 - gg*gg)
				dgr[3*H+j] = dhj * tc * oo * (1 - oo)
				dc[r*H+j] = dcj * f
			}
		}
		// dh_{t−1} = dG_t·Whᵀ and dWh += h_{t−1}ᵀ·dG_t
		gemm(false, true, n, H, H4, 1, dG[t*H4:], TT*H4, g.lstmH.w, H4, 0, dh, H)
		hp, ldh := nz.h0, H
		if t > 0 {
			hp, ldh = c.hs[(t-1)*H:], TT*H
		}
		gemm(true, false, H, H4, n, 1, hp, ldh, dG[t*H4:], TT*H4, 1, g.lstmH.g, H4)
	}
	// input projection: noise part over all steps, attribute part on Σ_t dG
	gemm(true, false, g.zF, H4, n*TT, 1, nz.zf, g.zF, dG, H4, 1, g.lstmX.W.g[g.A*H4:], H4)
	sumT := make([]T, n*H4)
	for r := 0; r < n; r++ {
		dst := sumT[r*H4 : (r+1)*H4]
		for t := 0; t < TT; t++ {
			for j, v := range dG[(r*TT+t)*H4 : (r*TT+t+1)*H4] {
				dst[j] += v
			}
		}
	}
	gemm(true, false, g.A, H4, n, 1, c.attrHard, g.A, sumT, H4, 1, g.lstmX.W.g, H4)
	colSumAdd(sumT, n, H4, g.lstmX.b.g)

	// attributes: heads, then the MLP (the hard attributes carry no gradient)
	dA := make([]T, n*g.A)
	copy(dA, dAttr[:n*g.A])
	for r := 0; r < n && g.lenBins > 0; r++ {
		clear(dA[r*g.A+g.lenOff : (r+1)*g.A]) // the bins are the given condition
	}
	activationBackward(c.attrSoft, dA, n, g.A, g.attrSl)
	if len(g.mlp) == 0 {
		g.attrHead.backward(c.mlpOut, dA, n, nil)
		return
	}
	dx := make([]T, n*g.attrHead.in)
	g.attrHead.backward(c.mlpOut, dA, n, dx)
	for k := len(g.mlp) - 1; k >= 0; k-- {
		l := g.mlp[k]
		g.bn[k].backward(dx, n, dx)
		for i, z := range c.mlpZ[k] {
			if z <= 0 {
				dx[i] = 0
			}
		}
		var dPrev []T
		if k > 0 {
			dPrev = make([]T, n*l.in)
		}
		l.backward(c.mlpIn[k], dx, n, dPrev)
		dx = dPrev
	}
}
