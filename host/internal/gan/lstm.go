package gan

import (
	"unsafe"
)

// lstmCell applies the gate activations in place to n rows of pre-activation
// gates (i, f, g, o blocks of H, row stride ldg) and writes c, tanh(c) and h
// (row stride ldo) from the previous cell state (row stride ldc).
func lstmCell[T float](gates []T, ldg int, cprev []T, ldc int, c, tc, h []T, ldo, n, H int) {
	if unsafe.Sizeof(gates[0]) == 4 {
		lstmCellF32(f32s(gates), ldg, f32s(cprev), ldc, f32s(c), f32s(tc), f32s(h), ldo, n, H)
		return
	}
	lstmCellGo(gates, ldg, cprev, ldc, c, tc, h, ldo, n, H)
}

func lstmCellGo[T float](gates []T, ldg int, cprev []T, ldc int, c, tc, h []T, ldo, n, H int) {
	for r := 0; r < n; r++ {
		gr := gates[r*ldg : r*ldg+4*H]
		cp := cprev[r*ldc : r*ldc+H]
		o := r * ldo
		for j := 0; j < H; j++ {
			i := sigmoidT(gr[j])
			f := sigmoidT(gr[H+j])
			gg := tanhT(gr[2*H+j])
			oo := sigmoidT(gr[3*H+j])
			gr[j], gr[H+j], gr[2*H+j], gr[3*H+j] = i, f, gg, oo
			cc := f*cp[j] + i*gg
			t := tanhT(cc)
			c[o+j], tc[o+j], h[o+j] = cc, t, oo*t
		}
	}
}
