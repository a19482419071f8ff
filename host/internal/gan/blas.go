package gan

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/netshare/netshare/host/internal/sgemm"
)

// BLASBackend names the sgemm implementation in use.
var BLASBackend = "netshare sgemm (pure Go + assembly, " + sgemm.Kernel() + " kernel)"

// SetBLASThreads sets how many goroutines each sgemm call splits its output
// over (n < 1: one).
func SetBLASThreads(n int) { sgemm.SetThreads(n) }

// float is the element type of the networks: float32 for training and
// generation, float64 so that the gradient checks are not drowned in rounding.
type float interface{ ~float32 | ~float64 }

// gemm computes c = alpha·op(a)·op(b) + beta·c on row-major matrices, where
// op(x) is x or its transpose; op(a) is m×k and op(b) k×n. float32 goes to
// host/internal/sgemm; float64 is only used by tests and goes to gonum.
func gemm[T float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	switch av := any(a).(type) {
	case []float32:
		sgemm.Sgemm(tA, tB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		blas64.Implementation().Dgemm(trans(tA), trans(tB), m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}
