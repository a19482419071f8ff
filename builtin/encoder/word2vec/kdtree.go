package word2vec

import "sort"

// kdTree answers exact nearest-neighbour queries (squared Euclidean
// distance, ties to the lower point index) over a fixed set of points.
// Brute force would cost vocabulary × dims per decoded value, too slow for
// port vocabularies of tens of thousands.
type kdTree struct {
	pts   []float64
	dim   int
	perm  []int32 // point indices, leaves own contiguous ranges
	nodes []kdNode
}

type kdNode struct {
	// Inner nodes: split dimension and value, children. Leaves: axis -1
	// and the range [lo, hi) of perm.
	axis        int
	split       float64
	left, right int32
	lo, hi      int32
}

const leafSize = 8

func newKDTree(pts []float64, dim int) *kdTree {
	n := len(pts) / dim
	t := &kdTree{pts: pts, dim: dim, perm: make([]int32, n)}
	for i := range t.perm {
		t.perm[i] = int32(i)
	}
	t.build(0, n)
	return t
}

func (t *kdTree) build(lo, hi int) int32 {
	id := int32(len(t.nodes))
	t.nodes = append(t.nodes, kdNode{axis: -1, lo: int32(lo), hi: int32(hi)})
	if hi-lo <= leafSize {
		return id
	}
	// Split on the dimension of widest spread, at the median.
	axis, best := 0, -1.0
	for k := 0; k < t.dim; k++ {
		mn, mx := t.pts[int(t.perm[lo])*t.dim+k], t.pts[int(t.perm[lo])*t.dim+k]
		for _, p := range t.perm[lo:hi] {
			v := t.pts[int(p)*t.dim+k]
			mn, mx = min(mn, v), max(mx, v)
		}
		if mx-mn > best {
			axis, best = k, mx-mn
		}
	}
	if best <= 0 {
		return id // all points equal: one leaf
	}
	seg := t.perm[lo:hi]
	sort.Slice(seg, func(a, b int) bool {
		va, vb := t.pts[int(seg[a])*t.dim+axis], t.pts[int(seg[b])*t.dim+axis]
		if va != vb {
			return va < vb
		}
		return seg[a] < seg[b]
	})
	mid := lo + (hi-lo)/2
	split := t.pts[int(t.perm[mid])*t.dim+axis]
	l := t.build(lo, mid)
	r := t.build(mid, hi)
	t.nodes[id] = kdNode{axis: axis, split: split, left: l, right: r}
	return id
}

// nearest returns the index of the point closest to q. With maxChecks > 0
// the search stops once it has examined that many points and returns the
// closest seen (an approximate answer, as Annoy's); 0 means exact.
//
// The search is iterative, not recursive: inside the Wasm sandbox a call
// costs far more than a loop step. A far child is visited only when the
// distance from q to its side of the split plane does not exceed the best
// distance so far (equal is visited, so ties resolve to the lower index).
func (t *kdTree) nearest(q []float64, maxChecks int) int {
	best, bestD := int32(-1), 0.0
	budget := maxChecks
	var stack [64]struct {
		node int32
		gap  float64
	}
	sp := 1
	stack[0].node, stack[0].gap = 0, 0
	d := t.dim
	for sp > 0 {
		sp--
		nd, gap := stack[sp].node, stack[sp].gap
		if best >= 0 && (gap > bestD || budget < 0) {
			continue
		}
		n := &t.nodes[nd]
		if n.axis < 0 {
			if budget > 0 {
				if budget -= int(n.hi - n.lo); budget <= 0 {
					budget = -1 // spent: finish this leaf, visit no other
				}
			}
			for _, p := range t.perm[n.lo:n.hi] {
				v := t.pts[int(p)*d : int(p+1)*d]
				var dist float64
				for k, x := range q {
					y := x - v[k]
					dist += y * y
				}
				if best < 0 || dist < bestD || (dist == bestD && p < best) {
					best, bestD = p, dist
				}
			}
			continue
		}
		diff := q[n.axis] - n.split
		near, far := n.left, n.right
		if diff >= 0 {
			near, far = n.right, n.left
		}
		// Depth is at most log2(points/leafSize)+1 < 32, and each level
		// leaves at most one entry behind, so the stack cannot overflow.
		stack[sp].node, stack[sp].gap = far, max(gap, diff*diff)
		stack[sp+1].node, stack[sp+1].gap = near, gap
		sp += 2
	}
	return int(best)
}
