package ipbits

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
)

// flows builds rows of (srcip, dstip, dstport): addr appears in n distinct
// flows of rows records each.
type flowSpec struct {
	addr  uint32
	flows int
	rows  int
}

func flowBatch(specs []flowSpec) *abi.Batch {
	var src, dst []uint32
	var port []uint16
	for _, s := range specs {
		for f := range s.flows {
			for range s.rows {
				src = append(src, s.addr)
				dst = append(dst, 0x0a000001)
				port = append(port, uint16(1000+f))
			}
		}
	}
	return &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4, U32: src},
		{Name: "dstip", Type: abi.TypeIPv4, U32: dst},
		{Name: "dstport", Type: abi.TypeU16, U16: port},
	}}
}

func TestPopularAddresses(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		specs  []flowSpec
		want   []uint32 // categories, in order
	}{
		{"many flows make an address popular, by rows", nil,
			[]flowSpec{{1, 5, 1}, {2, 9, 3}, {3, 4, 1}}, []uint32{2, 1}},
		{"one long flow does not", nil,
			[]flowSpec{{1, 1, 500}, {2, 5, 1}}, []uint32{2}},
		{"threshold from params", map[string]any{"min_flows": int64(3)},
			[]flowSpec{{1, 3, 1}, {2, 2, 1}}, []uint32{1}},
		{"at most max_popular", map[string]any{"max_popular": int64(1)},
			[]flowSpec{{1, 5, 1}, {2, 6, 1}}, []uint32{2}},
		{"off", map[string]any{"min_flows": int64(0)},
			[]flowSpec{{1, 50, 1}}, nil},
		{"never under privacy", map[string]any{abi.ParamPrivate: true},
			[]flowSpec{{1, 50, 1}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h := w.Open("ip-bits", "srcip", tc.params, 1)
			b := flowBatch(tc.specs)
			st := w.Fit(h, b)
			var s state
			if err := json.Unmarshal(st, &s); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Popular, tc.want) {
				t.Fatalf("popular = %v, want %v", s.Popular, tc.want)
			}
			outs := w.Load(h, st)
			wantOuts := Bits
			if len(tc.want) > 0 {
				wantOuts++
				if o := outs[0]; o.Width != len(tc.want)+1 || !o.Discrete || o.Activation != abi.ActSoftmax {
					t.Fatalf("first output %+v: want a %d-wide softmax", o, len(tc.want)+1)
				}
			}
			if len(outs) != wantOuts {
				t.Fatalf("%d outputs, want %d", len(outs), wantOuts)
			}
			// Every address round-trips, popular or not.
			got := w.Decode(h, w.Encode(h, sub(b, "srcip")))
			if !slices.Equal(got.Column("srcip").U32, b.Column("srcip").U32) {
				t.Fatalf("round trip changed addresses")
			}
		})
	}
}

func TestPopularDecode(t *testing.T) {
	w := newWire(t)
	h := w.Open("ip-bits", "srcip", nil, 1)
	st := w.Fit(h, flowBatch([]flowSpec{{0xc0a80001, 5, 1}, {0x08080808, 6, 1}}))
	w.Load(h, st) // categories: 8.8.8.8, 192.168.0.1, other
	row := func(cat uint32, bits uint32) []uint32 {
		r := make([]uint32, Bits+1)
		r[0] = cat
		encodeRow((*[Bits]uint32)(r[1:]), bits)
		return r
	}
	in := &abi.Encoded{Rows: 3, HotWidth: Bits + 1}
	in.Hot = slices.Concat(row(0, 0x01020304), row(1, 0x01020304), row(2, 0x01020304))
	got := w.Decode(h, in).Column("srcip").U32
	// A category wins over whatever the bits say; "other" reads the bits.
	if want := []uint32{0x08080808, 0xc0a80001, 0x01020304}; !slices.Equal(got, want) {
		t.Fatalf("decoded %08x, want %08x", got, want)
	}
}
