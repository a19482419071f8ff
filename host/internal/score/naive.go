package score

import (
	"context"
	"fmt"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/baseline"
	"github.com/netshare/netshare/host/internal/plugin"
)

// NaiveDraws is how many naive samples SampleNaive averages, as the joint
// metric does for its own naive line.
const NaiveDraws = 5

// SampleNaive gives every score of res that lacks a naive score one: the
// mean, over draws samples of n records (the synthetic table's size) from
// baseline.Marginals of real, of the same metric's score. A metric that
// fails on every naive sample (per-flow gaps when no sampled 5-tuple
// repeats) is left without one; SampleNaive fails only when the metrics
// cannot run at all. Evaluators (IsEvaluator) get none: a naive sample
// has no model to evaluate.
func SampleNaive(ctx context.Context, h *plugin.Host, real *abi.Batch, n int, res *Result, draws int, opts Options) error {
	if draws <= 0 || n <= 0 {
		return nil
	}
	var metrics []Metric
	seen := map[string]bool{}
	for _, s := range res.Scores {
		if k := s.Metric.String(); s.Naive == nil && !seen[k] && !IsEvaluator(s.Metric.Name) {
			seen[k] = true
			metrics = append(metrics, s.Metric)
		}
	}
	if len(metrics) == 0 {
		return nil
	}
	sums, counts := map[string]float64{}, map[string]int{}
	for d := range draws {
		sample := baseline.Marginals(real, n, uint64(opts.Seed)+uint64(d))
		r, err := Run(ctx, h, real, sample, metrics, opts)
		if err != nil {
			// One metric that cannot score a naive sample must not cost
			// the others theirs: score them one by one.
			r = &Result{}
			for _, m := range metrics {
				one, err := Run(ctx, h, real, sample, []Metric{m}, opts)
				if err != nil {
					continue
				}
				r.Scores = append(r.Scores, one.Scores...)
			}
		}
		for _, s := range r.Scores {
			sums[s.Name] += s.Value
			counts[s.Name]++
		}
	}
	if len(counts) == 0 {
		return fmt.Errorf("naive sampler: no metric could score any of %d samples", draws)
	}
	for i := range res.Scores {
		s := &res.Scores[i]
		if c := counts[s.Name]; s.Naive == nil && c > 0 {
			v := sums[s.Name] / float64(c)
			s.Naive = &v
		}
	}
	return nil
}

// Naive returns the naive scores known, by name.
func (r *Result) Naive() map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.Scores {
		if s.Naive != nil {
			out[s.Name] = *s.Naive
		}
	}
	return out
}

// IsEvaluator reports whether the metric component evaluates a synthetic
// trace for a task (downstream classifiers, sketches, anomaly detectors,
// the privacy audit) rather than comparing distributions: it is reported,
// not optimised for, and has no naive line.
func IsEvaluator(component string) bool {
	switch component {
	case "classify", "sketch", "anomaly", "audit":
		return true
	}
	return false
}
