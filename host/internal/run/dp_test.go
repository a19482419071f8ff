package run

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netshare/netshare/host/internal/tensor"
)

// TestNoisyCounts checks the flow counts a DP run releases: two runs with
// the same (public) seed draw different noise, the reproducible key draws
// the same, and a rerun of the same training reuses what privacy.json
// already released rather than releasing the counts again.
func TestNoisyCounts(t *testing.T) {
	newRunner := func(dir string, sets ...string) *runner {
		cfg := tinyConfig(t, dir, append([]string{"privacy.enabled=true", "privacy.epsilon=8.0", "flows.max_flow_len=16"}, sets...)...)
		r := &runner{cfg: cfg, dir: dir}
		// 64 chunks: two independent draws agree on every count with
		// probability below 1e-100.
		for k := 0; k < 64; k++ {
			r.sets = append(r.sets, &tensor.Set{N: 1000})
		}
		return r
	}
	tests := []struct {
		name string
		sets []string
		same bool
	}{
		{"crypto noise", nil, false},
		{"reproducible", []string{"privacy.insecure_reproducible_noise=true"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newRunner(t.TempDir(), tc.sets...).noisyCounts("k")
			b := newRunner(t.TempDir(), tc.sets...).noisyCounts("k")
			if got := slices.Equal(a, b); got != tc.same {
				t.Errorf("two runs with seed 1 drew equal counts: %v, want %v (%v, %v)", got, tc.same, a[:4], b[:4])
			}
			if slices.Equal(a, slices.Repeat([]int{1000}, 64)) {
				t.Error("no noise on the counts")
			}
		})
	}
	t.Run("drawn once per training", func(t *testing.T) {
		r := newRunner(t.TempDir())
		first := r.noisyCounts("k")
		if err := r.saveBudget(&budget{TrainKey: "k", Counts: first}); err != nil {
			t.Fatal(err)
		}
		if again := r.noisyCounts("k"); !slices.Equal(again, first) {
			t.Error("the same training drew its counts again")
		}
		if other := r.noisyCounts("other"); slices.Equal(other, first) {
			t.Error("another training reused the counts")
		}
		got, err := r.flowCounts()
		if err != nil || !slices.Equal(got, first) {
			t.Errorf("generation counts %v (%v), want the released ones", got, err)
		}
	})
}

// TestRunReproducibleNoise runs a DP pipeline twice under the test-only
// reproducible key: the outputs are identical, and privacy.json, the
// console and the report all say the run is not private.
func TestRunReproducibleNoise(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	run := func() (string, []byte, budget) {
		dir := t.TempDir()
		var log bytes.Buffer
		cfg := tinyConfig(t, dir, "privacy.enabled=true", "privacy.epsilon=8.0", "flows.max_flow_len=16", "privacy.insecure_reproducible_noise=true")
		res, err := Run(context.Background(), cfg, Options{Out: &log})
		if err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		if !strings.Contains(log.String(), "NOT PRIVATE") {
			t.Errorf("the console does not say the run is not private:\n%s", log.String())
		}
		html, err := os.ReadFile(res.Report)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(html), `class="notprivate">NOT PRIVATE`) {
			t.Error("the report does not say the run is not private")
		}
		out, err := os.ReadFile(res.Output)
		if err != nil {
			t.Fatal(err)
		}
		var b budget
		raw, err := os.ReadFile(filepath.Join(dir, "privacy.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		return string(html), out, b
	}
	_, out1, b1 := run()
	_, out2, b2 := run()
	if !strings.HasPrefix(b1.NotPrivate, "NOT PRIVATE") {
		t.Errorf("privacy.json not_private = %q", b1.NotPrivate)
	}
	if !slices.Equal(b1.Counts, b2.Counts) || !bytes.Equal(out1, out2) {
		t.Error("two reproducible DP runs differ")
	}
}
