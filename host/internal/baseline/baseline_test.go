package baseline

import (
	"testing"

	"github.com/netshare/netshare/abi"
)

func TestMarginalsKeepValuesBreakJoints(t *testing.T) {
	n := 4000
	real := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: make([]int64, n)},
		{Name: "a", Type: abi.TypeU8, U8: make([]uint8, n)},
		{Name: "b", Type: abi.TypeU8, U8: make([]uint8, n)},
	}}
	for i := 0; i < n; i++ {
		real.Columns[0].I64[i] = int64(i)
		real.Columns[1].U8[i] = uint8(i % 2)
		real.Columns[2].U8[i] = uint8(i % 2) // b always equals a
	}
	syn := Marginals(real, n, 1)
	if err := syn.Check(); err != nil {
		t.Fatal(err)
	}
	ones, equal := 0, 0
	ts := syn.Column("ts").I64
	for i := 0; i < n; i++ {
		if i > 0 && ts[i] < ts[i-1] {
			t.Fatal("not sorted by time")
		}
		a, b := syn.Column("a").U8[i], syn.Column("b").U8[i]
		ones += int(a)
		if a == b {
			equal++
		}
	}
	if ones < n*45/100 || ones > n*55/100 {
		t.Errorf("marginal of a: %d of %d ones, want about half", ones, n)
	}
	if equal > n*55/100 || equal < n*45/100 {
		t.Errorf("a equals b in %d of %d rows: the joint survived", equal, n)
	}
	if Marginals(real, 10, 1).Len() != 10 {
		t.Error("row count")
	}
}
