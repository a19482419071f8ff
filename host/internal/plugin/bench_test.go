package plugin

import (
	"context"
	"fmt"
	"testing"

	"github.com/netshare/netshare/abi"
)

// BenchmarkRoundTrip1M sends one million float64 values through the Wasm
// boundary and back (identity encoder: encode-values then decode-values)
// in batches of various sizes, and reports values per second.
func BenchmarkRoundTrip1M(b *testing.B) {
	const total = 1 << 20
	h := newTestHost(b, Options{})
	ctx := context.Background()
	in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: "identity", Column: "x"})
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1 << 10, 1 << 13, 1 << 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			col := abi.Column{Name: "x", Type: abi.TypeF64, F64: make([]float64, batch)}
			for i := range col.F64 {
				col.F64[i] = float64(i) / float64(batch)
			}
			req := abi.AppendBatch(nil, &abi.Batch{Columns: []abi.Column{col}})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for sent := 0; sent < total; sent += batch {
					_, m, err := in.Call(ctx, abi.OpEncVal, nil, req)
					if err != nil {
						b.Fatal(err)
					}
					_, out, err := in.Call(ctx, abi.OpDecVal, nil, m)
					if err != nil {
						b.Fatal(err)
					}
					if len(out) < 8*batch {
						b.Fatalf("short reply: %d bytes", len(out))
					}
				}
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
}
