package cluster

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/run"
)

// Heartbeat is the detail an activity heartbeats with; a client reads it
// from the workflow's pending activities to show live progress.
type Heartbeat struct {
	Stage string `json:"stage"`
	Chunk int    `json:"chunk"` // the trained chunk's position, or -1
	Done  int    `json:"done"`  // steps of this chunk
	Total int    `json:"total"` // steps over all chunks
}

// Activities are the stages a worker runs. Each opens the run's session
// from the store (the read and encode stages are reused, by content hash,
// after the prepare activity wrote them), so any worker can run any stage
// and a retried one picks up what a lost worker left.
type Activities struct {
	Store Artifacts
	// CacheDir is this worker's plugin compilation cache ("" for none).
	CacheDir string
	// Log receives the stage lines of the runs this worker serves.
	Log io.Writer
}

// Prepare reads and encodes the trace, plans training and writes the
// chunk plan the chunk activities open instead of the whole run.
func (a *Activities) Prepare(ctx context.Context, job Job) (Prepared, error) {
	var p Prepared
	err := a.session(ctx, job, -1, nil, run.Open, func(s *run.Session, _ *Workspace) error {
		plan, err := s.SaveChunkPlan()
		if err != nil {
			return err
		}
		p = Prepared{Chunks: s.Chunks(), Trained: s.Trained(), Index: plan.Index}
		return nil
	})
	return p, err
}

// TrainChunk trains the pos-th chunk (chunk index k), resuming from its
// newest checkpoint. It checks out and opens only what that chunk needs
// (chunkFiles); k < 0 (a workflow that did not learn the index) opens the
// whole run.
func (a *Activities) TrainChunk(ctx context.Context, job Job, pos, k int) (ChunkDone, error) {
	info := activity.GetInfo(ctx)
	c := ChunkDone{Pos: pos, Attempt: info.Attempt}
	if info.Attempt > 1 {
		fmt.Fprintf(a.log(), "run %s: chunk %d: attempt %d resumes from its last checkpoint\n", job.RunID, pos, info.Attempt)
	}
	open := run.Open
	var pick Picker
	if k >= 0 {
		pick = chunkFiles(pos, k)
		open = func(ctx context.Context, cfg *pipeline.Config, o run.Options) (*run.Session, error) {
			return run.OpenChunk(ctx, cfg, o, pos)
		}
	}
	err := a.session(ctx, job, pos, pick, open, func(s *run.Session, ws *Workspace) error {
		if err := s.TrainChunk(ctx, pos); err != nil {
			return err
		}
		dir := filepath.Join(ws.RunDir(job.RunID), filepath.FromSlash(run.TrainDir(pos)))
		_, step, err := gan.LatestCheckpoint(dir)
		c.Steps = step
		return err
	})
	return c, err
}

// chunkFiles picks what training the pos-th chunk (index k) reads: the
// chunk plan, the chunk's tensors, the training key, its own checkpoints
// and losses (to resume), and for a fine-tuned chunk chunk 0's newest
// checkpoint. All of it grows with the chunk and the model, none with
// the trace or the number of chunks.
func chunkFiles(pos, k int) Picker {
	return func(rels []string) []string {
		var out []string
		own := run.TrainDir(pos) + "/"
		first := run.TrainDir(0) + "/"
		latest, latestStep := "", -1
		for _, r := range rels {
			switch {
			case r == run.ChunkPlanFile, r == run.ChunkFile(k), r == "train/KEY", strings.HasPrefix(r, own):
				out = append(out, r)
			case pos > 0 && strings.HasPrefix(r, first):
				name := strings.TrimPrefix(r, first)
				var step int
				if _, err := fmt.Sscanf(name, "step-%d.ckpt", &step); err == nil && strings.HasSuffix(name, ".ckpt") && step > latestStep {
					latest, latestStep = r, step
				}
			}
		}
		if latest != "" {
			out = append(out, latest)
		}
		return out
	}
}

// GenerateAttributes generates every chunk's flow attributes from the
// chunks' final models (run.Session.GenerateAttributes): once, before the
// chunks are generated in parallel, since a chunk's flows come from its
// own and earlier chunks' models. It checks out the whole run.
func (a *Activities) GenerateAttributes(ctx context.Context, job Job) error {
	return a.session(ctx, job, -1, nil, run.Open, func(s *run.Session, _ *Workspace) error {
		return s.GenerateAttributes(ctx)
	})
}

// GenerateChunk generates the pos-th trained chunk (chunk index k) from
// each of its checkpoints, chooses one and leaves the chunk's records for
// Finish to merge (run.Session.GenerateChunk). It checks out and opens
// only what that chunk needs (generateFiles).
func (a *Activities) GenerateChunk(ctx context.Context, job Job, pos, k int) error {
	open := func(ctx context.Context, cfg *pipeline.Config, o run.Options) (*run.Session, error) {
		return run.OpenGenerate(ctx, cfg, o, pos)
	}
	return a.session(ctx, job, k, generateFiles(pos, k), open, func(s *run.Session, _ *Workspace) error {
		return s.GenerateChunk(ctx, k)
	})
}

// generateFiles picks what generating the pos-th trained chunk (index k)
// reads: the chunk plan, the training key, the encoders' state, the
// privacy record (released histograms), the chunk's attributes, real
// records and checkpoints, and its own earlier result (a retry). None of
// it grows with the trace or the number of chunks.
func generateFiles(pos, k int) Picker {
	return func(rels []string) []string {
		var out []string
		own := run.TrainDir(pos) + "/"
		part := fmt.Sprintf("generated/chunk-%d.", k)
		for _, r := range rels {
			switch {
			case r == run.ChunkPlanFile, r == "train/KEY", r == "encoders.json", r == "privacy.json",
				r == run.AttributesFile(k), r == run.ChunkRecordsFile(k),
				strings.HasPrefix(r, own) && strings.HasSuffix(r, ".ckpt"), strings.HasPrefix(r, part):
				out = append(out, r)
			}
		}
		return out
	}
}

// Finish merges the generated chunks (generating any no worker did),
// writes the synthetic trace, scores and reports.
func (a *Activities) Finish(ctx context.Context, job Job) (*Result, error) {
	var res *Result
	err := a.session(ctx, job, -1, nil, run.Open, func(s *run.Session, ws *Workspace) error {
		r, err := s.Finish(ctx)
		if err != nil {
			return err
		}
		rel := ws.Rel
		res = &Result{RunDir: rel(r.RunDir), Output: rel(r.Output), Metrics: rel(r.Metrics), Report: rel(r.Report),
			Scores: r.Scores, Timings: r.Timings}
		return nil
	})
	return res, err
}

// session checks the run out of the store, opens it, heartbeats while fn
// works, publishes what it wrote and closes it. While fn works, the run
// directory is published every quarter of the heartbeat timeout too, so a
// checkpoint outlives this worker on a store that is not a shared
// directory.
func (a *Activities) session(ctx context.Context, job Job, chunk int, pick Picker,
	open func(context.Context, *pipeline.Config, run.Options) (*run.Session, error), fn func(*run.Session, *Workspace) error) (err error) {
	name := activity.GetInfo(ctx).ActivityType.Name
	hb := newHeartbeater(ctx, job.HeartbeatTimeout, Heartbeat{Stage: name, Chunk: chunk})
	defer hb.stop()
	ws, err := a.Store.Checkout(ctx, job, pick)
	if err != nil {
		return err
	}
	defer ws.Close()
	defer func() {
		r, w := ws.Traffic()
		line := fmt.Sprintf("run %s: %s: read %d bytes from the store, wrote %d", job.RunID, activityLabel(name, chunk), r, w)
		if files, size := ws.Files(); files != nil {
			line += fmt.Sprintf("; checked out %d run files, %d bytes", len(files), size)
			if pick != nil {
				line += ": " + strings.Join(files, " ")
			}
		}
		fmt.Fprintln(a.log(), line)
	}()
	cfg, err := job.Config(ws, a.CacheDir)
	if err != nil {
		return err
	}
	s, err := open(ctx, cfg, run.Options{Out: a.log(), Progress: func(stage string, done, total int) {
		hb.set(Heartbeat{Stage: stage, Chunk: chunk, Done: done, Total: total})
	}})
	if err != nil {
		// Prepare's stages may have written part of their work.
		ws.Publish(ctx)
		return fmt.Errorf("run %s: %w", job.RunID, err)
	}
	defer s.Close(ctx)
	stop := publishEvery(ctx, ws, job.HeartbeatTimeout/4, a.log())
	err = fn(s, ws)
	stop()
	if perr := ws.Publish(ctx); err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", job.RunID, err)
	}
	return nil
}

func activityLabel(name string, chunk int) string {
	if chunk >= 0 {
		return fmt.Sprintf("%s chunk %d", name, chunk)
	}
	return name
}

// publishEvery publishes ws on a timer until the returned stop is called.
// A failed publish is logged and tried again at the next tick; the final
// one, after the work, is the one whose error counts.
func publishEvery(ctx context.Context, ws *Workspace, every time.Duration, log io.Writer) (stop func()) {
	if ws.publish == nil {
		return func() {}
	}
	if every <= 0 {
		every = DefaultHeartbeatTimeout / 4
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := ws.Publish(ctx); err != nil {
					fmt.Fprintf(log, "publishing the run directory: %v\n", err)
				}
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

func (a *Activities) log() io.Writer {
	if a.Log == nil {
		return io.Discard
	}
	return a.Log
}

// heartbeater heartbeats the latest progress on a timer, so an activity
// whose steps are slow (a large model) still proves its worker alive, and
// one whose worker dies is retried after the heartbeat timeout.
type heartbeater struct {
	mu     sync.Mutex
	latest Heartbeat
	quit   chan struct{}
	wg     sync.WaitGroup
}

func newHeartbeater(ctx context.Context, timeout time.Duration, first Heartbeat) *heartbeater {
	if timeout <= 0 {
		timeout = DefaultHeartbeatTimeout
	}
	h := &heartbeater{latest: first, quit: make(chan struct{})}
	activity.RecordHeartbeat(ctx, first)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(timeout / 4)
		defer t.Stop()
		for {
			select {
			case <-h.quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.mu.Lock()
				d := h.latest
				h.mu.Unlock()
				activity.RecordHeartbeat(ctx, d)
			}
		}
	}()
	return h
}

func (h *heartbeater) set(d Heartbeat) {
	h.mu.Lock()
	h.latest = d
	h.mu.Unlock()
}

func (h *heartbeater) stop() {
	close(h.quit)
	h.wg.Wait()
}
