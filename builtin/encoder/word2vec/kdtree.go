package word2vec

import (
	"math"
	"sort"
)

// kdTree answers exact nearest-neighbour queries (squared Euclidean
// distance, ties to the lower key) over a fixed set of points. Brute force
// would cost vocabulary × dims per decoded value, too slow for port
// vocabularies of tens of thousands.
//
// Everything the search touches is laid out for it: points are stored in
// tree order (a leaf's points are contiguous, no index indirection), the
// search state is allocated once, and the loop makes no calls, since inside
// the Wasm sandbox a call or a short loop costs far more than straight-line
// code.
type kdTree struct {
	dim   int
	pts   []float64 // points in tree order, dim values each
	key   []int64   // tie-break key of each point, tree order (lower wins)
	orig  []int32   // each point's index in the input, tree order (for tests)
	nodes []kdNode  // preorder: an inner node's left child follows it

	// Search state, reused by every query (an Encoder is not shared
	// between goroutines).
	frames []kdFrame
	undo   []kdUndo
	off    []float64  // per axis, the query's distance to the current cell
	heap   []bbfEntry // nearestBBF's queue
	pool   []float64  // nearestBBF's per-axis offsets of queued cells

	// The leaves in 8-bit integers for exact's first pass (quant.go);
	// nil above maxQuantDims dimensions.
	qpk   []uint64    // per leaf, groups of three points: dim packed words each
	qoff  []int64     // per group slot: 128·Σt̂ (quantPad for padding)
	beta  float64     // the largest quantisation error |127t − t̂| of a point
	qu    []uint64    // the query's quantised values
	cands []quantCand // exact's candidates
}

type kdNode struct {
	split float64
	axis  int32 // -1 for a leaf
	right int32 // inner node: right child
	lo    int32 // leaf: its points are [lo, hi)
	hi    int32
	qw    int32 // leaf: its first word in qpk
	qs    int32 // leaf: its first slot in qoff
}

// kdFrame is a far child left for later: the squared distance from the
// query to its cell, and the change to off that entering it makes.
type kdFrame struct {
	rd      float64
	diff    float64
	node    int32
	axis    int32
	undoLen int32
}

type kdUndo struct {
	axis int32
	old  float64
}

const (
	leafSize = 24
	// pruneSlack keeps a cell whose lower bound exceeds the best distance
	// by less than the rounding of the incrementally updated bound, so
	// that pruning never drops a point the brute force would pick. The
	// points are unit vectors (distances ≤ 4), errors ~1e-15.
	pruneSlack = 1e-10
)

// newKDTree indexes n = len(pts)/dim points; keys[i] breaks ties between
// equidistant points (lower wins) and must be distinct.
func newKDTree(pts []float64, dim int, keys []int64) *kdTree {
	n := len(pts) / dim
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	t := &kdTree{dim: dim}
	depth := t.build(pts, perm, 0, n, 1)
	t.orig = perm
	t.pts = make([]float64, 0, len(pts))
	t.key = make([]int64, n)
	for p, i := range perm {
		t.pts = append(t.pts, pts[int(i)*dim:int(i+1)*dim]...)
		t.key[p] = keys[i]
	}
	t.frames = make([]kdFrame, depth+1)
	t.undo = make([]kdUndo, depth+1)
	t.off = make([]float64, dim)
	t.buildQuant()
	return t
}

// build makes the subtree of perm[lo:hi] and returns its depth.
func (t *kdTree) build(pts []float64, perm []int32, lo, hi, depth int) int {
	id := len(t.nodes)
	t.nodes = append(t.nodes, kdNode{axis: -1, lo: int32(lo), hi: int32(hi)})
	if hi-lo <= leafSize {
		return depth
	}
	d := t.dim
	// Split on the dimension of widest spread, at the median.
	axis, best := 0, -1.0
	for k := 0; k < d; k++ {
		mn, mx := pts[int(perm[lo])*d+k], pts[int(perm[lo])*d+k]
		for _, p := range perm[lo:hi] {
			v := pts[int(p)*d+k]
			mn, mx = min(mn, v), max(mx, v)
		}
		if mx-mn > best {
			axis, best = k, mx-mn
		}
	}
	if best <= 0 {
		return depth // all points equal: one leaf
	}
	seg := perm[lo:hi]
	sort.Slice(seg, func(a, b int) bool {
		va, vb := pts[int(seg[a])*d+axis], pts[int(seg[b])*d+axis]
		if va != vb {
			return va < vb
		}
		return seg[a] < seg[b]
	})
	mid := lo + (hi-lo)/2
	split := pts[int(perm[mid])*d+axis]
	dl := t.build(pts, perm, lo, mid, depth+1)
	r := len(t.nodes)
	dr := t.build(pts, perm, mid, hi, depth+1)
	t.nodes[id] = kdNode{axis: int32(axis), split: split, right: int32(r)}
	return max(dl, dr)
}

// nearest returns the tree position of the point closest to q and its
// squared distance. With grow > 1 the answer is approximate with a bound:
// the point returned is at most sqrt(grow) times as far from q as the
// nearest (grow = (1+ε)²); grow = 1 is exact. With maxChecks > 0 the
// search stops once it has examined that many points and returns the
// closest seen (no bound, as Annoy's); 0 means no limit. Both approximate
// searches are nearestBBF's; the exact one is exact's.
func (t *kdTree) nearest(q []float64, maxChecks int, grow float64) (int, float64) {
	if maxChecks > 0 || grow > 1 && t.qpk == nil {
		return t.nearestBBF(q, maxChecks, grow)
	}
	return t.search(q, grow)
}

// exact is the exact search: search with no slack.
func (t *kdTree) exact(q []float64) (int, float64) { return t.search(q, 1) }

// search is nearest's depth-first search, iterative: it descends
// to the query's leaf, leaving far children on a stack with the squared
// distance from q to their cell (the sum over axes of q's offset from the
// cell, kept in off and restored through an undo log), and visits a far
// child only when that bound does not exceed the best distance so far
// (equal is visited, so ties resolve to the lower key). With the integer
// leaves (quant.go) a leaf's points are scored in integers, the best
// distance is the bound that scoring guarantees, and the candidates'
// float distances decide at the end. With grow > 1 (integer leaves only)
// a cell is skipped once grow times its distance exceeds that bound, so
// the answer is at most sqrt(grow) times as far as the nearest.
func (t *kdTree) search(q []float64, grow float64) (int, float64) {
	d := t.dim
	pts, key, nodes := t.pts, t.key, t.nodes
	frames, undo, off := t.frames, t.undo, t.off[:d]
	q = q[:d]
	for k := range off {
		off[k] = 0
	}
	quant := t.qpk != nil
	var cq, win int64
	var qn2 float64
	bestS, cands := int64(quantNone), t.cands[:0]
	if quant {
		var e int64
		cq, e, qn2, quant = t.quantQuery(q)
		win = 2 * e
	}
	// bound is the largest squared distance the nearest point can have.
	best, bestD, bound := -1, math.MaxFloat64, math.MaxFloat64
	sp, ul := 0, 0
	node, rd := int32(0), 0.0
	for {
		n := &nodes[node]
		for n.axis >= 0 {
			a := n.axis
			diff := q[a] - n.split
			near, far := node+1, n.right
			if diff >= 0 {
				near, far = far, near
			}
			o := off[a]
			// Depth bounds both stacks: a frame per level of the current
			// path at most, and an undo entry per frame entered.
			if r := rd - o*o + diff*diff; r*grow <= bound+pruneSlack {
				frames[sp] = kdFrame{rd: r, diff: diff, node: far, axis: a, undoLen: int32(ul)}
				sp++
			}
			node = near
			n = &nodes[node]
		}
		if quant {
			bestS, cands = t.scanQuant(n, cq, win, bestS, cands)
			bound = qn2 + 1 + unitSlack - 2*float64(bestS-win/2)/(quantScale*quantScale)
		} else {
			best, bestD = scanLeaf(pts, q, key, int(n.lo), int(n.hi), best, bestD)
			bound = bestD
		}
		// Next far child whose cell may still hold a closer point.
		for {
			if sp == 0 {
				if quant {
					for _, c := range cands {
						if c.score >= bestS-win {
							best, bestD = scanLeaf(pts, q, key, int(c.pos), int(c.pos)+1, best, bestD)
						}
					}
					t.cands = cands
				}
				if best < 0 {
					best = 0 // only when no distance was finite
				}
				return best, bestD
			}
			sp--
			f := &frames[sp]
			if f.rd*grow > bound+pruneSlack {
				continue
			}
			for ul > int(f.undoLen) {
				ul--
				off[undo[ul].axis] = undo[ul].old
			}
			undo[ul] = kdUndo{axis: f.axis, old: off[f.axis]}
			ul++
			off[f.axis] = f.diff
			node, rd = f.node, f.rd
			break
		}
	}
}

// bbfEntry is a cell waiting in nearestBBF's queue: the squared distance
// from the query to it, its node, and where in bbfOff its per-axis
// offsets start.
type bbfEntry struct {
	rd   float64
	node int32
	off  int32
}

// nearestBBF is nearest's approximate search, best bin first (Beis and
// Lowe; Arya and Mount's priority search): cells are visited in order of
// their distance to q, so a budget of maxChecks points (0: none) is spent
// on the cells most likely to hold the answer, and with grow > 1 the
// search ends when the closest remaining cell is farther than
// sqrt(bestD/grow), which keeps the (1+ε) bound.
func (t *kdTree) nearestBBF(q []float64, maxChecks int, grow float64) (int, float64) {
	d := t.dim
	pts, key, nodes := t.pts, t.key, t.nodes
	q = q[:d]
	heap, pool := t.heap[:0], t.pool[:0]
	pool = append(pool, make([]float64, d)...)
	heap = append(heap, bbfEntry{node: 0, off: 0})
	cur := t.off[:d]
	best, bestD := -1, math.MaxFloat64
	checked := 0
	for len(heap) > 0 {
		// Pop the closest cell.
		e := heap[0]
		last := len(heap) - 1
		heap[0] = heap[last]
		heap = heap[:last]
		for i := 0; ; {
			c := 2*i + 1
			if c >= last {
				break
			}
			if c+1 < last && heap[c+1].rd < heap[c].rd {
				c++
			}
			if heap[i].rd <= heap[c].rd {
				break
			}
			heap[i], heap[c] = heap[c], heap[i]
			i = c
		}
		if e.rd*grow > bestD+pruneSlack {
			break // every cell left is at least as far
		}
		copy(cur, pool[int(e.off)*d:int(e.off+1)*d])
		node, rd := e.node, e.rd
		n := &nodes[node]
		for n.axis >= 0 {
			a := n.axis
			diff := q[a] - n.split
			near, far := node+1, n.right
			if diff >= 0 {
				near, far = far, near
			}
			o := cur[a]
			if r := rd - o*o + diff*diff; r*grow <= bestD+pruneSlack {
				slot := int32(len(pool) / d)
				pool = append(pool, cur...)
				pool[int(slot)*d+int(a)] = diff
				heap = append(heap, bbfEntry{rd: r, node: far, off: slot})
				for i := len(heap) - 1; i > 0; {
					p := (i - 1) / 2
					if heap[p].rd <= heap[i].rd {
						break
					}
					heap[p], heap[i] = heap[i], heap[p]
					i = p
				}
			}
			node = near
			n = &nodes[node]
		}
		best, bestD = scanLeaf(pts, q, key, int(n.lo), int(n.hi), best, bestD)
		// A spent budget still visits the cells q lies on the edge of (up
		// to rounding), so that a query at a point finds it whatever side
		// of a split the point went to.
		if checked += int(n.hi - n.lo); maxChecks > 0 && checked >= maxChecks && (len(heap) == 0 || heap[0].rd > pruneSlack) {
			break
		}
	}
	t.heap, t.pool = heap, pool
	if best < 0 {
		best = 0
	}
	return best, bestD
}

// scanLeaf compares q with the points lo..hi-1 of a leaf and returns the
// nearer of them and (best, bestD), ties to the lower key. One call per
// leaf; inside, the distance is written out for 10 dimensions, since in
// the sandbox a call or a loop a point costs more than the arithmetic.
func scanLeaf(pts, q []float64, key []int64, lo, hi, best int, bestD float64) (int, float64) {
	d := len(q)
	for p := lo; p < hi; p++ {
		var dist float64
		if d == 10 {
			v, w := (*[10]float64)(pts[p*10:]), (*[10]float64)(q)
			y0, y1, y2, y3, y4 := w[0]-v[0], w[1]-v[1], w[2]-v[2], w[3]-v[3], w[4]-v[4]
			y5, y6, y7, y8, y9 := w[5]-v[5], w[6]-v[6], w[7]-v[7], w[8]-v[8], w[9]-v[9]
			dist = y0*y0 + y1*y1 + y2*y2 + y3*y3 + y4*y4 + y5*y5 + y6*y6 + y7*y7 + y8*y8 + y9*y9
		} else {
			v := pts[p*d : p*d+d]
			for k, x := range q {
				y := x - v[k]
				dist += y * y
			}
		}
		if dist < bestD || (dist == bestD && best >= 0 && key[p] < key[best]) {
			best, bestD = p, dist
		}
	}
	return best, bestD
}
