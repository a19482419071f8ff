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
