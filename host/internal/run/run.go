// Package run executes a pipeline end to end: read the trace, split it into
// flows and chunks, fit the encoders and build the chunk tensors, train
// DoppelGANger (chunk 0, then the others in parallel from it), generate,
// decode, write the synthetic trace, score it and write the report. Every
// stage writes into the run directory and records a hash of its inputs, so
// a rerun skips the stages whose inputs have not changed.
//
// Each stage has its file, in the order of the README's pipeline line:
// read.go, encode.go, train.go (with budget.go, the network sizes and time
// budget, and dp.go, the privacy plan), generate.go, output.go, score.go,
// report.go and release.go. This file is the public API; stages.go keeps
// the record of what each stage's output depends on, persist.go the forms
// its products are saved in.
package run

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/progress"
	"github.com/netshare/netshare/host/internal/tensor"
)

// Options are what the caller provides besides the pipeline.
type Options struct {
	// Out receives stage lines and the progress line.
	Out io.Writer
	// Host runs the plugins; nil creates one from the pipeline's [plugins].
	Host *plugin.Host
	// Progress, if set, hears of training progress: steps done of the
	// total over all chunks (a distributed worker heartbeats with it).
	Progress func(stage string, done, total int)
}

// Result says where a run left its products.
type Result struct {
	RunDir  string
	Output  string // the synthetic trace
	Metrics string // metrics.json
	Report  string // report.html
	Scores  map[string]float64
	Timings []Timing
}

// Timing is how long one stage took, and whether it was reused.
type Timing struct {
	Stage   string        `json:"stage"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Reused  bool          `json:"reused"`
}

// runner carries one run's state from stage to stage.
type runner struct {
	cfg  *pipeline.Config
	host *plugin.Host
	// decodeLanes is how many module instances decoded generated records.
	decodeLanes int
	// generatedHere counts the chunks the generate stage generated itself
	// rather than merging a worker's part (Session.GenerateChunk).
	generatedHere int
	dir           string
	out           io.Writer
	line          *progress.Line
	notify        func(stage string, done, total int)
	stages        *stages
	res           *Result

	records   *abi.Batch // training records (without the holdout)
	holdout   *abi.Batch
	inFmt     string
	flows     *flow.Set
	fields    []abi.Field
	state     *encoding.State
	sets      []*tensor.Set // per chunk; nil for a chunk without flows
	plan      *trainPlan
	synthetic *abi.Batch
	keys      map[string]string

	// attrCalibration is each chunk's attribute calibration, for its
	// checkpoint choice (mergedAttributes).
	attrCalibration [][]calibrated
	// shares are each chunk's training category shares (sharesOf).
	shares []*chunkShares

	// local is the one chunk of a session opened by OpenChunk (nil
	// otherwise: every chunk is in sets).
	local     *localChunk
	histNoise float64 // marginalNoise, once solved
	// lenBins is how many length bins the trained models have, once
	// lengthBins has worked it out (lenBinsOK).
	lenBins   int
	lenBinsOK bool
}

// Run executes cfg on this machine.
func Run(ctx context.Context, cfg *pipeline.Config, opts Options) (*Result, error) {
	s, err := Open(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	defer s.Close(ctx)
	if !s.trained {
		start := time.Now()
		if err := s.r.trainAll(ctx); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		s.r.timed("train", start, false)
	} else {
		s.r.timed("train", time.Now(), true)
	}
	return s.Finish(ctx)
}

// Session is one run driven stage by stage: Open reads and encodes and
// plans training, TrainChunk trains one chunk, Finish generates, writes,
// scores and reports. Run drives it on one machine; a distributed engine
// calls the same steps from its workers, with the run directory on storage
// every worker reaches, and gets the same result for the same seed.
type Session struct {
	r       *runner
	ownHost bool
	trained bool
}

// Open prepares a run: the read and encode stages (reused when their
// inputs are unchanged) and the training plan.
func Open(ctx context.Context, cfg *pipeline.Config, opts Options) (*Session, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	dir := cfg.Resolve(cfg.RunDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	st, err := loadStages(dir)
	if err != nil {
		return nil, fmt.Errorf("run directory %s: %w", dir, err)
	}
	s := &Session{}
	h := opts.Host
	if h == nil {
		if h, err = plugin.NewHost(ctx, PluginOptions(cfg)); err != nil {
			return nil, err
		}
		s.ownHost = true
	}
	s.r = &runner{cfg: cfg, host: h, dir: dir, out: out, line: progress.New(out), notify: opts.Progress, stages: st,
		res: &Result{RunDir: dir}, keys: map[string]string{}}
	if err := s.open(ctx); err != nil {
		s.Close(ctx)
		return nil, err
	}
	return s, nil
}

func (s *Session) open(ctx context.Context) error {
	r := s.r
	if err := r.cfg.ValidateComponents(r.host); err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(r.dir, "pipeline.toml"), []byte(r.cfg.Text)); err != nil {
		return err
	}
	if err := r.stage(ctx, "read", r.read); err != nil {
		return err
	}
	if err := r.stage(ctx, "encode", r.encode); err != nil {
		return err
	}
	var err error
	s.trained, err = r.planTraining(ctx)
	return err
}

// Chunks is the number of chunks to train (chunks with flows).
func (s *Session) Chunks() int { return len(s.r.plan.iters) }

// Trained reports whether training is complete for these inputs.
func (s *Session) Trained() bool { return s.trained }

// TrainChunk trains the pos-th chunk with flows, resuming from its newest
// checkpoint: chunk 0 from scratch, the others from chunk 0's final
// checkpoint, so chunk 0 must be complete first.
func (s *Session) TrainChunk(ctx context.Context, pos int) error { return s.r.trainChunk(ctx, pos) }

// GenerateAttributes generates every chunk's flow attributes from the
// chunks' final models and places them (a flow is kept by the chunk that
// generated it if it starts there and copied into the later chunks it
// appears in), and leaves each chunk's in the run directory
// (AttributesFile), where a session opened with OpenGenerate reads its
// own. It reads every chunk's final checkpoint, once for all chunks.
func (s *Session) GenerateAttributes(ctx context.Context) error {
	r := s.r
	if r.local != nil {
		return fmt.Errorf("generate: the attributes need every chunk's model: open the whole run")
	}
	if err := r.allTrained(); err != nil {
		return fmt.Errorf("generate: train: %w", err)
	}
	key := r.generateKey()
	attrs, _, err := r.attributes()
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	for k, a := range attrs {
		if r.sets[k] == nil {
			continue
		}
		ca := chunkAttributes{Key: key, Attrs: a, Calibration: r.attrCalibration[k]}
		if k < len(r.shares) { // counted when the attributes were calibrated
			ca.Shares = r.shares[k]
		}
		if err := writeGob(filepath.Join(r.dir, filepath.FromSlash(AttributesFile(k))), ca); err != nil {
			return err
		}
	}
	return nil
}

// GenerateChunk generates chunk k (a chunk index, one with flows) from
// each of its checkpoints, chooses among them and leaves its records and
// choice in the run directory, where Finish's generate stage merges them
// instead of generating the chunk itself. Every chunk must be trained. In
// a session opened with OpenGenerate it reads only the chunk's own files,
// GenerateAttributes having run; in one opened with Open it generates the
// attributes itself. Generating chunks apart, on several workers, gives
// the same synthetic trace as Finish alone: the same functions and seeds
// run.
func (s *Session) GenerateChunk(ctx context.Context, k int) error {
	r := s.r
	if l := r.local; l != nil && l.k != k {
		return fmt.Errorf("generate: the session holds chunk %d, not %d", l.k, k)
	}
	if r.local == nil && (k < 0 || k >= len(r.sets) || r.sets[k] == nil) {
		return fmt.Errorf("generate: no chunk %d with flows", k)
	}
	if err := r.allTrained(); err != nil {
		return fmt.Errorf("generate chunk %d: train: %w", k, err)
	}
	key := r.generateKey()
	if part, _ := r.loadChunkPart(k, key); part != nil {
		return nil // a lost worker's retry: done already
	}
	var g *generator
	var err error
	if r.local != nil {
		g, err = r.localGenerator(ctx, key)
	} else {
		g, err = r.openGenerator(ctx)
	}
	if err != nil {
		return fmt.Errorf("generate chunk %d: %w", k, err)
	}
	defer g.close()
	part, ch, err := g.chunk(ctx, k)
	if err != nil {
		return fmt.Errorf("generate chunk %d: %w", k, err)
	}
	if err := saveBatch(filepath.Join(r.dir, chunkPartFile(k)), part); err != nil {
		return err
	}
	b, err := json.MarshalIndent(chunkGenerated{Key: key, Choice: *ch}, "", "  ")
	if err != nil {
		return err
	}
	// The choice last: it names the key, so a part is used only once
	// both are complete.
	return atomicfile.WriteBytes(filepath.Join(r.dir, chunkChoiceFile(k)), b)
}

// Finish checks that every chunk is trained, then generates, writes the
// synthetic trace, scores it, writes the report and builds the release.
func (s *Session) Finish(ctx context.Context) (*Result, error) {
	r := s.r
	if !s.trained {
		if err := r.trainingComplete(); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		s.trained = true
	}
	for _, st := range []struct {
		name string
		fn   func(context.Context) (bool, error)
	}{
		{"generate", r.generate},
		{"output", r.output},
		{"score", r.score},
		{"report", r.report},
		{"release", r.release},
	} {
		if err := r.stage(ctx, st.name, st.fn); err != nil {
			return nil, err
		}
	}
	return r.res, nil
}

// Close releases the plugin host the session made.
func (s *Session) Close(ctx context.Context) {
	if s.ownHost {
		s.r.host.Close(ctx)
	}
}

// stage runs one stage and records its timing.
func (r *runner) stage(ctx context.Context, name string, fn func(context.Context) (bool, error)) error {
	start := time.Now()
	reused, err := fn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r.timed(name, start, reused)
	return nil
}

func (r *runner) timed(name string, start time.Time, reused bool) {
	t := Timing{Stage: name, Elapsed: time.Since(start), Reused: reused}
	r.res.Timings = append(r.res.Timings, t)
	note := ""
	if reused {
		note = " (inputs unchanged: reused)"
	}
	r.line.Done("%-9s done in %s%s", name, t.Elapsed.Round(time.Millisecond), note)
}

// PluginOptions turns a pipeline's [plugins] section into runtime options.
func PluginOptions(cfg *pipeline.Config) plugin.Options {
	p := cfg.Plugins
	opts := plugin.Options{
		CacheDir: p.CacheDir,
		Limits:   plugin.Limits{MemoryMiB: p.MemoryMiB, CallTimeout: p.CallTimeout.Duration},
	}
	for _, m := range p.Modules {
		opts.Extra = append(opts.Extra, plugin.ModuleSpec{
			Path:   cfg.Resolve(m.Path),
			SHA256: m.SHA256,
			Limits: plugin.Limits{MemoryMiB: m.MemoryMiB, CallTimeout: m.CallTimeout.Duration},
		})
	}
	return opts
}
