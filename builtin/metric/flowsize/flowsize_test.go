package flowsize

import (
	"math"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	mt "github.com/netshare/netshare/builtin/metric/internal/metrictest"
)

// tuples builds a 5-tuple batch; flows are told apart by srcip, plus an
// optional pkt column.
func tuples(srcips []uint32, pkt []int64) *abi.Batch {
	n := len(srcips)
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4, U32: srcips},
		{Name: "dstip", Type: abi.TypeIPv4, U32: make([]uint32, n)},
		{Name: "srcport", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "dstport", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "proto", Type: abi.TypeU8, U8: make([]uint8, n)},
	}}
	if pkt != nil {
		b.Columns = append(b.Columns, abi.Column{Name: "pkt", Type: abi.TypeI64, I64: pkt})
	}
	return b
}

func TestScores(t *testing.T) {
	tests := []struct {
		name      string
		params    map[string]any
		real, syn []*abi.Batch
		score     string
		want      float64
	}{
		{
			// Real flows of 3 and 1 records (one flow spans two batches),
			// synthetic flows of 2 and 2: F_real is ½ on [1,3), F_syn 0 then
			// 1 from 2, so |ΔF| = ½ on [1,2) and [2,3): EMD = 1.
			// scipy: wasserstein_distance([1,3],[2,2]) = 1.0.
			name:   "records per flow",
			params: map[string]any{"name": "records_per_flow_emd"},
			real:   []*abi.Batch{tuples([]uint32{1, 1, 2}, nil), tuples([]uint32{1}, nil)},
			syn:    []*abi.Batch{tuples([]uint32{3, 4, 4, 3}, nil)},
			score:  "records_per_flow_emd", want: 1,
		},
		{
			// Summing pkt: real flows {15, 1}, synthetic {8}:
			// ½·(8−1) + ½·(15−8) = 7. scipy: wasserstein_distance([15,1],[8]) = 7.0.
			name:   "summed column",
			params: map[string]any{"count": "pkt", "name": "pkt_per_flow_emd"},
			real:   []*abi.Batch{tuples([]uint32{1, 1, 2}, []int64{10, 5, 1})},
			syn:    []*abi.Batch{tuples([]uint32{9}, []int64{8})},
			score:  "pkt_per_flow_emd", want: 7,
		},
		{
			// A string key column: real groups {a:2, b:1}, synthetic {a:1,
			// b:1, c:1} → sizes {1,2} vs {1,1,1}: |ΔF| = ½ on [1,2) → 0.5.
			name:   "string key",
			params: map[string]any{"key": []any{"type"}},
			real:   []*abi.Batch{mt.Batch(mt.Str("type", "a", "b")), mt.Batch(mt.Str("type", "a"))},
			syn:    []*abi.Batch{mt.Batch(mt.Str("type", "c", "b", "a"))},
			score:  "flow_size_emd", want: 0.5,
		},
		{
			// Strings are length-prefixed in the key, so ("ab","c") and
			// ("a","bc") are different flows: two flows of one record each
			// on both sides.
			name:   "key encoding is unambiguous",
			params: map[string]any{"key": []any{"x", "y"}},
			real:   []*abi.Batch{{Columns: []abi.Column{mt.Str("x", "ab", "a"), mt.Str("y", "c", "bc")}}},
			syn:    []*abi.Batch{{Columns: []abi.Column{mt.Str("x", "q", "r"), mt.Str("y", "s", "t")}}},
			score:  "flow_size_emd", want: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mt.Run("flow-size", tt.params, tt.real, tt.syn)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := s.Values[tt.score]
			if !ok || math.Abs(got-tt.want) > 1e-12 || len(s.Values) != 1 {
				t.Fatalf("scores %v, want only %s = %v", s.Values, tt.score, tt.want)
			}
			if len(s.Series) != 1 || s.Series[0].Kind != "cdf" {
				t.Fatalf("series %+v, want one cdf", s.Series)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	one := []*abi.Batch{tuples([]uint32{1}, nil)}
	tests := []struct {
		name      string
		params    map[string]any
		real, syn []*abi.Batch
		want      string
	}{
		{"empty key", map[string]any{"key": []any{}}, nil, nil, `"key" names no columns`},
		{"missing key column", map[string]any{"key": []any{"srcip", "vlan"}}, one, nil,
			`key: real batch 1 has no column "vlan"`},
		{"missing count column", map[string]any{"count": "byt"}, one, nil,
			`count: real batch 1 has no column "byt"`},
		{"string count column", map[string]any{"key": []any{"srcip"}, "count": "type"},
			[]*abi.Batch{{Columns: []abi.Column{{Name: "srcip", Type: abi.TypeIPv4, U32: []uint32{1}}, mt.Str("type", "a")}}}, nil,
			`count column "type" is a string column`},
		{"NaN count", map[string]any{"key": []any{"srcip"}, "count": "td"},
			nil, []*abi.Batch{{Columns: []abi.Column{{Name: "srcip", Type: abi.TypeIPv4, U32: []uint32{1, 2}}, mt.F64("td", 1, math.NaN())}}},
			`count: synthetic batch 1 row 1: column "td" is NaN`},
		{"no synthetic", nil, one, nil, "1 real and 0 synthetic flows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mt.Run("flow-size", tt.params, tt.real, tt.syn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// BenchmarkFlowSize groups a million 5-tuple records a side (about 100k
// flows) in 64k batches.
func BenchmarkFlowSize(b *testing.B) {
	const n, batch = 1 << 20, 1 << 16
	var rb []*abi.Batch
	for lo := 0; lo < n; lo += batch {
		ips := make([]uint32, batch)
		for i := range ips {
			ips[i] = uint32((lo + i) * 2654435761 % 100000)
		}
		rb = append(rb, tuples(ips, nil))
	}
	b.ResetTimer()
	for range b.N {
		if _, err := mt.Run("flow-size", nil, rb, rb); err != nil {
			b.Fatal(err)
		}
	}
}
