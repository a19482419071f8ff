package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"

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
	res, err := pipelinerun.Run(ctx, cfg, pipelinerun.Options{Out: stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "synthetic trace: %s\nreport:          %s\nmetrics:         %s\n", res.Output, res.Report, res.Metrics)
	names := make([]string, 0, len(res.Scores))
	for n := range res.Scores {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "  %-24s %.6g\n", n, res.Scores[n])
	}
	return nil
}
