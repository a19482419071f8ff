package audit

import (
	"flag"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/metrictest"
	"github.com/netshare/netshare/builtin/metric/internal/ml"
	"github.com/netshare/netshare/builtin/metric/internal/ml/mltest"
)

var table = flag.Bool("downstream.table", false, "print the audit table for docs/downstream.md")

// records draws n flow records from one fixed distribution; different
// seeds give independent samples of it (continuous td, so two samples
// share no whole record by chance).
func records(n int, seed uint64) *abi.Batch {
	rng := ml.NewRand(seed)
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4}, {Name: "dstip", Type: abi.TypeIPv4},
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16},
		{Name: "proto", Type: abi.TypeU8}, {Name: "td", Type: abi.TypeF64}, {Name: "pkt", Type: abi.TypeI64},
	}}
	for range n {
		b.Columns[0].U32 = append(b.Columns[0].U32, 0x0a000000+uint32(rng.IntN(50)))
		b.Columns[1].U32 = append(b.Columns[1].U32, 0xc0a80000+uint32(rng.IntN(20)))
		b.Columns[2].U16 = append(b.Columns[2].U16, uint16(1024+rng.IntN(60000)))
		b.Columns[3].U16 = append(b.Columns[3].U16, []uint16{53, 80, 443}[rng.IntN(3)])
		b.Columns[4].U8 = append(b.Columns[4].U8, []uint8{6, 17}[rng.IntN(2)])
		b.Columns[5].F64 = append(b.Columns[5].F64, rng.ExpFloat64())
		b.Columns[6].I64 = append(b.Columns[6].I64, int64(1+rng.IntN(30)))
	}
	return b
}

func run(t *testing.T, params map[string]any, real, syn *abi.Batch) map[string]float64 {
	t.Helper()
	s, err := metrictest.Run("audit", params, []*abi.Batch{real}, []*abi.Batch{syn})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s = %v", k, v)
		}
	}
	return s.Values
}

// A synthetic set that is the training data itself fails every check.
func TestCopyOfTrainingDataIsFlagged(t *testing.T) {
	tagged, train := mltest.Split(records(3000, 1), 0.3, 2)
	v := run(t, nil, tagged, train)
	want := map[string]float64{
		"audit.exact_copy.tuple_rate": 1, "audit.exact_copy.record_rate": 1, "audit.exact_copy.flag": 1,
		"audit.dcr.available": 1, "audit.dcr.syn_zero_share": 1, "audit.dcr.syn_p5": 0, "audit.dcr.flag": 1,
		"audit.mia.flag": 1, "audit.flag": 1, "audit.train_rows": 2100, "audit.holdout_rows": 900,
	}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %v, want %v", k, v[k], w)
		}
	}
	if v["audit.mia.advantage"] < 0.95 {
		t.Errorf("attack advantage %v against a copy of the training data, want ≈ 1", v["audit.mia.advantage"])
	}
}

// An independent sample of the same distribution copies nothing beyond
// chance, sits as far from the training data as the holdout does, and
// leaves the attack no advantage.
func TestIndependentSamplePasses(t *testing.T) {
	tagged, _ := mltest.Split(records(3000, 1), 0.3, 2)
	v := run(t, nil, tagged, records(3000, 3))
	if v["audit.exact_copy.record_rate"] != 0 {
		t.Errorf("record copy rate %v for an independent sample", v["audit.exact_copy.record_rate"])
	}
	if r, c := v["audit.exact_copy.tuple_rate"], v["audit.exact_copy.tuple_chance"]; math.Abs(r-c) > 0.02 {
		t.Errorf("5-tuple copy rate %v, chance %v; want them close", r, c)
	}
	if a := v["audit.mia.advantage"]; a > v["audit.mia.critical"] {
		t.Errorf("attack advantage %v above the KS critical value %v", a, v["audit.mia.critical"])
	}
	for _, k := range []string{"audit.exact_copy.flag", "audit.dcr.flag", "audit.mia.flag", "audit.flag"} {
		if v[k] != 0 {
			t.Errorf("%s = %v, want 0", k, v[k])
		}
	}
}

// Chance by hand: the key is one column with training values 1, 1, 2, 3
// (N = 4). A synthetic 1 is matched by one random record with P = ½, by
// one of four with 1 − ½⁴ = 0.9375; a synthetic 9 never is. Mean: 0.46875.
func TestChanceRate(t *testing.T) {
	real := &abi.Batch{Columns: []abi.Column{{Name: "a", Type: abi.TypeU16, U16: []uint16{1, 1, 2, 3}}}}
	syn := &abi.Batch{Columns: []abi.Column{{Name: "a", Type: abi.TypeU16, U16: []uint16{1, 9}}}}
	v := run(t, map[string]any{"key": []any{"a"}, "features": []any{"a"}}, real, syn)
	if got := v["audit.exact_copy.tuple_chance"]; math.Abs(got-0.46875) > 1e-12 {
		t.Errorf("chance %v, want 0.46875", got)
	}
	if v["audit.exact_copy.tuple_rate"] != 0.5 || v["audit.exact_copy.record_rate"] != 0.5 {
		t.Errorf("rates %v, %v; want ½ (the 1 is copied, the 9 is not)", v["audit.exact_copy.tuple_rate"], v["audit.exact_copy.record_rate"])
	}
	if v["audit.dcr.available"] != 0 || v["audit.mia.available"] != 0 {
		t.Errorf("DCR and attack reported available without a holdout")
	}
}

func TestAdvantage(t *testing.T) {
	for _, tc := range []struct {
		m, n     []float64
		adv, thr float64
	}{
		{[]float64{0, 0, 0, 0}, []float64{1, 2, 3, 4}, 1, 0},
		{[]float64{1, 2, 3, 4}, []float64{1, 2, 3, 4}, 0, 0},
		// Members {0.1, 0.5, 2, 3}, non-members {1, 1.5, 2.5, 4}: at τ = 0.5
		// TPR ½, FPR 0.
		{[]float64{0.1, 0.5, 2, 3}, []float64{1, 1.5, 2.5, 4}, 0.5, 0.5},
	} {
		adv, thr := bestAdvantage(tc.m, tc.n)
		if adv != tc.adv || thr != tc.thr {
			t.Errorf("bestAdvantage(%v, %v) = %v at %v, want %v at %v", tc.m, tc.n, adv, thr, tc.adv, tc.thr)
		}
	}
}

func TestErrors(t *testing.T) {
	good := records(50, 1)
	bad := &abi.Batch{Columns: append(append([]abi.Column(nil), good.Columns...), abi.Column{Name: abi.SplitColumn, Type: abi.TypeU8, U8: make([]uint8, 50)})}
	bad.Columns[len(bad.Columns)-1].U8[9] = 5
	for _, tc := range []struct {
		name      string
		params    map[string]any
		real, syn *abi.Batch
		want      string
	}{
		{"split value", nil, bad, good, "row 9: _split is 5"},
		{"column missing", nil, good, &abi.Batch{Columns: good.Columns[1:]}, `synthetic batch 1 has no column "srcip"`},
		{"key missing", map[string]any{"key": []any{"vlan"}}, good, good, `no key column "vlan"`},
		{"limits", map[string]any{"max_query": 3}, good, good, "max_query 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metrictest.Run("audit", tc.params, []*abi.Batch{tc.real}, []*abi.Batch{tc.syn})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// CTU-Normal-43 with a 30% holdout: an independent-marginals sample of the
// training part passes the copy and attack checks; the training part
// itself fails them.
func TestRealTraceCTU(t *testing.T) {
	real := mltest.Read(t, "flows/ctu50_CTU-Normal-43_day1_zeek-conn.log.labeled", "zeek-conn", nil)
	tagged, train := mltest.Split(real, 0.3, 1)
	indep := run(t, nil, tagged, mltest.Independent(train, train.Len(), 2))
	copied := run(t, nil, tagged, train)
	if indep["audit.mia.flag"] != 0 || indep["audit.exact_copy.flag"] != 0 {
		t.Errorf("independent marginals flagged: copy %v, attack %v (advantage %v)", indep["audit.exact_copy.flag"], indep["audit.mia.flag"], indep["audit.mia.advantage"])
	}
	if copied["audit.mia.flag"] != 1 || copied["audit.exact_copy.flag"] != 1 || copied["audit.dcr.flag"] != 1 {
		t.Errorf("copy of the training data not flagged: %v", copied)
	}
	if *table {
		fmt.Println(Table(map[string]map[string]float64{"independent marginals": indep, "training data copied": copied}, "audit"))
	}
}

// Table renders the scores of several synthetic sets as
// docs/downstream.md shows them.
func Table(runs map[string]map[string]float64, p string) string {
	names := []string{"independent marginals", "training data copied"}
	var b strings.Builder
	fmt.Fprintf(&b, "| value | %s |\n|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	for _, k := range []string{"exact_copy.tuple_rate", "exact_copy.tuple_chance", "exact_copy.tuple_rate_holdout",
		"exact_copy.record_rate", "exact_copy.record_chance", "exact_copy.record_rate_holdout", "exact_copy.flag",
		"dcr.syn_p5", "dcr.holdout_p5", "dcr.syn_median", "dcr.holdout_median", "dcr.syn_share_below_holdout_p5",
		"dcr.holdout_share_below_holdout_p5", "dcr.flag", "mia.advantage", "mia.critical", "mia.flag", "flag"} {
		fmt.Fprintf(&b, "| %s.%s |", p, k)
		for _, n := range names {
			fmt.Fprintf(&b, " %.4g |", runs[n][p+"."+k])
		}
		b.WriteString("\n")
	}
	return b.String()
}
