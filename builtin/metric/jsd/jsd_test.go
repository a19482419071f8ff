package jsd

import (
	"math"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	mt "github.com/netshare/netshare/builtin/metric/internal/metrictest"
)

func u8(name string, v ...uint8) abi.Column { return abi.Column{Name: name, Type: abi.TypeU8, U8: v} }
func ip(name string, v ...uint32) abi.Column {
	return abi.Column{Name: name, Type: abi.TypeIPv4, U32: v}
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
			// Values {22,53,80,443}: P=(0,¼,½,¼), Q=(¼,0,¼,½),
			// M=(⅛,⅛,⅜,⅜). KL(P‖M) = ¼ln2 + ½ln(4/3) + ¼ln(2/3) = 0.215762;
			// KL(Q‖M) is the same by symmetry. scipy:
			// jensenshannon([0,1,2,1],[1,0,1,2])**2 = 0.21576155433883562.
			name:   "ports",
			params: map[string]any{"column": "dstport"},
			real:   []*abi.Batch{mt.Batch(mt.U16("dstport", 80, 80)), mt.Batch(mt.U16("dstport", 443, 53))},
			syn:    []*abi.Batch{mt.Batch(mt.U16("dstport", 80, 443, 443, 22))},
			score:  "dstport_jsd", want: 0.21576155433883562,
		},
		{
			// Synthetic values clipped into support 0..10 and rounded:
			// {-5→0, 2, 3.4→3, 100→10}; real {1,2,3}. scipy over the 11
			// support points gives 0.2947841194846702.
			name:   "explicit support clips",
			params: map[string]any{"column": "x", "support": []any{0, 10}},
			real:   []*abi.Batch{mt.Batch(u8("x", 1, 2, 3))},
			syn:    []*abi.Batch{mt.Batch(mt.F64("x", -5, 2, 3.4, 100))},
			score:  "x_jsd", want: 0.2947841194846702,
		},
		{
			// The real column is u8, so the support is 0..255 and 300
			// becomes 255: P=(1,1,0), Q=(1,1,1) over {6,17,255}.
			// scipy: jensenshannon([1,1,0],[1,1,1])**2 = 0.13230412471889832.
			name:   "type support clips",
			params: map[string]any{"column": "proto"},
			real:   []*abi.Batch{mt.Batch(u8("proto", 6, 17))},
			syn:    []*abi.Batch{mt.Batch(mt.F64("proto", 6, 17, 300))},
			score:  "proto_jsd", want: 0.13230412471889832,
		},
		{
			// Strings match by text across batches with different
			// dictionaries: real {background:3, blacklist:1}, synthetic
			// {background:2, scan:2}. scipy: jensenshannon([3,1,0],[2,0,2])**2
			// = 0.27251488867916.
			name:   "strings",
			params: map[string]any{"column": "type"},
			real:   []*abi.Batch{mt.Batch(mt.Str("type", "background", "blacklist")), mt.Batch(mt.Str("type", "background", "background"))},
			syn:    []*abi.Batch{mt.Batch(mt.Str("type", "scan", "background")), mt.Batch(mt.Str("type", "background", "scan"))},
			score:  "type_jsd", want: 0.27251488867916,
		},
		{
			// Rank: real counts (3,1), synthetic (2,1,1), zero-padded to
			// (3,1,0) vs (2,1,1); identities differ entirely and do not
			// matter. scipy: jensenshannon([3,1,0],[2,1,1])**2 =
			// 0.09922809353917372.
			name:   "rank",
			params: map[string]any{"column": "srcip", "mode": "rank"},
			real:   []*abi.Batch{mt.Batch(ip("srcip", 1, 1, 2, 1))},
			syn:    []*abi.Batch{mt.Batch(ip("srcip", 7, 8, 9, 7))},
			score:  "srcip_rank_jsd", want: 0.09922809353917372,
		},
		{
			name:   "rank ignores identities",
			params: map[string]any{"column": "dstip", "mode": "rank", "name": "da"},
			real:   []*abi.Batch{mt.Batch(ip("dstip", 1, 1, 2))},
			syn:    []*abi.Batch{mt.Batch(ip("dstip", 5, 9, 9))},
			score:  "da", want: 0,
		},
		{
			// Exact mode on the same addresses is maximal: no overlap.
			name:   "exact on disjoint addresses",
			params: map[string]any{"column": "dstip"},
			real:   []*abi.Batch{mt.Batch(ip("dstip", 1, 1, 2))},
			syn:    []*abi.Batch{mt.Batch(ip("dstip", 5, 9, 9))},
			score:  "dstip_jsd", want: math.Ln2,
		},
		{
			// Batches of one side change type (u32 → u16 and u16 → u32):
			// real {1:2, 2:2}, synthetic {1:1, 2:3}: P=(½,½), Q=(¼,¾),
			// M=(⅜,⅝); KL(P‖M) = 0.032271, KL(Q‖M) = 0.035373, mean
			// 0.033822. scipy: jensenshannon([2,2],[1,3])**2 = 0.0338220755686052.
			name:   "mixed types",
			params: map[string]any{"column": "x"},
			real:   []*abi.Batch{mt.Batch(abi.Column{Name: "x", Type: abi.TypeU32, U32: []uint32{1, 2, 1}}), mt.Batch(mt.U16("x", 2))},
			syn:    []*abi.Batch{mt.Batch(mt.U16("x", 1, 2)), mt.Batch(abi.Column{Name: "x", Type: abi.TypeU32, U32: []uint32{2, 2}})},
			score:  "x_jsd", want: 0.0338220755686052,
		},
		{
			name:   "rank on strings",
			params: map[string]any{"column": "label", "mode": "rank"},
			real:   []*abi.Batch{mt.Batch(mt.Str("label", "a", "a", "b"))},
			syn:    []*abi.Batch{mt.Batch(mt.Str("label", "x", "y", "y"))},
			score:  "label_rank_jsd", want: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mt.Run("jsd", tt.params, tt.real, tt.syn)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := s.Values[tt.score]
			if !ok || math.Abs(got-tt.want) > 1e-12 || len(s.Values) != 1 {
				t.Fatalf("scores %v, want only %s = %.17g", s.Values, tt.score, tt.want)
			}
			if len(s.Series) != 1 || s.Series[0].Name != tt.score {
				t.Fatalf("series %+v, want one named %s", s.Series, tt.score)
			}
		})
	}
}

func TestHistogramSeries(t *testing.T) {
	// 30 distinct ports on the real side (port p occurs p times), one
	// port on the synthetic side: the series shows Bars values, most
	// common real first, then "other" with the remaining share.
	var real []uint16
	for p := uint16(1); p <= 30; p++ {
		for range p {
			real = append(real, p)
		}
	}
	s, err := mt.Run("jsd", map[string]any{"column": "srcport", "labels": map[string]any{"30": "top"}},
		[]*abi.Batch{mt.Batch(mt.U16("srcport", real...))}, []*abi.Batch{mt.Batch(mt.U16("srcport", 5, 5))})
	if err != nil {
		t.Fatal(err)
	}
	sr := s.Series[0]
	if sr.Kind != "histogram" || len(sr.Labels) != Bars+1 || len(sr.Real) != Bars+1 || len(sr.X) != Bars+1 {
		t.Fatalf("series kind %q with %d labels, %d values; want histogram with %d", sr.Kind, len(sr.Labels), len(sr.Real), Bars+1)
	}
	total := 465.0 // 1+2+…+30
	// Port 5 holds all synthetic mass, so it is among the bars; 30 is the
	// most common real value and is shown by its label.
	if sr.Labels[0] != "top" || math.Abs(sr.Real[0]-30/total) > 1e-12 {
		t.Errorf("first bar %q = %v, want top = %v", sr.Labels[0], sr.Real[0], 30/total)
	}
	if sr.Labels[Bars] != "other" {
		t.Errorf("last bar is %q, want other", sr.Labels[Bars])
	}
	var sumR, sumS float64
	found5 := false
	for i, l := range sr.Labels {
		sumR += sr.Real[i]
		sumS += sr.Synthetic[i]
		if l == "5" {
			found5 = sr.Synthetic[i] == 1
		}
	}
	if !found5 {
		t.Errorf("port 5 (all synthetic mass) missing from bars %v", sr.Labels)
	}
	if math.Abs(sumR-1) > 1e-9 || math.Abs(sumS-1) > 1e-9 {
		t.Errorf("bars sum to %v and %v, want 1", sumR, sumS)
	}
}

func TestErrors(t *testing.T) {
	one := []*abi.Batch{mt.Batch(mt.U16("srcport", 1))}
	tests := []struct {
		name      string
		params    map[string]any
		real, syn []*abi.Batch
		want      string
	}{
		{"bad mode", map[string]any{"column": "srcport", "mode": "ranked"}, nil, nil, `mode must be "exact" or "rank"`},
		{"bad support", map[string]any{"column": "srcport", "support": []any{5, 1}}, nil, nil, "lo ≤ hi"},
		{"support in rank mode", map[string]any{"column": "srcport", "mode": "rank", "support": []any{0, 1}}, nil, nil, "exact mode only"},
		{"string vs number", map[string]any{"column": "type"},
			[]*abi.Batch{mt.Batch(mt.Str("type", "a"))}, []*abi.Batch{mt.Batch(mt.U16("type", 1))},
			`column "type" is string in the real table but u16 in the synthetic one`},
		{"type change between batches", map[string]any{"column": "type"},
			[]*abi.Batch{mt.Batch(mt.Str("type", "a")), mt.Batch(mt.U16("type", 1))}, nil,
			`real batch 2: column "type" is u16, earlier batches had string`},
		{"missing column", map[string]any{"column": "dstport"}, one, one,
			`real batch 1 has no column "dstport" (it has: srcport)`},
		{"NaN", map[string]any{"column": "srcport"}, one, []*abi.Batch{mt.Batch(mt.F64("srcport", math.Inf(1)))},
			`synthetic batch 1 row 0: column "srcport" is +Inf`},
		{"empty synthetic", map[string]any{"column": "srcport"}, one, []*abi.Batch{mt.Batch(mt.U16("srcport"))},
			"1 real and 0 synthetic values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mt.Run("jsd", tt.params, tt.real, tt.syn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// BenchmarkRank scores a million IPs a side in rank mode, in 64k batches.
func BenchmarkRank(b *testing.B) {
	const n, batch = 1 << 20, 1 << 16
	var rb, sb []*abi.Batch
	for lo := 0; lo < n; lo += batch {
		r, s := make([]uint32, batch), make([]uint32, batch)
		for i := range r {
			r[i] = uint32((lo + i) * 2654435761 % 50000)
			s[i] = uint32((lo + i) * 40503 % 60000)
		}
		rb = append(rb, mt.Batch(ip("srcip", r...)))
		sb = append(sb, mt.Batch(ip("srcip", s...)))
	}
	b.ResetTimer()
	for range b.N {
		if _, err := mt.Run("jsd", map[string]any{"column": "srcip", "mode": "rank"}, rb, sb); err != nil {
			b.Fatal(err)
		}
	}
}
