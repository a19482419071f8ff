package run

import (
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
)

// TestFitToEnd: a generated flow that runs past the trace's end is moved
// back whole, not cut; one longer than the span starts at its start (and
// truncateToSpan cuts the rest); the others stay where they are.
func TestFitToEnd(t *testing.T) {
	const lo, hi = 100, 200
	cases := []struct {
		name       string
		flows      []uint32
		ts, want   []int64
		kept, left int // records truncateToSpan keeps after the move, and without it
	}{
		{"inside", []uint32{0, 0, 1}, []int64{100, 150, 200}, []int64{100, 150, 200}, 3, 3},
		{"past the end", []uint32{0, 0, 0, 1}, []int64{180, 195, 230, 199}, []int64{150, 165, 200, 199}, 4, 3},
		{"longer than the span", []uint32{0, 0, 0}, []int64{150, 200, 290}, []int64{100, 150, 240}, 2, 2},
		{"starts before the span", []uint32{0, 0}, []int64{90, 210}, []int64{90, 210}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &abi.Batch{Columns: []abi.Column{
				{Name: abi.FlowColumn, Type: abi.TypeU32, U32: tc.flows},
				{Name: "ts", Type: abi.TypeI64, I64: slices.Clone(tc.ts)},
			}}
			got := fitToEnd(b, lo, hi)
			if !slices.Equal(got.Column("ts").I64, tc.want) {
				t.Errorf("times %v, want %v", got.Column("ts").I64, tc.want)
			}
			if !slices.Equal(b.Column("ts").I64, tc.ts) {
				t.Error("the input batch was changed")
			}
			if n := truncateToSpan(got, lo, hi).Len(); n != tc.kept {
				t.Errorf("%d records within the span after the move, want %d", n, tc.kept)
			}
			if n := truncateToSpan(b, lo, hi).Len(); n != tc.left {
				t.Errorf("%d records within the span without it, want %d", n, tc.left)
			}
		})
	}
	noFlows := &abi.Batch{Columns: []abi.Column{{Name: "ts", Type: abi.TypeI64, I64: []int64{300}}}}
	if got := fitToEnd(noFlows, lo, hi); got.Column("ts").I64[0] != 300 {
		t.Error("records without a flow column were moved")
	}
}
