package gan

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"unsafe"
)

// param is one trainable tensor with its gradient, stored row-major.
type param[T float] struct {
	name string
	w, g []T
}

func newParam[T float](name string, n int) *param[T] {
	return &param[T]{name: name, w: make([]T, n), g: make([]T, n)}
}

// linear is y = x·W + b with W stored in×out so that a batch is one gemm.
type linear[T float] struct {
	in, out int
	W, b    *param[T]
}

func newLinear[T float](name string, in, out int) *linear[T] {
	return &linear[T]{in: in, out: out, W: newParam[T](name+".W", in*out), b: newParam[T](name+".b", out)}
}

func (l *linear[T]) params() []*param[T] { return []*param[T]{l.W, l.b} }

// forward writes y = x·W + b for n rows.
func (l *linear[T]) forward(x []T, n int, y []T) {
	for r := 0; r < n; r++ {
		copy(y[r*l.out:(r+1)*l.out], l.b.w)
	}
	gemm(false, false, n, l.out, l.in, 1, x, l.in, l.W.w, l.out, 1, y, l.out)
}

// backward accumulates W and b gradients from dy (n rows) and, if dx is not
// nil, writes the input gradient.
func (l *linear[T]) backward(x, dy []T, n int, dx []T) {
	gemm(true, false, l.in, l.out, n, 1, x, l.in, dy, l.out, 1, l.W.g, l.out)
	colSumAdd(dy, n, l.out, l.b.g)
	if dx != nil {
		gemm(false, true, n, l.in, l.out, 1, dy, l.out, l.W.w, l.out, 0, dx, l.in)
	}
}

// initUniform draws W and b from U(-1/√in, 1/√in), PyTorch's Linear default,
// which is what NetShare's generator layers end up with.
func (l *linear[T]) initUniform(rng *rand.Rand) {
	s := 1 / math.Sqrt(float64(l.in))
	for i := range l.W.w {
		l.W.w[i] = T((rng.Float64()*2 - 1) * s)
	}
	for i := range l.b.w {
		l.b.w[i] = T((rng.Float64()*2 - 1) * s)
	}
}

// initXavier draws W from Xavier-uniform and zeroes b (NetShare's critics).
func (l *linear[T]) initXavier(rng *rand.Rand) {
	s := math.Sqrt(6 / float64(l.in+l.out))
	for i := range l.W.w {
		l.W.w[i] = T((rng.Float64()*2 - 1) * s)
	}
	clear(l.b.w)
}

func colSumAdd[T float](x []T, n, c int, dst []T) {
	for r := 0; r < n; r++ {
		row := x[r*c : (r+1)*c]
		for j, v := range row {
			dst[j] += v
		}
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// grow returns a slice of length n, reusing buf's storage when it is large
// enough; the contents are unspecified.
func grow[T float](buf []T, n int) []T {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]T, n)
}

// adam is Adam with PyTorch's bias correction, one state per parameter.
type adam[T float] struct {
	lr, b1, b2, eps float64
	t               int
	ps              []*param[T]
	m, v            [][]T
}

func newAdam[T float](ps []*param[T], lr, b1, b2, eps float64) *adam[T] {
	a := &adam[T]{lr: lr, b1: b1, b2: b2, eps: eps, ps: ps}
	for _, p := range ps {
		a.m = append(a.m, make([]T, len(p.w)))
		a.v = append(a.v, make([]T, len(p.w)))
	}
	return a
}

// step applies one update from the accumulated gradients and zeroes them.
// Large tensors are split across GOMAXPROCS goroutines; every element is
// updated on its own, so the split does not change the result.
func (a *adam[T]) step() {
	a.t++
	c1 := 1 - math.Pow(a.b1, float64(a.t))
	c2 := 1 - math.Pow(a.b2, float64(a.t))
	lr := T(a.lr / c1)
	b1, b2 := T(a.b1), T(a.b2)
	isc2 := T(1 / math.Sqrt(c2))
	eps := T(a.eps)
	for i, p := range a.ps {
		parallelFor(len(p.g), 1<<16, func(lo, hi int) {
			g := p.g[lo:hi]
			w, m, v := p.w[lo:hi], a.m[i][lo:hi], a.v[i][lo:hi]
			if unsafe.Sizeof(g[0]) == 4 {
				adamF32(f32s(w), f32s(g), f32s(m), f32s(v), float32(lr), float32(b1), float32(b2), float32(isc2), float32(eps))
				return
			}
			w, m, v = w[:len(g)], m[:len(g)], v[:len(g)]
			for j, gj := range g {
				mj := b1*m[j] + (1-b1)*gj
				vj := b2*v[j] + (1-b2)*gj*gj
				m[j], v[j] = mj, vj
				w[j] -= lr * mj / (T(math.Sqrt(float64(vj)))*isc2 + eps)
			}
			clear(g)
		})
	}
}

// parallelFor runs f over [0,n) in GOMAXPROCS pieces of at least grain.
func parallelFor(n, grain int, f func(lo, hi int)) {
	k := min(runtime.GOMAXPROCS(0), n/grain)
	if k <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		lo, hi := n*i/k, n*(i+1)/k
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

func zeroGrads[T float](ps []*param[T]) {
	for _, p := range ps {
		clear(p.g)
	}
}

// batchNorm normalises each column over the batch in training and with
// running statistics at generation. Running stats follow DoppelGANger's
// TensorFlow convention: running = momentum·running + (1−momentum)·batch.
type batchNorm[T float] struct {
	n               int
	gamma, beta     *param[T]
	runMean, runVar []T
	eps, momentum   float64
	// training cache
	xhat   []T
	invStd []T
}

func newBatchNorm[T float](name string, n int, eps, momentum float64) *batchNorm[T] {
	bn := &batchNorm[T]{n: n, gamma: newParam[T](name+".gamma", n), beta: newParam[T](name+".beta", n),
		runMean: make([]T, n), runVar: make([]T, n), eps: eps, momentum: momentum}
	for i := 0; i < n; i++ {
		bn.gamma.w[i], bn.runVar[i] = 1, 1
	}
	return bn
}

func (bn *batchNorm[T]) forward(x []T, rows int, y []T, train bool) {
	c := bn.n
	if !train {
		// local, not cached: generation views share this BatchNorm
		scale, shift := make([]T, c), make([]T, c)
		for j := 0; j < c; j++ {
			scale[j] = bn.gamma.w[j] / T(math.Sqrt(float64(bn.runVar[j])+bn.eps))
			shift[j] = bn.beta.w[j] - scale[j]*bn.runMean[j]
		}
		for r := 0; r < rows; r++ {
			xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
			for j, v := range xr {
				yr[j] = v*scale[j] + shift[j]
			}
		}
		return
	}
	bn.xhat = grow(bn.xhat, rows*c)
	bn.invStd = grow(bn.invStd, c)
	mean := make([]float64, c)
	vr := make([]float64, c)
	for r := 0; r < rows; r++ {
		for j, v := range x[r*c : (r+1)*c] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(rows)
	}
	for r := 0; r < rows; r++ {
		for j, v := range x[r*c : (r+1)*c] {
			d := float64(v) - mean[j]
			vr[j] += d * d
		}
	}
	m := bn.momentum
	for j := range vr {
		v := vr[j] / float64(rows)
		bn.invStd[j] = T(1 / math.Sqrt(v+bn.eps))
		unb := v
		if rows > 1 {
			unb = vr[j] / float64(rows-1)
		}
		bn.runMean[j] = T(m*float64(bn.runMean[j]) + (1-m)*mean[j])
		bn.runVar[j] = T(m*float64(bn.runVar[j]) + (1-m)*unb)
	}
	for r := 0; r < rows; r++ {
		for j := 0; j < c; j++ {
			i := r*c + j
			xh := (x[i] - T(mean[j])) * bn.invStd[j]
			bn.xhat[i] = xh
			y[i] = bn.gamma.w[j]*xh + bn.beta.w[j]
		}
	}
}

// backward turns dy into dx (in place allowed) and accumulates γ, β grads.
func (bn *batchNorm[T]) backward(dy []T, rows int, dx []T) {
	c := bn.n
	sdy := make([]float64, c)
	sdyx := make([]float64, c)
	for r := 0; r < rows; r++ {
		for j := 0; j < c; j++ {
			i := r*c + j
			sdy[j] += float64(dy[i])
			sdyx[j] += float64(dy[i]) * float64(bn.xhat[i])
		}
	}
	for j := 0; j < c; j++ {
		bn.beta.g[j] += T(sdy[j])
		bn.gamma.g[j] += T(sdyx[j])
	}
	nr := float64(rows)
	for r := 0; r < rows; r++ {
		for j := 0; j < c; j++ {
			i := r*c + j
			k := float64(bn.gamma.w[j]*bn.invStd[j]) / nr
			dx[i] = T(k * (nr*float64(dy[i]) - sdy[j] - float64(bn.xhat[i])*sdyx[j]))
		}
	}
}
