package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/netshare/netshare/abi"
)

func ptr(v float64) *float64 { return &v }

func TestVerdict(t *testing.T) {
	tests := []struct {
		value float64
		floor *float64
		class string
		text  string
	}{
		{0.1, nil, "", ""},
		{0.1, ptr(0.1), "good", "as close as real data is to itself"},
		{0.12, ptr(0.1), "good", "as close"},
		{0.15, ptr(0.1), "fair", "close: 1.5×"},
		{0.4, ptr(0.1), "poor", "noticeably different: 4.0×"},
		{2.4, ptr(0.1), "bad", "far off: 24×"},
		{5000, ptr(0.1), "bad", "over 1000×"},
		{0, ptr(0), "good", "as close"},
		{0.2, ptr(0), "poor", "real data does not vary"},
		{math.NaN(), ptr(1), "", ""},
	}
	for _, tt := range tests {
		text, class := Verdict(tt.value, tt.floor)
		if class != tt.class || !strings.Contains(text, tt.text) {
			t.Errorf("Verdict(%v, %v) = %q, %q; want class %q and text containing %q", tt.value, tt.floor, text, class, tt.class, tt.text)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	tests := map[float64]string{
		0: "0", 0.02008196700417975: "0.02008", 11.349976: "11.35", 10903032: "10,903,032",
		-1234567.6: "-1,234,568", 0.0000123: "1.23e-05", 889.372: "889.4", math.Inf(1): "+Inf",
	}
	for v, want := range tests {
		if got := formatNumber(v); got != want {
			t.Errorf("formatNumber(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestXTicks(t *testing.T) {
	tests := []struct {
		s    scale
		want []float64
	}{
		{scale{lo: 0, hi: 100}, []float64{0, 20, 40, 60, 80, 100}},
		{scale{lo: 3, hi: 9}, []float64{4, 6, 8}}, // step 6/5 rounds up to 2
		{scale{lo: 15, hi: 200000, log: true}, []float64{100, 1000, 10000, 100000}},
		{scale{lo: 0, hi: 5000, log: true}, []float64{0, 1, 10, 100, 1000}},
	}
	for _, tt := range tests {
		if got := xTicks(tt.s); !slices.Equal(got, tt.want) {
			t.Errorf("xTicks(%+v) = %v, want %v", tt.s, got, tt.want)
		}
	}
	// At a huge magnitude a step below the float spacing cannot advance:
	// the tick loop must still end.
	if got := xTicks(scale{lo: 1e300, hi: math.Nextafter(1e300, math.Inf(1))}); len(got) > 12 {
		t.Errorf("%d ticks", len(got))
	}
}

func sampleData() Data {
	seed := int64(42)
	return Data{
		Title:   "Test <run>",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Real:    "real.pcap", Synthetic: "syn.pcap", Kind: "packets",
		Scores: []NamedScore{
			{Name: "pkt_len_emd", Value: 12.5, Description: "earth mover's distance of pkt_len", NoiseFloor: ptr(3), XLabel: "pkt_len",
				Component: "emd", Params: map[string]any{"column": "pkt_len"},
				Series: []abi.Series{{Name: "pkt_len_emd", Kind: "cdf", X: []float64{40, 60, 1500}, Real: []float64{0.5, 0.6, 1}, Synthetic: []float64{0.2, 0.7, 1}}}},
			{Name: "proto_jsd", Value: 0.01, Description: "Jensen–Shannon divergence of proto value frequencies",
				Series: []abi.Series{{Name: "proto_jsd", Kind: "histogram", X: []float64{0, 1}, Real: []float64{0.8, 0.2}, Synthetic: []float64{0.7, 0.3}, Labels: []string{"TCP", "<b>evil</b>"}}}},
		},
		Config:  "seed = 42\n[model]\nsteps = 10 # <not a tag>\n",
		Seed:    &seed,
		Timings: []Stage{{"read", 0.5}, {"train", 125}},
		Privacy: &Budget{Epsilon: 3, Delta: 1e-5, NoiseMultiplier: 1.2, ClipNorm: 1},
		Choices: []Choice{{Chunk: 2, Candidates: []string{"a", "b"}, RankSums: []float64{3, 5}, Best: 0}},
		Notes:   []string{"a note"},
	}
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleData()); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"<title>Test &lt;run&gt;</title>", "12.5", "noticeably different: 4.2×", // 12.5 / 3
		"ε = 3</b> at <b>δ = 1e-05", "Seed</th><td>42", "2.1 min", "Chunk 2", "✓ chosen",
		"steps = 10 # &lt;not a tag&gt;", "&lt;b&gt;evil&lt;/b&gt;", "pkt_len</text>", "a note",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(page, "<b>evil</b>") || strings.Contains(page, "<script") {
		t.Error("report contains unescaped input")
	}
	// Self-contained: no external fetches.
	for _, bad := range []string{"http://", "https://", "src="} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("report refers to something outside itself: %q", bad)
		}
	}
	if n := strings.Count(page, "<svg"); n != 2 {
		t.Errorf("%d plots, want 2", n)
	}
	// Without noise floors, privacy or timings those parts are absent.
	d := sampleData()
	d.Scores[0].NoiseFloor, d.Privacy, d.Timings, d.Seed = nil, nil, nil, nil
	buf.Reset()
	if err := Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"Noise floor", "Privacy</h2>", "Time per stage", "Seed</th>"} {
		if strings.Contains(buf.String(), absent) {
			t.Errorf("report shows %q without data for it", absent)
		}
	}
	if err := Write(&buf, Data{}); err == nil {
		t.Error("a report without scores was written")
	}
}

func TestBadSeriesAreSkipped(t *testing.T) {
	d := Data{Scores: []NamedScore{
		{Name: "a", Value: 1, Series: []abi.Series{{Kind: "cdf", X: []float64{1, 2}, Real: []float64{1}, Synthetic: []float64{1, 1}}}},
		{Name: "b", Value: 1, Series: []abi.Series{{Kind: "cdf", X: []float64{1, math.NaN()}, Real: []float64{0, 1}, Synthetic: []float64{1, 1}}}},
		{Name: "c", Value: 1, Series: []abi.Series{{Kind: "cdf", X: []float64{5}, Real: []float64{1}, Synthetic: []float64{1}}}},
	}}
	var buf bytes.Buffer
	if err := Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "<svg"); n != 1 {
		t.Errorf("%d plots, want only the single-point one", n)
	}
	if strings.Contains(buf.String(), "NaN") {
		t.Error("NaN reached the page")
	}
}

func TestMetricsFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.json")
	f := NewMetricsFile(sampleData())
	if err := WriteMetricsFile(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMetricsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Metrics["pkt_len_emd"] != 12.5 || got.Metrics["proto_jsd"] != 0.01 || len(got.Scores) != 2 || *got.Seed != 42 || got.Privacy.Epsilon != 3 {
		t.Fatalf("round trip lost data: %+v", got)
	}
	// The score map is at the top level, as `netshare score --json` prints it.
	raw, _ := os.ReadFile(path)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "metrics", "scores", "seed", "config", "timings", "privacy"} {
		if _, ok := top[k]; !ok {
			t.Errorf("metrics.json has no top-level %q", k)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestReadMetricsFileErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not json", "{", "unexpected end"},
		{"old version", `{"version": 0, "metrics": {}}`, "schema version 0"},
		{"unnamed score", `{"version": 1, "scores": [{"value": 1}]}`, "score 1 has no name"},
		{"ragged series", `{"version": 1, "scores": [{"name": "a", "value": 1, "series": [{"x": [1, 2], "real": [1], "synthetic": [1, 1]}]}]}`, `score "a" series 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.json")
			os.WriteFile(path, []byte(tt.body), 0o644)
			_, err := ReadMetricsFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want one naming the file and containing %q", err, tt.want)
			}
		})
	}
	// A file with only the score map still shows those scores.
	path := filepath.Join(t.TempDir(), "metrics.json")
	os.WriteFile(path, []byte(`{"version": 1, "metrics": {"b": 2, "a": 1}}`), 0o644)
	f, err := ReadMetricsFile(path)
	if err != nil || len(f.Scores) != 2 || f.Scores[0].Name != "a" {
		t.Fatalf("score map only: %+v, %v", f, err)
	}
}

func TestWriteMetricsFileRefusesNaN(t *testing.T) {
	d := sampleData()
	d.Scores[1].Value = math.NaN()
	path := filepath.Join(t.TempDir(), "metrics.json")
	if err := WriteMetricsFile(path, NewMetricsFile(d)); err == nil || !strings.Contains(err.Error(), "proto_jsd") {
		t.Fatalf("error %v, want one naming proto_jsd", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a file was written")
	}
}

func TestDownstreamSection(t *testing.T) {
	d := Data{Scores: []NamedScore{
		{Name: "pkt_len_emd", Value: 3},
		{Name: "audit.mia.advantage", Value: 0.9},
		{Name: "audit.mia.flag", Value: 1},
		{Name: "audit.exact_copy.flag", Value: 0},
		{Name: "classify.flag", Value: 0},
		{Name: "classify.dt.accuracy_syn", Value: 0.8},
	}}
	var b strings.Builder
	if err := Write(&b, d); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{"Downstream tasks and privacy audit", "Privacy audit", "mia", "warn: synthetic records sit too close to training records",
		"exact copy", "pass: no sign of copied training records", "Traffic classification", "pass: behaves like the real trace", "mia.advantage 0.9"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Evaluator values are not plotted as fidelity scores.
	if strings.Contains(html, `id="m-audit.mia.advantage"`) || !strings.Contains(html, `id="m-pkt_len_emd"`) {
		t.Error("downstream values mixed into the fidelity cards")
	}
}

func TestVersusNaive(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		value, naive    float64
		held, heldNaive *float64
		class, text     string
	}{
		{value: 0.1, naive: 0.4, class: "good", text: "25% of its distance"},
		{value: 0, naive: 0, class: "bad", text: "no better"},
		{value: 0.4, naive: 0.4, class: "bad", text: "no better"},
		{value: 0.5, naive: 0.4, class: "bad", text: "no better"},
		{value: math.NaN(), naive: 0.4},
		// Held-out real traffic beats the sampler: losing is bad.
		{value: 0.5, naive: 0.4, held: f(0.1), heldNaive: f(0.6), class: "bad", text: "no better"},
		// It does not: losing is what real data does too.
		{value: 0.5, naive: 0.4, held: f(0.327), heldNaive: f(0.126), class: "fair", text: "nor is held-out real traffic (0.327 against 0.126"},
		{value: 0.5, naive: 0.4, held: f(0.2), heldNaive: f(0.2), class: "fair", text: "nor is held-out"},
		// Beating the sampler stays good whatever the held-out half does.
		{value: 0.1, naive: 0.4, held: f(0.327), heldNaive: f(0.126), class: "good", text: "beats"},
	}
	for _, tt := range tests {
		text, class := VersusNaive(NamedScore{Value: tt.value, Naive: &tt.naive, HeldOut: tt.held, HeldOutNaive: tt.heldNaive})
		if class != tt.class || !strings.Contains(text, tt.text) {
			t.Errorf("VersusNaive(%v, %v, held %v/%v) = %q, %q; want class %q, text containing %q", tt.value, tt.naive, tt.held, tt.heldNaive, text, class, tt.class, tt.text)
		}
	}
	if text, class := VersusNaive(NamedScore{Value: 0.1}); text != "" || class != "" {
		t.Errorf("no naive score gives %q, %q", text, class)
	}
}

// TestShorten: long tick labels are cut by runes, so the report stays
// valid UTF-8 whatever the labels hold.
func TestShorten(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"443", "443"},
		{"exactly 14 ch.", "exactly 14 ch."},
		{"17 × other × other", "17 × other × …"},
		{"ééééééééééééééé", "ééééééééééééé…"},
	} {
		got := shorten(tt.in, 14)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("shorten(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestJointSection: joint scores get their own table with the naive
// sampler's score and a verdict against it; single-field scores with a
// naive score get a naive column in the summary.
func TestJointSection(t *testing.T) {
	d := Data{Scores: []NamedScore{
		{Name: "dstport_jsd", Value: 0.2, Component: "jsd", Naive: ptr(0.01), NoiseFloor: ptr(0.1)},
		{Name: "protoxdstport_tvd", Value: 0.1, Component: JointComponent, Naive: ptr(0.5), NoiseFloor: ptr(0.05),
			Series: []abi.Series{{Name: "protoxdstport_tvd", Kind: "histogram", X: []float64{0, 1}, Real: []float64{0.6, 0.4}, Synthetic: []float64{0.5, 0.5}, Labels: []string{"6 × 443", "17 × other × other"}}}},
		{Name: "pktxbyt_tvd", Value: 0.7, Component: JointComponent, Naive: ptr(0.5)},
	}}
	var buf bytes.Buffer
	if err := Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	joint := html[strings.Index(html, "How fields go together"):]
	joint = joint[:strings.Index(joint, "</table>")]
	for _, want := range []string{"protoxdstport_tvd", "beats independent sampling (20% of its distance)", "pktxbyt_tvd", "no better than sampling each field independently"} {
		if !strings.Contains(joint, want) {
			t.Errorf("joint section lacks %q:\n%s", want, joint)
		}
	}
	if strings.Contains(joint, "dstport_jsd") {
		t.Error("a single-field score is in the joint section")
	}
	summary := html[strings.Index(html, "<h2>Summary"):strings.Index(html, "How fields go together")]
	if !strings.Contains(summary, "Naive sampler") || strings.Contains(summary, "pktxbyt_tvd") {
		t.Errorf("summary: want a naive column and no joint rows:\n%s", summary)
	}
	if !strings.Contains(html, "6 × 443") {
		t.Error("the joint histogram's cell labels are missing")
	}
	if !utf8.ValidString(html) {
		t.Error("the report is not valid UTF-8 (a long label cut inside a rune)")
	}
}
