package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/netshare/netshare/host/internal/cluster"
	"github.com/netshare/netshare/host/internal/pipeline"
	pipelinerun "github.com/netshare/netshare/host/internal/run"
)

func init() {
	register(command{name: "run", summary: "run a pipeline end to end (default: the embedded netshare.toml)", run: runRun})
}

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("c", "", "pipeline TOML `file` (default: the embedded netshare.toml)")
	var sets multiFlag
	fs.Var(&sets, "set", "override a pipeline key: `key=value` (repeatable)")
	detach := fs.Bool("detach", false, "with [cluster] engine = \"temporal\": submit, print the run id and return")
	heartbeat := fs.Duration("heartbeat", cluster.DefaultHeartbeatTimeout, "with engine = \"temporal\": how long a silent worker keeps a chunk before it is retried elsewhere")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the pipeline file goes after -c)", fs.Arg(0))
	}
	cfg, err := loadPipeline(*cfgPath, sets)
	if err != nil {
		return err
	}
	// An interrupt stops training at the next step; the checkpoints
	// written so far let the next run resume.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if cfg.Cluster.Engine == "temporal" {
		return runOnCluster(ctx, cfg, *detach, *heartbeat, stdout, stderr)
	}
	res, err := pipelinerun.Run(ctx, cfg, pipelinerun.Options{Out: stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "synthetic trace: %s\nreport:          %s\nmetrics:         %s\n", res.Output, res.Report, res.Metrics)
	printScores(stdout, res.Scores)
	return nil
}

func printScores(stdout io.Writer, scores map[string]float64) {
	names := make([]string, 0, len(scores))
	for n := range scores {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "  %-24s %.6g\n", n, scores[n])
	}
}

// runOnCluster copies the inputs into the artifact store, submits the
// workflow and follows it. Interrupting stops following, not the run:
// netshare status RUN re-attaches.
func runOnCluster(ctx context.Context, cfg *pipeline.Config, detach bool, heartbeat time.Duration, stdout, stderr io.Writer) error {
	spec := cfg.Cluster.Artifacts
	if !strings.HasPrefix(spec, "s3://") {
		spec = cfg.Resolve(spec)
	}
	store, err := cluster.OpenArtifacts(ctx, spec, "")
	if err != nil {
		return err
	}
	job, err := cluster.NewJob(ctx, cfg, store)
	if err != nil {
		return err
	}
	job.HeartbeatTimeout = heartbeat
	conn := cluster.ConnFrom(cfg.Cluster, cfg.Resolve)
	cl, err := cluster.Dial(ctx, conn, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cluster.Submit(ctx, cl, conn.TaskQueue, job); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "run %s submitted to queue %q at %s; its directory is %s\n", job.RunID, conn.TaskQueue, conn.Address,
		storeLocation(store.String(), cluster.RunPath(job.RunID)))
	fmt.Fprintf(stderr, "re-attach with: netshare status -c %s %s\n", cfg.Source, job.RunID)
	if detach {
		fmt.Fprintln(stdout, job.RunID)
		return nil
	}
	res, err := cluster.Watch(ctx, cl, job.RunID, stderr, 2*time.Second)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("stopped following run %s, which goes on: netshare status -c %s %s", job.RunID, cfg.Source, job.RunID)
	}
	if err != nil {
		return err
	}
	at := func(p string) string { return storeLocation(store.String(), p) }
	if _, shared := store.(*cluster.Store); !shared {
		// The products are in a bucket: bring them to the pipeline's
		// run_dir on this machine.
		dst := cfg.Resolve(cfg.RunDir)
		if err := store.Export(ctx, job.RunID, []string{res.Output, res.Report, res.Metrics}, dst); err != nil {
			return err
		}
		pre := cluster.RunPath(job.RunID) + "/"
		at = func(p string) string { return filepath.Join(dst, filepath.FromSlash(strings.TrimPrefix(p, pre))) }
	}
	printClusterResult(stdout, at, res)
	return nil
}

// storeLocation names a path of the artifact store (a directory or an
// s3:// URL) as this machine sees it.
func storeLocation(store, p string) string {
	switch {
	case p == "" || store == "":
		return p + " (in the artifact store)"
	case strings.HasPrefix(store, "s3://"):
		return p + " (in the artifact store " + store + ")"
	}
	return filepath.Join(store, filepath.FromSlash(p))
}

// printClusterResult prints a cluster run's products, as paths in this
// machine's view of the artifact store, and its scores.
func printClusterResult(stdout io.Writer, at func(string) string, res *cluster.Result) {
	fmt.Fprintf(stdout, "synthetic trace: %s\nreport:          %s\nmetrics:         %s\n", at(res.Output), at(res.Report), at(res.Metrics))
	if len(res.Chunks) > 0 {
		retried := 0
		for _, c := range res.Chunks {
			if c.Attempt > 1 {
				retried++
			}
		}
		fmt.Fprintf(stdout, "training:        %d chunks, chunk 0 in %s, fine-tuning in %s, %d chunk(s) retried (resumed from their last checkpoint)\n",
			len(res.Chunks), res.Chunk0.Round(time.Millisecond), res.FineTune.Round(time.Millisecond), retried)
	}
	if res.Generate > 0 {
		fmt.Fprintf(stdout, "generation:      in %s on the workers (attributes, then every chunk in parallel)\n", res.Generate.Round(time.Millisecond))
	}
	printScores(stdout, res.Scores)
}
