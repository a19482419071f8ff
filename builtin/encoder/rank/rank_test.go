package rank

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

// portBatch builds rows of (srcip, dstport): flow f has rows[f] records
// with port ports[f] and source address f, so the popular counter tells
// the flows apart by their key, as in the pipeline's fit.
func portBatch(ports []uint16, rows []int) *abi.Batch {
	var src []uint32
	var port []uint16
	for f, p := range ports {
		for range rows[f] {
			src = append(src, uint32(f))
			port = append(port, p)
		}
	}
	return &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4, U32: src},
		{Name: "dstport", Type: abi.TypeU16, U16: port},
	}}
}

func fitState(t *testing.T, params map[string]any, b *abi.Batch) state {
	t.Helper()
	w := sdktest.NewWire(t)
	h := w.Open(Name, "dstport", params, 1)
	var st state
	if err := json.Unmarshal(w.Fit(h, b), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestFitWeightsAndPopular(t *testing.T) {
	// Twenty one-record flows on ports 100..119 and a 40-record flow on
	// 9: rare values hold 60 records in 21 flows, so 5 × 60/21 = 14.3
	// records make 9 heavy.
	longPorts, longRows := []uint16{9}, []int{40}
	var shortValues, shortWeights []int64
	for p := range 20 {
		longPorts, longRows = append(longPorts, uint16(100+p)), append(longRows, 1)
		shortValues, shortWeights = append(shortValues, int64(100+p)), append(shortWeights, 1)
	}
	tests := []struct {
		name    string
		params  map[string]any
		ports   []uint16
		rows    []int
		popular []int64
		values  []int64
		weights []int64
		heavy   []int64
		heavyW  []int64
	}{
		{"weights are records: a long flow counts each", nil,
			[]uint16{9, 7, 7}, []int{50, 1, 2}, nil, []int64{7, 9}, []int64{3, 50}, nil, nil},
		{"five flows make a value popular, not five records", nil,
			[]uint16{80, 80, 80, 80, 80, 4000, 3000}, []int{1, 1, 1, 1, 1, 6, 1}, []int64{80}, []int64{3000, 4000}, []int64{1, 6}, nil, nil},
		{"min_flows from params", map[string]any{"min_flows": int64(2)},
			[]uint16{80, 80, 443, 5}, []int{1, 1, 1, 1}, []int64{80}, []int64{5, 443}, []int64{1, 1}, nil, nil},
		{"categories off", map[string]any{"min_flows": int64(0)},
			[]uint16{80, 80, 80, 80, 80}, []int{1, 1, 1, 1, 1}, nil, []int64{80}, []int64{5}, nil, nil},
		{"at most max_popular, by rows", map[string]any{"min_flows": int64(1), "max_popular": int64(1)},
			[]uint16{80, 443, 443}, []int{1, 1, 1}, []int64{443}, []int64{80}, []int64{1}, nil, nil},
		{"a long flow's value is heavy (the default)", nil,
			longPorts, longRows, nil, shortValues, shortWeights, []int64{9}, []int64{40}},
		{"heavy values in order of their records", map[string]any{"heavy": true},
			append([]uint16{7}, longPorts...), append([]int{60}, longRows...), nil, shortValues, shortWeights, []int64{9, 7}, []int64{40, 60}},
		{"heavy off: it is ranked with the rest", map[string]any{"heavy": false},
			longPorts, longRows, nil, append([]int64{9}, shortValues...), append([]int64{40}, shortWeights...), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := fitState(t, tc.params, portBatch(tc.ports, tc.rows))
			if !slices.Equal(st.Popular, tc.popular) || !slices.Equal(st.Values, tc.values) || !slices.Equal(st.Weights, tc.weights) {
				t.Fatalf("popular %v values %v weights %v, want %v %v %v", st.Popular, st.Values, st.Weights, tc.popular, tc.values, tc.weights)
			}
			if !slices.Equal(st.Heavy, tc.heavy) || !slices.Equal(st.HeavyWeights, tc.heavyW) {
				t.Fatalf("heavy %v weights %v, want %v %v", st.Heavy, st.HeavyWeights, tc.heavy, tc.heavyW)
			}
		})
	}
}

// Every real value round-trips, on real data: UGR'16's ports (thousands of
// distinct values, popular ones among them) and its protocol (u8).
func TestRoundTripRealData(t *testing.T) {
	b := enctest.LoadUGR(t)
	for _, col := range []string{"srcport", "dstport", "proto"} {
		t.Run(col, func(t *testing.T) {
			w := sdktest.NewWire(t)
			h := w.Open(Name, col, nil, 1)
			outs := w.Load(h, w.Fit(h, b))
			m := w.Encode(h, sdktest.Columns(b, col))
			for _, u := range m.Values {
				if !(u > 0 && u < 1) {
					t.Fatalf("rank %v outside (0, 1)", u)
				}
			}
			got := w.Decode(h, sdktest.Sparse(outs, sdktest.Dense(outs, m))).Column(col)
			want := b.Column(col)
			if got.Type != want.Type {
				t.Fatalf("decoded %s, want %s", got.Type, want.Type)
			}
			for i := range want.Len() {
				if got.Int(i) != want.Int(i) {
					t.Fatalf("row %d: %d, want %d", i, got.Int(i), want.Int(i))
				}
			}
		})
	}
}

// On CAIDA's packets, where one long flow holds many a port, the heavy
// table is fitted and every port round-trips through its category.
func TestRoundTripHeavyCAIDA(t *testing.T) {
	batches := enctest.LoadPcap(t, "caida_equinix-nyc_2018-03-15_10kpkts.pcapng")
	for _, col := range []string{"srcport", "dstport"} {
		t.Run(col, func(t *testing.T) {
			w := sdktest.NewWire(t)
			h := w.Open(Name, col, map[string]any{"heavy": true}, 1)
			raw := w.Fit(h, batches...)
			var st state
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Heavy) == 0 {
				t.Fatalf("no heavy %s values on CAIDA", col)
			}
			outs := w.Load(h, raw)
			heavy := map[int64]bool{}
			for _, v := range st.Heavy {
				heavy[v] = true
			}
			for _, b := range batches {
				if b.Len() == 0 {
					continue
				}
				m := w.Encode(h, sdktest.Columns(b, col))
				got := w.Decode(h, sdktest.Sparse(outs, sdktest.Dense(outs, m))).Column(col)
				want := b.Column(col)
				for i := range want.Len() {
					if got.Int(i) != want.Int(i) {
						t.Fatalf("row %d: %d, want %d", i, got.Int(i), want.Int(i))
					}
					if isHeavy := m.Hot[i] == uint32(len(st.Popular)); isHeavy != heavy[want.Int(i)] {
						t.Fatalf("row %d: %d in category %d, heavy %v", i, want.Int(i), m.Hot[i], heavy[want.Int(i)])
					}
				}
			}
		})
	}
}

// Uniform ranks decode to the fitted values in proportion to their
// records, and never to a value the field did not hold.
func TestUniformRanksFollowTheWeights(t *testing.T) {
	ports := []uint16{80, 80, 80, 80, 80, 1000, 1000, 2000, 3000, 3000, 3000, 50000}
	rows := []int{1, 1, 1, 1, 1, 7, 1, 1, 1, 2, 1, 4}
	w := sdktest.NewWire(t)
	h := w.Open(Name, "dstport", nil, 1)
	outs := w.Load(h, w.Fit(h, portBatch(ports, rows)))
	if len(outs) != 2 || outs[0].Width != 2 || outs[1].Width != 1 || outs[1].Discrete {
		t.Fatalf("outputs %+v, want popular (80, other) and one scalar", outs)
	}
	const n = 1700
	m := &abi.Encoded{Rows: n, HotWidth: 1, ValueWidth: 1, Hot: make([]uint32, n), Values: make([]float64, n)}
	for i := range n {
		m.Hot[i] = 1 // "any other"
		m.Values[i] = (float64(i) + 0.5) / n
	}
	got := w.Decode(h, m).Column("dstport")
	count := map[uint16]int{}
	for _, v := range got.U16 {
		count[v]++
	}
	// Records: 1000 8, 2000 1, 3000 4, 50000 4 (of 17).
	want := map[uint16]int{1000: 800, 2000: 100, 3000: 400, 50000: 400}
	for v, c := range count {
		if d := math.Abs(float64(c - want[v])); d > 1 {
			t.Fatalf("decoded %v, want %v", count, want)
		}
	}
	// Out-of-range and NaN ranks clamp to the ends.
	m = &abi.Encoded{Rows: 3, HotWidth: 1, ValueWidth: 1, Hot: []uint32{1, 1, 0}, Values: []float64{-3, 7, math.NaN()}}
	got = w.Decode(h, m).Column("dstport")
	if got.U16[0] != 1000 || got.U16[1] != 50000 || got.U16[2] != 80 {
		t.Fatalf("decoded %v, want [1000 50000 80]", got.U16)
	}
}

// A value not seen at fit encodes as the nearest value without a category.
func TestUnseenValueEncodesAsNearest(t *testing.T) {
	w := sdktest.NewWire(t)
	h := w.Open(Name, "dstport", map[string]any{"min_flows": int64(0)}, 1)
	w.Load(h, w.Fit(h, portBatch([]uint16{100, 200}, []int{1, 1})))
	in := &abi.Batch{Columns: []abi.Column{{Name: "dstport", Type: abi.TypeU16, U16: []uint16{0, 149, 150, 151, 60000}}}}
	m := w.Encode(h, in)
	want := []float64{0.25, 0.25, 0.25, 0.75, 0.75}
	for i, u := range m.Values {
		if u != want[i] {
			t.Fatalf("ranks %v, want %v", m.Values, want)
		}
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		col    abi.Column
		want   string
	}{
		{"privacy", map[string]any{abi.ParamPrivate: true}, abi.Column{Name: "dstport", Type: abi.TypeU16, U16: []uint16{1}}, "differential privacy"},
		{"negative min_flows", map[string]any{"min_flows": int64(-1)}, abi.Column{Name: "dstport", Type: abi.TypeU16, U16: []uint16{1}}, "must not be negative"},
		{"float column", nil, abi.Column{Name: "dstport", Type: abi.TypeF64, F64: []float64{1}}, "want an integer column"},
		{"string column", nil, abi.Column{Name: "dstport", Type: abi.TypeString, Dict: []string{"a"}, Codes: []uint32{0}}, "want an integer column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := sdktest.NewWire(t)
			h, err := w.TryOpen(Name, "dstport", tc.params, 1)
			if err == nil {
				_, err = w.TryFit(h, &abi.Batch{Columns: []abi.Column{tc.col}})
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "dstport") {
				t.Fatalf("error %v, want one naming dstport and saying %q", err, tc.want)
			}
		})
	}
}

func TestBadStates(t *testing.T) {
	tests := []struct{ state, want string }{
		{`{"type":"f64","values":[1],"weights":[1]}`, "integer type"},
		{`{"type":"u8","values":[1,2],"weights":[1]}`, "2 values and 1 weights"},
		{`{"type":"u8","values":[300],"weights":[1]}`, "does not fit"},
		{`{"type":"u16","popular":[70000]}`, "does not fit"},
		{`{"type":"u32","values":[-1],"weights":[1]}`, "does not fit"},
		{`{"type":"u8","values":[2,1],"weights":[1,1]}`, "ascending"},
		{`{"type":"u8","popular":[1],"values":[1],"weights":[1]}`, "also popular"},
		{`{"type":"u8","popular":[1,1]}`, "listed twice"},
		{`{"type":"u8","values":[1],"weights":[0]}`, "weight 0"},
		{`{"type":"u8","heavy":[1,2],"heavy_weights":[1]}`, "2 heavy values and 1 weights"},
		{`{"type":"u8","heavy":[2,1],"heavy_weights":[1,1]}`, "not in order of weight, then value"},
		{`{"type":"u8","heavy":[1,2],"heavy_weights":[2,1]}`, "not in order of weight, then value"},
		{`{"type":"u8","heavy":[1],"heavy_weights":[1],"values":[1],"weights":[1]}`, "also heavy"},
		{`{"type":"u8","popular":[1],"heavy":[1],"heavy_weights":[1]}`, "also popular"},
		{`{"type":"u8","heavy":[300],"heavy_weights":[1]}`, "does not fit"},
		{`{"type":"u8","heavy":[5,5],"heavy_weights":[1,2]}`, "listed twice"},
		{`{"type":"u8"}`, "no values"},
		{`{`, "bad state"},
	}
	for _, tc := range tests {
		e, err := New(sdk.Env{Column: "c", Params: sdk.Params{"min_flows": int64(5), "max_popular": int64(256), abi.ParamPrivate: false}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Load([]byte(tc.state)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("state %s: error %v, want %q", tc.state, err, tc.want)
		}
	}
}

// Only popular values: no "other" category and no scalar; a value not seen
// encodes as the nearest popular one.
func TestOnlyPopular(t *testing.T) {
	w := sdktest.NewWire(t)
	h := w.Open(Name, "dstport", map[string]any{"min_flows": int64(1)}, 1)
	outs := w.Load(h, w.Fit(h, portBatch([]uint16{80, 443, 443}, []int{1, 1, 1})))
	if len(outs) != 1 || outs[0].Width != 2 {
		t.Fatalf("outputs %+v, want one 2-wide softmax", outs)
	}
	in := &abi.Batch{Columns: []abi.Column{{Name: "dstport", Type: abi.TypeU16, U16: []uint16{80, 443, 100, 400}}}}
	m := w.Encode(h, in)
	got := w.Decode(h, m).Column("dstport").U16
	want := []uint16{80, 443, 80, 443}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("decoded %v, want %v", got, want)
		}
	}
}

// The heavy category decodes only into heavy values, by their records,
// and "any other" never into one: a short flow cannot land on the port a
// long flow held, nor a long flow on a rare port (docs/encoders.md, rank).
func TestHeavyTable(t *testing.T) {
	// 80: popular (5 flows). 9 and 11: one flow of 30 and 20 records.
	// 100..119: one record each. Rare records: 70 in 22 flows, so 15.9
	// make a value heavy.
	ports := []uint16{80, 80, 80, 80, 80, 9, 11}
	rows := []int{1, 1, 1, 1, 1, 30, 20}
	for p := range 20 {
		ports, rows = append(ports, uint16(100+p)), append(rows, 1)
	}
	w := sdktest.NewWire(t)
	h := w.Open(Name, "dstport", map[string]any{"heavy": true}, 1)
	outs := w.Load(h, w.Fit(h, portBatch(ports, rows)))
	if len(outs) != 2 || outs[0].Width != 3 || outs[1].Width != 1 {
		t.Fatalf("outputs %+v, want a softmax (80, heavy, other) and one scalar", outs)
	}
	const n = 400
	for _, tc := range []struct {
		cat  uint32
		want map[uint16]int
	}{
		{1, map[uint16]int{9: 240, 11: 160}},
		{2, func() map[uint16]int {
			m := map[uint16]int{}
			for p := range 20 {
				m[uint16(100+p)] = 20
			}
			return m
		}()},
	} {
		m := &abi.Encoded{Rows: n, HotWidth: 1, ValueWidth: 1, Hot: make([]uint32, n), Values: make([]float64, n)}
		for i := range n {
			m.Hot[i] = tc.cat
			m.Values[i] = (float64(i) + 0.5) / n
		}
		count := map[uint16]int{}
		for _, v := range w.Decode(h, m).Column("dstport").U16 {
			count[v]++
		}
		if !maps.Equal(count, tc.want) {
			t.Fatalf("category %d decoded %v, want %v", tc.cat, count, tc.want)
		}
	}
	// Round trip: each value encodes into its own category.
	in := &abi.Batch{Columns: []abi.Column{{Name: "dstport", Type: abi.TypeU16, U16: []uint16{80, 9, 11, 105, 10}}}}
	m := w.Encode(h, in)
	if !slices.Equal(m.Hot, []uint32{0, 1, 1, 2, 2}) {
		t.Fatalf("categories %v, want [0 1 1 2 2] (10, unseen, is nearest to a value that is not heavy)", m.Hot)
	}
	got := w.Decode(h, m).Column("dstport").U16
	if want := []uint16{80, 9, 11, 105, 100}; !slices.Equal(got, want) {
		t.Fatalf("decoded %v, want %v", got, want)
	}
}
