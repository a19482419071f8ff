package cluster

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// WorkerOptions configure a worker.
type WorkerOptions struct {
	Conn  Conn
	Store Artifacts
	// Slots is how many activities (chunks) run at once; 0 means one.
	Slots int
	// CacheDir is the plugin compilation cache ("" for none).
	CacheDir string
	// Identity names the worker in Temporal (default: host and pid).
	Identity string
	// Log receives stage lines and the SDK's warnings.
	Log io.Writer
}

// RunWorker serves the task queue until ctx is done.
func RunWorker(ctx context.Context, o WorkerOptions) error {
	if o.Conn.TaskQueue == "" {
		return fmt.Errorf("worker: no task queue")
	}
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = fmt.Sprintf("netshare-worker-%d@%s", os.Getpid(), host)
	}
	cl, err := Dial(ctx, o.Conn, o.Log)
	if err != nil {
		return err
	}
	defer cl.Close()
	w := worker.New(cl, o.Conn.TaskQueue, worker.Options{
		MaxConcurrentActivityExecutionSize: max(1, o.Slots),
		Identity:                           o.Identity,
	})
	Register(w, &Activities{Store: o.Store, CacheDir: o.CacheDir, Log: o.Log})
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker on queue %s at %s: %w", o.Conn.TaskQueue, o.Conn.Address, err)
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "worker %s: serving queue %q at %s (namespace %s%s), artifacts in %s, %d slot(s)\n",
			o.Identity, o.Conn.TaskQueue, o.Conn.Address, o.Conn.Namespace, o.Conn.describeSecurity(), o.Store, max(1, o.Slots))
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// Registry is what a worker (or a test environment) registers on.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Register adds the workflow and the activities under their names.
func Register(r Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(Pipeline, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterActivityWithOptions(a.Prepare, activity.RegisterOptions{Name: activityPrepare})
	r.RegisterActivityWithOptions(a.TrainChunk, activity.RegisterOptions{Name: activityTrainChunk})
	r.RegisterActivityWithOptions(a.GenerateAttributes, activity.RegisterOptions{Name: activityAttributes})
	r.RegisterActivityWithOptions(a.GenerateChunk, activity.RegisterOptions{Name: activityGenerate})
	r.RegisterActivityWithOptions(a.Finish, activity.RegisterOptions{Name: activityFinish})
}
