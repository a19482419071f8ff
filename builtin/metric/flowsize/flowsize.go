// Package flowsize is the flow-size metric: group each side's records by a
// key (the 5-tuple by default), total a count per group (records, or the
// sum of a numeric column such as pkt), and compare the two sides'
// distributions of those totals with the earth mover's distance. NetShare's
// FS (packets per 5-tuple, PCAP) and records-per-flow are this metric.
package flowsize

import (
	"fmt"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/dist"
	"github.com/netshare/netshare/builtin/metric/internal/flowtab"
	"github.com/netshare/netshare/sdk"
)

// CountRecords is the "count" parameter value that counts records; the
// empty string, the default, does too.
const CountRecords = "records"

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "flow-size",
		Version: "1.0.0",
		Summary: "earth mover's distance between real and synthetic distributions of per-flow totals (records or a summed column per key)",
		Params: []abi.Param{
			{Name: "key", Type: abi.ParamStrings, Default: []string{"srcip", "dstip", "srcport", "dstport", "proto"}, Doc: "columns whose values identify a flow"},
			{Name: "count", Type: abi.ParamString, Default: "", Doc: "empty or \"records\" to count records per flow, or a numeric column to sum per flow (e.g. pkt)"},
			{Name: "name", Type: abi.ParamString, Default: "flow_size_emd", Doc: "score name"},
		},
		// The host sends only the columns these parameters name ("records"
		// names none).
		Defaults: map[string]any{abi.DefaultColumnParams: []string{"key", "count"}},
	}, New)
}

// Metric keeps a running total per flow key on each side.
type Metric struct {
	name, count string
	key         []string
	real, syn   flows
	nReal, nSyn int
	ids         []int32   // scratch: the flow of each row of the current batch
	weights     []float64 // scratch: the count column of the current batch
}

// flows numbers one side's flows and totals each.
type flows struct {
	tab    flowtab.Table
	totals []float64
}

// New opens a flow-size metric.
func New(env sdk.Env) (sdk.Metric, error) {
	p := env.Params
	m := &Metric{name: p.String("name"), count: p.String("count"), key: p.Strings("key")}
	if len(m.key) == 0 {
		return nil, fmt.Errorf("flow-size %s: parameter \"key\" names no columns", m.name)
	}
	if m.count == "" {
		m.count = CountRecords
	}
	if m.name == "" {
		return nil, fmt.Errorf("flow-size: parameter \"name\" is empty")
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

func (m *Metric) add(f *flows, b *abi.Batch, side dist.Side, n int) error {
	rows := b.Len()
	if rows == 0 {
		return nil
	}
	cols := make([]*abi.Column, len(m.key))
	for i, k := range m.key {
		c, err := dist.Need(b, k, side, n)
		if err != nil {
			return fmt.Errorf("flow-size %s: key: %w", m.name, err)
		}
		cols[i] = c
	}
	var weight *abi.Column
	if m.count != CountRecords {
		c, err := dist.Need(b, m.count, side, n)
		if err != nil {
			return fmt.Errorf("flow-size %s: count: %w", m.name, err)
		}
		if c.Type == abi.TypeString {
			return fmt.Errorf("flow-size %s: %s batch %d: count column %q is a string column", m.name, side, n, c.Name)
		}
		weight = c
	}
	var err error
	m.weights = m.weights[:0]
	if weight != nil {
		// Column-wise conversion: also rejects NaN/Inf with the row number.
		if m.weights, err = dist.AppendFloats(m.weights, weight, side, n); err != nil {
			return fmt.Errorf("flow-size %s: count: %w", m.name, err)
		}
	}
	m.ids = f.tab.Rows(m.ids[:0], cols)
	for len(f.totals) < f.tab.Len() {
		f.totals = append(f.totals, 0)
	}
	for r, id := range m.ids {
		if m.weights != nil && len(m.weights) > r {
			f.totals[id] += m.weights[r]
		} else {
			f.totals[id]++
		}
	}
	return nil
}

// Score compares the per-flow totals.
func (m *Metric) Score() (abi.Scores, error) {
	if len(m.real.totals) == 0 || len(m.syn.totals) == 0 {
		return abi.Scores{}, fmt.Errorf("flow-size %s: %d real and %d synthetic flows; both sides need at least one", m.name, len(m.real.totals), len(m.syn.totals))
	}
	r, s := slices.Clone(m.real.totals), slices.Clone(m.syn.totals)
	scratch := dist.SortFloats(r, nil)
	dist.SortFloats(s, scratch)
	x, fr, fs := dist.CDF(r, s)
	return abi.Scores{
		Values: map[string]float64{m.name: dist.EMD(r, s)},
		Series: []abi.Series{{Name: m.name, Kind: "cdf", X: x, Real: fr, Synthetic: fs}},
	}, nil
}
