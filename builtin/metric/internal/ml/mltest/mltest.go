// Package mltest gives the downstream and audit metrics' tests real
// labelled traces and simple synthetic stand-ins: it decodes files from
// the shared test data with the builtin format plugins (through the sdk's
// native dispatcher, the host's wire protocol), draws independent-marginals
// samples, and tags a seeded holdout.
package mltest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/ml"
	"github.com/netshare/netshare/internal/shareddata"
	"github.com/netshare/netshare/sdk"

	// The formats the traces are read with.
	_ "github.com/netshare/netshare/builtin/format/netflowcsv"
	_ "github.com/netshare/netshare/builtin/format/pcap"
	_ "github.com/netshare/netshare/builtin/format/zeekconn"
)

// Read decodes the shared data file rel (e.g. "flows/x.csv") with format
// and params, skipping the test when the data folder is absent.
func Read(t testing.TB, rel, format string, params map[string]any) *abi.Batch {
	t.Helper()
	path := shareddata.Path(t, rel)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(data, format, params)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// Decode runs a format's decoder over data and concatenates its batches.
func Decode(data []byte, format string, params map[string]any) (*abi.Batch, error) {
	d := sdk.NewDispatcher()
	h, _, err := call(d, abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindFormat, Name: format, Params: params, Mode: abi.ModeRead}, nil)
	if err != nil {
		return nil, err
	}
	var reply abi.OpenReply
	if err := json.Unmarshal(h, &reply); err != nil {
		return nil, err
	}
	var out *abi.Batch
	const piece = 1 << 20
	for off := 0; off < len(data); off += piece {
		_, body, err := call(d, abi.OpRead, reply.Handle, nil, data[off:min(off+piece, len(data))])
		if err != nil {
			return nil, err
		}
		if out, err = appendBody(out, body); err != nil {
			return nil, err
		}
	}
	_, body, err := call(d, abi.OpReadEnd, reply.Handle, nil, nil)
	if err != nil {
		return nil, err
	}
	if out, err = appendBody(out, body); err != nil {
		return nil, err
	}
	if out == nil || out.Len() == 0 {
		return nil, fmt.Errorf("no records decoded")
	}
	return out, nil
}

func appendBody(out *abi.Batch, body []byte) (*abi.Batch, error) {
	if len(body) == 0 {
		return out, nil
	}
	b, err := abi.DecodeBatch(body)
	if err != nil {
		return nil, err
	}
	if b.Len() == 0 {
		return out, nil
	}
	if out == nil {
		return b, nil
	}
	return Concat(out, b), nil
}

func call(d *sdk.Dispatcher, op abi.Op, handle uint32, header any, body []byte) ([]byte, []byte, error) {
	req, err := abi.AppendRequest(nil, header, body)
	if err != nil {
		return nil, nil, err
	}
	h, b, err := abi.SplitResponse(d.Call(op, handle, req))
	return append([]byte(nil), h...), append([]byte(nil), b...), err
}

// Concat appends b's rows to a's (same columns, by name); string columns
// are re-coded into a's dictionary.
func Concat(a, b *abi.Batch) *abi.Batch {
	out := &abi.Batch{}
	for i := range a.Columns {
		out.Columns = append(out.Columns, a.Columns[i])
	}
	for i := range out.Columns {
		c := &out.Columns[i]
		o := b.Column(c.Name)
		if o == nil {
			panic("mltest.Concat: second batch lacks column " + c.Name)
		}
		for r := 0; r < o.Len(); r++ {
			appendRow(c, o, r)
		}
	}
	return out
}

// Rows returns the batch of the given rows of b, in that order.
func Rows(b *abi.Batch, rows []int32) *abi.Batch {
	out := &abi.Batch{}
	for i := range b.Columns {
		src := &b.Columns[i]
		c := abi.Column{Name: src.Name, Type: src.Type}
		if src.Type == abi.TypeString {
			c.Dict = src.Dict
		}
		for _, r := range rows {
			appendRow(&c, src, int(r))
			if src.Type == abi.TypeString {
				c.Dict = src.Dict
			}
		}
		out.Columns = append(out.Columns, c)
	}
	return out
}

// appendRow appends row r of src to c; for strings it adds the value to
// c's dictionary unless c shares src's.
func appendRow(c, src *abi.Column, r int) {
	switch c.Type {
	case abi.TypeU8:
		c.U8 = append(c.U8, src.U8[r])
	case abi.TypeU16:
		c.U16 = append(c.U16, src.U16[r])
	case abi.TypeU32, abi.TypeIPv4:
		c.U32 = append(c.U32, src.U32[r])
	case abi.TypeI64, abi.TypeTime:
		c.I64 = append(c.I64, src.I64[r])
	case abi.TypeF64:
		c.F64 = append(c.F64, src.F64[r])
	case abi.TypeString:
		if len(c.Dict) > 0 && len(src.Dict) > 0 && &c.Dict[0] == &src.Dict[0] {
			c.Codes = append(c.Codes, src.Codes[r])
			return
		}
		s := src.Dict[src.Codes[r]]
		for code, d := range c.Dict {
			if d == s {
				c.Codes = append(c.Codes, uint32(code))
				return
			}
		}
		c.Dict = append(c.Dict, s)
		c.Codes = append(c.Codes, uint32(len(c.Dict)-1))
	}
}

// Independent draws n records whose every column is sampled on its own
// from b's marginal (a seeded draw of a random row per column): the naive
// baseline a generator must beat, which keeps every one-column statistic
// and breaks every relation between columns.
func Independent(b *abi.Batch, n int, seed uint64) *abi.Batch {
	rng := ml.NewRand(seed)
	out := &abi.Batch{}
	for i := range b.Columns {
		src := &b.Columns[i]
		rows := make([]int32, n)
		for j := range rows {
			rows[j] = int32(rng.IntN(b.Len()))
		}
		out.Columns = append(out.Columns, Rows(&abi.Batch{Columns: []abi.Column{*src}}, rows).Columns[0])
	}
	return out
}

// Split tags a seeded share holdout of b's rows as holdout in a new _split
// column (u8: 0 training, 1 holdout), as the pipeline does with
// [input] holdout, and returns the tagged batch plus the training rows
// alone.
func Split(b *abi.Batch, holdout float64, seed uint64) (tagged, train *abi.Batch) {
	n := b.Len()
	perm := ml.Perm(n, ml.NewRand(seed))
	split := make([]uint8, n)
	nh := int(holdout * float64(n))
	var trainRows []int32
	for j, r := range perm {
		if j < nh {
			split[r] = 1
		}
	}
	for r := 0; r < n; r++ {
		if split[r] == 0 {
			trainRows = append(trainRows, int32(r))
		}
	}
	tagged = &abi.Batch{Columns: append(append([]abi.Column(nil), b.Columns...), abi.Column{Name: abi.SplitColumn, Type: abi.TypeU8, U8: split})}
	return tagged, Rows(b, trainRows)
}

// FuzzTables turns fuzz input into a few small real and synthetic batches
// whose columns are drawn from the canonical record columns (plus _flow,
// _split and labels) with arbitrary types and values, for checking that
// a metric answers any input with scores or an error, never a panic.
func FuzzTables(data []byte) (real, syn []*abi.Batch) {
	names := []string{"srcip", "dstip", "srcport", "dstport", "proto", "ts", "td", "pkt", "byt", "pkt_len", "type", "label", abi.FlowColumn, abi.SplitColumn}
	types := []abi.Type{abi.TypeU8, abi.TypeU16, abi.TypeU32, abi.TypeIPv4, abi.TypeI64, abi.TypeTime, abi.TypeF64, abi.TypeString}
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	var schema []abi.Column
	used := map[string]bool{}
	for range int(next()%8) + 1 {
		n := names[int(next())%len(names)]
		if used[n] {
			continue
		}
		used[n] = true
		schema = append(schema, abi.Column{Name: n, Type: types[int(next())%len(types)]})
	}
	for k := range int(next()%4) + 1 {
		rows := int(next() % 40)
		b := &abi.Batch{}
		for _, sc := range schema {
			c := abi.Column{Name: sc.Name, Type: sc.Type}
			for range rows {
				v := next()
				switch c.Type {
				case abi.TypeU8:
					c.U8 = append(c.U8, v%3)
				case abi.TypeU16:
					c.U16 = append(c.U16, uint16(v)*257)
				case abi.TypeU32, abi.TypeIPv4:
					c.U32 = append(c.U32, uint32(v)<<24|uint32(v))
				case abi.TypeI64, abi.TypeTime:
					c.I64 = append(c.I64, int64(int8(v))*1000)
				case abi.TypeF64:
					f := []float64{0, -1, 1e300, math.NaN(), math.Inf(1), 0.5}[int(v)%6]
					c.F64 = append(c.F64, f+float64(v))
				case abi.TypeString:
					if len(c.Dict) == 0 {
						c.Dict = []string{"Benign", "Malicious", ""}
					}
					c.Codes = append(c.Codes, uint32(v)%3)
				}
			}
			b.Columns = append(b.Columns, c)
		}
		if k%2 == 0 {
			real = append(real, b)
		} else {
			syn = append(syn, b)
		}
	}
	return real, syn
}

// NoPanic fails t when err reports a panic recovered by the dispatcher, or
// scores that could not be encoded (NaN or ±Inf values).
func NoPanic(t testing.TB, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), "panic") || strings.Contains(err.Error(), "unsupported value")) {
		t.Fatal(err)
	}
}
