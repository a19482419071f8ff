package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/progress"
	"github.com/netshare/netshare/host/internal/tensor"
)

// trainDirs lists, per chunk, the directory of its checkpoints ("" for a
// chunk without flows, which is not trained and generates nothing). The
// trainer numbers the chunks it is given, so a chunk's directory is named
// by its position among the trained ones.
func (r *runner) trainDirs() []string {
	dirs := make([]string, len(r.sets))
	pos := 0
	for k, s := range r.sets {
		if s != nil {
			dirs[k] = filepath.Join(r.dir, "train", fmt.Sprintf("chunk-%d", pos))
			pos++
		}
	}
	return dirs
}

func (r *runner) modelConfig() gan.Config {
	cfg := r.cfg.Model.Config
	if p := r.cfg.Privacy; p.Enabled {
		cfg.DP = &gan.DPConfig{Clip: p.Clip, Noise: p.Noise}
	}
	return cfg
}

func (r *runner) train(ctx context.Context) (bool, error) {
	m := r.cfg.Model
	key := newKey("train").str("encode", r.keys["encode"]).json("model", m).json("privacy", r.cfg.Privacy).json("seed", r.cfg.Seed).sum()
	r.keys["train"] = key
	dirs := r.trainDirs()
	var outputs []string
	for _, d := range dirs {
		if d != "" {
			outputs = append(outputs, d)
		}
	}
	if r.stages.fresh("train", key, outputs...) {
		return true, nil
	}
	trainDir := filepath.Join(r.dir, "train")
	// Checkpoints of another configuration cannot be resumed from; those
	// of this one can (a killed run continues where it stopped).
	keyPath := filepath.Join(trainDir, "KEY")
	if old, err := os.ReadFile(keyPath); err != nil || string(old) != key {
		if err := os.RemoveAll(trainDir); err != nil {
			return false, err
		}
		if err := os.MkdirAll(trainDir, 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(keyPath, []byte(key), 0o644); err != nil {
			return false, err
		}
	}
	// Chunks without flows are not trained; the others keep their index in
	// the directory names so generation finds them.
	var sets []*tensor.Set
	var index []int
	for k, s := range r.sets {
		if s != nil {
			sets = append(sets, s)
			index = append(index, k)
		}
	}
	if len(sets) == 0 {
		return false, fmt.Errorf("no chunk has flows to train on")
	}
	modelCfg := r.modelConfig()
	steps := m.Steps
	if r.cfg.Privacy.Enabled {
		var b *budget
		var err error
		if steps, b, err = r.planPrivacy(); err != nil {
			return false, err
		}
		counts := r.flowCounts()
		for k, s := range r.sets {
			if s != nil {
				b.Counts = append(b.Counts, counts[k])
			}
		}
		if err := r.saveBudget(b); err != nil {
			return false, err
		}
		modelCfg.DP.Noise = b.Noise
		fmt.Fprintf(r.out, "privacy  ε = %.4g (δ = %g, order %g) with noise multiplier %.4g over %v iterations%s\n",
			b.Epsilon, b.Delta, b.Order, b.Noise, b.Iterations, suffix(b.Note))
	}
	var mu sync.Mutex
	logs := map[int]*os.File{}
	defer func() {
		for _, f := range logs {
			f.Close()
		}
	}()
	total := steps + int(float64(steps)*m.FinetuneFraction+0.5)*(len(sets)-1)
	done := make([]int, len(sets))
	opts := gan.ChunkOptions{
		Steps: steps, Fraction: m.FinetuneFraction, Workers: m.Workers, Seed: r.cfg.Seed,
		Dir: trainDir, CheckpointEvery: m.CheckpointEvery, Resume: true, LogEvery: m.LogEvery,
		Log: func(pos int) io.Writer {
			mu.Lock()
			defer mu.Unlock()
			dir := dirs[index[pos]]
			os.MkdirAll(dir, 0o755)
			f, err := os.OpenFile(filepath.Join(dir, "losses.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err != nil {
				return io.Discard
			}
			logs[pos] = f
			return f
		},
		Progress: func(pos int, p gan.Progress) {
			mu.Lock()
			done[pos] = p.Step
			sum := 0
			for _, d := range done {
				sum += d
			}
			mu.Unlock()
			if r.notify != nil {
				r.notify("train", sum, total)
			}
			r.line.Update("train    chunk %d step %d/%d  %.1f steps/s  loss D %.3f G %.3f  (all chunks %d/%d, ETA %s)",
				index[pos], p.Step, p.Total, p.StepsPerSec, p.Losses.Critic, p.Losses.Generator, sum, total,
				progress.ETA(sum, total, p.StepsPerSec))
		},
	}
	if _, err := gan.TrainChunks(ctx, modelCfg, sets, r.flows.MaxFlowLen, opts); err != nil {
		return false, err
	}
	return false, r.stages.done("train", key)
}

func suffix(note string) string {
	if note == "" {
		return ""
	}
	return ": " + note
}
