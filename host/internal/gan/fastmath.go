package gan

import (
	"math"
	"unsafe"
)

// expf is a float32 exp (Cephes' range reduction and polynomial, about 1
// ulp): math.Exp on float64 dominated generation time.
func expf(x float32) float32 {
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654:
		return 0
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	t := x * log2e
	var k int32
	if t >= 0 {
		k = int32(t + 0.5)
	} else {
		k = int32(t - 0.5)
	}
	n := float32(k)
	r := x - n*ln2hi - n*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	// 2^k, split in two so that k = 128 or k = −126 and below stay finite
	h := k / 2
	return y * math.Float32frombits(uint32(h+127)<<23) * math.Float32frombits(uint32(k-h+127)<<23)
}

// The T versions use expf for float32 and the exact math for float64 (the
// gradient checks); unsafe.Sizeof is constant per instantiation.

func expT[T float](x T) T {
	if unsafe.Sizeof(x) == 4 {
		return T(expf(float32(x)))
	}
	return T(math.Exp(float64(x)))
}

func sigmoidT[T float](x T) T {
	if unsafe.Sizeof(x) == 4 {
		return T(1 / (1 + expf(-float32(x))))
	}
	return T(1 / (1 + math.Exp(-float64(x))))
}

func tanhT[T float](x T) T {
	if unsafe.Sizeof(x) == 4 {
		if x > 9 || x < -9 { // tanh is ±1 in float32; avoids Inf/Inf
			if x > 0 {
				return 1
			}
			return -1
		}
		return T(1 - 2/(expf(2*float32(x))+1))
	}
	return T(math.Tanh(float64(x)))
}
