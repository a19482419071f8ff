//go:build !openblas

package gan

import "github.com/netshare/netshare/host/internal/sgemm"

// BLASBackend names the sgemm implementation this binary was built with.
var BLASBackend = "netshare sgemm (pure Go + assembly, " + sgemm.Kernel() + " kernel)"

func sgemm32(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SetBLASThreads sets how many goroutines each sgemm call splits its output
// over (n < 1: one).
func SetBLASThreads(n int) { sgemm.SetThreads(n) }
