package encoding

import (
	"context"
	"testing"
)

// BenchmarkNativeCodec1M is BenchmarkWasmCodec1M with the encoders
// compiled natively (sdk.NewDispatcher, same wire protocol): the ratio of
// the two is the sandbox's cost.
func BenchmarkNativeCodec1M(b *testing.B) {
	ctx := context.Background()
	recs, set, _, codec, timed, _, _ := benchSetup(b, newNative())
	b.ResetTimer()
	c0 := cpuTime()
	rows := 0
	for i := 0; i < b.N; i++ {
		for k := range set.Chunks {
			ts, err := codec.Encode(ctx, recs, set, k)
			if err != nil {
				b.Fatal(err)
			}
			got, err := codec.Decode(ctx, ts, k)
			if err != nil {
				b.Fatal(err)
			}
			rows += got.Len()
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(rows)/(cpuTime()-c0).Seconds(), "records/cpu-s")
	timed.report(b, rows)
}
