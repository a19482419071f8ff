package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare/netshare/internal/shareddata"
)

// shared returns a file of ../shared/data (relative to the repository
// root), or skips the test when the data is absent.

func runCmd(t *testing.T, args ...string) (stdout, stderr string, rc int) {
	t.Helper()
	var out, errb bytes.Buffer
	rc = run(args, &out, &errb)
	return out.String(), errb.String(), rc
}

func TestScoreJSONSelf(t *testing.T) {
	ugr := shareddata.Path(t, "flows/ugr16_netshare-small_1k.csv")
	// Flags after the positional arguments, as the usage line writes them.
	out, errs, rc := runCmd(t, "score", ugr, ugr, "--json", "--noise-floor=false")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	var got struct {
		Metrics map[string]float64 `json:"metrics"`
		Naive   map[string]float64 `json:"naive"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	want := []string{"srcip_rank_jsd", "dstip_rank_jsd", "srcport_jsd", "dstport_jsd", "proto_jsd", "ts_emd", "td_emd", "pkt_emd", "byt_emd", "records_per_flow_emd", "type_jsd",
		"protoxdstport_tvd", "dstportxpkt_tvd", "pktxbyt_tvd", "tdxpkt_tvd", "srcportxdstport_tvd", "protoxdstportxbyt_tvd"}
	if len(got.Metrics) != len(want) || len(got.Naive) != len(want) {
		t.Errorf("scores %v and naive %v, want %v", got.Metrics, got.Naive, want)
	}
	// The naive sampler keeps no joint structure: it cannot match the
	// real trace's own pairs, which a copy matches exactly.
	if got.Naive["protoxdstport_tvd"] <= 0 || got.Naive["records_per_flow_emd"] <= 0 {
		t.Errorf("naive scores %v: want > 0 on joint structure", got.Naive)
	}
	for _, name := range want {
		v, ok := got.Metrics[name]
		if !ok || v != 0 {
			t.Errorf("%s = %v (present %v); a trace against itself scores 0", name, v, ok)
		}
	}
}

// With -c, the real trace reads with the input's parameters and the
// synthetic one in the output's layout: the raw nfdump export against
// itself converted to netflow-csv scores 0.
func TestScoreMappedInput(t *testing.T) {
	nf := shareddata.Path(t, "flows/ugr16_july-week5_first5k_nfdump-noheader.csv")
	dir := t.TempDir()
	params := `{"header":false,"time_format":"2006-01-02 15:04:05","time_is":"end","table":{"ts":"0","td":"1","srcip":"2","dstip":"3","srcport":"4","dstport":"5","proto":"6","pkt":"10","byt":"11"}}`
	syn := filepath.Join(dir, "syn.csv")
	if _, errs, rc := runCmd(t, "convert", nf, syn, "--from", "netflow-csv", "--to", "netflow-csv", "--from-params", params); rc != 0 {
		t.Fatalf("convert: rc %d: %s", rc, errs)
	}
	cfg := filepath.Join(dir, "p.toml")
	if err := os.WriteFile(cfg, []byte(`[input]
paths = ["x"]
format = "netflow-csv"
[input.params]
header = false
time_format = "2006-01-02 15:04:05"
time_is = "end"
table = {ts = "0", td = "1", srcip = "2", dstip = "3", srcport = "4", dstport = "5", proto = "6", pkt = "10", byt = "11"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, rc := runCmd(t, "score", "-c", cfg, nf, syn, "--json", "--noise-floor=false")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	var got struct {
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if len(got.Metrics) == 0 || got.Metrics["protoxdstport_tvd"] != 0 || got.Metrics["pkt_emd"] != 0 {
		t.Errorf("scores %v: want 0 for a trace against its own conversion", got.Metrics)
	}
}

func TestScoreReportAndRebuild(t *testing.T) {
	realPath := shareddata.Path(t, "pcap/caida_equinix-nyc_2018-03-15_10kpkts.pcapng")
	synPath := shareddata.Path(t, "pcap/stopddos_amp.TCP.reflection.SYNACK.pcap")
	dir := t.TempDir()
	html := filepath.Join(dir, "score.html")
	metrics := filepath.Join(dir, "metrics.json")
	cfg := filepath.Join(dir, "p.toml")
	// A pipeline that lists two metrics, one with a custom name.
	os.WriteFile(cfg, []byte(`seed = 9
[input]
paths = ["x.pcap"]
[[metrics]]
name = "emd"
params = {column = "pkt_len"}
[[metrics]]
name = "jsd"
params = {column = "ttl", name = "ttl_divergence"}
`), 0o644)
	out, errs, rc := runCmd(t, "score", "-c", cfg, "--report", html, "--metrics", metrics, realPath, synPath)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	for _, want := range []string{"pkt_len_emd", "ttl_divergence", "NOISE FLOOR", "NAIVE", "report: " + html} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "srcip_rank_jsd") {
		t.Errorf("the pipeline's metrics did not replace the defaults:\n%s", out)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "ttl_divergence") || !strings.Contains(string(page), "seed = 9") {
		t.Error("report lacks a score or the configuration")
	}
	var mf struct {
		Version int                `json:"version"`
		Seed    int64              `json:"seed"`
		Metrics map[string]float64 `json:"metrics"`
	}
	raw, _ := os.ReadFile(metrics)
	if err := json.Unmarshal(raw, &mf); err != nil || mf.Version != 1 || mf.Seed != 9 || mf.Metrics["pkt_len_emd"] <= 0 {
		t.Fatalf("metrics.json %+v, %v", mf, err)
	}

	// netshare report rebuilds the page from the run directory.
	out, errs, rc = runCmd(t, "report", dir)
	if rc != 0 {
		t.Fatalf("report: rc %d: %s", rc, errs)
	}
	rebuilt := filepath.Join(dir, "report.html")
	if strings.TrimSpace(out) != rebuilt {
		t.Errorf("report printed %q, want %q", out, rebuilt)
	}
	page2, err := os.ReadFile(rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(page, page2) {
		t.Error("the rebuilt report differs from the one score wrote")
	}
}

func TestScoreErrors(t *testing.T) {
	ugr := shareddata.Path(t, "flows/ugr16_netshare-small_1k.csv")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[input]\npaths = [\"x\"]\n[[metrics]]\nname = \"emd\"\nparams = {colum = \"td\"}\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"one argument", []string{"score", ugr}, "usage: netshare score REAL SYNTHETIC"},
		{"missing file", []string{"score", ugr, filepath.Join(dir, "nope.csv")}, "nope.csv"},
		{"bad metric param", []string{"score", "-c", bad, ugr, ugr}, `has no parameter "colum" (did you mean "column"?)`},
		{"unknown format", []string{"score", "--format", "netflow", ugr, ugr}, `no format named "netflow"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, rc := runCmd(t, tt.args...)
			if rc == 0 || !strings.Contains(errs, tt.want) {
				t.Fatalf("rc %d, stderr %q; want failure mentioning %q", rc, errs, tt.want)
			}
		})
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	_, errs, rc := runCmd(t, "report", dir)
	if rc == 0 || !strings.Contains(errs, "metrics.json") {
		t.Fatalf("rc %d, stderr %q; want a failure naming metrics.json", rc, errs)
	}
	os.WriteFile(filepath.Join(dir, "metrics.json"), []byte(`{"version": 1, "metrics": {}}`), 0o644)
	_, errs, rc = runCmd(t, "report", dir)
	if rc == 0 || !strings.Contains(errs, "no scores") {
		t.Fatalf("rc %d, stderr %q; want a failure about no scores", rc, errs)
	}
}
