package word2vec

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netshare/netshare/abi"
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
