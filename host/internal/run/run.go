// Package run executes a pipeline end to end: read the trace, split it into
// flows and chunks, fit the encoders and build the chunk tensors, train
// DoppelGANger (chunk 0, then the others in parallel from it), generate,
// decode, write the synthetic trace, score it and write the report. Every
// stage writes into the run directory and records a hash of its inputs, so
// a rerun skips the stages whose inputs have not changed.
package run

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/progress"
	"github.com/netshare/netshare/host/internal/sample"
	"github.com/netshare/netshare/host/internal/tensor"
	"github.com/netshare/netshare/host/internal/trace"
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
	dir         string
	out         io.Writer
	line        *progress.Line
	notify      func(stage string, done, total int)
	stages      *stages
	res         *Result

	records   *abi.Batch // training records (without the holdout)
	holdout   *abi.Batch
	inFmt     string
	flows     *flow.Set
	fields    []pipeline.Field
	state     *encoding.State
	sets      []*tensor.Set // per chunk; nil for a chunk without flows
	plan      *trainPlan
	synthetic *abi.Batch
	keys      map[string]string
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
	s.trained, err = r.planTraining()
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

// Finish checks that every chunk is trained, then generates, writes the
// synthetic trace, scores it and writes the report.
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

// inputPaths resolves the configured inputs, generating the sample trace
// for "@sample".
func (r *runner) inputPaths(ctx context.Context) ([]string, error) {
	var paths []string
	for _, p := range r.cfg.Input.Paths {
		if p != "@sample" {
			paths = append(paths, r.cfg.Resolve(p))
			continue
		}
		path := filepath.Join(r.dir, "input", "sample.pcap")
		if _, err := os.Stat(path); err != nil {
			o := sample.DefaultOptions()
			o.Seed = uint64(r.cfg.Seed)
			if err := trace.Write(ctx, r.host, path, sample.Packets(o), trace.WriteOptions{Format: "pcap", Seed: r.cfg.Seed}); err != nil {
				return nil, fmt.Errorf("writing the sample trace: %w", err)
			}
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func (r *runner) read(ctx context.Context) (bool, error) {
	paths, err := r.inputPaths(ctx)
	if err != nil {
		return false, err
	}
	k := newKey("read").json("input", r.cfg.Input)
	for _, p := range paths {
		if err := k.file(p); err != nil {
			return false, err
		}
	}
	key := k.sum()
	r.keys["read"] = key
	recPath := filepath.Join(r.dir, "records", "records.bin")
	infoPath := filepath.Join(r.dir, "records", "files.json")
	var info struct {
		Format string            `json:"format"`
		Files  []trace.FileStats `json:"files"`
	}
	reused := r.stages.fresh("read", key, recPath, infoPath)
	var all *abi.Batch
	if reused {
		if all, err = loadBatch(recPath); err != nil {
			return false, err
		}
		raw, err := os.ReadFile(infoPath)
		if err != nil {
			return false, err
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			return false, fmt.Errorf("%s: %w", infoPath, err)
		}
	} else {
		r.line.Update("read     %s", strings.Join(paths, ", "))
		tr, err := trace.Read(ctx, r.host, paths, trace.Options{Format: r.cfg.Input.Format, Params: r.cfg.Input.Params, Seed: r.cfg.Seed})
		if err != nil {
			return false, err
		}
		all, info.Files = tr.Records, tr.Files
		info.Format = r.cfg.Input.Format
		if info.Format == "" && len(tr.Files) > 0 {
			info.Format = tr.Files[0].Format
		}
		if all.Len() == 0 {
			return false, fmt.Errorf("no records in %s", strings.Join(paths, ", "))
		}
		if err := saveBatch(recPath, all); err != nil {
			return false, err
		}
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := atomicfile.WriteBytes(infoPath, b); err != nil {
			return false, err
		}
		if err := r.stages.done("read", key); err != nil {
			return false, err
		}
	}
	r.inFmt = info.Format
	for _, f := range info.Files {
		var skipped int64
		for _, n := range f.Skipped {
			skipped += n
		}
		if skipped > 0 {
			fmt.Fprintf(r.out, "read     %s: %d records, %d skipped %v\n", f.Path, f.Records, skipped, f.Skipped)
		}
	}
	if all, err = r.orient(all); err != nil {
		return false, err
	}
	r.records, r.holdout = splitHoldout(all, r.cfg.Input.Holdout, r.cfg.Flows.Key, r.cfg.Seed)
	return reused, nil
}

// orient settles flows.direction and, for bidirectional flows, writes
// each conversation from its initiator with a direction column, so the
// flow key groups both directions (flow.Orient). Only the in-memory
// records change: records.bin keeps the trace as read.
func (r *runner) orient(all *abi.Batch) (*abi.Batch, error) {
	dir, err := flow.ParseDirection(r.cfg.Flows.Direction)
	if err != nil {
		return nil, err
	}
	if dir == flow.Auto {
		var share float64
		dir, share = flow.ChooseDirection(all)
		fmt.Fprintf(r.out, "flows    %s (%.0f%% of the directed flows have their reverse flow)\n", dir, 100*share)
	}
	if dir != flow.Bidirectional {
		return all, nil
	}
	return flow.Orient(all)
}

// splitHoldout keeps a seeded random fraction of the flows (whole flows,
// by the flow key) out of training. A random slice rather than the last
// part of the trace: a holdout from a later time would differ from the
// training records by its timestamps alone, and the privacy audit would
// read that drift as memorisation.
func splitHoldout(b *abi.Batch, frac float64, key []string, seed int64) (train, holdout *abi.Batch) {
	if frac <= 0 {
		return b, nil
	}
	var cols []*abi.Column
	for _, k := range key {
		if c := b.Column(k); c != nil {
			cols = append(cols, c)
		}
	}
	var tr, ho []int32
	h := fnv.New64a()
	var buf []byte
	cut := uint64(frac * float64(math.MaxUint64))
	for i := 0; i < b.Len(); i++ {
		buf = abi.AppendKey(binary.LittleEndian.AppendUint64(buf[:0], uint64(seed)), cols, i)
		h.Reset()
		h.Write(buf)
		if h.Sum64() < cut {
			ho = append(ho, int32(i))
		} else {
			tr = append(tr, int32(i))
		}
	}
	return b.Take(tr), b.Take(ho)
}

func (r *runner) splitFlows() error {
	mode, err := flow.ParseChunkMode(r.cfg.Flows.Chunking)
	if err != nil {
		return err
	}
	r.flows, err = flow.Split(r.records, flow.Options{
		Key: r.cfg.Flows.Key, Chunks: r.cfg.Flows.Chunks, Mode: mode, MaxFlowLen: r.cfg.Flows.MaxFlowLen,
	})
	return err
}

func (r *runner) encode(ctx context.Context) (bool, error) {
	if err := r.splitFlows(); err != nil {
		return false, err
	}
	r.fields = r.cfg.Fields
	if len(r.fields) == 0 {
		r.fields = defaultFields(r.records, r.cfg.Privacy.Enabled)
	}
	if r.records.Column(flow.DirColumn) != nil && !slices.ContainsFunc(r.fields, func(f pipeline.Field) bool { return f.Name == flow.DirColumn }) {
		// Bidirectional flows: each record's direction is generated
		// with the rest of the record. Fixed choices, so it needs no
		// fit (and is safe under privacy).
		r.fields = append(slices.Clone(r.fields), pipeline.Field{Name: flow.DirColumn, Role: pipeline.RoleFeature, Encoder: "categorical",
			Params: map[string]any{"int_choices": []any{int64(0), int64(1)}}})
	}
	key := newKey("encode").str("read", r.keys["read"]).json("flows", r.cfg.Flows).
		json("fields", r.fields).json("seed", r.cfg.Seed).json("private", r.cfg.Privacy.Enabled).
		json("holdout", r.cfg.Input.Holdout).sum()
	r.keys["encode"] = key
	statePath := filepath.Join(r.dir, "encoders.json")
	setPath := func(k int) string { return filepath.Join(r.dir, "chunks", fmt.Sprintf("chunk-%d.gob", k)) }
	outputs := []string{statePath}
	for k, c := range r.flows.Chunks {
		if len(c.Flows) > 0 {
			outputs = append(outputs, setPath(k))
		}
	}
	r.sets = make([]*tensor.Set, len(r.flows.Chunks))
	if r.stages.fresh("encode", key, outputs...) {
		var err error
		if r.state, err = encoding.LoadState(statePath); err != nil {
			return false, err
		}
		for k, c := range r.flows.Chunks {
			if len(c.Flows) > 0 {
				if r.sets[k], err = loadSet(setPath(k)); err != nil {
					return false, err
				}
			}
		}
		return true, nil
	}
	r.stages.forget("encode")
	ecfg := encoding.Config{MaxLen: r.flows.MaxFlowLen, Seed: r.cfg.Seed,
		Private: r.cfg.Privacy.Enabled, ReadFile: func(p string) ([]byte, error) { return os.ReadFile(r.cfg.Resolve(p)) }}
	for _, f := range r.fields {
		ecfg.Fields = append(ecfg.Fields, encoding.Field{Name: f.Name, Role: f.Role, Encoder: f.Encoder, Params: f.Params})
	}
	rt := encoding.FromPlugin(r.host)
	r.line.Update("encode   fitting %d encoders on %d records", len(ecfg.Fields), r.records.Len())
	state, err := encoding.Fit(ctx, rt, ecfg, r.records, r.flows)
	if err != nil {
		return false, err
	}
	codec, err := encoding.Open(ctx, rt, state)
	if err != nil {
		return false, err
	}
	defer codec.Close(ctx)
	for k, ch := range r.flows.Chunks {
		if len(ch.Flows) == 0 {
			continue
		}
		r.line.Update("encode   chunk %d/%d: %d flows", k+1, len(r.flows.Chunks), len(ch.Flows))
		set, err := codec.Encode(ctx, r.records, r.flows, k)
		if err != nil {
			return false, fmt.Errorf("chunk %d: %w", k, err)
		}
		if err := saveSet(setPath(k), set); err != nil {
			return false, err
		}
		r.sets[k] = set
	}
	if err := state.Save(statePath); err != nil {
		return false, err
	}
	r.state = state
	return false, r.stages.done("encode", key)
}
