package continuous

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/sdk"
)

const benchRows = 1 << 16

// BenchmarkEncode and BenchmarkDecode time the encoder's own loops on
// 64k-row batches (no wire framing), in ns per row.
func BenchmarkEncode(b *testing.B) { benchCases(b, false) }
func BenchmarkDecode(b *testing.B) { benchCases(b, true) }

func benchCases(b *testing.B, decode bool) {
	cases := []struct {
		name   string
		typ    abi.Type
		params sdk.Params
		small  bool // packet-count-like values, mostly below 100
	}{
		{"u32-log1p", abi.TypeU32, sdk.Params{"log1p": true}, false},
		{"u32-log1p-small", abi.TypeU32, sdk.Params{"log1p": true}, true},
		{"f64-log1p", abi.TypeF64, sdk.Params{"log1p": true}, false},
		{"u16-tanh", abi.TypeU16, sdk.Params{"activation": abi.ActTanh}, false},
		{"time", abi.TypeTime, nil, false},
		{"f64", abi.TypeF64, nil, false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			p := sdk.Params{"log1p": false, "activation": abi.ActSigmoid, "private": false}
			for k, v := range tc.params {
				p[k] = v
			}
			e, err := New(sdk.Env{Column: "x", Params: p})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			xs := make([]float64, benchRows)
			for i := range xs {
				xs[i] = float64(r.IntN(60000))
				if tc.small {
					xs[i] = 1 + math.Floor(r.ExpFloat64()*20)
				}
			}
			enctest.Kernels(b, e, &abi.Batch{Columns: []abi.Column{column(tc.typ, xs)}}, decode)
		})
	}
}
