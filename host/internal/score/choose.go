package score

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/plugin"
)

// Choice is the outcome of ChooseByRankSum or ChooseByScores.
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
	// Criterion[i] is what ChooseByScores minimises: candidate i's mean
	// log score plus CopyPenalty[i]. Nil from ChooseByRankSum.
	Criterion   []float64
	CopyPenalty []float64
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
// same metrics and picks one with ChooseByScores, using real's noise floor
// (NoiseFloor) as the scale below which differences do not count. Evaluator
// metrics are not optimised for, except that an "audit" metric's exact-copy
// rates give the copy penalty. It returns the choice and each candidate's
// result.
func ChooseBest(ctx context.Context, h *plugin.Host, real *abi.Batch, candidates []*abi.Batch, metrics []Metric, opts Options) (Choice, []*Result, error) {
	var fidelity, scored []Metric
	for _, m := range metrics {
		if !IsEvaluator(m.Name) {
			fidelity = append(fidelity, m)
		}
		if !IsEvaluator(m.Name) || m.Name == "audit" {
			scored = append(scored, m)
		}
	}
	if len(fidelity) == 0 {
		return Choice{}, nil, errors.New("choose: no distribution metric to choose by")
	}
	results := make([]*Result, len(candidates))
	vals := make([]map[string]float64, len(candidates))
	copies := make([]CopyRate, len(candidates))
	for i, c := range candidates {
		r, err := Run(ctx, h, real, c, scored, opts)
		if err != nil {
			return Choice{}, nil, fmt.Errorf("candidate %d: %w", i, err)
		}
		results[i], vals[i] = r, map[string]float64{}
		for _, s := range r.Scores {
			if !IsEvaluator(s.Metric.Name) {
				vals[i][s.Name] = s.Value
			}
		}
		copies[i] = copyRate(r, c.Len())
	}
	// A table too small to split has no floor: 1% of the worst score
	// stands in (ChooseByScores).
	floor, err := NoiseFloor(ctx, h, real, fidelity, opts)
	if err != nil {
		floor = nil
	}
	ch, err := ChooseByScores(vals, floor, copies)
	return ch, results, err
}

// CopyRate is a candidate's share of records whose flow key is a training
// flow's, and the share a generator that draws each key field from its
// training marginal would copy by chance (the audit metric's
// exact_copy.tuple_rate and tuple_chance, docs/metrics.md).
type CopyRate struct {
	Rate, Chance float64
	// Records is the candidate's size: one record is the resolution of
	// both rates.
	Records int
}

// copyRate reads the audit's exact-copy rates from r; zero when r has no
// audit.
func copyRate(r *Result, records int) CopyRate {
	c := CopyRate{Records: records}
	for _, s := range r.Scores {
		if s.Metric.Name != "audit" {
			continue
		}
		switch {
		case strings.HasSuffix(s.Name, ".exact_copy.tuple_rate"):
			c.Rate = s.Value
		case strings.HasSuffix(s.Name, ".exact_copy.tuple_chance"):
			c.Chance = s.Value
		}
	}
	return c
}

// copyMargin is the least excess of a copy rate over chance that counts
// as copying: the audit's exact-copy verdict threshold (docs/downstream.md),
// 1% of the records or 3 binomial standard errors when that is larger.
// Below it, two checkpoints' rates differ by a record or two of noise.
func copyMargin(chance float64, records int) float64 {
	return max(0.01, 3*math.Sqrt(chance*(1-chance)/float64(records)))
}

// penalty is log((rate + e)/(ref + e)) when the rate exceeds ref = chance +
// copyMargin, else 0, with e one record: copying k times more flow keys
// than the audit lets pass costs as much as every score being k times
// worse, and a rate the audit would not flag costs nothing.
func (c CopyRate) penalty() float64 {
	if c.Records <= 0 {
		return 0
	}
	ref := c.Chance + copyMargin(c.Chance, c.Records)
	if c.Rate <= ref {
		return 0
	}
	e := 1 / float64(c.Records)
	return math.Log((c.Rate + e) / (ref + e))
}

// ChooseByScores picks among candidates (each a map of score name to
// value, lower is better) the one with the smallest criterion: the mean
// over score names of log(score + ε), plus the copy penalty of copies[i]
// when copies is given (CopyRate.penalty). ε is the name's noise floor
// from floor, or 1% of the candidates' largest score when that is larger
// or the floor is missing: differences below what sampling noise makes
// do not count, and a score of 0 does not run off to −∞. A name on which
// every candidate scores 0 (or ε is 0) is skipped. A NaN score counts
// as twice the candidates' largest.
//
// The log makes every metric count alike whatever its scale: dividing a
// metric's scores by a constant, such as the naive sampler's score on it,
// shifts every candidate's criterion by the same amount, so the mean log
// is also the mean log of score/naive up to a constant, and the choice
// does not need the naive sampler. Unlike a rank sum, a candidate that
// halves one score gains more than one that improves another by a
// rounding error. Ties go to the earliest candidate. Every candidate must
// have the same score names.
func ChooseByScores(candidates []map[string]float64, floor map[string]float64, copies []CopyRate) (Choice, error) {
	ch, err := ChooseByRankSum(candidates)
	if err != nil {
		return Choice{}, err
	}
	if copies != nil && len(copies) != len(candidates) {
		return Choice{}, fmt.Errorf("choose: %d copy rates for %d candidates", len(copies), len(candidates))
	}
	n := len(candidates)
	ch.Criterion, ch.CopyPenalty = make([]float64, n), make([]float64, n)
	used := 0
	for _, name := range ch.Metrics {
		worst := 0.0
		for _, c := range candidates {
			if v := c[name]; !isNaN(v) {
				worst = max(worst, v)
			}
		}
		f := floor[name]
		if isNaN(f) {
			f = 0
		}
		eps := max(f, 0.01*worst)
		if isNaN(eps) || eps <= 0 || math.IsInf(worst, 0) {
			continue
		}
		used++
		for i, c := range candidates {
			v := c[name]
			if isNaN(v) {
				v = 2 * worst
			}
			ch.Criterion[i] += math.Log(max(v, 0) + eps)
		}
	}
	for i := range ch.Criterion {
		if used > 0 {
			ch.Criterion[i] /= float64(used)
		}
		if copies != nil {
			ch.CopyPenalty[i] = copies[i].penalty()
			ch.Criterion[i] += ch.CopyPenalty[i]
		}
	}
	ch.Best = 0
	for i, s := range ch.Criterion {
		if s < ch.Criterion[ch.Best] {
			ch.Best = i
		}
	}
	return ch, nil
}
