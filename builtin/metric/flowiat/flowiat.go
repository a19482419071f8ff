// Package flowiat is the per-flow inter-arrival metric: group each side's
// records into flows by a key (the 5-tuple by default), take the gaps
// between consecutive records of a flow in time order, and compare the two
// sides' pooled gaps with the earth mover's distance, in the time
// column's unit (µs). Flows of one record have no gap. A packet trace's
// per-flow timing (bursts, keep-alives) shows here and nowhere else: the
// trace-wide arrival-time metric mixes every flow.
package flowiat

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/dist"
	"github.com/netshare/netshare/builtin/metric/internal/flowtab"
	"github.com/netshare/netshare/sdk"
)

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "flow-iat",
		Version: "1.0.0",
		Summary: "earth mover's distance between real and synthetic inter-arrival times of records within a flow",
		Params: []abi.Param{
			{Name: "key", Type: abi.ParamStrings, Default: []string{"srcip", "dstip", "srcport", "dstport", "proto"}, Doc: "columns whose values identify a flow"},
			{Name: "column", Type: abi.ParamString, Default: "ts", Doc: "numeric time column"},
			{Name: "name", Type: abi.ParamString, Default: "flow_iat_emd", Doc: "score name"},
		},
		Defaults: map[string]any{abi.DefaultColumnParams: []string{"key", "column"}},
	}, New)
}

// Metric keeps every record's flow and time on each side.
type Metric struct {
	name, column string
	key          []string
	real, syn    side
	nReal, nSyn  int
}

type side struct {
	tab  flowtab.Table
	flow []int32
	t    []float64
}

// New opens a flow-iat metric.
func New(env sdk.Env) (sdk.Metric, error) {
	p := env.Params
	m := &Metric{name: p.String("name"), column: p.String("column"), key: p.Strings("key")}
	switch {
	case m.name == "":
		return nil, fmt.Errorf("flow-iat: parameter \"name\" is empty")
	case len(m.key) == 0:
		return nil, fmt.Errorf("flow-iat %s: parameter \"key\" names no columns", m.name)
	case m.column == "":
		return nil, fmt.Errorf("flow-iat %s: parameter \"column\" is empty", m.name)
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

func (m *Metric) add(sd *side, b *abi.Batch, s dist.Side, n int) error {
	if b.Len() == 0 {
		return nil
	}
	keys := make([]*abi.Column, len(m.key))
	for i, k := range m.key {
		c, err := dist.Need(b, k, s, n)
		if err != nil {
			return fmt.Errorf("flow-iat %s: key: %w", m.name, err)
		}
		keys[i] = c
	}
	c, err := dist.Need(b, m.column, s, n)
	if err != nil {
		return fmt.Errorf("flow-iat %s: %w", m.name, err)
	}
	before := len(sd.t)
	if sd.t, err = dist.AppendFloats(sd.t, c, s, n); err != nil {
		sd.t = sd.t[:before]
		return fmt.Errorf("flow-iat %s: %w", m.name, err)
	}
	sd.flow = sd.tab.Rows(sd.flow, keys)
	return nil
}

// gaps returns the sorted gaps between consecutive records of each flow.
func (sd *side) gaps() []float64 {
	idx := make([]int32, len(sd.t))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := cmp.Compare(sd.flow[a], sd.flow[b]); c != 0 {
			return c
		}
		return cmp.Compare(sd.t[a], sd.t[b])
	})
	var out []float64
	for i := 1; i < len(idx); i++ {
		if sd.flow[idx[i]] == sd.flow[idx[i-1]] {
			out = append(out, sd.t[idx[i]]-sd.t[idx[i-1]])
		}
	}
	dist.SortFloats(out, nil)
	return out
}

// Score compares the pooled gaps. A synthetic side whose flows all have
// one record counts as one gap of 0: its records of a flow all come at
// once. It then scores the mean real gap, a finite value that ranks such
// a candidate low without failing a checkpoint choice; the real side
// must have a gap.
func (m *Metric) Score() (abi.Scores, error) {
	r, s := m.real.gaps(), m.syn.gaps()
	if len(r) == 0 {
		return abi.Scores{}, fmt.Errorf("flow-iat %s: no real flow has two records (%d real flows); there is no timing within flows to compare", m.name, m.real.tab.Len())
	}
	if len(s) == 0 {
		s = []float64{0}
	}
	x, fr, fs := dist.CDF(r, s)
	return abi.Scores{
		Values: map[string]float64{m.name: dist.EMD(r, s)},
		Series: []abi.Series{{Name: m.name, Kind: "cdf", X: x, Real: fr, Synthetic: fs}},
	}, nil
}
