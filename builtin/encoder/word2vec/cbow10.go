package word2vec

// cbow10 is one CBOW position for the default vector size of 10, written
// out without inner loops: inside the Wasm sandbox every loop back-edge and
// call pays for the host's interruption check, which made 10-step loops
// several times slower than this straight-line code. Train uses it when
// VectorSize is 10 and generic loops otherwise; both compute the same
// thing in the same order.
func cbow10(syn0, syn1 []float32, sent []int32, pos, lo, hi int, word int32, negative int, alpha float32, noise *alias, r *rng) {
	var h, e [10]float32
	count := 0
	for c := lo; c < hi; c++ {
		if c == pos {
			continue
		}
		v := (*[10]float32)(syn0[int(sent[c])*10:])
		h[0] += v[0]
		h[1] += v[1]
		h[2] += v[2]
		h[3] += v[3]
		h[4] += v[4]
		h[5] += v[5]
		h[6] += v[6]
		h[7] += v[7]
		h[8] += v[8]
		h[9] += v[9]
		count++
	}
	if count == 0 {
		return
	}
	inv := 1 / float32(count)
	h[0] *= inv
	h[1] *= inv
	h[2] *= inv
	h[3] *= inv
	h[4] *= inv
	h[5] *= inv
	h[6] *= inv
	h[7] *= inv
	h[8] *= inv
	h[9] *= inv
	for d := 0; d <= negative; d++ {
		target, label := word, float32(1)
		if d > 0 {
			target = noise.draw(r)
			if target == word {
				continue
			}
			label = 0
		}
		o := (*[10]float32)(syn1[int(target)*10:])
		f := h[0]*o[0] + h[1]*o[1] + h[2]*o[2] + h[3]*o[3] + h[4]*o[4] +
			h[5]*o[5] + h[6]*o[6] + h[7]*o[7] + h[8]*o[8] + h[9]*o[9]
		g := gradient(f, label, alpha)
		e[0] += g * o[0]
		e[1] += g * o[1]
		e[2] += g * o[2]
		e[3] += g * o[3]
		e[4] += g * o[4]
		e[5] += g * o[5]
		e[6] += g * o[6]
		e[7] += g * o[7]
		e[8] += g * o[8]
		e[9] += g * o[9]
		o[0] += g * h[0]
		o[1] += g * h[1]
		o[2] += g * h[2]
		o[3] += g * h[3]
		o[4] += g * h[4]
		o[5] += g * h[5]
		o[6] += g * h[6]
		o[7] += g * h[7]
		o[8] += g * h[8]
		o[9] += g * h[9]
	}
	for c := lo; c < hi; c++ {
		if c == pos {
			continue
		}
		v := (*[10]float32)(syn0[int(sent[c])*10:])
		v[0] += e[0]
		v[1] += e[1]
		v[2] += e[2]
		v[3] += e[3]
		v[4] += e[4]
		v[5] += e[5]
		v[6] += e[6]
		v[7] += e[7]
		v[8] += e[8]
		v[9] += e[9]
	}
}
