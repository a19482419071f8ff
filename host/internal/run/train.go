package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/netshare/netshare/host/internal/atomicfile"
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

// modelConfig is the [model] section with its sizes settled: a model
// fine-tuned from a public one takes that model's sizes; otherwise they
// follow the flow counts (sizeModel), under privacy the noisy ones, since
// the architecture is released with every model and the real counts are
// private.
func (r *runner) modelConfig(noisy []int) (gan.Config, error) {
	var cfg gan.Config
	switch {
	case r.cfg.Privacy.Pretrained != "":
		public, err := r.publicModel()
		if err != nil {
			return cfg, err
		}
		cfg = sizedLike(r.cfg.Model.Config, public.Config())
	case noisy != nil:
		cfg = sizeModel(r.cfg.Model.Config, noisy)
	default:
		var counts []int
		for _, s := range r.sets {
			if s != nil {
				counts = append(counts, s.N)
			}
		}
		cfg = sizeModel(r.cfg.Model.Config, counts)
	}
	if p := r.cfg.Privacy; p.Enabled {
		cfg.DP = &gan.DPConfig{Clip: p.Clip, Noise: p.Noise, Reproducible: p.InsecureReproducibleNoise}
	}
	// Length weighting (docs/gan.md) is for flows longer than one LSTM
	// pass, and its generation-side correction is made where one chunk's
	// model generates that chunk's flows: not with fine-tuned chunks
	// (which would inherit the weighted model), a public prior, or DP
	// (whose accountant assumes uniform draws).
	if cfg.LengthWeighting && (r.cfg.Privacy.Enabled || r.cfg.Privacy.Pretrained != "" ||
		r.trainedChunks() > 1 || r.maxFlowLen() <= cfg.SampleLen) {
		cfg.LengthWeighting = false
	}
	return cfg, nil
}

// planTraining settles what training will do: the stage key, the
// checkpoint directory (cleared when the configuration changed, kept for
// resuming otherwise), the privacy plan and each chunk's iterations. It
// reports whether training is already complete for these inputs.
func (r *runner) planTraining(ctx context.Context) (bool, error) {
	m := r.cfg.Model
	// What generation does with copies does not change training.
	priv := r.cfg.Privacy
	priv.Copies = ""
	k := newKey("train").str("encode", r.keys["encode"]).json("model", m).json("privacy", priv).json("seed", r.cfg.Seed)
	if r.cfg.Privacy.Pretrained != "" {
		ck, err := PublicCheckpoint(r.cfg.Resolve(r.cfg.Privacy.Pretrained))
		if err != nil {
			return false, err
		}
		if err := k.file(ck); err != nil {
			return false, err
		}
	}
	key := k.sum()
	r.keys["train"] = key
	var outputs []string
	for _, d := range r.trainDirs() {
		if d != "" {
			outputs = append(outputs, d)
		}
	}
	fresh := r.stages.fresh("train", key, outputs...)
	if r.trainedChunks() == 0 {
		return false, fmt.Errorf("no chunk has flows to train on")
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
		if err := atomicfile.WriteBytes(keyPath, []byte(key)); err != nil {
			return false, err
		}
		fresh = false
	}
	var noisy []int
	var lengths [][]float64
	var marginals []marginal
	if r.cfg.Privacy.Enabled {
		old, _ := loadBudget(r.dir)
		noisy = r.noisyCounts(key)
		var err error
		if lengths, err = r.noisyLengths(key); err != nil {
			return false, err
		}
		if marginals, err = r.noisyMarginals(key, old); err != nil {
			return false, err
		}
	}
	modelCfg, err := r.modelConfig(noisy)
	if err != nil {
		return false, err
	}
	steps, every, timed, err := r.plannedSteps(ctx, key, modelCfg, noisy)
	if err != nil {
		return false, err
	}
	if r.cfg.Privacy.Enabled {
		var b *budget
		if steps, b, err = r.planPrivacy(steps); err != nil {
			return false, err
		}
		b.TrainKey = key
		b.Counts, b.LengthBins = noisy, lengths
		b.Marginals = marginals
		if b.MarginalNoise, err = r.marginalNoise(); err != nil {
			return false, err
		}
		if err := r.saveBudget(b); err != nil {
			return false, err
		}
		modelCfg.DP.Noise = b.Noise
		if !fresh {
			fmt.Fprintf(r.out, "privacy  ε = %.4g (δ = %g, order %g) with noise multiplier %.4g over %v iterations%s\n",
				b.Epsilon, b.Delta, b.Order, b.Noise, b.Iterations, suffix(b.Note))
		}
		if b.NotPrivate != "" {
			fmt.Fprintf(r.out, "privacy  %s\n", b.NotPrivate)
		}
	}
	r.plan = &trainPlan{cfg: modelCfg, every: every, iters: r.planIterations(steps), done: make([]int, r.trainedChunks())}
	if !r.cfg.Privacy.Enabled {
		// Under DP the steps are the accountant's: they stay as planned.
		r.plan.timed = timed
	}
	for _, it := range r.plan.iters {
		r.plan.total += it
	}
	return fresh, nil
}

// trainAll trains every chunk on this machine: chunk 0 first, then the
// others from its final weights with a pool of workers. Each chunk has its
// own seed, so the result does not depend on how many run at once or
// where (a cluster trains the same chunks with trainChunk).
func (r *runner) trainAll(ctx context.Context) error {
	workers := r.cfg.Model.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	n := len(r.plan.iters)
	// Chunk 0 trains alone: its sgemm gets every worker's thread; the
	// fine-tunes then share them.
	defer gan.SetBLASThreads(1)
	gan.SetBLASThreads(workers)
	r.plan.revise = r.plan.timed != nil
	err := r.trainChunk(ctx, 0)
	r.plan.revise = false
	if err != nil {
		return err
	}
	if t := r.plan.timed; t != nil && r.plan.iters[0] != t.Steps {
		fmt.Fprintf(r.out, "train    chunk 0 trained %d steps at the rate it ran (timed plan: %d)\n", r.plan.iters[0], t.Steps)
	}
	gan.SetBLASThreads(workers / max(1, min(workers, n-1)))
	jobs := make(chan int)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n-1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pos := range jobs {
				errs[pos] = r.trainChunk(ctx, pos)
			}
		}()
	}
	for pos := 1; pos < n; pos++ {
		jobs <- pos
	}
	close(jobs)
	wg.Wait()
	return errors.Join(errs...)
}

// trainingComplete checks that every chunk's newest checkpoint is at its
// planned step, then records the stage as done.
func (r *runner) trainingComplete() error {
	if err := r.allTrained(); err != nil {
		return err
	}
	return r.stages.done("train", r.keys["train"])
}

// allTrained checks that every chunk has its final checkpoint (a session
// of one chunk checks its own).
func (r *runner) allTrained() error {
	for pos, want := range r.plan.iters {
		if r.local != nil && pos != r.local.pos {
			continue
		}
		_, step, err := gan.LatestCheckpoint(filepath.Join(r.dir, "train", fmt.Sprintf("chunk-%d", pos)))
		if err != nil {
			return err
		}
		if step != want {
			_, k := r.trainedSet(pos)
			return fmt.Errorf("chunk %d has trained %d of %d steps", k, step, want)
		}
	}
	return nil
}

// trainPlan is what every chunk's training shares.
type trainPlan struct {
	cfg   gan.Config
	every int   // steps between checkpoints
	iters []int // per trained chunk
	total int
	// timed is the plan model.time_budget was just timed into, which
	// chunk 0 revises as it trains when all chunks train here (trainAll);
	// nil when the steps are fixed.
	timed *budgetPlan
	// revise is set by trainAll for chunk 0 when timed is.
	revise bool

	mu   sync.Mutex
	done []int
}

// trainChunk trains the pos-th chunk that has flows: the first from
// scratch, the others from the first's final checkpoint. Each resumes from
// its own newest checkpoint, so a killed run loses at most the steps since
// then.
func (r *runner) trainChunk(ctx context.Context, pos int) error {
	plan := r.plan
	if pos < 0 || pos >= len(plan.iters) {
		return fmt.Errorf("no trained chunk %d: the run trains %d", pos, len(plan.iters))
	}
	set, k := r.trainedSet(pos)
	if set == nil {
		return fmt.Errorf("chunk position %d is not open in this session", pos)
	}
	dir := filepath.Join(r.dir, "train", fmt.Sprintf("chunk-%d", pos))
	seed := gan.ChunkSeed(r.cfg.Seed, pos)
	var model *gan.Model
	var err error
	switch {
	case r.cfg.Privacy.Pretrained != "":
		// Public pretraining (NetShare's SAME/DIFF setups): every chunk
		// starts from the model trained on public data.
		var public *gan.Model
		if public, err = r.publicModel(); err == nil {
			model, err = public.ForkWith(plan.cfg, seed)
		}
	case pos == 0:
		model, err = gan.New(plan.cfg, set.AttrOutputs, set.FeatOutputs, r.maxFlowLen(), seed)
	default:
		var first string
		first, _, err = gan.LatestCheckpoint(filepath.Join(r.dir, "train", "chunk-0"))
		if err == nil && first == "" {
			err = errors.New("chunk 0 has no checkpoint to start from")
		}
		var m0 *gan.Model
		if err == nil {
			m0, err = gan.Load(first)
		}
		if err == nil {
			model, err = m0.Fork(seed)
		}
	}
	if err == nil && r.cfg.Privacy.Enabled && model.LengthBins() > 0 {
		// Under DP the model draws lengths from the released histogram.
		var b *budget
		if b, err = loadBudget(r.dir); err == nil {
			if pos >= len(b.LengthBins) {
				err = fmt.Errorf("privacy: privacy.json has %d noisy length histograms, want one for trained chunk %d", len(b.LengthBins), pos)
			} else {
				err = model.SetLengthDist(b.LengthBins[pos])
			}
		}
	}
	if err != nil {
		return fmt.Errorf("chunk %d: %w", k, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "losses.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	m := r.cfg.Model
	var revise func(int) int
	if pos == 0 && plan.revise {
		// Only a training that starts here: a resumed one cannot know how
		// much of the budget went before, and trains to the saved plan.
		if _, step, err := gan.LatestCheckpoint(dir); err == nil && step == 0 {
			revise = r.reviseSteps(plan, time.Now(), time.Now)
		}
	}
	err = model.Train(ctx, set, gan.TrainOptions{
		Revise: revise,
		Steps:  plan.iters[pos], CheckpointDir: dir, CheckpointEvery: plan.every, Resume: true,
		Log: logf, LogEvery: m.LogEvery, ProgressEvery: max(1, m.LogEvery),
		Progress: func(p gan.Progress) {
			plan.mu.Lock()
			plan.done[pos] = p.Step
			sum := 0
			for _, d := range plan.done {
				sum += d
			}
			plan.mu.Unlock()
			if r.notify != nil {
				r.notify("train", sum, plan.total)
			}
			r.line.Update("train    chunk %d step %d/%d  %.1f steps/s  loss critic %.3f generator %.3f  (all chunks %d/%d, ETA %s)",
				k, p.Step, p.Total, p.StepsPerSec, p.Losses.Critic, p.Losses.Generator, sum, plan.total,
				progress.ETA(sum, plan.total, p.StepsPerSec))
		},
	})
	if err != nil {
		return fmt.Errorf("chunk %d: %w", k, err)
	}
	return nil
}

// trainedSet is the pos-th chunk with flows and its chunk index.
func (r *runner) trainedSet(pos int) (*tensor.Set, int) {
	if l := r.local; l != nil {
		if pos != l.pos {
			return nil, -1
		}
		return l.set, l.k
	}
	for k, s := range r.sets {
		if s == nil {
			continue
		}
		if pos == 0 {
			return s, k
		}
		pos--
	}
	return nil, -1
}

func suffix(note string) string {
	if note == "" {
		return ""
	}
	return ": " + note
}

// PublicCheckpoint is the model file a pretrained run starts from, given
// privacy.pretrained resolved: the file itself, or, for a run directory
// whose chunk 0 was trained on public data, that chunk's newest
// checkpoint.
func PublicCheckpoint(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("privacy.pretrained: %w", err)
	}
	if !st.IsDir() {
		return path, nil
	}
	ck, _, err := gan.LatestCheckpoint(filepath.Join(path, "train", "chunk-0"))
	if err == nil && ck == "" {
		err = fmt.Errorf("%s holds no trained model (no train/chunk-0 checkpoint)", path)
	}
	if err != nil {
		return "", fmt.Errorf("privacy.pretrained: %w", err)
	}
	return ck, nil
}

func (r *runner) publicModel() (*gan.Model, error) {
	ck, err := PublicCheckpoint(r.cfg.Resolve(r.cfg.Privacy.Pretrained))
	if err != nil {
		return nil, err
	}
	return gan.Load(ck)
}
