package identity

import (
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		col  abi.Column
		want []float64
	}{
		{"u8", abi.Column{Name: "x", Type: abi.TypeU8, U8: []uint8{0, 1, 255}}, []float64{0, 1, 255}},
		{"u16", abi.Column{Name: "x", Type: abi.TypeU16, U16: []uint16{7, 65535}}, []float64{7, 65535}},
		{"ipv4", abi.Column{Name: "x", Type: abi.TypeIPv4, U32: []uint32{1 << 31}}, []float64{1 << 31}},
		{"i64", abi.Column{Name: "x", Type: abi.TypeI64, I64: []int64{-3, 4}}, []float64{-3, 4}},
		{"f64", abi.Column{Name: "x", Type: abi.TypeF64, F64: []float64{0.25, -0.5, 1}}, []float64{0.25, -0.5, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := sdktest.NewWire(t)
			h := w.Open("identity", "x", nil, 1)
			outs := w.Load(h, w.Fit(h, &abi.Batch{Columns: []abi.Column{tc.col}}))
			if len(outs) != 1 || outs[0].Width != 1 || outs[0].Discrete || outs[0].Activation != abi.ActSigmoid {
				t.Fatalf("outputs %+v", outs)
			}
			e := w.Encode(h, &abi.Batch{Columns: []abi.Column{tc.col}})
			for i, x := range tc.want {
				if e.Values[i] != x {
					t.Fatalf("encoded %v, want %v", e.Values, tc.want)
				}
			}
			got := w.Decode(h, e).Column("x")
			if got.Type != abi.TypeF64 {
				t.Fatalf("decoded type %s, want f64", got.Type)
			}
			for i, x := range tc.want {
				if got.F64[i] != x {
					t.Fatalf("decoded %v, want %v", got.F64, tc.want)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	w := sdktest.NewWire(t)
	if _, err := w.TryOpen("identity", "x", map[string]any{"activation": "relu"}, 1); err == nil || !strings.Contains(err.Error(), "activation must be") {
		t.Fatalf("bad activation: %v", err)
	}
	h := w.Open("identity", "x", nil, 1)
	w.Load(h, w.Fit(h, &abi.Batch{}))
	str := &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeString, Dict: []string{"a"}, Codes: []uint32{0}}}}
	if _, err := w.TryEncode(h, str); err == nil || !strings.Contains(err.Error(), `column "x" is a string column`) {
		t.Fatalf("string column: %v", err)
	}
	if _, err := w.TryEncode(h, &abi.Batch{Columns: []abi.Column{{Name: "y", Type: abi.TypeF64, F64: []float64{1}}}}); err == nil || !strings.Contains(err.Error(), `no column "x"`) {
		t.Fatalf("missing column: %v", err)
	}
}

const benchRows = 1 << 16

func BenchmarkEncode(b *testing.B) { bench(b, false) }
func BenchmarkDecode(b *testing.B) { bench(b, true) }

// bench times the encoder's own work on a 64k-row u16 batch, per row.
func bench(b *testing.B, decode bool) {
	e, err := New(sdk.Env{Column: "x", Params: sdk.Params{"activation": abi.ActSigmoid}})
	if err != nil {
		b.Fatal(err)
	}
	in := &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeU16, U16: make([]uint16, benchRows)}}}
	for i := range benchRows {
		in.Columns[0].U16[i] = uint16(i)
	}
	enctest.Kernels(b, e, in, decode)
}
