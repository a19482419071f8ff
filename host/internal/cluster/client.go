package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// Submit starts the job's workflow, or attaches to it when a run with the
// same id is already running (the same pipeline and inputs submitted
// again). The run id is the workflow id.
func Submit(ctx context.Context, cl client.Client, queue string, job Job) error {
	_, err := cl.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       job.RunID,
		TaskQueue:                queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, WorkflowName, job)
	if err != nil {
		return fmt.Errorf("submitting run %s to queue %s: %w", job.RunID, queue, err)
	}
	return nil
}

// Running is one activity in flight.
type Running struct {
	Activity string `json:"activity"`
	Chunk    int    `json:"chunk"`
	Steps    int    `json:"steps"`
	Attempt  int32  `json:"attempt"`
	Worker   string `json:"worker"`
	// LastFailure is why the previous attempt failed (a lost worker shows
	// as a heartbeat timeout).
	LastFailure string `json:"last_failure,omitempty"`
}

// Progress is a run as its client sees it.
type Progress struct {
	RunID string `json:"run_id"`
	// Status is Temporal's: Running, Completed, Failed, Canceled,
	// Terminated, ContinuedAsNew or TimedOut.
	Status  string    `json:"status"`
	Stage   string    `json:"stage"`
	Chunks  int       `json:"chunks"`
	Done    int       `json:"done"`  // steps trained over all chunks
	Total   int       `json:"total"` // steps planned (known once a chunk heartbeats)
	Running []Running `json:"running"`
}

// Describe reads a run's state: the workflow's status and stage, and the
// heartbeats of its activities in flight.
func Describe(ctx context.Context, cl client.Client, runID string) (*Progress, error) {
	desc, err := cl.DescribeWorkflowExecution(ctx, runID, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("no run %s: %w", runID, err)
		}
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	p := &Progress{RunID: runID, Status: statusName(desc.GetWorkflowExecutionInfo().GetStatus())}
	if p.Status == "Running" {
		// No worker may be polling yet: then the stage is unknown.
		if v, err := cl.QueryWorkflow(ctx, runID, "", StatusQuery); err == nil {
			var st Status
			if v.Get(&st) == nil {
				p.Stage, p.Chunks = st.Stage, st.Chunks
				for _, s := range st.Steps {
					p.Done += max(0, s)
				}
			}
		}
	}
	dc := converter.GetDefaultDataConverter()
	for _, a := range desc.GetPendingActivities() {
		r := Running{Activity: strings.TrimPrefix(a.GetActivityType().GetName(), "netshare."), Chunk: -1,
			Attempt: a.GetAttempt(), Worker: a.GetLastWorkerIdentity()}
		if _, err := fmt.Sscanf(a.GetActivityId(), "chunk-%d", &r.Chunk); err != nil {
			r.Chunk = -1
		}
		if f := a.GetLastFailure(); f != nil {
			r.LastFailure = f.GetMessage()
		}
		if d := a.GetHeartbeatDetails(); d != nil {
			var hb Heartbeat
			if dc.FromPayloads(d, &hb) == nil {
				r.Steps = hb.Done
				p.Done += hb.Done
				p.Total = max(p.Total, hb.Total)
			}
		}
		if a.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED {
			r.Worker = "" // waiting for a worker; the identity is the previous attempt's
		}
		p.Running = append(p.Running, r)
	}
	sort.Slice(p.Running, func(i, j int) bool { return p.Running[i].Chunk < p.Running[j].Chunk })
	return p, nil
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	n := s.String()
	if n == "" || n == "Unspecified" {
		return "Unknown"
	}
	return n
}

// String is a one-line summary.
func (p *Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", p.RunID, strings.ToLower(p.Status))
	if p.Stage != "" {
		fmt.Fprintf(&b, ", %s", p.Stage)
	}
	if p.Total > 0 {
		fmt.Fprintf(&b, ", %d/%d steps over %d chunks", p.Done, p.Total, p.Chunks)
	}
	for _, r := range p.Running {
		b.WriteString("; ")
		if r.Chunk >= 0 {
			fmt.Fprintf(&b, "chunk %d at step %d", r.Chunk, r.Steps)
		} else {
			b.WriteString(strings.ToLower(r.Activity))
		}
		if r.Worker != "" {
			fmt.Fprintf(&b, " on %s", r.Worker)
		} else {
			b.WriteString(" waiting for a worker")
		}
		if r.Attempt > 1 {
			fmt.Fprintf(&b, " (attempt %d)", r.Attempt)
		}
	}
	return b.String()
}

// Watch follows a run until it ends, writing a line to out whenever its
// progress changes (at most once per every), and returns its result.
// Cancelling ctx stops watching, not the run.
func Watch(ctx context.Context, cl client.Client, runID string, out io.Writer, every time.Duration) (*Result, error) {
	if every <= 0 {
		every = 2 * time.Second
	}
	last := ""
	for {
		p, err := Describe(ctx, cl, runID)
		if err != nil {
			return nil, err
		}
		if p.Status != "Running" {
			break
		}
		if s := p.String(); s != last && out != nil {
			fmt.Fprintln(out, s)
			last = s
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
	return Outcome(ctx, cl, runID)
}

// Outcome waits for the run's result.
func Outcome(ctx context.Context, cl client.Client, runID string) (*Result, error) {
	var res Result
	if err := cl.GetWorkflow(ctx, runID, "").Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	return &res, nil
}
