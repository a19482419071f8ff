//go:build amd64 && !openblas && !purego

package gan

import (
	"github.com/netshare/netshare/host/internal/tensor"
	"golang.org/x/sys/cpu"
)

// The AVX2+FMA kernels of kernels_amd64.s; they handle whole groups of
// eight lanes and leave the tails to the scalar Go code.

//go:noescape
func adamAVX2(w, grad, m, v *float32, n8 int, lr, b1, b2, c1, c2, isc2, eps float32)

//go:noescape
func lstmAVX2(gates *float32, H int, cp, c, tc, h *float32, n8 int)

//go:noescape
func sigmoidRowAVX2(x, t, y *float32, n8 int)

var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// adamF32 is the Adam update; in scalar Go its square root and division
// were ~10% of a training iteration.
func adamF32(w, g, m, v []float32, lr, b1, b2, isc2, eps float32) {
	n8 := 0
	if haveAVX2 {
		n8 = len(g) / 8
		if n8 > 0 {
			_, _, _ = w[n8*8-1], m[n8*8-1], v[n8*8-1]
			adamAVX2(&w[0], &g[0], &m[0], &v[0], n8, lr, b1, b2, 1-b1, 1-b2, isc2, eps)
		}
	}
	o := n8 * 8
	adamGo(w[o:], g[o:], m[o:], v[o:], lr, b1, b2, isc2, eps)
}

// lstmCellF32 is the LSTM cell; its five exponentials per unit were half
// of generation time in scalar Go.
func lstmCellF32(gates []float32, ldg int, cprev []float32, ldc int, c, tc, h []float32, ldo, n, H int) {
	n8 := 0
	if haveAVX2 {
		n8 = H / 8
	}
	o := n8 * 8
	tail := make([]float32, 4*(H-o)) // the gates of units o.. as a narrower cell
	for r := range n {
		if n8 > 0 {
			g := gates[r*ldg : r*ldg+4*H]
			cp := cprev[r*ldc : r*ldc+H]
			co, tco, ho := c[r*ldo:r*ldo+H], tc[r*ldo:r*ldo+H], h[r*ldo:r*ldo+H]
			lstmAVX2(&g[0], H, &cp[0], &co[0], &tco[0], &ho[0], n8)
		}
		if o < H {
			w := H - o
			for q := range 4 {
				copy(tail[q*w:(q+1)*w], gates[r*ldg+q*H+o:r*ldg+(q+1)*H])
			}
			lstmCellGo(tail, 4*w, cprev[r*ldc+o:], ldc, c[r*ldo+o:], tc[r*ldo+o:], h[r*ldo+o:], ldo, 1, w)
			for q := range 4 {
				copy(gates[r*ldg+q*H+o:r*ldg+(q+1)*H], tail[q*w:(q+1)*w])
			}
		}
	}
}

// actRowsF32 applies the heads' activations. Sigmoid and tanh both come
// from t = exp(−|x|), computed with sigmoid for the whole row at once;
// tanh then overwrites its slices. In scalar Go this was a third of
// generation time.
func actRowsF32(x []float32, rows, w int, sl []slice, y []float32) {
	if !haveAVX2 {
		activateRowsGo(x, rows, w, sl, y)
		return
	}
	t := make([]float32, w)
	n8 := w / 8
	for r := range rows {
		xr, yr := x[r*w:(r+1)*w], y[r*w:(r+1)*w]
		if n8 > 0 {
			sigmoidRowAVX2(&xr[0], &t[0], &yr[0], n8)
		}
		for j := n8 * 8; j < w; j++ {
			t[j] = expf(-abs32(xr[j]))
			d := 1 / (1 + t[j])
			if xr[j] >= 0 {
				yr[j] = d
			} else {
				yr[j] = t[j] * d
			}
		}
		for _, s := range sl {
			xs, ys, ts := xr[s.off:s.off+s.width], yr[s.off:s.off+s.width], t[s.off:s.off+s.width]
			switch s.act {
			case tensor.Softmax:
				softmax32(xs, ys)
			case tensor.Tanh:
				for i, e := range ts {
					e2 := e * e // tanh|x| = (1 − e^{−2|x|})/(1 + e^{−2|x|})
					v := (1 - e2) / (1 + e2)
					if xs[i] < 0 {
						v = -v
					}
					ys[i] = v
				}
			}
		}
	}
}

// softmax32 sets y = softmax(x); two-way (the IP bits) with one exp.
func softmax32(x, y []float32) {
	if len(x) == 2 {
		d := x[0] - x[1]
		e := expf(-abs32(d))
		big := 1 / (1 + e)
		if d >= 0 {
			y[0], y[1] = big, e*big
		} else {
			y[0], y[1] = e*big, big
		}
		return
	}
	m := x[0]
	for _, v := range x {
		m = max(m, v)
	}
	var sum float32
	for i, v := range x {
		y[i] = expf(v - m)
		sum += y[i]
	}
	inv := 1 / sum
	for i := range y {
		y[i] *= inv
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
