package joint

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	mt "github.com/netshare/netshare/builtin/metric/internal/metrictest"
)

func batch(cols ...abi.Column) *abi.Batch { return &abi.Batch{Columns: cols} }

func u8(name string, v ...uint8) abi.Column { return abi.Column{Name: name, Type: abi.TypeU8, U8: v} }

func TestQuantilesMatchNumpy(t *testing.T) {
	// Expected: numpy.unique(numpy.quantile(v, numpy.linspace(0, 1, 11)[1:-1])),
	// numpy 1.24, printed with repr.
	tests := []struct {
		v, want []float64
	}{
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []float64{1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.300000000000001, 8.2, 9.1}},
		{[]float64{1, 1, 1, 1, 1, 1, 1, 1, 2, 3}, []float64{1.0, 1.2000000000000002, 2.0999999999999996}},
		{[]float64{0.3, 7.1, 2.2, 9.9, 5.5, 1.0, 3.3}, []float64{0.7200000000000001, 1.2400000000000002, 1.9600000000000004, 2.6400000000000006, 3.3, 4.620000000000001, 5.82, 6.780000000000001, 8.22}},
		{[]float64{4}, []float64{4}},
	}
	for _, tt := range tests {
		if got := Quantiles(tt.v, 10); !slices.Equal(got, tt.want) {
			t.Errorf("Quantiles(%v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestTopKeepsFirstSeenOnTies(t *testing.T) {
	got := Top([]float64{5, 3, 3, 7, 5, 9, 9, 9}, 3)
	if want := []float64{9, 5, 3}; !slices.Equal(got, want) {
		t.Errorf("Top = %v, want %v", got, want)
	}
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
			name:   "identical",
			params: map[string]any{"columns": []any{"a", "b"}, "bins": []any{"value", "value"}},
			real:   []*abi.Batch{batch(mt.F64("a", 1, 2, 2), mt.F64("b", 1, 2, 2))},
			syn:    []*abi.Batch{batch(mt.F64("a", 2, 1, 2), mt.F64("b", 2, 1, 2))},
			score:  "axb_tvd", want: 0,
		},
		{
			// Same marginals, swapped pairs: no cell in common.
			name:   "swapped pairs",
			params: map[string]any{"columns": []any{"a", "b"}, "bins": []any{"value", "value"}},
			real:   []*abi.Batch{batch(mt.F64("a", 1, 2), mt.F64("b", 1, 2))},
			syn:    []*abi.Batch{batch(mt.F64("a", 1, 2), mt.F64("b", 2, 1))},
			score:  "axb_tvd", want: 1,
		},
		{
			// top = 1 keeps port 80; 443 and 22 are "other". Real cells
			// (6,80) 2/3, (6,other) 1/3; synthetic ½ each:
			// ½·(|2/3−½| + |1/3−½|) = 1/6.
			name:   "top and other",
			params: map[string]any{"columns": []any{"proto", "dstport"}, "bins": []any{"value", "top"}, "top": int64(1)},
			real:   []*abi.Batch{batch(u8("proto", 6, 6), mt.U16("dstport", 80, 80)), batch(u8("proto", 6), mt.U16("dstport", 443))},
			syn:    []*abi.Batch{batch(u8("proto", 6, 6), mt.U16("dstport", 22, 80))},
			score:  "protoxdstport_tvd", want: 1.0 / 6,
		},
		{
			// Two quantile cells of the real x (cut at 2.5) and two string
			// values: real (<,a) ½, (≥,b) ½; synthetic (<,b) ½, (≥,b) ½:
			// ½·(|½−0| + |0−½| + |½−½|) = ½.
			name:   "quantile and string",
			params: map[string]any{"columns": []any{"x", "s"}, "bins": []any{"quantile", "value"}, "quantiles": int64(2)},
			real:   []*abi.Batch{batch(mt.F64("x", 1, 2, 3, 4), mt.Str("s", "a", "a", "b", "b"))},
			syn:    []*abi.Batch{batch(mt.F64("x", 0, 9), mt.Str("s", "b", "b"))},
			score:  "xxs_tvd", want: 0.5,
		},
		{
			// Flows by k: real flows a (2 records, mean 15), b (1, 30),
			// c (1, 30); synthetic x (1, 10), y (2, 30). Value cells:
			// real (2,15) ⅓, (1,30) ⅔; synthetic (1,10) ½, (2,30) ½ → TVD 1.
			name:   "flow records x mean",
			params: map[string]any{"columns": []any{"records", "len"}, "bins": []any{"value", "value"}, "flow_key": []any{"k"}},
			real:   []*abi.Batch{batch(mt.Str("k", "a", "b", "a"), mt.F64("len", 10, 30, 20)), batch(mt.Str("k", "c"), mt.F64("len", 30))},
			syn:    []*abi.Batch{batch(mt.Str("k", "x", "y", "y"), mt.F64("len", 10, 20, 40))},
			score:  "flow_recordsxlen_tvd", want: 1,
		},
		{
			// Records in two quantile cells (real counts 2,1,1: cut at 1,
			// so all land in ≥1) and the key's value: real a, b, c ⅓
			// each; synthetic b, z ½ each → ½·(⅓ + |⅓−½| + ⅓ + ½) = 2/3.
			name:   "flow key column",
			params: map[string]any{"columns": []any{"records", "k"}, "bins": []any{"quantile", "value"}, "flow_key": []any{"k"}, "quantiles": int64(2)},
			real:   []*abi.Batch{batch(mt.Str("k", "a", "b", "a", "c"))},
			syn:    []*abi.Batch{batch(mt.Str("k", "b", "z"))},
			score:  "flow_recordsxk_tvd", want: 2.0 / 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mt.Run("joint", tt.params, tt.real, tt.syn)
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := got.Values[tt.score]; !ok || math.Abs(v-tt.want) > 1e-12 {
				t.Errorf("%s = %v (present %v), want %v; all %v", tt.score, v, ok, tt.want, got.Values)
			}
			if _, ok := got.Naive[tt.score]; !ok {
				t.Errorf("no naive score for %s: %v", tt.score, got.Naive)
			}
			if len(got.Series) != 1 || len(got.Series[0].Labels) == 0 {
				t.Errorf("want one labelled histogram, got %+v", got.Series)
			}
		})
	}
}

// TestNaive: columns that are copies of each other over 100 values have a
// joint distribution on the diagonal; an independent sampler almost never
// lands there, so its TVD is close to 1, while a model that keeps the
// diagonal scores 0.
func TestNaive(t *testing.T) {
	v := make([]float64, 1000)
	for i := range v {
		v[i] = float64(i % 100)
	}
	b := batch(mt.F64("a", v...), mt.F64("b", v...))
	got, err := mt.Run("joint", map[string]any{"columns": []any{"a", "b"}, "bins": []any{"value", "value"}}, []*abi.Batch{b}, []*abi.Batch{b})
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Values["axb_tvd"]; s != 0 {
		t.Errorf("score %v, want 0", s)
	}
	// Expected naive TVD: 1 − (share on the diagonal) ≈ 1 − 1/100 less
	// sampling noise; a sampler that copied rows whole would score ≈ 0.
	if n := got.Naive["axb_tvd"]; n < 0.95 || n > 1 {
		t.Errorf("naive %v, want about 0.99", n)
	}
	off, err := mt.Run("joint", map[string]any{"columns": []any{"a", "b"}, "bins": []any{"value", "value"}, "naive_draws": int64(0)}, []*abi.Batch{b}, []*abi.Batch{b})
	if err != nil {
		t.Fatal(err)
	}
	if off.Naive != nil {
		t.Errorf("naive_draws 0 still gives %v", off.Naive)
	}
}

func TestErrors(t *testing.T) {
	ok := []*abi.Batch{batch(mt.F64("a", 1), mt.F64("b", 1), mt.Str("s", "x"))}
	tests := []struct {
		name      string
		params    map[string]any
		real, syn []*abi.Batch
		want      string
	}{
		{"one column", map[string]any{"columns": []any{"a"}, "bins": []any{"value"}}, ok, ok, "want 2 to 4"},
		{"bins length", map[string]any{"columns": []any{"a", "b"}, "bins": []any{"value"}}, ok, ok, "1 entries for 2 columns"},
		{"bad bin", map[string]any{"columns": []any{"a", "b"}, "bins": []any{"value", "log"}}, ok, ok, `bins[1] = "log"`},
		{"records without key", map[string]any{"columns": []any{"records", "b"}, "bins": []any{"value", "value"}}, ok, ok, "needs flow_key"},
		{"missing column", map[string]any{"columns": []any{"a", "zz"}, "bins": []any{"value", "value"}}, ok, ok, `no column "zz"`},
		{"string mean", map[string]any{"columns": []any{"records", "s"}, "bins": []any{"value", "value"}, "flow_key": []any{"a"}}, ok, ok, "per-flow mean needs numbers"},
		{"empty synthetic", map[string]any{"columns": []any{"a", "b"}, "bins": []any{"value", "value"}}, ok, nil, "1 real and 0 synthetic rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mt.Run("joint", tt.params, tt.real, tt.syn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
