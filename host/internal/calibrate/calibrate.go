// Package calibrate matches what generation decides to the training
// data: how often each category of a discrete output is picked (Fit,
// Apply), which categories of heads that decide one another go together
// (Dependent, ApplyPairs), the distribution of continuous values
// (Quantiles, Transport), and how many flows share each new value the
// generator spells (Regroup).
//
// A generator's softmax head is decoded by argmax, and argmax turns small
// errors in the head's probabilities into whole shifts of a category's
// share: on the SYN-ACK capture 12.8% of the packets are 40 bytes long,
// and models of equal quality put 12.6% to 14.8% of theirs there, which
// alone decides a pair metric whose naive sampler has the share exactly.
// Calibration adds one offset per category to the heads' log-probabilities
// of the generated rows, found so that the argmax shares equal the
// training data's. A row keeps its own ranking of categories; only the
// rows nearest a boundary between two categories change side, so what the
// model says about which rows get which category (the joint structure)
// stays. This is prior-shift correction (Saerens, Latinne and
// Decaestecker, Neural Computation 2002) applied to argmax decisions,
// where the offsets are the dual variables of the semi-discrete transport
// from rows to category shares (docs/encoders.md, "Calibration").
//
// Regroup does the same for a profile instead of shares. A generator
// that spells an identifier it has not learned as a category (an address
// in ip-bits' bits) gives each flow a new address of its own, since flows
// are generated independently; real hosts below the category threshold
// have a few flows each (CTU-Normal-42: 318 of the 1,512 addresses in
// under five flows have two to four). Regroup merges neighbouring new
// values, sorted so that an address's neighbours share its prefix, into
// runs whose sizes follow the training profile of flows per value
// (docs/encoders.md, "New addresses"). Every value stays one the model
// generated; which flows share one is the model's nearness.
//
// The shares and the profile are read from the training data, so
// calibration consults the private records outside any privacy
// accountant: the run only calibrates without DP (model.calibrate).
package calibrate

import (
	"cmp"
	"math"
	"slices"

	"github.com/netshare/netshare/host/internal/tensor"
)

// Head is one softmax output: its columns Off..Off+Width-1 of a row.
type Head struct {
	Name       string
	Off, Width int
}

// Heads lists outs' softmax outputs of two or more categories, skipping
// those whose name skip accepts (nil skips none).
func Heads(outs []tensor.Output, skip func(name string) bool) []Head {
	var hs []Head
	off := 0
	for _, o := range outs {
		if o.Activation == tensor.Softmax && o.Width > 1 && (skip == nil || !skip(o.Name)) {
			hs = append(hs, Head{Name: o.Name, Off: off, Width: o.Width})
		}
		off += o.Width
	}
	return hs
}

// Shares is, per head, the weighted share of x's rows (of width w) whose
// argmax is each category; a row of weight 0 (nil: all 1) does not count.
// A head with no weight at all gets nil.
func Shares(x []float32, w int, weight []float64, heads []Head) [][]float64 {
	out := make([][]float64, len(heads))
	n := len(x) / w
	for h, hd := range heads {
		s := make([]float64, hd.Width)
		total := 0.0
		for r := 0; r < n; r++ {
			wt := rowWeight(weight, r)
			if wt <= 0 {
				continue
			}
			s[argmax(x[r*w+hd.Off:r*w+hd.Off+hd.Width])] += wt
			total += wt
		}
		if total == 0 {
			continue
		}
		for i := range s {
			s[i] /= total
		}
		out[h] = s
	}
	return out
}

// Distance is the total variation distance between two share vectors, a
// missing share counting as 0.
func Distance(a, b []float64) float64 {
	d := 0.0
	for i := range max(len(a), len(b)) {
		var x, y float64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		d += math.Abs(x - y)
	}
	return d / 2
}

// Shift is what calibration found for one head: an offset per category
// to add to the log-probabilities, and the total variation distance
// between the argmax shares and the target before and after.
type Shift struct {
	Head
	Delta         []float64
	Before, After float64
}

// maxSweeps bounds the passes over a head's categories; each moves every
// category's offset once. Most heads settle within a few.
const maxSweeps = 50

// fitRows bounds the rows a head's offsets are fitted on: above it Fit
// takes evenly spaced rows of those with weight, whose shares are within
// a fraction of a percent of all rows' (a share's standard error at 2^16
// rows is at most 0.2 points), and Apply still shifts every row.
const fitRows = 1 << 16

// Fit finds each head's offsets for the rows of x (width w) with weight
// above 0 (nil: all rows), so that their argmax shares come as close to
// target (as Shares gives it) as per-category offsets can bring them. A
// head without a target or rows gets no shift. Before and After are
// measured on the rows fitted on (fitRows).
//
// The offsets are the dual variables of assigning rows to categories in
// the target's proportions. Fit moves one category's offset at a time by
// exactly what gains or sheds the rows its share is off by: the k-th
// smallest margin by which those rows prefer another category (or it),
// so a category is matched to the row in one move however sure the
// generator was; a softmax that put all its mass on one category is
// common, and moving by a log ratio of shares never got there. Sweeps
// over the categories repeat until every share is within a row, and the
// offsets that came closest are kept, so a head never ends further from
// its target than it started.
func Fit(x []float32, w int, weight []float64, heads []Head, target [][]float64) []Shift {
	var shifts []Shift
	n := len(x) / w
	// the rows that count, evenly spaced beyond fitRows
	var idx []int
	for r := 0; r < n; r++ {
		if rowWeight(weight, r) > 0 {
			idx = append(idx, r)
		}
	}
	if len(idx) > fitRows {
		stride := (len(idx) + fitRows - 1) / fitRows
		for i := range (len(idx) + stride - 1) / stride {
			idx[i] = idx[i*stride]
		}
		idx = idx[:(len(idx)+stride-1)/stride]
	}
	for h, hd := range heads {
		p := target[h]
		if p == nil || len(p) != hd.Width {
			continue
		}
		W := hd.Width
		// the rows' log-probabilities (tie-broken), and their weights
		var lp, wt []float64
		total := 0.0
		for _, r := range idx {
			for c, q := range x[r*w+hd.Off : r*w+hd.Off+W] {
				lp = append(lp, score(q, r, c))
			}
			v := rowWeight(weight, r)
			wt = append(wt, v)
			total += v
		}
		if total == 0 {
			continue
		}
		rows := len(wt)
		minW := slices.Min(wt)
		delta := make([]float64, W)
		best := make([]float64, W)
		at := make([]int, rows) // each row's category under delta
		q := make([]float64, W) // weight per category
		assign := func() {
			clear(q)
			for r := range at {
				at[r] = bestOf(lp[r*W:(r+1)*W], delta, -1)
				q[at[r]] += wt[r]
			}
		}
		dist := func() float64 {
			d := 0.0
			for c := range q {
				d += math.Abs(q[c]/total - p[c])
			}
			return d / 2
		}
		assign()
		before := dist()
		bestD := before
		tol := 0.5 / float64(rows) // within a row: TVD counts it twice
		type cand struct {
			row    int
			margin float64
		}
		var cands []cand
		for sweep := 0; sweep < maxSweeps && bestD > tol; sweep++ {
			moved := false
			for c := 0; c < W; c++ {
				need := p[c]*total - q[c] // weight to gain (> 0) or shed
				cands = cands[:0]
				if need > minW/2 {
					// rows elsewhere, by how much they prefer their own
					for r, k := range at {
						if k != c {
							row := lp[r*W : (r+1)*W]
							cands = append(cands, cand{r, row[k] + delta[k] - row[c] - delta[c]})
						}
					}
				} else if need < -minW/2 {
					// rows here, by how much they prefer c to the next
					for r, k := range at {
						if k == c {
							row := lp[r*W : (r+1)*W]
							j := bestOf(row, delta, c)
							cands = append(cands, cand{r, row[c] + delta[c] - row[j] - delta[j]})
						}
					}
				}
				if len(cands) == 0 {
					continue
				}
				// only the rows it may take need ordering: at most
				// |need|/minW + 1, and the next one for the step
				if m := int(math.Abs(need)/minW) + 2; m < len(cands) {
					selectSmallest(cands, m, func(c cand) float64 { return c.margin })
					cands = cands[:m]
				}
				slices.SortFunc(cands, func(a, b cand) int { return cmp.Compare(a.margin, b.margin) })
				// take rows while that brings the share closer
				k, got := 0, 0.0
				for k < len(cands) && math.Abs(math.Abs(need)-got-wt[cands[k].row]) < math.Abs(math.Abs(need)-got) {
					got += wt[cands[k].row]
					k++
				}
				if k == 0 {
					continue
				}
				// just past the k-th margin, short of the next
				step := cands[k-1].margin
				if k < len(cands) {
					step = (step + cands[k].margin) / 2
				} else {
					step += 1
				}
				if need > 0 {
					delta[c] += step
				} else {
					delta[c] -= step
				}
				for _, cd := range cands[:k] {
					r := cd.row
					q[at[r]] -= wt[r]
					at[r] = bestOf(lp[r*W:(r+1)*W], delta, -1)
					q[at[r]] += wt[r]
				}
				moved = true
			}
			if d := dist(); d < bestD {
				bestD = d
				copy(best, delta)
			}
			if !moved {
				break
			}
		}
		shifts = append(shifts, Shift{Head: hd, Delta: best, Before: before, After: bestD})
	}
	return shifts
}

// selectSmallest reorders xs so that its first m elements are the m
// smallest by key, in no particular order (Hoare's selection).
func selectSmallest[T any](xs []T, m int, key func(T) float64) {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		p := key(xs[lo+(hi-lo)/2])
		i, j := lo, hi
		for i <= j {
			for key(xs[i]) < p {
				i++
			}
			for key(xs[j]) > p {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		// xs[lo..j] ≤ p ≤ xs[i..hi]
		switch {
		case m-1 <= j:
			hi = j
		case m-1 >= i:
			lo = i
		default:
			return
		}
	}
}

// bestOf is the category with the largest row[c] + delta[c], other than
// skip (-1: none); the first of ties.
func bestOf(row, delta []float64, skip int) int {
	k := -1
	for c, v := range row {
		if c != skip && (k < 0 || v+delta[c] > row[k]+delta[k]) {
			k = c
		}
	}
	return k
}

// score is category c's log-probability in row r, plus a tie-break below
// any difference float32 probabilities can hold: a softmax saturates
// (every other category's probability rounds to 0), and without it all
// such rows of a category would move together or not at all. The
// tie-break is a hash of (r, c), so Apply finds the same argmax as Fit.
func score(v float32, r, c int) float64 {
	z := uint64(r)*0x9e3779b97f4a7c15 + uint64(c)*0xbf58476d1ce4e5b9
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return logp(v) + float64(z>>11)/(1<<53)*1e-9
}

// Apply sets each head's slice of the rows of x (width w) with weight
// above 0 (nil: all rows) to the one-hot of its calibrated category, the
// argmax of log p + δ as Fit counted it, and so the slice of hard (the
// same layout, or nil) too. What reads a head after calibration takes
// its argmax (the decoders, the LSTM's hard attributes), so its other
// probabilities would carry nothing.
//
// The field's other outputs stay as generated, a range mode's position
// within the mode included. Two ways of giving a moved row a position
// from its new mode were tried and dropped: a donor row generated in that
// mode nearest the boundary (predictive mean matching), and calibrating
// range modes only as one pooled share; both lost joint pairs on the
// SYN-ACK capture and CAIDA (docs/fidelity.md, ablation: "calibration").
func Apply(x, hard []float32, w int, weight []float64, shifts []Shift) {
	n := len(x) / w
	for _, s := range shifts {
		for r := 0; r < n; r++ {
			if rowWeight(weight, r) <= 0 {
				continue
			}
			xs := x[r*w+s.Off : r*w+s.Off+s.Width]
			k := shifted(xs, r, s.Delta)
			clear(xs)
			xs[k] = 1
			if hard != nil {
				hs := hard[r*w+s.Off : r*w+s.Off+s.Width]
				clear(hs)
				hs[k] = 1
			}
		}
	}
}

// shifted is row r's category of a head whose probabilities are xs, the
// argmax of log p + delta as Fit counts it (ties broken by score).
func shifted(xs []float32, r int, delta []float64) int {
	k, bk := 0, math.Inf(-1)
	for c, v := range xs {
		if l := score(v, r, c) + delta[c]; l > bk {
			k, bk = c, l
		}
	}
	return k
}

// logp is a probability's log, a float32 0 counting as the least float32.
func logp(v float32) float64 { return math.Log(max(float64(v), math.SmallestNonzeroFloat32)) }

func rowWeight(weight []float64, r int) float64 {
	if weight == nil {
		return 1
	}
	return weight[r]
}

// argmax is the first index of the largest value, as the decoders take it.
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
