package time

import (
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/sdk"
)

const benchRows = 1 << 16

// BenchmarkEncode and BenchmarkDecode time the encoder's own loops on
// 64k-row batches (no wire framing), in ns per row: flows of 8 records
// 1 ms apart.
func BenchmarkEncode(b *testing.B) { benchParts(b, false) }
func BenchmarkDecode(b *testing.B) { benchParts(b, true) }

func benchParts(b *testing.B, decode bool) {
	batch := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: make([]int64, benchRows)},
		{Name: abi.FlowColumn, Type: abi.TypeU32, U32: make([]uint32, benchRows)},
	}}
	for i := range benchRows {
		batch.Columns[0].I64[i] = 1458298000000000 + int64(i/8)*5000 + int64(i%8)*1000
		batch.Columns[1].U32[i] = uint32(i / 8)
	}
	for _, part := range []struct{ name, mode, part string }{
		{"start", ModeInterarrival, abi.PartStart},
		{"iat", ModeInterarrival, abi.PartIAT},
		{"raw", ModeRaw, abi.PartIAT},
	} {
		b.Run(part.name, func(b *testing.B) {
			e, err := New(sdk.Env{Column: "ts", Params: sdk.Params{"mode": part.mode, "part": part.part, "private": false}})
			if err != nil {
				b.Fatal(err)
			}
			enctest.Kernels(b, e, batch, decode)
		})
	}
}
