package ml

import (
	"math/rand/v2"
	"slices"
	"sort"
)

// maxBins bounds the distinct split points per feature. Histogram trees
// (as in LightGBM) cost O(rows) per node and feature instead of a sort,
// which keeps a forest on 20k rows well inside a second in Wasm.
const maxBins = 128

// binned is a feature matrix reduced to per-feature bin codes: code ≤ b
// exactly when the raw value ≤ cuts[f][b], so trees grown on codes
// predict on raw values.
type binned struct {
	codes []uint8
	cuts  [][]float64
	d     int
}

func binFeatures(x []float64, d int) *binned {
	n := len(x) / d
	b := &binned{codes: make([]uint8, len(x)), cuts: make([][]float64, d), d: d}
	col := make([]float64, n)
	for f := 0; f < d; f++ {
		for i := 0; i < n; i++ {
			col[i] = x[i*d+f]
		}
		slices.Sort(col)
		distinct := slices.Compact(slices.Clone(col))
		var cuts []float64
		if len(distinct) <= maxBins {
			// Midpoints between neighbouring values generalise better than
			// the values themselves.
			for i := 0; i+1 < len(distinct); i++ {
				cuts = append(cuts, distinct[i]+(distinct[i+1]-distinct[i])/2)
			}
		} else {
			for j := 1; j < maxBins; j++ {
				c := col[j*n/maxBins]
				if len(cuts) == 0 || c > cuts[len(cuts)-1] {
					cuts = append(cuts, c)
				}
			}
		}
		b.cuts[f] = cuts
		for i := 0; i < n; i++ {
			b.codes[i*d+f] = uint8(sort.SearchFloat64s(cuts, x[i*d+f]))
		}
	}
	return b
}

// tree is a binary tree stored in a slice; a node with feat < 0 is a leaf.
type tree struct {
	nodes []treeNode
}

type treeNode struct {
	feat        int32
	left, right int32
	thr         float64
	value       float64
}

func (t *tree) eval(x []float64) float64 {
	i := int32(0)
	for {
		n := &t.nodes[i]
		if n.feat < 0 {
			return n.value
		}
		if x[n.feat] <= n.thr {
			i = n.left
		} else {
			i = n.right
		}
	}
}

type treeParams struct {
	maxDepth    int
	minLeaf     int
	maxFeatures int // 0: all
}

// grower grows one tree over per-row statistic vectors of width s: class
// counts for classification (gini; y set, s = K), or gradient and hessian
// for boosting (stats set, s = 2). score(sum, n) is the quantity a split
// maximises summed over the children; leaf(sum, n) is a leaf's value.
type grower struct {
	b     *binned
	y     []int32
	stats []float64
	s     int
	score func(sum []float64, n float64) float64
	leaf  func(sum []float64, n float64) float64
	p     treeParams
	rng   *rand.Rand

	hist, cnt, left, right, tot []float64
	feats                       []int
	t                           *tree
}

func newGrower(b *binned, s int, p treeParams, rng *rand.Rand) *grower {
	g := &grower{b: b, s: s, p: p, rng: rng,
		hist: make([]float64, b.d*(maxBins+1)*s), cnt: make([]float64, b.d*(maxBins+1)),
		left: make([]float64, s), right: make([]float64, s), tot: make([]float64, s),
		feats: make([]int, b.d)}
	for i := range g.feats {
		g.feats[i] = i
	}
	return g
}

func (g *grower) build(idx []int32) *tree {
	g.t = &tree{}
	g.grow(idx, 0)
	return g.t
}

func (g *grower) grow(idx []int32, depth int) int32 {
	s, d := g.s, g.b.d
	tot := make([]float64, s)
	if g.y != nil {
		for _, r := range idx {
			tot[g.y[r]]++
		}
	} else {
		for _, r := range idx {
			tot[0] += g.stats[2*r]
			tot[1] += g.stats[2*r+1]
		}
	}
	n := float64(len(idx))
	id := int32(len(g.t.nodes))
	g.t.nodes = append(g.t.nodes, treeNode{feat: -1, value: g.leaf(tot, n)})
	if depth >= g.p.maxDepth || len(idx) < 2*g.p.minLeaf {
		return id
	}
	parent := g.score(tot, n)
	nf := d
	if g.p.maxFeatures > 0 && g.p.maxFeatures < d {
		nf = g.p.maxFeatures
		// A partial Fisher–Yates shuffle picks the node's features.
		for i := 0; i < nf; i++ {
			j := i + g.rng.IntN(d-i)
			g.feats[i], g.feats[j] = g.feats[j], g.feats[i]
		}
	}
	feats := g.feats[:nf]
	// One pass over the node's rows fills the histograms of all its
	// candidate features: each row's codes are contiguous, which matters
	// far more than the arithmetic, above all in Wasm. Feature slot q of
	// the histogram holds bins [q*stride, (q+1)*stride).
	const stride = maxBins + 1
	hist, cnt := g.hist[:nf*stride*s], g.cnt[:nf*stride]
	clear(hist)
	clear(cnt)
	codes := g.b.codes
	if g.y != nil {
		for _, r := range idx {
			row, y := codes[int(r)*d:int(r)*d+d], int(g.y[r])
			for q, f := range feats {
				c := q*stride + int(row[f])
				cnt[c]++
				hist[c*s+y]++
			}
		}
	} else {
		for _, r := range idx {
			row, gr, hr := codes[int(r)*d:int(r)*d+d], g.stats[2*r], g.stats[2*r+1]
			for q, f := range feats {
				c := q*stride + int(row[f])
				cnt[c]++
				hist[2*c] += gr
				hist[2*c+1] += hr
			}
		}
	}
	bestGain, bestF, bestB := 1e-12, -1, 0
	for q, f := range feats {
		nb := len(g.b.cuts[f]) + 1
		if nb < 2 {
			continue
		}
		clear(g.left)
		nl := 0.0
		for b := 0; b < nb-1; b++ {
			c := q*stride + b
			nl += cnt[c]
			for k := 0; k < s; k++ {
				g.left[k] += hist[c*s+k]
			}
			if nl < float64(g.p.minLeaf) || cnt[c] == 0 {
				continue
			}
			if n-nl < float64(g.p.minLeaf) {
				break
			}
			for k := 0; k < s; k++ {
				g.right[k] = tot[k] - g.left[k]
			}
			gain := g.score(g.left, nl) + g.score(g.right, n-nl) - parent
			if gain > bestGain {
				bestGain, bestF, bestB = gain, f, b
			}
		}
	}
	if bestF < 0 {
		return id
	}
	// Partition idx in place: rows going left first.
	i, j := 0, len(idx)-1
	for i <= j {
		if int(codes[int(idx[i])*d+bestF]) <= bestB {
			i++
		} else {
			idx[i], idx[j] = idx[j], idx[i]
			j--
		}
	}
	l := g.grow(idx[:i], depth+1)
	r := g.grow(idx[i:], depth+1)
	nd := &g.t.nodes[id]
	nd.feat, nd.thr, nd.left, nd.right = int32(bestF), g.b.cuts[bestF][bestB], l, r
	return id
}

// gini scores: Σ_k c_k²/n is the weighted reduction of Gini impurity up to
// a constant, so maximising it over the children minimises impurity.
func giniScore(sum []float64, n float64) float64 {
	if n == 0 {
		return 0
	}
	var q float64
	for _, c := range sum {
		q += c * c
	}
	return q / n
}

func majority(sum []float64, _ float64) float64 {
	best := 0
	for k, c := range sum {
		if c > sum[best] {
			best = k
		}
	}
	return float64(best)
}

// Tree is a CART classification tree with the Gini criterion.
type Tree struct {
	MaxDepth, MinLeaf int
	Seed              uint64
	t                 *tree
}

// Fit grows the tree on ds.
func (c *Tree) Fit(ds *Dataset) error {
	if err := ds.Check(); err != nil {
		return err
	}
	b := binFeatures(ds.X, ds.D)
	g := newGrower(b, ds.K, treeParams{maxDepth: c.MaxDepth, minLeaf: max(c.MinLeaf, 1)}, NewRand(c.Seed))
	g.y, g.score, g.leaf = ds.Y, giniScore, majority
	c.t = g.build(allRows(ds.N()))
	return nil
}

// Predict returns the class of x.
func (c *Tree) Predict(x []float64) int { return int(c.t.eval(x)) }

func allRows(n int) []int32 {
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	return idx
}

// Forest is a random forest: trees on bootstrap samples (of Sample × N
// rows; 0 or 1 means N), each split drawn from √D random features,
// majority vote.
type Forest struct {
	Trees, MaxDepth, MinLeaf int
	Sample                   float64
	Seed                     uint64
	k                        int
	ts                       []*tree
	votes                    []int
}

// Fit grows the forest on ds.
func (c *Forest) Fit(ds *Dataset) error {
	if err := ds.Check(); err != nil {
		return err
	}
	b := binFeatures(ds.X, ds.D)
	mf := 1
	for mf*mf < ds.D {
		mf++
	}
	rng := NewRand(c.Seed)
	g := newGrower(b, ds.K, treeParams{maxDepth: c.MaxDepth, minLeaf: max(c.MinLeaf, 1), maxFeatures: mf}, rng)
	g.y, g.score, g.leaf = ds.Y, giniScore, majority
	n := ds.N()
	c.k, c.ts, c.votes = ds.K, nil, make([]int, ds.K)
	m := n
	if c.Sample > 0 && c.Sample < 1 {
		m = max(1, int(c.Sample*float64(n)))
	}
	idx := make([]int32, m)
	for range max(c.Trees, 1) {
		for i := range idx {
			idx[i] = int32(rng.IntN(n))
		}
		c.ts = append(c.ts, g.build(idx))
	}
	return nil
}

// Predict returns the class most trees vote for (the lowest on a tie).
func (c *Forest) Predict(x []float64) int {
	clear(c.votes)
	for _, t := range c.ts {
		c.votes[int(t.eval(x))]++
	}
	best := 0
	for k, v := range c.votes {
		if v > c.votes[best] {
			best = k
		}
	}
	return best
}
