package privacy

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// logSharedBatchA integrates, on a 2-D grid, log A_α for two critics on the
// same Poisson batch: the mixture (1−q)N(0, σ²I) + qN((1, 1), σ²I) against
// N(0, σ²I), each coordinate being one critic's clipped sum (C = 1).
func logSharedBatchA(q, sigma, alpha float64) float64 {
	h := math.Min(sigma, sigma*sigma) / 20
	lo, hi := -10*sigma-1, alpha+10*sigma+1
	n := int(math.Ceil((hi - lo) / h))
	v2 := 2 * sigma * sigma
	logq, log1q := math.Log(q), math.Log1p(-q)
	logPhi := make([]float64, n+1)
	shift := make([]float64, n+1)
	for i := range logPhi {
		z := lo + float64(i)*h
		logPhi[i] = -z*z/v2 - math.Log(sigma*math.Sqrt(2*math.Pi))
		shift[i] = (2*z - 1) / v2
	}
	f := make([]float64, 0, (n+1)*(n+1))
	m := math.Inf(-1)
	for i := range logPhi {
		for j := range logPhi {
			a, b := log1q, logq+shift[i]+shift[j]
			if a < b {
				a, b = b, a
			}
			v := logPhi[i] + logPhi[j] + alpha*(a+math.Log1p(math.Exp(b-a)))
			f = append(f, v)
			m = math.Max(m, v)
		}
	}
	var sum float64
	for _, v := range f {
		sum += math.Exp(v - m)
	}
	return m + math.Log(sum*h*h)
}

// TestCriticStepSharedBatchIsExact checks by integration that two critics
// on a shared batch are one sampled Gaussian mechanism with σ/√2, that
// composing two independent ones (as if the batches were separate) would
// undercount, and that NetShare's σ/2 overcounts.
func TestCriticStepSharedBatchIsExact(t *testing.T) {
	for _, tt := range []struct{ q, sigma, alpha float64 }{
		{0.1, 1, 2}, {0.1, 0.8, 3.5}, {0.3, 1.5, 2.5},
	} {
		t.Run(fmt.Sprintf("q=%v,σ=%v,α=%v", tt.q, tt.sigma, tt.alpha), func(t *testing.T) {
			orders := []float64{tt.alpha}
			want := logSharedBatchA(tt.q, tt.sigma, tt.alpha) / (tt.alpha - 1)
			step := func(s BatchSharing) float64 {
				m, err := CriticStep(tt.q, tt.sigma, 2, s, orders)
				if err != nil {
					t.Fatal(err)
				}
				return m.RDP()[0]
			}
			shared, separate, halved := step(SharedBatch), step(SeparateBatches), step(NetShareHalved)
			if !near(shared, want, 1e-5, 0) {
				t.Errorf("shared-batch RDP %.10g, integration gives %.10g", shared, want)
			}
			if separate >= want {
				t.Errorf("separate-batch RDP %.10g not below the shared-batch truth %.10g", separate, want)
			}
			if halved <= want {
				t.Errorf("NetShare's σ/2 RDP %.10g not above the truth %.10g", halved, want)
			}
		})
	}
}

func TestCriticStep(t *testing.T) {
	orders := DefaultOrders()
	sgm := func(q, s float64) []float64 {
		r, err := SampledGaussianRDPs(q, s, 1, orders)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	times := func(r []float64, k float64) []float64 {
		out := slices.Clone(r)
		for i := range out {
			out[i] *= k
		}
		return out
	}
	const q, s = 0.01, 1.1
	tests := []struct {
		critics int
		sharing BatchSharing
		want    []float64
	}{
		{1, SharedBatch, sgm(q, s)},
		{1, SeparateBatches, sgm(q, s)},
		{1, NetShareHalved, sgm(q, s)},
		{2, SharedBatch, sgm(q, s/math.Sqrt2)},
		{2, SeparateBatches, times(sgm(q, s), 2)},
		{2, NetShareHalved, sgm(q, s/2)},
		{3, SharedBatch, sgm(q, s/math.Sqrt(3))},
	}
	for _, tt := range tests {
		m, err := CriticStep(q, s, tt.critics, tt.sharing, orders)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range m.RDP() {
			if !near(r, tt.want[i], 1e-12, 0) {
				t.Errorf("%d critics, %v: RDP at α=%v is %v, want %v", tt.critics, tt.sharing, orders[i], r, tt.want[i])
				break
			}
		}
	}
	// Without sampling, sharing a batch or not is the same mechanism.
	a, _ := CriticStep(1, s, 2, SharedBatch, orders)
	b, _ := CriticStep(1, s, 2, SeparateBatches, orders)
	for i := range orders {
		if !near(a.rdp[i], b.rdp[i], 1e-12, 0) {
			t.Errorf("q=1, α=%v: shared %v, separate %v", orders[i], a.rdp[i], b.rdp[i])
		}
	}
	if _, err := CriticStep(q, s, 0, SharedBatch, orders); err == nil {
		t.Error("0 critics: no error")
	}
	if _, err := CriticStep(q, s, 2, BatchSharing(9), orders); err == nil {
		t.Error("unknown sharing: no error")
	}
	for _, name := range []string{"shared", "separate", "netshare"} {
		if b, err := ParseBatchSharing(name); err != nil || b.String() != name {
			t.Errorf("ParseBatchSharing(%q) = %v, %v", name, b, err)
		}
	}
	if _, err := ParseBatchSharing("both"); err == nil {
		t.Error(`ParseBatchSharing("both"): no error`)
	}
}

func TestAccountantComposesAdditively(t *testing.T) {
	acc, err := NewAccountant(AccountantConfig{Delta: 1e-5})
	if err != nil {
		t.Fatal(err)
	}
	step, err := SampledGaussian(150.0/60000, 1.3, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 6000 steps charged in uneven pieces equal 6000 steps at once.
	for _, k := range []int{1, 999, 3000, 2000} {
		if err := acc.Compose(step, k); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := SampledGaussianRDPs(150.0/60000, 1.3, 6000, DefaultOrders())
	for i, r := range acc.RDP() {
		if !near(r, want[i], 1e-12, 0) {
			t.Fatalf("α=%v: composed %v, want %v", acc.Orders()[i], r, want[i])
		}
	}
	eps, order, err := acc.Epsilon()
	if err != nil || math.Abs(eps-0.7242) > 5e-5 || order != 19 {
		t.Errorf("ε = %v at %v (%v), want 0.7242 at 19", eps, order, err)
	}
	// A count release adds α/2 at every order.
	count, err := Gaussian(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Compose(count, 1); err != nil {
		t.Fatal(err)
	}
	for i, r := range acc.RDP() {
		a := acc.Orders()[i]
		if !near(r, want[i]+a/2, 1e-12, 0) {
			t.Fatalf("α=%v: with count %v, want %v", a, r, want[i]+a/2)
		}
	}
}

func TestAccountantRejectsBadInput(t *testing.T) {
	for _, cfg := range []AccountantConfig{
		{Delta: 0},
		{Delta: 1},
		{Delta: 1e-5, Orders: []float64{0.5}},
		{Delta: 1e-5, Conversion: Conversion(5)},
	} {
		if _, err := NewAccountant(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	acc, _ := NewAccountant(AccountantConfig{Delta: 1e-5})
	other, _ := SampledGaussian(0.1, 1, []float64{2, 3})
	if err := acc.Compose(other, 1); err == nil {
		t.Error("mismatched orders: no error")
	}
	if err := acc.Compose(Mechanism{}, 1); err == nil {
		t.Error("zero Mechanism: no error")
	}
	step, _ := SampledGaussian(0.1, 1, nil)
	if err := acc.Compose(step, -1); err == nil {
		t.Error("negative times: no error")
	}
	if r := acc.RDP(); slices.ContainsFunc(r, func(v float64) bool { return v != 0 }) {
		t.Errorf("failed charges changed the accountant: %v", r)
	}
}
