package ipbits

import (
	"testing"

	"github.com/netshare/netshare/abi"
)

// BenchmarkCodec calls Encode and Decode directly on 64k addresses (no
// wire framing), reporting ns/row; built for wasip1 and run under wazero
// it gives the sandbox's cost of the kernels.
func BenchmarkCodec(b *testing.B) {
	const n = 1 << 16
	col := abi.Column{Name: "srcip", Type: abi.TypeIPv4, U32: make([]uint32, n)}
	for i := range col.U32 {
		col.U32[i] = uint32(i) * 2654435761
	}
	batch := &abi.Batch{Columns: []abi.Column{col}}
	fe, err := New(envFor("srcip"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := fe.Load([]byte(`{"type":"ipv4"}`)); err != nil {
		b.Fatal(err)
	}
	e := &abi.Encoded{Rows: n, HotWidth: Bits, Hot: make([]uint32, n*Bits), Values: []float64{}}
	b.Run("encode", func(b *testing.B) {
		for range b.N {
			if err := fe.Encode(batch, e); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
	})
	b.Run("decode", func(b *testing.B) {
		for range b.N {
			out, err := fe.Decode(e)
			if err != nil {
				b.Fatal(err)
			}
			if out.Len() != n {
				b.Fatalf("%d rows", out.Len())
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
	})
}
