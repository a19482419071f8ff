package categorical

import (
	"testing"

	"github.com/netshare/netshare/abi"
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
			in := &abi.Batch{Columns: []abi.Column{tc.col}}
			if err := e.Fit(in); err != nil {
				b.Fatal(err)
			}
			raw, err := e.FitEnd()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.Load(raw); err != nil {
				b.Fatal(err)
			}
			out := &abi.Encoded{Rows: benchRows, HotWidth: 1, Hot: make([]uint32, benchRows)}
			if err := e.Encode(in, out); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if decode {
					_, err = e.Decode(out)
				} else {
					err = e.Encode(in, out)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
		})
	}
}
