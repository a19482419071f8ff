package popular

import (
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
)

func TestCounter(t *testing.T) {
	// rows: (dstport, srcport); the flow of a dstport is its srcport here.
	type row struct{ dst, src uint16 }
	// longFlow is n records of one flow (source port src) on dstport dst.
	longFlow := func(dst, src uint16, n int) []row {
		out := make([]row, n)
		for i := range out {
			out[i] = row{dst, src}
		}
		return out
	}
	// rare is six one-record flows on ports of their own, and one of
	// three records: 9 records in 7 flows of values in fewer than 2 flows.
	rare := append([]row{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 6}}, longFlow(7, 7, 3)...)
	tests := []struct {
		name     string
		minFlows int
		heavy    bool
		max      int
		rows     []row
		want     []uint64
		wantHv   []uint64
	}{
		{"distinct flows, not rows", 2, false, 10,
			[]row{{80, 1}, {80, 1}, {80, 1}, {443, 1}, {443, 2}}, []uint64{443}, nil},
		{"most rows first, ties by value", 1, false, 10,
			[]row{{53, 1}, {80, 1}, {80, 2}, {22, 3}}, []uint64{80, 22, 53}, nil},
		{"at most max", 1, false, 1,
			[]row{{53, 1}, {80, 1}, {80, 2}}, []uint64{80}, nil},
		{"none", 3, false, 10,
			[]row{{53, 1}, {53, 2}}, nil, nil},
		// With the 10-record flow on 9, rare values hold 19 records in 8
		// flows: 2 × 19/8 = 4.75 records make a value popular.
		{"heavy: one long flow's value", 2, true, 10,
			append(slices.Clone(rare), longFlow(9, 9, 10)...), nil, []uint64{9}},
		{"heavy off", 2, false, 10,
			append(slices.Clone(rare), longFlow(9, 9, 10)...), nil, nil},
		// Rare values hold 13 records in 8 flows: 2 × 13/8 = 3.25 records
		// make a value popular, so 9's 4 do and 7's 3 do not.
		{"heavy: the threshold follows the rare flows' length", 2, true, 10,
			append(slices.Clone(rare), longFlow(9, 9, 4)...), nil, []uint64{9}},
		// A popular value's records do not count as rare: 80's 40 records
		// in 2 flows leave the rare values at 9 records in 7 flows
		// (threshold 2.57), so 7's 3 records make it popular.
		{"heavy: popular values leave the yardstick", 2, true, 10,
			append(append(slices.Clone(rare), longFlow(80, 100, 20)...), longFlow(80, 101, 20)...), []uint64{80}, []uint64{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &abi.Batch{Columns: []abi.Column{{Name: "dstport", Type: abi.TypeU16}, {Name: "srcport", Type: abi.TypeU16}}}
			for _, r := range tc.rows {
				b.Columns[0].U16 = append(b.Columns[0].U16, r.dst)
				b.Columns[1].U16 = append(b.Columns[1].U16, r.src)
			}
			c := NewCounter("dstport", tc.minFlows, tc.heavy)
			c.Add(b, func(r int) uint64 { return uint64(b.Columns[0].U16[r]) })
			if got := c.Popular(tc.max); !slices.Equal(got, tc.want) {
				t.Fatalf("popular = %v, want %v", got, tc.want)
			}
			if got := c.Heavy(); !slices.Equal(got, tc.wantHv) {
				t.Fatalf("heavy = %v, want %v", got, tc.wantHv)
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
	c := NewCounter("srcip", 3, false)
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

// TestCounterBoundedHeavy: a stream where one value in ten is a 30-record
// flow of its own keeps its memory bound, and still finds heavy values.
func TestCounterBoundedHeavy(t *testing.T) {
	c := NewCounter("dstport", 5, true)
	var dst []uint32
	var src []uint16
	for j := range 8 * Capacity {
		n := 1
		if j%10 == 0 {
			n = 30
		}
		for range n {
			dst = append(dst, uint32(j))
			src = append(src, uint16(j))
		}
	}
	b := &abi.Batch{Columns: []abi.Column{{Name: "dstport", Type: abi.TypeU32, U32: dst}, {Name: "srcport", Type: abi.TypeU16, U16: src}}}
	c.Add(b, func(r int) uint64 { return uint64(dst[r]) })
	if len(c.seen) > Capacity {
		t.Fatalf("tracking %d values, more than %d", len(c.seen), Capacity)
	}
	hv := c.Heavy()
	if len(hv) == 0 || len(hv) > Capacity/4+Capacity {
		t.Fatalf("%d heavy values", len(hv))
	}
	for _, v := range hv {
		if v%10 != 0 {
			t.Fatalf("value %d is heavy, but holds one record", v)
		}
	}
}
