//go:build amd64 && !purego

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
	if !haveAVX2 {
		lstmCellGo(gates, ldg, cprev, ldc, c, tc, h, ldo, n, H)
		return
	}
	n8 := H / 8
	o := n8 * 8
	// The units o..H of a row, padded to eight, go through the same kernel
	// in a scratch cell: gates (4×8), cprev, c, tanh c, h.
	var tail [8 * 8]float32
	w := H - o
	for r := range n {
		if n8 > 0 {
			g := gates[r*ldg : r*ldg+4*H]
			cp := cprev[r*ldc : r*ldc+H]
			co, tco, ho := c[r*ldo:r*ldo+H], tc[r*ldo:r*ldo+H], h[r*ldo:r*ldo+H]
			lstmAVX2(&g[0], H, &cp[0], &co[0], &tco[0], &ho[0], n8)
		}
		if w == 0 {
			continue
		}
		clear(tail[:])
		for q := range 4 {
			copy(tail[q*8:q*8+w], gates[r*ldg+q*H+o:r*ldg+(q+1)*H])
		}
		copy(tail[32:32+w], cprev[r*ldc+o:r*ldc+H])
		lstmAVX2(&tail[0], 8, &tail[32], &tail[40], &tail[48], &tail[56], 1)
		for q := range 4 {
			copy(gates[r*ldg+q*H+o:r*ldg+(q+1)*H], tail[q*8:q*8+w])
		}
		copy(c[r*ldo+o:r*ldo+H], tail[40:40+w])
		copy(tc[r*ldo+o:r*ldo+H], tail[48:48+w])
		copy(h[r*ldo+o:r*ldo+H], tail[56:56+w])
	}
}

// actRowsF32 applies the heads' activations. Sigmoid and tanh both come
// from t = exp(−|x|), computed with sigmoid for the whole row at once;
// tanh then overwrites its slices. A two-way softmax (the IP bits, most of
// the heads) is sigmoid(x0 − x1): the differences of a row go through the
// same vector kernel. In scalar Go this was a third of generation time.
func actRowsF32(x []float32, rows, w int, sl []slice, y []float32) {
	if !haveAVX2 {
		activateRowsGo(x, rows, w, sl, y)
		return
	}
	var pairs []int // offsets of the two-way softmaxes
	for _, s := range sl {
		if s.act == tensor.Softmax && s.width == 2 {
			pairs = append(pairs, s.off)
		}
	}
	t := make([]float32, w+3*len(pairs))
	t, d, td, yd := t[:w], t[w:w+len(pairs)], t[w+len(pairs):w+2*len(pairs)], t[w+2*len(pairs):]
	for r := range rows {
		xr, yr := x[r*w:(r+1)*w], y[r*w:(r+1)*w]
		sigmoidRow(xr, t, yr)
		for i, off := range pairs {
			d[i] = xr[off] - xr[off+1]
		}
		sigmoidRow(d, td, yd)
		for i, off := range pairs {
			// y0 = sigmoid(d); y1 = sigmoid(−d) = 1/(1+e) or e/(1+e)
			big := 1 / (1 + td[i])
			y1 := big
			if d[i] >= 0 {
				y1 = td[i] * big
			}
			yr[off], yr[off+1] = yd[i], y1
		}
		for _, s := range sl {
			xs, ys, ts := xr[s.off:s.off+s.width], yr[s.off:s.off+s.width], t[s.off:s.off+s.width]
			switch s.act {
			case tensor.Softmax:
				if s.width != 2 {
					softmax32(xs, ys)
				}
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

// sigmoidRow sets t = exp(−|x|) and y = sigmoid(x), eight lanes at a time
// and the tail in Go.
func sigmoidRow(x, t, y []float32) {
	n8 := len(x) / 8
	if n8 > 0 {
		_, _ = t[n8*8-1], y[n8*8-1]
		sigmoidRowAVX2(&x[0], &t[0], &y[0], n8)
	}
	for j := n8 * 8; j < len(x); j++ {
		t[j] = expf(-abs32(x[j]))
		dj := 1 / (1 + t[j])
		if x[j] >= 0 {
			y[j] = dj
		} else {
			y[j] = t[j] * dj
		}
	}
}

// softmax32 sets y = softmax(x).
func softmax32(x, y []float32) {
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
