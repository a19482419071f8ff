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
	off   []float64 // scratch for queries
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

// nearest returns the index of the point closest to q.
func (t *kdTree) nearest(q []float64) int {
	s := search{t: t, q: q, best: -1}
	if cap(t.off) < t.dim {
		t.off = make([]float64, t.dim)
	}
	s.off = t.off[:t.dim]
	clear(s.off)
	s.visit(0, 0)
	return int(s.best)
}

// search is one query. off holds, per axis, the signed distance from q to
// the current cell along that axis (0 when q lies within it), so that rd,
// the sum of their squares, is the exact distance from q to the cell's box
// — a much tighter bound than the last split alone (Arya and Mount's
// incremental distance), which matters in 10 dimensions.
type search struct {
	t     *kdTree
	q     []float64
	off   []float64
	best  int32
	bestD float64
}

func (s *search) visit(nd int32, rd float64) {
	if s.best >= 0 && rd > s.bestD {
		return // ties may still improve the index, so equal is visited
	}
	t := s.t
	n := &t.nodes[nd]
	if n.axis < 0 {
		d := t.dim
		for _, p := range t.perm[n.lo:n.hi] {
			v := t.pts[int(p)*d : int(p+1)*d]
			var dist float64
			for k, x := range s.q {
				y := x - v[k]
				dist += y * y
			}
			if s.best < 0 || dist < s.bestD || (dist == s.bestD && p < s.best) {
				s.best, s.bestD = p, dist
			}
		}
		return
	}
	diff := s.q[n.axis] - n.split
	near, far := n.left, n.right
	if diff >= 0 {
		near, far = n.right, n.left
	}
	s.visit(near, rd)
	old := s.off[n.axis]
	s.off[n.axis] = diff
	s.visit(far, rd-old*old+diff*diff)
	s.off[n.axis] = old
}
