package cluster

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/netshare/netshare/host/internal/run"
)

// Names the workers register and the clients call.
const (
	WorkflowName       = "netshare.Pipeline"
	StatusQuery        = "status"
	activityPrepare    = "netshare.Prepare"
	activityTrainChunk = "netshare.TrainChunk"
	activityAttributes = "netshare.GenerateAttributes"
	activityGenerate   = "netshare.GenerateChunk"
	activityFinish     = "netshare.Finish"
)

// Status is what the workflow answers to the status query.
type Status struct {
	// Stage is "prepare", "train chunk 0", "fine-tune", "generate",
	// "finish" or "done".
	Stage  string `json:"stage"`
	Chunks int    `json:"chunks"`
	// Steps is, per chunk, the steps it has trained when its activity
	// completed (-1 while it has not); live progress is in the pending
	// activities' heartbeats.
	Steps []int `json:"steps"`
}

// Prepared is what the prepare activity learns.
type Prepared struct {
	Chunks  int  `json:"chunks"`
	Trained bool `json:"trained"`
	// Index is each trained chunk's index in the run's chunks (its tensor
	// file), so a chunk activity checks out only that chunk.
	Index []int `json:"index"`
}

// ChunkDone reports a trained chunk.
type ChunkDone struct {
	Pos   int `json:"pos"`
	Steps int `json:"steps"`
	// Attempt is Temporal's attempt number: above 1 when a worker was lost
	// and this one resumed from the chunk's last checkpoint.
	Attempt int32 `json:"attempt"`
}

// Result is where a run left its products, relative to the store's root,
// and its scores.
type Result struct {
	RunDir  string             `json:"run_dir"`
	Output  string             `json:"output"`
	Metrics string             `json:"metrics"`
	Report  string             `json:"report"`
	Scores  map[string]float64 `json:"scores"`
	Timings []run.Timing       `json:"timings"`
	Chunks  []ChunkDone        `json:"chunks"`
	// Chunk0 and FineTune are the wall times of training chunk 0 and of
	// fine-tuning the others in parallel, as the workflow saw them;
	// Generate that of generating the chunks in parallel.
	Chunk0   time.Duration `json:"chunk0_ns"`
	FineTune time.Duration `json:"finetune_ns"`
	Generate time.Duration `json:"generate_ns"`
}

// Pipeline is the workflow: prepare, train chunk 0, fine-tune the other
// chunks in parallel from it, generate the flows' attributes (once, from
// every chunk's final model), generate every chunk in parallel (each
// choosing its checkpoint), finish (merge, write, score). It only schedules activities and
// keeps a status, so it is deterministic as Temporal requires; the work,
// and everything that touches files, runs in the activities.
func Pipeline(ctx workflow.Context, job Job) (*Result, error) {
	st := &Status{Stage: "prepare"}
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (Status, error) { return *st, nil }); err != nil {
		return nil, err
	}
	hb := job.HeartbeatTimeout
	if hb <= 0 {
		hb = DefaultHeartbeatTimeout
	}
	// The activity id names the stage, so a client can tell which chunk an
	// activity is before it first heartbeats.
	opts := func(id string, limit time.Duration, attempts int32) workflow.Context {
		return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			ActivityID:          id,
			StartToCloseTimeout: limit,
			HeartbeatTimeout:    hb,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval:    time.Second,
				BackoffCoefficient: 2,
				MaximumInterval:    time.Minute,
				MaximumAttempts:    attempts,
			},
		})
	}
	// Reading and encoding a large trace, or generating from many chunks,
	// takes hours at most; a chunk at the paper's budget can take days on
	// one core. A lost worker is noticed by the heartbeat timeout, not
	// these limits.
	var prep Prepared
	if err := workflow.ExecuteActivity(opts("prepare", 12*time.Hour, 5), activityPrepare, job).Get(ctx, &prep); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	st.Chunks = prep.Chunks
	st.Steps = make([]int, prep.Chunks)
	for i := range st.Steps {
		st.Steps[i] = -1
	}
	var done []ChunkDone
	var chunk0, fineTune time.Duration
	if !prep.Trained {
		// workflow.Now is the time of the workflow task, replayed as
		// recorded: deterministic.
		t0 := workflow.Now(ctx)
		train := func(pos int) workflow.Context { return opts(chunkActivityID(pos), 7*24*time.Hour, 20) }
		index := func(pos int) int {
			if pos < len(prep.Index) {
				return prep.Index[pos]
			}
			return -1 // the activity opens the whole run
		}
		st.Stage = "train chunk 0"
		var c ChunkDone
		if err := workflow.ExecuteActivity(train(0), activityTrainChunk, job, 0, index(0)).Get(ctx, &c); err != nil {
			return nil, fmt.Errorf("train chunk 0: %w", err)
		}
		st.Steps[0] = c.Steps
		done = append(done, c)
		t1 := workflow.Now(ctx)
		chunk0 = t1.Sub(t0)
		st.Stage = "fine-tune"
		futures := make([]workflow.Future, prep.Chunks)
		for pos := 1; pos < prep.Chunks; pos++ {
			futures[pos] = workflow.ExecuteActivity(train(pos), activityTrainChunk, job, pos, index(pos))
		}
		var errs []error
		for pos := 1; pos < prep.Chunks; pos++ {
			var c ChunkDone
			if err := futures[pos].Get(ctx, &c); err != nil {
				errs = append(errs, fmt.Errorf("train chunk %d: %w", pos, err))
				continue
			}
			st.Steps[pos] = c.Steps
			done = append(done, c)
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		fineTune = workflow.Now(ctx).Sub(t1)
	}
	var generate time.Duration
	if len(prep.Index) == prep.Chunks {
		// Without the chunk indices (a prepare activity of an older
		// worker) Finish generates every chunk itself.
		st.Stage = "generate"
		t0 := workflow.Now(ctx)
		if err := workflow.ExecuteActivity(opts("attributes", 12*time.Hour, 5), activityAttributes, job).Get(ctx, nil); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		futures := make([]workflow.Future, prep.Chunks)
		for pos, k := range prep.Index {
			futures[pos] = workflow.ExecuteActivity(opts(generateActivityID(k), 12*time.Hour, 5), activityGenerate, job, pos, k)
		}
		var errs []error
		for pos, k := range prep.Index {
			if err := futures[pos].Get(ctx, nil); err != nil {
				errs = append(errs, fmt.Errorf("generate chunk %d: %w", k, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		generate = workflow.Now(ctx).Sub(t0)
	}
	st.Stage = "finish"
	var res Result
	if err := workflow.ExecuteActivity(opts("finish", 12*time.Hour, 5), activityFinish, job).Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("finish: %w", err)
	}
	res.Chunks, res.Chunk0, res.FineTune, res.Generate = done, chunk0, fineTune, generate
	st.Stage = "done"
	return &res, nil
}

func chunkActivityID(pos int) string { return fmt.Sprintf("chunk-%d", pos) }

func generateActivityID(k int) string { return fmt.Sprintf("generate-%d", k) }
