// Package jsd is the Jensen–Shannon divergence metric (natural log; scipy's
// jensenshannon(p, q)**2) between the real and synthetic distributions of
// one column, NetShare's way:
//
//   - mode "exact" compares the frequency of each value. Numeric values are
//     rounded to integers and clipped into the support (the "support"
//     parameter, else 0–255 for u8 and 0–65535 for u16 real columns, else
//     no clipping); string values match by text. Ports and protocols.
//   - mode "rank" compares popularity profiles: each side's value counts
//     sorted descending and zero-padded to equal length, identities
//     ignored. IP addresses.
package jsd

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/dist"
	"github.com/netshare/netshare/sdk"
)

// Bars is how many values the histogram series shows before lumping the
// rest into "other".
const Bars = 20

// denseLimit is the widest support compared as dense vectors; wider ones
// compare over the values actually seen.
const denseLimit = 1 << 20

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "jsd",
		Version: "1.0.0",
		Summary: "Jensen–Shannon divergence (natural log) between real and synthetic value frequencies (exact) or popularity ranks (rank) of a column",
		Params: []abi.Param{
			{Name: "column", Type: abi.ParamString, Required: true, Doc: "column to compare (numeric or string)"},
			{Name: "mode", Type: abi.ParamString, Default: "exact", Doc: "exact: per-value frequencies; rank: sorted popularity profile, identities ignored"},
			{Name: "support", Type: abi.ParamInts, Doc: "[lo, hi]: integer support for exact mode on numeric columns; values outside are clipped into it (default: the real column's type range for u8/u16)"},
			{Name: "labels", Type: abi.ParamTable, Doc: "display names for values in the histogram series, e.g. {\"6\" = \"TCP\"}"},
			{Name: "name", Type: abi.ParamString, Default: "", Doc: "score name; default <column>_jsd, or <column>_rank_jsd in rank mode"},
		},
		// The host sends only the columns these parameters name.
		Defaults: map[string]any{abi.DefaultColumnParams: []string{"column"}},
	}, New)
}

// Metric counts values on both sides and compares the counts in Score.
type Metric struct {
	name, column string
	rank         bool
	lo, hi       int64
	hasSupport   bool
	labels       map[string]string
	real, syn    counter
	nReal, nSyn  int
}

// New opens a jsd metric.
func New(env sdk.Env) (sdk.Metric, error) {
	p := env.Params
	m := &Metric{column: p.String("column"), name: p.String("name"), labels: p.Table("labels")}
	if m.column == "" {
		return nil, fmt.Errorf("jsd: parameter \"column\" is empty")
	}
	switch mode := p.String("mode"); mode {
	case "exact":
	case "rank":
		m.rank = true
	default:
		return nil, fmt.Errorf("jsd %s: mode must be \"exact\" or \"rank\", got %q", m.column, mode)
	}
	if m.name == "" {
		m.name = m.column + "_jsd"
		if m.rank {
			m.name = m.column + "_rank_jsd"
		}
	}
	if p.Has("support") {
		s := p.Ints("support")
		if len(s) != 2 || s[0] > s[1] {
			return nil, fmt.Errorf("jsd %s: support must be [lo, hi] with lo ≤ hi, got %v", m.name, s)
		}
		if m.rank {
			return nil, fmt.Errorf("jsd %s: support applies to exact mode only", m.name)
		}
		m.lo, m.hi, m.hasSupport = s[0], s[1], true
	}
	return m, nil
}

func (m *Metric) AddReal(b *abi.Batch) error {
	m.nReal++
	return m.add(&m.real, b, dist.Real, m.nReal)
}

func (m *Metric) AddSynthetic(b *abi.Batch) error {
	m.nSyn++
	return m.add(&m.syn, b, dist.Synthetic, m.nSyn)
}

func (m *Metric) add(c *counter, b *abi.Batch, side dist.Side, n int) error {
	if b.Len() == 0 {
		return nil
	}
	col, err := dist.Need(b, m.column, side, n)
	if err == nil {
		err = c.add(col, side, n)
	}
	if err != nil {
		return fmt.Errorf("jsd %s: %w", m.name, err)
	}
	return nil
}

// Score builds aligned frequency vectors and compares them.
func (m *Metric) Score() (abi.Scores, error) {
	if m.real.n == 0 || m.syn.n == 0 {
		return abi.Scores{}, fmt.Errorf("jsd %s: column %q has %d real and %d synthetic values; both sides need at least one", m.name, m.column, m.real.n, m.syn.n)
	}
	if m.real.isString() != m.syn.isString() {
		return abi.Scores{}, fmt.Errorf("jsd %s: column %q is %s in the real table but %s in the synthetic one", m.name, m.column, m.real.typ, m.syn.typ)
	}
	if m.rank {
		return m.scoreRank()
	}
	keys, p, q := m.aligned()
	d := dist.JSD(p, q)
	if math.IsNaN(d) {
		return abi.Scores{}, fmt.Errorf("jsd %s: empty distribution", m.name)
	}
	return abi.Scores{Values: map[string]float64{m.name: d}, Series: []abi.Series{m.bars(keys, p, q)}}, nil
}

func (m *Metric) scoreRank() (abi.Scores, error) {
	p, q := m.real.profile(), m.syn.profile()
	x, fr, fs := dist.RankCurve(p, q)
	// Zero-pad the shorter profile: the extra ranks hold no records.
	n := max(len(p), len(q))
	p = append(p, make([]float64, n-len(p))...)
	q = append(q, make([]float64, n-len(q))...)
	d := dist.JSD(p, q)
	return abi.Scores{
		Values: map[string]float64{m.name: d},
		Series: []abi.Series{{Name: m.name, Kind: "cdf", X: x, Real: fr, Synthetic: fs}},
	}, nil
}

// key is one distinct value: a number or a string.
type key struct {
	num float64
	str string
}

// aligned returns the union of both sides' values (after clipping into the
// support) in a fixed order, with each side's counts.
func (m *Metric) aligned() ([]key, []float64, []float64) {
	if m.real.isString() {
		idx := map[string]int{}
		var keys []key
		for _, s := range sortedKeys(m.real.str, m.syn.str) {
			idx[s] = len(keys)
			keys = append(keys, key{str: s})
		}
		p, q := make([]float64, len(keys)), make([]float64, len(keys))
		for s, c := range m.real.str {
			p[idx[s]] += float64(c)
		}
		for s, c := range m.syn.str {
			q[idx[s]] += float64(c)
		}
		return keys, p, q
	}
	lo, hi, ok := m.lo, m.hi, m.hasSupport
	if !ok {
		lo, hi, ok = typeSupport(m.real.typ)
	}
	if ok && hi-lo < denseLimit {
		n := int(hi - lo + 1)
		p, q := make([]float64, n), make([]float64, n)
		m.real.each(func(v float64, c int64) { p[clip(v, lo, hi)-lo] += float64(c) })
		m.syn.each(func(v float64, c int64) { q[clip(v, lo, hi)-lo] += float64(c) })
		keys := make([]key, n)
		for i := range keys {
			keys[i].num = float64(lo + int64(i))
		}
		return keys, p, q
	}
	// Open or very wide support: compare over the values seen.
	norm := func(v float64) float64 {
		if ok {
			return float64(clip(v, lo, hi))
		}
		return v
	}
	cr, cs := map[float64]int64{}, map[float64]int64{}
	m.real.each(func(v float64, c int64) { cr[norm(v)] += c })
	m.syn.each(func(v float64, c int64) { cs[norm(v)] += c })
	vals := sortedKeys(cr, cs)
	keys := make([]key, len(vals))
	p, q := make([]float64, len(vals)), make([]float64, len(vals))
	for i, v := range vals {
		keys[i].num = v
		p[i], q[i] = float64(cr[v]), float64(cs[v])
	}
	return keys, p, q
}

// bars is the histogram series: the Bars values with the largest share on
// either side, most common in the real table first, then "other".
func (m *Metric) bars(keys []key, p, q []float64) abi.Series {
	sp, sq := sum(p), sum(q)
	share := func(i int) float64 { return max(p[i]/sp, q[i]/sq) }
	// Keep the Bars largest shares with one pass and a small insertion
	// list: a full sort of 65,536 ports is slow in Wasm. Ties keep the
	// lower index.
	idx := make([]int, 0, Bars+1)
	withMass := 0
	for i := range keys {
		if p[i] == 0 && q[i] == 0 {
			continue
		}
		withMass++
		si := share(i)
		if len(idx) == Bars && si <= share(idx[Bars-1]) {
			continue
		}
		at := len(idx)
		for at > 0 && si > share(idx[at-1]) {
			at--
		}
		idx = slices.Insert(idx, at, i)
		if len(idx) > Bars {
			idx = idx[:Bars]
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := cmp.Compare(p[b]/sp, p[a]/sp); c != 0 {
			return c
		}
		return cmp.Compare(q[b]/sq, q[a]/sq)
	})
	s := abi.Series{Name: m.name, Kind: "histogram"}
	var restR, restS float64 = 1, 1
	for i, k := range idx {
		s.X = append(s.X, float64(i))
		s.Real = append(s.Real, p[k]/sp)
		s.Synthetic = append(s.Synthetic, q[k]/sq)
		restR -= p[k] / sp
		restS -= q[k] / sq
		s.Labels = append(s.Labels, m.label(keys[k]))
	}
	if len(idx) < withMass {
		s.X = append(s.X, float64(len(idx)))
		s.Real = append(s.Real, max(restR, 0))
		s.Synthetic = append(s.Synthetic, max(restS, 0))
		s.Labels = append(s.Labels, "other")
	}
	return s
}

func (m *Metric) label(k key) string {
	txt := k.str
	if txt == "" && !m.real.isString() {
		txt = dist.FormatValue(k.num)
	}
	if l, ok := m.labels[txt]; ok {
		return l
	}
	if txt == "" {
		return `""`
	}
	return txt
}

func sum(s []float64) float64 {
	var t float64
	for _, v := range s {
		t += v
	}
	return t
}

// clip rounds v to an integer within [lo, hi].
func clip(v float64, lo, hi int64) int64 {
	r := math.Round(v)
	if r <= float64(lo) {
		return lo
	}
	if r >= float64(hi) {
		return hi
	}
	return int64(r)
}

func typeSupport(t abi.Type) (lo, hi int64, ok bool) {
	switch t {
	case abi.TypeU8:
		return 0, math.MaxUint8, true
	case abi.TypeU16:
		return 0, math.MaxUint16, true
	}
	return 0, 0, false
}

func sortedKeys[K cmp.Ordered, V any](a, b map[K]V) []K {
	out := make([]K, 0, len(a)+len(b))
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, dup := a[k]; !dup {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
