package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRun lays out the files a finished run leaves.
func fakeRun(t *testing.T) (string, Run) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"output/synthetic.pcap":      "synthetic bytes",
		"train/chunk-0/step-10.ckpt": "weights 0",
		"train/chunk-1/step-3.ckpt":  "weights 1",
		"encoders.json":              "{}",
		"report.html":                "<html>",
		"metrics.json":               "{}",
		"records/records.bin":        "private records",
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, Run{
		PipelineSHA256: PipelineHash("seed = 1\n"),
		Modules:        []Module{{Name: "builtin", SHA256: strings.Repeat("ab", 32)}},
		Synthetic:      "output/synthetic.pcap",
		Checkpoints:    []string{"train/chunk-0/step-10.ckpt", "train/chunk-1/step-3.ckpt"},
		Fitted:         []Fitted{{Field: "srcport", Encoder: "word2vec"}},
	}
}

var (
	private    = Privacy{Enabled: true, Epsilon: 1.9, Delta: 1e-5}
	notPrivate = Privacy{}
	replayable = Privacy{Enabled: true, Epsilon: 1.9, Delta: 1e-5, NotPrivate: "NOT PRIVATE: seeded noise"}
	passed     = map[string]float64{"audit.flag": 0, "audit.exact_copy.flag": 0, "audit.exact_copy.tuple_rate": 0, "audit.dcr.available": 0, "audit.dcr.flag": 0}
	copied     = map[string]float64{"audit.flag": 1, "audit.exact_copy.flag": 1, "audit.exact_copy.tuple_rate": 0.2, "audit.exact_copy.tuple_chance": 0.01}
)

func TestBuild(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		priv    Privacy
		scores  map[string]float64
		refusal string   // empty: the release is built
		files   []string // released files, when built
	}{
		{"synthetic only, no conditions", Policy{Artifacts: []string{Synthetic}}, notPrivate, passed, "", []string{"output/synthetic.pcap"}},
		{"model and report", Policy{Artifacts: []string{Synthetic, Model, Report}}, private, passed, "",
			[]string{"encoders.json", "metrics.json", "output/synthetic.pcap", "report.html", "train/chunk-0/step-10.ckpt", "train/chunk-1/step-3.ckpt"}},
		{"ε within the limit", Policy{MaxEpsilon: 2, Artifacts: []string{Synthetic}}, private, passed, "", []string{"output/synthetic.pcap"}},
		{"ε over the limit", Policy{MaxEpsilon: 1, Artifacts: []string{Synthetic}}, private, passed, "release.max_epsilon = 1, but the run spent ε = 1.9", nil},
		{"a limit on a run without DP", Policy{MaxEpsilon: 10, Artifacts: []string{Synthetic}}, notPrivate, passed, "release.max_epsilon = 10, but the run is not private", nil},
		{"a limit on replayable noise", Policy{MaxEpsilon: 10, Artifacts: []string{Synthetic}}, replayable, passed, "NOT PRIVATE", nil},
		{"audit passed", Policy{RequireAudit: true, Artifacts: []string{Synthetic}}, notPrivate, passed, "", []string{"output/synthetic.pcap"}},
		{"audit failed", Policy{RequireAudit: true, Artifacts: []string{Synthetic}}, notPrivate, copied, "audit check exact_copy failed (tuple_chance 0.01, tuple_rate 0.2)", nil},
		{"audit missing", Policy{RequireAudit: true, Artifacts: []string{Synthetic}}, notPrivate, map[string]float64{"pkt_len_emd": 3}, "no audit scores", nil},
		{"audit not required", Policy{Artifacts: []string{Synthetic}}, notPrivate, copied, "", []string{"output/synthetic.pcap"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, run := fakeRun(t)
			// A release from an earlier, laxer check must not survive a refusal.
			if _, err := Build(dir, Policy{Artifacts: []string{Synthetic}}, run, tc.priv, passed); err != nil {
				t.Fatal(err)
			}
			m, err := Build(dir, tc.policy, run, tc.priv, tc.scores)
			entries, rerr := os.ReadDir(filepath.Join(dir, Dir))
			if rerr != nil {
				t.Fatal(rerr)
			}
			if tc.refusal != "" {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("error %v, want a refusal naming %q", err, tc.refusal)
				}
				if len(entries) != 0 {
					t.Errorf("release/ holds %d entries after a refusal", len(entries))
				}
				if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
					t.Error("a refusal removed the run's own files")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range m.Files {
				got = append(got, f.Path)
				body, err := os.ReadFile(filepath.Join(dir, Dir, f.Path))
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(body)
				if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(body)) != f.Bytes {
					t.Errorf("%s: manifest hash %s, file's %x", f.Path, f.SHA256, sum)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.files, ",") {
				t.Errorf("released %v, want %v", got, tc.files)
			}
			raw, err := os.ReadFile(filepath.Join(dir, Dir, File))
			if err != nil {
				t.Fatal(err)
			}
			var back Manifest
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatal(err)
			}
			if back.PipelineSHA256 != run.PipelineSHA256 || len(back.Modules) != 1 || back.Privacy == "" {
				t.Errorf("release.json %+v lacks the pipeline, modules or privacy", back)
			}
		})
	}
}

// TestManifestSaysWhatIsFitted checks that release.json names the released
// values fitted on the real data.
func TestManifestSaysWhatIsFitted(t *testing.T) {
	tests := []struct {
		name      string
		artifacts []string
		priv      Privacy
		want      []string
	}{
		{"model without DP", []string{Model}, notPrivate, []string{"field srcport (word2vec encoder)", "without differential privacy"}},
		{"synthetic without DP", []string{Synthetic}, notPrivate, []string{"synthetic trace: drawn from a model trained without differential privacy"}},
		{"synthetic with DP", []string{Synthetic}, private, nil},
		{"report", []string{Report}, private, []string{"statistics and curves of the real trace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, run := fakeRun(t)
			m, err := Build(dir, Policy{Artifacts: tc.artifacts}, run, tc.priv, passed)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(m.FittedOnRealData, "\n")
			if len(tc.want) == 0 && all != "" {
				t.Errorf("fitted_on_real_data = %q, want none", all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("fitted_on_real_data = %q, want %q", all, w)
				}
			}
		})
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	dir, run := fakeRun(t)
	if _, err := Build(dir, Policy{Artifacts: []string{"weights"}}, run, private, passed); err == nil || !strings.Contains(err.Error(), `unknown artifact "weights"`) {
		t.Errorf("unknown artifact: %v", err)
	}
	run.Synthetic = "../elsewhere.pcap"
	if _, err := Build(dir, Policy{Artifacts: []string{Synthetic}}, run, private, passed); err == nil || !strings.Contains(err.Error(), "outside the run directory") {
		t.Errorf("a file outside the run: %v", err)
	}
}
