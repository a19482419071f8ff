// Package sketch is the telemetry-sketch downstream task: estimate the
// heavy hitters' packet and byte counts with Count-Min, Count Sketch and
// UnivMon at equal memory, on the real and on the synthetic trace, and
// compare each sketch's error and the sketches' ranking across the two
// (NetShare §6). A synthetic trace is useful for sizing a sketch when it
// gives the same errors and the same ranking as the real one. Score names
// and the verdict rule are in docs/downstream.md.
package sketch

import (
	"fmt"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/ml"
	"github.com/netshare/netshare/sdk"
)

// Sketches and Measures name what the metric reports, in report order.
var (
	Sketches = []string{"cms", "cs", "univmon"}
	Measures = []string{"pkt", "byt"}
)

// FiveTuple is the default flow key.
var FiveTuple = []string{"srcip", "dstip", "srcport", "dstport", "proto"}

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "sketch",
		Version: "1.0.0",
		Summary: "heavy-hitter estimation with Count-Min, Count Sketch and UnivMon at equal memory: relative error on real vs synthetic and whether the sketches' ranking is preserved",
		Params: []abi.Param{
			{Name: "key", Type: abi.ParamStrings, Default: FiveTuple, Doc: "columns whose values identify a flow"},
			{Name: "top_k", Type: abi.ParamInt, Default: int64(100), Doc: "heavy hitters: the k largest flows of each side (by the measure)"},
			{Name: "counters", Type: abi.ParamInt, Default: int64(0), Doc: "memory of every sketch in counters; 0: the real trace's distinct flows ÷ 4, rounded up to a power of two (at least 256)"},
			{Name: "depth", Type: abi.ParamInt, Default: int64(4), Doc: "rows (hash functions) of each sketch"},
			{Name: "levels", Type: abi.ParamInt, Default: int64(4), Doc: "UnivMon levels (each a Count Sketch with 1/levels of the memory)"},
			{Name: "name", Type: abi.ParamString, Default: "sketch", Doc: "prefix of the score names"},
		},
	}, New)
}

// Metric keeps each side's exact per-flow packet and byte totals. The
// sketches are linear, so replaying the totals at Score gives exactly the
// state a per-packet stream would leave; the exact totals are needed
// anyway to measure the error.
type Metric struct {
	name                          string
	key                           []string
	topK, counters, depth, levels int
	seed                          uint64
	real, syn                     flowTable
	nReal, nSyn                   int
	keyBuf                        []byte
}

type flowTable struct {
	index map[string]int32
	keys  []uint64 // two hash inputs per flow
	pkt   []float64
	byt   []float64
}

// New opens a sketch metric.
func New(env sdk.Env) (sdk.Metric, error) {
	p := env.Params
	m := &Metric{name: p.String("name"), key: p.Strings("key"), topK: p.Int("top_k"),
		counters: p.Int("counters"), depth: p.Int("depth"), levels: p.Int("levels"), seed: uint64(env.Seed)}
	switch {
	case m.name == "":
		return nil, fmt.Errorf("sketch: parameter \"name\" is empty")
	case len(m.key) == 0:
		return nil, fmt.Errorf("sketch %s: parameter \"key\" names no columns", m.name)
	case m.topK < 1:
		return nil, fmt.Errorf("sketch %s: top_k %d is below 1", m.name, m.topK)
	case m.counters < 0:
		return nil, fmt.Errorf("sketch %s: counters %d is negative", m.name, m.counters)
	case m.depth < 1 || m.depth > 16:
		return nil, fmt.Errorf("sketch %s: depth %d is outside 1..16", m.name, m.depth)
	case m.levels < 1 || m.levels > 16:
		return nil, fmt.Errorf("sketch %s: levels %d is outside 1..16", m.name, m.levels)
	}
	if m.counters > 0 && m.counters < m.depth*m.levels {
		return nil, fmt.Errorf("sketch %s: %d counters cannot hold %d rows × %d UnivMon levels", m.name, m.counters, m.depth, m.levels)
	}
	m.real.index, m.syn.index = map[string]int32{}, map[string]int32{}
	return m, nil
}

func (m *Metric) AddReal(b *abi.Batch) error {
	m.nReal++
	return m.add(&m.real, b, fmt.Sprintf("sketch %s: real batch %d", m.name, m.nReal))
}

func (m *Metric) AddSynthetic(b *abi.Batch) error {
	m.nSyn++
	return m.add(&m.syn, b, fmt.Sprintf("sketch %s: synthetic batch %d", m.name, m.nSyn))
}

func (m *Metric) add(t *flowTable, b *abi.Batch, where string) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	cols := make([]*abi.Column, len(m.key))
	for i, k := range m.key {
		if cols[i] = b.Column(k); cols[i] == nil {
			return fmt.Errorf("%s has no key column %q", where, k)
		}
	}
	// Packets weigh 1 and their length; flow records their pkt and byt.
	var pkt, byt *abi.Column
	if c := b.Column("pkt_len"); c != nil {
		byt = c
	} else {
		pkt, byt = b.Column("pkt"), b.Column("byt")
		if pkt == nil || byt == nil {
			return fmt.Errorf("%s has neither pkt_len (packets) nor pkt and byt (flow records)", where)
		}
	}
	for _, c := range []*abi.Column{pkt, byt} {
		if c != nil && c.Type == abi.TypeString {
			return fmt.Errorf("%s: column %q is a string column", where, c.Name)
		}
	}
	for r := 0; r < n; r++ {
		m.keyBuf = abi.AppendKey(m.keyBuf[:0], cols, r)
		id, ok := t.index[string(m.keyBuf)]
		if !ok {
			id = int32(len(t.pkt))
			t.index[string(m.keyBuf)] = id
			lo, hi := hashKey(m.keyBuf)
			t.keys = append(t.keys, lo, hi)
			t.pkt = append(t.pkt, 0)
			t.byt = append(t.byt, 0)
		}
		p, by := 1.0, byt.Float(r)
		if pkt != nil {
			p = pkt.Float(r)
		}
		if !(p >= 0 && by >= 0) || math.IsInf(p, 0) || math.IsInf(by, 0) {
			return fmt.Errorf("%s row %d: packets %v, bytes %v; want finite non-negative counts", where, r, p, by)
		}
		t.pkt[id] += p
		t.byt[id] += by
		if math.IsInf(t.pkt[id], 0) || math.IsInf(t.byt[id], 0) {
			return fmt.Errorf("%s row %d: the flow's packet or byte total overflows", where, r)
		}
	}
	return nil
}

// Score builds the three sketches on each side and measures their error on
// that side's heavy hitters.
func (m *Metric) Score() (abi.Scores, error) {
	if len(m.real.pkt) == 0 || len(m.syn.pkt) == 0 {
		return abi.Scores{}, fmt.Errorf("sketch %s: %d real and %d synthetic flows; both sides need records", m.name, len(m.real.pkt), len(m.syn.pkt))
	}
	counters := m.counters
	if counters == 0 {
		counters = 256
		for counters*4 < len(m.real.pkt) {
			counters *= 2
		}
	}
	counters = max(counters, m.depth*m.levels)
	p := m.name + "."
	v := map[string]float64{
		p + "counters":   float64(counters),
		p + "flows_real": float64(len(m.real.pkt)),
		p + "flows_syn":  float64(len(m.syn.pkt)),
	}
	var series []abi.Series
	flag := false
	var diffSum float64
	for _, meas := range Measures {
		errs := [2][]float64{}
		for side, t := range []*flowTable{&m.real, &m.syn} {
			counts := t.pkt
			if meas == "byt" {
				counts = t.byt
			}
			for _, name := range Sketches {
				s := newSketch(name, counters, m.depth, m.levels, m.seed)
				for f, c := range counts {
					s.add(t.keys[2*f], t.keys[2*f+1], c)
				}
				errs[side] = append(errs[side], meanRelErr(s, t.keys, counts, m.topK))
			}
		}
		for i, name := range Sketches {
			er, es := errs[0][i], errs[1][i]
			v[p+name+"."+meas+".relerr_real"] = er
			v[p+name+"."+meas+".relerr_syn"] = es
			d := math.Abs(es-er) / max(er, RelErrFloor)
			v[p+name+"."+meas+".relerr_diff"] = d
			diffSum += d
		}
		rho, ok := ml.Spearman(errs[0], errs[1])
		preserved := sameOrder(errs[0], errs[1])
		v[p+meas+".spearman"] = rho
		v[p+meas+".spearman_defined"] = b2f(ok)
		v[p+meas+".rank_preserved"] = b2f(preserved)
		flag = flag || !preserved
		series = append(series, abi.Series{Name: p + meas + ".relerr", Kind: "histogram",
			X: []float64{0, 1, 2}, Real: errs[0], Synthetic: errs[1], Labels: Sketches})
	}
	meanDiff := diffSum / float64(len(Sketches)*len(Measures))
	v[p+"mean_relerr_diff"] = meanDiff
	v[p+"flag"] = b2f(flag || meanDiff > DiffWarn)
	return abi.Scores{Values: v, Series: series}, nil
}

// Verdict thresholds (docs/downstream.md).
const (
	// DiffWarn: warn when the sketches' errors on synthetic data differ
	// from those on real data by more than half, on average.
	DiffWarn = 0.5
	// RelErrFloor keeps the relative difference finite when a sketch is
	// exact on the real trace.
	RelErrFloor = 0.01
)

// sameOrder reports whether sorting the sketches by error gives the same
// order on both sides (ties must be ties on both).
func sameOrder(a, b []float64) bool {
	for i := range a {
		for j := range a {
			if cmp(a[i], a[j]) != cmp(b[i], b[j]) {
				return false
			}
		}
	}
	return true
}

func cmp(x, y float64) int {
	// Errors within a part in a million are ties.
	switch {
	case x < y-1e-6*max(math.Abs(x), math.Abs(y)):
		return -1
	case x > y+1e-6*max(math.Abs(x), math.Abs(y)):
		return 1
	}
	return 0
}

// meanRelErr is the mean of |estimate − true| / true over the k flows with
// the largest true counts (ties broken by flow order, which is first-seen).
func meanRelErr(s sketch, keys []uint64, counts []float64, k int) float64 {
	idx := make([]int, len(counts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case counts[a] > counts[b]:
			return -1
		case counts[a] < counts[b]:
			return 1
		}
		return 0
	})
	var sum float64
	n := 0
	for _, f := range idx[:min(k, len(idx))] {
		if counts[f] <= 0 {
			break
		}
		sum += math.Abs(s.estimate(keys[2*f], keys[2*f+1])-counts[f]) / counts[f]
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
