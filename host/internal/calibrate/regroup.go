package calibrate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// Unit is one generated value that no training flow has, and how many
// distinct generated flows hold it.
type Unit struct {
	Value uint64
	Flows int
}

// Count is one bar of a flows-per-value profile: Values values held by
// Flows distinct flows each.
type Count struct {
	Flows, Values int
}

// Groups returns the sizes, in flows, of the groups that n flows form
// when they follow profile's flows per value: as many groups of each
// size as profile has values of that many flows, scaled to n flows and
// rounded by largest remainder, then dealt in rng's order.
func Groups(profile []Count, n int, rng *rand.Rand) []int {
	total := 0
	for _, c := range profile {
		if c.Flows > 0 && c.Values > 0 {
			total += c.Flows * c.Values
		}
	}
	if total == 0 || n <= 0 {
		return nil
	}
	scale := float64(n) / float64(total)
	type rest struct {
		flows int
		frac  float64
	}
	var sizes []int
	var rests []rest
	placed := 0
	for _, c := range profile {
		if c.Flows <= 0 || c.Values <= 0 {
			continue
		}
		exact := float64(c.Values) * scale
		whole := int(math.Floor(exact))
		for range whole {
			sizes = append(sizes, c.Flows)
		}
		placed += whole * c.Flows
		rests = append(rests, rest{c.Flows, exact - float64(whole)})
	}
	// Largest remainder, while flows remain to be grouped.
	slices.SortStableFunc(rests, func(a, b rest) int { return cmp.Compare(b.frac, a.frac) })
	for _, r := range rests {
		if placed >= n {
			break
		}
		sizes = append(sizes, r.flows)
		placed += r.flows
	}
	rng.Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })
	return sizes
}

// Regroup gives units' flows values so that the flows per value follow
// profile (Groups). A unit the generator gave several flows stands for
// the group nearest its size; where that group is smaller, the flows
// beyond it are split off onto fresh values near the unit's (fresh(v)
// returns a value nothing holds yet; nil: no splitting), since a
// generator that repeats a new address (a collapsed mode) makes hosts
// the data does not have. The single flows, sorted by value, are taken
// in runs of the other groups' sizes, and every flow of a run gets the
// run's first value. It returns, for each unit whose flows change value,
// the value of each of its flows in order; units left once the groups
// are dealt keep theirs.
func Regroup(units []Unit, profile []Count, rng *rand.Rand, fresh func(near uint64) uint64) map[uint64][]uint64 {
	n := 0
	for _, u := range units {
		n += u.Flows
	}
	sizes := Groups(profile, n, rng)
	if len(sizes) == 0 {
		return nil
	}
	left := map[int]int{}
	for _, s := range sizes {
		left[s]++
	}
	// a single flow: its value now, and the unit and position it came from
	type single struct {
		value, unit uint64
		j           int
	}
	var singles []single
	out := map[uint64][]uint64{}
	taken := map[int]int{}
	for _, u := range units {
		if u.Flows <= 1 {
			singles = append(singles, single{u.Value, u.Value, 0})
			continue
		}
		best := 0
		for s, c := range left {
			if c > 0 && (best == 0 || abs(s-u.Flows) < abs(best-u.Flows) || (abs(s-u.Flows) == abs(best-u.Flows) && s > best)) {
				best = s
			}
		}
		if best == 0 {
			continue
		}
		left[best]--
		taken[best]++
		if best < u.Flows && fresh != nil {
			vals := make([]uint64, u.Flows)
			for j := range vals {
				vals[j] = u.Value
				if j >= best {
					vals[j] = fresh(u.Value)
					singles = append(singles, single{vals[j], u.Value, j})
				}
			}
			out[u.Value] = vals
		}
	}
	slices.SortFunc(singles, func(a, b single) int { return cmp.Compare(a.value, b.value) })
	i := 0
	for _, size := range sizes {
		if taken[size] > 0 {
			taken[size]--
			continue
		}
		if i >= len(singles) {
			break
		}
		head := singles[i].value
		for end := min(i+size, len(singles)); i < end; i++ {
			f := singles[i]
			if vals, ok := out[f.unit]; ok {
				vals[f.j] = head
			} else if head != f.unit {
				out[f.unit] = []uint64{head}
			}
		}
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
