package ml

import (
	"math"
)

// adam is the Adam optimiser's state for one parameter vector.
type adam struct {
	m, v []float64
	t    int
}

func newAdam(n int) *adam { return &adam{m: make([]float64, n), v: make([]float64, n)} }

func (a *adam) step(w, g []float64, lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.t++
	c1 := 1 - math.Pow(b1, float64(a.t))
	c2 := 1 - math.Pow(b2, float64(a.t))
	for i := range w {
		a.m[i] = b1*a.m[i] + (1-b1)*g[i]
		a.v[i] = b2*a.v[i] + (1-b2)*g[i]*g[i]
		w[i] -= lr * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + eps)
	}
}

// LogReg is multinomial logistic regression on standardised features,
// trained by minibatch Adam on the L2-regularised cross-entropy.
type LogReg struct {
	Epochs, Batch int
	Rate, L2      float64
	Seed          uint64
	sc            *Scaler
	w             []float64 // K × (D+1), bias last
	d, k          int
	xs, fz        []float64
}

// Fit trains the model on ds.
func (c *LogReg) Fit(ds *Dataset) error {
	if err := ds.Check(); err != nil {
		return err
	}
	d, k, n := ds.D, ds.K, ds.N()
	c.d, c.k = d, k
	c.sc = FitScaler(ds.X, d)
	x := c.sc.Apply(ds.X)
	c.w = make([]float64, k*(d+1))
	grad := make([]float64, len(c.w))
	opt := newAdam(len(c.w))
	z, p := make([]float64, k), make([]float64, k)
	rng := NewRand(c.Seed)
	order := allRows(n)
	bs := max(c.Batch, 1)
	for range max(c.Epochs, 1) {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < n; start += bs {
			end := min(start+bs, n)
			clear(grad)
			for _, i := range order[start:end] {
				xi := x[int(i)*d : int(i)*d+d]
				c.scores(z, xi)
				softmax(p, z)
				p[ds.Y[i]]--
				for j := 0; j < k; j++ {
					gj := grad[j*(d+1) : (j+1)*(d+1)]
					pj := p[j]
					for f, v := range xi {
						gj[f] += pj * v
					}
					gj[d] += pj
				}
			}
			inv := 1 / float64(end-start)
			for i := range grad {
				grad[i] = grad[i]*inv + c.L2*c.w[i]
			}
			opt.step(c.w, grad, c.Rate)
		}
	}
	c.xs, c.fz = make([]float64, d), make([]float64, k)
	return nil
}

func (c *LogReg) scores(z, x []float64) {
	d := c.d
	for j := range z {
		wj := c.w[j*(d+1) : (j+1)*(d+1)]
		s := wj[d]
		for f, v := range x {
			s += wj[f] * v
		}
		z[j] = s
	}
}

// Predict returns the most probable class of x.
func (c *LogReg) Predict(x []float64) int {
	for f, v := range x {
		c.xs[f] = (v - c.sc.Mean[f]) / c.sc.Scale[f]
	}
	c.scores(c.fz, c.xs)
	return argmax(c.fz)
}

// MLP is a one-hidden-layer perceptron (ReLU, softmax output) on
// standardised features, trained by minibatch Adam.
type MLP struct {
	Hidden, Epochs, Batch int
	Rate                  float64
	Seed                  uint64
	sc                    *Scaler
	d, h, k               int
	w1, w2                []float64 // h×(d+1), k×(h+1), biases last
	xs, a, z              []float64
}

// Fit trains the network on ds.
func (c *MLP) Fit(ds *Dataset) error {
	if err := ds.Check(); err != nil {
		return err
	}
	d, h, k, n := ds.D, max(c.Hidden, 1), ds.K, ds.N()
	c.d, c.h, c.k = d, h, k
	c.sc = FitScaler(ds.X, d)
	x := c.sc.Apply(ds.X)
	rng := NewRand(c.Seed)
	c.w1, c.w2 = make([]float64, h*(d+1)), make([]float64, k*(h+1))
	// He initialisation for the ReLU layer, Glorot-like for the output.
	for i := range c.w1 {
		if i%(d+1) != d {
			c.w1[i] = rng.NormFloat64() * math.Sqrt(2/float64(d))
		}
	}
	for i := range c.w2 {
		if i%(h+1) != h {
			c.w2[i] = rng.NormFloat64() * math.Sqrt(1/float64(h))
		}
	}
	g1, g2 := make([]float64, len(c.w1)), make([]float64, len(c.w2))
	o1, o2 := newAdam(len(c.w1)), newAdam(len(c.w2))
	a, p, da := make([]float64, h), make([]float64, k), make([]float64, h)
	bs := max(c.Batch, 1)
	order := allRows(n)
	for range c.Epochs {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < n; start += bs {
			end := min(start+bs, n)
			clear(g1)
			clear(g2)
			for _, r := range order[start:end] {
				xi := x[int(r)*d : int(r)*d+d]
				c.forward(xi, a, p)
				p[ds.Y[r]]--
				clear(da)
				for j := 0; j < k; j++ {
					wj, gj := c.w2[j*(h+1):(j+1)*(h+1)], g2[j*(h+1):(j+1)*(h+1)]
					for u := 0; u < h; u++ {
						gj[u] += p[j] * a[u]
						da[u] += p[j] * wj[u]
					}
					gj[h] += p[j]
				}
				for u := 0; u < h; u++ {
					if a[u] <= 0 {
						continue
					}
					gu := g1[u*(d+1) : (u+1)*(d+1)]
					for f, v := range xi {
						gu[f] += da[u] * v
					}
					gu[d] += da[u]
				}
			}
			inv := 1 / float64(end-start)
			for i := range g1 {
				g1[i] *= inv
			}
			for i := range g2 {
				g2[i] *= inv
			}
			o1.step(c.w1, g1, c.Rate)
			o2.step(c.w2, g2, c.Rate)
		}
	}
	c.xs, c.a, c.z = make([]float64, d), make([]float64, h), make([]float64, k)
	return nil
}

// forward writes the hidden activations to a and the class probabilities
// to p.
func (c *MLP) forward(x, a, p []float64) {
	d, h := c.d, c.h
	for u := 0; u < h; u++ {
		wu := c.w1[u*(d+1) : (u+1)*(d+1)]
		s := wu[d]
		for f, v := range x {
			s += wu[f] * v
		}
		a[u] = max(s, 0)
	}
	for j := range p {
		wj := c.w2[j*(h+1) : (j+1)*(h+1)]
		s := wj[h]
		for u, v := range a {
			s += wj[u] * v
		}
		p[j] = s
	}
	softmax(p, p)
}

// Predict returns the most probable class of x.
func (c *MLP) Predict(x []float64) int {
	for f, v := range x {
		c.xs[f] = (v - c.sc.Mean[f]) / c.sc.Scale[f]
	}
	c.forward(c.xs, c.a, c.z)
	return argmax(c.z)
}
