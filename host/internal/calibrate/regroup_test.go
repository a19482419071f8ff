package calibrate

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGroups: the group sizes follow the profile scaled to n flows, cover
// n flows, and overshoot by less than one group.
func TestGroups(t *testing.T) {
	tests := []struct {
		name    string
		profile []Count
		n       int
		want    map[int]int // groups of each size
	}{
		{"as many flows", []Count{{1, 6}, {2, 2}}, 10, map[int]int{1: 6, 2: 2}},
		{"twice the flows", []Count{{1, 6}, {2, 2}}, 20, map[int]int{1: 12, 2: 4}},
		{"half: largest remainder", []Count{{1, 5}, {3, 1}}, 4, map[int]int{1: 3, 3: 1}},
		{"no flows", []Count{{1, 5}}, 0, map[int]int{}},
		{"empty profile", nil, 10, map[int]int{}},
		{"bars without values are ignored", []Count{{4, 0}, {0, 3}, {1, 2}}, 2, map[int]int{1: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sizes := Groups(tt.profile, tt.n, rand.New(rand.NewPCG(1, 2)))
			got := map[int]int{}
			sum := 0
			for _, s := range sizes {
				got[s]++
				sum += s
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("groups %v, want %v", got, tt.want)
			}
			if len(sizes) > 0 && (sum < tt.n || sum-slices.Max(sizes) >= tt.n) {
				t.Errorf("%d flows in groups %v for %d flows", sum, sizes, tt.n)
			}
		})
	}
}

// TestRegroup: neighbouring values merge in runs of the profile's sizes,
// onto the first of their values; a unit of more flows than its group
// splits the rest onto fresh values, which merge like any other.
func TestRegroup(t *testing.T) {
	ones := func(vs ...uint64) []Unit {
		var us []Unit
		for _, v := range vs {
			us = append(us, Unit{Value: v, Flows: 1})
		}
		return us
	}
	fresh := func() func(uint64) uint64 {
		next := uint64(1000)
		return func(near uint64) uint64 { next++; return near*1000 + next - 1000 }
	}
	tests := []struct {
		name    string
		units   []Unit
		profile []Count
		want    map[uint64][]uint64
	}{
		{"pairs of neighbours", ones(40, 10, 30, 20), []Count{{2, 3}}, map[uint64][]uint64{20: {10}, 40: {30}}},
		{"singletons stay", ones(1, 2, 3), []Count{{1, 7}}, map[uint64][]uint64{}},
		{"a unit of several flows takes the nearest group",
			[]Unit{{Value: 5, Flows: 1}, {Value: 6, Flows: 3}, {Value: 7, Flows: 1}, {Value: 8, Flows: 1}}, []Count{{2, 1}, {4, 1}},
			map[uint64][]uint64{7: {5}}},
		{"a collapsed unit splits into singletons", []Unit{{Value: 5, Flows: 3}, {Value: 9, Flows: 1}}, []Count{{1, 4}},
			map[uint64][]uint64{5: {5, 5001, 5002}}},
		{"split flows merge with their neighbours", []Unit{{Value: 5, Flows: 3}, {Value: 9, Flows: 1}}, []Count{{2, 2}},
			map[uint64][]uint64{5: {5, 5, 9}}},
		{"no profile", ones(1, 2), nil, nil},
		{"no units", nil, []Count{{2, 1}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Regroup(tt.units, tt.profile, rand.New(rand.NewPCG(1, 2)), fresh())
			if !maps.EqualFunc(got, tt.want, slices.Equal) || (got == nil) != (tt.want == nil) {
				t.Errorf("values %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRegroupProfile: on random units and profiles, a few units holding
// several flows among them (up to 9, split where the profile has no
// such hosts), the flows per value after regrouping are the profile's,
// up to rounding, and every value is a unit's own or a fresh one.
func TestRegroupProfile(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 50 {
		var profile []Count
		for f := 1; f <= 1+rng.IntN(8); f++ {
			profile = append(profile, Count{Flows: f, Values: 1 + rng.IntN(500/f)})
		}
		var units []Unit
		values := map[uint64]bool{}
		for range 200 + rng.IntN(2000) {
			v := rng.Uint64N(1 << 32)
			if values[v] {
				continue
			}
			values[v] = true
			f := 1
			if rng.IntN(50) == 0 {
				f = 2 + rng.IntN(8) // more than some profiles hold: split
			}
			units = append(units, Unit{Value: v, Flows: f})
		}
		issued := map[uint64]bool{}
		fresh := func(near uint64) uint64 {
			for v := near + 1; ; v++ {
				if !values[v] && !issued[v] {
					issued[v] = true
					return v
				}
			}
		}
		moved := Regroup(units, profile, rand.New(rand.NewPCG(uint64(trial), 0)), fresh)
		flows := map[uint64]int{}
		for _, u := range units {
			vals, ok := moved[u.Value]
			if !ok {
				flows[u.Value] += u.Flows
				continue
			}
			if len(vals) != 1 && len(vals) != u.Flows {
				t.Fatalf("trial %d: %d values for a unit of %d flows", trial, len(vals), u.Flows)
			}
			for j := range u.Flows {
				to := vals[min(j, len(vals)-1)]
				if !values[to] && !issued[to] {
					t.Fatalf("trial %d: %d moved to %d, neither a unit's value nor a fresh one", trial, u.Value, to)
				}
				flows[to]++
			}
		}
		// Share of flows on values of each size, against the profile's.
		total, n := 0, 0
		for _, c := range profile {
			total += c.Flows * c.Values
		}
		got, want := map[int]float64{}, map[int]float64{}
		for _, f := range flows {
			got[f] += float64(f)
			n += f
		}
		for _, c := range profile {
			want[c.Flows] = float64(c.Flows*c.Values) / float64(total)
		}
		tvd := 0.0
		for f := range 64 {
			tvd += math.Abs(got[f]/float64(n) - want[f])
		}
		if tvd/2 > 0.05 {
			t.Errorf("trial %d: flows per value %v, want shares %v (TVD %.3f)", trial, got, want, tvd/2)
		}
	}
}
