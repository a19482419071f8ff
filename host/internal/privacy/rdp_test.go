package privacy

import (
	"fmt"
	"math"
	"testing"
)

// near reports whether got is within rel relative or abs absolute of want.
func near(got, want, rel, abs float64) bool {
	if math.IsInf(want, 0) || math.IsInf(got, 0) {
		return got == want
	}
	d := math.Abs(got - want)
	return d <= abs || d <= rel*math.Abs(want)
}

// TestPublishedEpsilon reproduces ε values published by TensorFlow Privacy's
// tutorial and by Opacus' compute_dp_sgd_privacy documentation.
func TestPublishedEpsilon(t *testing.T) {
	tests := []struct {
		name      string
		q, sigma  float64
		steps     int
		orders    []float64
		conv      Conversion
		wantEps   float64
		tol       float64
		wantOrder float64
	}{
		// n = 60000, batch 150, σ = 1.3, 15 epochs = 6000 steps, δ = 1e-5.
		{"tf-privacy tutorial, tight", 150.0 / 60000, 1.3, 6000, DefaultOrders(), Tight, 0.7242, 5e-5, 19},
		// The same plan under the pre-2020 conversion: the published 0.7242
		// is the tight number; the classic rule gives 0.9419.
		{"tf-privacy tutorial, classic", 150.0 / 60000, 1.3, 6000, DefaultOrders(), Classic, 0.94187, 5e-5, 19},
		// Opacus: sample rate 1%, σ = 1.0, 3 epochs = 300 steps, orders
		// {2, 5, 10, 20, 100}: ε = 2.39 at α = 5.
		{"opacus docs", 0.01, 1.0, 300, []float64{2, 5, 10, 20, 100}, Tight, 2.39, 5e-3, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdp, err := SampledGaussianRDPs(tt.q, tt.sigma, tt.steps, tt.orders)
			if err != nil {
				t.Fatal(err)
			}
			eps, order, err := tt.conv.Epsilon(tt.orders, rdp, 1e-5)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(eps-tt.wantEps) > tt.tol || order != tt.wantOrder {
				t.Errorf("ε = %.6f at order %v, want %v ± %v at order %v", eps, order, tt.wantEps, tt.tol, tt.wantOrder)
			}
		})
	}
}

// TestTFPrivacyRDP checks RDP values from TensorFlow Privacy's own tests.
func TestTFPrivacyRDP(t *testing.T) {
	tests := []struct {
		q, sigma float64
		steps    int
		orders   []float64
		want     []float64
	}{
		{0.1, 2, 10, []float64{5}, []float64{0.07737}},
		{0.01, 2.5, 50, []float64{1.5, 2.5, 5, 50, 100}, []float64{0.00065, 0.001085, 0.00218075, 0.023846, 167.416307}},
	}
	for _, tt := range tests {
		got, err := SampledGaussianRDPs(tt.q, tt.sigma, tt.steps, tt.orders)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-5 {
				t.Errorf("q=%v σ=%v T=%d α=%v: RDP %.8g, want %.8g", tt.q, tt.sigma, tt.steps, tt.orders[i], got[i], tt.want[i])
			}
		}
	}
}

// logMixtureA computes log A_α = log ∫ μ0(z) (μ(z)/μ0(z))^α dz by direct
// numerical integration, where μ0 = N(0, σ²) and μ = (1−q)μ0 + q N(1, σ²):
// the Rényi divergence of order α between the mixture and μ0, times α−1. It
// shares no code with the series in rdp.go. The trapezoid rule on a grid
// finer than both the Gaussian's width σ and the ratio's transition width
// σ², covering [−40σ−1, α+40σ+1] (the integrand's two bumps sit at 0 and α),
// summed relative to its maximum with compensated summation.
func logMixtureA(q, sigma, alpha float64) float64 {
	h := math.Min(sigma, sigma*sigma) / 40
	lo, hi := -40*sigma-1, alpha+40*sigma+1
	n := int(math.Ceil((hi - lo) / h))
	logq, log1q := math.Log(q), math.Log1p(-q)
	f := make([]float64, n+1)
	m := math.Inf(-1)
	for i := range f {
		z := lo + float64(i)*h
		t := (2*z - 1) / (2 * sigma * sigma)
		a, b := log1q, logq+t
		if a < b {
			a, b = b, a
		}
		logRatio := a + math.Log1p(math.Exp(b-a))
		f[i] = -z*z/(2*sigma*sigma) - math.Log(sigma*math.Sqrt(2*math.Pi)) + alpha*logRatio
		m = math.Max(m, f[i])
	}
	var sum, comp float64
	for i, v := range f {
		w := 1.0
		if i == 0 || i == n {
			w = 0.5
		}
		y := w*math.Exp(v-m) - comp
		s := sum + y
		comp = (s - sum) - y
		sum = s
	}
	return m + math.Log(sum*h)
}

// TestRDPMatchesIntegration compares the exact series, integer and
// fractional, with direct numerical integration of the Rényi divergence.
func TestRDPMatchesIntegration(t *testing.T) {
	tests := []struct{ q, sigma, alpha float64 }{
		// TensorFlow Privacy's multi-precision comparison cases.
		{1e-7, .1, 1.01},
		{1e-6, .1, 256},
		{1e-5, .1, 256.1},
		{1e-6, 1, 27},
		{1e-4, 1, 1.5},
		{1e-3, 1, 2},
		{.01, 10, 20},
		{.1, 100, 20.5},
		{.99, .1, 256},
		{.999, 100, 256.1},
		// The tutorial's parameters at orders around the optimum, and
		// mid-range cases where the fractional series converges slowly.
		{0.0025, 1.3, 19},
		{0.0025, 1.3, 18.5},
		{0.0025, 1.3, 1.25},
		{0.0025, 1.3, 2.25},
		{0.01, 0.5, 4.5},
		{0.5, 1, 1.75},
		{0.5, 1, 3},
		{0.3, 4, 63},
		{0.05, 0.8, 7.5},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("q=%v,σ=%v,α=%v", tt.q, tt.sigma, tt.alpha), func(t *testing.T) {
			rdp, err := SampledGaussianRDP(tt.q, tt.sigma, tt.alpha)
			if err != nil {
				t.Fatal(err)
			}
			got := rdp * (tt.alpha - 1)
			want := logMixtureA(tt.q, tt.sigma, tt.alpha)
			if !near(got, want, 1e-6, 1e-13) {
				t.Errorf("log A = %.12g, integration gives %.12g", got, want)
			}
		})
	}
}

func TestRDPSpecialCases(t *testing.T) {
	tests := []struct {
		name            string
		q, sigma, alpha float64
		want            float64
	}{
		{"q=1 is the Gaussian α/(2σ²)", 1, 2, 3, 3.0 / 8},
		{"q=1 fractional order", 1, 0.5, 1.5, 3},
		{"q=1 large order", 1, 10, 512, 2.56},
		{"q=0 costs nothing", 0, 0.1, 20, 0},
		{"σ=0 is unbounded", 0.01, 0, 2, math.Inf(1)},
		{"σ=0 without data costs nothing", 0, 0, 2, 0},
		{"infinite noise costs nothing", 0.3, math.Inf(1), 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SampledGaussianRDP(tt.q, tt.sigma, tt.alpha)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tt.want, 1e-15, 0) {
				t.Errorf("RDP = %v, want %v", got, tt.want)
			}
		})
	}
	// Where the fractional series is cut off, the bound at ⌈α⌉ is used: it
	// is that value exactly, and above the integrated truth.
	for _, tt := range []struct{ q, sigma, alpha float64 }{{0.5, 1e4, 1.25}, {0.5, 1000, 1.5}} {
		got, err := SampledGaussianRDP(tt.q, tt.sigma, tt.alpha)
		if err != nil {
			t.Fatal(err)
		}
		bound, _ := SampledGaussianRDP(tt.q, tt.sigma, math.Ceil(tt.alpha))
		truth := logMixtureA(tt.q, tt.sigma, tt.alpha) / (tt.alpha - 1)
		if got != bound || got <= truth {
			t.Errorf("q=%v σ=%v α=%v: RDP %v, want the bound %v above the truth %v", tt.q, tt.sigma, tt.alpha, got, bound, truth)
		}
	}
	// Sampling only helps: the sampled mechanism never costs more than q=1.
	for _, a := range DefaultOrders() {
		g, _ := SampledGaussianRDP(1, 1.1, a)
		s, _ := SampledGaussianRDP(0.999, 1.1, a)
		if s > g*(1+1e-12) {
			t.Errorf("α=%v: sampled RDP %v above the unsampled %v", a, s, g)
		}
	}
}

func TestRDPRejectsBadInput(t *testing.T) {
	tests := []struct{ q, sigma, alpha float64 }{
		{-0.1, 1, 2}, {1.1, 1, 2}, {math.NaN(), 1, 2},
		{0.1, -1, 2}, {0.1, math.NaN(), 2},
		{0.1, 1, 1}, {0.1, 1, 0.5}, {0.1, 1, math.Inf(1)}, {0.1, 1, math.NaN()},
	}
	for _, tt := range tests {
		if _, err := SampledGaussianRDP(tt.q, tt.sigma, tt.alpha); err == nil {
			t.Errorf("q=%v σ=%v α=%v: no error", tt.q, tt.sigma, tt.alpha)
		}
	}
	if _, err := SampledGaussianRDPs(0.1, 1, -1, DefaultOrders()); err == nil {
		t.Error("negative steps: no error")
	}
	if _, err := SampledGaussianRDPs(0.1, 1, 1, nil); err == nil {
		t.Error("no orders: no error")
	}
}

// TestRDPMonotone checks the orderings the theory guarantees: RDP grows with
// the order (Rényi divergence is non-decreasing in α, which ties the integer
// and fractional branches together), grows with q, and falls as σ grows.
func TestRDPMonotone(t *testing.T) {
	orders := DefaultOrders()
	qs := []float64{1e-4, 0.0025, 0.01, 0.1, 0.5, 0.9}
	sigmas := []float64{0.3, 0.7, 1, 1.3, 2, 4}
	memo := map[[3]float64]float64{}
	rdp := func(q, s, a float64) float64 {
		k := [3]float64{q, s, a}
		if r, ok := memo[k]; ok {
			return r
		}
		r, err := SampledGaussianRDP(q, s, a)
		if err != nil {
			t.Fatal(err)
		}
		memo[k] = r
		return r
	}
	const slack = 1 + 1e-9
	for _, q := range qs {
		for _, s := range sigmas {
			for i := 1; i < len(orders); i++ {
				if lo, hi := rdp(q, s, orders[i-1]), rdp(q, s, orders[i]); lo > hi*slack {
					t.Errorf("q=%v σ=%v: RDP at α=%v (%v) above α=%v (%v)", q, s, orders[i-1], lo, orders[i], hi)
				}
			}
		}
	}
	for _, a := range []float64{1.25, 2, 4.5, 19, 63} {
		for _, s := range sigmas {
			for i := 1; i < len(qs); i++ {
				if lo, hi := rdp(qs[i-1], s, a), rdp(qs[i], s, a); lo > hi*slack {
					t.Errorf("σ=%v α=%v: RDP at q=%v (%v) above q=%v (%v)", s, a, qs[i-1], lo, qs[i], hi)
				}
			}
		}
		for _, q := range qs {
			for i := 1; i < len(sigmas); i++ {
				if hi, lo := rdp(q, sigmas[i-1], a), rdp(q, sigmas[i], a); lo > hi*slack {
					t.Errorf("q=%v α=%v: RDP at σ=%v (%v) above σ=%v (%v)", q, a, sigmas[i], lo, sigmas[i-1], hi)
				}
			}
		}
	}
}

func TestDefaultOrders(t *testing.T) {
	o := DefaultOrders()
	if len(o) != 10+59+3 || o[0] != 1.25 || o[9] != 4.5 || o[10] != 5 || o[68] != 63 || o[71] != 512 {
		t.Errorf("DefaultOrders = %v", o)
	}
	o[0] = 99
	if DefaultOrders()[0] != 1.25 {
		t.Error("DefaultOrders shares its slice")
	}
}

func TestLogErfc(t *testing.T) {
	// Where erfc does not underflow, compare with it directly; at the
	// switch-over point the asymptotic series must agree with it too.
	for _, x := range []float64{-30, -3, 0, 0.5, 3, 10, 24.9} {
		if got, want := logErfc(x), math.Log(math.Erfc(x)); !near(got, want, 1e-13, 1e-15) {
			t.Errorf("logErfc(%v) = %v, want %v", x, got, want)
		}
	}
	x := 25.0
	u := 1 / (2 * x * x)
	asym := -x*x - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(1-u+3*u*u-15*u*u*u+105*u*u*u*u)
	if want := math.Log(math.Erfc(x)); !near(asym, want, 1e-13, 0) {
		t.Errorf("asymptotic log erfc(25) = %v, math.Erfc gives %v", asym, want)
	}
	if got := logErfc(1e5); math.IsInf(got, 0) || got > -1e10 {
		t.Errorf("logErfc(1e5) = %v", got)
	}
}
