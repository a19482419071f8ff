//go:build amd64 && !purego

package sgemm

import "golang.org/x/sys/cpu"

//go:noescape
func kernAVX512(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func kernAVX512Mask(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int, mask int)

//go:noescape
func kernAVX2(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

// The AVX-512 tile is 12×32: 24 accumulators of the 32 zmm registers, two
// for a row of B and two for broadcasts. The AVX2 tile is 6×16: 12 of the
// 16 ymm registers. The K block keeps a B micro-panel (kc×nr) within L1 and
// the M block an A block (mc×kc) within L2.
var (
	avx512Kernel = &kernel{name: "avx512", mr: 12, nr: 32, kc: 256, mc: 240, fn: kernAVX512, masked: kernAVX512Mask}
	avx2Kernel   = &kernel{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 240, fn: kernAVX2}
)

func init() {
	// HasAVX512F and HasAVX2 are only set when the OS saves the registers.
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		transpose4 = tr4x8
		kernels = append(kernels, avx2Kernel)
		if cpu.X86.HasAVX512F {
			kernels = append(kernels, avx512Kernel)
		}
	}
	active.Store(kernels[len(kernels)-1])
}

//go:noescape
func tr4x8(src *float32, lds int, dst *float32, ldd int, n8 int)
