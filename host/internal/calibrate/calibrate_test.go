package calibrate

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/netshare/netshare/host/internal/tensor"
)

// softRows draws n rows of one softmax head of width w whose logits lean
// towards the categories by bias (one per category), plus noise.
func softRows(n int, bias []float64, rng *rand.Rand) []float32 {
	w := len(bias)
	x := make([]float32, n*w)
	for r := 0; r < n; r++ {
		row := x[r*w : (r+1)*w]
		sum := 0.0
		e := make([]float64, w)
		for c := range row {
			e[c] = math.Exp(bias[c] + rng.NormFloat64())
			sum += e[c]
		}
		for c := range row {
			row[c] = float32(e[c] / sum)
		}
	}
	return x
}

func TestHeads(t *testing.T) {
	outs := []tensor.Output{
		{Name: "a", Width: 1, Kind: tensor.Continuous, Activation: tensor.Sigmoid},
		{Name: "proto", Width: 3, Kind: tensor.Discrete, Activation: tensor.Softmax},
		{Name: "flow.start_here", Width: 2, Kind: tensor.Discrete, Activation: tensor.Softmax},
		{Name: "one", Width: 1, Kind: tensor.Discrete, Activation: tensor.Softmax},
		{Name: "bit", Width: 2, Kind: tensor.Discrete, Activation: tensor.Softmax},
	}
	got := Heads(outs, func(n string) bool { return n == "flow.start_here" })
	want := []Head{{"proto", 1, 3}, {"bit", 7, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Heads = %v, want %v", got, want)
	}
}

func TestFit(t *testing.T) {
	cases := []struct {
		name   string
		bias   []float64 // the generator's lean
		target []float64
	}{
		{"already right", []float64{0, 0, 0}, nil}, // target: the rows' own shares
		{"a share off by two points", []float64{1.5, 0, -1}, []float64{0.55, 0.33, 0.12}},
		{"a dropped mode comes back", []float64{3, 3, -6}, []float64{0.49, 0.49, 0.02}},
		{"a category the data lacks goes", []float64{0, 0, 0}, []float64{0.5, 0.5, 0}},
		{"two ways", []float64{2, 0}, []float64{0.128, 0.872}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			n, w := 5000, len(tc.bias)
			x := softRows(n, tc.bias, rng)
			heads := []Head{{Name: "h", Off: 0, Width: w}}
			target := [][]float64{tc.target}
			if tc.target == nil {
				target = Shares(x, w, nil, heads)
			}
			orig := append([]float32(nil), x...)
			shifts := Fit(x, w, nil, heads, target)
			if len(shifts) != 1 {
				t.Fatalf("%d shifts, want 1", len(shifts))
			}
			s := shifts[0]
			if s.After > s.Before {
				t.Errorf("after %g > before %g", s.After, s.Before)
			}
			hard := make([]float32, len(x))
			Apply(x, hard, w, nil, shifts)
			got := Shares(x, w, nil, heads)[0]
			tvd := 0.0
			for c := range got {
				tvd += math.Abs(got[c]-target[0][c]) / 2
			}
			// within one row, as Fit says, and what Fit reported
			if tvd > 1.0/float64(n)+1e-12 || math.Abs(tvd-s.After) > 1e-12 {
				t.Errorf("shares %v, target %v: TVD %g (Fit said %g)", got, target[0], tvd, s.After)
			}
			moved := 0
			for r := 0; r < n; r++ {
				k := argmax(x[r*w : (r+1)*w])
				if hard[r*w+k] != 1 {
					t.Fatalf("row %d: hard is not the one-hot argmax", r)
				}
				sum := float32(0)
				for _, v := range x[r*w : (r+1)*w] {
					sum += v
				}
				if math.Abs(float64(sum)-1) > 1e-4 {
					t.Fatalf("row %d sums to %g", r, sum)
				}
				if k != argmax(orig[r*w:(r+1)*w]) {
					moved++
				}
			}
			// only as many rows change category as the shares need
			if min := int(math.Round(s.Before * float64(n))); moved < min || moved > 2*min+1 {
				t.Errorf("%d rows changed category; the shares needed %d", moved, min)
			}
		})
	}
}

// TestFitKeepsOrder: a row whose category c was more likely than in
// another row is not left out of c when that other row gets it. Offsets
// add per category, so among rows generated with category c or d, the
// ones that end in c are those with the largest log p_c − log p_d.
func TestFitKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n, w := 2000, 2
	x := softRows(n, []float64{1, 0}, rng)
	orig := append([]float32(nil), x...)
	heads := []Head{{Name: "h", Off: 0, Width: w}}
	Apply(x, nil, w, nil, Fit(x, w, nil, heads, [][]float64{{0.3, 0.7}}))
	minIn, maxOut := math.Inf(1), math.Inf(-1)
	for r := 0; r < n; r++ {
		ratio := math.Log(float64(orig[r*w])) - math.Log(float64(orig[r*w+1]))
		if argmax(x[r*w:(r+1)*w]) == 0 {
			minIn = min(minIn, ratio)
		} else {
			maxOut = max(maxOut, ratio)
		}
	}
	if minIn < maxOut {
		t.Fatalf("a row with log-odds %g kept category 0 while one with %g lost it", minIn, maxOut)
	}
}

// TestWeights: rows of weight 0 neither count nor change, and weights
// count as repeated rows.
func TestWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n, w := 3000, 3
	x := softRows(n, []float64{0, 0.5, 1}, rng)
	weight := make([]float64, n)
	for r := range weight {
		weight[r] = float64(r % 3) // a third of the rows weigh 0
	}
	orig := append([]float32(nil), x...)
	heads := []Head{{Name: "h", Off: 0, Width: w}}
	target := [][]float64{{0.2, 0.3, 0.5}}
	shifts := Fit(x, w, weight, heads, target)
	Apply(x, nil, w, weight, shifts)
	for r := 0; r < n; r += 3 {
		for c := 0; c < w; c++ {
			if x[r*w+c] != orig[r*w+c] {
				t.Fatalf("row %d of weight 0 changed", r)
			}
		}
	}
	got := Shares(x, w, weight, heads)[0]
	for c := range got {
		if math.Abs(got[c]-target[0][c]) > 2.0/float64(n) {
			t.Fatalf("weighted shares %v, want %v", got, target[0])
		}
	}
	// weights as repeated rows: weight 2 on one row counts as two
	sh := Shares([]float32{1, 0, 0, 1}, 2, []float64{2, 1}, []Head{{Off: 0, Width: 2}})[0]
	if math.Abs(sh[0]-2.0/3) > 1e-12 {
		t.Fatalf("Shares with weights = %v, want [2/3 1/3]", sh)
	}
}

// TestFitNeverWorse: on random heads and targets calibration never ends
// further from the target than the rows started.
func TestFitNeverWorse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200; i++ {
		w := 2 + rng.IntN(8)
		n := 1 + rng.IntN(400)
		bias := make([]float64, w)
		p := make([]float64, w)
		sum := 0.0
		for c := range bias {
			bias[c] = 4 * rng.NormFloat64()
			if rng.IntN(4) > 0 {
				p[c] = rng.Float64()
			}
			sum += p[c]
		}
		if sum == 0 {
			p[0], sum = 1, 1
		}
		for c := range p {
			p[c] /= sum
		}
		x := softRows(n, bias, rng)
		heads := []Head{{Off: 0, Width: w}}
		shifts := Fit(x, w, nil, heads, [][]float64{p})
		Apply(x, nil, w, nil, shifts)
		got := Shares(x, w, nil, heads)[0]
		tvd := 0.0
		for c := range got {
			tvd += math.Abs(got[c]-p[c]) / 2
		}
		if tvd > shifts[0].Before+1e-12 || math.Abs(tvd-shifts[0].After) > 1e-9 {
			t.Fatalf("case %d (w %d, n %d): TVD %g after, %g before, Fit said %g", i, w, n, tvd, shifts[0].Before, shifts[0].After)
		}
	}
}

func TestFitSkipsHeadsWithoutTarget(t *testing.T) {
	x := []float32{0.9, 0.1, 0.2, 0.8}
	heads := []Head{{Off: 0, Width: 2}}
	if s := Fit(x, 2, nil, heads, [][]float64{nil}); len(s) != 0 {
		t.Fatalf("Fit without a target = %v", s)
	}
	if s := Fit(x, 2, []float64{0, 0}, heads, [][]float64{{0.5, 0.5}}); len(s) != 0 {
		t.Fatalf("Fit without weighted rows = %v", s)
	}
}

func BenchmarkFit(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	n, w := 100000, 32
	bias := make([]float64, w)
	for c := range bias {
		bias[c] = rng.NormFloat64()
	}
	x := softRows(n, bias, rng)
	heads := []Head{{Off: 0, Width: w}}
	p := make([]float64, w)
	for c := range p {
		p[c] = 1 / float64(w)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Fit(x, w, nil, heads, [][]float64{p})
	}
}

// TestFitSaturated: a head whose softmax put all its mass on one category
// in every row (the others' probabilities round to 0 in float32) is
// still matched to within a row: SYN-ACK's packet-size modes, where
// moving offsets by log ratios of shares left 40-byte packets at 13.6%
// against 12.8%.
func TestFitSaturated(t *testing.T) {
	n, w := 7914, 3
	x := make([]float32, n*w)
	for r := 0; r < n; r++ {
		c := 0 // 44 bytes
		if r%100 < 14 {
			c = 1 // 40 bytes: 14%
		} else if r%100 == 99 {
			c = 2
		}
		x[r*w+c] = 1
	}
	heads := []Head{{Name: "pkt_len.mode", Off: 0, Width: w}}
	target := [][]float64{{0.862, 0.128, 0.010}}
	shifts := Fit(x, w, nil, heads, target)
	Apply(x, nil, w, nil, shifts)
	got := Shares(x, w, nil, heads)[0]
	for c := range got {
		if math.Abs(got[c]-target[0][c])*float64(n) > 1 {
			t.Fatalf("shares %v, want %v within a row", got, target[0])
		}
	}
}

// TestFitPaddedRows: records come padded to the longest flow, and the
// rows that count may be a small part of them; the rows fitted on are
// spaced among those that count, so a head of fewer than fitRows records
// is matched to the row however much padding surrounds them.
func TestFitPaddedRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	n, w := 400000, 2
	x := softRows(n, []float64{1.5, 0}, rng)
	weight := make([]float64, n)
	valid := 0
	for r := 0; r < n; r += 50 {
		weight[r] = 1
		valid++
	}
	heads := []Head{{Off: 0, Width: w}}
	target := [][]float64{{0.6, 0.4}}
	Apply(x, nil, w, weight, Fit(x, w, weight, heads, target))
	got := Shares(x, w, weight, heads)[0]
	if math.Abs(got[0]-0.6)*float64(valid) > 1 {
		t.Fatalf("shares %v of %d valid rows, want %v within a row", got, valid, target[0])
	}
}

func TestSelectSmallest(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for i := 0; i < 500; i++ {
		n := 1 + rng.IntN(60)
		xs := make([]float64, n)
		for j := range xs {
			xs[j] = float64(rng.IntN(10)) // ties too
		}
		m := 1 + rng.IntN(n)
		sorted := slices.Clone(xs)
		slices.Sort(sorted)
		selectSmallest(xs, m, func(v float64) float64 { return v })
		head := slices.Clone(xs[:m])
		slices.Sort(head)
		if !slices.Equal(head, sorted[:m]) {
			t.Fatalf("n %d m %d: first m %v, want %v", n, m, head, sorted[:m])
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b []float64
		want float64
	}{
		{[]float64{0.5, 0.5}, []float64{0.5, 0.5}, 0},
		{[]float64{1, 0}, []float64{0, 1}, 1},
		{[]float64{0.2, 0.8}, []float64{0.4, 0.6}, 0.2},
		{[]float64{1}, []float64{0.5, 0.5}, 0.5},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Distance(%v, %v) = %g, want %g", tt.a, tt.b, got, tt.want)
		}
	}
}
