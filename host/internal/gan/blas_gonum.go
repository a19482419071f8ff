//go:build !openblas

package gan

import "gonum.org/v1/gonum/blas/blas32"

// BLASBackend names the sgemm implementation this binary was built with.
const BLASBackend = "gonum (pure Go)"

func sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	blas32.Implementation().Sgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SetBLASThreads is a no-op for gonum, whose sgemm follows GOMAXPROCS.
func SetBLASThreads(n int) {}
