package encoding

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/tensor"
)

// wasmRuntime starts a plugin host on the embedded builtin module, with
// the compilation cache the other host packages' tests share, so that only
// the first test run pays for compiling the module.
func wasmRuntime(t testing.TB) (Runtime, func()) {
	t.Helper()
	ctx := context.Background()
	// A generous call limit: CI machines are shared, and a benchmark
	// reports its speed rather than failing on it.
	h, err := plugin.NewHost(ctx, plugin.Options{
		CacheDir: filepath.Join(os.TempDir(), "netshare-test-wazero-cache"),
		Limits:   plugin.Limits{CallTimeout: 10 * time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Find(abi.KindEncoder, "word2vec"); err != nil {
		h.Close(ctx)
		t.Fatalf("the embedded builtin module lacks the encoders (run go generate ./builtin): %v", err)
	}
	return FromPlugin(h), func() { h.Close(ctx) }
}

// TestWasmRoundTrip runs the real path: encoders compiled to Wasm in the
// embedded builtin module.
func TestWasmRoundTrip(t *testing.T) {
	b := loadUGR(t)
	rt, done := wasmRuntime(t)
	defer done()
	roundTrip(t, rt, Config{Fields: netflowFields(), Seed: 1}, b, split(t, b, 3))
}

// bigTrace repeats the real UGR'16 sample until it has n records: each
// copy is shifted in time after the previous one, gets its own source
// addresses, and moves its ephemeral ports (≥ 1024) so that the port
// vocabulary grows to tens of thousands as in a real trace.
func bigTrace(t testing.TB, n int) *abi.Batch { return repeatTrace(t, n, true) }

// repeatTrace is bigTrace, moving the ports or keeping the sample's (a
// vocabulary that does not grow with the records).
func repeatTrace(t testing.TB, n int, movePorts bool) *abi.Batch {
	src := loadUGR(t)
	m := src.Len()
	ts := src.Column("ts").I64
	lo, hi := ts[0], ts[0]
	for _, x := range ts {
		lo, hi = min(lo, x), max(hi, x)
	}
	period := hi - lo + 1
	out := &abi.Batch{Columns: make([]abi.Column, len(src.Columns))}
	for i, c := range src.Columns {
		out.Columns[i] = abi.Column{Name: c.Name, Type: c.Type, Dict: c.Dict}
	}
	shift := func(p uint16, rep int) uint16 {
		if p < 1024 || !movePorts {
			return p
		}
		return uint16(1024 + (int(p)-1024+rep*97)%64512)
	}
	for rep := 0; rep*m < n; rep++ {
		for r := 0; r < m && rep*m+r < n; r++ {
			for i := range src.Columns {
				c, o := &src.Columns[i], &out.Columns[i]
				switch c.Name {
				case "srcip":
					o.U32 = append(o.U32, c.U32[r]+uint32(rep)*2654435761)
				case "srcport", "dstport":
					o.U16 = append(o.U16, shift(c.U16[r], rep))
				case "ts":
					o.I64 = append(o.I64, c.I64[r]+int64(rep)*period)
				default:
					switch c.Type {
					case abi.TypeU32, abi.TypeIPv4:
						o.U32 = append(o.U32, c.U32[r])
					case abi.TypeU8:
						o.U8 = append(o.U8, c.U8[r])
					case abi.TypeI64:
						o.I64 = append(o.I64, c.I64[r])
					case abi.TypeF64:
						o.F64 = append(o.F64, c.F64[r])
					case abi.TypeString:
						o.Codes = append(o.Codes, c.Codes[r])
					}
				}
			}
		}
	}
	return out
}

// BenchmarkWasmCodec1M encodes 1M NetFlow records into tensors and decodes
// them back, in NetShare's 10 chunks, through the Wasm encoders (one call
// per field per chunk each way). Fitting is outside the timer and reported
// once as fit-s; records/cpu-s divides by the process's CPU time, which
// stays meaningful on a shared machine.
func BenchmarkWasmCodec1M(b *testing.B) {
	ctx := context.Background()
	rt, done := wasmRuntime(b)
	defer done()
	recs, set, st, codec, timed, fit, fitCPU := benchSetup(b, rt)
	b.ResetTimer()
	c1 := cpuTime()
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
	cpu := cpuTime() - c1
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(rows)/cpu.Seconds(), "records/cpu-s")
	b.ReportMetric(fit.Seconds(), "fit-s")
	b.ReportMetric(fitCPU.Seconds(), "fit-cpu-s")
	b.ReportMetric(float64(st.MaxLen), "L")
	// With -v: each field's calls, the module's work and the host's
	// gather and scatter around it.
	timed.report(b, rows)
}

// BenchmarkWasmWord2VecFit1M fits the shared word2vec model on 1M records
// inside the Wasm module (single-threaded, as in a pipeline run).
func BenchmarkWasmWord2VecFit1M(b *testing.B) {
	ctx := context.Background()
	recs := bigTrace(b, 1_000_000)
	rt, done := wasmRuntime(b)
	defer done()
	_, comp, err := rt.Component("word2vec")
	if err != nil {
		b.Fatal(err)
	}
	r := resolved{field: abi.Field{Name: "srcport", Role: abi.RoleAttribute, Encoder: "word2vec"}, comp: comp, params: map[string]any{}, seed: 1}
	b.ResetTimer()
	c0 := cpuTime()
	var vocab int
	for i := 0; i < b.N; i++ {
		states, err := fitAll(ctx, rt, []resolved{r}, recs, 1<<16)
		if err != nil {
			b.Fatal(err)
		}
		vocab = len(states[0])
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/fit")
	b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N), "cpu-s/fit")
	b.ReportMetric(float64(vocab), "state-bytes")
}

// BenchmarkWasmDecodeGenerated decodes what generation decodes: tensors
// that are not exact encodings. It takes chunk 0's encoded tensor (the
// first 20k flows: the search is slow) and adds Gaussian noise of σ to
// every value, as a generator close to the data (σ 0.01) or a rough one
// (σ 0.1) would leave it; "uniform" draws every value from [-1, 1], an
// untrained generator. Word2vec's exact nearest-neighbour search, which
// round trips skip through its memo, dominates here.
func BenchmarkWasmDecodeGenerated(b *testing.B) {
	ctx := context.Background()
	rt, done := wasmRuntime(b)
	defer done()
	recs, set, st, codec, timed, _, _ := benchSetup(b, rt)
	// The same on two lanes (a second host), as generation decodes on a
	// machine with cores to spare: wall time halves, CPU time stays.
	rt2, done2 := wasmRuntime(b)
	defer done2()
	lanes, err := OpenLanes(ctx, []Runtime{rt, rt2}, st)
	if err != nil {
		b.Fatal(err)
	}
	defer lanes.Close(ctx)
	enc, err := codec.Encode(ctx, recs, set, 0)
	if err != nil {
		b.Fatal(err)
	}
	const flows = 20_000
	aw, fw := codec.attrW, codec.featW
	base := &tensor.Set{N: flows, L: enc.L, AttrOutputs: enc.AttrOutputs, FeatOutputs: enc.FeatOutputs,
		Attributes: enc.Attributes[:flows*aw], Features: enc.Features[:flows*enc.L*fw], GenFlags: enc.GenFlags[:flows*enc.L]}
	for _, noise := range []struct {
		name  string
		sigma float64
	}{{"sigma0.01", 0.01}, {"sigma0.1", 0.1}, {"uniform", -1}} {
		r := rand.New(rand.NewPCG(1, 2))
		gen := *base
		gen.Attributes = append([]float32(nil), base.Attributes...)
		gen.Features = append([]float32(nil), base.Features...)
		for _, s := range [][]float32{gen.Attributes, gen.Features} {
			for i := range s {
				if noise.sigma < 0 {
					s[i] = float32(2*r.Float64() - 1)
				} else {
					s[i] += float32(noise.sigma * r.NormFloat64())
				}
			}
		}
		for _, c := range []struct {
			name  string
			codec *Codec
		}{{"", codec}, {"/2lanes", lanes}} {
			if c.codec == lanes && noise.sigma == 0.01 {
				continue // too quick to matter
			}
			b.Run(noise.name+c.name, func(b *testing.B) {
				c0, rows := cpuTime(), 0
				for range b.N {
					got, err := c.codec.Decode(ctx, &gen, 0)
					if err != nil {
						b.Fatal(err)
					}
					rows += got.Len()
				}
				b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(rows)/(cpuTime()-c0).Seconds(), "records/cpu-s")
			})
		}
	}
	timed.report(b, 0)
}

// TestFitMemoryBounded fits every NetFlow encoder inside the Wasm module on
// a trace that grows 4× while its vocabulary does not: the module's memory
// must stay put, since fitting keeps state bounded by the columns'
// cardinalities and the host feeds fixed-size batches (a per-row buffer
// inside any encoder fails it: the corpus word2vec used to keep took ~130
// bytes a record here).
func TestFitMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("fits 300k records in Wasm")
	}
	const batch = 8192
	fields := netflowFields()
	for i := range fields {
		if fields[i].Encoder == "word2vec" {
			// A small training sample keeps the test fast; the default's
			// bound is the same mechanism at 2^20 sentences.
			fields[i].Params = map[string]any{"max_sentences": int64(4 * batch)}
		}
	}
	memory := func(n int) uint64 {
		b := repeatTrace(t, n, false)
		rt, done := wasmRuntime(t)
		defer done()
		if _, err := Fit(context.Background(), rt, Config{Fields: fields, Seed: 1, FitBatch: batch}, b, split(t, b, 3)); err != nil {
			t.Fatal(err)
		}
		for _, m := range rt.(pluginRuntime).h.Modules() {
			if m.Name() == builtin.Name {
				return m.MemoryBytes()
			}
		}
		t.Fatal("no builtin module")
		return 0
	}
	// Both sizes past the Go runtime's first heap steps inside the module,
	// which end about 6 MiB above the 4-batch figure and then stay (4, 8,
	// 16, 32, 64 batches: 11.0, 15.8, 17.0, 17.2, 17.2 MiB): measured from
	// 4 batches, one more step was enough to fail.
	small, large := 16*batch, 64*batch
	ms, ml := memory(small), memory(large)
	t.Logf("module memory after fitting %d records: %.1f MiB; %d records: %.1f MiB", small, float64(ms)/(1<<20), large, float64(ml)/(1<<20))
	// Slack for the Go runtime's heap growth steps inside the module.
	if slack := uint64(4 << 20); ml > ms+slack {
		t.Errorf("fitting %d records took %.1f MiB of module memory, %d records %.1f MiB: %.0f bytes per added record, want none beyond %d MiB of slack",
			large, float64(ml)/(1<<20), small, float64(ms)/(1<<20), float64(ml-ms)/float64(large-small), slack>>20)
	}
}
