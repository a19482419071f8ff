package ml

import "math"

// Boost is multiclass stochastic gradient boosting (Friedman's, with
// second-order leaf values as in XGBoost): each round grows one shallow
// regression tree per class on the softmax cross-entropy gradients of a
// random Subsample share of the rows.
type Boost struct {
	Rounds, MaxDepth, MinLeaf int
	Rate, Lambda, Subsample   float64
	Seed                      uint64
	k                         int
	base                      []float64
	ts                        [][]*tree // per round, per class
	f                         []float64
}

// Fit trains the ensemble on ds.
func (c *Boost) Fit(ds *Dataset) error {
	if err := ds.Check(); err != nil {
		return err
	}
	n, k := ds.N(), ds.K
	c.k, c.ts = k, nil
	// Start from the log class priors, the optimum of a constant model.
	c.base = make([]float64, k)
	for _, y := range ds.Y {
		c.base[y]++
	}
	for j := range c.base {
		c.base[j] = math.Log((c.base[j] + 1) / float64(n+k))
	}
	b := binFeatures(ds.X, ds.D)
	g := newGrower(b, 2, treeParams{maxDepth: c.MaxDepth, minLeaf: max(c.MinLeaf, 1)}, NewRand(c.Seed))
	lambda := c.Lambda
	g.stats = make([]float64, 2*n)
	g.score = func(s []float64, _ float64) float64 { return s[0] * s[0] / (s[1] + lambda) }
	g.leaf = func(s []float64, _ float64) float64 { return -s[0] / (s[1] + lambda) }
	f := make([]float64, n*k)
	for i := 0; i < n; i++ {
		copy(f[i*k:], c.base)
	}
	p := make([]float64, n*k)
	rng := NewRand(c.Seed ^ 0xb0057)
	perm := allRows(n)
	sub := n
	if c.Subsample > 0 && c.Subsample < 1 {
		sub = max(1, int(c.Subsample*float64(n)))
	}
	idx := make([]int32, sub)
	for range c.Rounds {
		for i := 0; i < n; i++ {
			softmax(p[i*k:(i+1)*k], f[i*k:(i+1)*k])
		}
		round := make([]*tree, k)
		for j := 0; j < k; j++ {
			for i := 0; i < n; i++ {
				pj := p[i*k+j]
				y := 0.0
				if int(ds.Y[i]) == j {
					y = 1
				}
				g.stats[2*i] = pj - y
				g.stats[2*i+1] = max(pj*(1-pj), 1e-6)
			}
			// A partial shuffle draws this tree's rows.
			for i := 0; i < sub; i++ {
				r := i + rng.IntN(n-i)
				perm[i], perm[r] = perm[r], perm[i]
			}
			copy(idx, perm[:sub])
			t := g.build(idx)
			for i := 0; i < n; i++ {
				f[i*k+j] += c.Rate * t.eval(ds.Row(i))
			}
			round[j] = t
		}
		c.ts = append(c.ts, round)
	}
	c.f = make([]float64, k)
	return nil
}

// Predict returns the class with the largest boosted score.
func (c *Boost) Predict(x []float64) int {
	copy(c.f, c.base)
	for _, round := range c.ts {
		for j, t := range round {
			c.f[j] += c.Rate * t.eval(x)
		}
	}
	return argmax(c.f)
}

// softmax writes the softmax of z to p, shifted by the maximum so that
// large scores do not overflow.
func softmax(p, z []float64) {
	m := z[0]
	for _, v := range z {
		m = max(m, v)
	}
	var s float64
	for j, v := range z {
		p[j] = math.Exp(v - m)
		s += p[j]
	}
	for j := range p {
		p[j] /= s
	}
}

func argmax(v []float64) int {
	best := 0
	for j, x := range v {
		if x > v[best] {
			best = j
		}
	}
	return best
}
