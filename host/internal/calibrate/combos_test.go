package calibrate

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// Two heads, direction (out, back) and flags (SYN, RST-ACK), side by side
// in rows of width 4.
var dirFlags = []Head{{Name: "dir", Off: 0, Width: 2}, {Name: "flags", Off: 2, Width: 2}}

func TestSeenCombos(t *testing.T) {
	x := []float32{
		0.9, 0.1, 0.8, 0.2, // out SYN
		0.2, 0.8, 0.3, 0.7, // back RST-ACK
		0.7, 0.3, 0.6, 0.4, // out SYN again
		0.1, 0.9, 0.9, 0.1, // back SYN: weight 0
	}
	got := seenCombos(x, 4, []float64{1, 1, 1, 0}, dirFlags)
	if want := [][]int32{{0, 0}, {1, 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("seenCombos = %v, want %v", got, want)
	}
	if got := seenCombos(x, 4, nil, nil); got != nil {
		t.Errorf("seenCombos without heads = %v, want nil", got)
	}
}

// TestApplyWithinPicks: a row whose combination the training rows have keeps
// it; one they lack takes the allowed combination its log-probabilities
// (plus offsets) favour most; rows of weight 0 stay as they are.
func TestApplyWithinPicks(t *testing.T) {
	allowed := [][]int32{{0, 0}, {1, 1}} // out SYN, back RST-ACK
	tests := []struct {
		name   string
		row    []float32
		delta  [][]float64 // per head, nil: no shift
		weight float64
		want   []float32
		moved  int
	}{
		{"allowed stays", []float32{0.9, 0.1, 0.8, 0.2}, nil, 1, []float32{1, 0, 1, 0}, 0},
		{"out RST-ACK, direction surer", []float32{0.9, 0.1, 0.4, 0.6}, nil, 1, []float32{1, 0, 1, 0}, 1},
		{"out RST-ACK, flags surer", []float32{0.6, 0.4, 0.1, 0.9}, nil, 1, []float32{0, 1, 0, 1}, 1},
		{"back SYN", []float32{0.3, 0.7, 0.9, 0.1}, nil, 1, []float32{1, 0, 1, 0}, 1},
		// an offset that makes the row's own argmax allowed
		{"offset decides", []float32{0.9, 0.1, 0.4, 0.6}, [][]float64{nil, {1, 0}}, 1, []float32{1, 0, 1, 0}, 0},
		// an offset that moves it to a combination the training lacks:
		// the search weighs the offsets too
		{"offset into the void", []float32{0.9, 0.1, 0.8, 0.2}, [][]float64{{-5, 0}, nil}, 1, []float32{0, 1, 0, 1}, 1},
		{"weight 0 untouched", []float32{0.9, 0.1, 0.4, 0.6}, nil, 0, []float32{0.9, 0.1, 0.4, 0.6}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := slices.Clone(tc.row)
			hard := make([]float32, 4)
			var shifts []Shift
			for h, d := range tc.delta {
				if d != nil {
					shifts = append(shifts, Shift{Head: dirFlags[h], Delta: d})
				}
			}
			moved := applyWithin(x, hard, 4, []float64{tc.weight}, dirFlags, shifts, allowed)
			if moved != tc.moved {
				t.Errorf("moved %d, want %d", moved, tc.moved)
			}
			if !reflect.DeepEqual(x, tc.want) {
				t.Errorf("row %v, want %v", x, tc.want)
			}
			if tc.weight > 0 && !reflect.DeepEqual(hard, tc.want) {
				t.Errorf("hard %v, want %v", hard, tc.want)
			}
		})
	}
}

// TestApplyWithinIsApply: without combinations applyWithin is Apply, and
// with every combination allowed it moves nothing and decodes as Apply.
func TestApplyWithinIsApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 500
	a, b := softRows(n, []float64{0, 0.5}, rng), softRows(n, []float64{0.3, 0}, rng)
	x := make([]float32, 0, 4*n)
	for r := range n {
		x = append(x, a[2*r:2*r+2]...)
		x = append(x, b[2*r:2*r+2]...)
	}
	target := [][]float64{{0.7, 0.3}, {0.2, 0.8}}
	shifts := Fit(x, 4, nil, dirFlags, target)
	want := slices.Clone(x)
	Apply(want, nil, 4, nil, shifts)
	for _, combos := range [][][]int32{nil, {{0, 0}, {0, 1}, {1, 0}, {1, 1}}} {
		got := slices.Clone(x)
		if moved := applyWithin(got, nil, 4, nil, dirFlags, shifts, combos); moved != 0 {
			t.Errorf("combos %v: moved %d, want 0", combos, moved)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("combos %v: decoded unlike Apply", combos)
		}
	}
	// and only allowed combinations come out when one is missing, the
	// shares staying near the target
	got := slices.Clone(x)
	moved := applyWithin(got, nil, 4, nil, dirFlags, shifts, [][]int32{{0, 0}, {1, 1}, {1, 0}})
	if c := seenCombos(got, 4, nil, dirFlags); !reflect.DeepEqual(c, [][]int32{{0, 0}, {1, 0}, {1, 1}}) {
		t.Errorf("combinations after %v", c)
	}
	if moved == 0 {
		t.Error("nothing moved, though out-RST-ACK rows were drawn")
	}
	sh := Shares(got, 4, nil, dirFlags)
	for h := range sh {
		if d := Distance(sh[h], target[h]); d > float64(moved)/n+1e-9 || math.IsNaN(d) {
			t.Errorf("head %d: distance %g after moving %d rows", h, d, moved)
		}
	}
}

// TestDependent: a pair of heads is listed where one decides the other in
// every counted row, with the pairs they have; not where a row breaks it,
// where a head takes one category only, or where so few rows show it that
// independent heads would show it as often.
func TestDependent(t *testing.T) {
	heads := []Head{{Name: "dir", Off: 0, Width: 2}, {Name: "flags", Off: 2, Width: 2}, {Name: "tos", Off: 4, Width: 2}, {Name: "len", Off: 6, Width: 2}}
	row := func(dir, flags, tos, ln int) []float32 {
		x := make([]float32, 8)
		for h, c := range []int{dir, flags, tos, ln} {
			x[2*h+c] = 1
		}
		return x
	}
	var few []float32
	// dir decides flags; tos is always 0; len varies either way
	for _, r := range [][4]int{{0, 0, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 1}, {1, 1, 0, 1}, {0, 0, 0, 0}} {
		few = append(few, row(r[0], r[1], r[2], r[3])...)
	}
	if got := Dependent(few, 8, nil, heads); len(got) != 0 {
		t.Errorf("five rows: Dependent = %+v, want none (chance %g)", got, 0.6*0.6*0.6+0.4*0.4*0.4)
	}
	var x []float32
	for range 8 {
		x = append(x, few...)
	}
	want := []Pair{{A: 0, B: 1, Combos: [][]int32{{0, 0}, {1, 1}}}}
	if got := Dependent(x, 8, nil, heads); !reflect.DeepEqual(got, want) {
		t.Errorf("Dependent = %+v, want %+v", got, want)
	}
	// an outgoing RST-ACK breaks it, unless its weight is 0
	x = append(x, row(0, 1, 0, 0)...)
	weight := make([]float64, 41)
	for i := range 40 {
		weight[i] = 1
	}
	if got := Dependent(x, 8, weight, heads); !reflect.DeepEqual(got, want) {
		t.Errorf("weight 0: Dependent = %+v, want %+v", got, want)
	}
	if got := Dependent(x, 8, nil, heads); len(got) != 0 {
		t.Errorf("broken: Dependent = %+v, want none", got)
	}
}

// TestApplyPairs: paired heads decode into their pairs, the others as
// Apply decodes them.
func TestDependenceChance(t *testing.T) {
	tests := []struct {
		rows  map[int32]int
		share []float64
		want  float64
	}{
		{map[int32]int{0: 1, 1: 1}, []float64{0.5, 0.5}, 1}, // single rows tell nothing
		{map[int32]int{0: 3}, []float64{0.5, 0.5}, 0.25},
		{map[int32]int{0: 2, 1: 2}, []float64{0.9, 0.1}, 0.82 * 0.82},
		{map[int32]int{0: 10}, []float64{1, 0}, 1}, // a constant is always decided
	}
	for _, tc := range tests {
		if got := dependenceChance(tc.rows, tc.share); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("dependenceChance(%v, %v) = %g, want %g", tc.rows, tc.share, got, tc.want)
		}
	}
}

func TestApplyPairs(t *testing.T) {
	heads := append(slices.Clone(dirFlags), Head{Name: "tos", Off: 4, Width: 2})
	x := []float32{0.9, 0.1, 0.4, 0.6, 0.3, 0.7} // out RST-ACK, tos 1
	shifts := []Shift{{Head: heads[2], Delta: []float64{2, 0}}}
	pairs := []Pair{{A: 0, B: 1, Combos: [][]int32{{0, 0}, {1, 1}}}}
	if moved := ApplyPairs(x, nil, 6, nil, heads, shifts, pairs); moved != 1 {
		t.Errorf("moved %d, want 1", moved)
	}
	if want := []float32{1, 0, 1, 0, 1, 0}; !reflect.DeepEqual(x, want) {
		t.Errorf("row %v, want %v", x, want)
	}
}

func TestPairGroups(t *testing.T) {
	p := func(a, b int) Pair { return Pair{A: a, B: b} }
	tests := []struct {
		pairs []Pair
		want  [][]int
	}{
		{nil, nil},
		{[]Pair{p(0, 1), p(2, 3)}, [][]int{{0, 1}, {2, 3}}},
		{[]Pair{p(0, 1), p(2, 3), p(1, 2)}, [][]int{{0, 1, 2, 3}}},
		{[]Pair{p(0, 4), p(1, 4), p(0, 1), p(2, 3)}, [][]int{{0, 1, 4}, {2, 3}}},
	}
	for _, tc := range tests {
		var got [][]int
		for _, g := range pairGroups(tc.pairs) {
			got = append(got, g.heads)
		}
		slices.SortFunc(got, slices.Compare)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("pairGroups(%v) = %v, want %v", tc.pairs, got, tc.want)
		}
	}
}

// TestApplyPairsGroup: three heads that decide one another pairwise (the
// SYN flood's direction, TCP flags and IP flags) decode into a
// combination every pair allows, found over the three together: decoding
// the pairs one after another can satisfy the first two and break the
// third.
func TestApplyPairsGroup(t *testing.T) {
	heads := append(slices.Clone(dirFlags), Head{Name: "ipflags", Off: 4, Width: 2})
	pairs := []Pair{
		{A: 0, B: 1, Combos: [][]int32{{0, 0}, {1, 1}}},
		{A: 0, B: 2, Combos: [][]int32{{0, 1}, {1, 0}}},
		{A: 1, B: 2, Combos: [][]int32{{0, 1}, {1, 0}}},
	}
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 300
	x := make([]float32, 0, 6*n)
	for range n {
		for range 3 {
			p := rng.Float32()
			x = append(x, p, 1-p)
		}
	}
	ApplyPairs(x, nil, 6, nil, heads, nil, pairs)
	for r := range n {
		row := x[6*r : 6*r+6]
		if !slices.Equal(row, []float32{1, 0, 1, 0, 0, 1}) && !slices.Equal(row, []float32{0, 1, 0, 1, 1, 0}) {
			t.Fatalf("row %d decoded %v, which a pair forbids", r, row)
		}
	}
}
