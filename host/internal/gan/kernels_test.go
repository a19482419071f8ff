package gan

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netshare/netshare/host/internal/tensor"
)

// TestKernelsMatchGo compares the float32 kernels of this build (assembly
// on amd64, Go otherwise) with the float64 Go code they replace.
func TestKernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, H, ld = 3, 13, 4 * 13 // H not a multiple of 8: exercises the tails
	g32 := make([]float32, n*ld)
	cp32 := make([]float32, n*H)
	for i := range g32 {
		g32[i] = float32(rng.NormFloat64() * 3)
	}
	for i := range cp32 {
		cp32[i] = float32(rng.NormFloat64())
	}
	g64, cp64 := to64(g32), to64(cp32)
	c32, tc32, h32 := make([]float32, n*H), make([]float32, n*H), make([]float32, n*H)
	c64, tc64, h64 := make([]float64, n*H), make([]float64, n*H), make([]float64, n*H)
	lstmCellF32(g32, ld, cp32, H, c32, tc32, h32, H, n, H)
	lstmCellGo(g64, ld, cp64, H, c64, tc64, h64, H, n, H)
	for _, p := range []struct {
		name string
		a    []float32
		b    []float64
	}{{"gates", g32, g64}, {"c", c32, c64}, {"tanh c", tc32, tc64}, {"h", h32, h64}} {
		for i := range p.a {
			if d := math.Abs(float64(p.a[i]) - p.b[i]); d > 2e-6*(1+math.Abs(p.b[i])) {
				t.Fatalf("lstm %s[%d] = %g, want %g", p.name, i, p.a[i], p.b[i])
			}
		}
	}

	const m = 37
	w, g, mm, v := make([]float32, m), make([]float32, m), make([]float32, m), make([]float32, m)
	for i := range w {
		w[i], g[i], mm[i], v[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64()*0.1), float32(rng.Float64()*0.1)
	}
	w64, g64a, m64, v64 := to64(w), to64(g), to64(mm), to64(v)
	adamF32(w, g, mm, v, 1e-3, 0.5, 0.999, 1.3, 1e-8)
	for j := range w64 {
		m64[j] = 0.5*m64[j] + 0.5*g64a[j]
		v64[j] = 0.999*v64[j] + 0.001*g64a[j]*g64a[j]
		w64[j] -= 1e-3 * m64[j] / (math.Sqrt(v64[j])*1.3 + 1e-8)
		if math.Abs(float64(w[j])-w64[j]) > 1e-6 || math.Abs(float64(mm[j])-m64[j]) > 1e-6 || g[j] != 0 {
			t.Fatalf("adam[%d]: w %g m %g g %g, want w %g m %g g 0", j, w[j], mm[j], g[j], w64[j], m64[j])
		}
	}
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func TestActivationKernelMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	outs := []tensor.Output{
		{Width: 3, Activation: tensor.Softmax}, {Width: 1, Activation: tensor.Sigmoid},
		{Width: 9, Activation: tensor.Tanh}, {Width: 2, Activation: tensor.Softmax}, {Width: 5, Activation: tensor.Sigmoid},
	}
	for range 11 { // enough two-way softmaxes for a full vector and a tail
		outs = append(outs, tensor.Output{Width: 2, Activation: tensor.Softmax})
	}
	sl := slicesOf(outs)
	const rows, w = 4, 20 + 22
	x := make([]float32, rows*w)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 8)
	}
	x[0], x[3], x[4] = 200, -200, 100 // saturation
	x[20], x[23], x[26] = 150, -150, 90
	y := make([]float32, rows*w)
	actRowsF32(x, rows, w, sl, y)
	want := make([]float64, rows*w)
	activateRowsGo(to64(x), rows, w, sl, want)
	for i := range y {
		if d := math.Abs(float64(y[i]) - want[i]); d > 3e-7 || y[i] != y[i] {
			t.Fatalf("activation[%d] of %g = %g, want %g", i, x[i], y[i], want[i])
		}
	}
}
