//go:build amd64 && !openblas && !purego

#include "textflag.h"

// Eight-lane float32 kernels for AVX2+FMA: the Adam update, the LSTM cell and
// the sigmoid/exp(-|x|) row of the head activations. exp is Cephes' expf
// (range reduction by ln 2 in two parts and a degree-5 polynomial), the
// same as fastmath.go's expf but with the argument clamped to [-87, 88].

// -87.0 (exp's lower clamp: 2^-126 stays normal) = -87.0
DATA expmin<>+0(SB)/4, $0xc2ae0000
DATA expmin<>+4(SB)/4, $0xc2ae0000
DATA expmin<>+8(SB)/4, $0xc2ae0000
DATA expmin<>+12(SB)/4, $0xc2ae0000
DATA expmin<>+16(SB)/4, $0xc2ae0000
DATA expmin<>+20(SB)/4, $0xc2ae0000
DATA expmin<>+24(SB)/4, $0xc2ae0000
DATA expmin<>+28(SB)/4, $0xc2ae0000
GLOBL expmin<>(SB), RODATA|NOPTR, $32
// 88.0 (upper clamp: below float32's overflow) = 88.0
DATA expmax<>+0(SB)/4, $0x42b00000
DATA expmax<>+4(SB)/4, $0x42b00000
DATA expmax<>+8(SB)/4, $0x42b00000
DATA expmax<>+12(SB)/4, $0x42b00000
DATA expmax<>+16(SB)/4, $0x42b00000
DATA expmax<>+20(SB)/4, $0x42b00000
DATA expmax<>+24(SB)/4, $0x42b00000
DATA expmax<>+28(SB)/4, $0x42b00000
GLOBL expmax<>(SB), RODATA|NOPTR, $32
// log2(e) = 1.4426950408889634
DATA log2e<>+0(SB)/4, $0x3fb8aa3b
DATA log2e<>+4(SB)/4, $0x3fb8aa3b
DATA log2e<>+8(SB)/4, $0x3fb8aa3b
DATA log2e<>+12(SB)/4, $0x3fb8aa3b
DATA log2e<>+16(SB)/4, $0x3fb8aa3b
DATA log2e<>+20(SB)/4, $0x3fb8aa3b
DATA log2e<>+24(SB)/4, $0x3fb8aa3b
DATA log2e<>+28(SB)/4, $0x3fb8aa3b
GLOBL log2e<>(SB), RODATA|NOPTR, $32
// ln 2, high part = 0.693359375
DATA ln2hi<>+0(SB)/4, $0x3f318000
DATA ln2hi<>+4(SB)/4, $0x3f318000
DATA ln2hi<>+8(SB)/4, $0x3f318000
DATA ln2hi<>+12(SB)/4, $0x3f318000
DATA ln2hi<>+16(SB)/4, $0x3f318000
DATA ln2hi<>+20(SB)/4, $0x3f318000
DATA ln2hi<>+24(SB)/4, $0x3f318000
DATA ln2hi<>+28(SB)/4, $0x3f318000
GLOBL ln2hi<>(SB), RODATA|NOPTR, $32
// ln 2, low part = -0.00021219444
DATA ln2lo<>+0(SB)/4, $0xb95e8083
DATA ln2lo<>+4(SB)/4, $0xb95e8083
DATA ln2lo<>+8(SB)/4, $0xb95e8083
DATA ln2lo<>+12(SB)/4, $0xb95e8083
DATA ln2lo<>+16(SB)/4, $0xb95e8083
DATA ln2lo<>+20(SB)/4, $0xb95e8083
DATA ln2lo<>+24(SB)/4, $0xb95e8083
DATA ln2lo<>+28(SB)/4, $0xb95e8083
GLOBL ln2lo<>(SB), RODATA|NOPTR, $32
// Cephes expf polynomial = 0.000198756915
DATA p0<>+0(SB)/4, $0x39506967
DATA p0<>+4(SB)/4, $0x39506967
DATA p0<>+8(SB)/4, $0x39506967
DATA p0<>+12(SB)/4, $0x39506967
DATA p0<>+16(SB)/4, $0x39506967
DATA p0<>+20(SB)/4, $0x39506967
DATA p0<>+24(SB)/4, $0x39506967
DATA p0<>+28(SB)/4, $0x39506967
GLOBL p0<>(SB), RODATA|NOPTR, $32
// p1 = 0.0013981999507
DATA p1<>+0(SB)/4, $0x3ab743ce
DATA p1<>+4(SB)/4, $0x3ab743ce
DATA p1<>+8(SB)/4, $0x3ab743ce
DATA p1<>+12(SB)/4, $0x3ab743ce
DATA p1<>+16(SB)/4, $0x3ab743ce
DATA p1<>+20(SB)/4, $0x3ab743ce
DATA p1<>+24(SB)/4, $0x3ab743ce
DATA p1<>+28(SB)/4, $0x3ab743ce
GLOBL p1<>(SB), RODATA|NOPTR, $32
// p2 = 0.0083334519073
DATA p2<>+0(SB)/4, $0x3c088908
DATA p2<>+4(SB)/4, $0x3c088908
DATA p2<>+8(SB)/4, $0x3c088908
DATA p2<>+12(SB)/4, $0x3c088908
DATA p2<>+16(SB)/4, $0x3c088908
DATA p2<>+20(SB)/4, $0x3c088908
DATA p2<>+24(SB)/4, $0x3c088908
DATA p2<>+28(SB)/4, $0x3c088908
GLOBL p2<>(SB), RODATA|NOPTR, $32
// p3 = 0.041665795894
DATA p3<>+0(SB)/4, $0x3d2aa9c1
DATA p3<>+4(SB)/4, $0x3d2aa9c1
DATA p3<>+8(SB)/4, $0x3d2aa9c1
DATA p3<>+12(SB)/4, $0x3d2aa9c1
DATA p3<>+16(SB)/4, $0x3d2aa9c1
DATA p3<>+20(SB)/4, $0x3d2aa9c1
DATA p3<>+24(SB)/4, $0x3d2aa9c1
DATA p3<>+28(SB)/4, $0x3d2aa9c1
GLOBL p3<>(SB), RODATA|NOPTR, $32
// p4 = 0.16666665459
DATA p4<>+0(SB)/4, $0x3e2aaaaa
DATA p4<>+4(SB)/4, $0x3e2aaaaa
DATA p4<>+8(SB)/4, $0x3e2aaaaa
DATA p4<>+12(SB)/4, $0x3e2aaaaa
DATA p4<>+16(SB)/4, $0x3e2aaaaa
DATA p4<>+20(SB)/4, $0x3e2aaaaa
DATA p4<>+24(SB)/4, $0x3e2aaaaa
DATA p4<>+28(SB)/4, $0x3e2aaaaa
GLOBL p4<>(SB), RODATA|NOPTR, $32
// p5 = 0.50000001201
DATA p5<>+0(SB)/4, $0x3f000000
DATA p5<>+4(SB)/4, $0x3f000000
DATA p5<>+8(SB)/4, $0x3f000000
DATA p5<>+12(SB)/4, $0x3f000000
DATA p5<>+16(SB)/4, $0x3f000000
DATA p5<>+20(SB)/4, $0x3f000000
DATA p5<>+24(SB)/4, $0x3f000000
DATA p5<>+28(SB)/4, $0x3f000000
GLOBL p5<>(SB), RODATA|NOPTR, $32
// -2, for tanh(x) = 2/(1+exp(-2x)) - 1 = -2.0
DATA minus2<>+0(SB)/4, $0xc0000000
DATA minus2<>+4(SB)/4, $0xc0000000
DATA minus2<>+8(SB)/4, $0xc0000000
DATA minus2<>+12(SB)/4, $0xc0000000
DATA minus2<>+16(SB)/4, $0xc0000000
DATA minus2<>+20(SB)/4, $0xc0000000
DATA minus2<>+24(SB)/4, $0xc0000000
DATA minus2<>+28(SB)/4, $0xc0000000
GLOBL minus2<>(SB), RODATA|NOPTR, $32
// 1.0
DATA one<>+0(SB)/4, $0x3f800000
DATA one<>+4(SB)/4, $0x3f800000
DATA one<>+8(SB)/4, $0x3f800000
DATA one<>+12(SB)/4, $0x3f800000
DATA one<>+16(SB)/4, $0x3f800000
DATA one<>+20(SB)/4, $0x3f800000
DATA one<>+24(SB)/4, $0x3f800000
DATA one<>+28(SB)/4, $0x3f800000
GLOBL one<>(SB), RODATA|NOPTR, $32
// 2.0
DATA two<>+0(SB)/4, $0x40000000
DATA two<>+4(SB)/4, $0x40000000
DATA two<>+8(SB)/4, $0x40000000
DATA two<>+12(SB)/4, $0x40000000
DATA two<>+16(SB)/4, $0x40000000
DATA two<>+20(SB)/4, $0x40000000
DATA two<>+24(SB)/4, $0x40000000
DATA two<>+28(SB)/4, $0x40000000
GLOBL two<>(SB), RODATA|NOPTR, $32
// the float32 sign bit
DATA signbit<>+0(SB)/4, $0x80000000
DATA signbit<>+4(SB)/4, $0x80000000
DATA signbit<>+8(SB)/4, $0x80000000
DATA signbit<>+12(SB)/4, $0x80000000
DATA signbit<>+16(SB)/4, $0x80000000
DATA signbit<>+20(SB)/4, $0x80000000
DATA signbit<>+24(SB)/4, $0x80000000
DATA signbit<>+28(SB)/4, $0x80000000
GLOBL signbit<>(SB), RODATA|NOPTR, $32
// the float32 exponent bias, as int32
DATA bias<>+0(SB)/4, $0x0000007f
DATA bias<>+4(SB)/4, $0x0000007f
DATA bias<>+8(SB)/4, $0x0000007f
DATA bias<>+12(SB)/4, $0x0000007f
DATA bias<>+16(SB)/4, $0x0000007f
DATA bias<>+20(SB)/4, $0x0000007f
DATA bias<>+24(SB)/4, $0x0000007f
DATA bias<>+28(SB)/4, $0x0000007f
GLOBL bias<>(SB), RODATA|NOPTR, $32

// EXP8(x, k, p) sets x = exp(x), using k and p as scratch.
#define EXP8(x, k, p) \
	VMAXPS expmin<>(SB), x, x; \
	VMINPS expmax<>(SB), x, x; \
	VMULPS log2e<>(SB), x, k; \
	VROUNDPS $0, k, k; \
	VFNMADD231PS ln2hi<>(SB), k, x; \
	VFNMADD231PS ln2lo<>(SB), k, x; \
	VMOVUPS p0<>(SB), p; \
	VFMADD213PS p1<>(SB), x, p; \
	VFMADD213PS p2<>(SB), x, p; \
	VFMADD213PS p3<>(SB), x, p; \
	VFMADD213PS p4<>(SB), x, p; \
	VFMADD213PS p5<>(SB), x, p; \
	VMULPS x, p, p; \
	VFMADD213PS x, x, p; \
	VADDPS one<>(SB), p, p; \
	VCVTPS2DQ k, k; \
	VPADDD bias<>(SB), k, k; \
	VPSLLD $23, k, k; \
	VMULPS k, p, x

// SIGMOID8(x, k, p) sets x = 1/(1+exp(-x)); Y15 must hold 1.
#define SIGMOID8(x, k, p) \
	VXORPS signbit<>(SB), x, x; \
	EXP8(x, k, p); \
	VADDPS Y15, x, x; \
	VDIVPS x, Y15, x

// TANH8(x, k, p) sets x = 2/(1+exp(-2x)) - 1; Y15 must hold 1, Y14 2.
#define TANH8(x, k, p) \
	VMULPS minus2<>(SB), x, x; \
	EXP8(x, k, p); \
	VADDPS Y15, x, x; \
	VDIVPS x, Y14, x; \
	VSUBPS Y15, x, x

// func adamAVX2(w, grad, m, v *float32, n8 int, lr, b1, b2, c1, c2, isc2, eps float32)
// Eight lanes of nn.go's Adam step, n8 times: m = b1·m + c1·g,
// v = b2·v + c2·g², w -= lr·m/(√v·isc2 + eps), g = 0.
TEXT ·adamAVX2(SB), NOSPLIT, $0-68
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n8+32(FP), CX
	VBROADCASTSS lr+40(FP), Y8
	VBROADCASTSS b1+44(FP), Y9
	VBROADCASTSS b2+48(FP), Y10
	VBROADCASTSS c1+52(FP), Y13
	VBROADCASTSS c2+56(FP), Y14
	VBROADCASTSS isc2+60(FP), Y11
	VBROADCASTSS eps+64(FP), Y12
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ adamdone
adamloop:
	VMOVUPS (SI), Y0
	VMULPS (R8), Y9, Y1
	VMULPS Y0, Y13, Y2
	VADDPS Y2, Y1, Y1
	VMULPS (R9), Y10, Y3
	VMULPS Y0, Y0, Y4
	VMULPS Y4, Y14, Y4
	VADDPS Y4, Y3, Y3
	VMOVUPS Y1, (R8)
	VMOVUPS Y3, (R9)
	VSQRTPS Y3, Y5
	VMULPS Y11, Y5, Y5
	VADDPS Y12, Y5, Y5
	VMULPS Y8, Y1, Y6
	VDIVPS Y5, Y6, Y6
	VMOVUPS (DI), Y7
	VSUBPS Y6, Y7, Y7
	VMOVUPS Y7, (DI)
	VMOVUPS Y15, (SI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ adamloop
adamdone:
	VZEROUPPER
	RET

// func lstmAVX2(gates *float32, H int, cp, c, tc, h *float32, n8 int)
// Eight units of one row of generator.go's lstmCellGo, n8 times: the gates
// i, f, g, o at g, g+H, g+2H, g+3H are activated in place, then
// c = f·cp + i·g, tc = tanh(c), h = o·tc.
TEXT ·lstmAVX2(SB), NOSPLIT, $0-56
	MOVQ gates+0(FP), SI
	MOVQ H+8(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*2), R11
	MOVQ cp+16(FP), R8
	MOVQ c+24(FP), DI
	MOVQ tc+32(FP), R9
	MOVQ h+40(FP), DX
	MOVQ n8+48(FP), CX
	VMOVUPS one<>(SB), Y15
	VMOVUPS two<>(SB), Y14
	TESTQ CX, CX
	JZ lstmdone
lstmloop:
	VMOVUPS (SI), Y0
	SIGMOID8(Y0, Y6, Y7)
	VMOVUPS Y0, (SI)
	VMOVUPS (SI)(R10*1), Y1
	SIGMOID8(Y1, Y6, Y7)
	VMOVUPS Y1, (SI)(R10*1)
	VMOVUPS (SI)(R10*2), Y2
	TANH8(Y2, Y6, Y7)
	VMOVUPS Y2, (SI)(R10*2)
	VMOVUPS (SI)(R11*1), Y3
	SIGMOID8(Y3, Y6, Y7)
	VMOVUPS Y3, (SI)(R11*1)
	VMULPS (R8), Y1, Y4
	VMULPS Y2, Y0, Y5
	VADDPS Y5, Y4, Y4
	VMOVUPS Y4, (DI)
	TANH8(Y4, Y6, Y7)
	VMOVUPS Y4, (R9)
	VMULPS Y4, Y3, Y4
	VMOVUPS Y4, (DX)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, DI
	ADDQ $32, R9
	ADDQ $32, DX
	DECQ CX
	JNZ lstmloop
lstmdone:
	VZEROUPPER
	RET

// func sigmoidRowAVX2(x, t, y *float32, n8 int)
// Eight lanes, n8 times: t = exp(-|x|), y = sigmoid(x) computed from t
// (1/(1+t) for x ≥ 0, t/(1+t) below), which neither overflows nor
// cancels in either direction.
TEXT ·sigmoidRowAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ t+8(FP), DI
	MOVQ y+16(FP), DX
	MOVQ n8+24(FP), CX
	VMOVUPS one<>(SB), Y15
	VXORPS Y13, Y13, Y13
	TESTQ CX, CX
	JZ sigdone
sigloop:
	VMOVUPS (SI), Y0
	VORPS signbit<>(SB), Y0, Y1
	EXP8(Y1, Y6, Y7)
	VMOVUPS Y1, (DI)
	VADDPS Y15, Y1, Y2
	VDIVPS Y2, Y15, Y2
	VMULPS Y2, Y1, Y3
	VCMPPS $1, Y13, Y0, Y4
	VBLENDVPS Y4, Y3, Y2, Y5
	VMOVUPS Y5, (DX)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JNZ sigloop
sigdone:
	VZEROUPPER
	RET
