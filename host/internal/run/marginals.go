package run

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/privacy"
)

// marginalShare is the share of privacy.epsilon that the marginal
// histograms would spend on their own; their noise follows from it, and
// DP-SGD's noise is then solved for what is left (docs/privacy.md, "DP
// marginals").
const marginalShare = 0.25

// marginal is one released histogram: the flows' values of a column, over
// bins fixed without the private data, with Gaussian noise; only the bins
// above the threshold are kept (dropping the rest is post-processing).
type marginal struct {
	Column string `json:"column"`
	// Bins is how many values the histogram covered.
	Bins      int       `json:"bins"`
	Threshold float64   `json:"threshold"`
	Values    []int64   `json:"values"`
	Counts    []float64 `json:"counts"`
}

// marginalNoise is the standard deviation of the noise on every bin: the
// least for which releasing all histograms alone costs at most
// marginalShare of the target ε. One flow changes one bin of each
// histogram by one, so the histograms together have L2 sensitivity √k.
func (r *runner) marginalNoise() (float64, error) {
	k := len(r.cfg.Privacy.Marginals)
	if k == 0 || r.histNoise > 0 {
		return r.histNoise, nil
	}
	target := marginalShare * r.cfg.Privacy.Epsilon
	cost := func(sigma float64) (float64, error) {
		acc, err := privacy.NewAccountant(privacy.AccountantConfig{Delta: r.cfg.Privacy.Delta})
		if err != nil {
			return 0, err
		}
		if err := r.composeMarginals(acc, sigma); err != nil {
			return 0, err
		}
		eps, _, err := acc.Epsilon()
		return eps, err
	}
	lo, hi := 1e-3, 1e6
	if eps, err := cost(hi); err != nil || eps > target {
		return 0, fmt.Errorf("privacy.marginals: no noise makes the histograms fit %g of ε = %g: %v", marginalShare, r.cfg.Privacy.Epsilon, err)
	}
	for i := 0; i < 60; i++ {
		mid := math.Sqrt(lo * hi)
		eps, err := cost(mid)
		if err != nil {
			return 0, err
		}
		if eps > target {
			lo = mid
		} else {
			hi = mid
		}
	}
	r.histNoise = hi
	return hi, nil
}

// composeMarginals adds the histograms' release, at noise sigma per bin,
// to acc: one Gaussian mechanism of sensitivity √k.
func (r *runner) composeMarginals(acc *privacy.Accountant, sigma float64) error {
	k := len(r.cfg.Privacy.Marginals)
	if k == 0 {
		return nil
	}
	m, err := privacy.Gaussian(sigma/math.Sqrt(float64(k)), acc.Orders())
	if err != nil {
		return err
	}
	return acc.Compose(m, 1)
}

// marginalBins are the values a histogram of column counts: the public
// run's values of it and of the other marginal columns of its type when
// privacy.pretrained names a run (its records are public), otherwise the column type's whole range, which only narrow
// integer columns (ports, protocols) have.
func (r *runner) marginalBins(column string) ([]int64, error) {
	c := r.records.Column(column)
	if c == nil || !c.Type.IsInt() {
		return nil, fmt.Errorf("privacy.marginals: %q is not an integer column of the records", column)
	}
	if dir := r.publicRunDir(); dir != "" {
		pub, err := loadBatch(filepath.Join(dir, "records", "records.bin"))
		if err != nil {
			return nil, fmt.Errorf("privacy.marginals: the public run's records: %w", err)
		}
		if pc := pub.Column(column); pc == nil || !pc.Type.IsInt() {
			return nil, fmt.Errorf("privacy.marginals: the public run's records have no integer column %q", column)
		}
		// Columns of one type share their values (a port seen as a
		// source is a port a destination may have).
		seen := map[int64]bool{}
		var bins []int64
		for _, other := range r.cfg.Privacy.Marginals {
			pc, oc := pub.Column(other), r.records.Column(other)
			if pc == nil || oc == nil || pc.Type != c.Type || oc.Type != c.Type {
				continue
			}
			for i := 0; i < pc.Len(); i++ {
				if v := pc.Int(i); !seen[v] {
					seen[v] = true
					bins = append(bins, v)
				}
			}
		}
		slices.Sort(bins)
		return bins, nil
	}
	var n int64
	switch c.Type {
	case abi.TypeU8:
		n = 1 << 8
	case abi.TypeU16:
		n = 1 << 16
	default:
		return nil, fmt.Errorf("privacy.marginals: %q is a %s column: its bins must come from a public run (privacy.pretrained)", column, c.Type)
	}
	bins := make([]int64, n)
	for i := range bins {
		bins[i] = int64(i)
	}
	return bins, nil
}

// noisyMarginals releases the histogram of each privacy.marginals column
// over the distinct training flows, drawn once per training like the flow
// counts (old holds what an earlier run of the same training released).
func (r *runner) noisyMarginals(trainKey string, old *budget) ([]marginal, error) {
	cols := r.cfg.Privacy.Marginals
	if len(cols) == 0 {
		return nil, nil
	}
	if old != nil && old.TrainKey == trainKey && len(old.Marginals) == len(cols) {
		return old.Marginals, nil
	}
	sigma, err := r.marginalNoise()
	if err != nil {
		return nil, err
	}
	// The first record of every flow (a flow cut by chunk boundaries
	// counts once).
	seen := make([]bool, r.flows.NumFlows)
	var firsts []int
	for _, ch := range r.flows.Chunks {
		for _, f := range ch.Flows {
			if !seen[f.ID] {
				seen[f.ID] = true
				firsts = append(firsts, int(f.Rows[0]))
			}
		}
	}
	rng := r.privacyRand(0x4d41)
	var out []marginal
	for _, col := range cols {
		bins, err := r.marginalBins(col)
		if err != nil {
			return nil, err
		}
		counts := make([]float64, len(bins))
		c := r.records.Column(col)
		for _, i := range firsts {
			if j, ok := slices.BinarySearch(bins, c.Int(i)); ok {
				counts[j]++
			}
		}
		// An empty bin passes with probability 1/(20 bins): one histogram
		// in twenty holds a value no flow had.
		m := marginal{Column: col, Bins: len(bins), Threshold: sigma * math.Sqrt2 * math.Erfinv(1-1/(10*float64(len(bins))))}
		for j, v := range bins {
			if n := counts[j] + rng.NormFloat64()*sigma; n > m.Threshold {
				m.Values = append(m.Values, v)
				m.Counts = append(m.Counts, n)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// privacyRand is the source of a privacy mechanism's noise: crypto/rand
// unless the run is reproducible (for tests), then the seed and stream.
func (r *runner) privacyRand(stream uint64) *rand.Rand {
	if r.cfg.Privacy.InsecureReproducibleNoise {
		return rand.New(rand.NewPCG(uint64(r.cfg.Seed), stream))
	}
	return rand.New(rand.NewChaCha8(gan.CryptoKey()))
}

// imposeMarginals gives the generated flows of chunk k (b, with the flow
// column) the released histograms' proportions: each kept bin v gets
// round(flows × count_v / released flows) of them. Flows already at v
// stay; the surplus of over-full bins and, after it, flows of values
// outside the kept bins (in seeded random order) move to bins short of
// their share; surplus left over takes the values of flows outside the
// kept bins. Only the column changes, so the rest of each flow's fields
// stay together. It is post-processing of released values.
func (r *runner) imposeMarginals(b *abi.Batch, k int, ms []marginal, released int) *abi.Batch {
	fc := b.Column(abi.FlowColumn)
	if len(ms) == 0 || fc == nil || b.Len() == 0 || released <= 0 {
		return b
	}
	rows := flowRows(fc)
	out := b.Take(allRows(b.Len()))
	rng := rand.New(rand.NewPCG(uint64(r.cfg.Seed), 0x4d41<<16|uint64(k)))
	for _, m := range ms {
		c := out.Column(m.Column)
		if c == nil || !c.Type.IsInt() {
			continue
		}
		target := map[int64]int{}
		for j, v := range m.Values {
			target[v] = int(math.Round(float64(len(rows)) * m.Counts[j] / float64(released)))
		}
		kept := map[int64]int{}
		var surplus, tail []int
		for f := range rows {
			v := c.Int(int(rows[f][0]))
			t, heavy := target[v]
			switch {
			case !heavy:
				tail = append(tail, f)
			case kept[v] < t:
				kept[v]++
			default:
				surplus = append(surplus, f)
			}
		}
		rng.Shuffle(len(surplus), func(i, j int) { surplus[i], surplus[j] = surplus[j], surplus[i] })
		rng.Shuffle(len(tail), func(i, j int) { tail[i], tail[j] = tail[j], tail[i] })
		tailValues := make([]int64, len(tail))
		for i, f := range tail {
			tailValues[i] = c.Int(int(rows[f][0]))
		}
		set := func(f int, v int64) {
			for _, i := range rows[f] {
				encoding.SetInt(c, int(i), v)
			}
		}
		movers := slices.Concat(surplus, tail)
		n := 0
		// The largest bins first, should the movers run out.
		order := make([]int, len(m.Values))
		for j := range order {
			order[j] = j
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(m.Counts[b], m.Counts[a]) })
		for _, j := range order {
			v := m.Values[j]
			for ; kept[v] < target[v] && n < len(movers); n++ {
				set(movers[n], v)
				kept[v]++
			}
		}
		// Surplus flows no bin needed take the generated tail's values,
		// so that the bins keep their shares.
		if len(tailValues) > 0 {
			for _, f := range surplus[min(n, len(surplus)):] {
				set(f, tailValues[rng.IntN(len(tailValues))])
			}
		}
	}
	return out
}

func allRows(n int) []int32 {
	rows := make([]int32, n)
	for i := range rows {
		rows[i] = int32(i)
	}
	return rows
}
