package calibrate

import (
	"cmp"
	"slices"
)

// Continuous outputs are calibrated too: each generated value moves to the
// training values' quantile at its rank among the generated values
// (Transport), so the generated marginal is the training data's while the
// order of the rows, which has the larger value, stays the model's. This
// is the monotone transport of one distribution onto another (optimal for
// any convex cost in one dimension), the continuous counterpart of the
// heads' offsets. A `mixed` field's value is its place within a mode, and
// moves within the rows of each mode. A short training gives a sigmoid a
// narrow spread: on the spoofed SYN flood a 2-minute model put a flow's
// second packet 21–23 ms after its first, where the real ones are 19–30
// ms (docs/encoders.md, "Continuous outputs").

// Column is one continuous output column of a row, and the discrete head
// (nil: none) within each of whose categories its values are taken: a
// `mixed` field's mode.
type Column struct {
	Name string
	Col  int
	Cond *Head
}

// maxSteps bounds the quantile steps kept per column and category.
const maxSteps = 256

// minValues is the fewest training values a column's category needs to be
// transported onto: with fewer the quantiles are the training values
// themselves, and generated values would land on them.
const minValues = 32

// Quantiles returns, per column and category of its condition (one
// category without), the quantiles at up to maxSteps equal steps of the
// values in the rows of x (width w) with weight above 0 (nil: all); nil
// for a category with fewer than minValues of them.
func Quantiles(x []float32, w int, weight []float64, cols []Column) [][][]float32 {
	out := make([][][]float32, len(cols))
	for i, c := range cols {
		groups := groupRows(x, w, weight, c)
		out[i] = make([][]float32, len(groups))
		for g, rows := range groups {
			if len(rows) < minValues {
				continue
			}
			vs := make([]float32, len(rows))
			for j, r := range rows {
				vs[j] = x[r*w+c.Col]
			}
			slices.Sort(vs)
			k := min(maxSteps, len(vs)-1)
			knots := make([]float32, k+1)
			for j := range knots {
				// the linear interpolation of the order statistics
				// (Hyndman and Fan's type 7)
				h := float64(j) * float64(len(vs)-1) / float64(k)
				lo := int(h)
				if lo >= len(vs)-1 {
					knots[j] = vs[len(vs)-1]
					continue
				}
				knots[j] = vs[lo] + float32(h-float64(lo))*(vs[lo+1]-vs[lo])
			}
			out[i][g] = knots
		}
	}
	return out
}

// groupRows lists the rows of x (width w) with weight above 0 by the
// category of c's condition (one group without one).
func groupRows(x []float32, w int, weight []float64, c Column) [][]int {
	groups := make([][]int, 1)
	if c.Cond != nil {
		groups = make([][]int, c.Cond.Width)
	}
	for r := range len(x) / w {
		if rowWeight(weight, r) <= 0 {
			continue
		}
		g := 0
		if c.Cond != nil {
			g = argmax(x[r*w+c.Cond.Off : r*w+c.Cond.Off+c.Cond.Width])
		}
		groups[g] = append(groups[g], r)
	}
	return groups
}

// Transport moves the values of cols in the rows of x (width w) with
// weight above 0 (nil: all), within each category of a column's condition
// that knots (as Quantiles gives them) has quantiles for, to the quantile
// at each value's rank: the i-th smallest of n takes the knots' value at
// (i+½)/n. Equal values are ranked by a hash of row and column, so rows a
// generator gave one value spread over the training values. It returns
// how many of the columns' categories moved.
func Transport(x []float32, w int, weight []float64, cols []Column, knots [][][]float32) int {
	type ranked struct {
		r   int
		v   float32
		tie float64
	}
	moved := 0
	for i, c := range cols {
		if i >= len(knots) {
			break
		}
		for g, rows := range groupRows(x, w, weight, c) {
			if g >= len(knots[i]) || knots[i][g] == nil || len(rows) == 0 {
				continue
			}
			rs := make([]ranked, len(rows))
			for j, r := range rows {
				rs[j] = ranked{r, x[r*w+c.Col], score(1, r, c.Col)}
			}
			slices.SortFunc(rs, func(a, b ranked) int {
				return cmp.Or(cmp.Compare(a.v, b.v), cmp.Compare(a.tie, b.tie))
			})
			kn := knots[i][g]
			steps := float64(len(kn) - 1)
			for j, rk := range rs {
				t := (float64(j) + 0.5) / float64(len(rs)) * steps
				lo := int(t)
				v := kn[len(kn)-1]
				if lo < len(kn)-1 {
					v = kn[lo] + float32(t-float64(lo))*(kn[lo+1]-kn[lo])
				}
				x[rk.r*w+c.Col] = v
			}
			moved++
		}
	}
	return moved
}
