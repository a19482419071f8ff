// Package sgemm is a single-precision matrix multiply for row-major
// matrices in pure Go plus Go assembly (no cgo): GotoBLAS/BLIS-style
// blocking with packed panels around a register-blocked micro-kernel,
// AVX-512 or AVX2+FMA on amd64 chosen at run time, and a portable Go
// kernel elsewhere. It runs the output in parallel over SetThreads
// goroutines.
//
// Layout: op(A) is m×k and op(B) k×n, where op(x) is x or xᵀ; every matrix
// is row-major with the given leading dimension (row stride).
package sgemm

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// kernel is a micro-kernel and the blocking tuned for it.
type kernel struct {
	name   string
	mr, nr int // register tile of C
	kc, mc int // K and M blocks (mc a multiple of mr)
	fn     func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)
	// masked, if set, is fn writing only the columns of C set in mask: a
	// tile over the right edge of C then needs no scratch tile.
	masked func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, mask int)
}

// nc bounds the columns of one B block. The networks' matrices are at most
// a few thousand wide, so in practice there is one.
const nc = 4096

var (
	// transpose4, where the CPU has one, is tr4x8 of kernel_amd64.s:
	// dst[c·ldd+r] = src[r·lds+c] for r < 4, c < 8·n8.
	transpose4 func(src *float32, lds int, dst *float32, ldd int, n8 int)
	// kernels lists this CPU's kernels, slowest first; the last is used.
	kernels = []*kernel{goKernel}
	active  atomic.Pointer[kernel]
	threads atomic.Int32
)

func init() { threads.Store(1) }

// Kernel names the micro-kernel in use: "avx512", "avx2" or "go".
func Kernel() string { return active.Load().name }

// SetThreads sets how many goroutines one Sgemm call may use (n < 1 means
// 1). It may be changed at any time; calls in flight keep their count.
func SetThreads(n int) {
	threads.Store(int32(max(n, 1)))
}

// Threads returns the value SetThreads set.
func Threads() int { return int(threads.Load()) }

// minParallel is the number of multiply-adds below which a call stays on
// one goroutine: a few microseconds of work, about the cost of starting and
// joining another.
const minParallel = 1 << 18

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on the m×n matrix C. With
// beta = 0, C is not read (NaN in it does not propagate), as in BLAS. It
// panics on dimensions or slices that do not fit, like gonum's blas32.
func Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	check(tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	kr := active.Load()
	t := int(threads.Load())
	if t == 1 || m*n*k < minParallel {
		gemm(kr, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Split the wider side of C into one band per goroutine, in whole tiles;
	// each band packs its own panels, so the bands share nothing but reads.
	splitN := n/kr.nr >= m/kr.mr
	tile, size := kr.mr, m
	if splitN {
		tile, size = kr.nr, n
	}
	tiles := (size + tile - 1) / tile
	t = min(t, tiles)
	if t < 2 {
		gemm(kr, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	var wg sync.WaitGroup
	lo := 0
	for w := range t {
		hi := min(size, (tiles*(w+1)/t)*tile)
		band := func(lo, hi int) {
			if splitN {
				off := lo // band of columns of op(B)
				if tB {
					off = lo * ldb
				}
				gemm(kr, tA, tB, m, hi-lo, k, alpha, a, lda, b[off:], ldb, beta, c[lo:], ldc)
			} else {
				off := lo * lda // band of rows of op(A)
				if tA {
					off = lo
				}
				gemm(kr, tA, tB, hi-lo, n, k, alpha, a[off:], lda, b, ldb, beta, c[lo*ldc:], ldc)
			}
		}
		if w == t-1 {
			band(lo, hi) // the caller's goroutine takes the last band
		} else {
			wg.Add(1)
			go func(lo, hi int) {
				defer wg.Done()
				band(lo, hi)
			}(lo, hi)
		}
		lo = hi
	}
	wg.Wait()
}

// check panics unless the slices hold the matrices their dimensions say.
func check(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k // A as stored
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	for _, x := range []struct {
		name       string
		s          []float32
		rows, cols int
		ld         int
	}{{"a", a, ar, ac, lda}, {"b", b, br, bc, ldb}, {"c", c, m, n, ldc}} {
		if x.ld < max(1, x.cols) {
			panic(fmt.Sprintf("sgemm: ld%s = %d < %d columns", x.name, x.ld, x.cols))
		}
		if x.rows > 0 && x.cols > 0 && len(x.s) < (x.rows-1)*x.ld+x.cols {
			panic(fmt.Sprintf("sgemm: len(%s) = %d, too short for %d×%d with stride %d", x.name, len(x.s), x.rows, x.cols, x.ld))
		}
	}
}

// scale sets C = beta·C, writing zeros when beta = 0.
func scale(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// buffers holds one goroutine's packing space.
type buffers struct{ a, b, tile []float32 }

var pool = sync.Pool{New: func() any { return new(buffers) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemm is one goroutine's blocked multiply; alpha ≠ 0 and k > 0.
//
// Loops, outermost first: column blocks of nc, K blocks of kc (B block
// packed, or read in place when op(B) = B, whose rows are already the
// contiguous nr-wide strips the kernel loads), row blocks of mc (A block
// packed into mr-wide strips, or read in place when op(A) = aᵀ), then
// nr × mr tiles. Tiles over the edge of C
// go through a scratch tile.
//
// When A is read in place and spans at least one whole M block, B is packed
// too: the two strided streams (rows of A and of B at strides that are
// often powers of two) then compete for the same few L1 sets, while a packed
// B strip stays in L1 across the block's mc/mr A strips. On the GAN's
// weight gradients (Xᵀ·dY, m = 512 and 1,288) that is 63 → 76 and 71 → 79
// GFLOP/s; below one M block the copy costs more than it saves (m = 5:
// 33 → 8; docs/gan.md, "Benchmark").
func gemm(kr *kernel, tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := kr.mr, kr.nr
	kc0, mc0 := min(kr.kc, k), min(kr.mc, (m+mr-1)/mr*mr)
	buf := pool.Get().(*buffers)
	defer pool.Put(buf)
	buf.a = grow(buf.a, mc0*kc0)
	nb := min(nc, (n+nr-1)/nr*nr)
	packB := tB || (tA && m >= kr.mc)
	if !packB {
		nb = nr // only the ragged last strip is packed
	}
	buf.b = grow(buf.b, nb*kc0)
	buf.tile = grow(buf.tile, mr*nr)
	tile := &buf.tile[0]

	for jc := 0; jc < n; jc += nc {
		ncb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc0 {
			kc := min(kc0, k-pc)
			// The first K block applies beta; later ones add to it.
			bet, accum := beta, 1
			if pc > 0 {
				bet = 1
			} else if beta == 0 {
				accum = 0
			}
			switch {
			case tB:
				packBT(buf.b, b, ldb, pc, kc, jc, ncb, nr)
			case packB:
				packBN(buf.b, b, ldb, pc, kc, jc, ncb, nr)
			default:
				if r := ncb % nr; r != 0 {
					packBEdge(buf.b, b, ldb, pc, kc, jc+ncb-r, r, nr)
				}
			}
			for ic := 0; ic < m; ic += mc0 {
				mcb := min(mc0, m-ic)
				packA(buf.a, a, lda, tA, ic, mcb, pc, kc, mr)
				for jr := 0; jr < ncb; jr += nr {
					var bp *float32
					ldbk := nr
					switch {
					case packB:
						bp = &buf.b[jr*kc]
					case jr+nr > ncb:
						bp = &buf.b[0]
					default:
						bp, ldbk = &b[pc*ldb+jc+jr], ldb
					}
					nn := min(nr, ncb-jr)
					for ir := 0; ir < mcb; ir += mr {
						mm := min(mr, mcb-ir)
						ap, ldak := &buf.a[ir*kc], mr
						if tA && mm == mr { // read in place, like B
							ap, ldak = &a[pc*lda+ic+ir], lda
						}
						ci := (ic+ir)*ldc + jc + jr
						if mm == mr && nn == nr {
							kr.fn(kc, ap, ldak, bp, ldbk, &c[ci], ldc, alpha, bet, accum)
							continue
						}
						if mm == mr && kr.masked != nil {
							kr.masked(kc, ap, ldak, bp, ldbk, &c[ci], ldc, alpha, bet, accum, 1<<nn-1)
							continue
						}
						kr.fn(kc, ap, ldak, bp, ldbk, tile, nr, 1, 0, 0)
						merge(c[ci:], ldc, buf.tile, nr, mm, nn, alpha, bet, accum != 0)
					}
				}
			}
		}
	}
}

// merge adds alpha·t to the mm×nn corner of C (after scaling C by beta when
// accum, or overwriting it otherwise).
func merge(c []float32, ldc int, t []float32, ldt, mm, nn int, alpha, beta float32, accum bool) {
	for i := range mm {
		row, tr := c[i*ldc:i*ldc+nn], t[i*ldt:i*ldt+nn]
		for j, v := range tr {
			if accum {
				row[j] = alpha*v + beta*row[j]
			} else {
				row[j] = alpha * v
			}
		}
	}
}

// packA copies rows ic..ic+mcb and columns pc..pc+kc of op(A) into mr-row
// strips, each kc×mr with the mr values of one column adjacent; the last
// strip is zero-padded. With op(A) = aᵀ, whose strips are already runs of
// memory, only a ragged last strip is copied.
func packA(dst, a []float32, lda int, tA bool, ic, mcb, pc, kc, mr int) {
	for ir := 0; ir < mcb; ir += mr {
		mm := min(mr, mcb-ir)
		d := dst[ir*kc : ir*kc+kc*mr]
		if tA { // op(A)[i][p] = a[p·lda+i]: the kernel reads whole strips in place
			if mm == mr {
				continue
			}
			for p := range kc {
				src := a[(pc+p)*lda+ic+ir:]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src[:mm])
				clear(dp[mm:])
			}
			continue
		}
		transposeInto(d, mr, a[(ic+ir)*lda+pc:], lda, mm, kc)
		for r := mm; r < mr; r++ {
			for p := range kc {
				d[p*mr+r] = 0
			}
		}
	}
}

// transposeInto sets d[p·ldd+r] = src[r·lds+p] for r < rows, p < cols:
// 4×8 blocks in assembly where there is a transpose4, the rest in Go.
func transposeInto(d []float32, ldd int, src []float32, lds, rows, cols int) {
	r0, c8 := 0, 0
	if transpose4 != nil && cols >= 8 {
		c8 = cols / 8
		// bounds of the blocks' last source row and destination row
		_ = d[(c8*8-1)*ldd+rows/4*4-1]
		for ; r0+4 <= rows; r0 += 4 {
			_ = src[(r0+3)*lds+c8*8-1]
			transpose4(&src[r0*lds], lds, &d[r0], ldd, c8)
		}
		if r0 < rows && rows >= 4 {
			// The rows left (the AVX2 strip's last 2 of 6) as a block
			// overlapping the one before: rewriting two rows costs less
			// than moving them one value at a time.
			_ = d[(c8*8-1)*ldd+rows-1]
			_ = src[(rows-1)*lds+c8*8-1]
			transpose4(&src[(rows-4)*lds], lds, &d[rows-4], ldd, c8)
			r0 = rows
		}
	}
	for r := range rows {
		p0 := c8 * 8
		if r >= r0 {
			p0 = 0
		}
		row := src[r*lds+p0 : r*lds+cols]
		for p, v := range row {
			d[(p0+p)*ldd+r] = v
		}
	}
}

// packBT copies rows pc..pc+kc and columns jc..jc+ncb of op(B) = bᵀ into
// nr-column strips (kc×nr each, zero-padded), reading each row of b once.
func packBT(dst, b []float32, ldb, pc, kc, jc, ncb, nr int) {
	for jr := 0; jr < ncb; jr += nr {
		nn := min(nr, ncb-jr)
		d := dst[jr*kc : jr*kc+kc*nr]
		transposeInto(d, nr, b[(jc+jr)*ldb+pc:], ldb, nn, kc)
		for j := nn; j < nr; j++ {
			for p := range kc {
				d[p*nr+j] = 0
			}
		}
	}
}

// packBN copies rows pc..pc+kc and columns jc..jc+ncb of op(B) = b into
// nr-column strips (kc×nr each, zero-padded). Whole strips of the SIMD
// kernels move 8 values at a time, since a variable-length copy per row
// would call memmove; the rest (a ragged last strip, the portable
// kernel's nr = 4) go through packBEdge.
func packBN(dst, b []float32, ldb, pc, kc, jc, ncb, nr int) {
	for jr := 0; jr < ncb; jr += nr {
		if nn := min(nr, ncb-jr); nn < nr || nr%8 != 0 {
			packBEdge(dst[jr*kc:], b, ldb, pc, kc, jc+jr, nn, nr)
			continue
		}
		d := dst[jr*kc : jr*kc+kc*nr]
		for p := range kc {
			src, dp := b[(pc+p)*ldb+jc+jr:][:nr], d[p*nr:][:nr]
			for q := 0; q < nr; q += 8 {
				*(*[8]float32)(dp[q:]) = *(*[8]float32)(src[q:])
			}
		}
	}
}

// packBEdge copies a strip of op(B) = b (rows pc..pc+kc, columns
// j0..j0+nn, nn ≤ nr) into a kc×nr strip, zero-padded past nn.
func packBEdge(dst, b []float32, ldb, pc, kc, j0, nn, nr int) {
	for p := range kc {
		d := dst[p*nr : p*nr+nr]
		copy(d, b[(pc+p)*ldb+j0:(pc+p)*ldb+j0+nn])
		clear(d[nn:])
	}
}
