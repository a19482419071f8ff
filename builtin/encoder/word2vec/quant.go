package word2vec

import "math"

// The exact search scores a leaf's points in 8-bit integers first, three
// points in one 64-bit multiply, and computes float distances only for
// the few points whose integer score could be the best. Generated vectors
// sit about one value-spacing from their nearest value, where the tree
// prunes little (it visits 60–70 % of a few hundred points on UGR'16's
// ports, docs/encoders.md), so the cost per visited point is what decides
// the decode rate; in the sandbox a float distance costs ~10 times an
// integer multiply-add of three packed points.
//
// Quantisation: a coordinate x of a unit vector becomes x̂ = round(127x)
// in [-127, 127], stored as x̂+128 in [1, 255]. Three points' values for
// one axis share a word in lanes of 21 bits; multiplied by the query's
// value for that axis and summed over d ≤ maxQuantDims axes, each lane
// holds Σ(q̂+128)(t̂+128) ≤ 32·255² < 2^21, so lanes never carry into one
// another. Subtracting 128·Σt̂ (per point, stored) and 128·Σq̂ + d·128²
// (per query) leaves the integer score ŝ = Σq̂t̂ ≈ 127²·q·t.
//
// Bound: with a = 127q, α = a − q̂ and b = 127t, β = b − t̂, 127²q·t − ŝ
// = α·b + a·β − α·β, so |127²q·t − ŝ| ≤ |α|·127 + 127·βmax + |α|·βmax = E
// (Cauchy–Schwarz; |b| = 127, |a| = 127|q|, βmax the largest |β| over the
// points). Every point whose cosine could be the highest has ŝ within 2E
// of the best ŝ, and the squared distance to the nearest point is at most
// |q|² + 1 − 2(ŝbest − E)/127², which is what cells are pruned against. The
// float distances of those candidates then decide, with the same formula
// and tie rule as before, so the answer is the exact search's.
const (
	quantScale   = 127
	quantLane    = 21
	quantMask    = 1<<quantLane - 1
	maxQuantDims = 32 // 32·255² < 2^21
	// quantPad is the stored offset of a padding slot (a leaf whose
	// size is not a multiple of three): its score is far below any real
	// one, so it never becomes a candidate.
	quantPad = 1 << 50
	// quantNone is the best score before any point is scored: below any
	// real score (|ŝ| ≤ 32·127²) and far above a padding slot's.
	quantNone = -(1 << 40)
	// unitSlack is how far from 1 a point's squared norm may be for the
	// integer pass (normalised float64 vectors are within ~1e-15).
	unitSlack = 1e-9
)

// quantCand is a point whose integer score came within 2E of the best.
type quantCand struct {
	pos   int32
	score int64
}

// buildQuant fills the tree's integer copy of its leaves: for each leaf,
// ⌈points/3⌉ groups of dim words. It is skipped for more than
// maxQuantDims dimensions or points that are not unit vectors (the
// ranking by q·t needs equal norms), where exact keeps float distances.
func (t *kdTree) buildQuant() {
	d := t.dim
	if d > maxQuantDims {
		return
	}
	for p := 0; p < len(t.pts); p += d {
		var s float64
		for _, x := range t.pts[p : p+d] {
			s += x * x
		}
		if math.Abs(s-1) > unitSlack {
			return
		}
	}
	var beta float64
	for i := range t.nodes {
		n := &t.nodes[i]
		if n.axis >= 0 {
			continue
		}
		n.qw = int32(len(t.qpk))
		n.qs = int32(len(t.qoff))
		for g := n.lo; g < n.hi; g += 3 {
			words := make([]uint64, d)
			for j := int32(0); j < 3; j++ {
				p := g + j
				if p >= n.hi {
					t.qoff = append(t.qoff, quantPad)
					continue
				}
				var sum int64
				var b2 float64
				for k := 0; k < d; k++ {
					x := t.pts[int(p)*d+k]
					v := math.Round(quantScale * x)
					b2 += (quantScale*x - v) * (quantScale*x - v)
					sum += int64(v)
					words[k] |= uint64(v+128) << (quantLane * j)
				}
				t.qoff = append(t.qoff, 128*sum)
				beta = max(beta, math.Sqrt(b2))
			}
			t.qpk = append(t.qpk, words...)
		}
	}
	t.beta = beta
	t.qu = make([]uint64, d)
}

// quantQuery sets t.qu to q's quantised values and returns the per-query
// constant subtracted from every lane, the bound E (integer, rounded up,
// with room for the float rounding of the bound itself) and q's squared
// norm; ok is false for a query with a value outside [-1, 1] (only a unit
// vector or zero reaches the tree from Decode), which keeps float
// distances.
func (t *kdTree) quantQuery(q []float64) (cq, e int64, qn2 float64, ok bool) {
	var sum int64
	var a2 float64
	for k, x := range q {
		if !(x >= -1 && x <= 1) {
			return 0, 0, 0, false
		}
		v := math.Round(quantScale * x)
		a2 += (quantScale*x - v) * (quantScale*x - v)
		sum += int64(v)
		qn2 += x * x
		t.qu[k] = uint64(v + 128)
	}
	alpha, tn := math.Sqrt(a2), math.Sqrt(1+unitSlack)
	bound := alpha*quantScale*tn + quantScale*math.Sqrt(qn2)*t.beta + alpha*t.beta
	return 128*sum + int64(len(q))*128*128, int64(math.Ceil(bound)) + 2, qn2, true
}

// scanQuant scores the groups of leaf n and appends to cands every point
// whose score is within win of the best so far, which it returns.
func (t *kdTree) scanQuant(n *kdNode, cq, win, best int64, cands []quantCand) (int64, []quantCand) {
	d := t.dim
	qpk, off := t.qpk, t.qoff
	s, w := int(n.qs), int(n.qw)
	thr := best - win
	var u *[10]uint64
	if d == 10 {
		u = (*[10]uint64)(t.qu)
	}
	for g := n.lo; g < n.hi; g, s, w = g+3, s+3, w+d {
		var acc uint64
		if u != nil {
			v := (*[10]uint64)(qpk[w:])
			acc = u[0]*v[0] + u[1]*v[1] + u[2]*v[2] + u[3]*v[3] + u[4]*v[4] +
				u[5]*v[5] + u[6]*v[6] + u[7]*v[7] + u[8]*v[8] + u[9]*v[9]
		} else {
			for k, x := range qpk[w : w+d] {
				acc += t.qu[k] * x
			}
		}
		o := (*[3]int64)(off[s:])
		s0 := int64(acc&quantMask) - o[0] - cq
		s1 := int64(acc>>quantLane&quantMask) - o[1] - cq
		s2 := int64(acc>>(2*quantLane)) - o[2] - cq
		// One branch a group: most groups hold no candidate.
		if s0 >= thr || s1 >= thr || s2 >= thr {
			for j, sc := range [3]int64{s0, s1, s2} {
				if sc >= thr {
					cands = append(cands, quantCand{pos: g + int32(j), score: sc})
					if sc > best {
						best, thr = sc, sc-win
					}
				}
			}
		}
	}
	return best, cands
}
