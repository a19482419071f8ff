package calibrate

import (
	"math"
	"slices"
)

// A record's discrete heads are decoded one argmax each, so a generator
// whose heads are each right on their own can still put together a
// combination no real record has: on the CIC-DDoS SYN flood every
// originator packet is a SYN and every responder packet a RST-ACK, and a
// 2-minute model gave 0.05% of its packets the other direction's flag,
// conversations in Zeek states the capture never has (RSTOS0, RSTR, OTH)
// and a conn_state score 8.7× its noise floor. Where one head's category
// decides another's in every training record (Dependent), calibration
// decodes the heads such pairs link together, into combinations every
// pair allows (ApplyPairs). Decoding every head together into the training records'
// combinations was tried first: with a record's many heads (a Zeek log's
// modes, service, state and labels) most generated combinations were new
// without being wrong, and moving them to seen ones moved 40% of the
// records and cost the category shares calibration had matched
// (docs/encoders.md, "Dependent heads").

// Pair is two heads, by index, one of which decides the other in the
// training records, and the pairs of categories they have (Combos).
type Pair struct {
	A, B   int
	Combos [][]int32
}

// Dependent lists the pairs of heads that both take two or more
// categories over the rows of x (width w) with weight above 0 (nil: all)
// and of which one decides the other: each category of it comes with one
// category of the other in every row, and that is not chance
// (dependenceChance).
func Dependent(x []float32, w int, weight []float64, heads []Head) []Pair {
	n := len(x) / w
	cat := make([][]int32, len(heads)) // per head, each counted row's category
	for h, hd := range heads {
		for r := range n {
			if rowWeight(weight, r) > 0 {
				cat[h] = append(cat[h], int32(argmax(x[r*w+hd.Off:r*w+hd.Off+hd.Width])))
			}
		}
	}
	// decides says whether head a's category decides b's in every row,
	// and how many rows each category of a has
	decides := func(a, b int) (map[int32]int, bool) {
		with, rows := map[int32]int32{}, map[int32]int{}
		for r, c := range cat[a] {
			if d, ok := with[c]; ok && d != cat[b][r] {
				return nil, false
			}
			with[c] = cat[b][r]
			rows[c]++
		}
		return rows, true
	}
	shares := func(h int) []float64 {
		s := make([]float64, heads[h].Width)
		for _, c := range cat[h] {
			s[c] += 1 / float64(len(cat[h]))
		}
		return s
	}
	varied := func(h int) bool {
		return len(cat[h]) > 0 && slices.ContainsFunc(cat[h], func(c int32) bool { return c != cat[h][0] })
	}
	var out []Pair
	for a := range heads {
		for b := a + 1; b < len(heads); b++ {
			if !varied(a) || !varied(b) {
				continue
			}
			dep := false
			for _, d := range [][2]int{{a, b}, {b, a}} {
				if rows, ok := decides(d[0], d[1]); ok && dependenceChance(rows, shares(d[1])) < maxChance {
					dep = true
				}
			}
			if dep {
				out = append(out, Pair{A: a, B: b, Combos: seenCombos(x, w, weight, []Head{heads[a], heads[b]})})
			}
		}
	}
	return out
}

// maxChance is the largest chance of a dependence among independent
// heads that Dependent takes for one: a chunk's few later records
// (CTU-Normal-43 has chunks with a dozen) otherwise show dependences
// between byte modes and labels that are luck.
const maxChance = 1e-3

// dependenceChance is the probability that a head whose categories have
// rows (category → its rows) would come with one category of another
// head in every row if the two were independent, the other taking its
// categories in shares: per category, Σ_b share_b^rows. A category of
// one row tells nothing (its factor is 1).
func dependenceChance(rows map[int32]int, share []float64) float64 {
	p := 1.0
	for _, n := range rows {
		q := 0.0
		for _, s := range share {
			q += math.Pow(s, float64(n))
		}
		p *= q
	}
	return p
}

// seenCombos is the sorted list of distinct combinations of heads' argmax
// categories that the rows of x (width w) with weight above 0 (nil: all)
// take, one category per head.
func seenCombos(x []float32, w int, weight []float64, heads []Head) [][]int32 {
	if len(heads) == 0 {
		return nil
	}
	seen := map[int]bool{}
	var out [][]int32
	t := make([]int32, len(heads))
	for r := range len(x) / w {
		if rowWeight(weight, r) <= 0 {
			continue
		}
		for h, hd := range heads {
			t[h] = int32(argmax(x[r*w+hd.Off : r*w+hd.Off+hd.Width]))
		}
		if k := comboIndex(t, heads); !seen[k] {
			seen[k] = true
			out = append(out, slices.Clone(t))
		}
	}
	slices.SortFunc(out, slices.Compare)
	return out
}

// comboIndex numbers a combination of heads' categories in mixed radix:
// distinct combinations get distinct numbers while the product of the
// widths fits an int (a pair, a group of at most maxGroupCombos).
func comboIndex(t []int32, heads []Head) int {
	i := 0
	for h, c := range t {
		i = i*heads[h].Width + int(c)
	}
	return i
}

// applyWithin is Apply for heads read together: each row of x (width w)
// with weight above 0 (nil: all) takes, per head, the argmax of log p + δ
// (shifts' δ for the heads that have one, else the plain argmax), and
// where that combination is not among combos (seenCombos over the same
// heads, in order) the combination of combos with the largest sum of
// log p + δ instead. Every head of the row is then set to the one-hot of
// its category, and hard (same layout, or nil) likewise. It returns how
// many rows took another combination than their own. Without combos it
// is Apply with the shifts of heads.
func applyWithin(x, hard []float32, w int, weight []float64, heads []Head, shifts []Shift, combos [][]int32) int {
	if len(combos) == 0 || len(heads) == 0 {
		Apply(x, hard, w, weight, slices.DeleteFunc(slices.Clone(shifts), func(s Shift) bool {
			return !slices.ContainsFunc(heads, func(h Head) bool { return h.Off == s.Off })
		}))
		return 0
	}
	delta := make([][]float64, len(heads))
	for _, s := range shifts {
		for h, hd := range heads {
			if hd.Off == s.Off && hd.Width == s.Width {
				delta[h] = s.Delta
			}
		}
	}
	known := make(map[int]bool, len(combos))
	for _, c := range combos {
		known[comboIndex(c, heads)] = true
	}
	moved := 0
	t := make([]int32, len(heads))
	var lp [][]float64 // the row's log p + δ per head, for a search
	for r := range len(x) / w {
		if rowWeight(weight, r) <= 0 {
			continue
		}
		for h, hd := range heads {
			xs := x[r*w+hd.Off : r*w+hd.Off+hd.Width]
			if delta[h] == nil {
				t[h] = int32(argmax(xs))
				continue
			}
			t[h] = int32(shifted(xs, r, delta[h]))
		}
		if !known[comboIndex(t, heads)] {
			lp = lp[:0]
			for h, hd := range heads {
				row := make([]float64, hd.Width)
				for c, v := range x[r*w+hd.Off : r*w+hd.Off+hd.Width] {
					row[c] = score(v, r, c)
					if delta[h] != nil {
						row[c] += delta[h][c]
					}
				}
				lp = append(lp, row)
			}
			best, bs := -1, math.Inf(-1)
			for i, c := range combos {
				s := 0.0
				for h, k := range c {
					if int(k) >= len(lp[h]) {
						s = math.Inf(-1)
						break
					}
					s += lp[h][k]
				}
				if best < 0 || s > bs {
					best, bs = i, s
				}
			}
			copy(t, combos[best])
			moved++
		}
		for h, hd := range heads {
			setOneHot(x[r*w+hd.Off:r*w+hd.Off+hd.Width], int(t[h]))
			if hard != nil {
				setOneHot(hard[r*w+hd.Off:r*w+hd.Off+hd.Width], int(t[h]))
			}
		}
	}
	return moved
}

func setOneHot(xs []float32, k int) {
	clear(xs)
	xs[k] = 1
}

// ApplyPairs is Apply with the heads of pairs decoded together: heads
// linked by pairs form a group (CIC-DDoS: direction, TCP flags and the IP
// flags decide one another), and each row's group takes the combination
// of its heads' categories that every pair in it allows with the largest
// sum of log p + δ (applyWithin). Heads of x (width w) and shifts are as
// Apply takes them. It returns how many rows' groups took another
// combination than their own.
func ApplyPairs(x, hard []float32, w int, weight []float64, heads []Head, shifts []Shift, pairs []Pair) int {
	moved := 0
	paired := map[int]bool{} // by Off
	for _, g := range pairGroups(pairs) {
		hs := make([]Head, len(g.heads))
		for i, h := range g.heads {
			hs[i] = heads[h]
			paired[heads[h].Off] = true
		}
		moved += applyWithin(x, hard, w, weight, hs, shifts, g.allowed(hs))
	}
	Apply(x, hard, w, weight, slices.DeleteFunc(slices.Clone(shifts), func(s Shift) bool { return paired[s.Off] }))
	return moved
}

// maxGroupCombos bounds the combinations of a group's categories that
// allowed enumerates (a Zeek log's state, label and detailed label: 156).
const maxGroupCombos = 1 << 12

// pairGroup is a set of heads linked by pairs, and those pairs.
type pairGroup struct {
	heads []int // indices into the heads, ascending
	pairs []Pair
}

// pairGroups joins pairs that share a head into groups.
func pairGroups(pairs []Pair) []pairGroup {
	var groups []pairGroup
	for _, p := range pairs {
		var merged pairGroup
		merged.pairs = []Pair{p}
		merged.heads = []int{p.A, p.B}
		groups = slices.DeleteFunc(groups, func(g pairGroup) bool {
			if !slices.Contains(g.heads, p.A) && !slices.Contains(g.heads, p.B) {
				return false
			}
			merged.pairs = append(merged.pairs, g.pairs...)
			merged.heads = append(merged.heads, g.heads...)
			return true
		})
		slices.Sort(merged.heads)
		merged.heads = slices.Compact(merged.heads)
		groups = append(groups, merged)
	}
	return groups
}

// allowed lists the combinations of the group's heads (hs, in the order
// of g.heads) that every pair of the group allows, or, with more than
// maxGroupCombos combinations to look through, nil: the group is then
// decoded as Apply decodes it.
func (g pairGroup) allowed(hs []Head) [][]int32 {
	total := 1
	for _, h := range hs {
		if total *= h.Width; total > maxGroupCombos {
			return nil
		}
	}
	type rule struct {
		a, b int // positions in g.heads
		ok   map[[2]int32]bool
	}
	var rules []rule
	for _, p := range g.pairs {
		r := rule{slices.Index(g.heads, p.A), slices.Index(g.heads, p.B), map[[2]int32]bool{}}
		for _, c := range p.Combos {
			r.ok[[2]int32{c[0], c[1]}] = true
		}
		rules = append(rules, r)
	}
	var out [][]int32
	t := make([]int32, len(hs))
	for i := range total {
		for h, rest := len(hs)-1, i; h >= 0; h-- {
			t[h] = int32(rest % hs[h].Width)
			rest /= hs[h].Width
		}
		if !slices.ContainsFunc(rules, func(r rule) bool { return !r.ok[[2]int32{t[r.a], t[r.b]}] }) {
			out = append(out, slices.Clone(t))
		}
	}
	return out
}
