package score

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/netshare/netshare/abi"
)

// flowTable makes n NetFlow-like records from a seeded generator: Zipf
// addresses and ports, a few protocols, heavy-tailed sizes.
func flowTable(n int, seed uint64) *abi.Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	ips := rand.NewZipf(r, 1.2, 1, 1<<20)
	ports := rand.NewZipf(r, 1.1, 1, 65535)
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4, U32: make([]uint32, n)}, {Name: "dstip", Type: abi.TypeIPv4, U32: make([]uint32, n)},
		{Name: "srcport", Type: abi.TypeU16, U16: make([]uint16, n)}, {Name: "dstport", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "proto", Type: abi.TypeU8, U8: make([]uint8, n)}, {Name: "ts", Type: abi.TypeTime, I64: make([]int64, n)},
		{Name: "td", Type: abi.TypeF64, F64: make([]float64, n)}, {Name: "pkt", Type: abi.TypeI64, I64: make([]int64, n)},
		{Name: "byt", Type: abi.TypeI64, I64: make([]int64, n)},
		{Name: "type", Type: abi.TypeString, Dict: []string{"background", "blacklist", "anomaly-spam"}, Codes: make([]uint32, n)},
	}}
	c := b.Column
	protos := []uint8{6, 6, 6, 17, 17, 1}
	t := int64(1458298072364000)
	for i := range n {
		c("srcip").U32[i] = uint32(ips.Uint64())
		c("dstip").U32[i] = uint32(ips.Uint64())
		c("srcport").U16[i] = uint16(ports.Uint64())
		c("dstport").U16[i] = uint16(ports.Uint64())
		c("proto").U8[i] = protos[r.IntN(len(protos))]
		t += int64(r.ExpFloat64() * 100)
		c("ts").I64[i] = t
		c("td").F64[i] = r.ExpFloat64() * 10
		p := int64(1 + r.ExpFloat64()*20)
		c("pkt").I64[i] = p
		c("byt").I64[i] = p * int64(40+r.IntN(1460))
		c("type").Codes[i] = uint32(min(2, int(r.ExpFloat64()/3)))
	}
	return b
}

// BenchmarkRunFlows scores a million synthetic-like flow records against
// another million with the default flow metrics (11), through the Wasm
// module: go test -run XXX -bench RunFlows ./host/internal/score
//
// 2026-11-26, 2-core machine under heavy shared load (wall time is
// meaningless there; CPU time is what counts): about 17 s of CPU for the
// whole run before the flow-size and sort rework, peak RSS 1.1 GB. CPU per
// metric, 1M records a side: jsd rank 0.6–0.75 s, jsd ports 0.16 s, emd
// 1.6–3.5 s, flow-size 3.3 s. Most of it is the plugin runtime's
// WithCloseOnContextDone: emd on 1M+1M floats costs 3.05 s of CPU to score
// with it and 0.53 s without (0.42 s more with WithMemoryCapacityFromMax).
func BenchmarkRunFlows(b *testing.B) {
	real, syn := flowTable(1_000_000, 1), flowTable(1_000_000, 2)
	metrics, err := DefaultMetrics(real)
	if err != nil {
		b.Fatal(err)
	}
	h := host(b)
	b.ResetTimer()
	for range b.N {
		if _, err := Run(context.Background(), h, real, syn, metrics, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*real.Len())*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
