package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/netshare/netshare/host/internal/pipeline"
	pipelinerun "github.com/netshare/netshare/host/internal/run"
)

func init() {
	register(command{
		name:    "release",
		summary: "re-check a finished run's [release] conditions and rebuild RUN_DIR/release/",
		run:     runRelease,
	})
}

const releaseUsage = `usage: netshare release RUN_DIR [--set release.key=value]…

Re-checks a finished run against the [release] section of its pipeline
(RUN_DIR/pipeline.toml, with --set overrides: a data holder can tighten
the policy here without retraining) and rebuilds RUN_DIR/release/ with the
allowed artifacts and release.json. When a condition fails it exits
non-zero naming it and leaves RUN_DIR/release/ empty; nothing else in the
run directory changes. The checklist is in docs/privacy.md.

flags:
`

func runRelease(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("release", stderr)
	var sets multiFlag
	fs.Var(&sets, "set", "override a pipeline `key=value` (repeatable), e.g. release.max_epsilon=2")
	fs.Usage = func() {
		fmt.Fprint(stderr, releaseUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	dir := pos[0]
	path := filepath.Join(dir, "pipeline.toml")
	text, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w (is %s a run directory?)", err, dir)
	}
	cfg, err := pipeline.Parse(path, dir, text, sets)
	if err != nil {
		return err
	}
	m, err := pipelinerun.Release(dir, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n", filepath.Join(dir, "release"), m.Privacy)
	for _, f := range m.Files {
		fmt.Fprintf(stdout, "  %s  %s\n", f.SHA256, f.Path)
	}
	for _, v := range m.Audit {
		verdict := "passed"
		if v.Failed {
			verdict = "FAILED"
		}
		fmt.Fprintf(stdout, "  audit %-12s %s\n", v.Check, verdict)
	}
	return nil
}
