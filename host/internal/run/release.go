package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/release"
	"github.com/netshare/netshare/host/internal/report"
)

// release records the run for its release (run.json) and builds
// RUN_DIR/release/ under the pipeline's [release] conditions. It always
// runs: the check is cheap, and a refused release must not be mistaken
// for an earlier one that passed.
func (r *runner) release(ctx context.Context) (bool, error) {
	rec, err := r.runRecord()
	if err != nil {
		return false, err
	}
	if err := release.SaveRun(r.dir, rec); err != nil {
		return false, err
	}
	m, err := Release(r.dir, r.cfg)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(r.out, "release  %d files in %s (%s)\n", len(m.Files), filepath.Join(r.dir, release.Dir), m.Privacy)
	return false, nil
}

// runRecord is what the release is checked against.
func (r *runner) runRecord() (release.Run, error) {
	text, err := os.ReadFile(filepath.Join(r.dir, "pipeline.toml"))
	if err != nil {
		return release.Run{}, err
	}
	rec := release.Run{PipelineSHA256: release.PipelineHash(string(text)), Source: r.cfg.Source}
	for _, m := range r.host.Modules() {
		rec.Modules = append(rec.Modules, release.Module{Name: m.Name(), SHA256: m.SHA256()})
	}
	if rec.Synthetic, err = r.relative(r.res.Output); err != nil {
		return rec, fmt.Errorf("the synthetic trace: %w", err)
	}
	for k, d := range r.trainDirs() {
		if d == "" {
			continue
		}
		paths, err := gan.Checkpoints(d)
		if err != nil || len(paths) == 0 {
			return rec, fmt.Errorf("chunk %d: no checkpoint in %s (%v)", k, d, err)
		}
		rel, err := r.relative(paths[len(paths)-1])
		if err != nil {
			return rec, err
		}
		rec.Checkpoints = append(rec.Checkpoints, rel)
	}
	// Under privacy the encoders refuse every fit on the private data, so
	// their state holds only configured or public values.
	if !r.cfg.Privacy.Enabled && r.state != nil {
		for _, f := range r.state.Fields {
			if len(f.State) > 0 {
				rec.Fitted = append(rec.Fitted, release.Fitted{Field: f.Name, Encoder: f.Encoder})
			}
		}
		if t := r.state.Time; t != nil {
			rec.Fitted = append(rec.Fitted, release.Fitted{Field: t.Name, Encoder: t.Encoder})
		}
	}
	return rec, nil
}

func (r *runner) relative(path string) (string, error) {
	rel, err := filepath.Rel(r.dir, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("%s lies outside the run directory %s; a release takes only files of the run", path, r.dir)
	}
	return rel, nil
}

// Release re-checks a finished run in runDir against cfg's [release]
// conditions and rebuilds runDir/release/: what `netshare release` does,
// and the last stage of every run. The guarantee comes from the run's
// privacy.json and the audit from its metrics.json.
func Release(runDir string, cfg *pipeline.Config) (*release.Manifest, error) {
	rec, err := release.LoadRun(runDir)
	if err != nil {
		return nil, err
	}
	priv := release.Privacy{Enabled: cfg.Privacy.Enabled}
	if priv.Enabled {
		b, err := loadBudget(runDir)
		if err != nil {
			return nil, fmt.Errorf("release: the run's privacy budget: %w", err)
		}
		priv.Epsilon, priv.Delta, priv.NotPrivate = b.Epsilon, b.Delta, b.NotPrivate
	}
	mf, err := report.ReadMetricsFile(filepath.Join(runDir, "metrics.json"))
	if err != nil {
		return nil, fmt.Errorf("release: the run's scores: %w", err)
	}
	p := cfg.Release
	m, err := release.Build(runDir, release.Policy{MaxEpsilon: p.MaxEpsilon, RequireAudit: p.RequireAudit, Artifacts: p.Artifacts}, rec, priv, mf.Metrics)
	if errors.Is(err, release.ErrRefused) {
		return nil, fmt.Errorf("%w; %s is empty, the rest of the run directory is kept", err, filepath.Join(runDir, release.Dir))
	}
	return m, err
}
