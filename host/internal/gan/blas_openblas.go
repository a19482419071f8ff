//go:build openblas

package gan

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int);
*/
import "C"

import "unsafe"

// BLASBackend names the sgemm implementation this binary was built with.
var BLASBackend = "OpenBLAS (cgo)"

func sgemm32(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans), C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans)
	if tA {
		ta = C.CblasTrans
	}
	if tB {
		tb = C.CblasTrans
	}
	// Bounds are the caller's contract, as with gonum; check the one cgo
	// cannot: the slices must be non-empty to take their address.
	if len(a) == 0 || len(b) == 0 || len(c) == 0 {
		panic("gan: sgemm on empty slice")
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

// SetBLASThreads pins OpenBLAS's own thread pool, which ignores GOMAXPROCS.
func SetBLASThreads(n int) {
	if n > 0 {
		C.openblas_set_num_threads(C.int(n))
	}
}
