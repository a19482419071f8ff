package privacy

import (
	"fmt"
	"math"
)

// Plan describes a DP training run before it starts: K chunks, each trained
// with DP-SGD on its own records, plus (as NetShare does) one noisy release
// of each chunk's flow count. Every chunk uses the same parameters; for
// chunks that differ, compose their mechanisms on an Accountant directly.
//
// The total is Σ over chunks of (Steps × CriticStep + one Gaussian count
// release, and one of the length histogram with Plan.LengthHistogram): chunks compose sequentially because one flow, the unit the
// guarantee protects, can have records in every chunk. See docs/privacy.md.
type Plan struct {
	// Records is the number of training examples (flows) in each chunk,
	// the population Poisson sampling draws each batch from.
	Records int
	// Batch is the expected batch size; the sample rate is Batch/Records.
	Batch int
	// Noise is the noise multiplier σ: each critic adds Gaussian noise of
	// standard deviation σ·C to its sum of per-example gradients clipped
	// to C. SolveNoise ignores it.
	Noise float64
	// Steps is the number of DP-SGD critic updates per chunk (iterations ×
	// critic rounds per iteration). Set Steps or Epochs, not both.
	Steps int
	// Epochs gives Steps = ⌈Epochs·Records/Batch⌉ when Steps is 0.
	Epochs float64
	// Delta is the δ of the (ε, δ) guarantee, in (0, 1).
	Delta float64
	// Chunks is the number of chunks; 0 means 1.
	Chunks int
	// Critics is the number of critics trained with DP-SGD per step (2
	// with DoppelGANger's attribute critic); 0 means 1.
	Critics int
	// Sharing says how the critics share each batch; the zero value is
	// SharedBatch.
	Sharing BatchSharing
	// CountNoise is the noise multiplier of the Gaussian mechanism that
	// releases each chunk's flow count (sensitivity 1); 0 means NetShare's
	// σ = 1. It is ignored when PublicCounts is set.
	CountNoise float64
	// PublicCounts drops the count release from the accounting, for runs
	// whose per-chunk counts are public or fixed in advance.
	PublicCounts bool
	// LengthHistogram adds one more release per chunk at the counts'
	// noise: its histogram of flows per length bin (model.length_bins),
	// sensitivity 1 since a flow is in one bin; at CountNoise (or its
	// default) with PublicCounts too, which makes only the counts public.
	LengthHistogram bool
	// Orders is the RDP order grid; nil means DefaultOrders.
	Orders []float64
	// Conversion turns RDP into ε; the zero value is Tight.
	Conversion Conversion
}

// Result is the guarantee a Plan gives.
type Result struct {
	Epsilon    float64 `json:"epsilon"`
	Order      float64 `json:"order"`       // RDP order that attains Epsilon
	Delta      float64 `json:"delta"`       // δ of the guarantee
	Noise      float64 `json:"noise"`       // σ used (solved for by SolveNoise)
	Steps      int     `json:"steps"`       // DP-SGD steps per chunk
	SampleRate float64 `json:"sample_rate"` // q = Batch/Records
}

// withDefaults fills the zero-means-default fields and checks the rest,
// except Noise and Steps/Epochs, which each entry point checks itself.
func (p Plan) withDefaults() (Plan, error) {
	if p.Chunks == 0 {
		p.Chunks = 1
	}
	if p.Critics == 0 {
		p.Critics = 1
	}
	if p.CountNoise == 0 {
		p.CountNoise = 1
	}
	if p.Orders == nil {
		p.Orders = DefaultOrders()
	}
	switch {
	case p.Records <= 0:
		return p, fmt.Errorf("privacy: plan: %d records: must be positive", p.Records)
	case p.Batch <= 0 || p.Batch > p.Records:
		return p, fmt.Errorf("privacy: plan: batch %d: must be in [1, records=%d]", p.Batch, p.Records)
	case !(p.Delta > 0 && p.Delta < 1):
		return p, fmt.Errorf("privacy: plan: δ = %v: must be in (0, 1)", p.Delta)
	case p.Chunks < 0:
		return p, fmt.Errorf("privacy: plan: %d chunks: must be positive", p.Chunks)
	case p.Critics < 0:
		return p, fmt.Errorf("privacy: plan: %d critics: must be positive", p.Critics)
	case (!p.PublicCounts || p.LengthHistogram) && (math.IsNaN(p.CountNoise) || p.CountNoise < 0):
		return p, fmt.Errorf("privacy: plan: count noise %v: must be positive", p.CountNoise)
	case p.Steps < 0:
		return p, fmt.Errorf("privacy: plan: %d steps: must be non-negative", p.Steps)
	case math.IsNaN(p.Epochs) || p.Epochs < 0 || math.IsInf(p.Epochs, 0):
		return p, fmt.Errorf("privacy: plan: %v epochs: must be finite and non-negative", p.Epochs)
	case p.Steps > 0 && p.Epochs > 0:
		return p, fmt.Errorf("privacy: plan: set steps (%d) or epochs (%v), not both", p.Steps, p.Epochs)
	}
	if err := checkOrders(p.Orders); err != nil {
		return p, fmt.Errorf("plan: %w", err)
	}
	return p, nil
}

// SampleRate returns Batch/Records.
func (p Plan) SampleRate() float64 { return float64(p.Batch) / float64(p.Records) }

// steps returns the DP-SGD steps per chunk: Steps, or ⌈Epochs·Records/Batch⌉.
func (p Plan) steps() (int, error) {
	if p.Steps > 0 {
		return p.Steps, nil
	}
	if p.Epochs == 0 {
		return 0, fmt.Errorf("privacy: plan: set steps or epochs")
	}
	t := p.Epochs * float64(p.Records) / float64(p.Batch)
	// Products such as 15·60000/150 must not round up past the integer.
	if r := math.Round(t); math.Abs(t-r) <= 1e-9*r {
		t = r
	}
	t = math.Ceil(t)
	if t > math.MaxInt32 {
		return 0, fmt.Errorf("privacy: plan: %v epochs of %d records in batches of %d is too many steps", p.Epochs, p.Records, p.Batch)
	}
	return int(t), nil
}

// perChunk returns the RDP of one chunk's training step and of its count
// and length-histogram releases (nil with PublicCounts and no
// LengthHistogram), for noise multiplier sigma.
func (p Plan) perChunk(sigma float64) (step, count []float64, err error) {
	m, err := CriticStep(p.SampleRate(), sigma, p.Critics, p.Sharing, p.Orders)
	if err != nil {
		return nil, nil, fmt.Errorf("plan: critic step: %w", err)
	}
	releases := 0 // each a Gaussian at CountNoise: the count, the histogram
	if !p.PublicCounts {
		releases++
	}
	if p.LengthHistogram {
		releases++
	}
	if releases == 0 {
		return m.rdp, nil, nil
	}
	c, err := Gaussian(p.CountNoise, p.Orders)
	if err != nil {
		return nil, nil, fmt.Errorf("plan: count release: %w", err)
	}
	for i := range c.rdp {
		c.rdp[i] *= float64(releases)
	}
	return m.rdp, c.rdp, nil
}

// total returns the plan's RDP curve for noise sigma and steps per chunk.
func (p Plan) total(sigma float64, steps int) ([]float64, error) {
	step, count, err := p.perChunk(sigma)
	if err != nil {
		return nil, err
	}
	return combine(step, count, steps, p.Chunks), nil
}

func combine(step, count []float64, steps, chunks int) []float64 {
	out := make([]float64, len(step))
	for i := range out {
		r := scale(step[i], steps)
		if count != nil {
			r += count[i]
		}
		out[i] = scale(r, chunks)
	}
	return out
}

func (p Plan) result(rdp []float64, sigma float64, steps int) (Result, error) {
	eps, order, err := p.Conversion.Epsilon(p.Orders, rdp, p.Delta)
	if err != nil {
		return Result{}, fmt.Errorf("plan: %w", err)
	}
	return Result{Epsilon: eps, Order: order, Delta: p.Delta, Noise: sigma, Steps: steps, SampleRate: p.SampleRate()}, nil
}

// Epsilon returns the ε the plan spends at its δ.
func (p Plan) Epsilon() (Result, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if math.IsNaN(p.Noise) || p.Noise < 0 {
		return Result{}, fmt.Errorf("privacy: plan: noise %v: must be non-negative", p.Noise)
	}
	steps, err := p.steps()
	if err != nil {
		return Result{}, err
	}
	rdp, err := p.total(p.Noise, steps)
	if err != nil {
		return Result{}, err
	}
	return p.result(rdp, p.Noise, steps)
}

// solveTolerance is the relative width of the bracket SolveNoise stops at.
const solveTolerance = 1e-6

// SolveNoise returns the smallest noise multiplier σ (to a relative
// tolerance of 1e-6, rounded up) for which the plan spends at most target
// ε, found by bisection: ε falls monotonically as σ grows. Result.Noise is
// that σ and Result.Epsilon the ε it spends. It fails when no σ reaches the
// target, as when the count releases alone spend more.
func (p Plan) SolveNoise(target float64) (Result, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if !(target > 0) || math.IsInf(target, 0) {
		return Result{}, fmt.Errorf("privacy: plan: target ε = %v: must be positive and finite", target)
	}
	steps, err := p.steps()
	if err != nil {
		return Result{}, err
	}
	eval := func(sigma float64) (Result, error) {
		rdp, err := p.total(sigma, steps)
		if err != nil {
			return Result{}, err
		}
		return p.result(rdp, sigma, steps)
	}
	// The floor: infinite noise on the critics leaves only the counts.
	floor, err := eval(math.Inf(1))
	if err != nil {
		return Result{}, err
	}
	if floor.Epsilon > target {
		return Result{}, fmt.Errorf("privacy: plan: target ε = %v is out of reach: the per-chunk count releases alone spend ε = %.4g", target, floor.Epsilon)
	}
	lo, hi := 0.0, 1.0
	best, err := eval(hi)
	if err != nil {
		return Result{}, err
	}
	for best.Epsilon > target {
		lo, hi = hi, 2*hi
		if hi > 1e9 {
			return Result{}, fmt.Errorf("privacy: plan: target ε = %v needs a noise multiplier above 1e9", target)
		}
		if best, err = eval(hi); err != nil {
			return Result{}, err
		}
	}
	for hi-lo > solveTolerance*hi {
		mid := lo + (hi-lo)/2
		r, err := eval(mid)
		if err != nil {
			return Result{}, err
		}
		if r.Epsilon <= target {
			hi, best = mid, r
		} else {
			lo = mid
		}
	}
	return best, nil
}
