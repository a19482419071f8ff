package run

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare/netshare/host/internal/release"
)

// TestRunRelease runs a pipeline whose [release] condition fails: the run
// errs naming the condition, release/ is empty and the run's own files are
// kept. Re-checked under a policy the run meets (as `netshare release`
// does), release/ gets the synthetic trace and release.json. The copy
// guard leaves no synthetic flow key equal to a training one, and the
// audit is in the scores without being listed.
func TestRunRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	var log bytes.Buffer
	_, err := Run(context.Background(), tinyConfig(t, dir, "release.max_epsilon=4"), Options{Out: &log})
	if err == nil || !strings.Contains(err.Error(), "release.max_epsilon = 4, but the run is not private") {
		t.Fatalf("run under an unmet release condition: %v\n%s", err, log.String())
	}
	if entries, err := os.ReadDir(filepath.Join(dir, release.Dir)); err != nil || len(entries) != 0 {
		t.Errorf("release/ after a refusal: %d entries, %v", len(entries), err)
	}
	for _, p := range []string{"report.html", "metrics.json", "encoders.json", "run.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("a refused release lost %s: %v", p, err)
		}
	}

	cfg := tinyConfig(t, dir, `release.artifacts=["synthetic","model"]`, "release.require_audit=true")
	m, err := Release(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, f := range m.Files {
		paths[f.Path] = true
		if _, err := os.Stat(filepath.Join(dir, release.Dir, f.Path)); err != nil {
			t.Error(err)
		}
	}
	if !paths["encoders.json"] || len(paths) != 4 { // trace, 2 checkpoints, encoders
		t.Errorf("released %v", paths)
	}
	if m.Privacy != "not private: trained without differential privacy" || len(m.Modules) == 0 || len(m.FittedOnRealData) == 0 {
		t.Errorf("release.json: %+v", m)
	}

	var scores struct{ Metrics map[string]float64 }
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &scores); err != nil {
		t.Fatal(err)
	}
	rate, ok := scores.Metrics["audit.exact_copy.tuple_rate"]
	if !ok || rate != 0 {
		t.Errorf("audit copy rate %v (present %v), want 0 after the copy guard", rate, ok)
	}
}
