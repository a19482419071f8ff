package continuous

import (
	"math"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
)

func TestRoundTripRealData(t *testing.T) {
	b := loadUGR(t)
	tests := []struct {
		col    string
		params map[string]any
	}{
		{"td", map[string]any{"log1p": true}},
		{"pkt", map[string]any{"log1p": true}},
		{"byt", map[string]any{"log1p": true, "activation": "tanh"}},
		{"td", nil},
		{"srcport", map[string]any{"activation": "tanh"}},
		{"ts", nil},
		{"byt", map[string]any{"log1p": true, "min": 20.0, "max": 1.5e9, "private": true}},
	}
	for _, tc := range tests {
		t.Run(tc.col, func(t *testing.T) {
			w := newWire(t)
			h := w.Open("continuous", tc.col, tc.params, 1)
			st := w.Fit(h, b)
			outs := w.Load(h, st)
			wantAct := abi.ActSigmoid
			if tc.params["activation"] == "tanh" {
				wantAct = abi.ActTanh
			}
			if len(outs) != 1 || outs[0].Width != 1 || outs[0].Discrete || outs[0].Activation != wantAct {
				t.Fatalf("outputs %+v", outs)
			}
			m := w.Encode(h, sub(b, tc.col))
			lo, hi := 0.0, 1.0
			if wantAct == abi.ActTanh {
				lo = -1
			}
			if m.HotWidth != 0 || m.ValueWidth != 1 || len(m.Values) != b.Len() {
				t.Fatalf("encoded %d rows of %d indices and %d values", m.Rows, m.HotWidth, m.ValueWidth)
			}
			for i, x := range m.Values {
				if x < lo || x > hi {
					t.Fatalf("row %d encodes to %v outside [%v,%v]", i, x, lo, hi)
				}
			}
			got := w.Decode(h, m).Column(tc.col)
			want := b.Column(tc.col)
			if got.Type != want.Type {
				t.Fatalf("decoded type %s, want %s", got.Type, want.Type)
			}
			for i := 0; i < want.Len(); i++ {
				g, x := got.Float(i), want.Float(i)
				if d := math.Abs(g - x); d > 1e-9*math.Abs(x) && d > 1e-12 {
					t.Fatalf("row %d: decoded %v, want %v (error %g)", i, g, x, d)
				}
			}
		})
	}
}

func TestScaling(t *testing.T) {
	col := func(v ...float64) *abi.Batch {
		return &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: v}}}
	}
	tests := []struct {
		name   string
		params map[string]any
		fit    []float64
		in     []float64
		want   []float64
	}{
		{"data bounds sigmoid", nil, []float64{0, 10}, []float64{0, 5, 10}, []float64{1e-8 / (10 + 2e-8), 0.5, 1 - 1e-8/(10+2e-8)}},
		{"fixed bounds tanh clamps", map[string]any{"min": 0.0, "max": 100.0, "activation": "tanh"}, []float64{50}, []float64{0, 50, 100, 200}, []float64{-1, 0, 1, 1}},
		{"log1p fixed", map[string]any{"min": 0.0, "max": math.E - 1, "log1p": true}, []float64{1}, []float64{0, math.E - 1}, []float64{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h := w.Open("continuous", "x", tc.params, 1)
			w.Load(h, w.Fit(h, col(tc.fit...)))
			m := w.Encode(h, col(tc.in...))
			for i, x := range m.Values {
				if math.Abs(x-tc.want[i]) > 1e-12 {
					t.Errorf("value %v encodes to %v, want %v", tc.in[i], x, tc.want[i])
				}
			}
		})
	}
}

// Integer columns decode rounded and clamped to their type.
func TestDecodeIntegerTypes(t *testing.T) {
	w := newWire(t)
	h := w.Open("continuous", "ttl", map[string]any{"min": 0.0, "max": 300.0}, 1)
	w.Load(h, w.Fit(h, &abi.Batch{Columns: []abi.Column{{Name: "ttl", Type: abi.TypeU8, U8: []uint8{64}}}}))
	got := w.Decode(h, &abi.Encoded{Rows: 4, ValueWidth: 1, Hot: []uint32{}, Values: []float64{0.2131, 0.9, 1.7, -3}})
	c := got.Column("ttl")
	want := []uint8{64, 255, 255, 0} // 63.93 → 64; 270 and beyond clamp to 255; below 0 clamps to 0
	for i, v := range want {
		if c.U8[i] != v {
			t.Errorf("row %d: %d, want %d", i, c.U8[i], v)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		batch  *abi.Batch
		want   string
	}{
		{"private needs bounds", map[string]any{"private": true, "min": 1.0}, nil, "private = true needs fixed min and max"},
		{"bad activation", map[string]any{"activation": "relu"}, nil, "activation must be"},
		{"min above max", map[string]any{"min": 5.0, "max": 1.0}, nil, "must be below"},
		{"string column", nil, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeString, Dict: []string{"a"}, Codes: []uint32{0}}}}, "want a numeric type"},
		{"log1p of -1", map[string]any{"log1p": true}, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: []float64{3, -1}}}}, "row 1"},
		{"NaN", nil, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: []float64{math.NaN()}}}}, "row 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h, err := w.TryOpen("continuous", "x", tc.params, 1)
			if err == nil && tc.batch != nil {
				_, err = w.TryFit(h, tc.batch)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "x") {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
}
