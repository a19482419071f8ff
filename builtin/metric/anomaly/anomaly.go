// Package anomaly is the anomaly-detection downstream task: per-flow
// features in the spirit of NetML's modes (IAT, SIZE, STATS), one-class
// detectors (isolation forest, Mahalanobis distance, local outlier factor)
// fitted on each side, and a comparison of the share of flows each
// detector calls anomalous on real and on synthetic data, and of the
// detectors' order (NetShare §6). Score names and the verdict rule are in
// docs/downstream.md.
package anomaly

import (
	"fmt"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/ml"
	"github.com/netshare/netshare/sdk"
)

// Modes of per-flow features. Packet records support all three; flow
// records (one row per flow) only STATS.
const (
	ModeIAT   = "iat"
	ModeSize  = "size"
	ModeStats = "stats"
)

// FiveTuple is the default flow key of packet records.
var FiveTuple = []string{"srcip", "dstip", "srcport", "dstport", "proto"}

// keepPackets bounds the packets kept per flow for the IAT and SIZE
// vectors and the IAT statistics; counts, bytes and times use every packet.
const keepPackets = 64

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "anomaly",
		Version: "1.0.0",
		Summary: "anomaly detection: share of flows that isolation forest, Mahalanobis and LOF detectors call anomalous on real vs synthetic data (NetML-style IAT/SIZE/STATS features) and the detectors' rank correlation",
		Params: []abi.Param{
			{Name: "modes", Type: abi.ParamStrings, Default: []string{ModeIAT, ModeSize, ModeStats}, Doc: "feature modes: iat, size, stats (flow records: stats only; others are skipped)"},
			{Name: "detectors", Type: abi.ParamStrings, Default: ml.Detectors, Doc: "detectors: iforest, mahalanobis, lof"},
			{Name: "dim", Type: abi.ParamInt, Default: int64(10), Doc: "length of the IAT and SIZE vectors (first packets of a flow, zero-padded)"},
			{Name: "max_flows", Type: abi.ParamInt, Default: int64(5000), Doc: "at most this many flows of each side are used (a seeded uniform sample)"},
			{Name: "test_fraction", Type: abi.ParamFloat, Default: 0.3, Doc: "share of each side's flows the ratio is measured on (the detectors are fitted on the rest)"},
			{Name: "key", Type: abi.ParamStrings, Default: FiveTuple, Doc: "packet records: columns that identify a flow (ignored when the records carry _flow)"},
			{Name: "name", Type: abi.ParamString, Default: "anomaly", Doc: "prefix of the score names"},
		},
	}, New)
}

// Metric gathers per-flow summaries on each side.
type Metric struct {
	name      string
	modes     []string
	detectors []string
	dim       int
	maxFlows  int
	testFrac  float64
	key       []string
	seed      uint64
	real, syn side
	nReal     int
	nSyn      int
	packets   int // -1 unknown, 0 flow records, 1 packets
	keyBuf    []byte
}

// side holds one table's flows: for packets, running summaries per flow;
// for flow records, their STATS rows directly (a reservoir sample).
type side struct {
	index map[string]int32
	flows []flowSum
	stats *ml.Reservoir
	row   []float64
}

type flowSum struct {
	n                int64
	bytes, sq        float64
	first, last      int64
	minSize, maxSize float64
	ts               []int64 // up to keepPackets
	size             []float64
}

// New opens an anomaly metric.
func New(env sdk.Env) (sdk.Metric, error) {
	p := env.Params
	m := &Metric{name: p.String("name"), modes: p.Strings("modes"), detectors: p.Strings("detectors"),
		dim: p.Int("dim"), maxFlows: p.Int("max_flows"), testFrac: p.Float("test_fraction"),
		key: p.Strings("key"), seed: uint64(env.Seed), packets: -1}
	switch {
	case m.name == "":
		return nil, fmt.Errorf("anomaly: parameter \"name\" is empty")
	case len(m.modes) == 0 || len(m.detectors) == 0:
		return nil, fmt.Errorf("anomaly %s: modes and detectors must each name at least one", m.name)
	case m.dim < 1 || m.dim > keepPackets-1:
		return nil, fmt.Errorf("anomaly %s: dim %d is outside 1..%d", m.name, m.dim, keepPackets-1)
	case m.maxFlows < 20:
		return nil, fmt.Errorf("anomaly %s: max_flows %d is below 20", m.name, m.maxFlows)
	case !(m.testFrac > 0 && m.testFrac < 1):
		return nil, fmt.Errorf("anomaly %s: test_fraction %v is not between 0 and 1", m.name, m.testFrac)
	}
	for _, mode := range m.modes {
		if mode != ModeIAT && mode != ModeSize && mode != ModeStats {
			return nil, fmt.Errorf("anomaly %s: unknown mode %q (known: iat, size, stats)", m.name, mode)
		}
	}
	for _, d := range m.detectors {
		if _, err := ml.NewDetector(d, 0); err != nil {
			return nil, fmt.Errorf("anomaly %s: %w", m.name, err)
		}
	}
	m.real.index, m.syn.index = map[string]int32{}, map[string]int32{}
	return m, nil
}

func (m *Metric) AddReal(b *abi.Batch) error {
	m.nReal++
	return m.add(&m.real, b, fmt.Sprintf("anomaly %s: real batch %d", m.name, m.nReal), 1)
}

func (m *Metric) AddSynthetic(b *abi.Batch) error {
	m.nSyn++
	return m.add(&m.syn, b, fmt.Sprintf("anomaly %s: synthetic batch %d", m.name, m.nSyn), 1)
}

func (m *Metric) add(s *side, b *abi.Batch, where string, salt uint64) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	isPkt := 0
	if b.Column("pkt_len") != nil {
		isPkt = 1
	}
	if m.packets == -1 {
		m.packets = isPkt
	} else if m.packets != isPkt {
		return fmt.Errorf("%s: packet and flow records mixed (pkt_len present in some batches only)", where)
	}
	if isPkt == 0 {
		return m.addFlows(s, b, where, salt)
	}
	ts, size := b.Column("ts"), b.Column("pkt_len")
	if ts == nil || ts.Type != abi.TypeTime {
		return fmt.Errorf("%s: packet records need a ts column of type time", where)
	}
	if size.Type != abi.TypeU16 {
		return fmt.Errorf("%s: column pkt_len is %s, want u16", where, size.Type)
	}
	var cols []*abi.Column
	if f := b.Column(abi.FlowColumn); f != nil {
		cols = []*abi.Column{f}
	} else {
		for _, k := range m.key {
			c := b.Column(k)
			if c == nil {
				return fmt.Errorf("%s has no key column %q", where, k)
			}
			cols = append(cols, c)
		}
	}
	for r := 0; r < n; r++ {
		m.keyBuf = abi.AppendKey(m.keyBuf[:0], cols, r)
		id, ok := s.index[string(m.keyBuf)]
		if !ok {
			id = int32(len(s.flows))
			s.index[string(m.keyBuf)] = id
			s.flows = append(s.flows, flowSum{first: math.MaxInt64, last: math.MinInt64, minSize: math.Inf(1), maxSize: math.Inf(-1)})
		}
		f := &s.flows[id]
		t, sz := ts.I64[r], float64(size.U16[r])
		f.n++
		f.bytes += sz
		f.sq += sz * sz
		f.first, f.last = min(f.first, t), max(f.last, t)
		f.minSize, f.maxSize = min(f.minSize, sz), max(f.maxSize, sz)
		if len(f.ts) < keepPackets {
			f.ts = append(f.ts, t)
			f.size = append(f.size, sz)
		}
	}
	return nil
}

// statsFlowNames are the STATS features of a flow record.
var statsFlowNames = []string{"log_td", "log_pkt", "log_byt", "log_bytes_per_pkt", "log_pkt_rate", "log_byte_rate"}

func (m *Metric) addFlows(s *side, b *abi.Batch, where string, salt uint64) error {
	td, pkt, byt := b.Column("td"), b.Column("pkt"), b.Column("byt")
	if td == nil || pkt == nil || byt == nil {
		return fmt.Errorf("%s: flow records need td, pkt and byt columns (packet records need pkt_len)", where)
	}
	for _, c := range []*abi.Column{td, pkt, byt} {
		if c.Type == abi.TypeString {
			return fmt.Errorf("%s: column %q is a string column", where, c.Name)
		}
	}
	if s.stats == nil {
		s.stats = ml.NewReservoir(m.maxFlows, len(statsFlowNames), m.seed+salt)
	}
	for r := 0; r < b.Len(); r++ {
		d, p, by := td.Float(r), pkt.Float(r), byt.Float(r)
		if !(d >= 0 && p >= 0 && by >= 0) || math.IsInf(d+p+by, 0) {
			return fmt.Errorf("%s row %d: td %v, pkt %v, byt %v; want finite non-negative values", where, r, d, p, by)
		}
		s.row = append(s.row[:0], math.Log1p(d), math.Log1p(p), math.Log1p(by),
			math.Log1p(by/max(p, 1)), math.Log1p(p/max(d, 1e-3)), math.Log1p(by/max(d, 1e-3)))
		s.stats.Add(s.row, 0)
	}
	return nil
}

// features returns the side's feature rows (row-major) for mode, or nil
// when the mode does not apply to the records.
func (m *Metric) features(s *side, mode string, salt uint64) []float64 {
	if m.packets == 0 {
		if mode != ModeStats {
			return nil
		}
		return s.stats.X
	}
	// Sample flows, then sort each kept flow's packets by time.
	order := ml.Perm(len(s.flows), ml.NewRand(m.seed+salt))
	if len(order) > m.maxFlows {
		order = order[:m.maxFlows]
		slices.Sort(order)
	}
	var out []float64
	for _, id := range order {
		f := &s.flows[id]
		idx := make([]int, len(f.ts))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmpInt(f.ts[a], f.ts[b]) })
		switch mode {
		case ModeIAT:
			for j := 1; j <= m.dim; j++ {
				v := 0.0
				if j < len(idx) {
					v = math.Log1p(float64(f.ts[idx[j]] - f.ts[idx[j-1]]))
				}
				out = append(out, v)
			}
		case ModeSize:
			for j := 0; j < m.dim; j++ {
				v := 0.0
				if j < len(idx) {
					v = f.size[idx[j]]
				}
				out = append(out, v)
			}
		case ModeStats:
			dur := float64(f.last-f.first) / 1e6
			mean := f.bytes / float64(f.n)
			sd := math.Sqrt(max(f.sq/float64(f.n)-mean*mean, 0))
			var iatSum, iatSq float64
			for j := 1; j < len(idx); j++ {
				v := math.Log1p(float64(f.ts[idx[j]] - f.ts[idx[j-1]]))
				iatSum += v
				iatSq += v * v
			}
			iatMean, iatSD := 0.0, 0.0
			if k := float64(len(idx) - 1); k > 0 {
				iatMean = iatSum / k
				iatSD = math.Sqrt(max(iatSq/k-iatMean*iatMean, 0))
			}
			out = append(out, math.Log1p(dur), math.Log1p(float64(f.n)), math.Log1p(f.bytes),
				math.Log1p(float64(f.n)/max(dur, 1e-3)), math.Log1p(f.bytes/max(dur, 1e-3)),
				mean, sd, f.minSize, f.maxSize, iatMean, iatSD)
		}
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ratio fits det on a seeded (1 − test_fraction) share of x's rows and
// returns the share of the remaining rows it calls anomalous.
func (m *Metric) ratio(detName string, x []float64, d int, seed uint64) (float64, int, error) {
	n := len(x) / d
	perm := ml.Perm(n, ml.NewRand(seed))
	nTest := int(math.Round(m.testFrac * float64(n)))
	if nTest < 1 || n-nTest < 2 {
		return 0, 0, fmt.Errorf("%d flows are too few to fit on and test", n)
	}
	test, fit := make([]float64, 0, nTest*d), make([]float64, 0, (n-nTest)*d)
	for j, r := range perm {
		row := x[int(r)*d : int(r)*d+d]
		if j < nTest {
			test = append(test, row...)
		} else {
			fit = append(fit, row...)
		}
	}
	sc := ml.FitScaler(fit, d)
	fit, test = sc.Apply(fit), sc.Apply(test)
	det, err := ml.NewDetector(detName, seed)
	if err != nil {
		return 0, 0, err
	}
	if err := det.Fit(fit, d); err != nil {
		return 0, 0, err
	}
	thr, hit := det.Threshold(), 0
	for i := 0; i < nTest; i++ {
		if det.Score(test[i*d:(i+1)*d]) > thr {
			hit++
		}
	}
	return float64(hit) / float64(nTest), nTest, nil
}

// Score fits every detector on each side for every applicable mode.
func (m *Metric) Score() (abi.Scores, error) {
	nr, ns := m.real.count(), m.syn.count()
	if nr < MinFlows || ns < MinFlows {
		return abi.Scores{}, fmt.Errorf("anomaly %s: %d real and %d synthetic flows; each side needs at least %d", m.name, nr, ns, MinFlows)
	}
	p := m.name + "."
	v := map[string]float64{p + "flows_real": float64(nr), p + "flows_syn": float64(ns)}
	var rReal, rSyn []float64
	var labels []string
	var relSum float64
	for _, mode := range m.modes {
		// Both sides use the same seeds, so identical tables score identically.
		xr, xs := m.features(&m.real, mode, 11), m.features(&m.syn, mode, 11)
		if xr == nil {
			continue
		}
		d := m.dim
		switch {
		case mode == ModeStats && m.packets == 1:
			d = 11
		case mode == ModeStats:
			d = len(statsFlowNames)
		}
		for i, det := range m.detectors {
			a, _, err := m.ratio(det, xr, d, m.seed+uint64(100+i))
			if err != nil {
				return abi.Scores{}, fmt.Errorf("anomaly %s: %s on real %s features: %w", m.name, det, mode, err)
			}
			b, _, err := m.ratio(det, xs, d, m.seed+uint64(100+i))
			if err != nil {
				return abi.Scores{}, fmt.Errorf("anomaly %s: %s on synthetic %s features: %w", m.name, det, mode, err)
			}
			k := p + mode + "." + det + "."
			rel := math.Abs(b-a) / max(a, RatioFloor)
			v[k+"ratio_real"], v[k+"ratio_syn"], v[k+"relerr"] = a, b, rel
			rReal, rSyn = append(rReal, a), append(rSyn, b)
			labels = append(labels, mode+"."+det)
			relSum += rel
		}
	}
	if len(rReal) == 0 {
		return abi.Scores{}, fmt.Errorf("anomaly %s: none of the modes %v applies to flow records (use stats)", m.name, m.modes)
	}
	rho, ok := ml.Spearman(rReal, rSyn)
	mean := relSum / float64(len(rReal))
	v[p+"spearman"], v[p+"spearman_defined"], v[p+"mean_relerr"] = rho, b2f(ok), mean
	v[p+"flag"] = b2f(mean > RelErrWarn || (ok && rho < RhoWarn))
	x := make([]float64, len(labels))
	for i := range x {
		x[i] = float64(i)
	}
	return abi.Scores{Values: v, Series: []abi.Series{{Name: p + "ratio", Kind: "histogram", X: x, Real: rReal, Synthetic: rSyn, Labels: labels}}}, nil
}

// Thresholds (docs/downstream.md).
const (
	// MinFlows is the fewest flows per side the detectors are fitted on.
	MinFlows = 20
	// RatioFloor keeps the relative error finite when a detector finds no
	// anomaly in real data.
	RatioFloor = 0.01
	// Warn when anomaly ratios differ by more than half on average, or
	// when the detectors' order disagrees (ρ below RhoWarn).
	RelErrWarn = 0.5
	RhoWarn    = 0.5
)

func (s *side) count() int {
	if s.stats != nil {
		return s.stats.Len()
	}
	return len(s.flows)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
