package sgemm

import "unsafe"

// goMR×goNR is the tile of the portable kernel: 16 accumulators, which the
// Go compiler keeps in registers on amd64 and arm64.
const goMR, goNR = 4, 4

var goKernel = &kernel{name: "go", mr: goMR, nr: goNR, kc: 256, mc: 128, fn: kernGo}

// kernGo is the portable micro-kernel, with the assembly kernels' contract:
// C[r][0:nr] = alpha·Σ_p a[p·lda+r]·b[p·ldb : p·ldb+nr] (+ beta·C[r] if accum
// ≠ 0); the caller guarantees that every address it touches is in bounds.
func kernGo(k int, ap *float32, lda int, bp *float32, ldb int, cp *float32, ldc int, alpha, beta float32, accum int) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	if k > 0 {
		a := unsafe.Slice(ap, (k-1)*lda+goMR)
		b := unsafe.Slice(bp, (k-1)*ldb+goNR)
		for p := 0; p < k; p++ {
			ar := a[p*lda : p*lda+goMR : p*lda+goMR]
			br := b[p*ldb : p*ldb+goNR : p*ldb+goNR]
			a0, a1, a2, a3 := ar[0], ar[1], ar[2], ar[3]
			b0, b1, b2, b3 := br[0], br[1], br[2], br[3]
			c00 += a0 * b0
			c01 += a0 * b1
			c02 += a0 * b2
			c03 += a0 * b3
			c10 += a1 * b0
			c11 += a1 * b1
			c12 += a1 * b2
			c13 += a1 * b3
			c20 += a2 * b0
			c21 += a2 * b1
			c22 += a2 * b2
			c23 += a2 * b3
			c30 += a3 * b0
			c31 += a3 * b1
			c32 += a3 * b2
			c33 += a3 * b3
		}
	}
	c := unsafe.Slice(cp, 3*ldc+goNR)
	acc := [goMR][goNR]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for r := range acc {
		row := c[r*ldc : r*ldc+goNR]
		for j, v := range acc[r] {
			if accum != 0 {
				row[j] = alpha*v + beta*row[j]
			} else {
				row[j] = alpha * v
			}
		}
	}
}
