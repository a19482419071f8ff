//go:build !openblas

package gan

import "math"

func adamF32(w, g, m, v []float32, lr, b1, b2, isc2, eps float32) {
	w, m, v = w[:len(g)], m[:len(g)], v[:len(g)]
	for j, gj := range g {
		mj := b1*m[j] + (1-b1)*gj
		vj := b2*v[j] + (1-b2)*gj*gj
		m[j], v[j] = mj, vj
		w[j] -= lr * mj / (float32(math.Sqrt(float64(vj)))*isc2 + eps)
		g[j] = 0
	}
}

func lstmCellF32(gates []float32, ldg int, cprev []float32, ldc int, c, tc, h []float32, ldo, n, H int) {
	lstmCellGo(gates, ldg, cprev, ldc, c, tc, h, ldo, n, H)
}

func actRowsF32(x []float32, rows, w int, sl []slice, y []float32) {
	activateRowsGo(x, rows, w, sl, y)
}
