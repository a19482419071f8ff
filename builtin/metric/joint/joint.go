// Package joint is the joint-distribution metric: it discretises two to
// four columns, counts each side's joint cells and scores the total
// variation distance (TVD, ½·Σ|p − q|, 0 to 1) between the real and the
// synthetic joint distribution. Single-field metrics cannot tell a model
// that learned how fields go together from a sampler that draws every
// column independently from the real marginals; this metric can, and it
// reports that naive sampler's TVD beside its own as the line to beat.
//
// Discretisation, with every cut point taken from the real side only:
//
//   - "top": the most common real values (parameter top, 30) keep their
//     identity, every other value is "other" (ports);
//   - "value": every value is its own cell (protocols);
//   - "quantile": cells between the real quantiles at 1/k, …, (k−1)/k
//     (k = parameter quantiles, 10; numpy's linear interpolation), equal
//     cut points merged (packets, bytes, durations).
//
// With flow_key set, the rows compared are flows rather than records: a
// column named "records" is the flow's record count, a key column its
// value, any other column the mean over the flow's records (records per
// flow × mean packet size).
package joint

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/dist"
	"github.com/netshare/netshare/builtin/metric/internal/flowtab"
	"github.com/netshare/netshare/sdk"
)

// Discretisations of a column.
const (
	BinTop      = "top"
	BinValue    = "value"
	BinQuantile = "quantile"
)

// Records is the flow-mode column that counts a flow's records.
const Records = "records"

// MaxColumns bounds the columns of one joint distribution: beyond four,
// most cells of a trace-sized sample are empty and the TVD says little.
const MaxColumns = 4

// Bars is how many joint cells the histogram series shows.
const Bars = 20

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "joint",
		Version: "1.0.0",
		Summary: "total variation distance between real and synthetic joint distributions of 2–4 discretised columns (or per-flow quantities), with the naive independent sampler's distance as the line to beat",
		Params: []abi.Param{
			{Name: "columns", Type: abi.ParamStrings, Required: true, Doc: "2–4 columns whose joint distribution is compared; with flow_key, \"records\" is records per flow and a non-key column its per-flow mean"},
			{Name: "bins", Type: abi.ParamStrings, Required: true, Doc: "one per column: top (most common real values, else other), value (every value) or quantile (real quantile cells)"},
			{Name: "top", Type: abi.ParamInt, Default: int64(30), Doc: "values kept by top"},
			{Name: "quantiles", Type: abi.ParamInt, Default: int64(10), Doc: "cells of quantile"},
			{Name: "flow_key", Type: abi.ParamStrings, Default: []string{}, Doc: "columns identifying a flow: compare flows instead of records"},
			{Name: "naive_draws", Type: abi.ParamInt, Default: int64(5), Doc: "naive samples averaged for the naive score (0: none)"},
			{Name: "name", Type: abi.ParamString, Default: "", Doc: "score name; default <col>x<col>…_tvd, flow_<col>x…_tvd with flow_key"},
		},
		// The host sends only the columns these parameters name ("records"
		// names none).
		Defaults: map[string]any{abi.DefaultColumnParams: []string{"columns", "flow_key"}},
	}, New)
}

// Metric accumulates both sides and discretises them in Score, once the
// real side, which every cut point comes from, is complete.
type Metric struct {
	name            string
	cols, bins, key []string
	isKey           []bool
	top, quantiles  int
	draws           int
	seed            int64
	strs            map[string]float64 // string values → ids, shared by both sides
	names           []string           // ids → string values
	stringCol       []bool             // column i holds strings
	real, syn       side
	nReal, nSyn     int
	ids             []int32
	scratch         []float64
}

// side is one table's values: per column, one value per record, or in flow
// mode one per flow (the key value, or the sum the mean is taken from).
type side struct {
	vals  [][]float64
	tab   flowtab.Table
	count []float64 // flow mode: records per flow
}

// New opens a joint metric.
func New(env sdk.Env) (sdk.Metric, error) {
	p := env.Params
	m := &Metric{cols: p.Strings("columns"), bins: p.Strings("bins"), key: p.Strings("flow_key"),
		top: p.Int("top"), quantiles: p.Int("quantiles"), draws: p.Int("naive_draws"), name: p.String("name"), seed: env.Seed}
	if len(m.cols) < 2 || len(m.cols) > MaxColumns {
		return nil, fmt.Errorf("joint: parameter \"columns\" names %d columns (%v); want 2 to %d", len(m.cols), m.cols, MaxColumns)
	}
	if len(m.bins) != len(m.cols) {
		return nil, fmt.Errorf("joint %v: parameter \"bins\" has %d entries for %d columns", m.cols, len(m.bins), len(m.cols))
	}
	for i, b := range m.bins {
		switch b {
		case BinTop, BinValue, BinQuantile:
		default:
			return nil, fmt.Errorf("joint %v: bins[%d] = %q; want top, value or quantile", m.cols, i, b)
		}
	}
	if m.top < 1 || m.quantiles < 1 || m.draws < 0 {
		return nil, fmt.Errorf("joint %v: top %d and quantiles %d must be ≥ 1, naive_draws %d ≥ 0", m.cols, m.top, m.quantiles, m.draws)
	}
	m.isKey = make([]bool, len(m.cols))
	for i, c := range m.cols {
		m.isKey[i] = slices.Contains(m.key, c)
		if c == Records && len(m.key) == 0 {
			return nil, fmt.Errorf("joint %v: column %q counts records per flow and needs flow_key", m.cols, Records)
		}
	}
	if m.name == "" {
		m.name = strings.Join(m.cols, "x") + "_tvd"
		if len(m.key) > 0 {
			m.name = "flow_" + m.name
		}
	}
	m.stringCol = make([]bool, len(m.cols))
	m.strs = map[string]float64{}
	m.real.vals = make([][]float64, len(m.cols))
	m.syn.vals = make([][]float64, len(m.cols))
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

// values appends column c's values as numbers; strings become ids shared
// by both sides, so that equal strings compare equal.
func (m *Metric) values(dst []float64, i int, c *abi.Column, s dist.Side, n int) ([]float64, error) {
	if c.Type != abi.TypeString {
		return dist.AppendFloats(dst, c, s, n)
	}
	m.stringCol[i] = true
	for _, code := range c.Codes {
		v := c.Dict[code]
		id, ok := m.strs[v]
		if !ok {
			id = float64(len(m.names))
			m.strs[v] = id
			m.names = append(m.names, v)
		}
		dst = append(dst, id)
	}
	return dst, nil
}

func (m *Metric) add(sd *side, b *abi.Batch, s dist.Side, n int) error {
	if b.Len() == 0 {
		return nil
	}
	if len(m.key) == 0 {
		for i, name := range m.cols {
			c, err := dist.Need(b, name, s, n)
			if err != nil {
				return fmt.Errorf("joint %s: %w", m.name, err)
			}
			if sd.vals[i], err = m.values(sd.vals[i], i, c, s, n); err != nil {
				return fmt.Errorf("joint %s: %w", m.name, err)
			}
		}
		return nil
	}
	keys := make([]*abi.Column, len(m.key))
	for i, k := range m.key {
		c, err := dist.Need(b, k, s, n)
		if err != nil {
			return fmt.Errorf("joint %s: flow key: %w", m.name, err)
		}
		keys[i] = c
	}
	// Look every column up before the flow table grows, so that an error
	// leaves the side as it was.
	cols := make([]*abi.Column, len(m.cols))
	for i, name := range m.cols {
		if name == Records {
			continue
		}
		c, err := dist.Need(b, name, s, n)
		if err != nil {
			return fmt.Errorf("joint %s: %w", m.name, err)
		}
		if c.Type == abi.TypeString && !m.isKey[i] {
			return fmt.Errorf("joint %s: %s batch %d: column %q is a string column; a per-flow mean needs numbers (or make it part of flow_key)", m.name, s, n, name)
		}
		cols[i] = c
	}
	m.ids = sd.tab.Rows(m.ids[:0], keys)
	for len(sd.count) < sd.tab.Len() {
		sd.count = append(sd.count, 0)
		for i := range sd.vals {
			sd.vals[i] = append(sd.vals[i], 0)
		}
	}
	for _, id := range m.ids {
		sd.count[id]++
	}
	for i, c := range cols {
		if c == nil {
			continue
		}
		var err error
		if m.scratch, err = m.values(m.scratch[:0], i, c, s, n); err != nil {
			return fmt.Errorf("joint %s: %w", m.name, err)
		}
		v := sd.vals[i]
		for r, id := range m.ids {
			if m.isKey[i] {
				v[id] = m.scratch[r]
			} else {
				v[id] += m.scratch[r]
			}
		}
	}
	return nil
}

// table returns the rows compared: per column, one value a row.
func (m *Metric) table(sd *side) [][]float64 {
	if len(m.key) == 0 {
		return sd.vals
	}
	out := make([][]float64, len(m.cols))
	for i, name := range m.cols {
		switch {
		case name == Records:
			out[i] = sd.count
		case m.isKey[i]:
			out[i] = sd.vals[i]
		default:
			out[i] = make([]float64, len(sd.count))
			for f, s := range sd.vals[i] {
				out[i][f] = s / sd.count[f]
			}
		}
	}
	return out
}

// Score discretises both sides with the real side's cut points and
// compares their joint cells.
func (m *Metric) Score() (abi.Scores, error) {
	real, syn := m.table(&m.real), m.table(&m.syn)
	nr, ns := len(real[0]), len(syn[0])
	if nr == 0 || ns == 0 {
		return abi.Scores{}, fmt.Errorf("joint %s: %d real and %d synthetic rows; both sides need at least one", m.name, nr, ns)
	}
	cells := newCells(len(m.cols))
	bins := make([]binner, len(m.cols))
	rc, sc := make([][]uint32, len(m.cols)), make([][]uint32, len(m.cols))
	for i := range m.cols {
		bins[i] = newBinner(m.bins[i], real[i], m.top, m.quantiles)
		rc[i], sc[i] = bins[i].codes(real[i]), bins[i].codes(syn[i])
	}
	pr := cells.count(rc, nr, nil)
	ps := cells.count(sc, ns, nil)
	tvd := cells.tvd(pr, ps)
	out := abi.Scores{Values: map[string]float64{m.name: tvd}, Series: []abi.Series{m.series(cells, bins, pr, ps)}}
	if m.draws > 0 {
		out.Naive = map[string]float64{m.name: m.naive(cells, rc, nr, ns, pr)}
	}
	return out, nil
}

// naive is the mean TVD, over m.draws samples of ns rows whose every column
// is drawn independently (with replacement) from the real rows, against
// the real joint distribution pr.
func (m *Metric) naive(cells *cells, rc [][]uint32, nr, ns int, pr []float64) float64 {
	draw := make([][]uint32, len(rc))
	for i := range draw {
		draw[i] = make([]uint32, ns)
	}
	var sum float64
	for d := 0; d < m.draws; d++ {
		rng := rand.New(rand.NewPCG(uint64(m.seed), uint64(d)+0x9a1e))
		for i := range draw {
			for r := range draw[i] {
				draw[i][r] = rc[i][rng.IntN(nr)]
			}
		}
		sum += cells.tvd(pr, cells.count(draw, ns, nil))
	}
	return sum / float64(m.draws)
}

// series is a histogram of the joint cells that hold the most records on
// either side, labelled with each column's cell.
func (m *Metric) series(c *cells, bins []binner, pr, ps []float64) abi.Series {
	order := make([]int, len(c.keys))
	for i := range order {
		order[i] = i
	}
	at := func(p []float64, i int) float64 {
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(max(at(pr, b), at(ps, b)), max(at(pr, a), at(ps, a)))
	})
	order = order[:min(Bars, len(order))]
	s := abi.Series{Name: m.name, Kind: "histogram"}
	for k, i := range order {
		parts := make([]string, len(m.cols))
		for j := range m.cols {
			parts[j] = bins[j].label(c.keys[i][j], m.stringCol[j], m.names)
		}
		s.X = append(s.X, float64(k))
		s.Real = append(s.Real, at(pr, i))
		s.Synthetic = append(s.Synthetic, at(ps, i))
		s.Labels = append(s.Labels, strings.Join(parts, " × "))
	}
	return s
}

// cells numbers joint cells (tuples of column codes) in order of first
// sight, so that every sum runs in the same order on every run.
type cells struct {
	n     int
	index map[[MaxColumns]uint32]int
	keys  [][MaxColumns]uint32
}

func newCells(n int) *cells { return &cells{n: n, index: map[[MaxColumns]uint32]int{}} }

// count returns the share of the rows in each cell (indexed as c.keys),
// adding cells the codes reach first.
func (c *cells) count(codes [][]uint32, rows int, dst []float64) []float64 {
	var k [MaxColumns]uint32
	for r := 0; r < rows; r++ {
		for i := 0; i < c.n; i++ {
			k[i] = codes[i][r]
		}
		id, ok := c.index[k]
		if !ok {
			id = len(c.keys)
			c.index[k] = id
			c.keys = append(c.keys, k)
		}
		for len(dst) <= id {
			dst = append(dst, 0)
		}
		dst[id]++
	}
	for i := range dst {
		dst[i] /= float64(rows)
	}
	return dst
}

// tvd is ½·Σ|p − q| over the cells, a missing entry counting as 0.
func (c *cells) tvd(p, q []float64) float64 {
	var d float64
	for i := 0; i < max(len(p), len(q)); i++ {
		var a, b float64
		if i < len(p) {
			a = p[i]
		}
		if i < len(q) {
			b = q[i]
		}
		d += math.Abs(a - b)
	}
	return d / 2
}

// binner maps values to cell codes with cut points from the real values.
type binner struct {
	how   string
	top   map[float64]uint32 // top and value: value → code
	vals  []float64          // top and value: code → value
	edges []float64          // quantile: sorted distinct cut points
}

func newBinner(how string, real []float64, top, quantiles int) binner {
	b := binner{how: how}
	switch how {
	case BinQuantile:
		b.edges = Quantiles(real, quantiles)
	case BinTop:
		b.vals = Top(real, top)
	default:
		// Every real value; synthetic values real never has get codes
		// as codes() meets them.
		b.vals = Top(real, len(real))
	}
	b.top = make(map[float64]uint32, len(b.vals))
	for i, v := range b.vals {
		b.top[v] = uint32(i)
	}
	return b
}

// other is the code of values outside a top list.
const other = math.MaxUint32

func (b *binner) codes(v []float64) []uint32 {
	out := make([]uint32, len(v))
	for r, x := range v {
		switch b.how {
		case BinQuantile:
			// numpy.searchsorted(edges, x, side="right"): edges ≤ x.
			i, found := slices.BinarySearch(b.edges, x)
			if found {
				i++
			}
			out[r] = uint32(i)
		case BinTop:
			c, ok := b.top[x]
			if !ok {
				c = other
			}
			out[r] = c
		default:
			c, ok := b.top[x]
			if !ok {
				c = uint32(len(b.vals))
				b.top[x] = c
				b.vals = append(b.vals, x)
			}
			out[r] = c
		}
	}
	return out
}

// label names a cell code of this column.
func (b *binner) label(code uint32, str bool, names []string) string {
	if b.how == BinQuantile {
		switch {
		case len(b.edges) == 0:
			return "all"
		case code == 0:
			return "<" + dist.FormatValue(b.edges[0])
		case int(code) == len(b.edges):
			return "≥" + dist.FormatValue(b.edges[code-1])
		}
		return "[" + dist.FormatValue(b.edges[code-1]) + "," + dist.FormatValue(b.edges[code]) + ")"
	}
	if code == other {
		return "other"
	}
	v := b.vals[code]
	if str {
		return names[int(v)]
	}
	return dist.FormatValue(v)
}

// Top returns the k most common values of v, most common first; equal
// counts keep the order of first appearance.
func Top(v []float64, k int) []float64 {
	count := map[float64]int{}
	var order []float64
	for _, x := range v {
		if count[x] == 0 {
			order = append(order, x)
		}
		count[x]++
	}
	slices.SortStableFunc(order, func(a, b float64) int { return cmp.Compare(count[b], count[a]) })
	return order[:min(k, len(order))]
}

// Quantiles returns the distinct cut points of k quantile cells of v:
// numpy.unique(numpy.quantile(v, numpy.linspace(0, 1, k+1)[1:-1])), with
// numpy's default linear interpolation, bit for bit.
func Quantiles(v []float64, k int) []float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	var out []float64
	step := 1 / float64(k) // linspace: i·step
	for i := 1; i < k; i++ {
		vi := float64(n-1) * (float64(i) * step)
		lo := math.Floor(vi)
		var q float64
		if vi >= float64(n-1) {
			q = s[n-1]
		} else {
			a, b, g := s[int(lo)], s[int(lo)+1], vi-lo
			// numpy's _lerp; the conversions keep the compiler from
			// fusing a multiply-add, which rounds differently.
			d := b - a
			if g >= 0.5 {
				q = b - float64(d*(1-g))
			} else {
				q = a + float64(d*g)
			}
		}
		out = append(out, q)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
