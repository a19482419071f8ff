package sketch

import (
	"encoding/binary"
	"math"
	"slices"
)

// sketch is a frequency sketch over flow keys given as two 64-bit words.
type sketch interface {
	add(lo, hi uint64, v float64)
	estimate(lo, hi uint64) float64
}

// newSketch builds the named sketch in exactly counters counters (rounded
// down to whole rows).
func newSketch(name string, counters, depth, levels int, seed uint64) sketch {
	switch name {
	case "cms":
		return newCountMin(depth, counters/depth, seed)
	case "cs":
		return newCountSketch(depth, counters/depth, seed)
	case "univmon":
		return newUnivMon(levels, depth, counters/(depth*levels), seed)
	}
	panic("sketch: unknown sketch " + name)
}

// mix is the splitmix64 finaliser: a bijection that spreads every input bit
// over the output.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hashRow is row i's hash of a key under seed.
func hashRow(lo, hi, seed uint64, i int) uint64 {
	s := mix(seed + uint64(i)*0x9e3779b97f4a7c15)
	return mix(mix(lo^s) ^ hi)
}

// CountMin is Cormode and Muthukrishnan's Count-Min sketch: the minimum of
// d counters, so it never underestimates non-negative counts.
type CountMin struct {
	d, w int
	seed uint64
	c    []float64
}

func newCountMin(d, w int, seed uint64) *CountMin {
	return &CountMin{d: d, w: max(w, 1), seed: seed, c: make([]float64, d*max(w, 1))}
}

func (s *CountMin) add(lo, hi uint64, v float64) {
	for i := 0; i < s.d; i++ {
		s.c[i*s.w+int(hashRow(lo, hi, s.seed, i)%uint64(s.w))] += v
	}
}

func (s *CountMin) estimate(lo, hi uint64) float64 {
	est := math.Inf(1)
	for i := 0; i < s.d; i++ {
		est = min(est, s.c[i*s.w+int(hashRow(lo, hi, s.seed, i)%uint64(s.w))])
	}
	return est
}

// CountSketch is Charikar et al.'s Count Sketch: signed counters, the
// median of d unbiased estimates.
type CountSketch struct {
	d, w int
	seed uint64
	c    []float64
	est  []float64
}

func newCountSketch(d, w int, seed uint64) *CountSketch {
	w = max(w, 1)
	return &CountSketch{d: d, w: w, seed: seed, c: make([]float64, d*w), est: make([]float64, d)}
}

// slot is row i's counter index and sign: the low bits pick the counter,
// the top bit the sign, so both come from one hash.
func (s *CountSketch) slot(lo, hi uint64, i int) (int, float64) {
	h := hashRow(lo, hi, s.seed, i)
	sign := 1.0
	if h>>63 == 1 {
		sign = -1
	}
	return i*s.w + int((h&(1<<63-1))%uint64(s.w)), sign
}

func (s *CountSketch) add(lo, hi uint64, v float64) {
	for i := 0; i < s.d; i++ {
		j, g := s.slot(lo, hi, i)
		s.c[j] += g * v
	}
}

func (s *CountSketch) estimate(lo, hi uint64) float64 {
	for i := 0; i < s.d; i++ {
		j, g := s.slot(lo, hi, i)
		s.est[i] = g * s.c[j]
	}
	slices.Sort(s.est)
	if s.d%2 == 1 {
		return s.est[s.d/2]
	}
	return (s.est[s.d/2-1] + s.est[s.d/2]) / 2
}

// UnivMon is Liu et al.'s universal sketch: level j holds the keys whose
// first j sampling bits are all 1 (about 2^-j of them), each level a Count
// Sketch. A key's count is read at the deepest level it reaches, where the
// fewest other keys collide with it; the keys are sampled whole, so that
// estimate needs no rescaling.
type UnivMon struct {
	levels []*CountSketch
	seed   uint64
}

func newUnivMon(levels, d, w int, seed uint64) *UnivMon {
	u := &UnivMon{seed: mix(seed ^ 0x5bd1e995)}
	for j := 0; j < levels; j++ {
		u.levels = append(u.levels, newCountSketch(d, w, seed+uint64(j+1)*0x632be59bd9b4e019))
	}
	return u
}

// depth is the deepest level key reaches.
func (u *UnivMon) depth(lo, hi uint64) int {
	h := hashRow(lo, hi, u.seed, 0)
	j := 0
	for j+1 < len(u.levels) && h&(1<<j) != 0 {
		j++
	}
	return j
}

func (u *UnivMon) add(lo, hi uint64, v float64) {
	for j := 0; j <= u.depth(lo, hi); j++ {
		u.levels[j].add(lo, hi, v)
	}
}

func (u *UnivMon) estimate(lo, hi uint64) float64 {
	return u.levels[u.depth(lo, hi)].estimate(lo, hi)
}

// hashKey reduces an encoded key to the two words the sketches hash. It is
// a fixed fold (maphash's seed is random per process), so runs are
// reproducible and depend only on the metric's seed.
func hashKey(k []byte) (lo, hi uint64) {
	lo, hi = 0xcbf29ce484222325, 0x84222325cbf29ce4
	for len(k) >= 8 {
		w := binary.LittleEndian.Uint64(k)
		lo = mix(lo ^ w)
		hi = mix(hi + w)
		k = k[8:]
	}
	var tail uint64
	for i, c := range k {
		tail |= uint64(c) << (8 * i)
	}
	lo = mix(lo ^ tail ^ uint64(len(k))<<56)
	hi = mix(hi + tail + uint64(len(k)))
	return lo, hi
}
