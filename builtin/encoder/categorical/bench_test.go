package categorical

import (
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/sdk"
)

const benchRows = 1 << 16

// BenchmarkEncode and BenchmarkDecode time the encoder's own loops on
// 64k-row batches (no wire framing), in ns per row.
func BenchmarkEncode(b *testing.B) { benchCols(b, false) }
func BenchmarkDecode(b *testing.B) { benchCols(b, true) }

func benchCols(b *testing.B, decode bool) {
	protos := []uint8{6, 17, 1, 47, 50, 4, 41}
	u8 := abi.Column{Name: "c", Type: abi.TypeU8, U8: make([]uint8, benchRows)}
	str := abi.Column{Name: "c", Type: abi.TypeString, Dict: []string{"background", "blacklist", "anomaly-spam"}, Codes: make([]uint32, benchRows)}
	wide := abi.Column{Name: "c", Type: abi.TypeU32, U32: make([]uint32, benchRows)}
	for i := range benchRows {
		u8.U8[i] = protos[(i*7919)%len(protos)]
		str.Codes[i] = uint32((i * 7919) % 3)
		wide.U32[i] = uint32((i*7919)%5) << 24
	}
	for _, tc := range []struct {
		name string
		col  abi.Column
	}{{"u8", u8}, {"string", str}, {"u32-wide", wide}} {
		b.Run(tc.name, func(b *testing.B) {
			e, err := New(sdk.Env{Column: "c", Params: sdk.Params{"unseen": "error", "private": false}})
			if err != nil {
				b.Fatal(err)
			}
			enctest.Kernels(b, e, &abi.Batch{Columns: []abi.Column{tc.col}}, decode)
		})
	}
}
