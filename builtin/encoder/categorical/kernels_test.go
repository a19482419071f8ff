package categorical

import (
	"strconv"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
)

// Each integer type, through the dense table and (wide categories) the
// map: every category and the other slot encode to their index and
// decode back; values outside the categories name their row.
func TestIntegerPaths(t *testing.T) {
	tests := []struct {
		name    string
		col     abi.Column // the categories, in fit order
		unseen  abi.Column // a value that is not one
		other   string
		wantErr string
	}{
		{"u8", abi.Column{Type: abi.TypeU8, U8: []uint8{6, 17, 1}}, abi.Column{Type: abi.TypeU8, U8: []uint8{6, 200}}, "", `row 1: value 200 was not seen`},
		{"u16 other", abi.Column{Type: abi.TypeU16, U16: []uint16{443, 80, 53}}, abi.Column{Type: abi.TypeU16, U16: []uint16{22, 80}}, "0", ""},
		{"u32 wide", abi.Column{Type: abi.TypeU32, U32: []uint32{1, 4000000000}}, abi.Column{Type: abi.TypeU32, U32: []uint32{1, 4000000000, 7}}, "", `row 2: value 7 was not seen`},
		{"ipv4", abi.Column{Type: abi.TypeIPv4, U32: []uint32{10, 12}}, abi.Column{Type: abi.TypeIPv4, U32: []uint32{11}}, "", `row 0: value 11 was not seen`},
		{"i64 negative", abi.Column{Type: abi.TypeI64, I64: []int64{-5, 3}}, abi.Column{Type: abi.TypeI64, I64: []int64{-9223372036854775808}}, "9", ""},
		{"i64 wide other", abi.Column{Type: abi.TypeI64, I64: []int64{-1 << 62, 1 << 62}}, abi.Column{Type: abi.TypeI64, I64: []int64{0, 1 << 62}}, "-7", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.col.Name, tc.unseen.Name = "c", "c"
			params := map[string]any{}
			if tc.other != "" {
				params = map[string]any{"unseen": "other", "other": tc.other}
			}
			w := newWire(t)
			h := w.Open("categorical", "c", params, 1)
			outs := w.Load(h, w.Fit(h, &abi.Batch{Columns: []abi.Column{tc.col}}))
			n := tc.col.Len()
			if tc.other != "" {
				n++
			}
			if outs[0].Width != n {
				t.Fatalf("width %d, want %d", outs[0].Width, n)
			}
			// Every category round-trips, and so does every index.
			m := w.Encode(h, &abi.Batch{Columns: []abi.Column{tc.col}})
			got := w.Decode(h, m).Column("c")
			for i := 0; i < tc.col.Len(); i++ {
				if got.Int(i) != tc.col.Int(i) {
					t.Fatalf("row %d: %d decoded to %d", i, tc.col.Int(i), got.Int(i))
				}
			}
			all := &abi.Encoded{Rows: n, HotWidth: 1, Values: []float64{}}
			for k := range n {
				all.Hot = append(all.Hot, uint32(k))
			}
			back := w.Encode(h, w.Decode(h, all))
			for k, x := range back.Hot {
				if x != uint32(k) {
					t.Fatalf("index %d decodes to a value that encodes to %d", k, x)
				}
			}
			e, err := w.TryEncode(h, &abi.Batch{Columns: []abi.Column{tc.unseen}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "categorical c") {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d := w.Decode(h, e).Column("c")
			for i := 0; i < tc.unseen.Len(); i++ {
				want := tc.unseen.Int(i)
				if e.Hot[i] == uint32(n-1) {
					want = mustInt(t, tc.other)
				}
				if d.Int(i) != want {
					t.Fatalf("unseen row %d: decoded %d, want %d", i, d.Int(i), want)
				}
			}
		})
	}
}

func mustInt(t *testing.T, s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
