package classify

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

var table = flag.Bool("downstream.table", false, "print the classify table for docs/downstream.md")

// flows builds n flow records whose label is decided by the destination
// port alone (web: 80 or 443, dns: 53, other: anything else), so any
// learner that can split on dstport is perfect.
func flows(n int, seed uint64) *abi.Batch {
	rng := ml.NewRand(seed)
	var dport, sport []uint16
	var pkt, byt []int64
	var td []float64
	var labels []string
	for range n {
		var p uint16
		var l string
		switch rng.IntN(3) {
		case 0:
			p, l = []uint16{80, 443}[rng.IntN(2)], "web"
		case 1:
			p, l = 53, "dns"
		default:
			p, l = uint16(1024+rng.IntN(60000)), "other"
		}
		dport = append(dport, p)
		sport = append(sport, uint16(1024+rng.IntN(60000)))
		pkt = append(pkt, int64(1+rng.IntN(100)))
		byt = append(byt, int64(40+rng.IntN(100000)))
		td = append(td, rng.Float64()*10)
		labels = append(labels, l)
	}
	return &abi.Batch{Columns: []abi.Column{
		{Name: "srcport", Type: abi.TypeU16, U16: sport},
		{Name: "dstport", Type: abi.TypeU16, U16: dport},
		{Name: "td", Type: abi.TypeF64, F64: td},
		{Name: "pkt", Type: abi.TypeI64, I64: pkt},
		{Name: "byt", Type: abi.TypeI64, I64: byt},
		metrictest.Str("type", labels...),
	}}
}

func TestSeparableLabelsArePerfect(t *testing.T) {
	real, syn := flows(1500, 1), flows(1500, 2)
	s, err := metrictest.Run("classify", nil, []*abi.Batch{real}, []*abi.Batch{syn})
	if err != nil {
		t.Fatal(err)
	}
	v := s.Values
	for _, l := range []string{"tree", "forest", "boost"} {
		for _, side := range []string{"real", "syn"} {
			if got := v["classify."+l+".accuracy_"+side]; got != 1 {
				t.Errorf("%s accuracy_%s = %v, want 1 (the label is a function of dstport)", l, side, got)
			}
		}
	}
	if got := v["classify.rows_test"]; got != 450 {
		t.Errorf("rows_test = %v, want 30%% of 1500", got)
	}
	if got := v["classify.majority.accuracy_real"]; got > 0.45 {
		t.Errorf("majority accuracy %v on three balanced classes", got)
	}
	if v["classify.flag"] != 0 || v["classify.mean_gap"] > 0.05 {
		t.Errorf("synthetic data from the same rule: gap %v, flag %v; want a pass", v["classify.mean_gap"], v["classify.flag"])
	}
	if len(s.Series) != 1 || len(s.Series[0].Real) != len(ml.Learners) {
		t.Errorf("series %+v, want one accuracy histogram over the learners", s.Series)
	}
}

// Synthetic records whose labels are unrelated to the features train
// classifiers that fail on real data: the verdict must warn.
func TestShuffledLabelsWarn(t *testing.T) {
	real, syn := flows(1500, 1), flows(1500, 2)
	lab := syn.Column("type")
	rng := ml.NewRand(5)
	rng.Shuffle(len(lab.Codes), func(i, j int) { lab.Codes[i], lab.Codes[j] = lab.Codes[j], lab.Codes[i] })
	s, err := metrictest.Run("classify", map[string]any{"learners": []any{"tree", "boost"}}, []*abi.Batch{real}, []*abi.Batch{syn})
	if err != nil {
		t.Fatal(err)
	}
	v := s.Values
	if v["classify.tree.accuracy_real"] != 1 || v["classify.tree.accuracy_syn"] > 0.6 {
		t.Errorf("tree accuracy real %v, syn %v; want 1 and near chance", v["classify.tree.accuracy_real"], v["classify.tree.accuracy_syn"])
	}
	if v["classify.flag"] != 1 {
		t.Errorf("flag %v with gap %v, want 1", v["classify.flag"], v["classify.mean_gap"])
	}
}

// A _split column makes the holdout the test set.
func TestHoldoutIsTheTestSet(t *testing.T) {
	real := flows(1000, 3)
	tagged, _ := mltest.Split(real, 0.25, 9)
	s, err := metrictest.Run("classify", map[string]any{"learners": []any{"tree"}}, []*abi.Batch{tagged}, []*abi.Batch{flows(500, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Values["classify.rows_test"] != 250 || s.Values["classify.rows_train_real"] != 750 {
		t.Errorf("rows test %v, train %v; want the 250 holdout rows and the 750 others", s.Values["classify.rows_test"], s.Values["classify.rows_train_real"])
	}
}

func TestMaxRowsBoundsTheSample(t *testing.T) {
	s, err := metrictest.Run("classify", map[string]any{"learners": []any{"logreg"}, "max_rows": 200},
		[]*abi.Batch{flows(600, 1), flows(600, 2)}, []*abi.Batch{flows(900, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Values["classify.rows_train_syn"] != 200 || s.Values["classify.rows_train_real"]+s.Values["classify.rows_test"] != 200 {
		t.Errorf("rows %v; want 200 per side", s.Values)
	}
}

func TestErrors(t *testing.T) {
	good := flows(50, 1)
	noLabel := &abi.Batch{Columns: good.Columns[:5]}
	badSplit := &abi.Batch{Columns: append(append([]abi.Column(nil), good.Columns...), abi.Column{Name: abi.SplitColumn, Type: abi.TypeU8, U8: make([]uint8, 50)})}
	badSplit.Columns[len(badSplit.Columns)-1].U8[7] = 2
	nan := flows(50, 1)
	nan.Column("td").F64[3] = math.NaN()
	for _, tc := range []struct {
		name      string
		params    map[string]any
		real, syn *abi.Batch
		want      string
	}{
		{"no label column", nil, noLabel, good, "no label column"},
		{"label missing on synthetic side", nil, good, noLabel, `synthetic batch 1 has no label column "type"`},
		{"explicit feature absent", map[string]any{"features": []any{"dstport", "ttl"}}, good, good, `feature column "ttl"`},
		{"bad split", nil, badSplit, good, "row 7: _split is 2"},
		{"nan feature", nil, nan, good, `row 3: feature column "td" is NaN`},
		{"unknown learner", map[string]any{"learners": []any{"svm"}}, good, good, `unknown learner "svm"`},
		{"test fraction", map[string]any{"test_fraction": 1.0}, good, good, "test_fraction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metrictest.Run("classify", tc.params, []*abi.Batch{tc.real}, []*abi.Batch{tc.syn})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// CTU-Normal-43 (Zeek conn, 9,048 flows labelled Benign, Malicious,
// Background) against an independent-marginals sample of itself: real
// data must teach the classifiers far more than the naive sample does.
func TestRealTraceCTU(t *testing.T) {
	real := mltest.Read(t, "flows/ctu50_CTU-Normal-43_day1_zeek-conn.log.labeled", "zeek-conn", nil)
	tagged, train := mltest.Split(real, 0.3, 1)
	syn := mltest.Independent(train, train.Len(), 2)
	params := map[string]any{"label": "label"}
	if testing.Short() {
		params["learners"] = []any{"tree", "forest", "logreg"}
	}
	s, err := metrictest.Run("classify", params, []*abi.Batch{tagged}, []*abi.Batch{syn})
	if err != nil {
		t.Fatal(err)
	}
	v := s.Values
	if v["classify.forest.accuracy_real"] < v["classify.majority.accuracy_real"]+0.1 {
		t.Errorf("forest real→real %.3f barely beats the majority class %.3f", v["classify.forest.accuracy_real"], v["classify.majority.accuracy_real"])
	}
	if v["classify.forest.accuracy_syn"] > v["classify.forest.accuracy_real"]-0.05 {
		t.Errorf("forest trained on independent marginals %.3f is as good as on real %.3f", v["classify.forest.accuracy_syn"], v["classify.forest.accuracy_real"])
	}
	if *table {
		fmt.Println(Table(v, "classify"))
	}
}

// Table renders the scores as the markdown table docs/downstream.md shows.
func Table(v map[string]float64, p string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| learner | real→real | syn→real |\n|---|---|---|\n")
	for _, l := range append([]string{"majority"}, ml.Learners...) {
		if _, ok := v[p+"."+l+".accuracy_real"]; !ok {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.3f | %.3f |\n", l, v[p+"."+l+".accuracy_real"], v[p+"."+l+".accuracy_syn"])
	}
	fmt.Fprintf(&b, "\nspearman %.3f (defined %v), mean gap %.3f, flag %v, rows train real %v syn %v test %v, features %v\n",
		v[p+".spearman"], v[p+".spearman_defined"], v[p+".mean_gap"], v[p+".flag"], v[p+".rows_train_real"], v[p+".rows_train_syn"], v[p+".rows_test"], v[p+".features"])
	return b.String()
}

// UGR'16 in NetShare's CSV schema: the default label is "type" (999
// background flows, 1 blacklist), read by the netflow-csv format.
func TestRealTraceUGR16(t *testing.T) {
	real := mltest.Read(t, "flows/ugr16_netshare-small_1k.csv", "netflow-csv", nil)
	syn := mltest.Independent(real, real.Len(), 2)
	s, err := metrictest.Run("classify", map[string]any{"learners": []any{"tree", "logreg"}}, []*abi.Batch{real}, []*abi.Batch{syn})
	if err != nil {
		t.Fatal(err)
	}
	v := s.Values
	if v["classify.classes"] != 2 || v["classify.rows_test"] != 300 {
		t.Errorf("classes %v, test rows %v; want 2 (background, blacklist) and 300", v["classify.classes"], v["classify.rows_test"])
	}
	if v["classify.majority.accuracy_real"] < 0.99 || v["classify.tree.accuracy_real"] < 0.99 {
		t.Errorf("majority %v, tree %v on a 99.9%% background trace", v["classify.majority.accuracy_real"], v["classify.tree.accuracy_real"])
	}
}
