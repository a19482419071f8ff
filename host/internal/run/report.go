package run

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/report"
	"github.com/netshare/netshare/host/internal/score"
)

// reportData gathers what the report shows besides the scores.
func (r *runner) reportData(scores []report.NamedScore) report.Data {
	seed := r.cfg.Seed
	d := report.Data{
		Title:     "netshare run " + filepath.Base(r.dir),
		Created:   time.Now(),
		Real:      strings.Join(r.cfg.Input.Paths, ", "),
		Synthetic: r.res.Output,
		Kind:      score.KindOf(r.records),
		Scores:    scores,
		Config:    r.cfg.Text,
		Seed:      &seed,
	}
	for _, t := range r.res.Timings {
		d.Timings = append(d.Timings, report.Stage{Stage: t.Stage, Seconds: t.Elapsed.Seconds()})
	}
	if raw, err := os.ReadFile(filepath.Join(r.dir, "generated", "choice.json")); err == nil {
		var cs []chunkChoice
		if json.Unmarshal(raw, &cs) == nil {
			for _, c := range cs {
				if len(c.RankSums) == 0 {
					continue
				}
				ch := report.Choice{Chunk: c.Chunk, RankSums: c.RankSums, Criterion: c.Criterion, CopyPenalty: c.CopyPenalty}
				for i, p := range c.Checkpoints {
					ch.Candidates = append(ch.Candidates, filepath.Base(p))
					if p == c.Chosen {
						ch.Best = i
					}
				}
				d.Choices = append(d.Choices, ch)
			}
		}
	}
	if r.cfg.Privacy.Enabled {
		if b, err := loadBudget(r.dir); err == nil {
			d.Privacy = &report.Budget{Epsilon: b.Epsilon, Delta: b.Delta, NoiseMultiplier: b.Noise, ClipNorm: b.Clip, Note: b.Note, NotPrivate: b.NotPrivate}
		}
	}
	return d
}

func (r *runner) report(ctx context.Context) (bool, error) {
	f, err := report.ReadMetricsFile(r.res.Metrics)
	if err != nil {
		return false, err
	}
	// Timings are this run's: a reused stage shows what reuse cost.
	f.Data.Timings = nil
	for _, t := range r.res.Timings {
		f.Data.Timings = append(f.Data.Timings, report.Stage{Stage: t.Stage, Seconds: t.Elapsed.Seconds()})
	}
	path := filepath.Join(r.dir, "report.html")
	r.res.Report = path
	return false, atomicfile.Write(path, func(w io.Writer) error { return report.Write(w, f.Data) })
}
