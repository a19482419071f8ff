package run

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/tensor"
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
	if p.TimedSteps < 10 || p.Steps < 1 || p.StepsPerSecond <= 0 || p.Phases != 1.5 || p.CheckpointEvery != (p.TimedSteps+3)/4 {
		t.Fatalf("plan %+v", p)
	}
	if want := int(p.StepsPerSecond * 4 / 1.5); p.TimedSteps != max(10, want) {
		t.Errorf("%d steps timed for chunk 0, want %d from %.1f steps/s", p.TimedSteps, want, p.StepsPerSecond)
	}
	// p.Steps is what chunk 0 trained after revising the plan at its
	// checkpoints, and the fine-tune follows it.
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
// TestReviseSteps: at a checkpoint, chunk 0's steps become the steps done
// plus what the last interval's rate fits in the rest of its share of the
// budget; the fine-tunes follow, and the plan file keeps the result.
func TestReviseSteps(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "train"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &runner{dir: dir, out: io.Discard, cfg: &pipeline.Config{}, sets: make([]*tensor.Set, 2)}
	r.sets[0], r.sets[1] = &tensor.Set{}, &tensor.Set{}
	r.cfg.Model.TimeBudget.Duration = 150 * time.Second
	r.cfg.Model.FinetuneFraction = 0.5
	timed := &budgetPlan{Key: "k", Steps: 1000, TimedSteps: 1000, CheckpointEvery: 250, Phases: 1.5}
	plan := &trainPlan{timed: timed, iters: r.planIterations(1000)}
	start := time.Unix(1000, 0)
	now := start
	revise := r.reviseSteps(plan, start, func() time.Time { return now })
	// Chunk 0's share is 100 s. 250 steps in the first 20 s: 12.5 steps/s
	// for the 80 s left.
	now = start.Add(20 * time.Second)
	if got := revise(250); got != 1250 || !slices.Equal(plan.iters, []int{1250, 625}) || plan.total != 1875 {
		t.Fatalf("revised to %d, iters %v total %d; want 1250, [1250 625], 1875", got, plan.iters, plan.total)
	}
	// The next 250 took 40 s: 6.25 steps/s for the 40 s left. The rate is
	// the last interval's, not the average since the start.
	now = start.Add(60 * time.Second)
	if got := revise(500); got != 750 {
		t.Fatalf("revised to %d, want 750", got)
	}
	// Past the share: one more step.
	now = start.Add(200 * time.Second)
	if got := revise(750); got != 751 {
		t.Fatalf("past the budget: revised to %d, want 751", got)
	}
	var saved budgetPlan
	raw, err := os.ReadFile(filepath.Join(dir, "train", "plan.json"))
	if err == nil {
		err = json.Unmarshal(raw, &saved)
	}
	if err != nil || saved.Steps != 751 || saved.TimedSteps != 1000 || saved.Key != "k" {
		t.Fatalf("saved plan %+v (%v): want 751 steps, 1000 timed", saved, err)
	}
}

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
