package gan

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/netshare/netshare/host/internal/tensor"
)

// genBlock is how many flows one generator pass handles: large enough for
// efficient gemms, small enough to keep its buffers in cache-sized slabs.
const genBlock = 500

// AttrWidth is the width of an attribute row as the model generates it:
// the encoders' attributes, then the length bins of Config.LengthBins.
func (m *Model) AttrWidth() int { return m.gen.A }

// LengthBins is the number of length categories the model generates after
// the encoders' attributes (Config.LengthBins); 0 without them.
func (m *Model) LengthBins() int { return m.gen.lenBins }

// EncoderAttributes returns the encoders' part of attribute rows (n×AttrWidth,
// as GenerateAttributes returns them): the rows without the model's length
// bins, which only GenerateFeatures reads.
func (m *Model) EncoderAttributes(rows []float32) []float32 {
	if m.gen.lenBins == 0 {
		return rows
	}
	A, a := m.gen.A, tensor.Width(m.attrOut)
	n := len(rows) / A
	out := make([]float32, n*a)
	for i := range n {
		copy(out[i*a:(i+1)*a], rows[i*A:i*A+a])
	}
	return out
}

// views returns k generators sharing the weights generation uses
// (m.sampler) with their own buffers, so that generation (which only reads
// weights) can run on k goroutines.
func (m *Model) views(k int) []*generator[float32] {
	vs := make([]*generator[float32], k)
	src := m.sampler()
	for i := range vs {
		g := *src
		g.cache = genCache[float32]{}
		vs[i] = &g
	}
	return vs
}

// forBlocks runs f(view, block) for blocks [0, nb) on up to GOMAXPROCS
// goroutines. Each block's inputs are fixed before the call, so the result
// does not depend on the number of goroutines.
func forBlocks(views []*generator[float32], nb int, f func(g *generator[float32], b int)) {
	if len(views) == 1 || nb == 1 {
		for b := 0; b < nb; b++ {
			f(views[0], b)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for _, g := range views[:min(len(views), nb)] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				f(g, b)
			}
		}()
	}
	for b := 0; b < nb; b++ {
		next <- b
	}
	close(next)
	wg.Wait()
}

// GenerateAttributes draws n attribute rows (n×AttrWidth, row-major) from
// rng, with length bins spread over the rows as the training distribution
// says (spreadBins): soft holds the activated head outputs (softmax
// probabilities for discrete slices), hard the same rows with discrete
// slices turned one-hot.
// BatchNorm uses its running statistics, so a row does not depend on the
// others drawn with it. The result depends on rng only, not on GOMAXPROCS.
func (m *Model) GenerateAttributes(n int, rng *rand.Rand) (soft, hard []float32) {
	A, zA := m.gen.A, m.gen.zA
	soft, hard = make([]float32, n*A), make([]float32, n*A)
	za := make([]float32, n*zA)
	for i := range za {
		za[i] = float32(rng.NormFloat64())
	}
	var cond []float32
	k := m.gen.lenBins
	if k > 0 && n > 0 {
		cond = m.spreadBins(nil, n, rng)
	}
	views := m.views(runtime.GOMAXPROCS(0))
	forBlocks(views, (n+genBlock-1)/genBlock, func(g *generator[float32], b int) {
		lo := b * genBlock
		nb := min(genBlock, n-lo)
		var c []float32
		if k > 0 {
			c = cond[lo*k:]
		}
		g.forwardAttr(za[lo*zA:], c, nb, false)
		copy(soft[lo*A:], g.cache.attrSoft[:nb*A])
		copy(hard[lo*A:], g.cache.attrHard[:nb*A])
	})
	return soft, hard
}

// GenerateFeatures draws one flow per attribute row of attrs (n×AttrWidth,
// normally GenerateAttributes' hard rows, possibly merged across chunks).
// It returns features n×MaxLen×FeatWidth and valid n×MaxLen, where valid is
// 1 up to and including the record whose generation flag ends the flow and
// 0 after it; invalid records are zero. The result depends on rng only.
func (m *Model) GenerateFeatures(attrs []float32, rng *rand.Rand) (features, valid []float32, err error) {
	A := m.gen.A
	if len(attrs)%A != 0 {
		return nil, nil, fmt.Errorf("gan: %d attribute values is not a multiple of the width %d", len(attrs), A)
	}
	n, L, D, F, lp := len(attrs)/A, m.maxLen, m.gen.D, m.gen.F, m.lpad
	features, valid = make([]float32, n*L*D), make([]float32, n*L)
	views := m.views(runtime.GOMAXPROCS(0))
	// Noise is drawn in block order one round of len(views) blocks at a
	// time, which bounds its memory however many flows are asked for.
	noise := make([]genNoise[float32], len(views))
	for lo := 0; lo < n; lo += len(views) * genBlock {
		nb := 0
		for ; nb < len(views) && lo+nb*genBlock < n; nb++ {
			m.gen.drawNoise(min(genBlock, n-lo-nb*genBlock), rng, &noise[nb], false)
		}
		forBlocks(views, nb, func(g *generator[float32], b int) {
			nz := &noise[b]
			first := lo + b*genBlock
			g.forwardFeat(attrs[first*A:(first+nz.n)*A], nz)
			for r := 0; r < nz.n; r++ {
				fr := first + r
				// records after the end are zero here even inside the end's block
				for t := 0; t < L && g.cache.valid[r*lp+t] != 0; t++ {
					copy(features[(fr*L+t)*D:(fr*L+t+1)*D], g.cache.feat[(r*lp+t)*F:(r*lp+t)*F+D])
				}
				copy(valid[fr*L:(fr+1)*L], g.cache.valid[r*lp:r*lp+L])
			}
		})
	}
	return features, valid, nil
}
