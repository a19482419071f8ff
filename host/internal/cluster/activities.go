package cluster

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/netshare/netshare/host/internal/gan"
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
	Store *Store
	// CacheDir is this worker's plugin compilation cache ("" for none).
	CacheDir string
	// Log receives the stage lines of the runs this worker serves.
	Log io.Writer
}

// Prepare reads and encodes the trace and plans training.
func (a *Activities) Prepare(ctx context.Context, job Job) (Prepared, error) {
	var p Prepared
	err := a.session(ctx, job, -1, func(s *run.Session) error {
		p = Prepared{Chunks: s.Chunks(), Trained: s.Trained()}
		return nil
	})
	return p, err
}

// TrainChunk trains the pos-th chunk, resuming from its newest checkpoint.
func (a *Activities) TrainChunk(ctx context.Context, job Job, pos int) (ChunkDone, error) {
	info := activity.GetInfo(ctx)
	c := ChunkDone{Pos: pos, Attempt: info.Attempt}
	if info.Attempt > 1 {
		fmt.Fprintf(a.log(), "run %s: chunk %d: attempt %d resumes from its last checkpoint\n", job.RunID, pos, info.Attempt)
	}
	err := a.session(ctx, job, pos, func(s *run.Session) error {
		if err := s.TrainChunk(ctx, pos); err != nil {
			return err
		}
		dir := filepath.Join(a.Store.Root, filepath.FromSlash(RunPath(job.RunID)), "train", fmt.Sprintf("chunk-%d", pos))
		_, step, err := gan.LatestCheckpoint(dir)
		c.Steps = step
		return err
	})
	return c, err
}

// Finish generates, writes the synthetic trace, scores and reports.
func (a *Activities) Finish(ctx context.Context, job Job) (*Result, error) {
	var res *Result
	err := a.session(ctx, job, -1, func(s *run.Session) error {
		r, err := s.Finish(ctx)
		if err != nil {
			return err
		}
		rel := func(p string) string {
			if p == "" {
				return ""
			}
			if q, err := filepath.Rel(a.Store.Root, p); err == nil {
				return filepath.ToSlash(q)
			}
			return p
		}
		res = &Result{RunDir: rel(r.RunDir), Output: rel(r.Output), Metrics: rel(r.Metrics), Report: rel(r.Report),
			Scores: r.Scores, Timings: r.Timings}
		return nil
	})
	return res, err
}

// session opens the run, heartbeats while fn works, and closes it.
func (a *Activities) session(ctx context.Context, job Job, chunk int, fn func(*run.Session) error) error {
	name := activity.GetInfo(ctx).ActivityType.Name
	hb := newHeartbeater(ctx, job.HeartbeatTimeout, Heartbeat{Stage: name, Chunk: chunk})
	defer hb.stop()
	cfg, err := job.Config(a.Store, a.CacheDir)
	if err != nil {
		return err
	}
	s, err := run.Open(ctx, cfg, run.Options{Out: a.log(), Progress: func(stage string, done, total int) {
		hb.set(Heartbeat{Stage: stage, Chunk: chunk, Done: done, Total: total})
	}})
	if err != nil {
		return fmt.Errorf("run %s: %w", job.RunID, err)
	}
	defer s.Close(ctx)
	if err := fn(s); err != nil {
		return fmt.Errorf("run %s: %w", job.RunID, err)
	}
	return nil
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
