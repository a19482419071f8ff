package popular

import (
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
)

func TestCounter(t *testing.T) {
	// rows: (dstport, srcport); the flow of a dstport is its srcport here.
	type row struct{ dst, src uint16 }
	tests := []struct {
		name     string
		minFlows int
		max      int
		rows     []row
		want     []uint64
	}{
		{"distinct flows, not rows", 2, 10,
			[]row{{80, 1}, {80, 1}, {80, 1}, {443, 1}, {443, 2}}, []uint64{443}},
		{"most rows first, ties by value", 1, 10,
			[]row{{53, 1}, {80, 1}, {80, 2}, {22, 3}}, []uint64{80, 22, 53}},
		{"at most max", 1, 1,
			[]row{{53, 1}, {80, 1}, {80, 2}}, []uint64{80}},
		{"none", 3, 10,
			[]row{{53, 1}, {53, 2}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &abi.Batch{Columns: []abi.Column{{Name: "dstport", Type: abi.TypeU16}, {Name: "srcport", Type: abi.TypeU16}}}
			for _, r := range tc.rows {
				b.Columns[0].U16 = append(b.Columns[0].U16, r.dst)
				b.Columns[1].U16 = append(b.Columns[1].U16, r.src)
			}
			c := NewCounter("dstport", tc.minFlows)
			c.Add(b, func(r int) uint64 { return uint64(b.Columns[0].U16[r]) })
			if got := c.Popular(tc.max); !slices.Equal(got, tc.want) {
				t.Fatalf("popular = %v, want %v", got, tc.want)
			}
			for v, tl := range c.seen {
				if len(tl.flows) > tc.minFlows {
					t.Fatalf("value %d keeps %d flow hashes, more than %d", v, len(tl.flows), tc.minFlows)
				}
			}
		})
	}
}

// TestCounterBounded: millions of distinct values keep at most Capacity
// tracked, and a frequent value spread over the stream is still found.
func TestCounterBounded(t *testing.T) {
	c := NewCounter("srcip", 3)
	const n = 8 * Capacity
	b := &abi.Batch{Columns: []abi.Column{{Name: "srcip", Type: abi.TypeIPv4, U32: make([]uint32, n)}, {Name: "srcport", Type: abi.TypeU16, U16: make([]uint16, n)}}}
	for r := range n {
		b.Columns[0].U32[r] = uint32(1000 + r) // every row a new address...
		if r%97 == 0 {
			b.Columns[0].U32[r] = 7 // ...but one that recurs
		}
		b.Columns[1].U16[r] = uint16(r)
	}
	c.Add(b, func(r int) uint64 { return uint64(b.Columns[0].U32[r]) })
	if len(c.seen) > Capacity {
		t.Fatalf("tracking %d values, more than %d", len(c.seen), Capacity)
	}
	if got := c.Popular(10); !slices.Equal(got, []uint64{7}) {
		t.Fatalf("popular = %v, want [7]", got)
	}
}
