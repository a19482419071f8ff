package word2vec

import (
	"fmt"
	"math"
	"sort"
)

// Model is a trained embedding: the kept tokens and their unit vectors.
type Model struct {
	Keys    []uint64  // token keys, in vocabulary order
	Vectors []float64 // len(Keys)×VectorSize, unit L2 norm
}

// rng is splitmix64: tiny, fast in Wasm, and the same on every platform,
// which makes training a pure function of the seed.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform value in [0,1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// Sigmoid table as in word2vec.c: 1000 steps over [-6, 6]; beyond that the
// gradient is taken as saturated.
const (
	expTableSize = 1000
	maxExp       = 6
)

var expTable = func() []float32 {
	t := make([]float32, expTableSize)
	for i := range t {
		x := math.Exp((float64(i)/expTableSize*2 - 1) * maxExp)
		t[i] = float32(x / (x + 1))
	}
	return t
}()

// unrolled selects cbow10 for 10 dimensions; tests turn it off to check
// that both paths agree.
var unrolled = true

// gradient is the negative-sampling step size for score f and label, with
// the sigmoid from the table and saturation beyond ±maxExp.
func gradient(f, label, alpha float32) float32 {
	switch {
	case f >= maxExp:
		return (label - 1) * alpha
	case f <= -maxExp:
		return label * alpha
	}
	return (label - expTable[int((f+maxExp)*(expTableSize/maxExp/2))]) * alpha
}

// Train runs word2vec CBOW (mean of the context) with negative sampling
// over a corpus of fixed-length sentences, as gensim 3.8 does with sg=0,
// cbow_mean=1, hs=0: a reduced window drawn per position, frequent-token
// down-sampling, a unigram^0.75 noise distribution, and a learning rate
// decaying linearly over all epochs. corpus holds sentLen token ids per
// sentence; keys and counts describe the ids. Tokens below MinCount are
// dropped. Everything random comes from cfg.Seed.
func Train(corpus []int32, sentLen int, keys []uint64, counts []int64, cfg Config) (*Model, error) {
	if sentLen < 1 || len(corpus)%sentLen != 0 {
		return nil, fmt.Errorf("corpus of %d tokens does not split into sentences of %d", len(corpus), sentLen)
	}
	// Vocabulary: kept tokens sorted by descending count, then key, so the
	// order (and with it every random draw) does not depend on the order
	// in which tokens first appeared beyond what the data fixes.
	var order []int32
	for id, c := range counts {
		if c >= int64(cfg.MinCount) {
			order = append(order, int32(id))
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no token occurs min_count = %d times", cfg.MinCount)
	}
	sort.Slice(order, func(a, b int) bool {
		ca, cb := counts[order[a]], counts[order[b]]
		if ca != cb {
			return ca > cb
		}
		return keys[order[a]] < keys[order[b]]
	})
	remap := make([]int32, len(counts))
	for i := range remap {
		remap[i] = -1
	}
	V, D := len(order), cfg.VectorSize
	vcount := make([]int64, V)
	var total int64
	for i, id := range order {
		remap[id] = int32(i)
		vcount[i] = counts[id]
		total += counts[id]
	}

	// Keep probability per token (gensim's sample_int / 2^32).
	keep := make([]float64, V)
	for i, c := range vcount {
		keep[i] = 1
		if cfg.Sample > 0 {
			thr := cfg.Sample * float64(total)
			p := (math.Sqrt(float64(c)/thr) + 1) * thr / float64(c)
			keep[i] = min(p, 1)
		}
	}
	noise := newAlias(vcount)

	r := &rng{s: uint64(cfg.Seed) ^ 0x5deece66d}
	// float32 as gensim: half the memory traffic, and training noise
	// dwarfs the rounding.
	syn0 := make([]float32, V*D)
	for i := range syn0 {
		syn0[i] = float32((r.float() - 0.5) / float64(D))
	}
	syn1 := make([]float32, V*D)
	neu1 := make([]float32, D)
	neu1e := make([]float32, D)
	sent := make([]int32, 0, sentLen)

	nSent := len(corpus) / sentLen
	// Progress counts raw tokens, as gensim's does, so that the schedule
	// does not depend on down-sampling draws.
	work := float64(cfg.Epochs) * float64(len(corpus))
	var done float64
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		for s := 0; s < nSent; s++ {
			alpha := float32(cfg.Alpha - (cfg.Alpha-cfg.MinAlpha)*done/work)
			done += float64(sentLen)
			sent = sent[:0]
			for _, id := range corpus[s*sentLen : (s+1)*sentLen] {
				w := remap[id]
				if w < 0 {
					continue
				}
				if keep[w] < 1 && keep[w] < r.float() {
					continue
				}
				sent = append(sent, w)
			}
			for pos, word := range sent {
				b := int(r.next() % uint64(cfg.Window))
				lo, hi := max(0, pos-cfg.Window+b), min(len(sent), pos+cfg.Window+1-b)
				if D == 10 && unrolled {
					cbow10(syn0, syn1, sent, pos, lo, hi, word, cfg.Negative, alpha, noise, r)
					continue
				}
				clear(neu1)
				count := 0
				for c := lo; c < hi; c++ {
					if c == pos {
						continue
					}
					v := syn0[int(sent[c])*D : int(sent[c]+1)*D]
					for k := range neu1 {
						neu1[k] += v[k]
					}
					count++
				}
				if count == 0 {
					continue
				}
				inv := 1 / float32(count)
				for k := range neu1 {
					neu1[k] *= inv
				}
				clear(neu1e)
				for d := 0; d <= cfg.Negative; d++ {
					target, label := word, float32(1)
					if d > 0 {
						target = noise.draw(r)
						if target == word {
							continue
						}
						label = 0
					}
					out := syn1[int(target)*D : int(target+1)*D]
					var f float32
					for k := range out {
						f += neu1[k] * out[k]
					}
					g := gradient(f, label, alpha)
					for k := range out {
						neu1e[k] += g * out[k]
					}
					for k := range out {
						out[k] += g * neu1[k]
					}
				}
				for c := lo; c < hi; c++ {
					if c == pos {
						continue
					}
					v := syn0[int(sent[c])*D : int(sent[c]+1)*D]
					for k := range v {
						v[k] += neu1e[k]
					}
				}
			}
		}
	}
	m := &Model{Keys: make([]uint64, V), Vectors: make([]float64, V*D)}
	for i, x := range syn0 {
		m.Vectors[i] = float64(x)
	}
	for i, id := range order {
		m.Keys[i] = keys[id]
		normalize(m.Vectors[i*D : (i+1)*D])
	}
	return m, nil
}

// alias is Vose's alias table over counts^0.75: an exact draw from the
// noise distribution in O(1).
type alias struct {
	prob  []uint32 // acceptance threshold out of 2^32
	alias []int32
}

func newAlias(counts []int64) *alias {
	n := len(counts)
	a := &alias{prob: make([]uint32, n), alias: make([]int32, n)}
	p := make([]float64, n)
	w := make([]float64, n)
	var sum float64
	for i, c := range counts {
		w[i] = math.Pow(float64(c), 0.75)
		sum += w[i]
	}
	var small, large []int32
	for i := range w {
		w[i] = w[i] * float64(n) / sum
		if w[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		p[s], a.alias[s] = w[s], l
		w[l] -= 1 - w[s]
		if w[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range large {
		p[i], a.alias[i] = 1, i
	}
	for _, i := range small {
		p[i], a.alias[i] = 1, i
	}
	for i, x := range p {
		a.prob[i] = uint32(min(x*(1<<32), math.MaxUint32))
		if x >= 1 {
			a.prob[i] = math.MaxUint32
			a.alias[i] = int32(i)
		}
	}
	return a
}

func (a *alias) draw(r *rng) int32 {
	x := r.next()
	// Multiply-shift instead of a modulo: the bucket from the high half,
	// the coin from the low half.
	i := int32((x >> 32) * uint64(len(a.prob)) >> 32)
	if uint32(x) < a.prob[i] {
		return i
	}
	return a.alias[i]
}
