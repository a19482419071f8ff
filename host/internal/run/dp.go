package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/privacy"
)

// countNoise is the noise multiplier of the Gaussian mechanism that
// releases each chunk's flow count (sensitivity 1: one flow changes a count
// by one). NetShare used σ = 1, which alone costs ε ≈ 4.75 per chunk at
// δ = 1e-5; a standard deviation of 20 flows costs little budget and
// changes a chunk's size by a few percent at most in any trace worth
// modelling.
const countNoise = 20.0

// budget is what a DP run spends: privacy.json in the run directory.
type budget struct {
	Epsilon     float64   `json:"epsilon"`
	Order       float64   `json:"order"`
	Delta       float64   `json:"delta"`
	Target      float64   `json:"target_epsilon,omitempty"`
	Noise       float64   `json:"noise_multiplier"`
	Clip        float64   `json:"clip"`
	CountNoise  float64   `json:"count_noise"`
	Iterations  []int     `json:"iterations"`   // per trained chunk
	SampleRates []float64 `json:"sample_rates"` // per trained chunk
	Counts      []int     `json:"noisy_flow_counts"`
	// LengthBins is each trained chunk's histogram of flows per length
	// bin (model.length_bins), released with the counts' noise: what the
	// model draws its flows' lengths from.
	LengthBins [][]float64 `json:"noisy_length_bins,omitempty"`
	Note       string      `json:"note,omitempty"`
	// NotPrivate, when set, says why the run's guarantee does not hold.
	NotPrivate string `json:"not_private,omitempty"`
	// TrainKey ties the counts to the training they were drawn for: a
	// rerun or resume of the same training reuses them, since each fresh
	// draw of the same count would be another release.
	TrainKey string `json:"train_key"`
	// MarginalNoise is the noise on each histogram bin, and Marginals the
	// released histograms (privacy.marginals).
	MarginalNoise float64    `json:"marginal_noise,omitempty"`
	Marginals     []marginal `json:"marginals,omitempty"`
}

// notPrivate is what privacy.json and the report say of a run whose noise
// came from the public seed.
const notPrivate = "NOT PRIVATE: privacy.insecure_reproducible_noise drew the DP noise, batches and flow counts from the public seed, so anyone who knows the seed can replay them; for tests only"

// dpCritics is how many noisy gradient sums one training iteration
// releases from its batch: each critic round updates both critics on the
// same Poisson-sampled batch.
func (r *runner) dpCritics() int { return 2 * r.cfg.Model.CriticRounds }

// account composes the whole run: per trained chunk, its iterations of
// the critic step (a sampled Gaussian at σ/√critics, the critics sharing
// each batch), one release of its flow count and, with length bins, one
// of its length histogram (sensitivity 1 too: a flow is in one bin);
// RDP adds up over chunks,
// since one flow can have records in every chunk. The marginal histograms,
// when asked for, are one more Gaussian release.
func (r *runner) account(sigma float64, iters []int) (eps, order float64, err error) {
	acc, err := privacy.NewAccountant(privacy.AccountantConfig{Delta: r.cfg.Privacy.Delta})
	if err != nil {
		return 0, 0, err
	}
	count, err := privacy.Gaussian(countNoise, acc.Orders())
	if err != nil {
		return 0, 0, err
	}
	if len(r.cfg.Privacy.Marginals) > 0 {
		sigma, err := r.marginalNoise()
		if err != nil {
			return 0, 0, err
		}
		if err := r.composeMarginals(acc, sigma); err != nil {
			return 0, 0, err
		}
	}
	pos := 0
	for _, s := range r.sets {
		if s == nil {
			continue
		}
		step, err := privacy.CriticStep(r.sampleRate(s.N), sigma, r.dpCritics(), privacy.SharedBatch, acc.Orders())
		if err != nil {
			return 0, 0, err
		}
		if err := acc.Compose(step, iters[pos]); err != nil {
			return 0, 0, err
		}
		releases := 1
		if bins, err := r.lengthBins(); err != nil {
			return 0, 0, err
		} else if bins > 0 {
			releases = 2
		}
		if err := acc.Compose(count, releases); err != nil {
			return 0, 0, err
		}
		pos++
	}
	return acc.Epsilon()
}

func (r *runner) sampleRate(n int) float64 {
	return math.Min(1, float64(r.cfg.Model.BatchSize)/float64(max(n, 1)))
}

// planIterations lists the iterations each trained chunk gets when chunk 0
// trains steps.
func (r *runner) planIterations(steps int) []int {
	var out []int
	for _, s := range r.sets {
		if s == nil {
			continue
		}
		if len(out) == 0 {
			out = append(out, steps)
		} else {
			// At least one step: a fine-tune that trains none saves no
			// checkpoint, and its chunk could not be generated.
			out = append(out, max(1, int(float64(steps)*r.cfg.Model.FinetuneFraction+0.5)))
		}
	}
	return out
}

// planPrivacy settles σ and the training length so that the run's ε stays
// within the target, and records the plan. It returns the steps chunk 0
// may train.
func (r *runner) planPrivacy(steps int) (int, *budget, error) {
	p := r.cfg.Privacy
	if r.cfg.Flows.MaxFlowLen == 0 {
		return 0, nil, errors.New("privacy: set flows.max_flow_len: the longest flow of the private trace may not shape the model")
	}
	b := &budget{Delta: p.Delta, Target: p.Epsilon, Clip: p.Clip, CountNoise: countNoise, Noise: p.Noise}
	if p.InsecureReproducibleNoise {
		b.NotPrivate = notPrivate
	}
	switch {
	case p.Noise <= 0:
		// Smallest σ that fits the budget: ε falls as σ grows.
		lo, hi := 0.05, 1e4
		if eps, _, err := r.account(hi, r.planIterations(steps)); err != nil || eps > p.Epsilon {
			return 0, nil, fmt.Errorf("privacy: ε = %g is out of reach for %d chunks even with huge noise (the flow-count releases alone cost more); raise privacy.epsilon or lower flows.chunks", p.Epsilon, r.trainedChunks())
		}
		for i := 0; i < 60; i++ {
			mid := math.Sqrt(lo * hi)
			eps, _, err := r.account(mid, r.planIterations(steps))
			if err != nil {
				return 0, nil, err
			}
			if eps > p.Epsilon {
				lo = mid
			} else {
				hi = mid
			}
		}
		b.Noise = hi
		b.Note = "noise multiplier derived from the target ε"
	case p.Epsilon > 0:
		// σ is given: train as long as the budget allows.
		if eps, _, err := r.account(p.Noise, r.planIterations(steps)); err != nil {
			return 0, nil, err
		} else if eps > p.Epsilon {
			lo, hi := 0, steps
			for lo < hi {
				mid := (lo + hi + 1) / 2
				if e, _, err := r.account(p.Noise, r.planIterations(mid)); err == nil && e <= p.Epsilon {
					lo = mid
				} else {
					hi = mid - 1
				}
			}
			if lo == 0 {
				return 0, nil, fmt.Errorf("privacy: not one training step fits ε = %g with noise %g; raise privacy.noise or privacy.epsilon", p.Epsilon, p.Noise)
			}
			b.Note = fmt.Sprintf("training stopped at %d of %d steps to stay within ε = %g", lo, steps, p.Epsilon)
			steps = lo
		}
	}
	b.Iterations = r.planIterations(steps)
	var err error
	if b.Epsilon, b.Order, err = r.account(b.Noise, b.Iterations); err != nil {
		return 0, nil, err
	}
	for _, s := range r.sets {
		if s != nil {
			b.SampleRates = append(b.SampleRates, r.sampleRate(s.N))
		}
	}
	return steps, b, nil
}

func (r *runner) trainedChunks() int {
	n := 0
	for _, s := range r.sets {
		if s != nil {
			n++
		}
	}
	return n
}

// noisyCounts releases each trained chunk's flow count with Gaussian noise
// (the model then generates that many flows), drawn once per training:
// when privacy.json already holds counts for this training key they are
// reused. The noise comes from crypto/rand unless the run is reproducible,
// for the reason gan's privacyRand gives.
func (r *runner) noisyCounts(trainKey string) []int {
	if old, err := loadBudget(r.dir); err == nil && old.TrainKey == trainKey && len(old.Counts) == r.trainedChunks() {
		return old.Counts
	}
	rng := r.privacyRand(0xc0de)
	var out []int
	for _, s := range r.sets {
		if s != nil {
			out = append(out, max(1, int(math.Round(float64(s.N)+rng.NormFloat64()*countNoise))))
		}
	}
	return out
}

// lengthBins is how many length bins the run's models have: those of
// flows.max_flow_len, or with privacy.pretrained of the public model's
// longest flow, which its forks keep.
func (r *runner) lengthBins() (int, error) {
	if r.lenBinsOK {
		return r.lenBins, nil
	}
	maxLen := r.maxFlowLen()
	if r.cfg.Privacy.Pretrained != "" {
		public, err := r.publicModel()
		if err != nil {
			return 0, err
		}
		maxLen = public.MaxLen()
	}
	r.lenBins, r.lenBinsOK = gan.LengthBinCount(r.cfg.Model.Config, maxLen), true
	return r.lenBins, nil
}

// noisyLengths releases each trained chunk's histogram of flows per
// length bin with the counts' noise, once per training as noisyCounts
// does; nil when the models have no length bins.
func (r *runner) noisyLengths(trainKey string) ([][]float64, error) {
	bins, err := r.lengthBins()
	if bins == 0 || err != nil {
		return nil, err
	}
	if old, err := loadBudget(r.dir); err == nil && old.TrainKey == trainKey && len(old.LengthBins) == r.trainedChunks() {
		return old.LengthBins, nil
	}
	rng := r.privacyRand(0x1e9)
	var out [][]float64
	for _, s := range r.sets {
		if s == nil {
			continue
		}
		h := gan.LengthHistogram(s, bins)
		for i := range h {
			h[i] = math.Round(h[i] + rng.NormFloat64()*countNoise)
		}
		out = append(out, h)
	}
	return out, nil
}

// flowCounts is how many flows each chunk generates: the noisy counts
// privacy.json released under privacy, else the real ones.
func (r *runner) flowCounts() ([]int, error) {
	out := make([]int, len(r.sets))
	var noisy []int
	if r.cfg.Privacy.Enabled {
		b, err := loadBudget(r.dir)
		if err != nil {
			return nil, fmt.Errorf("privacy: the noisy flow counts: %w", err)
		}
		if len(b.Counts) != r.trainedChunks() {
			return nil, fmt.Errorf("privacy: privacy.json has %d noisy flow counts for %d trained chunks", len(b.Counts), r.trainedChunks())
		}
		noisy = b.Counts
	}
	pos := 0
	for k, s := range r.sets {
		if s == nil {
			continue
		}
		out[k] = s.N
		if noisy != nil {
			out[k] = noisy[pos]
		}
		pos++
	}
	return out, nil
}

func (r *runner) saveBudget(b *budget) error {
	raw, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(r.dir, "privacy.json"), raw)
}

func loadBudget(dir string) (*budget, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "privacy.json"))
	if err != nil {
		return nil, err
	}
	var b budget
	return &b, json.Unmarshal(raw, &b)
}
