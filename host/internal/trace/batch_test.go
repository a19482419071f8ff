package trace

import (
	"reflect"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
)

func strCol(name string, dict []string, codes ...uint32) abi.Column {
	return abi.Column{Name: name, Type: abi.TypeString, Dict: dict, Codes: codes}
}

func TestAppender(t *testing.T) {
	var a Appender
	parts := []*abi.Batch{
		{Columns: []abi.Column{{Name: "ts", Type: abi.TypeTime, I64: []int64{1, 2}}, strCol("label", []string{"x", "y"}, 1, 0)}},
		nil,
		{},
		{Columns: []abi.Column{{Name: "ts", Type: abi.TypeTime, I64: []int64{3, 4, 5}}, strCol("label", []string{"z", "x"}, 0, 1, 0)}},
	}
	for _, p := range parts {
		if err := a.Append(p); err != nil {
			t.Fatal(err)
		}
	}
	b := a.Batch()
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	var labels []string
	for r := 0; r < b.Len(); r++ {
		labels = append(labels, b.Column("label").String(r))
	}
	if want := []string{"y", "x", "z", "x", "z"}; !reflect.DeepEqual(labels, want) {
		t.Errorf("labels %v, want %v", labels, want)
	}
	if len(b.Column("label").Dict) != 3 {
		t.Errorf("merged dictionary %q has duplicates", b.Column("label").Dict)
	}
	if !reflect.DeepEqual(b.Column("ts").I64, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("ts %v", b.Column("ts").I64)
	}
	tests := []struct {
		name string
		b    *abi.Batch
		want string
	}{
		{"other type", &abi.Batch{Columns: []abi.Column{{Name: "ts", Type: abi.TypeF64, F64: []float64{1}}, strCol("label", []string{"x"}, 0)}}, "earlier records had"},
		{"fewer columns", &abi.Batch{Columns: []abi.Column{{Name: "ts", Type: abi.TypeTime, I64: []int64{1}}}}, "earlier records had"},
		{"bad code", &abi.Batch{Columns: []abi.Column{{Name: "ts", Type: abi.TypeTime, I64: []int64{1}}, strCol("label", []string{"x"}, 4)}}, "outside"},
	}
	for _, tt := range tests {
		if err := a.Append(tt.b); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestKWayMerge(t *testing.T) {
	tests := []struct {
		name string
		runs [][]int64
		want []int32
	}{
		{"in order already", [][]int64{{1, 2}, {2, 3}}, nil},
		{"interleaved, ties to earlier file", [][]int64{{1, 3, 5}, {2, 3, 4}}, []int32{0, 3, 1, 4, 5, 2}},
		{"empty run", [][]int64{{5}, {}, {1, 9}}, []int32{1, 0, 2}},
		{"three runs", [][]int64{{4}, {2}, {1, 3}}, []int32{2, 1, 3, 0}},
	}
	for _, tt := range tests {
		if got := kWayMerge(tt.runs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMergeByTime(t *testing.T) {
	mk := func(ts ...int64) *abi.Batch {
		ids := make([]uint32, len(ts))
		for i := range ids {
			ids[i] = uint32(ts[i]*10) + uint32(i)
		}
		return &abi.Batch{Columns: []abi.Column{{Name: "ts", Type: abi.TypeTime, I64: ts}, {Name: "id", Type: abi.TypeU32, U32: ids}}}
	}
	tests := []struct {
		name  string
		parts []*abi.Batch
		ts    []int64
		ids   []uint32
	}{
		{"sorted files", []*abi.Batch{mk(1, 3), mk(2, 3)}, []int64{1, 2, 3, 3}, []uint32{10, 20, 31, 31}},
		{"unsorted file: stable sort", []*abi.Batch{mk(3, 1), mk(1)}, []int64{1, 1, 3}, []uint32{11, 10, 30}},
		{"one unsorted file", []*abi.Batch{mk(5, 4, 5)}, []int64{4, 5, 5}, []uint32{41, 50, 52}},
	}
	for _, tt := range tests {
		b, err := mergeByTime(tt.parts, nil, "ts")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(b.Column("ts").I64, tt.ts) || !reflect.DeepEqual(b.Column("id").U32, tt.ids) {
			t.Errorf("%s: ts %v ids %v; want %v %v", tt.name, b.Column("ts").I64, b.Column("id").U32, tt.ts, tt.ids)
		}
	}
	if _, err := mergeByTime([]*abi.Batch{{Columns: []abi.Column{{Name: "x", Type: abi.TypeU8, U8: []uint8{1}}}}}, []string{"a.csv"}, "ts"); err == nil || !strings.Contains(err.Error(), "a.csv") {
		t.Errorf("missing time column: %v", err)
	}
}
