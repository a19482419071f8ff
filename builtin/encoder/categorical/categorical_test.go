package categorical

import (
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk/sdktest"
)

func TestRoundTripRealData(t *testing.T) {
	b := loadUGR(t)
	tests := []struct {
		col    string
		params map[string]any
		width  int
	}{
		{"type", nil, 2},  // background, blacklist
		{"proto", nil, 7}, // TCP UDP ICMP GRE ESP IPIP IPv6
		{"proto", map[string]any{"unseen": "other", "other": "255"}, 8}, // plus the other slot
		{"type", map[string]any{"choices": []any{"blacklist", "background", "anomaly-spam"}}, 3},
		{"proto", map[string]any{"choices": []any{"1", "4", "6", "17", "41", "47", "50"}}, 7},
	}
	for _, tc := range tests {
		t.Run(tc.col, func(t *testing.T) {
			w := newWire(t)
			h := w.Open("categorical", tc.col, tc.params, 1)
			outs := w.Load(h, w.Fit(h, b))
			if len(outs) != 1 || outs[0].Width != tc.width || !outs[0].Discrete || outs[0].Activation != abi.ActSoftmax {
				t.Fatalf("outputs %+v, want one %d-wide softmax", outs, tc.width)
			}
			m := w.Encode(h, sub(b, tc.col))
			if m.HotWidth != 1 || m.ValueWidth != 0 || m.Rows != b.Len() {
				t.Fatalf("encoded %d rows of %d indices and %d values", m.Rows, m.HotWidth, m.ValueWidth)
			}
			dense := sdktest.Dense(outs, m)
			for i := 0; i < m.Rows; i++ {
				var sum float64
				for _, x := range dense[i*tc.width : (i+1)*tc.width] {
					sum += x
				}
				if sum != 1 {
					t.Fatalf("row %d is not one-hot: %v", i, dense[i*tc.width:(i+1)*tc.width])
				}
			}
			got := w.Decode(h, m).Column(tc.col)
			want := b.Column(tc.col)
			if got.Type != want.Type {
				t.Fatalf("decoded type %s, want %s", got.Type, want.Type)
			}
			for i := 0; i < want.Len(); i++ {
				if want.Type == abi.TypeString {
					if got.String(i) != want.String(i) {
						t.Fatalf("row %d: %q, want %q", i, got.String(i), want.String(i))
					}
				} else if got.U8[i] != want.U8[i] {
					t.Fatalf("row %d: %d, want %d", i, got.U8[i], want.U8[i])
				}
			}
		})
	}
}

func TestChoicesOrderAndArgmax(t *testing.T) {
	w := newWire(t)
	h := w.Open("categorical", "flag", map[string]any{"int_choices": []any{int64(2), int64(0), int64(1)}}, 1)
	outs := w.Load(h, w.Fit(h, &abi.Batch{Columns: []abi.Column{{Name: "flag", Type: abi.TypeU8, U8: []uint8{0, 1, 2, 2}}}}))
	m := w.Encode(h, &abi.Batch{Columns: []abi.Column{{Name: "flag", Type: abi.TypeU8, U8: []uint8{2, 0, 1}}}})
	want := []uint32{0, 1, 2}
	for i := range want {
		if m.Hot[i] != want[i] {
			t.Fatalf("encoded %v, want %v (choices keep their listed order)", m.Hot, want)
		}
	}
	got := w.Decode(h, sdktest.Sparse(outs, []float64{0.1, 0.7, 0.2, 0.4, 0.4, 0.2, 0.1, 0.2, 0.3}))
	c := got.Column("flag")
	if c.Type != abi.TypeU8 || c.U8[0] != 0 || c.U8[1] != 2 || c.U8[2] != 1 {
		t.Fatalf("decoded %+v, want u8 [0 2 1] (argmax, first on ties)", c)
	}
}

func TestUnseen(t *testing.T) {
	fit := &abi.Batch{Columns: []abi.Column{{Name: "svc", Type: abi.TypeString, Dict: []string{"dns", "http"}, Codes: []uint32{0, 1, 1}}}}
	enc := &abi.Batch{Columns: []abi.Column{{Name: "svc", Type: abi.TypeString, Dict: []string{"http", "ssh"}, Codes: []uint32{0, 1}}}}

	w := newWire(t)
	h := w.Open("categorical", "svc", nil, 1)
	w.Load(h, w.Fit(h, fit))
	if _, err := w.TryEncode(h, enc); err == nil || !strings.Contains(err.Error(), `row 1: value "ssh"`) {
		t.Fatalf("unseen = error: got %v", err)
	}

	h = w.Open("categorical", "svc", map[string]any{"unseen": "other", "other": "-"}, 1)
	w.Load(h, w.Fit(h, fit))
	m := w.Encode(h, enc)
	if m.HotWidth != 1 || m.Hot[0] != 1 || m.Hot[1] != 2 {
		t.Fatalf("unseen = other: encoded %v", m.Hot)
	}
	got := w.Decode(h, m).Column("svc")
	if got.String(0) != "http" || got.String(1) != "-" {
		t.Fatalf("decoded %q %q, want http and -", got.String(0), got.String(1))
	}
}

func TestErrors(t *testing.T) {
	u8 := &abi.Batch{Columns: []abi.Column{{Name: "c", Type: abi.TypeU8, U8: []uint8{1, 9}}}}
	tests := []struct {
		name   string
		params map[string]any
		batch  *abi.Batch
		want   string
	}{
		{"private needs choices", map[string]any{"private": true}, nil, "private = true needs the categories"},
		{"bad unseen", map[string]any{"unseen": "drop"}, nil, "unseen must be"},
		{"duplicate choice", map[string]any{"choices": []any{"a", "a"}}, nil, "listed twice"},
		{"both choice lists", map[string]any{"choices": []any{"a"}, "int_choices": []any{int64(1)}}, nil, "not both"},
		{"value outside choices", map[string]any{"int_choices": []any{int64(1)}}, u8, "value 9 (row 1"},
		{"non-integer choice for int column", map[string]any{"choices": []any{"one"}}, u8, `choice "one" is not an integer`},
		{"int other needs a value", map[string]any{"unseen": "other"}, u8, "needs other set"},
		{"float column", nil, &abi.Batch{Columns: []abi.Column{{Name: "c", Type: abi.TypeF64, F64: []float64{1}}}}, "want string or integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h, err := w.TryOpen("categorical", "c", tc.params, 1)
			if err == nil && tc.batch != nil {
				_, err = w.TryFit(h, tc.batch)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
