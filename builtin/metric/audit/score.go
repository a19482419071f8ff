package audit

import (
	"fmt"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/ml"
)

// Verdict thresholds (docs/downstream.md).
const (
	// CopyMargin is the least excess of the copy rate over its reference
	// that is flagged; 3 binomial standard errors when that is larger.
	CopyMargin = 0.01
	// DCRFactor: flag when the share of synthetic records closer to the
	// training data than the holdout's 5th percentile exceeds DCRFactor
	// times the holdout's own share (and DCRFloor).
	DCRFactor = 2
	DCRFloor  = 0.1
	// MIAFloor: flag an attack advantage above this, or above the 5%
	// critical value of the two-sample KS statistic when that is larger.
	MIAFloor = 0.1
)

// Score runs the three checks.
func (m *Metric) Score() (abi.Scores, error) {
	if m.nTrain == 0 || len(m.synRecs) == 0 {
		return abi.Scores{}, fmt.Errorf("audit %s: %d training and %d synthetic records; both are needed", m.name, m.nTrain, len(m.synRecs))
	}
	p := m.name + "."
	nSyn := float64(len(m.synRecs))
	v := map[string]float64{
		p + "train_rows":   float64(m.nTrain),
		p + "holdout_rows": float64(m.nHoldout),
		p + "syn_rows":     nSyn,
	}

	// Exact copies.
	tupleRate := share(m.synTuples, m.trainTuples)
	recRate := share(m.synRecs, m.trainRecs)
	tupleChance, recChance := m.chance()
	v[p+"exact_copy.tuple_rate"], v[p+"exact_copy.record_rate"] = tupleRate, recRate
	v[p+"exact_copy.tuple_chance"], v[p+"exact_copy.record_chance"] = tupleChance, recChance
	tupleRef, recRef := tupleChance, recChance
	if m.nHoldout > 0 {
		ht, hr := share(m.holdTuples, m.trainTuples), share(m.holdRecs, m.trainRecs)
		v[p+"exact_copy.tuple_rate_holdout"], v[p+"exact_copy.record_rate_holdout"] = ht, hr
		tupleRef, recRef = max(tupleRef, ht), max(recRef, hr)
	}
	copyFlag := tupleRate > tupleRef+margin(tupleRef, nSyn) || recRate > recRef+margin(recRef, nSyn)
	v[p+"exact_copy.flag"] = b2f(copyFlag)
	flag := copyFlag

	if !m.hasSplit || m.holdRows.Len() == 0 {
		v[p+"dcr.available"], v[p+"mia.available"] = 0, 0
		v[p+"flag"] = b2f(flag)
		return abi.Scores{Values: v}, nil
	}
	v[p+"dcr.available"], v[p+"mia.available"] = 1, 1
	d := m.feat.D()
	lo, hi := minMax(m.trainRows.X, d)
	train := scale(m.trainRows.X, d, lo, hi)
	syn := scale(m.synRows.X, d, lo, hi)
	hold := scale(m.holdRows.X, d, lo, hi)
	rng := ml.NewRand(m.seed + 5)

	// DCR: synthetic → training against holdout → training.
	synQ := sample(syn, d, m.maxQuery, rng)
	dSyn := ml.NearestDistances(synQ, train, d)
	dHold := ml.NearestDistances(hold, train, d)
	slices.Sort(dSyn)
	slices.Sort(dHold)
	hp5 := ml.Quantile(dHold, 0.05)
	shareSyn, shareHold := atMost(dSyn, hp5), atMost(dHold, hp5)
	v[p+"dcr.syn_p5"], v[p+"dcr.syn_median"] = ml.Quantile(dSyn, 0.05), ml.Quantile(dSyn, 0.5)
	v[p+"dcr.holdout_p5"], v[p+"dcr.holdout_median"] = hp5, ml.Quantile(dHold, 0.5)
	v[p+"dcr.syn_share_below_holdout_p5"], v[p+"dcr.holdout_share_below_holdout_p5"] = shareSyn, shareHold
	v[p+"dcr.syn_zero_share"] = atMost(dSyn, 0)
	dcrFlag := shareSyn > max(DCRFactor*shareHold, DCRFloor)
	v[p+"dcr.flag"] = b2f(dcrFlag)
	flag = flag || dcrFlag

	// Membership inference: as many members (training rows) as non-members
	// (holdout rows), each scored by its distance to the nearest synthetic
	// record.
	n := min(m.holdRows.Len(), m.trainRows.Len(), m.maxQuery)
	members := sample(train, d, n, rng)
	nonMembers := sample(hold, d, n, rng)
	dm := ml.NearestDistances(members, syn, d)
	dn := ml.NearestDistances(nonMembers, syn, d)
	adv, thr := bestAdvantage(dm, dn)
	crit := 1.36 * math.Sqrt(2/float64(n))
	v[p+"mia.advantage"], v[p+"mia.threshold"], v[p+"mia.critical"], v[p+"mia.pairs"] = adv, thr, crit, float64(n)
	miaFlag := adv > max(MIAFloor, crit)
	v[p+"mia.flag"] = b2f(miaFlag)
	flag = flag || miaFlag
	v[p+"flag"] = b2f(flag)

	x, fs, fh := cdf(dSyn, dHold)
	return abi.Scores{Values: v, Series: []abi.Series{{Name: p + "dcr", Kind: "cdf", X: x, Real: fh, Synthetic: fs}}}, nil
}

// share is the fraction of hs found in set.
func share(hs []uint64, set map[uint64]struct{}) float64 {
	if len(hs) == 0 {
		return 0
	}
	hit := 0
	for _, h := range hs {
		if _, ok := set[h]; ok {
			hit++
		}
	}
	return float64(hit) / float64(len(hs))
}

// chance is the copy rate expected if the training records were drawn
// field by field from their marginals: for a synthetic record whose
// fields have training frequencies p_f, one random record equals it with
// P = Π p_f, and some of N training records does with 1 − (1 − P)^N; the
// rate is the mean over (a sample of) the synthetic records.
func (m *Metric) chance() (tuple, rec float64) {
	s := m.synFields
	rows := len(s.h) / s.w
	if rows == 0 {
		return 0, 0
	}
	n := float64(m.nTrain)
	isKey := make([]bool, s.w)
	for _, i := range m.keyIdx {
		isKey[i] = true
	}
	for r := 0; r < rows; r++ {
		lt, lr := 0.0, 0.0 // log probabilities
		for i, h := range s.h[r*s.w : (r+1)*s.w] {
			c := m.marg[i][h]
			lp := math.Inf(-1)
			if c > 0 {
				lp = math.Log(float64(c) / n)
			}
			lr += lp
			if isKey[i] {
				lt += lp
			}
		}
		tuple += anyOf(lt, n)
		rec += anyOf(lr, n)
	}
	return tuple / float64(rows), rec / float64(rows)
}

// anyOf is 1 − (1 − e^lp)^n, computed stably.
func anyOf(lp, n float64) float64 {
	if math.IsInf(lp, -1) {
		return 0
	}
	p := math.Exp(lp)
	if p >= 1 {
		return 1
	}
	return -math.Expm1(n * math.Log1p(-p))
}

// margin is how far above ref a rate over n records may lie by chance.
func margin(ref, n float64) float64 {
	return max(CopyMargin, 3*math.Sqrt(ref*(1-ref)/n))
}

func minMax(x []float64, d int) (lo, hi []float64) {
	lo, hi = make([]float64, d), make([]float64, d)
	for j := range lo {
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
	}
	for i, v := range x {
		j := i % d
		lo[j], hi[j] = min(lo[j], v), max(hi[j], v)
	}
	return lo, hi
}

// scale maps each feature to [0, 1] over the training range (constant
// features to 0), so that every feature weighs alike in a distance.
// Values more than a million ranges away are clamped there, which keeps
// squared distances finite whatever a synthetic record holds.
func scale(x []float64, d int, lo, hi []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		j := i % d
		if r := hi[j] - lo[j]; r > 0 && !math.IsInf(r, 0) {
			out[i] = max(-1e6, min(1e6, (v-lo[j])/r))
		}
	}
	return out
}

// sample returns n seeded random rows of x (all of them, shuffled, when
// there are fewer).
func sample(x []float64, d, n int, rng interface{ Shuffle(int, func(int, int)) }) []float64 {
	rows := len(x) / d
	perm := make([]int, rows)
	for i := range perm {
		perm[i] = i
	}
	rng.Shuffle(rows, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	perm = perm[:min(n, rows)]
	out := make([]float64, 0, len(perm)*d)
	for _, r := range perm {
		out = append(out, x[r*d:(r+1)*d]...)
	}
	return out
}

// atMost is the share of sorted values ≤ t.
func atMost(sorted []float64, t float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i, _ := slices.BinarySearchFunc(sorted, t, func(a, b float64) int {
		if a <= b {
			return -1
		}
		return 1
	})
	return float64(i) / float64(len(sorted))
}

// bestAdvantage is the attack's best TPR − FPR over thresholds τ, calling
// a record a member when its distance is ≤ τ: the largest gap between the
// members' and non-members' distance CDFs (one-sided KS statistic).
func bestAdvantage(member, nonMember []float64) (adv, thr float64) {
	a, b := slices.Clone(member), slices.Clone(nonMember)
	slices.Sort(a)
	slices.Sort(b)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		t := math.Inf(1)
		if i < len(a) {
			t = a[i]
		}
		if j < len(b) {
			t = min(t, b[j])
		}
		for i < len(a) && a[i] <= t {
			i++
		}
		for j < len(b) && b[j] <= t {
			j++
		}
		if d := float64(i)/float64(len(a)) - float64(j)/float64(len(b)); d > adv {
			adv, thr = d, t
		}
	}
	return adv, thr
}

// cdf samples both sorted distance lists' empirical CDFs on a shared grid
// of at most 200 points for the report.
func cdf(a, b []float64) (x, fa, fb []float64) {
	all := slices.Concat(a, b)
	slices.Sort(all)
	all = slices.Compact(all)
	step := max(1, len(all)/200)
	for i := 0; i < len(all); i += step {
		x = append(x, all[i])
	}
	if x[len(x)-1] != all[len(all)-1] {
		x = append(x, all[len(all)-1])
	}
	for _, t := range x {
		fa = append(fa, atMost(a, t))
		fb = append(fb, atMost(b, t))
	}
	return x, fa, fb
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
