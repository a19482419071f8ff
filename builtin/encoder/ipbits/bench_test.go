package ipbits

import (
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/sdk"
)

// BenchmarkEncode and BenchmarkDecode time the kernels on 64k addresses
// (enctest.Kernels: no wire framing), in ns per row.
func BenchmarkEncode(b *testing.B) { benchKernels(b, false) }
func BenchmarkDecode(b *testing.B) { benchKernels(b, true) }

func benchKernels(b *testing.B, decode bool) {
	const n = 1 << 16
	col := abi.Column{Name: "srcip", Type: abi.TypeIPv4, U32: make([]uint32, n)}
	for i := range col.U32 {
		col.U32[i] = uint32(i) * 2654435761
	}
	fe, err := New(envFor("srcip"))
	if err != nil {
		b.Fatal(err)
	}
	enctest.Kernels(b, fe, &abi.Batch{Columns: []abi.Column{col}}, decode)
}

// BenchmarkDispatch is BenchmarkEncode and BenchmarkDecode through the sdk's dispatcher with
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
