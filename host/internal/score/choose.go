package score

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

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
// (NoiseFloor) as the scale below which differences do not count.
// Evaluator metrics are not optimised for and not run; an "audit" metric
// in the list asks for the copy penalty, with the audit's flow key
// (CopyRates computes its exact-copy rates host-side: scoring the full
// audit for every candidate would cost its whole state each time). It
// returns the choice and each candidate's result.
func ChooseBest(ctx context.Context, h *plugin.Host, real *abi.Batch, candidates []*abi.Batch, metrics []Metric, opts Options) (Choice, []*Result, error) {
	var fidelity []Metric
	var copyKey []string
	for _, m := range metrics {
		switch {
		case !IsEvaluator(m.Name):
			fidelity = append(fidelity, m)
		case m.Name == "audit":
			copyKey = FiveTuple
			switch k := m.Params["key"].(type) {
			case []string:
				copyKey = k
			case []any:
				copyKey = copyKey[:0:0]
				for _, v := range k {
					if s, ok := v.(string); ok {
						copyKey = append(copyKey, s)
					}
				}
			}
		}
	}
	if len(fidelity) == 0 {
		return Choice{}, nil, errors.New("choose: no distribution metric to choose by")
	}
	results := make([]*Result, len(candidates))
	vals := make([]map[string]float64, len(candidates))
	var copies []CopyRate
	for i, c := range candidates {
		r, err := Run(ctx, h, real, c, fidelity, opts)
		if err != nil {
			return Choice{}, nil, fmt.Errorf("candidate %d: %w", i, err)
		}
		results[i], vals[i] = r, r.Values()
		if copyKey != nil {
			copies = append(copies, CopyRates(real, c, copyKey))
		}
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
// training marginal would copy by chance: the audit metric's
// exact_copy.tuple_rate and tuple_chance (docs/metrics.md).
type CopyRate struct {
	Rate, Chance float64
	// Records is the candidate's size: one record is the resolution of
	// both rates.
	Records int
}

// CopyRates computes syn's CopyRate against the training records real
// over the key columns both have, as the audit does: for a synthetic
// record whose key fields have training frequencies p_f, one random
// training record matches it with P = Π p_f, and some of N with
// 1 − (1 − P)^N; chance is the mean over syn's records.
func CopyRates(real, syn *abi.Batch, key []string) CopyRate {
	out := CopyRate{Records: syn.Len()}
	var rc, sc []*abi.Column
	for _, k := range key {
		if r, s := real.Column(k), syn.Column(k); r != nil && s != nil && r.Type == s.Type {
			rc, sc = append(rc, r), append(sc, s)
		}
	}
	n := real.Len()
	if len(rc) == 0 || n == 0 || syn.Len() == 0 {
		return out
	}
	tuples := map[string]struct{}{}
	fields := make([]map[string]int, len(rc))
	var buf []byte
	for i := range n {
		buf = abi.AppendKey(buf[:0], rc, i)
		tuples[string(buf)] = struct{}{}
		for f, c := range rc {
			if fields[f] == nil {
				fields[f] = map[string]int{}
			}
			buf = abi.AppendKey(buf[:0], []*abi.Column{c}, i)
			fields[f][string(buf)]++
		}
	}
	hit := 0
	for i := range syn.Len() {
		buf = abi.AppendKey(buf[:0], sc, i)
		if _, ok := tuples[string(buf)]; ok {
			hit++
		}
		lp := 0.0
		for f, c := range sc {
			buf = abi.AppendKey(buf[:0], []*abi.Column{c}, i)
			lp += math.Log(float64(fields[f][string(buf)]) / float64(n)) // −Inf when unseen
		}
		if !math.IsInf(lp, -1) {
			out.Chance += -math.Expm1(float64(n) * math.Log1p(-math.Exp(lp)))
		}
	}
	out.Rate = float64(hit) / float64(syn.Len())
	out.Chance /= float64(syn.Len())
	return out
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
