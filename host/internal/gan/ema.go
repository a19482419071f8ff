package gan

import (
	"math/rand/v2"
	"strconv"
)

// The generator's exponential moving average (Config.EMA; Yazıcı et al.,
// "The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019).
// A GAN's generator keeps circling the equilibrium rather than settling,
// so the average of its recent weights generates better than any one
// step's. The shadow generator m.ema is updated after every generator
// step, saved in checkpoints beside the trained weights (which training
// and resume keep using) and generates in their place.
//
// It reads only the generator's weights, so under DP it is
// post-processing like the generator itself: no privacy cost.

// emaStatsRows is how many noise rows re-estimate the shadow generator's
// BatchNorm statistics: the trained generator's running statistics belong
// to its own weights, not to the averaged ones.
const emaStatsRows = 4096

// emaDecay is the decay at step t: the configured one, ramped up from
// (1+t)/(10+t) so that the average forgets the initial weights (or the
// weights a fork started from) within the first steps instead of over
// 1/(1−decay) steps.
func emaDecay(decay float64, t int) float64 {
	return min(decay, float64(1+t)/float64(10+t))
}

// updateEMA moves the shadow generator toward the trained one after the
// generator step that made m.step.
func (m *Model) updateEMA() {
	if m.ema == nil {
		return
	}
	d := float32(emaDecay(m.cfg.EMA, m.step))
	src, dst := m.gen.params(), m.ema.params()
	for i, p := range src {
		e := dst[i].w[:len(p.w)]
		for j, w := range p.w {
			e[j] = d*e[j] + (1-d)*w
		}
	}
	m.emaStep = -1
}

// resetEMA makes the shadow generator a copy of the trained one: at
// creation, and when a fork starts training on from another model's
// weights.
func (m *Model) resetEMA() {
	if m.ema == nil {
		return
	}
	_, src := genState(m.gen)
	_, dst := genState(m.ema)
	for i := range src {
		copy(dst[i], src[i])
	}
	m.emaStep = m.step
}

// emaBatchNorm re-estimates the shadow generator's BatchNorm running
// statistics from emaStatsRows noise rows in training mode, once per step
// it is asked at. Its randomness comes from the seed and the step, not
// from the training stream, so a checkpoint changes nothing in training
// and a resumed run saves the same statistics.
func (m *Model) emaBatchNorm() {
	if m.ema == nil || m.emaStep == m.step {
		return
	}
	rng := rand.New(rand.NewPCG(uint64(m.seed), uint64(m.step)^0x656d61)) // "ema"
	za := make([]float32, emaStatsRows*m.ema.zA)
	for i := range za {
		za[i] = float32(rng.NormFloat64())
	}
	// Momentum 0: the running statistics become this batch's, with the
	// unbiased variance, as a long run of updates would settle to.
	for _, bn := range m.ema.bn {
		momentum := bn.momentum
		bn.momentum = 0
		defer func() { bn.momentum = momentum }()
	}
	var cond []float32
	if m.ema.lenBins > 0 {
		cond = m.spreadBins(nil, emaStatsRows, rng)
	}
	m.ema.forwardAttr(za, cond, emaStatsRows, true)
	m.ema.cache = genCache[float32]{} // large and not needed again
	m.emaStep = m.step
}

// sampler is the generator that generation uses: the average when there
// is one, with its BatchNorm statistics up to date.
func (m *Model) sampler() *generator[float32] {
	if m.ema == nil {
		return m.gen
	}
	m.emaBatchNorm()
	return m.ema
}

// genState lists a generator's weights and BatchNorm running statistics
// in a fixed order, with their names.
func genState(g *generator[float32]) (names []string, vals [][]float32) {
	for _, p := range g.params() {
		names, vals = append(names, p.name), append(vals, p.w)
	}
	for i, bn := range g.bn {
		names = append(names, "gen.attr.bn"+strconv.Itoa(i)+".running_mean", "gen.attr.bn"+strconv.Itoa(i)+".running_var")
		vals = append(vals, bn.runMean, bn.runVar)
	}
	return names, vals
}
