package gan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/netshare/netshare/host/internal/tensor"
)

// Model is a DoppelGANger generator with its two critics and their Adam
// states. A Model is not safe for concurrent use.
type Model struct {
	cfg              Config
	attrOut, featOut []tensor.Output
	maxLen, lpad     int
	seed             int64

	gen              *generator[float32]
	ema              *generator[float32] // the average that generates (ema.go), nil without Config.EMA
	emaStep          int                 // the step ema's BatchNorm statistics were estimated at; -1: stale
	disc, attrDisc   *critic[float32]
	optG, optD, optA *adam[float32]
	pcg              *rand.PCG
	rng              *rand.Rand
	dprng            *rand.Rand // privacy's randomness: see privacyRand
	step             int
	// lenCap is Config.LengthWeighting's cap on a flow's weight, fixed by
	// the first training data and saved; 0: flows are drawn uniformly.
	lenCap  int
	lenMean float64 // the training flows' mean weight
	// lenDist is the distribution the length-bin condition is drawn from
	// (Config.LengthBins): the training flows' bins as training draws
	// them, or under DP the noisy histogram SetLengthDist was given.
	lenDist []float64
	lenSet  bool // lenDist came from SetLengthDist

	// training scratch
	noise                    genNoise[float32]
	realIn, fakeIn, realAttr []float32
	fakeAttr, alpha          []float32
	batch                    []int     // the rows of a Poisson-sampled DP batch
	cond                     []float32 // the fake batch's length bins
	dIn, dAttr, dFeat        []float32
	dAttr2                   []float32
}

// New builds a model for attribute and feature outputs (the feature outputs
// exclude the generation flag, which the model adds) and flows of at most
// maxLen records, padded up to a multiple of cfg.SampleLen. Weights are drawn
// from seed, which also seeds all training randomness.
func New(cfg Config, attrOut, featOut []tensor.Output, maxLen int, seed int64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if maxLen <= 0 {
		return nil, fmt.Errorf("gan: max flow length %d, want > 0", maxLen)
	}
	if len(attrOut) == 0 || len(featOut) == 0 {
		return nil, errors.New("gan: need at least one attribute and one feature output")
	}
	for _, o := range append(append([]tensor.Output(nil), attrOut...), featOut...) {
		if o.Width <= 0 || (o.Kind == tensor.Discrete) != (o.Activation == tensor.Softmax) || o.Activation > tensor.Tanh {
			return nil, fmt.Errorf("gan: output %q: width %d, %s with %s", o.Name, o.Width, o.Kind, o.Activation)
		}
	}
	m := &Model{cfg: cfg, attrOut: attrOut, featOut: featOut, maxLen: maxLen, seed: seed}
	m.lpad = (maxLen + cfg.SampleLen - 1) / cfg.SampleLen * cfg.SampleLen
	m.gen = m.newGenerator()
	m.lenDist = make([]float64, m.gen.lenBins)
	for i := range m.lenDist {
		m.lenDist[i] = 1 // until training data says otherwise
	}
	a := m.gen.A
	m.disc = newCritic[float32]("disc", m.lpad*m.gen.F+a, cfg.CriticUnits, cfg.CriticLayers, actReLU)
	m.disc.seq, m.disc.block = m.lpad*m.gen.F, cfg.SampleLen*m.gen.F
	m.attrDisc = newCritic[float32]("attr_disc", a, cfg.AttrCriticUnits, cfg.AttrCriticLayers, actReLU)
	m.pcg = rand.NewPCG(uint64(seed), 0x6e657473686172) // "netshar"
	m.rng = rand.New(m.pcg)
	m.gen.init(m.rng)
	m.disc.init(m.rng)
	m.attrDisc.init(m.rng)
	if cfg.EMA > 0 {
		m.ema = m.newGenerator()
		m.resetEMA()
	}
	m.optG = newAdam(m.gen.params(), cfg.LearningRate, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	m.optD = newAdam(m.disc.params(), cfg.LearningRate, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	m.optA = newAdam(m.attrDisc.params(), cfg.LearningRate, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	return m, nil
}

// newGenerator builds a generator of the encoders' attributes followed,
// with Config.LengthBins and flows of more than one record, by the model's
// own length bins.
func (m *Model) newGenerator() *generator[float32] {
	b := LengthBinCount(m.cfg, m.maxLen)
	if b == 0 {
		return newGenerator[float32](m.cfg, m.attrOut, m.featOut, m.lpad, 0)
	}
	bins := tensor.Output{Name: "flow.length_bin", Width: b, Kind: tensor.Discrete, Activation: tensor.Softmax}
	g := newGenerator[float32](m.cfg, append(slices.Clip(m.attrOut), bins), m.featOut, m.lpad, b)
	g.maxLen = m.maxLen
	return g
}

// LengthBinCount is how many length bins a model of cfg for flows of at
// most maxLen records has: ⌊log₂ maxLen⌋+1 with Config.LengthBins, none
// without, or when every flow is one record.
func LengthBinCount(cfg Config, maxLen int) int {
	if b := bits.Len(uint(max(maxLen, 0))); cfg.LengthBins && b >= 2 {
		return b
	}
	return 0
}

// LengthHistogram counts data's flows in each of bins length bins: what
// SetLengthDist needs, with noise, under DP. One flow adds one to one bin.
func LengthHistogram(data *tensor.Set, bins int) []float64 {
	h := make([]float64, bins)
	if bins == 0 {
		return h
	}
	for _, n := range flowLengths(data.GenFlags, data.N, data.L) {
		h[min(lengthBin(max(n, 1)), bins-1)]++
	}
	return h
}

// SetLengthDist sets the distribution the length-bin condition is drawn
// from, as counts or weights per bin (negative ones count as 0). Under DP
// training needs it, since the training flows' own bins are private: the
// caller releases them with noise and accounts for it. Without DP,
// training takes the distribution from its data instead.
func (m *Model) SetLengthDist(h []float64) error {
	if len(h) != m.gen.lenBins {
		return fmt.Errorf("gan: length distribution of %d bins, the model has %d", len(h), m.gen.lenBins)
	}
	d := make([]float64, len(h))
	sum := 0.0
	for i, v := range h {
		if v > 0 && !math.IsInf(v, 0) {
			d[i] = v
			sum += v
		}
	}
	if sum == 0 { // all noise: nothing is known of the lengths
		for i := range d {
			d[i] = 1
		}
	}
	m.lenDist, m.lenSet = d, true
	return nil
}

// LengthDist is the distribution the length-bin condition is drawn from
// (weights per bin; nil without length bins).
func (m *Model) LengthDist() []float64 { return slices.Clone(m.lenDist) }

// spreadBins fills cond (grown to n×LengthBins) with n one-hot bins
// whose counts are n·lenDist rounded up or down (systematic sampling from
// a random start), in random order: unbiased like independent draws,
// without their multinomial spread. That spread is what a heavy tail's
// packet count hinges on: on CAIDA 10k the 8 flows of 128+ packets hold
// 18% of the packets, and independent draws give 8 ± 2.8 of them.
func (m *Model) spreadBins(cond []float32, n int, rng *rand.Rand) []float32 {
	k := m.gen.lenBins
	cond = grow(cond, n*k)
	clear(cond[:n*k])
	sum := 0.0
	for _, v := range m.lenDist {
		sum += v
	}
	u, b, cum := rng.Float64(), 0, m.lenDist[0]/sum
	for r := 0; r < n; r++ {
		for x := (float64(r) + u) / float64(n); x >= cum && b < k-1; {
			b++
			cum += m.lenDist[b] / sum
		}
		cond[r*k+b] = 1
	}
	for r := n - 1; r > 0; r-- {
		j := rng.IntN(r + 1)
		for c := 0; c < k; c++ {
			cond[r*k+c], cond[j*k+c] = cond[j*k+c], cond[r*k+c]
		}
	}
	return cond
}

// lengthBin is the length category of a flow of n ≥ 1 records: ⌊log₂ n⌋,
// so bin k holds lengths 2ᵏ..2ᵏ⁺¹−1 (the last one up to the longest flow).
func lengthBin(n int) int { return bits.Len(uint(n)) - 1 }

// Config returns the model's hyper-parameters.
func (m *Model) Config() Config { return m.cfg }

// Step returns the number of training iterations done so far.
func (m *Model) Step() int { return m.step }

// MaxLen is the longest flow, in records, the model generates.
func (m *Model) MaxLen() int { return m.maxLen }

// Losses are one iteration's losses: the critics' from their last round.
type Losses struct {
	Critic      float64 `json:"critic"`      // E[D(fake)] − E[D(real)] + λ·GP
	CriticGP    float64 `json:"critic_gp"`   // the penalty term, before λ
	AttrCritic  float64 `json:"attr_critic"` // same for the attribute critic
	AttrGP      float64 `json:"attr_critic_gp"`
	Generator   float64 `json:"generator"`   // −E[D(fake)] − w·E[AttrD(fake)]
	Wasserstein float64 `json:"wasserstein"` // E[D(real)] − E[D(fake)]
}

// prepared is a training set laid out as the critic sees it: features
// padded to Lpad with the two generation-flag dims after each record.
type prepared struct {
	n          int
	feat, attr []float32 // n×Lpad×F, n×A
	// cum is the running sum of the flows' weights under
	// Config.LengthWeighting (nil: uniform draws).
	cum []float64
}

func (m *Model) prepare(data *tensor.Set) (*prepared, error) {
	if err := data.Validate(); err != nil {
		return nil, fmt.Errorf("gan: training data: %w", err)
	}
	if err := sameOutputs(m.attrOut, data.AttrOutputs); err != nil {
		return nil, fmt.Errorf("gan: training data attributes: %w", err)
	}
	if err := sameOutputs(m.featOut, data.FeatOutputs); err != nil {
		return nil, fmt.Errorf("gan: training data features: %w", err)
	}
	if data.L > m.maxLen {
		return nil, fmt.Errorf("gan: training data has flows of %d records, model max is %d", data.L, m.maxLen)
	}
	if data.N == 0 {
		return nil, errors.New("gan: training data has no flows")
	}
	D, F, L, S := m.gen.D, m.gen.F, m.lpad, m.cfg.SampleLen
	p := &prepared{n: data.N, feat: make([]float32, data.N*L*F), attr: data.Attributes}
	if m.gen.lenBins > 0 {
		// the real flows' length bins, one-hot after their attributes
		a, A := tensor.Width(m.attrOut), m.gen.A
		p.attr = make([]float32, data.N*A)
		for i, n := range flowLengths(data.GenFlags, data.N, data.L) {
			copy(p.attr[i*A:], data.Attributes[i*a:(i+1)*a])
			p.attr[i*A+a+lengthBin(max(n, 1))] = 1 // n ≤ data.L ≤ maxLen: within the bins
		}
	}
	for i := 0; i < data.N; i++ {
		flag := func(t int) float32 {
			if t < data.L {
				return data.GenFlags[i*data.L+t]
			}
			return 0
		}
		for t := 0; t < data.L; t++ {
			dst := p.feat[(i*L+t)*F : (i*L+t+1)*F]
			if flag(t) > 0 { // padding stays zero whatever the encoder left there
				copy(dst[:D], data.Features[(i*data.L+t)*D:(i*data.L+t+1)*D])
			}
			if t == 0 {
				for _, j := range m.gen.firstUnused {
					dst[j] = 0
				}
			}
			// DoppelGANger's add_gen_flag: [g_{t+1}, (1 − g_{t+1})·b] where b
			// says the record's S-block holds a real record.
			dst[D] = flag(t + 1)
			if flag(t/S*S) > 0 {
				dst[D+1] = 1 - flag(t+1)
			}
		}
		// padding inside the last real block is [0,1] too
		for t := data.L; t < L && t%S != 0; t++ {
			if flag(t/S*S) > 0 {
				p.feat[(i*L+t)*F+D+1] = 1
			}
		}
	}
	if m.cfg.LengthWeighting {
		lens := flowLengths(data.GenFlags, data.N, data.L)
		if m.lenCap == 0 {
			m.lenCap = percentile99(lens)
		}
		p.cum = make([]float64, data.N)
		sum := 0.0
		for i, n := range lens {
			sum += float64(m.weight(n))
			p.cum[i] = sum
		}
		if m.lenMean == 0 {
			m.lenMean = sum / float64(data.N)
		}
	}
	if m.gen.lenBins > 0 && !m.lenSet {
		if m.cfg.DP != nil {
			return nil, errors.New("gan: DP training with length bins needs their noisy distribution (SetLengthDist): the training flows' own is private")
		}
		// as training draws the flows: under LengthWeighting by weight,
		// which generation's thinning (Keep) undoes like the rest
		m.lenDist = make([]float64, m.gen.lenBins)
		for _, n := range flowLengths(data.GenFlags, data.N, data.L) {
			w := 1
			if p.cum != nil {
				w = m.weight(n)
			}
			m.lenDist[lengthBin(max(n, 1))] += float64(w)
		}
	}
	return p, nil
}

// flowLengths counts each flow's records: its generation flags set.
func flowLengths(flags []float32, n, l int) []int {
	lens := make([]int, n)
	for i := range lens {
		for _, g := range flags[i*l : (i+1)*l] {
			if g > 0 {
				lens[i]++
			}
		}
	}
	return lens
}

// percentile99 is the 99th percentile (nearest rank) of lens, at least 1.
func percentile99(lens []int) int {
	s := slices.Clone(lens)
	slices.Sort(s)
	return max(1, s[min(len(s)-1, int(math.Ceil(0.99*float64(len(s))))-1)])
}

// weight is a flow of n records' weight under Config.LengthWeighting.
func (m *Model) weight(n int) int { return max(1, min(n, m.lenCap)) }

// FlowWeights is the weight with which training draws each of n flows
// (GenFlags flags, l records each): under Config.LengthWeighting the
// weight of its length, else 1. Generated flows follow the weighted
// distribution until Keep thins them.
func (m *Model) FlowWeights(flags []float32, n, l int) []float64 {
	w := make([]float64, n)
	for i, k := range flowLengths(flags, n, l) {
		w[i] = 1
		if m.LengthWeighted() {
			w[i] = float64(m.weight(k))
		}
	}
	return w
}

// draw picks a training flow: uniformly, or by weight.
func (m *Model) draw(p *prepared) int {
	if p.cum == nil {
		return m.rng.IntN(p.n)
	}
	u := m.rng.Float64() * p.cum[p.n-1]
	i, _ := slices.BinarySearchFunc(p.cum, u, func(c, u float64) int {
		if c <= u {
			return -1
		}
		return 1
	})
	return min(i, p.n-1)
}

// Keep returns the flows of a generated batch (valid as GenerateFeatures
// returns it, n flows) that undo Config.LengthWeighting: flow j is kept
// with probability 1/weight(its records), in order, until want are kept.
// Without the weighting it keeps the first want.
func (m *Model) Keep(valid []float32, want int, rng *rand.Rand) []int {
	var keep []int
	for j, l := range flowLengths(valid, len(valid)/m.maxLen, m.maxLen) {
		if len(keep) == want {
			break
		}
		if m.lenCap > 0 && rng.Float64()*float64(m.weight(l)) >= 1 {
			continue
		}
		keep = append(keep, j)
	}
	return keep
}

// LengthWeighted reports whether generation must thin this model's flows
// (Keep, after Oversample).
func (m *Model) LengthWeighted() bool { return m.lenCap > 0 && m.lenMean > 1 }

// Oversample is how many flows to generate so that Keep can return n: a
// model that has learnt the weighted distribution spends the mean training
// weight per kept flow, and twice that leaves room for the draw's spread
// and a checkpoint whose lengths are still off (after 60 steps on CAIDA
// 1.2× kept 2,375 of 3,149).
func (m *Model) Oversample(n int) int {
	if !m.LengthWeighted() {
		return n
	}
	return int(math.Ceil(float64(n)*m.lenMean*2)) + 64
}

func sameOutputs(want, got []tensor.Output) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d outputs, model has %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Width != g.Width || w.Kind != g.Kind || w.Activation != g.Activation {
			return fmt.Errorf("output %d %q (%d %s %s) differs from the model's %q (%d %s %s)", i,
				g.Name, g.Width, g.Kind, g.Activation, w.Name, w.Width, w.Kind, w.Activation)
		}
	}
	return nil
}

// poissonBatch draws a DP-SGD batch the way the privacy accountant
// assumes: every flow joins independently with probability q =
// BatchSize/n, so the batch size varies around BatchSize. An empty draw
// is redrawn; with q·n = BatchSize that has probability e^-BatchSize.
func (m *Model) poissonBatch(n int, rng *rand.Rand) int {
	q := min(1, float64(m.cfg.BatchSize)/float64(n))
	for {
		m.batch = m.batch[:0]
		for i := 0; i < n; i++ {
			if rng.Float64() < q {
				m.batch = append(m.batch, i)
			}
		}
		if len(m.batch) > 0 {
			return len(m.batch)
		}
	}
}

// iterate runs one training iteration: CriticRounds × (critic step, then
// attribute-critic step), then one generator step. The batch is drawn with
// replacement, so chunks smaller than a batch still train.
//
// Noise, including h0 and c0, is drawn once per iteration and the generator
// only changes in its own step, so the fake batch is computed once and
// shared by all rounds, as recomputing it would give the same numbers.
func (m *Model) iterate(p *prepared) Losses {
	cfg := m.cfg
	b, g := cfg.BatchSize, m.gen
	var dp *dpParams
	if cfg.DP != nil {
		dp = &dpParams{clip: cfg.DP.Clip, noise: cfg.DP.Noise, rng: m.privacyRand()}
		b = m.poissonBatch(p.n, dp.rng)
	}
	A, LF := g.A, m.lpad*g.F
	dIn := LF + A
	m.realIn = grow(m.realIn, b*dIn)
	m.realAttr = grow(m.realAttr, b*A)
	for r := 0; r < b; r++ {
		var i int
		if cfg.DP != nil {
			i = m.batch[r]
		} else {
			i = m.draw(p)
		}
		copy(m.realIn[r*dIn:r*dIn+LF], p.feat[i*LF:(i+1)*LF])
		copy(m.realIn[r*dIn+LF:(r+1)*dIn], p.attr[i*A:(i+1)*A])
		copy(m.realAttr[r*A:(r+1)*A], p.attr[i*A:(i+1)*A])
	}
	g.drawNoise(b, m.rng, &m.noise, true)
	if g.lenBins > 0 {
		// The fake flows' length condition: the real batch's bins, the
		// same multiset, which spares the critics that variance; under DP
		// those are private, and the released distribution stands in.
		if cfg.DP != nil {
			m.cond = m.spreadBins(m.cond, b, m.rng)
		} else {
			m.cond = grow(m.cond, b*g.lenBins)
			for r := 0; r < b; r++ {
				copy(m.cond[r*g.lenBins:(r+1)*g.lenBins], m.realAttr[r*A+g.lenOff:(r+1)*A])
			}
		}
	}
	g.forwardAttr(m.noise.za, m.cond, b, true)
	g.forwardFeat(g.cache.attrHard, &m.noise)
	m.fakeIn = grow(m.fakeIn, b*dIn)
	m.fakeAttr = grow(m.fakeAttr, b*A)
	for r := 0; r < b; r++ {
		copy(m.fakeIn[r*dIn:r*dIn+LF], g.cache.feat[r*LF:(r+1)*LF])
		copy(m.fakeIn[r*dIn+LF:(r+1)*dIn], g.cache.attrSoft[r*A:(r+1)*A])
	}
	copy(m.fakeAttr, g.cache.attrSoft[:b*A])

	var ls Losses
	m.alpha = grow(m.alpha, b)
	for round := 0; round < cfg.CriticRounds; round++ {
		m.drawAlpha()
		w, gp := m.disc.lossGrad(m.realIn, m.fakeIn, m.alpha, b, cfg.GPLambda, dp)
		m.disc.toExpectedBatch(dp, b, cfg.BatchSize)
		m.optD.step()
		ls.Critic, ls.CriticGP, ls.Wasserstein = -w+cfg.GPLambda*gp, gp, w
		m.drawAlpha()
		w, gp = m.attrDisc.lossGrad(m.realAttr, m.fakeAttr, m.alpha, b, cfg.GPLambda, dp)
		m.attrDisc.toExpectedBatch(dp, b, cfg.BatchSize)
		m.optA.step()
		ls.AttrCritic, ls.AttrGP = -w+cfg.GPLambda*gp, gp
	}

	m.dIn = grow(m.dIn, b*dIn)
	m.dAttr2 = grow(m.dAttr2, b*A)
	sd := m.disc.inputGrad(m.fakeIn, b, -1, m.dIn)
	sa := m.attrDisc.inputGrad(m.fakeAttr, b, -cfg.AttrCriticWeight, m.dAttr2)
	ls.Generator = -sd - cfg.AttrCriticWeight*sa
	m.dFeat = grow(m.dFeat, b*LF)
	m.dAttr = grow(m.dAttr, b*A)
	for r := 0; r < b; r++ {
		copy(m.dFeat[r*LF:(r+1)*LF], m.dIn[r*dIn:r*dIn+LF])
		da := m.dAttr[r*A : (r+1)*A]
		for j, v := range m.dIn[r*dIn+LF : (r+1)*dIn] {
			da[j] = v + m.dAttr2[r*A+j]
		}
	}
	g.backward(m.dFeat, m.dAttr, &m.noise)
	m.optG.step()
	m.step++
	m.updateEMA()
	return ls
}

func (m *Model) drawAlpha() {
	for i := range m.alpha {
		m.alpha[i] = float32(m.rng.Float64())
	}
}

// Progress is reported to TrainOptions.Progress.
type Progress struct {
	Step, Total int
	Losses      Losses
	StepsPerSec float64
}

// TrainOptions controls a Train call. Steps counts iterations from the
// model's creation, so a resumed model trains only the remainder.
type TrainOptions struct {
	Steps int
	// CheckpointDir, if set, receives a checkpoint every CheckpointEvery
	// steps and at the end; with Resume, training first loads the newest one.
	CheckpointDir   string
	CheckpointEvery int
	Resume          bool
	// Log, if set, gets one JSON object per LogEvery steps (default 100).
	Log      io.Writer
	LogEvery int
	// Progress, if set, is called every ProgressEvery steps (default 100)
	// and after the last step.
	Progress      func(Progress)
	ProgressEvery int
	// Revise, if set, is called after each periodic checkpoint with the
	// step just saved and returns the total to train to instead of Steps
	// (at least one more step): a time budget's plan made from a few
	// timed steps can be corrected by the rate training actually runs at.
	Revise func(step int) int
}

// logLine is one JSON-lines loss record.
type logLine struct {
	Step int `json:"step"`
	Losses
	StepsPerSec float64 `json:"steps_per_s"`
}

// Train runs iterations on data until the model has done opts.Steps (or
// what opts.Revise last said). It stops early, returning ctx.Err(), when
// ctx is cancelled.
func (m *Model) Train(ctx context.Context, data *tensor.Set, opts TrainOptions) error {
	if opts.Resume && opts.CheckpointDir != "" {
		path, _, err := LatestCheckpoint(opts.CheckpointDir)
		if err != nil {
			return err
		}
		if path != "" {
			if err := m.restore(path); err != nil {
				return err
			}
		}
	}
	p, err := m.prepare(data)
	if err != nil {
		return err
	}
	every := func(n, def int) int {
		if n <= 0 {
			return def
		}
		return n
	}
	logEvery, progEvery := every(opts.LogEvery, 100), every(opts.ProgressEvery, 100)
	enc := json.NewEncoder(nilSafe(opts.Log))
	start, startStep := time.Now(), m.step
	total := opts.Steps
	for m.step < total {
		if err := ctx.Err(); err != nil {
			return err
		}
		ls := m.iterate(p)
		rate := float64(m.step-startStep) / time.Since(start).Seconds()
		if opts.Log != nil && m.step%logEvery == 0 {
			if err := enc.Encode(logLine{m.step, ls, rate}); err != nil {
				return fmt.Errorf("gan: writing loss log: %w", err)
			}
		}
		if opts.Progress != nil && (m.step%progEvery == 0 || m.step == total) {
			opts.Progress(Progress{m.step, total, ls, rate})
		}
		periodic := opts.CheckpointEvery > 0 && m.step%opts.CheckpointEvery == 0
		if opts.CheckpointDir != "" && (periodic || m.step == total) {
			if err := m.Save(checkpointPath(opts.CheckpointDir, m.step)); err != nil {
				return err
			}
		}
		if opts.Revise != nil && periodic && m.step < total {
			total = max(m.step+1, opts.Revise(m.step))
		}
	}
	return nil
}

func nilSafe(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Iterator prepares data once and returns a function that runs one
// training iteration on it, as Train does, for benchmarks.
func (m *Model) Iterator(data *tensor.Set) (func() Losses, error) {
	p, err := m.prepare(data)
	if err != nil {
		return nil, err
	}
	return func() Losses { return m.iterate(p) }, nil
}
