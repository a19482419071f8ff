package run

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/report"
	"github.com/netshare/netshare/host/internal/score"
	"github.com/netshare/netshare/host/internal/trace"
)

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
	// The naive independent sampler's score beside each: the line a model
	// must beat on how fields go together (docs/fidelity.md).
	if err := score.SampleNaive(ctx, r.host, real, r.synthetic.Len(), res, score.NaiveDraws, opts); err != nil {
		fmt.Fprintf(r.out, "score    no naive sampler scores: %v\n", err)
	}
	halves, err := score.HalvesFloor(ctx, r.host, real, withoutEvaluators(metrics), opts)
	if err != nil {
		fmt.Fprintf(r.out, "score    no noise floor: %v\n", err)
	}
	d := r.reportData(res.Report(halves.Floor, &halves))
	if err := report.WriteMetricsFile(path, report.NewMetricsFile(d)); err != nil {
		return false, err
	}
	r.res.Scores = res.Values()
	return false, r.stages.done("score", key)
}

// withSplit joins training and held-out records with a _split column
// (0 training, 1 holdout).
func withSplit(train, holdout *abi.Batch) (*abi.Batch, error) {
	var app trace.Appender
	for i, b := range []*abi.Batch{train, holdout} {
		tagged := &abi.Batch{Columns: append(slices.Clone(b.Columns), abi.Column{Name: abi.SplitColumn, Type: abi.TypeU8, U8: bytesOf(b.Len(), uint8(i))})}
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

// metricList is the pipeline's metrics, or the default set for the kind
// of records; an entry named "defaults" stands for that set, so a
// pipeline can add evaluators to it.
//
// Every run also audits its copies of training flows (the audit metric,
// keyed on the flow key) unless the pipeline lists the audit itself: the
// copy rate against chance and the holdout belongs in every summary, and
// [release] require_audit reads it.
func (r *runner) metricList(real *abi.Batch) ([]score.Metric, error) {
	out, err := r.listedMetrics(real)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(out, func(m score.Metric) bool { return m.Name == "audit" }) {
		key := make([]any, len(r.cfg.Flows.Key))
		for i, k := range r.cfg.Flows.Key {
			key[i] = k
		}
		out = append(out, score.Metric{Name: "audit", Params: map[string]any{"key": key}})
	}
	return out, nil
}

func (r *runner) listedMetrics(real *abi.Batch) ([]score.Metric, error) {
	if len(r.cfg.Metrics) == 0 {
		return score.DefaultMetrics(real)
	}
	var out []score.Metric
	for _, m := range r.cfg.Metrics {
		if m.Name != pipeline.DefaultMetrics {
			out = append(out, score.Metric{Name: m.Name, Params: m.Params})
			continue
		}
		def, err := score.DefaultMetrics(real)
		if err != nil {
			return nil, err
		}
		out = append(out, def...)
	}
	return out, nil
}

// withoutEvaluators keeps the metrics that compare distributions, the
// ones a checkpoint is chosen by: downstream evaluators and audits are
// reported, not optimised for.
func withoutEvaluators(ms []score.Metric) []score.Metric {
	var out []score.Metric
	for _, m := range ms {
		if !score.IsEvaluator(m.Name) {
			out = append(out, m)
		}
	}
	return out
}
