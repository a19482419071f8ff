package flowtab

import (
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
)

// TestRows numbers keys in order of first sight, for fixed-width keys (the
// fast path) and keys with a string column, across batches and past a
// table growth.
func TestRows(t *testing.T) {
	tests := []struct {
		name string
		cols func(v []uint32) []*abi.Column
	}{
		{"fixed width", func(v []uint32) []*abi.Column {
			return []*abi.Column{{Name: "ip", Type: abi.TypeIPv4, U32: v}, {Name: "p", Type: abi.TypeU8, U8: make([]uint8, len(v))}}
		}},
		{"string key", func(v []uint32) []*abi.Column {
			c := &abi.Column{Name: "s", Type: abi.TypeString}
			for _, x := range v {
				c.Codes = append(c.Codes, uint32(len(c.Dict)))
				c.Dict = append(c.Dict, string(rune('a'+x%26))+string(rune('a'+x/26%26))+string(rune('a'+x/676)))
			}
			return []*abi.Column{c}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tab Table
			got := tab.Rows(nil, tt.cols([]uint32{7, 3, 7, 9}))
			if want := []int32{0, 1, 0, 2}; !slices.Equal(got, want) {
				t.Fatalf("first batch: %v, want %v", got, want)
			}
			// 3000 keys force the slot table to grow; 3 and 9 keep their ids.
			v := make([]uint32, 3000)
			for i := range v {
				v[i] = uint32(i + 10)
			}
			v[0], v[1] = 3, 9
			got = tab.Rows(nil, tt.cols(v))
			if got[0] != 1 || got[1] != 2 || got[2] != 3 || got[2999] != 3000 || tab.Len() != 3001 {
				t.Errorf("after growth: ids %v … %v, %d flows", got[:3], got[2999], tab.Len())
			}
			if again := tab.Rows(nil, tt.cols([]uint32{9})); again[0] != 2 {
				t.Errorf("key 9 is flow %d after growth, want 2", again[0])
			}
		})
	}
}
