package gan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func tinyConfig() Config {
	cfg := learnConfig()
	cfg.AttrGenUnits, cfg.CriticUnits, cfg.AttrCriticUnits, cfg.LSTMUnits = 8, 8, 8, 4
	cfg.BatchSize = 16
	return cfg
}

func newTiny(t *testing.T, seed int64) *Model {
	t.Helper()
	ao, fo := learnOutputs()
	m, err := New(tinyConfig(), ao, fo, learnMaxLen, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func weights(m *Model) []float32 {
	var all []float32
	_, vals := m.state()
	for _, v := range vals {
		all = append(all, v...)
	}
	return all
}

// TestResumeBitIdentical: training 12 steps straight and training 8, then
// resuming from the checkpoint to 12, end in the same bits; the loss log and
// checkpoints appear as asked.
func TestResumeBitIdentical(t *testing.T) {
	data := learnData(50, 2)
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := newTiny(t, 3)
	var log bytes.Buffer
	if err := a.Train(ctx, data, TrainOptions{Steps: 12, CheckpointDir: dirA, CheckpointEvery: 4, Log: &log, LogEvery: 3}); err != nil {
		t.Fatal(err)
	}
	cks, err := Checkpoints(dirA)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cks {
		names = append(names, filepath.Base(c))
	}
	if want := []string{"step-000000004.ckpt", "step-000000008.ckpt", "step-000000012.ckpt"}; !slices.Equal(names, want) {
		t.Fatalf("checkpoints %v, want %v", names, want)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("loss log has %d lines, want 4:\n%s", len(lines), log.String())
	}
	var rec logLine
	if err := json.Unmarshal([]byte(lines[3]), &rec); err != nil || rec.Step != 12 {
		t.Fatalf("last log line %q: %v (step %d)", lines[3], err, rec.Step)
	}

	b := newTiny(t, 3)
	if err := b.Train(ctx, data, TrainOptions{Steps: 8, CheckpointDir: dirB, CheckpointEvery: 4}); err != nil {
		t.Fatal(err)
	}
	c := newTiny(t, 3) // a fresh process would start like this
	if err := c.Train(ctx, data, TrainOptions{Steps: 12, CheckpointDir: dirB, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if c.Step() != 12 {
		t.Fatalf("resumed model at step %d, want 12", c.Step())
	}
	if !slices.Equal(weights(a), weights(c)) {
		t.Fatal("resumed training differs from uninterrupted training")
	}
	if slices.Equal(weights(a), weights(newTiny(t, 3))) {
		t.Fatal("training did not change the weights")
	}

	// A loaded model generates exactly what the saved one does.
	l, err := Load(cks[len(cks)-1])
	if err != nil {
		t.Fatal(err)
	}
	gen := func(m *Model) ([]float32, []float32) {
		rng := rand.New(rand.NewPCG(1, 1))
		_, hard := m.GenerateAttributes(30, rng)
		f, v, err := m.GenerateFeatures(hard, rng)
		if err != nil {
			t.Fatal(err)
		}
		return append(hard, f...), v
	}
	f1, v1 := gen(a)
	f2, v2 := gen(l)
	if !slices.Equal(f1, f2) || !slices.Equal(v1, v2) {
		t.Fatal("loaded model generates differently")
	}
}

func TestRestoreRejectsOtherModel(t *testing.T) {
	dir := t.TempDir()
	a := newTiny(t, 1)
	if err := a.Save(checkpointPath(dir, 5)); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig()
	cfg.CriticUnits = 9
	ao, fo := learnOutputs()
	b, err := New(cfg, ao, fo, learnMaxLen, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Train(context.Background(), learnData(10, 1), TrainOptions{Steps: 6, CheckpointDir: dir, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "different model") {
		t.Fatalf("resume from another model's checkpoint: err = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.ckpt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v", err)
	}
	// no temporary files are left behind
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("checkpoint dir has %d entries, want 1", len(ents))
	}
}

// TestGenerateIndependentOfThreads: generation draws its noise in a fixed
// order, so GOMAXPROCS does not change what it returns.
func TestGenerateIndependentOfThreads(t *testing.T) {
	m := newTiny(t, 4)
	gen := func() []float32 {
		rng := rand.New(rand.NewPCG(5, 5))
		soft, hard := m.GenerateAttributes(1234, rng)
		f, v, err := m.GenerateFeatures(hard, rng)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Concat(soft, hard, f, v)
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	one := gen()
	runtime.GOMAXPROCS(3)
	if !slices.Equal(one, gen()) {
		t.Fatal("generation depends on GOMAXPROCS")
	}
}

// TestTrainRevise: Revise, called at each periodic checkpoint, moves the
// end of training, never to before the next step; the last step is
// checkpointed wherever it lands.
func TestTrainRevise(t *testing.T) {
	cases := []struct {
		name   string
		revise func(step int) int
		want   int   // steps trained
		calls  []int // steps Revise saw
		ckpts  []int
	}{
		{"longer", func(s int) int { return 13 }, 13, []int{4, 8, 12}, []int{4, 8, 12, 13}},
		{"shorter", func(s int) int { return 6 }, 6, []int{4}, []int{4, 6}},
		{"not before the next step", func(s int) int { return 0 }, 5, []int{4}, []int{4, 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m := newTiny(t, 1)
			var calls []int
			err := m.Train(context.Background(), learnData(10, 1), TrainOptions{Steps: 10, CheckpointDir: dir, CheckpointEvery: 4,
				Revise: func(s int) int { calls = append(calls, s); return tc.revise(s) }})
			if err != nil {
				t.Fatal(err)
			}
			var ckpts []int
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				var s int
				if _, err := fmt.Sscanf(e.Name(), "step-%d.ckpt", &s); err == nil {
					ckpts = append(ckpts, s)
				}
			}
			if m.Step() != tc.want || !slices.Equal(calls, tc.calls) || !slices.Equal(ckpts, tc.ckpts) {
				t.Fatalf("trained %d steps, Revise at %v, checkpoints %v; want %d, %v, %v", m.Step(), calls, ckpts, tc.want, tc.calls, tc.ckpts)
			}
		})
	}
}
