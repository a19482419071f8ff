package privacy

import (
	"math"
	"testing"
)

func TestConversionKnownValues(t *testing.T) {
	const2to32 := func() (orders, rdp []float64) {
		for a := 2; a <= 32; a++ {
			orders = append(orders, float64(a))
			rdp = append(rdp, 1.1)
		}
		return orders, rdp
	}
	// A fine grid of orders over the Gaussian mechanism with σ chosen so the
	// tight conversion gives exactly (1, 1e-6) (TensorFlow Privacy's test).
	fineGaussian := func() (orders, rdp []float64) {
		for i := 1001; i < 100000; i++ {
			a := 0.001 * float64(i)
			orders = append(orders, a)
			r, _ := SampledGaussianRDP(1, 4.530877117, a)
			rdp = append(rdp, r)
		}
		return orders, rdp
	}
	o1, r1 := const2to32()
	o2, r2 := fineGaussian()
	tests := []struct {
		name      string
		orders    []float64
		rdp       []float64
		delta     float64
		conv      Conversion
		want      float64
		wantOrder float64 // 0: any
	}{
		// Constant RDP is pure DP; the largest order wins.
		{"constant, tight", o1, r1, 1e-5, Tight, 1.32783806176, 32},
		{"constant, classic", o1, r1, 1e-5, Classic, 1.1 + math.Log(1e5)/31, 32},
		{"gaussian (1, 1e-6)", o2, r2, 1e-6, Tight, 1, 0},
		// Tiny RDP: the KL bound on total variation already gives δ.
		{"KL shortcut", []float64{2, 3}, []float64{1e-12, 2e-12}, 1e-5, Tight, 0, 2},
		{"infinite", []float64{2, 3}, []float64{math.Inf(1), math.Inf(1)}, 1e-5, Tight, math.Inf(1), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps, order, err := tt.conv.Epsilon(tt.orders, tt.rdp, tt.delta)
			if err != nil {
				t.Fatal(err)
			}
			if !near(eps, tt.want, 1e-8, 1e-8) || (tt.wantOrder != 0 && order != tt.wantOrder) {
				t.Errorf("ε = %.12g at order %v, want %.12g at %v", eps, order, tt.want, tt.wantOrder)
			}
		})
	}
}

// TestDeltaInvertsEpsilon checks that Delta is the inverse of Epsilon for
// both rules over many mechanisms and δ.
func TestDeltaInvertsEpsilon(t *testing.T) {
	orders := DefaultOrders()
	for _, conv := range []Conversion{Tight, Classic} {
		for _, q := range []float64{0.01, 0.1, 0.8, 1} {
			for _, sigma := range []float64{0.5, 1, 3, 10} {
				rdp, err := SampledGaussianRDPs(q, sigma, 1, orders)
				if err != nil {
					t.Fatal(err)
				}
				for _, delta := range []float64{0.5, 1e-3, 1e-5, 1e-9, 1e-12} {
					eps, o1, err := conv.Epsilon(orders, rdp, delta)
					if err != nil {
						t.Fatal(err)
					}
					d2, o2, err := conv.Delta(orders, rdp, eps)
					if err != nil {
						t.Fatal(err)
					}
					if eps == 0 {
						// Degenerate: δ at ε = 0 can only be smaller.
						if d2 > delta*(1+1e-9) {
							t.Errorf("%v q=%v σ=%v: δ(ε=0) = %v above %v", conv, q, sigma, d2, delta)
						}
						continue
					}
					if o1 != o2 || !near(d2, delta, 1e-8, 0) {
						t.Errorf("%v q=%v σ=%v δ=%v: ε=%v at %v gives back δ=%v at %v", conv, q, sigma, delta, eps, o1, d2, o2)
					}
				}
			}
		}
	}
}

// TestConversionSoundAndTighter compares both rules with the exact privacy
// curve of the Gaussian mechanism (Balle and Wang 2018, Theorem 8): the
// δ either rule claims must never be below the true δ, and the tight rule
// must never claim more ε than the classic one.
func TestConversionSoundAndTighter(t *testing.T) {
	var orders []float64
	for x := 10; x < 505; x++ {
		orders = append(orders, 0.1*float64(x)+0.001)
	}
	for _, sigma := range []float64{0.5, 1, 2, 5} {
		rdp, err := SampledGaussianRDPs(1, sigma, 1, orders)
		if err != nil {
			t.Fatal(err)
		}
		for x := 0; x < 100; x++ {
			eps := 0.1 * float64(x)
			exact := 0.5*math.Erfc((eps*sigma-0.5/sigma)/math.Sqrt2) -
				math.Exp(eps)*0.5*math.Erfc((eps*sigma+0.5/sigma)/math.Sqrt2)
			dt, _, err := Delta(orders, rdp, eps)
			if err != nil {
				t.Fatal(err)
			}
			dc, _, err := DeltaClassic(orders, rdp, eps)
			if err != nil {
				t.Fatal(err)
			}
			if dt < exact-1e-300 || dc < exact-1e-300 {
				t.Errorf("σ=%v ε=%v: claimed δ tight=%v classic=%v below the exact %v", sigma, eps, dt, dc, exact)
			}
			if dt > dc {
				t.Errorf("σ=%v ε=%v: tight δ %v above classic %v", sigma, eps, dt, dc)
			}
		}
		for _, delta := range []float64{1e-3, 1e-5, 1e-8} {
			et, _, _ := Epsilon(orders, rdp, delta)
			ec, _, _ := EpsilonClassic(orders, rdp, delta)
			if et > ec {
				t.Errorf("σ=%v δ=%v: tight ε %v above classic %v", sigma, delta, et, ec)
			}
		}
	}
}

func TestConversionRejectsBadInput(t *testing.T) {
	good := []float64{2, 3}
	tests := []struct {
		name   string
		orders []float64
		rdp    []float64
		delta  float64
	}{
		{"no orders", nil, nil, 1e-5},
		{"length mismatch", good, []float64{1}, 1e-5},
		{"order at 1", []float64{1, 2}, []float64{1, 1}, 1e-5},
		{"negative rdp", good, []float64{1, -1}, 1e-5},
		{"NaN rdp", good, []float64{1, math.NaN()}, 1e-5},
		{"zero delta", good, []float64{1, 1}, 0},
		{"delta one", good, []float64{1, 1}, 1},
	}
	for _, tt := range tests {
		for _, conv := range []Conversion{Tight, Classic} {
			if _, _, err := conv.Epsilon(tt.orders, tt.rdp, tt.delta); err == nil {
				t.Errorf("%s, %v: no error", tt.name, conv)
			}
		}
	}
	if _, _, err := Delta(good, []float64{1, 1}, -1); err == nil {
		t.Error("negative ε: no error")
	}
	if _, _, err := Conversion(7).Epsilon(good, []float64{1, 1}, 1e-5); err == nil {
		t.Error("unknown conversion: no error")
	}
	for _, s := range []string{"tight", "classic"} {
		c, err := ParseConversion(s)
		if err != nil || c.String() != s {
			t.Errorf("ParseConversion(%q) = %v, %v", s, c, err)
		}
	}
	if _, err := ParseConversion("loose"); err == nil {
		t.Error(`ParseConversion("loose"): no error`)
	}
}
