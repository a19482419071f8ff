package flowiat

import (
	"math"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	mt "github.com/netshare/netshare/builtin/metric/internal/metrictest"
)

func recs(keys []string, ts ...int64) *abi.Batch {
	return &abi.Batch{Columns: []abi.Column{mt.Str("k", keys...), {Name: "ts", Type: abi.TypeTime, I64: ts}}}
}

func TestScores(t *testing.T) {
	p := map[string]any{"key": []any{"k"}}
	tests := []struct {
		name      string
		real, syn []*abi.Batch
		want      float64
	}{
		{
			// Real flow a at 0, 10, 30 (out of order, over two batches):
			// gaps 10, 20; b has one record, no gap. Synthetic gaps 15, 15.
			// scipy: wasserstein_distance([10, 20], [15, 15]) = 5.0.
			name: "gaps",
			real: []*abi.Batch{recs([]string{"a", "b", "a"}, 30, 5, 0), recs([]string{"a"}, 10)},
			syn:  []*abi.Batch{recs([]string{"x", "x", "x"}, 0, 15, 30)},
			want: 5,
		},
		{
			// No synthetic flow has two records: one gap of 0, so the
			// score is the mean real gap, (10 + 20) / 2.
			name: "no synthetic gap",
			real: []*abi.Batch{recs([]string{"a", "a", "a"}, 0, 10, 30)},
			syn:  []*abi.Batch{recs([]string{"x", "y"}, 0, 15)},
			want: 15,
		},
		{
			// Interleaved flows: a at 0, 4; b at 1, 3 → gaps 4, 2, the same
			// as one flow at 0, 2, 6: wasserstein_distance([4,2],[2,4]) = 0.
			name: "interleaved",
			real: []*abi.Batch{recs([]string{"a", "b", "b", "a"}, 0, 1, 3, 4)},
			syn:  []*abi.Batch{recs([]string{"y", "y", "y"}, 0, 2, 6)},
			want: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mt.Run("flow-iat", p, tt.real, tt.syn)
			if err != nil {
				t.Fatal(err)
			}
			if v := got.Values["flow_iat_emd"]; math.Abs(v-tt.want) > 1e-12 {
				t.Errorf("flow_iat_emd = %v, want %v", v, tt.want)
			}
			if len(got.Series) != 1 {
				t.Errorf("want one CDF series, got %d", len(got.Series))
			}
		})
	}
}

func TestErrors(t *testing.T) {
	p := map[string]any{"key": []any{"k"}}
	one := []*abi.Batch{recs([]string{"a", "b"}, 0, 1)}
	two := []*abi.Batch{recs([]string{"a", "a"}, 0, 1)}
	if _, err := mt.Run("flow-iat", p, one, two); err == nil || !strings.Contains(err.Error(), "no real flow has two records (2 real flows)") {
		t.Errorf("single-record flows: error %v", err)
	}
	if _, err := mt.Run("flow-iat", map[string]any{"key": []any{"k"}, "column": "nope"}, two, two); err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Errorf("missing column: error %v", err)
	}
	if _, err := mt.Run("flow-iat", map[string]any{"key": []any{}}, two, two); err == nil || !strings.Contains(err.Error(), "names no columns") {
		t.Errorf("empty key: error %v", err)
	}
}
