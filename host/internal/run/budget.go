package run

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/tensor"
)

// sizeModel fills the network sizes the pipeline leaves at 0 (the default)
// from the trace, so that a user states a training time, not an
// architecture (docs/pipeline.md, "Sizes from the trace"):
//
//   - units per MLP layer: 4√N rounded to a power of two within [64, 512],
//     N the flows of the largest chunk. Capacity grows with the data, slower
//     than it: the two configurations measured here anchor the rule, the
//     embedded sample's 792 flows at 128 units and NetShare's 10k-flow
//     chunks at its 512;
//   - MLP layers: 3 at 128 units or fewer, 4 at 256, 5 (NetShare's) at 512;
//   - LSTM units: half the MLP units within [64, 100] (NetShare: 100).
func sizeModel(cfg gan.Config, flows []int) gan.Config {
	n := 1
	for _, f := range flows {
		n = max(n, f)
	}
	units := 4 * math.Sqrt(float64(n))
	u := 1 << bits.Len(uint(units)) // next power of two above
	if float64(u)/units > units/float64(u/2) {
		u /= 2 // the nearer power of two
	}
	u = min(max(u, 64), 512)
	layers := 3
	switch {
	case u >= 512:
		layers = 5
	case u >= 256:
		layers = 4
	}
	fill := func(v *int, to int) {
		if *v == 0 {
			*v = to
		}
	}
	fill(&cfg.AttrGenUnits, u)
	fill(&cfg.CriticUnits, u)
	fill(&cfg.AttrCriticUnits, u)
	fill(&cfg.AttrGenLayers, layers)
	fill(&cfg.CriticLayers, layers)
	fill(&cfg.AttrCriticLayers, layers)
	fill(&cfg.LSTMUnits, min(max(u/2, 64), 100))
	return cfg
}

// sizedLike fills cfg's sizes left at 0 with those of like: a model that
// fine-tunes another must have its architecture.
func sizedLike(cfg, like gan.Config) gan.Config {
	for _, p := range [][2]*int{
		{&cfg.AttrGenUnits, &like.AttrGenUnits}, {&cfg.AttrGenLayers, &like.AttrGenLayers}, {&cfg.LSTMUnits, &like.LSTMUnits},
		{&cfg.CriticUnits, &like.CriticUnits}, {&cfg.CriticLayers, &like.CriticLayers},
		{&cfg.AttrCriticUnits, &like.AttrCriticUnits}, {&cfg.AttrCriticLayers, &like.AttrCriticLayers},
	} {
		if *p[0] == 0 {
			*p[0] = *p[1]
		}
	}
	return cfg
}

// budgetPlan is train/plan.json: the steps a time budget became, so that a
// rerun or resume of the same training does not re-measure and train a
// different number of steps.
type budgetPlan struct {
	Key            string  `json:"key"`
	TimeBudget     string  `json:"time_budget"`
	StepsPerSecond float64 `json:"steps_per_second"`
	Steps          int     `json:"steps"`
	// TimedSteps is what the timing made of the budget; Steps differs when
	// chunk 0 revised it as it trained (reviseSteps).
	TimedSteps      int `json:"timed_steps"`
	CheckpointEvery int `json:"checkpoint_every"`
	// Phases is how many chunk-0-lengths of training the budget covers:
	// chunk 0, then the fine-tunes in waves of parallel workers.
	Phases float64 `json:"phases"`
}

// plannedSteps is how long chunk 0 trains and how often it checkpoints.
// model.steps, when set, decides; otherwise model.time_budget is turned
// into steps by timing a few iterations of this very model on chunk 0's
// data: the budget is split between chunk 0 and the fine-tunes (each
// finetune_fraction as long, run model.workers at a time), and the
// checkpoint cadence gives four candidates per chunk.
//
// A plan it has just timed is also returned (fresh), so that training can
// correct it by the rate it actually runs at (reviseSteps); nil when the
// steps came from model.steps or an earlier run's plan.
func (r *runner) plannedSteps(ctx context.Context, key string, cfg gan.Config, noisy []int) (steps, every int, fresh *budgetPlan, err error) {
	m := r.cfg.Model
	if m.Steps > 0 {
		return m.Steps, m.CheckpointEvery, nil, nil
	}
	path := filepath.Join(r.dir, "train", "plan.json")
	var p budgetPlan
	if raw, err := os.ReadFile(path); err == nil && json.Unmarshal(raw, &p) == nil && p.Key == key && p.Steps > 0 {
		return p.Steps, p.CheckpointEvery, nil, nil
	}
	workers := m.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Timed as chunk 0 trains: alone, its sgemm on every worker's thread.
	gan.SetBLASThreads(workers)
	defer gan.SetBLASThreads(1)
	set, _ := r.trainedSet(0)
	if noisy != nil {
		// Under privacy the timing, which the step count releases, must not
		// depend on the private records: time a zero-valued set of the same
		// layout with the released flow count.
		set = zeroSet(set, noisy[0])
	}
	rate, err := stepsPerSecond(ctx, cfg, set, r.flows.MaxFlowLen, r.cfg.Seed, timingWindow(m.TimeBudget.Duration))
	if err != nil {
		return 0, 0, nil, fmt.Errorf("timing training for model.time_budget: %w", err)
	}
	workers = min(workers, runtime.GOMAXPROCS(0))
	finetunes := r.trainedChunks() - 1
	waves := (finetunes + workers - 1) / workers
	phases := 1 + m.FinetuneFraction*float64(waves)
	steps = max(10, int(rate*m.TimeBudget.Seconds()/phases))
	every = max(1, (steps+3)/4)
	p = budgetPlan{Key: key, TimeBudget: m.TimeBudget.String(), StepsPerSecond: rate, Steps: steps, TimedSteps: steps, CheckpointEvery: every, Phases: phases}
	if err := r.savePlan(p); err != nil {
		return 0, 0, nil, err
	}
	ft := 0 // each fine-tune's steps, as planIterations gives them
	if it := r.planIterations(steps); len(it) > 1 {
		ft = it[1]
	}
	fmt.Fprintf(r.out, "train    time budget %s: %.1f steps/s, so %d steps for chunk 0 and %d for each of %d fine-tunes\n",
		m.TimeBudget, rate, steps, ft, finetunes)
	return steps, every, &p, nil
}

func (r *runner) savePlan(p budgetPlan) error {
	raw, _ := json.MarshalIndent(p, "", "  ")
	return atomicfile.WriteBytes(filepath.Join(r.dir, "train", "plan.json"), raw)
}

// reviseSteps corrects a freshly timed plan while chunk 0 trains alone on
// this machine: at each checkpoint, chunk 0's steps become the steps done
// plus what the rate since the last checkpoint fits in the rest of its
// share of the budget, and the fine-tunes' steps follow. The timed steps
// are a fresh model's first, and a step's cost changes as the model learns
// (the critic skips padding past the flows the generator emits: on CAIDA
// the plan said 1.7 steps/s and training ran at 1.9), so a plan kept as
// timed left up to a fifth of the budget unused. The revised plan is
// saved, so a resumed run trains to it and does not revise again.
func (r *runner) reviseSteps(plan *trainPlan, start time.Time, clock func() time.Time) func(step int) int {
	share := time.Duration(float64(r.cfg.Model.TimeBudget.Duration) / plan.timed.Phases)
	lastStep, lastT := 0, start
	return func(step int) int {
		now := clock()
		rate := float64(step-lastStep) / max(now.Sub(lastT).Seconds(), 1e-9)
		lastStep, lastT = step, now
		total := step + max(1, int(rate*(share-now.Sub(start)).Seconds()))
		plan.mu.Lock()
		defer plan.mu.Unlock()
		p := *plan.timed
		p.Steps = total
		if err := r.savePlan(p); err != nil {
			// The saved plan stays, and so does training's: a resume
			// trains to its steps.
			fmt.Fprintf(r.out, "train    keeping the plan of %d steps: %v\n", plan.iters[0], err)
			return plan.iters[0]
		}
		plan.iters = r.planIterations(total)
		plan.total = 0
		for _, it := range plan.iters {
			plan.total += it
		}
		return total
	}
}

// zeroSet is a tensor set of like's layout with n flows, all zero.
func zeroSet(like *tensor.Set, n int) *tensor.Set {
	a, d := tensor.Width(like.AttrOutputs), tensor.Width(like.FeatOutputs)
	return &tensor.Set{N: n, L: like.L, Attributes: make([]float32, n*a), Features: make([]float32, n*like.L*d),
		GenFlags: make([]float32, n*like.L), AttrOutputs: like.AttrOutputs, FeatOutputs: like.FeatOutputs}
}

// timingWindow is how long stepsPerSecond times: 1% of the budget within
// [1.5 s, 20 s]. A fixed 1.5 s was three steps of a CAIDA-sized model
// (about a second each), whose first steps are the slowest: a 37-minute
// budget became 1,592 steps that trained in 26 minutes.
func timingWindow(budget time.Duration) time.Duration {
	return min(max(budget/100, 1500*time.Millisecond), 20*time.Second)
}

// stepsPerSecond times training iterations of a throwaway model: one to
// warm up, then as many as fit in the window (at least three). The model
// is discarded; only its speed is kept.
func stepsPerSecond(ctx context.Context, cfg gan.Config, set *tensor.Set, maxLen int, seed int64, window time.Duration) (float64, error) {
	model, err := gan.New(cfg, set.AttrOutputs, set.FeatOutputs, maxLen, seed)
	if err != nil {
		return 0, err
	}
	if cfg.DP != nil {
		// Timing releases nothing: DP training's length condition may be
		// drawn from no data at all (uniformly).
		if err := model.SetLengthDist(make([]float64, model.LengthBins())); err != nil {
			return 0, err
		}
	}
	if err := model.Train(ctx, set, gan.TrainOptions{Steps: 1}); err != nil {
		return 0, err
	}
	start := time.Now()
	n := 0
	for n < 3 || time.Since(start) < window {
		if err := model.Train(ctx, set, gan.TrainOptions{Steps: model.Step() + 1}); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
