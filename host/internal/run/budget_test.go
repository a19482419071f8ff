package run

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/pipeline"
)

func TestSizeModel(t *testing.T) {
	auto := pipeline.Default().Model.Config
	tests := []struct {
		name                 string
		flows                []int
		cfg                  gan.Config
		units, layers, lstm  int
		critic, criticLayers int
	}{
		{"tiny trace: the floor", []int{100}, auto, 64, 3, 64, 64, 3},
		{"the sample trace", []int{500, 792}, auto, 128, 3, 64, 128, 3},
		{"1k flows", []int{1000}, auto, 128, 3, 64, 128, 3},
		{"5k flows", []int{4740}, auto, 256, 4, 100, 256, 4},
		{"10k flows: NetShare's", []int{10000}, auto, 512, 5, 100, 512, 5},
		{"1M flows: the cap", []int{1_000_000}, auto, 512, 5, 100, 512, 5},
		{"sizes set in the pipeline stay", []int{1000}, func() gan.Config { c := auto; c.CriticUnits, c.CriticLayers = 32, 2; return c }(), 128, 3, 64, 32, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := sizeModel(tc.cfg, tc.flows)
			if c.AttrGenUnits != tc.units || c.AttrGenLayers != tc.layers || c.LSTMUnits != tc.lstm ||
				c.AttrCriticUnits != tc.units || c.CriticUnits != tc.critic || c.CriticLayers != tc.criticLayers {
				t.Errorf("sized %d×%d (attr critic %d, critic %d×%d), LSTM %d; want %d×%d, critic %d×%d, LSTM %d",
					c.AttrGenLayers, c.AttrGenUnits, c.AttrCriticUnits, c.CriticLayers, c.CriticUnits, c.LSTMUnits,
					tc.layers, tc.units, tc.criticLayers, tc.critic, tc.lstm)
			}
			if err := c.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestTimeBudget trains by time: the run measures its speed, turns the
// budget into steps recorded in train/plan.json, trains every chunk to
// its share, and a rerun trains nothing and keeps the same steps.
func TestTimeBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "model.steps=0", `model.time_budget="4s"`)
	if _, err := Run(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	var p budgetPlan
	raw, err := os.ReadFile(filepath.Join(dir, "train", "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	// Two chunks on two workers: chunk 0, then one wave of a fine-tune
	// half as long.
	if p.Steps < 10 || p.StepsPerSecond <= 0 || p.Phases != 1.5 || p.CheckpointEvery != (p.Steps+3)/4 {
		t.Fatalf("plan %+v", p)
	}
	if want := int(p.StepsPerSecond * 4 / 1.5); p.Steps != max(10, want) {
		t.Errorf("%d steps for chunk 0, want %d from %.1f steps/s", p.Steps, want, p.StepsPerSecond)
	}
	for pos, want := range []int{p.Steps, int(float64(p.Steps)*0.5 + 0.5)} {
		_, step, err := gan.LatestCheckpoint(filepath.Join(dir, "train", "chunk-"+string(rune('0'+pos))))
		if err != nil || step != want {
			t.Errorf("chunk %d trained %d steps (%v), want %d", pos, step, err, want)
		}
	}
	res, err := Run(context.Background(), tinyConfig(t, dir, "model.steps=0", `model.time_budget="4s"`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range res.Timings {
		if tm.Stage == "train" && !tm.Reused {
			t.Error("a rerun with the same budget trained again")
		}
	}
}

// TestTimeBudgetUnderPrivacy trains a DP run by time: the step count is
// timed on a zero-valued set of the released flow count, and the privacy
// plan accounts for the steps the budget became.
func TestTimeBudgetUnderPrivacy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "model.steps=0", `model.time_budget="2s"`, "privacy.enabled=true", "privacy.noise=1.0", "flows.max_flow_len=16")
	if _, err := Run(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	var p budgetPlan
	var b budget
	for name, v := range map[string]any{filepath.Join("train", "plan.json"): &p, "privacy.json": &b} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	if p.Steps < 10 || len(b.Iterations) != 2 || b.Iterations[0] != p.Steps || b.Epsilon <= 0 {
		t.Errorf("plan %+v, budget %+v: want the budget's steps accounted", p, b)
	}
}

// The timing window grows with the budget: long enough on a long budget
// for slow steps to average out, never a noticeable share of a short one.
func TestTimingWindow(t *testing.T) {
	for _, tc := range []struct{ budget, want time.Duration }{
		{0, 1500 * time.Millisecond},
		{2 * time.Minute, 1500 * time.Millisecond},
		{14 * time.Minute, 8400 * time.Millisecond},
		{37 * time.Minute, 20 * time.Second},
		{10 * time.Hour, 20 * time.Second},
	} {
		if got := timingWindow(tc.budget); got != tc.want {
			t.Errorf("timingWindow(%v) = %v, want %v", tc.budget, got, tc.want)
		}
	}
}
