package gan

import (
	"math"
	"testing"
)

func TestFastMath(t *testing.T) {
	for x := -100.0; x <= 100; x += 0.01 {
		fx := float32(x)
		e, want := float64(expf(fx)), math.Exp(float64(fx))
		if want < math.SmallestNonzeroFloat32*1e10 || want > math.MaxFloat32 {
			continue
		}
		if math.Abs(e-want) > 4e-7*want {
			t.Fatalf("expf(%g) = %g, want %g", fx, e, want)
		}
		if d := math.Abs(float64(tanhT(fx)) - math.Tanh(float64(fx))); d > 3e-7 {
			t.Fatalf("tanh(%g) off by %g", fx, d)
		}
		if d := math.Abs(float64(sigmoidT(fx)) - 1/(1+math.Exp(-float64(fx)))); d > 3e-7 {
			t.Fatalf("sigmoid(%g) off by %g", fx, d)
		}
	}
	if !math.IsInf(float64(expf(100)), 1) || expf(-100) != 0 || tanhT(float32(50)) != 1 || sigmoidT(float32(-200)) != 0 {
		t.Fatal("fast math limits wrong")
	}
}
