package score

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/plugin"
)

// Choice is the outcome of ChooseByRankSum.
type Choice struct {
	// Best is the index of the winning candidate.
	Best int
	// Metrics are the score names ranked, sorted.
	Metrics []string
	// Ranks[name][i] is candidate i's rank on that metric: 1 is best
	// (lowest score); tied candidates share the mean of their ranks, and
	// a NaN score ranks below every number.
	Ranks map[string][]float64
	// RankSums[i] is candidate i's sum of ranks over Metrics.
	RankSums []float64
}

// ChooseByRankSum picks among candidates (each a map of score name to
// value, lower is better) the one with the smallest sum of per-metric
// ranks, as NetShare chooses a checkpoint and sample length per chunk.
// Ties in the sum go to the earliest candidate. Every candidate must have
// the same score names.
func ChooseByRankSum(candidates []map[string]float64) (Choice, error) {
	if len(candidates) == 0 {
		return Choice{}, errors.New("choose: no candidates")
	}
	names := slices.Sorted(maps.Keys(candidates[0]))
	if len(names) == 0 {
		return Choice{}, errors.New("choose: candidate 0 has no scores")
	}
	for i, c := range candidates[1:] {
		if len(c) != len(names) {
			return Choice{}, fmt.Errorf("choose: candidate %d has %d scores, candidate 0 has %d (%v)", i+1, len(c), len(names), names)
		}
		for _, n := range names {
			if _, ok := c[n]; !ok {
				return Choice{}, fmt.Errorf("choose: candidate %d has no score %q", i+1, n)
			}
		}
	}
	ch := Choice{Metrics: names, Ranks: map[string][]float64{}, RankSums: make([]float64, len(candidates))}
	vals := make([]float64, len(candidates))
	for _, n := range names {
		for i, c := range candidates {
			vals[i] = c[n]
		}
		r := ranks(vals)
		ch.Ranks[n] = r
		for i := range r {
			ch.RankSums[i] += r[i]
		}
	}
	for i, s := range ch.RankSums {
		if s < ch.RankSums[ch.Best] {
			ch.Best = i
		}
	}
	return ch, nil
}

// ranks returns 1-based ascending ranks with ties averaged (pandas'
// default "average" method); NaN sorts after every number.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	less := func(a, b float64) bool {
		if isNaN(a) {
			return false
		}
		return isNaN(b) || a < b
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case less(v[a], v[b]):
			return -1
		case less(v[b], v[a]):
			return 1
		}
		return 0
	})
	out := make([]float64, len(v))
	for lo := 0; lo < len(idx); {
		hi := lo + 1
		for hi < len(idx) && !less(v[idx[lo]], v[idx[hi]]) {
			hi++
		}
		// Positions lo..hi-1 are tied: each gets the mean rank.
		r := float64(lo+1+hi) / 2
		for k := lo; k < hi; k++ {
			out[idx[k]] = r
		}
		lo = hi
	}
	return out
}

func isNaN(v float64) bool { return v != v }

// ChooseBest scores every candidate synthetic table against real with the
// same metrics and picks one by rank sum. It returns the choice and each
// candidate's result.
func ChooseBest(ctx context.Context, h *plugin.Host, real *abi.Batch, candidates []*abi.Batch, metrics []Metric, opts Options) (Choice, []*Result, error) {
	results := make([]*Result, len(candidates))
	vals := make([]map[string]float64, len(candidates))
	for i, c := range candidates {
		r, err := Run(ctx, h, real, c, metrics, opts)
		if err != nil {
			return Choice{}, nil, fmt.Errorf("candidate %d: %w", i, err)
		}
		results[i], vals[i] = r, r.Values()
	}
	ch, err := ChooseByRankSum(vals)
	return ch, results, err
}
