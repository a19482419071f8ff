package word2vec

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk/sdktest"
)

// benchRecords repeats the UGR'16 sample's sentence columns until there
// are n records, moving the ephemeral ports (≥ 1024) of each copy so that
// the port vocabulary grows towards the 64k of a real trace.
func benchRecords(b *testing.B, n int) *abi.Batch {
	src := loadUGR(b)
	out := &abi.Batch{Columns: []abi.Column{
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16}, {Name: "proto", Type: abi.TypeU8},
	}}
	sp, dp, pr := src.Column("srcport").U16, src.Column("dstport").U16, src.Column("proto").U8
	shift := func(p uint16, rep int) uint16 {
		if p < 1024 {
			return p
		}
		return uint16(1024 + (int(p)-1024+rep*97)%64512)
	}
	for rep := 0; len(out.Columns[0].U16) < n; rep++ {
		for r := 0; r < len(sp) && len(out.Columns[0].U16) < n; r++ {
			out.Columns[0].U16 = append(out.Columns[0].U16, shift(sp[r], rep))
			out.Columns[1].U16 = append(out.Columns[1].U16, shift(dp[r], rep))
			out.Columns[2].U8 = append(out.Columns[2].U8, pr[r])
		}
	}
	return out
}

// BenchmarkCodec encodes and decodes 64k rows per call against a
// vocabulary of ~64k ports (fitted, one epoch, on 1M shifted UGR'16
// records) and against the few protocols, reporting ns/row. Decode inputs:
// "vocab" is every token's vector rounded to float32 (the round trip),
// "near" a token's vector plus noise (σ = 0.05 per dimension, a trained
// generator), "generated" tanh of standard Gaussian noise (an untrained
// one; queries far from every token, the search's hard case).
func BenchmarkCodec(b *testing.B) {
	data, st := benchState(b)
	const rows = 1 << 16
	r := rand.New(rand.NewPCG(1, 2))
	for _, col := range []string{"srcport", "proto"} {
		env := envFor(col)
		fe, err := New(env)
		if err != nil {
			b.Fatal(err)
		}
		outs, err := fe.Load(st)
		if err != nil {
			b.Fatal(err)
		}
		enc := fe.(*Encoder)
		d := outs[0].Width
		vocab := len(enc.values)
		// Load: parsing the state, the encode table, the tree and its
		// early-stop certificates.
		b.Run(col+"/load", func(b *testing.B) {
			for range b.N {
				fe, err := New(env)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := fe.Load(st); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(vocab), "vocab")
		})
		// Encode: the records' own values.
		in := sub(data, col)
		in.Columns[0] = sliceColumn(in.Columns[0], rows)
		m := &abi.Encoded{Rows: rows, ValueWidth: d, Values: make([]float64, rows*d)}
		b.Run(col+"/encode", func(b *testing.B) {
			for range b.N {
				if err := fe.Encode(in, m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
		for _, kind := range []string{"vocab", "near", "generated"} {
			q := &abi.Encoded{Rows: rows, ValueWidth: d, Values: make([]float64, rows*d)}
			for i := 0; i < rows; i++ {
				k := i % vocab
				if kind != "vocab" {
					k = r.IntN(vocab)
				}
				for j := 0; j < d; j++ {
					x := enc.vecs[k*d+j]
					switch kind {
					case "near":
						x += 0.05 * r.NormFloat64()
					case "generated":
						x = math.Tanh(r.NormFloat64())
					}
					q.Values[i*d+j] = float64(float32(x))
				}
			}
			b.Run(col+"/decode/"+kind, func(b *testing.B) {
				for range b.N {
					if _, err := fe.Decode(q); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
			})
		}
	}
}

// benchState is 1M benchRecords and the state fitted on them (one epoch),
// made once for all benchmarks of a run.
func benchState(b *testing.B) (*abi.Batch, []byte) {
	if benchFit.state == nil {
		data := benchRecords(b, 1_000_000)
		env := envFor("srcport")
		env.Params["epochs"] = int64(1)
		e, err := New(env)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Fit(data); err != nil {
			b.Fatal(err)
		}
		st, err := e.FitEnd()
		if err != nil {
			b.Fatal(err)
		}
		benchFit.data, benchFit.state = data, st
	}
	return benchFit.data, benchFit.state
}

var benchFit struct {
	data  *abi.Batch
	state []byte
}

// BenchmarkApprox decodes the same queries as BenchmarkCodec ("near": a
// token's vector plus noise of σ per dimension; "generated": tanh of
// Gaussian noise) with the approx bound ε, and reports ns/row with the
// share of rows decoded as exact search decodes them ("agree") and the
// largest ratio of the answer's distance to the nearest's seen ("ratio",
// at most 1+ε by construction).
func BenchmarkApprox(b *testing.B) {
	_, st := benchState(b)
	const rows = 1 << 14
	for _, col := range []string{"srcport", "dstport"} {
		exact := loadBench(b, col, st, decodeVariant{})
		d, vocab := exact.dim, len(exact.tree.key)
		r := rand.New(rand.NewPCG(1, 2))
		for _, kind := range []struct {
			name  string
			sigma float64
		}{{"near0.02", 0.02}, {"near0.05", 0.05}, {"generated", -1}} {
			q := &abi.Encoded{Rows: rows, ValueWidth: d, Values: make([]float64, rows*d)}
			for i := 0; i < rows; i++ {
				k := exact.tree.orig[r.IntN(vocab)]
				for j := 0; j < d; j++ {
					x := math.Tanh(r.NormFloat64())
					if kind.sigma >= 0 {
						x = exact.tree.pts[int(k)*d+j] + kind.sigma*r.NormFloat64()
					}
					q.Values[i*d+j] = float64(float32(x))
				}
			}
			want := decodeAll(b, exact, q)
			for _, v := range decodeVariants {
				e := loadBench(b, col, st, v)
				b.Run(col+"/"+kind.name+"/"+v.name, func(b *testing.B) {
					var got []int64
					c0 := sdktest.CPUTime()
					for range b.N {
						got = decodeAll(b, e, q)
					}
					reportRows(b, b.N*rows, sdktest.CPUTime()-c0)
					agree, ratio := 0, 1.0
					for i := range got {
						if got[i] == want[i] {
							agree++
							continue
						}
						row := q.Values[i*d : i*d+d]
						ratio = max(ratio, math.Sqrt(valueDist2(exact, row, got[i])/valueDist2(exact, row, want[i])))
					}
					b.ReportMetric(100*float64(agree)/rows, "%agree")
					b.ReportMetric(ratio, "ratio")
				})
			}
		}
	}
}

// decodeVariant is a decode setting the benchmarks compare with exact
// search.
type decodeVariant struct {
	name      string
	approx    float64
	maxChecks int
}

var decodeVariants = []decodeVariant{
	{"exact", 0, 0}, {"approx0.1", 0.1, 0}, {"approx0.25", 0.25, 0}, {"approx0.5", 0.5, 0}, {"approx1", 1, 0},
	{"checks32", 0, 32}, {"checks64", 0, 64}, {"checks128", 0, 128}, {"checks256", 0, 256},
}

func loadBench(b *testing.B, col string, st []byte, v decodeVariant) *Encoder {
	env := envFor(col)
	env.Params["approx"] = v.approx
	env.Params["max_checks"] = int64(v.maxChecks)
	fe, err := New(env)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := fe.Load(st); err != nil {
		b.Fatal(err)
	}
	return fe.(*Encoder)
}

// decodeAll is e's decode of q as values.
func decodeAll(b *testing.B, e *Encoder, q *abi.Encoded) []int64 {
	out, err := e.Decode(q)
	if err != nil {
		b.Fatal(err)
	}
	c := &out.Columns[0]
	v := make([]int64, c.Len())
	for i := range v {
		v[i] = int64(c.Float(i))
	}
	return v
}

// valueDist2 is the squared distance from the normalised row to value v's
// decode vector.
func valueDist2(e *Encoder, row []float64, v int64) float64 {
	p := slices.Index(e.tree.key, v)
	q := slices.Clone(row)
	normalize(q)
	var s float64
	for k, x := range q {
		y := x - e.tree.pts[p*e.dim+k]
		s += y * y
	}
	return s
}

// reportRows reports ns/row in wall time and, where the platform says,
// in CPU time (what a row costs a core on a busy machine).
func reportRows(b *testing.B, rows int, cpu time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(rows), "cpu-ns/row")
	}
}

// sliceColumn is c's first n rows, repeated if it has fewer.
func sliceColumn(c abi.Column, n int) abi.Column {
	o := abi.Column{Name: c.Name, Type: c.Type}
	for i := 0; i < n; i++ {
		switch c.Type {
		case abi.TypeU8:
			o.U8 = append(o.U8, c.U8[i%len(c.U8)])
		case abi.TypeU16:
			o.U16 = append(o.U16, c.U16[i%len(c.U16)])
		}
	}
	return o
}
