package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// withKernel runs f with kr as the active kernel and n threads.
func withKernel(kr *kernel, n int, f func()) {
	old, oldT := active.Load(), Threads()
	active.Store(kr)
	SetThreads(n)
	defer func() { active.Store(old); SetThreads(oldT) }()
	f()
}

type gemmCase struct {
	tA, tB      bool
	m, n, k     int
	alpha, beta float32
	pad         int // extra columns in every leading dimension
	nanC        bool
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%g beta=%g pad=%d nanC=%v", g.tA, g.tB, g.m, g.n, g.k, g.alpha, g.beta, g.pad, g.nanC)
}

// run multiplies random matrices with the active kernel and compares C with
// gonum's blas32, within a rounding bound from the float64 sum of |terms|;
// it also checks that the padding beyond each row of C is untouched.
func (g gemmCase) run(t testing.TB, rng *rand.Rand) {
	t.Helper()
	ar, ac := g.m, g.k
	if g.tA {
		ar, ac = g.k, g.m
	}
	br, bc := g.k, g.n
	if g.tB {
		br, bc = g.n, g.k
	}
	lda, ldb, ldc := max(1, ac)+g.pad, max(1, bc)+g.pad, max(1, g.n)+g.pad
	rnd := func(rows, ld int) []float32 {
		s := make([]float32, max(0, (rows-1)*ld)+ld)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	a, b, c := rnd(ar, lda), rnd(br, ldb), rnd(g.m, ldc)
	const sentinel = 12345
	for i := range g.m {
		for j := range ldc {
			if j >= g.n {
				c[i*ldc+j] = sentinel
			} else if g.nanC {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	want := append([]float32(nil), c...)
	got := append([]float32(nil), c...)
	blas32.Implementation().Sgemm(trans(g.tA), trans(g.tB), g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, want, ldc)
	Sgemm(g.tA, g.tB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, got, ldc)
	at := func(i, p int) float64 {
		if g.tA {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if g.tB {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	for i := range g.m {
		for j := range ldc {
			w, x := want[i*ldc+j], got[i*ldc+j]
			if j >= g.n {
				if x != sentinel {
					t.Fatalf("%v: C[%d][%d] beyond n overwritten: %g", g, i, j, x)
				}
				continue
			}
			mag := 0.0
			for p := range g.k {
				mag += math.Abs(at(i, p) * bt(p, j))
			}
			mag = math.Abs(float64(g.alpha))*mag + math.Abs(float64(g.beta)*float64(c[i*ldc+j]))
			tol := 4 * float64(g.k+2) * 0x1p-24 * mag
			if g.nanC && g.beta == 0 && math.IsNaN(float64(x)) {
				t.Fatalf("%v: C[%d][%d] is NaN: beta = 0 must not read C", g, i, j)
			}
			if math.IsNaN(float64(w)) != math.IsNaN(float64(x)) || math.Abs(float64(w)-float64(x)) > tol {
				t.Fatalf("%v: C[%d][%d] = %g, gonum %g (tolerance %g)", g, i, j, x, w, tol)
			}
		}
	}
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// TestSgemmMatchesGonum runs every kernel this CPU has, at 1 and 3 threads,
// over shapes chosen to hit each edge: 1, odd sizes, one below, at and above
// the tiles (mr, nr) and blocks (kc, mc), every transpose and alpha/beta
// special case, and NaN in C with beta = 0.
func TestSgemmMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, kr := range kernels {
		dims := []int{1, 3, kr.mr - 1, kr.mr, kr.mr + 1, kr.nr - 1, kr.nr + 1, 2*kr.nr + 3, 37}
		big := []struct{ m, n, k int }{
			{kr.mc + kr.mr + 1, 2*kr.nr + 5, kr.kc + 7}, // two M and two K blocks
			{100, 512, 300}, {300, 400, 100}, {7, 1, 530}, {1, 700, 9},
		}
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", kr.name, threads), func(t *testing.T) {
				withKernel(kr, threads, func() {
					for _, tA := range []bool{false, true} {
						for _, tB := range []bool{false, true} {
							for _, m := range dims {
								n := dims[rng.IntN(len(dims))]
								k := dims[rng.IntN(len(dims))]
								gemmCase{tA: tA, tB: tB, m: m, n: n, k: k, alpha: 1, beta: 0, pad: rng.IntN(3)}.run(t, rng)
							}
							for _, s := range big {
								gemmCase{tA: tA, tB: tB, m: s.m, n: s.n, k: s.k, alpha: 0.5, beta: 1.5, pad: 1}.run(t, rng)
							}
							for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-2, 0.25}, {0, 0}, {0, 1}, {0, -3}, {1.5, 0}} {
								for _, nanC := range []bool{false, true} {
									if nanC && ab[1] != 0 {
										continue
									}
									gemmCase{tA: tA, tB: tB, m: 2*kr.mr + 1, n: kr.nr + 3, k: 17, alpha: ab[0], beta: ab[1], pad: 2, nanC: nanC}.run(t, rng)
								}
							}
							// every K around the kernel's four-step unroll
							for k := 1; k <= 9; k++ {
								gemmCase{tA: tA, tB: tB, m: kr.mr, n: kr.nr, k: k, alpha: 1, beta: 1, pad: 1}.run(t, rng)
							}
							// k = 0 is C = beta·C
							gemmCase{tA: tA, tB: tB, m: 5, n: 6, k: 0, alpha: 1, beta: 0.5}.run(t, rng)
							gemmCase{tA: tA, tB: tB, m: 5, n: 6, k: 0, alpha: 1, beta: 0, nanC: true}.run(t, rng)
						}
					}
				})
			})
		}
	}
}

// TestSgemmThreadsBitIdentical: the bands of a parallel call keep the tile
// grid and K blocking of a serial one, so results do not depend on the
// thread count (a resumed run may use another).
func TestSgemmThreadsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, s := range []struct {
		tA, tB  bool
		m, n, k int
	}{{false, false, 301, 515, 300}, {true, true, 700, 40, 290}} {
		lda, ldb := s.k, s.n
		if s.tA {
			lda = s.m
		}
		if s.tB {
			ldb = s.k
		}
		a, b := make([]float32, s.m*s.k), make([]float32, s.k*s.n)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		var want []float32
		for _, threads := range []int{1, 2, 3, 8} {
			c := make([]float32, s.m*s.n)
			for i := range c {
				c[i] = float32(i % 3)
			}
			withKernel(active.Load(), threads, func() { Sgemm(s.tA, s.tB, s.m, s.n, s.k, 0.7, a, lda, b, ldb, 0.3, c, s.n) })
			if want == nil {
				want = c
				continue
			}
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v threads=%d: C[%d] = %g, one thread gave %g", s, threads, i, c[i], want[i])
				}
			}
		}
	}
}

func TestSgemmPanicsOnShortSlices(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"short a", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}},
		{"short c", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		}},
		{"small ldb", func() {
			Sgemm(false, true, 2, 3, 2, 1, make([]float32, 4), 2, make([]float32, 6), 1, 0, make([]float32, 6), 3)
		}},
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, nil, 2, nil, 2, 0, nil, 2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f()
		})
	}
}

// FuzzSgemm checks random shapes, transposes, strides, alpha/beta and
// thread counts against gonum on every kernel.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint8(1), false, false, uint8(0), int8(2), int8(0), uint8(1), uint64(1))
	f.Add(uint8(13), uint8(33), uint8(255), true, false, uint8(1), int8(1), int8(1), uint8(2), uint64(2))
	f.Add(uint8(25), uint8(17), uint8(7), false, true, uint8(2), int8(-3), int8(2), uint8(3), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k uint8, tA, tB bool, pad uint8, alpha, beta int8, threads uint8, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 7))
		g := gemmCase{tA: tA, tB: tB, m: int(m), n: int(n), k: int(k) * 2, alpha: float32(alpha) / 2, beta: float32(beta) / 2, pad: int(pad % 4), nanC: beta == 0}
		for _, kr := range kernels {
			withKernel(kr, int(threads%4)+1, func() { g.run(t, rng) })
		}
	})
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range []struct {
		tA, tB  bool
		m, n, k int
	}{{false, false, 300, 512, 512}, {false, true, 300, 512, 512}, {true, false, 512, 512, 300}, {false, false, 100, 400, 100}, {false, false, 100, 512, 512}} {
		for _, kr := range kernels {
			b.Run(fmt.Sprintf("%s/tA=%v/tB=%v/%dx%dx%d", kr.name, s.tA, s.tB, s.m, s.n, s.k), func(b *testing.B) {
				a, bb, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
				for i := range a {
					a[i] = float32(i%7) - 3
				}
				for i := range bb {
					bb[i] = float32(i%5) - 2
				}
				lda, ldb := s.k, s.n
				if s.tA {
					lda = s.m
				}
				if s.tB {
					ldb = s.k
				}
				withKernel(kr, 1, func() {
					b.SetBytes(0)
					for b.Loop() {
						Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
					}
				})
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
