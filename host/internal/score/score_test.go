package score

import (
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/internal/shareddata"
)

var (
	hostOnce sync.Once
	testHost *plugin.Host
	hostErr  error
)

// host returns one plugin host shared by the package's tests: loading the
// builtin module is the expensive part. Compiled code is cached across runs.
func host(t testing.TB) *plugin.Host {
	t.Helper()
	hostOnce.Do(func() {
		testHost, hostErr = plugin.NewHost(context.Background(), plugin.Options{CacheDir: filepath.Join(os.TempDir(), "netshare-test-wazero-cache")})
	})
	if hostErr != nil {
		t.Fatal(hostErr)
	}
	return testHost
}

var protoNumbers = map[string]uint8{"TCP": 6, "UDP": 17, "ICMP": 1, "GRE": 47, "ESP": 50, "IPIP": 4, "IPv6": 41}

// readUGR parses NetShare's small UGR16 NetFlow CSV into the canonical
// flow columns. It is deliberately independent of the format plugins, so
// that this test checks only the metrics.
func readUGR(t testing.TB, path string) *abi.Batch {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4}, {Name: "dstip", Type: abi.TypeIPv4},
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16},
		{Name: "proto", Type: abi.TypeU8}, {Name: "ts", Type: abi.TypeTime},
		{Name: "td", Type: abi.TypeF64}, {Name: "pkt", Type: abi.TypeI64}, {Name: "byt", Type: abi.TypeI64},
		{Name: "type", Type: abi.TypeString},
	}}
	c := func(n string) *abi.Column { return b.Column(n) }
	types := map[string]uint32{}
	for i, r := range recs[1:] {
		num := func(k int) float64 {
			v, err := strconv.ParseFloat(r[k], 64)
			if err != nil {
				t.Fatalf("%s row %d column %d: %v", path, i+2, k+1, err)
			}
			return v
		}
		c("srcip").U32 = append(c("srcip").U32, uint32(num(0)))
		c("dstip").U32 = append(c("dstip").U32, uint32(num(1)))
		c("srcport").U16 = append(c("srcport").U16, uint16(num(2)))
		c("dstport").U16 = append(c("dstport").U16, uint16(num(3)))
		p, ok := protoNumbers[r[4]]
		if !ok {
			p = 255
		}
		c("proto").U8 = append(c("proto").U8, p)
		c("ts").I64 = append(c("ts").I64, int64(num(5)))
		c("td").F64 = append(c("td").F64, num(6))
		c("pkt").I64 = append(c("pkt").I64, int64(num(7)))
		c("byt").I64 = append(c("byt").I64, int64(num(8)))
		code, ok := types[r[9]]
		if !ok {
			code = uint32(len(types))
			types[r[9]] = code
			c("type").Dict = append(c("type").Dict, r[9])
		}
		c("type").Codes = append(c("type").Codes, code)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	return b
}

func rows(b *abi.Batch, lo, hi int) *abi.Batch {
	idx := make([]int32, hi-lo)
	for i := range idx {
		idx[i] = int32(lo + i)
	}
	return b.Take(idx)
}

// TestUGR16AgainstScipy scores the second half of NetShare's UGR16 sample
// against its first half with the default flow metrics, through the Wasm
// module, and compares with values computed independently by Python with
// scipy 1.10 (scipy.stats.wasserstein_distance and
// scipy.spatial.distance.jensenshannon(p, q)**2), following NetShare's
// dist_metrics: rank JSD for IPs, JSD over 0..65535 for ports and 0..255
// for protocols, EMD of ts − min(ts) and of raw td/pkt/byt.
func TestUGR16AgainstScipy(t *testing.T) {
	all := readUGR(t, shareddata.Path(t, "flows/ugr16_netshare-small_1k.csv"))
	real, syn := rows(all, 0, 500), rows(all, 500, all.Len())
	metrics, err := DefaultMetrics(real)
	if err != nil {
		t.Fatal(err)
	}
	// The joint metrics are checked against joint.py in joint_test.go.
	metrics = slices.DeleteFunc(metrics, func(m Metric) bool { return m.Name == "joint" })
	want := map[string]float64{
		"srcip_rank_jsd":       0.02008196700417975,
		"dstip_rank_jsd":       0.01128381276114064,
		"srcport_jsd":          0.30795571513770514,
		"dstport_jsd":          0.12169195939216111,
		"proto_jsd":            0.012325881944904563,
		"ts_emd":               10903032.0,
		"td_emd":               11.349976000000002,
		"pkt_emd":              889.3720000000008,
		"byt_emd":              439091.4840000004,
		"records_per_flow_emd": 0.004081232858822004,
		"type_jsd":             0.0006936476811440852,
	}
	for _, batchRows := range []int{0, 37} { // one call per side, and many
		res, err := Run(context.Background(), host(t), real, syn, metrics, Options{BatchRows: batchRows})
		if err != nil {
			t.Fatal(err)
		}
		got := res.Values()
		if len(got) != len(want) {
			t.Errorf("batch rows %d: got scores %v, want %v", batchRows, slices.Sorted(mapsKeys(got)), slices.Sorted(mapsKeys(want)))
		}
		for name, w := range want {
			g, ok := got[name]
			if !ok || math.Abs(g-w) > 1e-9*max(1, math.Abs(w)) {
				t.Errorf("batch rows %d: %s = %.17g, want %.17g", batchRows, name, g, w)
			}
		}
		for _, s := range res.Scores {
			if len(s.Series) != 1 || len(s.Series[0].X) == 0 || len(s.Series[0].X) > 201 || s.Description == "" {
				t.Errorf("%s: %d series (first with %d points), description %q", s.Name, len(s.Series), len(s.Series[0].X), s.Description)
			}
		}
	}
}

func mapsKeys(m map[string]float64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestDefaultMetrics(t *testing.T) {
	col := func(name string, typ abi.Type) abi.Column { return abi.Column{Name: name, Type: typ} }
	tuple := []abi.Column{col("srcip", abi.TypeIPv4), col("dstip", abi.TypeIPv4), col("srcport", abi.TypeU16), col("dstport", abi.TypeU16), col("proto", abi.TypeU8)}
	tests := []struct {
		name string
		cols []abi.Column
		want []string // component:name-or-column
		err  string
	}{
		{"packets", append(slices.Clone(tuple), col("ts", abi.TypeTime), col("pkt_len", abi.TypeU16), col("ttl", abi.TypeU8)),
			[]string{"jsd:srcip", "jsd:dstip", "jsd:srcport", "jsd:dstport", "jsd:proto", "emd:pkt_len", "emd:time_emd", "flow-size:flow_size_emd",
				"joint:protoxdstport", "joint:dstportxpkt_len", "joint:srcportxdstport", "joint:protoxdstportxpkt_len", "joint:flow_recordsxpkt_len", "joint:flow_dstportxrecords"}, ""},
		{"packets, a flow of two", packetsOfFlows(1, 1, 2),
			[]string{"jsd:srcip", "jsd:dstip", "jsd:srcport", "jsd:dstport", "jsd:proto", "emd:pkt_len", "emd:time_emd", "flow-size:flow_size_emd", "flow-iat:",
				"joint:protoxdstport", "joint:dstportxpkt_len", "joint:srcportxdstport", "joint:protoxdstportxpkt_len", "joint:flow_recordsxpkt_len", "joint:flow_dstportxrecords"}, ""},
		{"packets without a 5-tuple", []abi.Column{col("dstport", abi.TypeU16), col("pkt_len", abi.TypeU16)},
			[]string{"jsd:dstport", "emd:pkt_len", "joint:dstportxpkt_len"}, ""},
		{"flows with labels", append(slices.Clone(tuple), col("ts", abi.TypeTime), col("td", abi.TypeF64), col("pkt", abi.TypeI64), col("byt", abi.TypeI64), col("type", abi.TypeString), col("label", abi.TypeString)),
			[]string{"jsd:srcip", "jsd:dstip", "jsd:srcport", "jsd:dstport", "jsd:proto", "emd:ts", "emd:td", "emd:pkt", "emd:byt", "flow-size:records_per_flow_emd", "jsd:type", "jsd:label",
				"joint:protoxdstport", "joint:dstportxpkt", "joint:pktxbyt", "joint:tdxpkt", "joint:srcportxdstport", "joint:protoxdstportxbyt"}, ""},
		{"flows without a 5-tuple", []abi.Column{col("srcip", abi.TypeIPv4), col("pkt", abi.TypeI64)},
			[]string{"jsd:srcip", "emd:pkt"}, ""},
		{"neither", []abi.Column{col("srcip", abi.TypeIPv4)}, nil, "neither pkt_len"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := DefaultMetrics(&abi.Batch{Columns: tt.cols})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				id, _ := m.Params["name"].(string)
				if id == "" {
					id, _ = m.Params["column"].(string)
				}
				if m.Name == "joint" {
					id = strings.Join(anyStrings(m.Params["columns"]), "x")
					if m.Params["flow_key"] != nil {
						id = "flow_" + id
					}
				}
				got = append(got, m.Name+":"+id)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// packetsOfFlows builds packet columns with one row per value of srcips
// (the flow key; the rest of the 5-tuple is fixed).
func packetsOfFlows(srcips ...uint32) []abi.Column {
	n := len(srcips)
	return []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4, U32: srcips}, {Name: "dstip", Type: abi.TypeIPv4, U32: make([]uint32, n)},
		{Name: "srcport", Type: abi.TypeU16, U16: make([]uint16, n)}, {Name: "dstport", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "proto", Type: abi.TypeU8, U8: make([]uint8, n)}, {Name: "ts", Type: abi.TypeTime, I64: make([]int64, n)},
		{Name: "pkt_len", Type: abi.TypeU16, U16: make([]uint16, n)},
	}
}

func TestRunErrors(t *testing.T) {
	b := &abi.Batch{Columns: []abi.Column{{Name: "td", Type: abi.TypeF64, F64: []float64{1, 2}}}}
	empty := &abi.Batch{Columns: []abi.Column{{Name: "td", Type: abi.TypeF64}}}
	emdTD := Metric{Name: "emd", Params: map[string]any{"column": "td"}}
	tests := []struct {
		name      string
		real, syn *abi.Batch
		metrics   []Metric
		want      string
	}{
		{"no metrics", b, b, nil, "no metrics"},
		{"empty synthetic", b, empty, []Metric{emdTD}, "synthetic table has no records"},
		{"unknown component", b, b, []Metric{{Name: "emdd"}}, `no metric named "emdd" (did you mean "emd"?)`},
		{"bad params", b, b, []Metric{{Name: "emd", Params: map[string]any{"columns": "td"}}}, `metric 1 (emd(columns=td))`},
		{"duplicate names", b, b, []Metric{emdTD, emdTD}, `both return a score named "td_emd"`},
		{"missing column", b, b, []Metric{emdTD, {Name: "emd", Params: map[string]any{"column": "pkt"}}}, `metric 2 (emd(column=pkt)): rows 0–1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), host(t), tt.real, tt.syn, tt.metrics, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestChooseByRankSum(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		cands []map[string]float64
		best  int
		sums  []float64
		err   string
	}{
		{
			// a ranks 1,2,3; b ranks 3,1,2: sums 4,3,5 → candidate 1.
			name:  "plain",
			cands: []map[string]float64{{"a": 0.1, "b": 9}, {"a": 0.2, "b": 1}, {"a": 0.3, "b": 5}},
			best:  1, sums: []float64{4, 3, 5},
		},
		{
			// a: 0 and 1 tie for ranks 1–2 (1.5 each), 2 ranks 3;
			// b: 0 and 1 tie for ranks 2–3 (2.5 each), 2 ranks 1.
			// Sums 4, 4, 4: the earliest wins.
			name:  "ties go to the earliest",
			cands: []map[string]float64{{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 3, "b": 1}},
			best:  0, sums: []float64{4, 4, 4},
		},
		{
			// NaN ranks last: a ranks 3,1,2; b ranks 1,2,3 → sums 4,3,5.
			name:  "NaN is worst",
			cands: []map[string]float64{{"a": nan, "b": 0}, {"a": 5, "b": 1}, {"a": 7, "b": 2}},
			best:  1, sums: []float64{4, 3, 5},
		},
		{name: "none", err: "no candidates"},
		{name: "mismatch", cands: []map[string]float64{{"a": 1}, {"b": 1}}, err: `candidate 1 has no score "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := ChooseByRankSum(tt.cands)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Best != tt.best || !slices.Equal(ch.RankSums, tt.sums) {
				t.Errorf("best %d sums %v, want %d %v", ch.Best, ch.RankSums, tt.best, tt.sums)
			}
		})
	}
}

// TestChooseByScores: the mean log score counts metrics alike whatever
// their scale, ignores differences below the floor, and copying flow keys
// beyond chance costs.
func TestChooseByScores(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		cands  []map[string]float64
		floor  map[string]float64
		copies []CopyRate
		best   int
		err    string
	}{
		{
			// Rank sums tie (3, 3: a rank sum would keep the earliest);
			// halving a beats b's 1% gain.
			name:  "magnitude counts, scale does not",
			cands: []map[string]float64{{"a": 2e6, "b": 0.00099}, {"a": 1e6, "b": 0.001}},
			best:  1,
		},
		{
			name:  "same with the scales swapped",
			cands: []map[string]float64{{"a": 2e-6, "b": 990}, {"a": 1e-6, "b": 1000}},
			best:  1,
		},
		{
			// a's difference is far below its floor; b decides.
			name:  "below the floor does not count",
			cands: []map[string]float64{{"a": 0.001, "b": 0.5}, {"a": 0.002, "b": 0.4}},
			floor: map[string]float64{"a": 1, "b": 0.01},
			best:  1,
		},
		{
			name:   "copies beyond chance cost",
			cands:  []map[string]float64{{"a": 1}, {"a": 1.2}},
			copies: []CopyRate{{Rate: 0.2, Chance: 0.01, Records: 1000}, {Rate: 0.01, Chance: 0.01, Records: 1000}},
			best:   1,
		},
		{
			name:   "copies at chance cost nothing",
			cands:  []map[string]float64{{"a": 1}, {"a": 1.2}},
			copies: []CopyRate{{Rate: 0.01, Chance: 0.01, Records: 1000}, {Rate: 0, Chance: 0.01, Records: 1000}},
			best:   0,
		},
		{
			// 4 copied records against 3 in 5,000: noise, not memorisation.
			name:   "copies within the audit's margin cost nothing",
			cands:  []map[string]float64{{"a": 1}, {"a": 1.05}},
			copies: []CopyRate{{Rate: 0.0008, Chance: 0.00004, Records: 5000}, {Rate: 0.0006, Chance: 0.00004, Records: 5000}},
			best:   0,
		},
		{
			name:  "NaN is worst, all-zero metric skipped",
			cands: []map[string]float64{{"a": nan, "z": 0}, {"a": 5, "z": 0}, {"a": 7, "z": 0}},
			best:  1,
		},
		{
			name:  "ties go to the earliest",
			cands: []map[string]float64{{"a": 2, "b": 1}, {"a": 1, "b": 2}},
			best:  0,
		},
		{name: "none", err: "no candidates"},
		{name: "copies mismatch", cands: []map[string]float64{{"a": 1}}, copies: []CopyRate{{}, {}}, err: "2 copy rates for 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := ChooseByScores(tt.cands, tt.floor, tt.copies)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Best != tt.best {
				t.Errorf("best %d (criterion %v), want %d", ch.Best, ch.Criterion, tt.best)
			}
			for i, c := range ch.Criterion {
				if math.IsNaN(c) || math.IsInf(c, 0) {
					t.Errorf("candidate %d: criterion %v", i, c)
				}
			}
		})
	}
}

// TestChooseBest: a candidate that is the training table itself scores 0
// everywhere, yet loses to a fresh sample from the same source (the other
// half of the trace) once the audit's copy rate counts; without the audit
// it wins.
func TestChooseBest(t *testing.T) {
	all := readUGR(t, shareddata.Path(t, "flows/ugr16_netshare-small_1k.csv"))
	real := rows(all, 0, 500)
	cands := []*abi.Batch{rows(all, 500, 1000), real, rows(all, 0, 1)}
	metrics, err := DefaultMetrics(real)
	if err != nil {
		t.Fatal(err)
	}
	audit := Metric{Name: "audit", Params: map[string]any{"key": []any{"srcip", "dstip", "srcport", "dstport", "proto"}}}
	for _, tt := range []struct {
		name    string
		metrics []Metric
		best    int
	}{
		{"fidelity only", metrics, 1},
		{"with the copy penalty", append(slices.Clone(metrics), audit), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch, res, err := ChooseBest(context.Background(), host(t), real, cands, tt.metrics, Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if ch.Best != tt.best || len(res) != 3 {
				t.Fatalf("chose %d (criterion %v, copy penalty %v), want %d", ch.Best, ch.Criterion, ch.CopyPenalty, tt.best)
			}
			for name, v := range res[1].Values() {
				if !strings.HasPrefix(name, "audit.") && v != 0 {
					t.Errorf("real vs itself: %s = %v, want 0", name, v)
				}
			}
			if tt.best == 0 && !(ch.CopyPenalty[1] > 1 && ch.CopyPenalty[0] < ch.CopyPenalty[1]) {
				t.Errorf("copy penalties %v: the copy should pay more than log(e)", ch.CopyPenalty)
			}
		})
	}
}

// TestCopyRatesAgreeWithAudit: the host-side copy rates the choice uses
// are the audit plugin's exact_copy.tuple_rate and tuple_chance.
func TestCopyRatesAgreeWithAudit(t *testing.T) {
	all := readUGR(t, shareddata.Path(t, "flows/ugr16_netshare-small_1k.csv"))
	real := rows(all, 0, 600)
	key := []any{"srcip", "dstip", "srcport", "dstport", "proto"}
	for _, syn := range []*abi.Batch{rows(all, 400, 1000), real, rows(all, 900, 1000)} {
		res, err := Run(context.Background(), host(t), real, syn, []Metric{{Name: "audit", Params: map[string]any{"key": key}}}, Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		v := res.Values()
		got := CopyRates(real, syn, FiveTuple)
		if got.Records != syn.Len() || math.Abs(got.Rate-v["audit.exact_copy.tuple_rate"]) > 1e-12 ||
			math.Abs(got.Chance-v["audit.exact_copy.tuple_chance"]) > 1e-9 {
			t.Errorf("%d records: rate %v chance %v, audit %v %v", syn.Len(), got.Rate, got.Chance,
				v["audit.exact_copy.tuple_rate"], v["audit.exact_copy.tuple_chance"])
		}
	}
}

func TestSplitHalves(t *testing.T) {
	all := readUGR(t, shareddata.Path(t, "flows/ugr16_netshare-small_1k.csv"))
	x, y := SplitHalves(all, 7)
	if x.Len()+y.Len() != all.Len() || x.Len() < all.Len()/3 || y.Len() < all.Len()/3 {
		t.Fatalf("split %d into %d and %d", all.Len(), x.Len(), y.Len())
	}
	// A conversation's key: both directions give the same one.
	key := func(b *abi.Batch, r int) [5]float64 {
		var k [5]float64
		for i, n := range FiveTuple {
			k[i] = b.Column(n).Float(r)
		}
		if k[0] > k[1] || (k[0] == k[1] && k[2] > k[3]) {
			k[0], k[1], k[2], k[3] = k[1], k[0], k[3], k[2]
		}
		return k
	}
	inX := map[[5]float64]bool{}
	for r := range x.Len() {
		inX[key(x, r)] = true
	}
	for r := range y.Len() {
		if inX[key(y, r)] {
			t.Fatalf("conversation %v is in both halves", key(y, r))
		}
	}
	if err := x.Check(); err != nil {
		t.Fatal(err)
	}
	floor, err := NoiseFloor(context.Background(), host(t), all, []Metric{{Name: "emd", Params: map[string]any{"column": "td"}}}, Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if v := floor["td_emd"]; !(v > 0) {
		t.Errorf("noise floor td_emd = %v, want > 0", v)
	}
	// The floor is the mean over FloorSplits different splits, not one draw.
	var sum float64
	seen := map[int]bool{}
	for d := range FloorSplits {
		seed := int64(7) + int64(d)*0x9e3779b9
		x, y := SplitHalves(all, seed)
		seen[x.Len()] = true
		r, err := Run(context.Background(), host(t), x, y, []Metric{{Name: "emd", Params: map[string]any{"column": "td"}}}, Options{Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		sum += r.Values()["td_emd"]
	}
	if len(seen) < 2 {
		t.Errorf("the %d splits all have the same size: they are one split", FloorSplits)
	}
	if want := sum / FloorSplits; math.Abs(floor["td_emd"]-want) > 1e-12*want {
		t.Errorf("noise floor td_emd = %v, want the mean over splits %v", floor["td_emd"], want)
	}
}

func TestSliceCompactsDictionaries(t *testing.T) {
	b := &abi.Batch{Columns: []abi.Column{{Name: "s", Type: abi.TypeString, Dict: []string{"a", "b", "c", "d"}, Codes: []uint32{3, 0, 3, 2}}}}
	s := Slice(b, 1, 3)
	c := s.Column("s")
	if !slices.Equal(c.Dict, []string{"a", "d"}) || !slices.Equal(c.Codes, []uint32{0, 1}) {
		t.Fatalf("slice dict %v codes %v", c.Dict, c.Codes)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestColumnProjection(t *testing.T) {
	h := host(t)
	comp := func(name string) abi.Component {
		_, c, err := h.Find(abi.KindMetric, name)
		if err != nil {
			t.Fatal(err)
		}
		return *c
	}
	tests := []struct {
		metric string
		params map[string]any
		want   []string
	}{
		{"emd", map[string]any{"column": "td"}, []string{"td"}},
		{"jsd", map[string]any{"column": "srcip", "mode": "rank"}, []string{"srcip"}},
		{"flow-size", nil, []string{"dstip", "dstport", "proto", "srcip", "srcport"}},
		{"flow-size", map[string]any{"key": []any{"srcip"}, "count": "pkt"}, []string{"pkt", "srcip"}},
	}
	for _, tt := range tests {
		if got := neededColumns(comp(tt.metric), tt.params); !slices.Equal(got, tt.want) {
			t.Errorf("%s %v: columns %v, want %v", tt.metric, tt.params, got, tt.want)
		}
	}
	b := &abi.Batch{Columns: []abi.Column{{Name: "a", Type: abi.TypeU8, U8: []uint8{1}}, {Name: "b", Type: abi.TypeU8, U8: []uint8{2}}}}
	if p := Project(b, []string{"b"}); len(p.Columns) != 1 || p.Columns[0].Name != "b" {
		t.Errorf("Project to b: %+v", p.Columns)
	}
	// A name that is not a column ("records") sends the whole batch.
	if p := Project(b, []string{"a", "records"}); p != b {
		t.Errorf("Project with a non-column name dropped columns: %+v", p.Columns)
	}
	if p := Project(b, nil); p != b {
		t.Error("Project(nil) is not the batch itself")
	}
}

// TestSplitHalvesKeepsConversations: the two directions of a connection
// land in the same half, whatever the seed.
func TestSplitHalvesKeepsConversations(t *testing.T) {
	col := func(name string, typ abi.Type, v ...uint32) abi.Column {
		c := abi.Column{Name: name, Type: typ}
		for _, x := range v {
			switch typ {
			case abi.TypeU16:
				c.U16 = append(c.U16, uint16(x))
			case abi.TypeU8:
				c.U8 = append(c.U8, uint8(x))
			default:
				c.U32 = append(c.U32, x)
			}
		}
		return c
	}
	var src, dst, sp, dp, pr []uint32
	for i := uint32(0); i < 64; i++ {
		a, b := 0x0a000000+i, 0xc0a80000+i*7
		src, dst, sp, dp, pr = append(src, a, b), append(dst, b, a), append(sp, 40000+i, 443), append(dp, 443, 40000+i), append(pr, 6, 6)
	}
	all := &abi.Batch{Columns: []abi.Column{col("srcip", abi.TypeIPv4, src...), col("dstip", abi.TypeIPv4, dst...),
		col("srcport", abi.TypeU16, sp...), col("dstport", abi.TypeU16, dp...), col("proto", abi.TypeU8, pr...)}}
	for seed := int64(0); seed < 4; seed++ {
		x, y := SplitHalves(all, seed)
		if x.Len() == 0 || y.Len() == 0 {
			t.Fatalf("seed %d: halves of %d and %d rows", seed, x.Len(), y.Len())
		}
		for _, h := range []*abi.Batch{x, y} {
			in := map[[2]uint32]bool{}
			s, d := h.Column("srcip").U32, h.Column("dstip").U32
			for r := range h.Len() {
				in[[2]uint32{s[r], d[r]}] = true
			}
			for r := range h.Len() {
				if !in[[2]uint32{d[r], s[r]}] {
					t.Fatalf("seed %d: %x→%x's reverse is in the other half", seed, s[r], d[r])
				}
			}
		}
	}
}
