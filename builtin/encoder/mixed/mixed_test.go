package mixed

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
)

func TestBins(t *testing.T) {
	tests := []struct {
		n    int64
		want int
	}{{0, 1}, {1, 1}, {2, 2}, {3, 3}, {4, 3}, {5, 4}, {1000, 11}, {1024, 11}, {1025, 12}, {10000, 15}, {1 << 20, 21}}
	for _, tc := range tests {
		if got := Bins(tc.n); got != tc.want {
			t.Errorf("Bins(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// seq returns n copies of v.
func seq(v float64, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = v
	}
	return xs
}

// spread returns lo, lo+1, …, hi.
func spread(lo, hi int) []float64 {
	var xs []float64
	for v := lo; v <= hi; v++ {
		xs = append(xs, float64(v))
	}
	return xs
}

func TestModes(t *testing.T) {
	tests := []struct {
		name       string
		xs         []float64
		k          int
		always     bool
		wantSpikes []float64
		wantRanges [][2]float64
	}{
		{"no spike: one range", spread(1, 100), 8, false, nil, [][2]float64{{1, 100}}},
		{"no spike, always: k quantile ranges", spread(1, 100), 4, true, nil, [][2]float64{{1, 25}, {26, 50}, {51, 75}, {76, 100}}},
		// 100 values: 40 at 52, 30 at 1500, 30 spread; k = 10: a spike
		// needs 10, the rest (30%) gets 3 ranges of 10.
		{"two spikes and a spread rest", slices.Concat(seq(52, 40), seq(1500, 30), spread(100, 129)), 10, false,
			[]float64{52, 1500}, [][2]float64{{100, 109}, {110, 119}, {120, 129}}},
		// 9 of 100 is below 1/10: not a spike; the rest (50%) gets 5
		// ranges, and the first cut (after 10 values) does not split 7's
		// copies.
		{"near spike stays whole", slices.Concat(seq(52, 50), seq(7, 9), spread(100, 140)), 10, false,
			[]float64{52}, [][2]float64{{7, 100}, {101, 110}, {111, 120}, {121, 130}, {131, 140}}},
		{"copies straddling a cut move to the earlier range", slices.Concat(seq(1, 3), seq(2, 4), seq(3, 3)), 2, true,
			nil, [][2]float64{{1, 2}, {3, 3}}},
		{"only spikes", slices.Concat(seq(0, 60), seq(1, 40)), 4, false, []float64{0, 1}, nil},
		{"one value", seq(3, 5), 3, false, []float64{3}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spikes, ranges := Modes(slices.Clone(tc.xs), tc.k, tc.always)
			if !slices.Equal(spikes, tc.wantSpikes) {
				t.Errorf("spikes %v, want %v", spikes, tc.wantSpikes)
			}
			if !slices.Equal(ranges, tc.wantRanges) {
				t.Errorf("ranges %v, want %v", ranges, tc.wantRanges)
			}
		})
	}
}

// ugrModes fits mixed on one UGR'16 column and returns its state.
func fitState(t *testing.T, w *wire, col string, params map[string]any, b *abi.Batch) (uint32, state, []abi.Output) {
	t.Helper()
	h := w.Open(Name, col, params, 1)
	raw := w.Fit(h, b)
	outs := w.Load(h, raw)
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return h, st, outs
}

// Every real value round-trips: exactly for integers, within 1e-9
// relative for floats; spikes are the values holding 1/K of the records.
func TestRoundTripRealData(t *testing.T) {
	b := loadUGR(t)
	tests := []struct {
		col    string
		params map[string]any
	}{
		{"td", map[string]any{"log1p": true}},
		{"pkt", map[string]any{"log1p": true}},
		{"byt", map[string]any{"log1p": true}},
		{"byt", map[string]any{"modes": "always"}},
		{"srcport", nil},
		{"dstport", map[string]any{"modes": "always"}},
		{"pkt", map[string]any{"log1p": true, "min": 1.0, "max": 1e6, "private": true}},
	}
	for _, tc := range tests {
		t.Run(tc.col, func(t *testing.T) {
			w := newWire(t)
			h, st, outs := fitState(t, w, tc.col, tc.params, b)
			real := b.Column(tc.col)
			k := Bins(int64(real.Len()))
			counts := map[float64]int{}
			for i := 0; i < real.Len(); i++ {
				counts[real.Float(i)]++
			}
			for v, c := range counts {
				isSpike := slices.Contains(st.Spikes, v)
				if want := c*k >= real.Len() && tc.params["private"] == nil; isSpike != want {
					t.Errorf("value %v (%d of %d records, K=%d): spike %v, want %v", v, c, real.Len(), k, isSpike, want)
				}
			}
			t.Logf("%s: K=%d spikes %v, %d ranges", tc.col, k, st.Spikes, len(st.Ranges))
			modes := len(st.Spikes) + len(st.Ranges)
			wantOuts := 1
			if modes > 1 {
				wantOuts = 2
				if !outs[0].Discrete || outs[0].Width != modes || outs[0].Activation != abi.ActSoftmax {
					t.Fatalf("mode output %+v, want a softmax of %d", outs[0], modes)
				}
			}
			if len(outs) != wantOuts || outs[wantOuts-1].Discrete || outs[wantOuts-1].Width != 1 {
				t.Fatalf("outputs %+v", outs)
			}
			m := w.Encode(h, sub(b, tc.col))
			for i, v := range m.Values {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("row %d encodes to %v", i, v)
				}
			}
			got := w.Decode(h, m).Column(tc.col)
			if got.Type != real.Type {
				t.Fatalf("decoded type %s, want %s", got.Type, real.Type)
			}
			for i := 0; i < real.Len(); i++ {
				g, x := got.Float(i), real.Float(i)
				if d := math.Abs(g - x); (real.Type.IsInt() && d != 0) || d > 1e-9*math.Abs(x) && d > 1e-12 {
					t.Fatalf("row %d: decoded %v, want %v", i, g, x)
				}
			}
		})
	}
}

// Generated rows: a spike mode decodes to its value whatever the scalar;
// a range mode stays within its values; unseen values encode into the
// nearest mode.
func TestGenerated(t *testing.T) {
	w := newWire(t)
	fit := &abi.Batch{Columns: []abi.Column{{Name: "len", Type: abi.TypeU16,
		U16: []uint16{52, 52, 52, 52, 1500, 1500, 1500, 100, 200, 300, 400, 500, 600}}}}
	h, st, outs := fitState(t, w, "len", nil, fit)
	// 13 records, K = 5: a spike needs 3 records; the rest (6) gets
	// ⌈5·6/13⌉ = 3 ranges.
	if !slices.Equal(st.Spikes, []float64{52, 1500}) || !slices.Equal(st.Ranges, [][2]float64{{100, 200}, {300, 400}, {500, 600}}) {
		t.Fatalf("state %+v", st)
	}
	if outs[0].Width != 5 {
		t.Fatalf("outputs %+v", outs)
	}
	in := &abi.Encoded{Rows: 7, HotWidth: 1, ValueWidth: 1,
		Hot:    []uint32{0, 1, 1, 2, 2, 2, 4},
		Values: []float64{0.9, -3, 0.2, 0, 1, 7, 0.5}}
	got := w.Decode(h, in).Column("len").U16
	want := []uint16{52, 1500, 1500, 100, 200, 200, 550}
	if !slices.Equal(got, want) {
		t.Errorf("decoded %v, want %v", got, want)
	}
	// Unseen values: inside a gap to the nearer range, beyond the ends
	// clamped into the outer ranges.
	m := w.Encode(h, &abi.Batch{Columns: []abi.Column{{Name: "len", Type: abi.TypeU16, U16: []uint16{40, 260, 240, 2000, 52}}}})
	if wantHot := []uint32{2, 3, 2, 4, 0}; !slices.Equal(m.Hot, wantHot) {
		t.Errorf("modes %v, want %v", m.Hot, wantHot)
	}
	if m.Values[0] != 0 || m.Values[3] != 1 || m.Values[4] != spikeValue {
		t.Errorf("values %v", m.Values)
	}
}

// Without ranges, unseen values take the nearest spike.
func TestOnlySpikes(t *testing.T) {
	w := newWire(t)
	h, st, outs := fitState(t, w, "x", nil, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: []float64{0, 0, 0, 2, 2}}}})
	if !slices.Equal(st.Spikes, []float64{0, 2}) || len(st.Ranges) != 0 || len(outs) != 2 {
		t.Fatalf("state %+v outputs %+v", st, outs)
	}
	m := w.Encode(h, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: []float64{-5, 1, 1.5, 9}}}})
	if want := []uint32{0, 0, 1, 1}; !slices.Equal(m.Hot, want) {
		t.Errorf("modes %v, want %v", m.Hot, want)
	}
}

// Past the reservoir, fit samples: the state is deterministic for a seed
// and its outer ranges still reach the extremes.
func TestLargeFit(t *testing.T) {
	const n = 3 * reservoirSize
	xs := make([]float64, n)
	for i := range xs {
		switch {
		case i%3 == 0:
			xs[i] = 40
		default:
			xs[i] = float64(100 + (i*7919)%100000)
		}
	}
	xs[n-1], xs[n-2] = 1, 5e6
	b := &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: xs}}}
	var raws []string
	for range 2 {
		w := newWire(t)
		h := w.Open(Name, "x", nil, 7)
		raws = append(raws, string(w.Fit(h, b)))
	}
	if raws[0] != raws[1] {
		t.Fatal("two fits with one seed differ")
	}
	var st state
	if err := json.Unmarshal([]byte(raws[0]), &st); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Spikes, []float64{40}) || len(st.Ranges) == 0 || st.Ranges[0][0] != 1 || st.Ranges[len(st.Ranges)-1][1] != 5e6 {
		t.Fatalf("state %+v", st)
	}
	// K = 19 for 196,608 records, the rest is 2/3: ⌈19·2/3⌉ = 13 ranges.
	if len(st.Ranges) != 13 {
		t.Errorf("%d ranges, want 13", len(st.Ranges))
	}
}

// Fixed bounds (privacy's fallback): one mode, the continuous encoder's
// min-max scaling, nothing read from the data.
func TestFixedBounds(t *testing.T) {
	w := newWire(t)
	h, st, outs := fitState(t, w, "x", map[string]any{"min": 0.0, "max": 100.0, "private": true},
		&abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: []float64{5, 5, 5, 5}}}})
	if len(st.Spikes) != 0 || !slices.Equal(st.Ranges, [][2]float64{{0, 100}}) || len(outs) != 1 || outs[0].Discrete {
		t.Fatalf("state %+v outputs %+v", st, outs)
	}
	m := w.Encode(h, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: []float64{0, 25, 100, 300}}}})
	if want := []float64{0, 0.25, 1, 1}; !slices.Equal(m.Values, want) {
		t.Errorf("encoded %v, want %v", m.Values, want)
	}
}

func TestErrors(t *testing.T) {
	f64 := func(v ...float64) *abi.Batch {
		return &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: v}}}
	}
	tests := []struct {
		name   string
		params map[string]any
		batch  *abi.Batch
		want   string
	}{
		{"private needs bounds", map[string]any{"private": true}, nil, "modes read from private data leak it"},
		{"min without max", map[string]any{"min": 1.0}, nil, "min and max together"},
		{"min above max", map[string]any{"min": 5.0, "max": 1.0}, nil, "min below max"},
		{"bad modes", map[string]any{"modes": "many"}, nil, "modes must be"},
		{"log1p min", map[string]any{"log1p": true, "min": -1.0, "max": 3.0}, nil, "above -1"},
		{"string column", nil, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeString, Dict: []string{"a"}, Codes: []uint32{0}}}}, "want a numeric type"},
		{"log1p of -1", map[string]any{"log1p": true}, f64(3, -1), "row 1"},
		{"NaN", nil, f64(1, math.NaN()), "row 1"},
		{"Inf", nil, f64(math.Inf(1)), "row 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h, err := w.TryOpen(Name, "x", tc.params, 1)
			if err == nil && tc.batch != nil {
				_, err = w.TryFit(h, tc.batch)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "mixed x") {
				t.Errorf("error %q does not name the encoder and field", err)
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct{ name, state, want string }{
		{"no modes", `{"type":"f64"}`, "no modes"},
		{"bad type", `{"type":"string","spikes":[1]}`, "column type"},
		{"spikes unordered", `{"type":"f64","spikes":[2,1]}`, "not increasing"},
		{"ranges overlap", `{"type":"f64","ranges":[[0,5],[5,9]]}`, "overlaps"},
		{"empty range", `{"type":"f64","ranges":[[5,1]]}`, "empty"},
		{"fraction in ints", `{"type":"u16","spikes":[1.5]}`, "not a u16"},
		{"beyond the type", `{"type":"u8","ranges":[[0,256]]}`, "not a u8"},
		{"log1p below -1", `{"type":"f64","log1p":true,"spikes":[-2]}`, "above -1"},
		{"quantiles per range", `{"type":"f64","ranges":[[0,5]],"quantiles":[]}`, "0 quantile lists for 1 ranges"},
		{"quantiles off the range", `{"type":"f64","ranges":[[0,5]],"quantiles":[[0,2,4]]}`, "do not run from"},
		{"quantiles unordered", `{"type":"f64","ranges":[[0,5]],"quantiles":[[0,3,2,5]]}`, "do not run from"},
		{"not json", `{`, "bad state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h := w.Open(Name, "x", nil, 1)
			if _, err := w.TryLoad(h, []byte(tc.state)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// Within a range mode the scalar is the value's quantile in the mode: the
// real values' scalars are uniform on [0, 1], and uniform scalars decode to
// the mode's own distribution. Min-max scaling of a heavy tail (log-normal
// bytes) fails both: most scalars sit near 0, and a uniform scalar decodes
// to the middle of the log range, far above the mode's median.
func TestQuantileScaling(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	xs := make([]float64, 5000)
	for i := range xs {
		xs[i] = math.Round(math.Exp(8 + 2.5*rng.NormFloat64()))
	}
	b := &abi.Batch{Columns: []abi.Column{{Name: "byt", Type: abi.TypeI64}}}
	for _, x := range xs {
		b.Columns[0].I64 = append(b.Columns[0].I64, int64(x))
	}
	for _, tc := range []struct {
		name  string
		state func(st state) state
		ok    bool
	}{
		{"quantiles", func(st state) state { return st }, true},
		{"min-max (a state without quantiles)", func(st state) state { st.Quantiles = nil; return st }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			_, st, _ := fitState(t, w, "byt", map[string]any{"log1p": true, "modes": "always"}, b)
			if len(st.Quantiles) != len(st.Ranges) || len(st.Ranges) < 2 {
				t.Fatalf("state %+v", st)
			}
			raw, err := json.Marshal(tc.state(st))
			if err != nil {
				t.Fatal(err)
			}
			h := w.Open(Name, "byt", map[string]any{"log1p": true}, 1)
			w.Load(h, raw)
			m := w.Encode(h, b)
			top := uint32(len(st.Ranges) - 1) // no spikes here
			var scal []float64
			var real []float64
			for i, hot := range m.Hot {
				if hot == top {
					scal = append(scal, m.Values[i])
					real = append(real, xs[i])
				}
			}
			// Kolmogorov–Smirnov distance of the top mode's scalars from uniform.
			slices.Sort(scal)
			ks := 0.0
			for i, v := range scal {
				ks = max(ks, math.Abs(v-float64(i)/float64(len(scal))), math.Abs(v-float64(i+1)/float64(len(scal))))
			}
			// Median of uniform scalars decoded in the top mode against the
			// mode's real median.
			n := 1001
			in := &abi.Encoded{Rows: n, HotWidth: 1, ValueWidth: 1, Hot: make([]uint32, n), Values: make([]float64, n)}
			for i := range n {
				in.Hot[i], in.Values[i] = top, float64(i)/float64(n-1)
			}
			dec := slices.Clone(w.Decode(h, in).Column("byt").I64)
			slices.Sort(dec)
			slices.Sort(real)
			ratio := float64(dec[n/2]) / real[len(real)/2]
			t.Logf("top mode %v: %d records, KS %.3f, decoded median / real median %.2f", st.Ranges[top], len(scal), ks, ratio)
			if good := ks < 0.05 && ratio > 0.8 && ratio < 1.25; good != tc.ok {
				t.Errorf("KS %.3f, median ratio %.2f: uniform within the mode %v, want %v", ks, ratio, good, tc.ok)
			}
		})
	}
}
