package ipbits

import (
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
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

// BenchmarkDispatch is BenchmarkCodec through the sdk's dispatcher with
// ready request frames: what the module does per call beyond the
// kernels (frames, batch parsing, checks, the response).
func BenchmarkDispatch(b *testing.B) {
	const n = 1 << 16
	col := abi.Column{Name: "srcip", Type: abi.TypeIPv4, U32: make([]uint32, n)}
	for i := range col.U32 {
		col.U32[i] = uint32(i) * 2654435761
	}
	d := sdk.NewDispatcher()
	call := func(op abi.Op, h uint32, header any, body []byte) []byte {
		req, err := abi.AppendRequest(nil, header, body)
		if err != nil {
			b.Fatal(err)
		}
		_, out, err := abi.SplitResponse(d.Call(op, h, req))
		if err != nil {
			b.Fatal(err)
		}
		return append([]byte(nil), out...)
	}
	call(abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindEncoder, Name: "ip-bits", Column: "srcip"}, nil)
	call(abi.OpLoad, 1, nil, []byte(`{"type":"ipv4"}`))
	encReq, _ := abi.AppendRequest(nil, nil, abi.AppendBatch(nil, &abi.Batch{Columns: []abi.Column{col}}))
	decReq, _ := abi.AppendRequest(nil, nil, call(abi.OpEncVal, 1, nil, abi.AppendBatch(nil, &abi.Batch{Columns: []abi.Column{col}})))
	for _, c := range []struct {
		name string
		op   abi.Op
		req  []byte
	}{{"encode", abi.OpEncVal, encReq}, {"decode", abi.OpDecVal, decReq}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				if r := d.Call(c.op, 1, c.req); r[0] != abi.StatusOK {
					b.Fatalf("%s", r)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
