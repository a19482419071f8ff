package gan

import (
	"math"
	"math/rand/v2"
	"strconv"
	"unsafe"
)

// critAct is a critic's hidden activation. Production critics are ReLU; the
// others exist so the WGAN-GP double backward can be checked on an activation
// whose second derivative is not zero, and actTanhNo2nd is a deliberately
// wrong one (it drops f”, as gorgonia effectively does) that the gradient
// check must reject.
type critAct uint8

const (
	actReLU critAct = iota
	actLeakyReLU
	actTanh
	actTanhNo2nd
)

const leakySlope = 0.2

func (a critAct) f(z float64) float64 {
	switch a {
	case actReLU:
		return max(z, 0)
	case actLeakyReLU:
		if z > 0 {
			return z
		}
		return leakySlope * z
	}
	return math.Tanh(z)
}

func (a critAct) df(z float64) float64 {
	switch a {
	case actReLU:
		if z > 0 {
			return 1
		}
		return 0
	case actLeakyReLU:
		if z > 0 {
			return 1
		}
		return leakySlope
	}
	t := math.Tanh(z)
	return 1 - t*t
}

func (a critAct) d2f(z float64) float64 {
	if a == actTanh {
		t := math.Tanh(z)
		return -2 * t * (1 - t*t)
	}
	return 0
}

// piecewiseLinear reports whether f” is zero almost everywhere, which lets
// the penalty's weight gradient skip the second-derivative path entirely.
func (a critAct) piecewiseLinear() bool { return a == actReLU || a == actLeakyReLU }

// critic is an MLP without output activation: (layers−1)×[Linear→act] then
// Linear(1). Its WGAN-GP gradient is computed analytically; see lossGrad.
type critic[T float] struct {
	in, units int
	act       critAct
	// seq is how many leading input columns are the padded records (the
	// rest are attributes) and block the columns of one S-record block;
	// seq = 0 for a critic without records. Layer 1 works only on the
	// sequence columns up to the last block some row in the batch holds
	// ("live" columns, see liveCols), since padding is zero in real and
	// fake rows alike: a trace whose longest flow is 10× its typical one
	// (CAIDA: 347 against p99 27) otherwise spends most of every step
	// multiplying zeros (docs/gan.md, "Padding").
	seq, block int
	live       int   // sequence columns layer 1 used in the last call
	rowsLive   []int // lossGrad: each example's, for the penalty
	hidden     []*linear[T]
	out        *linear[T]

	// scratch, reused across calls
	x       []T   // rows [real; fake; x̂], later x̂ rows hold Ḡ₀
	z, h    [][]T // per hidden layer: pre-activation and activation
	dz      [][]T // per hidden layer: output-side gradients, rows as x
	y, dout []T
	v, ub   []T
	gen     genScratch[T]
	norms   []float64
}

// genScratch holds the buffers only the smooth-activation path needs.
type genScratch[T float] struct {
	v, u, gbar, zbar [][]T
}

func newCritic[T float](name string, in, units, layers int, act critAct) *critic[T] {
	c := &critic[T]{in: in, units: units, act: act}
	d := in
	for i := 0; i < layers-1; i++ {
		c.hidden = append(c.hidden, newLinear[T](name+".hidden"+strconv.Itoa(i), d, units))
		d = units
	}
	c.out = newLinear[T](name+".out", d, 1)
	return c
}

func (c *critic[T]) params() []*param[T] {
	var ps []*param[T]
	for _, l := range c.hidden {
		ps = append(ps, l.params()...)
	}
	return append(ps, c.out.params()...)
}

func (c *critic[T]) init(rng *rand.Rand) {
	for _, l := range c.hidden {
		l.initXavier(rng)
	}
	c.out.initXavier(rng)
}

func (c *critic[T]) width(k int) int { // width of H_k, H_0 being the input
	if k == 0 {
		return c.in
	}
	return c.hidden[k-1].out
}

// ensure sizes the scratch for n rows.
func (c *critic[T]) ensure(n int) {
	nl := len(c.hidden)
	if len(c.z) != nl {
		c.z, c.h, c.dz = make([][]T, nl), make([][]T, nl), make([][]T, nl)
	}
	c.x = grow(c.x, n*c.in)
	for k := 0; k < nl; k++ {
		w := c.hidden[k].out
		c.z[k] = grow(c.z[k], n*w)
		c.h[k] = grow(c.h[k], n*w)
		c.dz[k] = grow(c.dz[k], n*w)
	}
	c.y = grow(c.y, n)
	c.dout = grow(c.dout, n)
}

// hk returns H_k (k = 0 is the input rows).
func (c *critic[T]) hk(k int) []T {
	if k == 0 {
		return c.x
	}
	return c.h[k-1]
}

// rowLive returns how many leading sequence columns of one input row can be
// non-zero: whole blocks, up to the last block with a non-zero value.
// Records past a flow's end are zero in real rows (prepare) and in fake
// rows (the generator's mask), so this is the flow's padded length.
func (c *critic[T]) rowLive(x []T) int {
	j := c.seq - 1
	if xs, ok := any(x).([]float32); ok {
		j = lastNonZero32(xs[:c.seq])
	} else {
		for ; j >= 0 && x[j] == 0; j-- {
		}
	}
	if j < 0 {
		return 0
	}
	return (j/c.block + 1) * c.block
}

// lastNonZero32 returns the index of the last value of x that is not ±0,
// or -1, testing eight at a time: on a trace of long flows most of a row is
// padding past the flow's end, and scanning it one value at a time was 8%
// of a training step on CAIDA (docs/gan.md, "Padding").
func lastNonZero32(x []float32) int {
	j := len(x)
	for ; j >= 8; j -= 8 {
		w := (*[8]float32)(x[j-8 : j])
		or := math.Float32bits(w[0]) | math.Float32bits(w[1]) | math.Float32bits(w[2]) | math.Float32bits(w[3]) |
			math.Float32bits(w[4]) | math.Float32bits(w[5]) | math.Float32bits(w[6]) | math.Float32bits(w[7])
		if or<<1 != 0 { // a value other than ±0 (the sign bit shifted out)
			break
		}
	}
	for j--; j >= 0 && x[j] == 0; j-- {
	}
	return j
}

// liveCols is the largest rowLive over n rows of x.
func (c *critic[T]) liveCols(x []T, n int) int {
	k := 0
	for r := 0; r < n && k < c.seq; r++ {
		k = max(k, c.rowLive(x[r*c.in:(r+1)*c.in]))
	}
	return k
}

// biasRows sets each of n rows of z to layer 1's bias.
func (c *critic[T]) biasRows(z []T, n int) {
	l := c.hidden[0]
	for r := 0; r < n; r++ {
		copy(z[r*l.out:(r+1)*l.out], l.b.w)
	}
}

// The three layer-1 products below cover input columns [0, c.live) and
// [c.seq, c.in): what lies in between is zero in every row of the batch,
// so it adds nothing to a product with W₁, and its rows of W₁ get no
// gradient. Columns in between are neither read nor written.

// mulW1 sets y (n×units) = x·W₁ + beta·y.
func (c *critic[T]) mulW1(x []T, n int, beta T, y []T) {
	l := c.hidden[0]
	u, in, s, k := l.out, c.in, c.seq, c.live
	if k == s {
		gemm(false, false, n, u, in, 1, x, in, l.W.w, u, beta, y, u)
		return
	}
	if k > 0 {
		gemm(false, false, n, u, k, 1, x, in, l.W.w, u, beta, y, u)
		beta = 1
	}
	gemm(false, false, n, u, in-s, 1, x[s:], in, l.W.w[s*u:], u, beta, y, u)
}

// mulW1T sets v (n×in) = d·W₁ᵀ on the live columns.
func (c *critic[T]) mulW1T(d []T, n int, v []T) {
	l := c.hidden[0]
	u, in, s, k := l.out, c.in, c.seq, c.live
	if k == s {
		gemm(false, true, n, in, u, 1, d, u, l.W.w, u, 0, v, in)
		return
	}
	if k > 0 {
		gemm(false, true, n, k, u, 1, d, u, l.W.w, u, 0, v, in)
	}
	gemm(false, true, n, in-s, u, 1, d, u, l.W.w[s*u:], u, 0, v[s:], in)
}

// gradW1 adds xᵀ·d (x n×in, d n×units) to W₁'s gradient on the live rows.
func (c *critic[T]) gradW1(x []T, n int, d []T) {
	l := c.hidden[0]
	u, in, s, k := l.out, c.in, c.seq, c.live
	if k == s {
		gemm(true, false, in, u, n, 1, x, in, d, u, 1, l.W.g, u)
		return
	}
	if k > 0 {
		gemm(true, false, k, u, n, 1, x, in, d, u, 1, l.W.g, u)
	}
	gemm(true, false, in-s, u, n, 1, x[s:], in, d, u, 1, l.W.g[s*u:], u)
}

// dotLive is dot over the live columns of two input rows.
func (c *critic[T]) dotLive(a, b []T) float64 {
	return dot(a[:c.live], b[:c.live]) + dot(a[c.seq:], b[c.seq:])
}

// forward runs the n rows of c.x through the network into c.z, c.h, c.y.
func (c *critic[T]) forward(n int) {
	c.live = c.liveCols(c.x, n)
	for k, l := range c.hidden {
		if k == 0 {
			c.biasRows(c.z[0], n)
			c.mulW1(c.x, n, 1, c.z[0])
		} else {
			l.forward(c.hk(k), n, c.z[k])
		}
		c.activate(c.z[k], c.h[k])
	}
	c.out.forward(c.hk(len(c.hidden)), n, c.y)
}

func (c *critic[T]) activate(z, h []T) {
	if c.act == actReLU && unsafe.Sizeof(z[0]) == 4 {
		reluF32(f32s(z), f32s(h))
		return
	}
	if c.act == actReLU {
		for i, v := range z {
			h[i] = max(v, 0)
		}
		return
	}
	for i, v := range z {
		h[i] = T(c.act.f(float64(v)))
	}
}

// mulDeriv sets dst = g ⊙ f'(z).
func (c *critic[T]) mulDeriv(dst, g, z []T) {
	if c.act == actReLU && unsafe.Sizeof(z[0]) == 4 && len(z) > 0 {
		reluMaskF32(f32s(dst), f32s(g), f32s(z))
		return
	}
	if c.act == actReLU {
		for i, v := range z {
			if v > 0 {
				dst[i] = g[i]
			} else {
				dst[i] = 0
			}
		}
		return
	}
	for i, v := range z {
		dst[i] = g[i] * T(c.act.df(float64(v)))
	}
}

// score returns the mean critic output over n rows of x.
func (c *critic[T]) score(x []T, n int) float64 {
	c.ensure(n)
	copy(c.x, x[:n*c.in])
	c.forward(n)
	s := 0.0
	for _, v := range c.y[:n] {
		s += float64(v)
	}
	return s / float64(n)
}

// inputGrad returns mean D(x) over n rows and writes dx = scale·∂mean/∂x,
// except on the sequence columns past the last block any row holds, where
// it writes 0 (see liveCols). It touches no parameter gradient: the
// generator step only needs dx.
func (c *critic[T]) inputGrad(x []T, n int, scale float64, dx []T) float64 {
	mean := c.score(x, n)
	nl := len(c.hidden)
	s := T(scale / float64(n))
	for r := 0; r < n; r++ {
		c.dout[r] = s
	}
	// dH_L = dout·w_outᵀ, then back through the layers.
	dh := c.dz[nl-1]
	for r := 0; r < n; r++ {
		row := dh[r*c.units : (r+1)*c.units]
		for j := range row {
			row[j] = c.dout[r] * c.out.W.w[j]
		}
	}
	for k := nl; k >= 1; k-- {
		c.mulDeriv(c.dz[k-1][:n*c.width(k)], c.dz[k-1][:n*c.width(k)], c.z[k-1])
		l := c.hidden[k-1]
		if k > 1 {
			gemm(false, true, n, l.in, l.out, 1, c.dz[k-1], l.out, l.W.w, l.out, 0, c.dz[k-2], l.in)
		} else {
			c.mulW1T(c.dz[0], n, dx)
		}
	}
	// Past the batch's live blocks every row is padding, which the
	// generator masks: its gradient there is not needed, and 0 is written.
	for r := 0; r < n; r++ {
		clear(dx[r*c.in+c.live : r*c.in+c.seq])
	}
	return mean
}

// dpParams turns on per-example clipping (DP-SGD) in lossGrad.
type dpParams struct {
	clip, noise float64
	rng         *rand.Rand
}

// lossGrad evaluates the WGAN-GP critic loss
//
//	mean D(fake) − mean D(real) + λ·mean (‖∇ₓD(x̂)‖ − 1)²,  x̂ = real + α(fake − real)
//
// on b rows and adds its gradient to the parameters. It returns the
// Wasserstein estimate mean D(real) − mean D(fake) and the penalty.
//
// The penalty's gradient needs the derivative of ∇ₓD with respect to the
// weights. With z_k = H_{k−1}W_k + b_k, H_k = f(z_k) and D = H_L·w + c:
// ∇ₓD = v₀ where v_L = w, u_k = v_k ⊙ f'(z_k), v_{k−1} = u_k W_kᵀ. Pushing the
// penalty's gradient Ḡ₀ = ∂P/∂v₀ forward through that chain gives
// ∂P/∂W_k ∋ Ḡ_{k−1}ᵀu_k, Ḡ_k = (Ḡ_{k−1}W_k) ⊙ f'(z_k), ∂P/∂w = ΣḠ_L, plus, for
// curved f, a term (Ḡ_{k−1}W_k) ⊙ v_k ⊙ f”(z_k) that flows back through the
// forward pass. For ReLU f” = 0 a.e., so the penalty's weight gradient is
// just more rows in the same gemm: the x̂ rows of H_{k−1} are replaced by
// Ḡ_{k−1} and those of dZ_k by u_k, and dW_k = H_{k−1}ᵀ·dZ_k covers both.
func (c *critic[T]) lossGrad(real, fake []T, alpha []T, b int, lambda float64, dp *dpParams) (wdist, gp float64) {
	n := 3 * b
	c.ensure(n)
	in, s := c.in, c.seq
	// Each example's x̂ holds the blocks its real or its fake row holds;
	// the penalty is on the gradient over those and the attributes. Padding
	// past them is zero in both rows, for every α, and the penalty leaves
	// it out: the slope in a direction the data never moves in is not the
	// critic's Lipschitz constraint. Per example, not per batch, so that
	// an example's gradient does not depend on the others' lengths (DP-SGD
	// clips and bounds each example's gradient on its own).
	c.rowsLive = c.rowsLive[:0]
	c.live = 0
	for r := 0; r < b; r++ {
		k := max(c.rowLive(real[r*in:(r+1)*in]), c.rowLive(fake[r*in:(r+1)*in]))
		c.rowsLive = append(c.rowsLive, k)
		c.live = max(c.live, k)
	}
	xh := c.x[2*b*in : 3*b*in]
	for r := 0; r < b; r++ {
		a := alpha[r]
		for _, cols := range [2][2]int{{0, c.live}, {s, in}} {
			lo, hi := r*in+cols[0], r*in+cols[1]
			copy(c.x[lo:hi], real[lo:hi])
			copy(c.x[b*in+lo:b*in+hi], fake[lo:hi])
			for j := lo; j < hi; j++ {
				xh[j] = real[j] + a*(fake[j]-real[j])
			}
		}
	}
	// Forward. The first layer is affine, so on the x̂ rows its output is the
	// same interpolation of the real and fake rows' outputs: one gemm saved.
	l1 := c.hidden[0]
	c.biasRows(c.z[0], 2*b)
	c.mulW1(c.x, 2*b, 1, c.z[0])
	u := l1.out
	for r := 0; r < b; r++ {
		a := alpha[r]
		zr, zf, zx := c.z[0][r*u:(r+1)*u], c.z[0][(b+r)*u:(b+r+1)*u], c.z[0][(2*b+r)*u:(2*b+r+1)*u]
		for j := range zx {
			zx[j] = zr[j] + a*(zf[j]-zr[j])
		}
	}
	c.activate(c.z[0], c.h[0])
	for k := 1; k < len(c.hidden); k++ {
		c.hidden[k].forward(c.h[k-1], n, c.z[k])
		c.activate(c.z[k], c.h[k])
	}
	c.out.forward(c.hk(len(c.hidden)), n, c.y)
	for r := 0; r < b; r++ {
		wdist += float64(c.y[r]) - float64(c.y[b+r])
	}
	wdist /= float64(b)

	nl := len(c.hidden)
	curved := !c.act.piecewiseLinear()
	if curved && dp != nil {
		panic("gan: DP critic step needs a piecewise-linear activation")
	}
	c.v = grow(c.v, b*max(c.units, in))
	var v []T
	if curved {
		c.ensureGen(b)
		v = c.inputChainCurved(b)
	} else {
		// One backward pass over all 3b rows: real and fake rows carry the
		// Wasserstein term's gradient, x̂ rows start from v_L = w (dout = 1),
		// so their dz rows are u_k; the gemms are 3b rows tall instead of b
		// and 2b. The x̂ rows then go one layer further, to g = v₀.
		c.setDout(b, 1)
		c.backwardRows(n, nl)
		v = c.v[:b*in]
		c.mulW1T(c.dz[0][2*b*u:], b, v)
	}
	// v now holds g = ∇ₓD(x̂); Ḡ₀ = ∂P/∂g goes into the x̂ rows of H₀.
	g0 := xh
	if curved {
		g0 = c.gen.gbar[0]
	}
	for r := 0; r < b; r++ {
		g, dst := v[r*in:(r+1)*in], g0[r*in:(r+1)*in]
		kr := c.rowsLive[r]
		ss := 0.0
		for _, e := range g[:kr] {
			ss += float64(e) * float64(e)
		}
		for _, e := range g[s:] {
			ss += float64(e) * float64(e)
		}
		nrm := math.Sqrt(ss + 1e-8)
		gp += (nrm - 1) * (nrm - 1)
		sc := T(lambda * 2 * (nrm - 1) / nrm / float64(b))
		for j, e := range g[:kr] {
			dst[j] = sc * e
		}
		clear(dst[kr:c.live])
		for j, e := range g[s:] {
			dst[s+j] = sc * e
		}
	}
	gp /= float64(b)

	// Push Ḡ forward: Ḡ_k into the x̂ rows of H_k (or gen.gbar[k]).
	c.ub = grow(c.ub, b*c.units)
	for k := 1; k <= nl; k++ {
		l := c.hidden[k-1]
		w := l.out
		prev := c.hk(k - 1)[2*b*l.in : 3*b*l.in]
		next := c.h[k-1][2*b*w : 3*b*w]
		if curved {
			prev, next = c.gen.gbar[k-1], c.gen.gbar[k]
		}
		if k == 1 {
			c.mulW1(prev, b, 0, c.ub)
		} else {
			gemm(false, false, b, w, l.in, 1, prev, l.in, l.W.w, w, 0, c.ub, w)
		}
		zx := c.z[k-1][2*b*w : 3*b*w]
		if curved {
			zb := c.gen.zbar[k]
			for i, z := range zx {
				zb[i] = c.ub[i] * c.gen.v[k][i] * T(c.act.d2f(float64(z)))
			}
		}
		c.mulDeriv(next, c.ub, zx)
	}

	mainRows := 2 * b
	if curved {
		// x̂ rows carry the f'' term back through the forward pass.
		mainRows = n
		c.setDout(b, 0)
		c.backwardRows(n, nl)
	}

	if dp != nil {
		c.clipRows(b, dp.clip)
	}

	// Weight gradients, one gemm per layer over all rows.
	for k := 1; k <= nl; k++ {
		l := c.hidden[k-1]
		if k == 1 {
			c.gradW1(c.x, n, c.dz[0])
		} else {
			gemm(true, false, l.in, l.out, n, 1, c.hk(k-1), l.in, c.dz[k-1], l.out, 1, l.W.g, l.out)
		}
		colSumAdd(c.dz[k-1], mainRows, l.out, l.b.g)
		if curved && k == 1 {
			c.gradW1(c.gen.gbar[0], b, c.gen.u[1])
		} else if curved {
			gemm(true, false, l.in, l.out, b, 1, c.gen.gbar[k-1], l.in, c.gen.u[k], l.out, 1, l.W.g, l.out)
		}
	}
	gemm(true, false, c.units, 1, n, 1, c.hk(nl), c.units, c.dout, 1, 1, c.out.W.g, 1)
	if curved {
		colSumAdd(c.gen.gbar[nl], b, c.units, c.out.W.g)
	}
	for _, d := range c.dout[:mainRows] {
		c.out.b.g[0] += d
	}
	if dp != nil && dp.noise > 0 {
		s := dp.noise * dp.clip / float64(b)
		for _, p := range c.params() {
			for i := range p.g {
				p.g[i] += T(s * dp.rng.NormFloat64())
			}
		}
	}
	return wdist, gp
}

// toExpectedBatch rescales a DP step's gradient, the noisy sum divided by
// the batch's actual size b, to the sum divided by the expected size: with
// Poisson sampling the actual size depends on the data, so dividing by it
// would release more than the accountant counts.
func (c *critic[T]) toExpectedBatch(dp *dpParams, b, expected int) {
	if dp == nil || b == expected {
		return
	}
	s := T(float64(b) / float64(expected))
	for _, p := range c.params() {
		for i := range p.g {
			p.g[i] *= s
		}
	}
}

// setDout sets the output gradient of the Wasserstein term on the real and
// fake rows and xhat on the x̂ rows.
func (c *critic[T]) setDout(b int, xhat T) {
	for r := 0; r < b; r++ {
		c.dout[r] = T(-1 / float64(b))
		c.dout[b+r] = T(1 / float64(b))
		c.dout[2*b+r] = xhat // ReLU: H_L holds Ḡ_L there, so w gets ΣḠ_L
	}
}

// backwardRows backpropagates dout through the hidden layers for n rows,
// leaving each layer's pre-activation gradient in dz (curved activations
// add the penalty's f” term on the x̂ rows).
func (c *critic[T]) backwardRows(n, nl int) {
	b := n / 3
	dh := c.dz[nl-1]
	for r := 0; r < n; r++ {
		row := dh[r*c.units : (r+1)*c.units]
		for j := range row {
			row[j] = c.dout[r] * c.out.W.w[j]
		}
	}
	for k := nl; k >= 1; k-- {
		w := c.width(k)
		dzk := c.dz[k-1]
		c.mulDeriv(dzk[:n*w], dzk[:n*w], c.z[k-1][:n*w])
		if !c.act.piecewiseLinear() {
			for i, e := range c.gen.zbar[k] {
				dzk[2*b*w+i] += e
			}
		}
		if k > 1 {
			l := c.hidden[k-1]
			gemm(false, true, n, l.in, l.out, 1, dzk, l.out, l.W.w, l.out, 0, c.dz[k-2], l.in)
		}
	}
}

// inputChainCurved computes g = ∇ₓD on the x̂ rows for curved activations,
// keeping v_k and u_k for the f” term; it returns g.
func (c *critic[T]) inputChainCurved(b int) []T {
	nl := len(c.hidden)
	v := c.v[:b*c.units]
	for r := 0; r < b; r++ {
		copy(v[r*c.units:(r+1)*c.units], c.out.W.w)
	}
	for k := nl; k >= 1; k-- {
		w := c.width(k)
		copy(c.gen.v[k], v[:b*w])
		c.mulDeriv(c.gen.u[k], v[:b*w], c.z[k-1][2*b*w:3*b*w])
		l := c.hidden[k-1]
		v = c.v[:b*l.in]
		if k == 1 {
			c.mulW1T(c.gen.u[1], b, v)
		} else {
			gemm(false, true, b, l.in, l.out, 1, c.gen.u[k], l.out, l.W.w, l.out, 0, v, l.in)
		}
	}
	return v
}

func (c *critic[T]) ensureGen(b int) {
	nl := len(c.hidden)
	if len(c.gen.v) != nl+1 {
		c.gen = genScratch[T]{v: make([][]T, nl+1), u: make([][]T, nl+1), gbar: make([][]T, nl+1), zbar: make([][]T, nl+1)}
	}
	for k := 0; k <= nl; k++ {
		w := c.width(k)
		c.gen.v[k] = grow(c.gen.v[k], b*w)
		c.gen.gbar[k] = grow(c.gen.gbar[k], b*w)
		c.gen.u[k] = grow(c.gen.u[k], b*w)
		c.gen.zbar[k] = grow(c.gen.zbar[k], b*w)
	}
}

// exampleNorms returns each example's gradient norm of its own loss
// D(fake_i) − D(real_i) + λ(‖g_i‖−1)², read off the row factors of the
// per-layer gemms: example i owns rows i, b+i, 2b+i, and the norm of
// Σ_r a_r d_rᵀ is √Σ_{r,s}(a_r·a_s)(d_r·d_s). Row factors are of the batch
// mean, hence the factor b.
func (c *critic[T]) exampleNorms(b int) []float64 {
	c.norms = append(c.norms[:0], make([]float64, b)...)
	nl := len(c.hidden)
	for r := 0; r < b; r++ {
		rows := [3]int{r, b + r, 2*b + r}
		ss := 0.0
		for k := 1; k <= nl+1; k++ {
			var a, d []T
			var wi, wo int
			if k <= nl {
				a, d, wi, wo = c.hk(k-1), c.dz[k-1], c.width(k-1), c.width(k)
			} else {
				a, d, wi, wo = c.hk(nl), c.dout, c.units, 1
			}
			for i, ri := range rows {
				ai, di := a[ri*wi:(ri+1)*wi], d[ri*wo:(ri+1)*wo]
				for j, rj := range rows[i:] {
					aj, dj := a[rj*wi:(rj+1)*wi], d[rj*wo:(rj+1)*wo]
					var t float64
					if k == 1 {
						t = c.dotLive(ai, aj) * dot(di, dj)
					} else {
						t = dot(ai, aj) * dot(di, dj)
					}
					if j > 0 {
						t *= 2
					}
					ss += t
				}
			}
			// bias: only the real and fake rows feed it
			bs := 0.0
			for j := 0; j < wo; j++ {
				e := float64(d[rows[0]*wo+j]) + float64(d[rows[1]*wo+j])
				bs += e * e
			}
			ss += bs
		}
		c.norms[r] = math.Sqrt(ss) * float64(b)
	}
	return c.norms
}

// clipRows scales every row an example owns so its gradient norm is ≤ clip.
func (c *critic[T]) clipRows(b int, clip float64) {
	norms := c.exampleNorms(b)
	nl := len(c.hidden)
	for r, nrm := range norms {
		if nrm <= clip {
			continue
		}
		s := T(clip / nrm)
		for _, ri := range [3]int{r, b + r, 2*b + r} {
			for k := 1; k <= nl; k++ {
				w := c.width(k)
				row := c.dz[k-1][ri*w : (ri+1)*w]
				for j := range row {
					row[j] *= s
				}
			}
			c.dout[ri] *= s
		}
	}
}

// f32s views a float32-shaped slice as []float32.
func f32s[T float](x []T) []float32 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&x[0])), len(x))
}

// reluF32 and reluMaskF32 are branch-free: the sign of z is random in a
// critic, so a branch mispredicts half the time.
func reluF32(z, h []float32) {
	h = h[:len(z)]
	for i, v := range z {
		b := math.Float32bits(v)
		h[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// reluMaskF32 sets dst = g where z > 0 and 0 elsewhere (z = +0 counts as
// positive; it has probability zero).
func reluMaskF32(dst, g, z []float32) {
	dst, g = dst[:len(z)], g[:len(z)]
	for i, v := range z {
		keep := ^uint32(int32(math.Float32bits(v)) >> 31)
		dst[i] = math.Float32frombits(math.Float32bits(g[i]) & keep)
	}
}

func dot[T float](a, b []T) float64 {
	s := 0.0
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return s
}
