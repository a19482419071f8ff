//go:build !amd64 || purego

package gan

func adamF32(w, g, m, v []float32, lr, b1, b2, isc2, eps float32) {
	adamGo(w, g, m, v, lr, b1, b2, isc2, eps)
}

func lstmCellF32(gates []float32, ldg int, cprev []float32, ldc int, c, tc, h []float32, ldo, n, H int) {
	lstmCellGo(gates, ldg, cprev, ldc, c, tc, h, ldo, n, H)
}

func actRowsF32(x []float32, rows, w int, sl []slice, y []float32) {
	activateRowsGo(x, rows, w, sl, y)
}
