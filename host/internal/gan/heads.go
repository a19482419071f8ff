package gan

import (
	"unsafe"

	"github.com/netshare/netshare/host/internal/tensor"
)

// slice is an output slice with its offset in the row.
type slice struct {
	off, width int
	act        tensor.Activation
}

func slicesOf(outs []tensor.Output) []slice {
	var s []slice
	off := 0
	for _, o := range outs {
		s = append(s, slice{off, o.Width, o.Activation})
		off += o.Width
	}
	return s
}

// activateRows applies each slice's activation to rows of width w.
func activateRows[T float](x []T, rows, w int, sl []slice, y []T) {
	if len(x) > 0 && unsafe.Sizeof(x[0]) == 4 {
		actRowsF32(f32s(x), rows, w, sl, f32s(y))
		return
	}
	activateRowsGo(x, rows, w, sl, y)
}

func activateRowsGo[T float](x []T, rows, w int, sl []slice, y []T) {
	for r := 0; r < rows; r++ {
		xr, yr := x[r*w:(r+1)*w], y[r*w:(r+1)*w]
		for _, s := range sl {
			xs, ys := xr[s.off:s.off+s.width], yr[s.off:s.off+s.width]
			switch s.act {
			case tensor.Softmax:
				m := xs[0]
				for _, v := range xs {
					m = max(m, v)
				}
				sum := 0.0
				for i, v := range xs {
					e := expT(v - m)
					ys[i] = e
					sum += float64(e)
				}
				for i := range ys {
					ys[i] = T(float64(ys[i]) / sum)
				}
			case tensor.Sigmoid:
				for i, v := range xs {
					ys[i] = sigmoidT(v)
				}
			case tensor.Tanh:
				for i, v := range xs {
					ys[i] = tanhT(v)
				}
			}
		}
	}
}

// activationBackward turns d(activated) into d(raw), in place, from y.
func activationBackward[T float](y, dy []T, rows, w int, sl []slice) {
	for r := 0; r < rows; r++ {
		yr, dr := y[r*w:(r+1)*w], dy[r*w:(r+1)*w]
		for _, s := range sl {
			ys, ds := yr[s.off:s.off+s.width], dr[s.off:s.off+s.width]
			switch s.act {
			case tensor.Softmax:
				var dotp T
				for i := range ys {
					dotp += ys[i] * ds[i]
				}
				for i := range ds {
					ds[i] = ys[i] * (ds[i] - dotp)
				}
			case tensor.Sigmoid:
				for i := range ds {
					ds[i] *= ys[i] * (1 - ys[i])
				}
			case tensor.Tanh:
				for i := range ds {
					ds[i] *= 1 - ys[i]*ys[i]
				}
			}
		}
	}
}

// harden writes the hard version of activated rows: one-hot argmax for
// discrete slices, the value itself for continuous ones.
func harden[T float](soft []T, rows, w int, sl []slice, hard []T) {
	copy(hard[:rows*w], soft[:rows*w])
	for r := 0; r < rows; r++ {
		hr := hard[r*w : (r+1)*w]
		for _, s := range sl {
			if s.act != tensor.Softmax {
				continue
			}
			hs := hr[s.off : s.off+s.width]
			best := argmax(hs)
			clear(hs)
			hs[best] = 1
		}
	}
}

// argmax is the index of the largest value, the first of ties.
func argmax[T float](x []T) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
