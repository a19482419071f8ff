package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare/netshare/host/internal/report"
	"github.com/netshare/netshare/internal/shareddata"
)

// tinyModel keeps the bench's training to seconds.
var tinyModel = []string{"--set", "model.attr_gen_units=16", "--set", "model.critic_units=16", "--set", "model.attr_critic_units=16",
	"--set", "model.attr_gen_layers=1", "--set", "model.critic_layers=2", "--set", "model.attr_critic_layers=2",
	"--set", "model.lstm_units=8", "--set", "model.sample_len=5", "--set", "model.batch_size=20"}

// TestBenchFidelity trains a tiny model for a few steps on the UGR'16
// sample and checks the table: every default metric with ours, naive and
// floor, the reference figure and target where the reference file has
// one, and the tally.
func TestBenchFidelity(t *testing.T) {
	ugr := shareddata.Path(t, "flows/ugr16_netshare-small_1k.csv")
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.toml")
	os.WriteFile(ref, []byte(`[[trace]]
match = "ugr16_netshare-small"
label = "Theirs"
about = "a test"
[trace.scores]
srcport_jsd = 0.5
`), 0o644)
	md := filepath.Join(dir, "table.md")
	args := append([]string{"bench", "fidelity", "--steps", "3", "--runs", filepath.Join(dir, "runs"), "--reference", ref, "--out", md, "--draws", "1"}, tinyModel...)
	out, errs, rc := runCmd(t, append(args, ugr)...)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	for _, want := range []string{"| metric | ours | naive | floor | Theirs | target |", "Reference: a test.", "Training: 3 steps (--steps)", "| protoxdstport_tvd |", "of 6 joint metrics", "held-out real traffic beats it on ", "of 1 metrics with a Theirs figure"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| protoxdstport_tvd |") {
			// UGR'16's held-out half beats the sampler on proto × dstport
			// (docs/fidelity.md, "Which pairs real traffic wins").
			if cells := strings.Split(line, "|"); len(cells) != 11 || !strings.HasPrefix(strings.TrimSpace(cells[8]), "beats: ") {
				t.Errorf("proto × dstport row %q: want the held-out half beating the naive sampler", line)
			}
		}
		if strings.HasPrefix(line, "| srcport_jsd |") {
			cells := strings.Split(line, "|")
			if len(cells) != 11 || strings.TrimSpace(cells[5]) != "0.5000" || strings.TrimSpace(cells[6]) == "-" || strings.TrimSpace(cells[3]) == "-" {
				t.Errorf("srcport row %q: want naive, floor, reference 0.5 and a target", line)
			}
		}
	}
	if b, err := os.ReadFile(md); err != nil || string(b) != out {
		t.Errorf("--out file differs from stdout (%v)", err)
	}
}

// A trace that needs input parameters (UGR'16's raw nfdump export: no
// header, columns by position) is scored against a synthetic trace the
// output format wrote in its own layout.
func TestBenchFidelityMappedInput(t *testing.T) {
	nf := shareddata.Path(t, "flows/ugr16_july-week5_first5k_nfdump-noheader.csv")
	dir := t.TempDir()
	args := append([]string{"bench", "fidelity", "--steps", "2", "--runs", filepath.Join(dir, "runs"), "--draws", "1",
		"--set", "input.format=netflow-csv", "--set", "input.params.header=false",
		"--set", `input.params.time_format="2006-01-02 15:04:05"`, "--set", "input.params.time_is=end",
		"--set", `input.params.table={ts="0",td="1",srcip="2",dstip="3",srcport="4",dstport="5",proto="6",pkt="10",byt="11"}`,
	}, tinyModel...)
	out, errs, rc := runCmd(t, append(args, nf)...)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	if !strings.Contains(out, "5000 real records") || !strings.Contains(out, "of 6 joint metrics") {
		t.Errorf("output lacks the trace's table:\n%s", out)
	}
}

func TestBenchFidelityErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[[trace]]\nmatch = \"x\"\nscore = {a = 1}\n"), 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "fidelity"}, "usage: netshare bench fidelity"},
		{[]string{"bench", "fidelity", "--budget", "0s", "x.csv"}, "want a positive budget"},
		{[]string{"bench", "fidelity", "--reference", filepath.Join(dir, "none.toml"), "x.csv"}, "none.toml"},
		{[]string{"bench", "fidelity", "--reference", bad, "x.csv"}, `unknown key "trace.score"`},
	}
	for _, tt := range tests {
		_, errs, rc := runCmd(t, tt.args...)
		if rc == 0 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: rc %d, stderr %q; want failure mentioning %q", tt.args, rc, errs, tt.want)
		}
	}
}

func TestWriteFidelityTable(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	var b strings.Builder
	writeFidelityTable(&b, []report.NamedScore{
		{Name: "a_jsd", Value: 0.2, Naive: p(0.1), NoiseFloor: p(0.1)},
		{Name: "x_tvd", Value: 0.3, Naive: p(0.5), NoiseFloor: p(0.1), Component: report.JointComponent},
		{Name: "y_tvd", Value: 0.6, Naive: p(0.5), Component: report.JointComponent},
		{Name: "w_tvd", Value: 0.2, Naive: p(0.3), Component: report.JointComponent, HeldOut: p(0.1), HeldOutNaive: p(0.2)},
		{Name: "z_tvd", Value: 0.4, Naive: p(0.3), Component: report.JointComponent, HeldOut: p(0.3), HeldOutNaive: p(0.2)},
	}, &reference{Label: "NS", Scores: map[string]float64{"a_jsd": 0.4, "x_tvd": 0.3}})
	out := b.String()
	for _, want := range []string{
		"| a_jsd | 0.2000 | 0.1000 | 0.1000 | 0.4000 | 0.2500 | no | - | yes |", // target 0.1 + (0.4−0.1)/2
		"| x_tvd | 0.3000 | 0.5000 | 0.1000 | 0.3000 | 0.2000 | yes | - | no |",
		"| y_tvd | 0.6000 | 0.5000 | - | - | - | no | - | - |",
		"| w_tvd | 0.2000 | 0.3000 | - | - | - | yes | beats: 0.1000 vs 0.2000 | - |",
		"| z_tvd | 0.4000 | 0.3000 | - | - | - | no | loses: 0.3000 vs 0.2000 | - |",
		"beats the naive sampler on 2 of 4 joint metrics (2 of 5 metrics in all); held-out real traffic beats it on 1 of 2, and ours on 1 of those 1; meets the target on 1 of 2 metrics with a NS figure.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
