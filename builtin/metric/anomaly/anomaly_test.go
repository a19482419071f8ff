package anomaly

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
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

var table = flag.Bool("downstream.table", false, "print the anomaly table for docs/downstream.md")

// flowRecords draws n flow records with log-normal durations and sizes;
// heavy gives bytes and durations heavy (Cauchy) tails in log space
// instead, the shape detectors call anomalous.
func flowRecords(n int, seed uint64, heavy bool) *abi.Batch {
	rng := ml.NewRand(seed)
	b := &abi.Batch{Columns: []abi.Column{{Name: "td", Type: abi.TypeF64}, {Name: "pkt", Type: abi.TypeI64}, {Name: "byt", Type: abi.TypeI64}}}
	for range n {
		pkt := math.Exp(2 + 0.5*rng.NormFloat64())
		byt := pkt * math.Exp(6+0.3*rng.NormFloat64())
		td := math.Exp(rng.NormFloat64())
		if heavy {
			byt *= math.Exp(min(30, math.Abs(rng.NormFloat64()/rng.NormFloat64())))
			td *= math.Exp(min(30, math.Abs(rng.NormFloat64()/rng.NormFloat64())))
		}
		b.Columns[0].F64 = append(b.Columns[0].F64, td)
		b.Columns[1].I64 = append(b.Columns[1].I64, int64(math.Ceil(pkt)))
		b.Columns[2].I64 = append(b.Columns[2].I64, int64(math.Ceil(byt)))
	}
	return b
}

func TestIdenticalTablesScoreIdentically(t *testing.T) {
	b := flowRecords(1000, 1, false)
	s, err := metrictest.Run("anomaly", nil, []*abi.Batch{b}, []*abi.Batch{b})
	if err != nil {
		t.Fatal(err)
	}
	for _, det := range ml.Detectors {
		k := "anomaly.stats." + det + "."
		if s.Values[k+"ratio_real"] != s.Values[k+"ratio_syn"] {
			t.Errorf("%s: ratio real %v, synthetic %v on one table", det, s.Values[k+"ratio_real"], s.Values[k+"ratio_syn"])
		}
	}
	if s.Values["anomaly.flag"] != 0 || s.Values["anomaly.mean_relerr"] != 0 {
		t.Errorf("flag %v, mean relerr %v; want a pass", s.Values["anomaly.flag"], s.Values["anomaly.mean_relerr"])
	}
	if _, ok := s.Values["anomaly.iat.iforest.ratio_real"]; ok {
		t.Errorf("IAT mode scored on flow records")
	}
}

// A synthetic table with heavy upper tails in bytes and duration has more
// anomalies than the log-normal real one. Detectors fitted on it adapt to
// it (LOF's density is relative to the neighbours, which the tail also
// thins), so only the fixed-line detectors must rise; the verdict warns.
func TestHeavyTailsWarn(t *testing.T) {
	s, err := metrictest.Run("anomaly", nil, []*abi.Batch{flowRecords(1500, 1, false)}, []*abi.Batch{flowRecords(1500, 2, true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, det := range []string{"iforest", "mahalanobis"} {
		k := "anomaly.stats." + det + "."
		if r, sy := s.Values[k+"ratio_real"], s.Values[k+"ratio_syn"]; sy < r+0.01 {
			t.Errorf("%s: ratio real %.3f, synthetic %.3f; want the heavy tails visible", det, r, sy)
		}
	}
	if s.Values["anomaly.flag"] != 1 {
		t.Errorf("flag %v; want a warning", s.Values["anomaly.flag"])
	}
}

// Packets of one flow at 0, 10 and 30 µs of 100, 200 and 300 bytes, fed
// out of order: the IAT, SIZE and STATS rows are computable by hand.
func TestPacketFeatures(t *testing.T) {
	params := sdktest.Params(t, abi.KindMetric, "anomaly", map[string]any{"dim": 3})
	mi, err := New(sdk.Env{Params: params})
	if err != nil {
		t.Fatal(err)
	}
	m := mi.(*Metric)
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: []int64{30, 0, 10}},
		{Name: "pkt_len", Type: abi.TypeU16, U16: []uint16{300, 100, 200}},
		{Name: abi.FlowColumn, Type: abi.TypeU32, U32: []uint32{7, 7, 7}},
	}}
	if err := m.AddReal(b); err != nil {
		t.Fatal(err)
	}
	check := func(mode string, want []float64) {
		t.Helper()
		got := m.features(&m.real, mode, 1)
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", mode, got, want)
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-9 {
				t.Errorf("%s feature %d: %v, want %v", mode, i, got[i], want[i])
			}
		}
	}
	check(ModeIAT, []float64{math.Log1p(10), math.Log1p(20), 0})
	check(ModeSize, []float64{100, 200, 300})
	dur := 30e-6
	im := (math.Log1p(10) + math.Log1p(20)) / 2
	isd := math.Abs(math.Log1p(20)-math.Log1p(10)) / 2
	check(ModeStats, []float64{math.Log1p(dur), math.Log1p(3), math.Log1p(600), math.Log1p(3 / 1e-3), math.Log1p(600 / 1e-3),
		200, math.Sqrt(20000.0 / 3), 100, 300, im, isd})
}

func TestErrors(t *testing.T) {
	good := flowRecords(100, 1, false)
	neg := flowRecords(100, 1, false)
	neg.Columns[0].F64[4] = -1
	pkts := &abi.Batch{Columns: []abi.Column{{Name: "ts", Type: abi.TypeTime, I64: []int64{1}}, {Name: "pkt_len", Type: abi.TypeU16, U16: []uint16{1}}}}
	for _, tc := range []struct {
		name      string
		params    map[string]any
		real, syn *abi.Batch
		want      string
	}{
		{"no sizes", nil, &abi.Batch{Columns: good.Columns[:2]}, good, "need td, pkt and byt"},
		{"negative", nil, neg, good, "row 4: td -1"},
		{"mixed", nil, good, pkts, "packet and flow records mixed"},
		{"few flows", nil, flowRecords(5, 1, false), good, "5 real and 100 synthetic flows"},
		{"no mode applies", map[string]any{"modes": []any{"iat"}}, good, good, "none of the modes"},
		{"bad mode", map[string]any{"modes": []any{"bytes"}}, good, good, `unknown mode "bytes"`},
		{"bad detector", map[string]any{"detectors": []any{"ocsvm"}}, good, good, `unknown detector "ocsvm"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metrictest.Run("anomaly", tc.params, []*abi.Batch{tc.real}, []*abi.Batch{tc.syn})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRealTraces(t *testing.T) {
	for _, tc := range []struct{ rel, format string }{
		{"flows/ctu50_CTU-Normal-43_day1_zeek-conn.log.labeled", "zeek-conn"},
		{"pcap/cicddos2019_synflood_lucid-sample.pcap", "pcap"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			real := mltest.Read(t, tc.rel, tc.format, nil)
			syn := mltest.Independent(real, real.Len(), 3)
			s, err := metrictest.Run("anomaly", nil, []*abi.Batch{real}, []*abi.Batch{syn})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range s.Values {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s = %v", k, v)
				}
			}
			if *table {
				fmt.Printf("%s (%v flows real, %v synthetic)\n%s\n", tc.rel, s.Values["anomaly.flows_real"], s.Values["anomaly.flows_syn"], Table(s.Values, "anomaly"))
			}
		})
	}
}

// Table renders the scores as docs/downstream.md shows them.
func Table(v map[string]float64, p string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| mode | detector | ratio real | ratio syn | relerr |\n|---|---|---|---|---|\n")
	for _, mode := range []string{ModeIAT, ModeSize, ModeStats} {
		for _, det := range ml.Detectors {
			k := p + "." + mode + "." + det + "."
			if _, ok := v[k+"ratio_real"]; ok {
				fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | %.2f |\n", mode, det, v[k+"ratio_real"], v[k+"ratio_syn"], v[k+"relerr"])
			}
		}
	}
	fmt.Fprintf(&b, "\nspearman %.2f (defined %v), mean relerr %.2f, flag %v\n", v[p+".spearman"], v[p+".spearman_defined"], v[p+".mean_relerr"], v[p+".flag"])
	return b.String()
}
