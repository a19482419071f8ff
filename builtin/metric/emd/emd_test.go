package emd

import (
	"math"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	mt "github.com/netshare/netshare/builtin/metric/internal/metrictest"
)

func timeCol(name string, v ...int64) abi.Column {
	return abi.Column{Name: name, Type: abi.TypeTime, I64: v}
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
			// Pooled over two batches of different types: real {1,2,2,7},
			// synthetic {0,3}. By hand (see dist.TestEMD) and scipy: 2.0.
			name:   "batches of mixed types",
			params: map[string]any{"column": "pkt_len"},
			real:   []*abi.Batch{mt.Batch(mt.U16("pkt_len", 1, 2)), mt.Batch(mt.F64("pkt_len", 2, 7))},
			syn:    []*abi.Batch{mt.Batch(mt.F64("pkt_len", 0, 3))},
			score:  "pkt_len_emd", want: 2,
		},
		{
			// Absolute times 4000 µs apart, same shape.
			name:   "absolute time",
			params: map[string]any{"column": "ts"},
			real:   []*abi.Batch{mt.Batch(timeCol("ts", 1000, 1001, 1003))},
			syn:    []*abi.Batch{mt.Batch(timeCol("ts", 5000, 5001, 5003))},
			score:  "ts_emd", want: 4000,
		},
		{
			// relative: both become {0,1,3}.
			name:   "relative time",
			params: map[string]any{"column": "ts", "relative": true, "name": "time_emd"},
			real:   []*abi.Batch{mt.Batch(timeCol("ts", 1003, 1000)), mt.Batch(timeCol("ts", 1001))},
			syn:    []*abi.Batch{mt.Batch(timeCol("ts", 5000, 5001, 5003))},
			score:  "time_emd", want: 0,
		},
		{
			// relative: real {0,1,3}, synthetic {0,2,6}: |F diff| is 1/3 on
			// [1,2) and [3,6) → (1 + 3)/3 = 4/3. scipy:
			// wasserstein_distance([0,1,3],[0,2,6]) = 1.3333333333333333.
			name:   "relative stretched",
			params: map[string]any{"column": "ts", "relative": true},
			real:   []*abi.Batch{mt.Batch(timeCol("ts", 10, 11, 13))},
			syn:    []*abi.Batch{mt.Batch(timeCol("ts", 100, 102, 106))},
			score:  "ts_emd", want: 4.0 / 3,
		},
		{
			// Empty batches are ignored.
			name:   "empty batch",
			params: map[string]any{"column": "td"},
			real:   []*abi.Batch{mt.Batch(mt.F64("td")), mt.Batch(mt.F64("td", 3.5))},
			syn:    []*abi.Batch{mt.Batch(mt.F64("td", 1, 1, 1, 10))},
			score:  "td_emd", want: 3.5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mt.Run("emd", tt.params, tt.real, tt.syn)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := s.Values[tt.score]
			if !ok || math.Abs(got-tt.want) > 1e-9 || len(s.Values) != 1 {
				t.Fatalf("scores %v, want only %s = %v", s.Values, tt.score, tt.want)
			}
			if len(s.Series) != 1 || s.Series[0].Kind != "cdf" || s.Series[0].Name != tt.score {
				t.Fatalf("series %+v, want one cdf named %s", s.Series, tt.score)
			}
			sr := s.Series[0]
			if len(sr.X) == 0 || len(sr.X) != len(sr.Real) || len(sr.X) != len(sr.Synthetic) {
				t.Fatalf("series lengths x=%d real=%d syn=%d", len(sr.X), len(sr.Real), len(sr.Synthetic))
			}
			if sr.Real[len(sr.Real)-1] != 1 || sr.Synthetic[len(sr.Synthetic)-1] != 1 {
				t.Errorf("CDFs end at %v and %v, want 1", sr.Real[len(sr.Real)-1], sr.Synthetic[len(sr.Synthetic)-1])
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name      string
		params    map[string]any
		real, syn []*abi.Batch
		want      string
	}{
		{"no column param", map[string]any{}, nil, nil, `parameter "column" is required`},
		{"unknown param", map[string]any{"column": "td", "relativ": true}, nil, nil, `did you mean "relative"`},
		{"missing column", map[string]any{"column": "td"},
			[]*abi.Batch{mt.Batch(mt.F64("td", 1))}, []*abi.Batch{mt.Batch(mt.F64("pkt", 1))},
			`synthetic batch 1 has no column "td" (it has: pkt)`},
		{"NaN", map[string]any{"column": "td"},
			[]*abi.Batch{mt.Batch(mt.F64("td", 1)), mt.Batch(mt.F64("td", 2, math.NaN()))}, nil,
			`real batch 2 row 1: column "td" is NaN`},
		{"string", map[string]any{"column": "type"},
			[]*abi.Batch{mt.Batch(mt.Str("type", "a"))}, nil,
			`column "type" is string, not numeric`},
		{"no synthetic", map[string]any{"column": "td"},
			[]*abi.Batch{mt.Batch(mt.F64("td", 1))}, nil,
			`1 real and 0 synthetic values`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mt.Run("emd", tt.params, tt.real, tt.syn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// BenchmarkEMD scores a million values a side natively (the Wasm module
// runs the same code, a few times slower).
func BenchmarkEMD(b *testing.B) {
	const n = 1 << 20
	real, syn := make([]float64, n), make([]float64, n)
	for i := range real {
		real[i] = float64((i * 7919) % 1500)
		syn[i] = float64((i * 104729) % 1400)
	}
	chunks := func(v []float64) []*abi.Batch {
		var out []*abi.Batch
		for lo := 0; lo < len(v); lo += 1 << 16 {
			out = append(out, mt.Batch(mt.F64("pkt_len", v[lo:lo+1<<16]...)))
		}
		return out
	}
	rb, sb := chunks(real), chunks(syn)
	b.ResetTimer()
	for range b.N {
		if _, err := mt.Run("emd", map[string]any{"column": "pkt_len"}, rb, sb); err != nil {
			b.Fatal(err)
		}
	}
}
