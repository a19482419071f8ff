package run

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/report"
	"github.com/netshare/netshare/host/internal/score"
	"github.com/netshare/netshare/host/internal/trace"
)

// outputPath is the synthetic trace's path and format.
func (r *runner) outputPath() (path, format string, params map[string]any) {
	o := r.cfg.Output
	name := o.Path
	if name == "" {
		name = "synthetic"
	}
	format, params = o.Format, o.Params
	if format == "" {
		if f, p, ok := trace.FormatForPath(name); ok {
			format = f
			if params == nil {
				params = p
			}
		} else {
			format = r.inFmt
		}
	}
	if filepath.Ext(name) == "" {
		name += map[string]string{"pcap": ".pcap", "netflow-csv": ".csv", "zeek-conn": ".log"}[format]
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(r.dir, "output", name)
	}
	return name, format, params
}

func (r *runner) output(ctx context.Context) (bool, error) {
	path, format, params := r.outputPath()
	if format == "" {
		return false, fmt.Errorf("no output format: set output.format")
	}
	key := newKey("output").str("generate", r.keys["generate"]).str("path", path).str("format", format).json("params", params).sum()
	r.res.Output = path
	if r.stages.fresh("output", key, path) {
		return true, nil
	}
	r.stages.forget("output")
	records := r.synthetic
	// Flow formats take flow records: synthetic packets are aggregated
	// into flows the way `netshare convert` does.
	if format != "pcap" && score.KindOf(records) == score.Packets {
		var err error
		if records, err = flow.Aggregate(records, flow.AggregateOptions{}); err != nil {
			return false, err
		}
	}
	if err := trace.Write(ctx, r.host, path, records, trace.WriteOptions{Format: format, Params: params, Seed: r.cfg.Seed}); err != nil {
		return false, err
	}
	return false, r.stages.done("output", key)
}

func (r *runner) score(ctx context.Context) (bool, error) {
	key := newKey("score").str("generate", r.keys["generate"]).str("read", r.keys["read"]).json("metrics", r.cfg.Metrics).sum()
	path := filepath.Join(r.dir, "metrics.json")
	r.res.Metrics = path
	if r.stages.fresh("score", key, path) {
		f, err := report.ReadMetricsFile(path)
		if err != nil {
			return false, err
		}
		r.res.Scores = f.Metrics
		return true, nil
	}
	r.stages.forget("score")
	// Columns the pipeline did not model (a label left out under privacy)
	// have nothing to compare.
	// Bidirectional flows are scored as the trace was read: each record
	// in its own direction.
	records, err := flow.Unorient(r.records)
	if err != nil {
		return false, err
	}
	real := sharedColumns(records, r.synthetic)
	metrics, err := r.metricList(real)
	if err != nil {
		return false, err
	}
	r.line.Update("score    %d metrics", len(metrics))
	opts := score.Options{Seed: r.cfg.Seed}
	scored := real
	if r.holdout != nil {
		// The audit compares synthetic records with the training records
		// and with the held-out ones, told apart by _split.
		holdout, err := flow.Unorient(r.holdout)
		if err != nil {
			return false, err
		}
		if scored, err = withSplit(real, sharedColumns(holdout, r.synthetic)); err != nil {
			return false, err
		}
	}
	res, err := score.Run(ctx, r.host, scored, r.synthetic, metrics, opts)
	if err != nil {
		return false, err
	}
	floors, err := score.NoiseFloor(ctx, r.host, real, withoutEvaluators(metrics), opts)
	if err != nil {
		fmt.Fprintf(r.out, "score    no noise floor: %v\n", err)
		floors = nil
	}
	d := r.reportData(res.Report(floors))
	if err := report.WriteMetricsFile(path, report.NewMetricsFile(d)); err != nil {
		return false, err
	}
	r.res.Scores = res.Values()
	return false, r.stages.done("score", key)
}

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
				ch := report.Choice{Chunk: c.Chunk, RankSums: c.RankSums}
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
		if b, err := r.loadBudget(); err == nil {
			d.Privacy = &report.Budget{Epsilon: b.Epsilon, Delta: b.Delta, NoiseMultiplier: b.Noise, ClipNorm: b.Clip, Note: b.Note}
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

// withSplit joins training and held-out records with a _split column
// (0 training, 1 holdout).
func withSplit(train, holdout *abi.Batch) (*abi.Batch, error) {
	var app trace.Appender
	for i, b := range []*abi.Batch{train, holdout} {
		tagged := &abi.Batch{Columns: append(slices.Clone(b.Columns), abi.Column{Name: "_split", Type: abi.TypeU8, U8: bytesOf(b.Len(), uint8(i))})}
		if err := app.Append(tagged); err != nil {
			return nil, err
		}
	}
	return app.Batch(), nil
}

func bytesOf(n int, v uint8) []uint8 {
	out := make([]uint8, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// sharedColumns is real restricted to the columns syn has.
func sharedColumns(real, syn *abi.Batch) *abi.Batch {
	out := &abi.Batch{}
	for _, c := range real.Columns {
		if syn.Column(c.Name) != nil {
			out.Columns = append(out.Columns, c)
		}
	}
	return out
}
