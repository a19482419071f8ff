package gan

import "math"

// adamGo is the scalar Adam update, the reference for the vector kernels
// and their tail.
func adamGo(w, g, m, v []float32, lr, b1, b2, isc2, eps float32) {
	w, m, v = w[:len(g)], m[:len(g)], v[:len(g)]
	for j, gj := range g {
		mj := b1*m[j] + (1-b1)*gj
		vj := b2*v[j] + (1-b2)*gj*gj
		m[j], v[j] = mj, vj
		w[j] -= lr * mj / (float32(math.Sqrt(float64(vj)))*isc2 + eps)
		g[j] = 0
	}
}
