// Package emd is the earth mover's distance metric: the 1-D Wasserstein-1
// distance between the real and synthetic empirical distributions of one
// numeric column, with scipy.stats.wasserstein_distance semantics, in the
// column's own unit (µs for time columns). NetShare scores TS, TD, PKT,
// BYT, packet size and packet arrival time this way.
package emd

import (
	"fmt"
	"math"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/dist"
	"github.com/netshare/netshare/sdk"
)

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "emd",
		Version: "1.0.0",
		Summary: "earth mover's distance (1-D Wasserstein, scipy semantics) between real and synthetic values of a numeric column",
		Params: []abi.Param{
			{Name: "column", Type: abi.ParamString, Required: true, Doc: "numeric column to compare"},
			{Name: "relative", Type: abi.ParamBool, Default: false, Doc: "subtract each side's own minimum first (ts − ts_min), so traces from different epochs compare by shape"},
			{Name: "name", Type: abi.ParamString, Default: "", Doc: "score name; default <column>_emd"},
		},
		// The host sends only the columns these parameters name.
		Defaults: map[string]any{abi.DefaultColumnParams: []string{"column"}},
	}, New)
}

// Metric accumulates both sides' values and compares them in Score.
type Metric struct {
	name, column string
	relative     bool
	real, syn    []float64
	nReal, nSyn  int // batches seen, for error messages
}

// New opens an emd metric.
func New(env sdk.Env) (sdk.Metric, error) {
	m := &Metric{column: env.Params.String("column"), relative: env.Params.Bool("relative"), name: env.Params.String("name")}
	if m.column == "" {
		return nil, fmt.Errorf("emd: parameter \"column\" is empty")
	}
	if m.name == "" {
		m.name = m.column + "_emd"
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

func (m *Metric) add(dst *[]float64, b *abi.Batch, side dist.Side, n int) error {
	if b.Len() == 0 {
		return nil
	}
	c, err := dist.Need(b, m.column, side, n)
	if err != nil {
		return fmt.Errorf("emd %s: %w", m.name, err)
	}
	*dst, err = dist.AppendFloats(*dst, c, side, n)
	if err != nil {
		return fmt.Errorf("emd %s: %w", m.name, err)
	}
	return nil
}

// Score sorts both samples and integrates |F_real − F_syn|.
func (m *Metric) Score() (abi.Scores, error) {
	if len(m.real) == 0 || len(m.syn) == 0 {
		return abi.Scores{}, fmt.Errorf("emd %s: column %q has %d real and %d synthetic values; both sides need at least one", m.name, m.column, len(m.real), len(m.syn))
	}
	scratch := dist.SortFloats(m.real, nil)
	dist.SortFloats(m.syn, scratch)
	if m.relative {
		shift(m.real)
		shift(m.syn)
	}
	d := dist.EMD(m.real, m.syn)
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return abi.Scores{}, fmt.Errorf("emd %s: distance is %v (values too large for float64?)", m.name, d)
	}
	x, fr, fs := dist.CDF(m.real, m.syn)
	return abi.Scores{
		Values: map[string]float64{m.name: d},
		Series: []abi.Series{{Name: m.name, Kind: "cdf", X: x, Real: fr, Synthetic: fs}},
	}, nil
}

// shift subtracts the first (smallest) value from every value of sorted s.
func shift(s []float64) {
	lo := s[0]
	for i := range s {
		s[i] -= lo
	}
}
