package time

import (
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
)

// flowsOf groups the records by 5-tuple, each flow in time order, and
// returns the ts and _flow columns in that order plus each flow's first
// row.
func flowsOf(b *abi.Batch) (*abi.Batch, []int) {
	type key struct {
		s, d   uint32
		sp, dp uint16
		p      uint8
	}
	ids := map[key]int{}
	var rows [][]int
	for i := 0; i < b.Len(); i++ {
		k := key{b.Column("srcip").U32[i], b.Column("dstip").U32[i], b.Column("srcport").U16[i], b.Column("dstport").U16[i], b.Column("proto").U8[i]}
		id, ok := ids[k]
		if !ok {
			id = len(rows)
			ids[k] = id
			rows = append(rows, nil)
		}
		rows[id] = append(rows[id], i)
	}
	ts := b.Column("ts").I64
	out := &abi.Batch{Columns: []abi.Column{{Name: "ts", Type: abi.TypeTime}, {Name: abi.FlowColumn, Type: abi.TypeU32}}}
	var firsts []int
	for f, rs := range rows {
		sort.SliceStable(rs, func(a, c int) bool { return ts[rs[a]] < ts[rs[c]] })
		firsts = append(firsts, len(out.Columns[0].I64))
		for _, r := range rs {
			out.Columns[0].I64 = append(out.Columns[0].I64, ts[r])
			out.Columns[1].U32 = append(out.Columns[1].U32, uint32(f))
		}
	}
	return out, firsts
}

func pick(b *abi.Batch, rows []int) *abi.Batch {
	out := &abi.Batch{Columns: []abi.Column{{Name: "ts", Type: abi.TypeTime}}}
	for _, r := range rows {
		out.Columns[0].I64 = append(out.Columns[0].I64, b.Columns[0].I64[r])
	}
	return out
}

// TestRoundTripRealData rebuilds every timestamp as start + running sum of
// decoded interarrivals, exactly.
func TestRoundTripRealData(t *testing.T) {
	grouped, firsts := flowsOf(loadUGR(t))
	for _, params := range []map[string]any{
		nil,
		{"iat_max": 300.0, "span_start": int64(1458298000000000), "span_end": int64(1458299000000000), "private": true},
	} {
		w := newWire(t)
		start := w.Open("time", "ts", merge(params, "part", "start"), 1)
		iat := w.Open("time", "ts", merge(params, "part", "iat"), 1)
		st := w.Fit(start, grouped)
		// The start is one of 16 bins and a place in it, with DP or without.
		if o := w.Load(start, st); len(o) != 2 || o[0].Name != "ts.start_bin" || !o[0].Discrete || o[0].Width != 16 ||
			o[1].Name != "ts.start" || o[1].Activation != abi.ActSigmoid || o[1].Width != 1 {
			t.Fatalf("start outputs %+v", o)
		}
		if o := w.Load(iat, st); len(o) != 1 || o[0].Name != "ts.iat" {
			t.Fatalf("iat outputs %+v", o)
		}
		ms := w.Encode(start, pick(grouped, firsts))
		mi := w.Encode(iat, grouped)
		for i, x := range append(append([]float64(nil), ms.Values...), mi.Values...) {
			if x < 0 || x > 1 {
				t.Fatalf("value %d encodes to %v outside [0,1]", i, x)
			}
		}
		starts := w.Decode(start, ms).Column("ts").I64
		iats := w.Decode(iat, mi).Column("ts").I64
		flow := grouped.Column(abi.FlowColumn).U32
		want := grouped.Column("ts").I64
		f := -1
		var cur int64
		for i := range want {
			if i == 0 || flow[i] != flow[i-1] {
				f++
				cur = starts[f] // the first interarrival counts as 0
			} else {
				cur += iats[i]
			}
			if cur != want[i] {
				t.Fatalf("params %v row %d (flow %d): rebuilt %d, want %d", params, i, flow[i], cur, want[i])
			}
		}
	}
}

func merge(p map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for a, b := range p {
		out[a] = b
	}
	return out
}

func TestBounds(t *testing.T) {
	// Two flows: 0 at t=100,110,130; 1 at t=200. Interarrivals 0,10,20,0.
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: []int64{100, 110, 130, 200}},
		{Name: abi.FlowColumn, Type: abi.TypeU32, U32: []uint32{0, 0, 0, 1}},
	}}
	tests := []struct {
		name   string
		params map[string]any
		in     *abi.Batch
		want   []float64
	}{
		// 100 is the start of the first bin, 200 the end of the last.
		{"start", map[string]any{"part": "start"}, pick(b, []int{0, 3}), []float64{0, 1}},
		{"start, no bins", map[string]any{"part": "start", "start_bins": int64(0)}, pick(b, []int{0, 3}), []float64{0, 1}},
		{"iat", nil, b, []float64{0, 0.5, 1, 0}},
		{"iat fixed", map[string]any{"iat_max": 40e-6}, b, []float64{0, 0.25, 0.5, 0}},
		{"raw", map[string]any{"mode": "raw"}, b, []float64{0, 0.1, 0.3, 1}},
		{"raw span", map[string]any{"mode": "raw", "span_start": int64(0), "span_end": int64(400)}, b, []float64{0.25, 0.275, 0.325, 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h := w.Open("time", "ts", tc.params, 1)
			w.Load(h, w.Fit(h, b))
			m := w.Encode(h, tc.in)
			for i, x := range tc.want {
				if d := m.Values[i] - x; d > 1e-12 || d < -1e-12 {
					t.Fatalf("encoded %v, want %v", m.Values, tc.want)
				}
			}
			if tc.params["mode"] == "raw" {
				got := w.Decode(h, m).Column("ts").I64
				for i, v := range b.Columns[0].I64 {
					if got[i] != v {
						t.Fatalf("raw decode %v, want %v", got, b.Columns[0].I64)
					}
				}
			}
		})
	}
	// Raw mode has no start attribute.
	w := newWire(t)
	h := w.Open("time", "ts", map[string]any{"mode": "raw", "part": "start"}, 1)
	if o := w.Load(h, w.Fit(h, b)); len(o) != 0 {
		t.Fatalf("raw start outputs %+v, want none", o)
	}
}

// TestStartBins: a start's bin and place in it decode back to the start,
// the bins are equal parts of the span, and a bin past the last is an
// error naming the row (the SDK's check, before the encoder's own).
func TestStartBins(t *testing.T) {
	// Five flows starting at 0, 10, 35, 70, 100, in 4 bins of 25.
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: []int64{0, 10, 35, 70, 100}},
		{Name: abi.FlowColumn, Type: abi.TypeU32, U32: []uint32{0, 1, 2, 3, 4}},
	}}
	w := newWire(t)
	h := w.Open("time", "ts", map[string]any{"part": "start", "start_bins": int64(4)}, 1)
	if o := w.Load(h, w.Fit(h, b)); len(o) != 2 || o[0].Width != 4 {
		t.Fatalf("outputs %+v, want 4 bins", o)
	}
	m := w.Encode(h, pick(b, []int{0, 1, 2, 3, 4}))
	wantHot, wantVal := []uint32{0, 0, 1, 2, 3}, []float64{0, 0.4, 0.4, 0.8, 1}
	for i := range wantHot {
		if m.Hot[i] != wantHot[i] || math.Abs(m.Values[i]-wantVal[i]) > 1e-12 {
			t.Fatalf("encoded bins %v values %v, want %v %v", m.Hot, m.Values, wantHot, wantVal)
		}
	}
	got := w.Decode(h, m).Column("ts").I64
	if !slices.Equal(got, b.Columns[0].I64) {
		t.Fatalf("decoded %v, want %v", got, b.Columns[0].I64)
	}
	m.Hot[2] = 4
	if _, err := w.TryDecode(h, m); err == nil || !strings.Contains(err.Error(), `row 2 output "ts.start_bin": index 4 outside its width 4`) {
		t.Fatalf("bin past the last: %v", err)
	}
}

func TestErrors(t *testing.T) {
	unordered := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: []int64{100, 90}},
		{Name: abi.FlowColumn, Type: abi.TypeU32, U32: []uint32{3, 3}},
	}}
	noFlow := &abi.Batch{Columns: []abi.Column{{Name: "ts", Type: abi.TypeTime, I64: []int64{1}}}}
	tests := []struct {
		name   string
		params map[string]any
		batch  *abi.Batch
		want   string
	}{
		{"private needs span", map[string]any{"private": true, "iat_max": 1.0}, nil, "needs span_start and span_end"},
		{"private needs iat_max", map[string]any{"private": true, "span_start": int64(0), "span_end": int64(5)}, nil, "needs a fixed iat_max"},
		{"half a span", map[string]any{"span_start": int64(0)}, nil, "give both"},
		{"bad mode", map[string]any{"mode": "delta"}, nil, "mode must be"},
		{"bad part", map[string]any{"part": "both"}, nil, "part must be"},
		{"one start bin", map[string]any{"start_bins": int64(1)}, nil, "start_bins = 1, want 0 (none) or 2..64"},
		{"out of order", nil, unordered, "row 1 (flow 3) is 10 µs before"},
		{"no _flow", nil, noFlow, `no "_flow" column`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h, err := w.TryOpen("time", "ts", tc.params, 1)
			if err == nil && tc.batch != nil {
				_, err = w.TryFit(h, tc.batch)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
