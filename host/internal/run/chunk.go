package run

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/progress"
	"github.com/netshare/netshare/host/internal/tensor"
)

// ChunkPlan is what training one chunk needs besides that chunk's
// tensors: Open writes it (SaveChunkPlan) after planning, and OpenChunk
// reads it instead of the records, the flows and every chunk's tensors, so
// a distributed worker training one chunk reads only what grows with that
// chunk, not with the trace or the number of chunks.
type ChunkPlan struct {
	// TrainKey is the training stage's key; train/KEY must still hold it.
	TrainKey string `json:"train_key"`
	// Model is the model configuration with the privacy plan's noise set.
	Model gan.Config `json:"model"`
	// Iterations is each trained chunk's steps, by position.
	Iterations []int `json:"iterations"`
	// CheckpointEvery is the steps between checkpoints (model.checkpoint_every,
	// or a quarter of the steps under a time budget).
	CheckpointEvery int `json:"checkpoint_every"`
	// Index is each trained position's chunk index (its tensor file).
	Index []int `json:"index"`
	// MaxFlowLen is the feature length a new model is built for.
	MaxFlowLen int `json:"max_flow_len"`
}

// ChunkPlanFile is the plan's path in the run directory.
const ChunkPlanFile = "chunks/plan.json"

// ChunkFile is chunk k's tensor file in the run directory.
func ChunkFile(k int) string { return fmt.Sprintf("chunks/chunk-%d.gob", k) }

// ChunkRecordsFile is chunk k's real records in time order (what a
// chunk's generation scores its checkpoints against).
func ChunkRecordsFile(k int) string { return fmt.Sprintf("chunks/records-%d.bin", k) }

// AttributesFile is chunk k's generated flow attributes
// (Session.GenerateAttributes), which generating the chunk reads.
func AttributesFile(k int) string { return fmt.Sprintf("generated/attrs-%d.gob", k) }

// TrainDir is the pos-th trained chunk's checkpoint directory in the run
// directory.
func TrainDir(pos int) string { return fmt.Sprintf("train/chunk-%d", pos) }

// SaveChunkPlan writes the plan OpenChunk reads and returns it.
func (s *Session) SaveChunkPlan() (*ChunkPlan, error) {
	r := s.r
	p := ChunkPlan{TrainKey: r.keys["train"], Model: r.plan.cfg, Iterations: r.plan.iters, CheckpointEvery: r.plan.every, MaxFlowLen: r.flows.MaxFlowLen}
	for k, set := range r.sets {
		if set != nil {
			p.Index = append(p.Index, k)
		}
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return &p, atomicfile.WriteBytes(filepath.Join(r.dir, filepath.FromSlash(ChunkPlanFile)), b)
}

// LoadChunkPlan reads the plan of the run in dir.
func LoadChunkPlan(dir string) (*ChunkPlan, error) {
	path := filepath.Join(dir, filepath.FromSlash(ChunkPlanFile))
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the chunk plan (written when the run is prepared): %w", err)
	}
	var p ChunkPlan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(p.Index) != len(p.Iterations) || len(p.Index) == 0 {
		return nil, fmt.Errorf("%s: %d chunk indices for %d trained chunks", path, len(p.Index), len(p.Iterations))
	}
	return &p, nil
}

// localChunk is the one chunk a session opened with OpenChunk holds.
type localChunk struct {
	pos, k     int
	set        *tensor.Set
	maxFlowLen int
}

// OpenChunk opens a prepared run to train its pos-th trained chunk only:
// it reads the chunk plan and that chunk's tensors, and TrainChunk then
// reads its own checkpoints and (for pos > 0) chunk 0's newest one. The
// session can train only that chunk; the result is the same as through
// Open, which reads and encodes the whole trace.
func OpenChunk(ctx context.Context, cfg *pipeline.Config, opts Options, pos int) (*Session, error) {
	return openChunk(cfg, opts, pos, true)
}

// OpenGenerate opens a prepared, trained run to generate its pos-th
// trained chunk only (Session.GenerateChunk): it reads the chunk plan,
// the encoders' state, and GenerateChunk then reads the chunk's
// attributes (Session.GenerateAttributes), its checkpoints and its real
// records — nothing that grows with the trace or the number of chunks.
func OpenGenerate(ctx context.Context, cfg *pipeline.Config, opts Options, pos int) (*Session, error) {
	s, err := openChunk(cfg, opts, pos, false)
	if err != nil {
		return nil, err
	}
	r := s.r
	if r.state, err = encoding.LoadState(filepath.Join(r.dir, "encoders.json")); err != nil {
		return nil, err
	}
	if r.host = opts.Host; r.host == nil {
		if r.host, err = plugin.NewHost(ctx, PluginOptions(cfg)); err != nil {
			return nil, err
		}
		s.ownHost = true
	}
	return s, nil
}

func openChunk(cfg *pipeline.Config, opts Options, pos int, withSet bool) (*Session, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	dir := cfg.Resolve(cfg.RunDir)
	p, err := LoadChunkPlan(dir)
	if err != nil {
		return nil, err
	}
	if pos < 0 || pos >= len(p.Index) {
		return nil, fmt.Errorf("no trained chunk %d: the run trains %d", pos, len(p.Index))
	}
	// Checkpoints of another configuration must not be resumed: the plan
	// and train/KEY are written together when the run is prepared.
	if key, err := os.ReadFile(filepath.Join(dir, "train", "KEY")); err != nil || string(key) != p.TrainKey {
		return nil, fmt.Errorf("chunk %d: the training plan does not match train/KEY: prepare the run again", pos)
	}
	k := p.Index[pos]
	var set *tensor.Set
	if withSet {
		if set, err = loadSet(filepath.Join(dir, filepath.FromSlash(ChunkFile(k)))); err != nil {
			return nil, fmt.Errorf("chunk %d: %w", k, err)
		}
	}
	st, err := loadStages(dir)
	if err != nil {
		return nil, fmt.Errorf("run directory %s: %w", dir, err)
	}
	r := &runner{cfg: cfg, dir: dir, out: out, line: progress.New(out), notify: opts.Progress, stages: st,
		res: &Result{RunDir: dir}, keys: map[string]string{"train": p.TrainKey},
		local: &localChunk{pos: pos, k: k, set: set, maxFlowLen: p.MaxFlowLen}}
	r.plan = &trainPlan{cfg: p.Model, every: p.CheckpointEvery, iters: p.Iterations, done: make([]int, len(p.Iterations))}
	for _, it := range p.Iterations {
		r.plan.total += it
	}
	return &Session{r: r}, nil
}

// maxFlowLen is the feature length of the run's models.
func (r *runner) maxFlowLen() int {
	if r.local != nil {
		return r.local.maxFlowLen
	}
	return r.flows.MaxFlowLen
}
