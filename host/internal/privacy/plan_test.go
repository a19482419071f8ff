package privacy

import (
	"math"
	"strings"
	"testing"
)

// tutorial is TF Privacy's tutorial plan with the counts left out.
func tutorial() Plan {
	return Plan{Records: 60000, Batch: 150, Noise: 1.3, Epochs: 15, Delta: 1e-5, PublicCounts: true}
}

func TestPlanEpsilon(t *testing.T) {
	// Independent per-chunk pieces, for the chunk and count cases.
	orders := DefaultOrders()
	step, _ := SampledGaussianRDPs(150.0/60000, 1.3, 6000, orders)
	sumCurve := func(chunks int, countSigma float64) []float64 {
		out := make([]float64, len(orders))
		for i, a := range orders {
			out[i] = float64(chunks) * step[i]
			if countSigma > 0 {
				out[i] += float64(chunks) * a / (2 * countSigma * countSigma)
			}
		}
		return out
	}
	epsOf := func(c Conversion, curve []float64) float64 {
		e, _, err := c.Epsilon(orders, curve, 1e-5)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name      string
		edit      func(*Plan)
		want      float64
		tol       float64
		wantOrder float64 // 0: any
		wantSteps int
	}{
		{"tutorial", func(*Plan) {}, 0.7242, 5e-5, 19, 6000},
		{"tutorial in steps", func(p *Plan) { p.Epochs, p.Steps = 0, 6000 }, 0.7242, 5e-5, 19, 6000},
		{"tutorial, classic", func(p *Plan) { p.Conversion = Classic }, 0.94187, 5e-5, 19, 6000},
		{"fractional epochs round up", func(p *Plan) { p.Epochs = 15.0001 }, 0.7242, 1e-3, 0, 6001},
		{"4 chunks sum", func(p *Plan) { p.Chunks = 4 }, epsOf(Tight, sumCurve(4, 0)), 1e-9, 0, 6000},
		{"NetShare count per chunk", func(p *Plan) { p.Chunks = 3; p.PublicCounts = false }, epsOf(Tight, sumCurve(3, 1)), 1e-9, 0, 6000},
		{"count noise 2", func(p *Plan) { p.PublicCounts = false; p.CountNoise = 2 }, epsOf(Tight, sumCurve(1, 2)), 1e-9, 0, 6000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tutorial()
			tt.edit(&p)
			r, err := p.Epsilon()
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.Epsilon-tt.want) > tt.tol || (tt.wantOrder != 0 && r.Order != tt.wantOrder) || r.Steps != tt.wantSteps {
				t.Errorf("ε = %.6f at order %v after %d steps, want %.6f ± %v at %v after %d",
					r.Epsilon, r.Order, r.Steps, tt.want, tt.tol, tt.wantOrder, tt.wantSteps)
			}
			if r.Delta != 1e-5 || r.Noise != p.Noise || r.SampleRate != 0.0025 {
				t.Errorf("result %+v does not echo the plan", r)
			}
		})
	}
}

// TestPlanCountReleaseIsSound checks NetShare's noisy count (Gaussian, σ = 1,
// sensitivity 1) against the exact δ(ε) of the Gaussian mechanism.
func TestPlanCountReleaseIsSound(t *testing.T) {
	p := Plan{Records: 1000, Batch: 10, Noise: math.Inf(1), Steps: 100, Delta: 1e-5}
	r, err := p.Epsilon()
	if err != nil {
		t.Fatal(err)
	}
	eps := r.Epsilon
	exact := 0.5*math.Erfc((eps-0.5)/math.Sqrt2) - math.Exp(eps)*0.5*math.Erfc((eps+0.5)/math.Sqrt2)
	if exact > 1e-5 || eps < 4 || eps > 6 {
		t.Errorf("count alone: ε = %v, exact δ there %v (want ≤ 1e-5)", eps, exact)
	}
}

func TestPlanMonotone(t *testing.T) {
	eps := func(edit func(*Plan)) float64 {
		p := tutorial()
		p.Epochs, p.Steps = 0, 2000
		edit(&p)
		r, err := p.Epsilon()
		if err != nil {
			t.Fatal(err)
		}
		return r.Epsilon
	}
	prev := 0.0
	for _, steps := range []int{1, 10, 100, 1000, 5000, 20000} {
		e := eps(func(p *Plan) { p.Steps = steps })
		if e < prev {
			t.Errorf("ε falls from %v to %v at %d steps", prev, e, steps)
		}
		prev = e
	}
	prev = math.Inf(1)
	for _, s := range []float64{0.5, 0.8, 1, 1.3, 2, 5} {
		e := eps(func(p *Plan) { p.Noise = s })
		if e > prev {
			t.Errorf("ε rises from %v to %v at σ = %v", prev, e, s)
		}
		prev = e
	}
	prev = 0
	for _, b := range []int{10, 100, 600, 6000, 60000} {
		e := eps(func(p *Plan) { p.Batch = b })
		if e < prev {
			t.Errorf("ε falls from %v to %v at batch %d", prev, e, b)
		}
		prev = e
	}
	one, shared, netshare := eps(func(*Plan) {}), eps(func(p *Plan) { p.Critics = 2 }), eps(func(p *Plan) { p.Critics = 2; p.Sharing = NetShareHalved })
	if !(one < shared && shared < netshare) {
		t.Errorf("1 critic ε = %v, 2 shared %v, NetShare σ/2 %v: want increasing", one, shared, netshare)
	}
}

func TestPlanSolveNoise(t *testing.T) {
	for _, tt := range []struct {
		name   string
		edit   func(*Plan)
		target float64
	}{
		{"tutorial", func(*Plan) {}, 0.7242234},
		{"two critics, 4 chunks, counts", func(p *Plan) { p.Critics = 2; p.Chunks = 4; p.PublicCounts = false }, 30},
		{"small target", func(p *Plan) { p.Epochs = 1 }, 0.1},
		{"large target", func(p *Plan) { p.Epochs = 1 }, 50},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tutorial()
			tt.edit(&p)
			r, err := p.SolveNoise(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if r.Epsilon > tt.target {
				t.Errorf("σ = %v spends ε = %v above target %v", r.Noise, r.Epsilon, tt.target)
			}
			p.Noise = r.Noise * (1 - 3*solveTolerance)
			below, err := p.Epsilon()
			if err != nil {
				t.Fatal(err)
			}
			if below.Epsilon <= tt.target {
				t.Errorf("σ = %v is not the smallest: %v also spends ε = %v ≤ %v", r.Noise, p.Noise, below.Epsilon, tt.target)
			}
		})
	}
	// The tutorial's published ε gives back its σ.
	r, err := tutorial().SolveNoise(0.7242234)
	if err != nil || math.Abs(r.Noise-1.3) > 1e-4 {
		t.Errorf("solve for the tutorial's ε: σ = %v (%v), want 1.3", r.Noise, err)
	}
	// Counts alone spend about 5 at δ = 1e-5: a target of 1 is out of reach.
	p := tutorial()
	p.PublicCounts = false
	if _, err := p.SolveNoise(1); err == nil || !strings.Contains(err.Error(), "count") {
		t.Errorf("unreachable target: err = %v", err)
	}
}

func TestPlanRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Plan)
	}{
		{"no records", func(p *Plan) { p.Records = 0 }},
		{"no batch", func(p *Plan) { p.Batch = 0 }},
		{"batch above records", func(p *Plan) { p.Batch = 60001 }},
		{"no delta", func(p *Plan) { p.Delta = 0 }},
		{"delta 1", func(p *Plan) { p.Delta = 1 }},
		{"negative noise", func(p *Plan) { p.Noise = -1 }},
		{"NaN noise", func(p *Plan) { p.Noise = math.NaN() }},
		{"steps and epochs", func(p *Plan) { p.Steps = 10 }},
		{"neither steps nor epochs", func(p *Plan) { p.Epochs = 0 }},
		{"negative steps", func(p *Plan) { p.Epochs, p.Steps = 0, -1 }},
		{"infinite epochs", func(p *Plan) { p.Epochs = math.Inf(1) }},
		{"negative chunks", func(p *Plan) { p.Chunks = -1 }},
		{"negative critics", func(p *Plan) { p.Critics = -2 }},
		{"negative count noise", func(p *Plan) { p.PublicCounts = false; p.CountNoise = -1 }},
		{"bad orders", func(p *Plan) { p.Orders = []float64{1} }},
		{"bad conversion", func(p *Plan) { p.Conversion = Conversion(3) }},
		{"bad sharing", func(p *Plan) { p.Critics = 2; p.Sharing = BatchSharing(8) }},
		{"too many steps", func(p *Plan) { p.Epochs = 1e12 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tutorial()
			tt.edit(&p)
			if _, err := p.Epsilon(); err == nil {
				t.Error("no error")
			}
		})
	}
	if _, err := tutorial().SolveNoise(0); err == nil {
		t.Error("SolveNoise(0): no error")
	}
}
