// Package classify is the traffic-classification downstream task: train
// classifiers on synthetic records and test them on real ones, against the
// same classifiers trained and tested on real records, to see whether the
// synthetic trace supports the task people run on the real one and whether
// it ranks the classifiers the same way (NetShare §6, after DoppelGANger).
// Names of the scores and the verdict rule are in docs/downstream.md.
package classify

import (
	"fmt"
	"math"
	"strconv"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/ml"
	"github.com/netshare/netshare/sdk"
)

// DefaultFeatures are tried in order; those the records lack are skipped,
// so one default serves flow records and packets.
var DefaultFeatures = []string{"srcip", "dstip", "srcport", "dstport", "proto", "td", "pkt", "byt", "pkt_len", "tos", "ttl", "flag", "tcp_flags"}

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "classify",
		Version: "1.0.0",
		Summary: "traffic classification: accuracy of five classifiers trained on synthetic vs on real records, tested on real records, and the rank correlation of their order",
		Params: []abi.Param{
			{Name: "label", Type: abi.ParamString, Default: "", Doc: `the column to predict; "" picks "type", else "label"`},
			{Name: "features", Type: abi.ParamStrings, Doc: "feature columns (IPv4 become four octets, strings become codes); unset: those of " + fmt.Sprint(DefaultFeatures) + " the records have"},
			{Name: "log", Type: abi.ParamStrings, Default: []string{"td", "pkt", "byt"}, Doc: "feature columns passed through sign(x)·ln(1+|x|)"},
			{Name: "learners", Type: abi.ParamStrings, Default: ml.Learners, Doc: "classifiers to run: tree, forest, logreg, boost, mlp"},
			{Name: "max_rows", Type: abi.ParamInt, Default: int64(20000), Doc: "at most this many rows of each side are kept (a seeded uniform sample), which bounds the work"},
			{Name: "test_fraction", Type: abi.ParamFloat, Default: 0.3, Doc: "share of the real rows held out for testing when the records carry no _split column"},
			{Name: "name", Type: abi.ParamString, Default: "classify", Doc: "prefix of the score names"},
		},
	}, New)
}

// Metric collects a sample of each side's feature rows and labels.
type Metric struct {
	name, label   string
	features      []string
	explicit      bool
	logCols       []string
	learners      []string
	maxRows       int
	testFrac      float64
	seed          uint64
	feat          *ml.Features
	classes       map[string]int32
	classNames    []string
	real, syn     *ml.Reservoir
	nReal, nSyn   int
	hasSplit      bool
	row           []float64
	labelResolved bool
}

// New opens a classify metric.
func New(env sdk.Env) (sdk.Metric, error) {
	p := env.Params
	m := &Metric{
		name: p.String("name"), label: p.String("label"), features: p.Strings("features"),
		logCols: p.Strings("log"), learners: p.Strings("learners"), maxRows: p.Int("max_rows"),
		testFrac: p.Float("test_fraction"), seed: uint64(env.Seed), classes: map[string]int32{},
	}
	m.explicit = p.Has("features")
	if !m.explicit {
		m.features = DefaultFeatures
	}
	if m.name == "" {
		return nil, fmt.Errorf("classify: parameter \"name\" is empty")
	}
	if m.maxRows < 10 {
		return nil, fmt.Errorf("classify %s: max_rows %d is below 10", m.name, m.maxRows)
	}
	if !(m.testFrac > 0 && m.testFrac < 1) {
		return nil, fmt.Errorf("classify %s: test_fraction %v is not between 0 and 1", m.name, m.testFrac)
	}
	if len(m.learners) == 0 {
		return nil, fmt.Errorf("classify %s: parameter \"learners\" names none", m.name)
	}
	for _, l := range m.learners {
		if _, err := ml.NewClassifier(l, 0); err != nil {
			return nil, fmt.Errorf("classify %s: %w", m.name, err)
		}
	}
	return m, nil
}

func (m *Metric) AddReal(b *abi.Batch) error {
	m.nReal++
	return m.add(b, true, fmt.Sprintf("classify %s: real batch %d", m.name, m.nReal))
}

func (m *Metric) AddSynthetic(b *abi.Batch) error {
	m.nSyn++
	return m.add(b, false, fmt.Sprintf("classify %s: synthetic batch %d", m.name, m.nSyn))
}

func (m *Metric) add(b *abi.Batch, real bool, where string) error {
	if b.Len() == 0 {
		return nil
	}
	if !m.labelResolved {
		if m.label == "" {
			for _, c := range []string{"type", "label"} {
				if b.Column(c) != nil {
					m.label = c
					break
				}
			}
			if m.label == "" {
				return fmt.Errorf("%s: no label column: set parameter \"label\" (the records have neither \"type\" nor \"label\")", where)
			}
		}
		m.labelResolved = true
	}
	lab := b.Column(m.label)
	if lab == nil {
		return fmt.Errorf("%s has no label column %q", where, m.label)
	}
	if m.feat == nil {
		f, err := ml.NewFeatures(b, m.features, m.explicit, m.logCols)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		m.feat = f
		m.real = ml.NewReservoir(m.maxRows, f.D(), m.seed+1)
		m.syn = ml.NewReservoir(m.maxRows, f.D(), m.seed+2)
	}
	if err := m.feat.Bind(b, where); err != nil {
		return err
	}
	var split *abi.Column
	if real {
		split = b.Column(abi.SplitColumn)
		if split != nil {
			if split.Type != abi.TypeU8 {
				return fmt.Errorf("%s: column %s is %s, want u8", where, abi.SplitColumn, split.Type)
			}
			m.hasSplit = true
		} else if m.hasSplit {
			return fmt.Errorf("%s has no %s column though earlier real batches had one", where, abi.SplitColumn)
		}
	}
	res := m.syn
	if real {
		res = m.real
	}
	for r := 0; r < b.Len(); r++ {
		var err error
		m.row, err = m.feat.Append(m.row[:0], r, where)
		if err != nil {
			return err
		}
		cls := m.class(labelOf(lab, r))
		tag := cls << 1
		if split != nil {
			if split.U8[r] > 1 {
				return fmt.Errorf("%s row %d: %s is %d, want 0 (training) or 1 (holdout)", where, r, abi.SplitColumn, split.U8[r])
			}
			tag |= int32(split.U8[r])
		}
		res.Add(m.row, tag)
	}
	return nil
}

func labelOf(c *abi.Column, r int) string {
	if c.Type == abi.TypeString {
		return c.Dict[c.Codes[r]]
	}
	return strconv.FormatFloat(c.Float(r), 'g', -1, 64)
}

func (m *Metric) class(s string) int32 {
	id, ok := m.classes[s]
	if !ok {
		id = int32(len(m.classNames))
		m.classes[s] = id
		m.classNames = append(m.classNames, s)
	}
	return id
}

// Score trains every learner twice (on real training rows, on synthetic
// rows) and tests both on the same real test rows.
func (m *Metric) Score() (abi.Scores, error) {
	if m.real == nil || m.real.Len() == 0 || m.syn == nil || m.syn.Len() == 0 {
		return abi.Scores{}, fmt.Errorf("classify %s: needs real and synthetic records (have %d real batches, %d synthetic)", m.name, m.nReal, m.nSyn)
	}
	d, k := m.feat.D(), len(m.classNames)
	trainReal := &ml.Dataset{D: d, K: k}
	test := &ml.Dataset{D: d, K: k}
	if m.hasSplit {
		for i, tag := range m.real.Tag {
			ds := trainReal
			if tag&1 == 1 {
				ds = test
			}
			ds.X = append(ds.X, m.real.X[i*d:(i+1)*d]...)
			ds.Y = append(ds.Y, tag>>1)
		}
	} else {
		perm := ml.Perm(m.real.Len(), ml.NewRand(m.seed+3))
		nTest := int(math.Round(m.testFrac * float64(len(perm))))
		for j, i := range perm {
			ds := trainReal
			if j < nTest {
				ds = test
			}
			ds.X = append(ds.X, m.real.X[int(i)*d:(int(i)+1)*d]...)
			ds.Y = append(ds.Y, m.real.Tag[i]>>1)
		}
	}
	if trainReal.N() == 0 || test.N() == 0 {
		return abi.Scores{}, fmt.Errorf("classify %s: %d real training and %d real test rows; both must be non-empty (%d real rows kept)", m.name, trainReal.N(), test.N(), m.real.Len())
	}
	trainSyn := &ml.Dataset{X: m.syn.X, D: d, K: k, Y: make([]int32, m.syn.Len())}
	for i, tag := range m.syn.Tag {
		trainSyn.Y[i] = tag >> 1
	}
	p := m.name + "."
	v := map[string]float64{
		p + "rows_train_real":        float64(trainReal.N()),
		p + "rows_train_syn":         float64(trainSyn.N()),
		p + "rows_test":              float64(test.N()),
		p + "classes":                float64(k),
		p + "features":               float64(d),
		p + "majority.accuracy_real": majorityAccuracy(trainReal, test),
		p + "majority.accuracy_syn":  majorityAccuracy(trainSyn, test),
	}
	accReal := make([]float64, len(m.learners))
	accSyn := make([]float64, len(m.learners))
	for i, name := range m.learners {
		for j, train := range []*ml.Dataset{trainReal, trainSyn} {
			c, err := ml.NewClassifier(name, m.seed+10+uint64(i))
			if err != nil {
				return abi.Scores{}, fmt.Errorf("classify %s: %w", m.name, err)
			}
			if err := c.Fit(train); err != nil {
				return abi.Scores{}, fmt.Errorf("classify %s: %s on %s rows: %w", m.name, name, []string{"real", "synthetic"}[j], err)
			}
			acc := ml.Accuracy(c, test)
			if j == 0 {
				accReal[i] = acc
				v[p+name+".accuracy_real"] = acc
			} else {
				accSyn[i] = acc
				v[p+name+".accuracy_syn"] = acc
			}
		}
	}
	var gap float64
	for i := range accReal {
		gap += accReal[i] - accSyn[i]
	}
	gap /= float64(len(accReal))
	rho, ok := ml.Spearman(accReal, accSyn)
	v[p+"mean_gap"] = gap
	v[p+"spearman"] = rho
	v[p+"spearman_defined"] = b2f(ok)
	v[p+"flag"] = b2f(gap > GapWarn || (ok && rho < RhoWarn))
	return abi.Scores{Values: v, Series: []abi.Series{{
		Name: p + "accuracy", Kind: "histogram", X: seq(len(m.learners)),
		Real: accReal, Synthetic: accSyn, Labels: m.learners,
	}}}, nil
}

// Verdict thresholds (docs/downstream.md): warn when classifiers trained on
// synthetic records lose more than GapWarn accuracy on average, or when
// their order disagrees with real data (ρ below RhoWarn).
const (
	GapWarn = 0.05
	RhoWarn = 0.5
)

// majorityAccuracy is the accuracy of always predicting train's most
// common class: the floor every learner should beat.
func majorityAccuracy(train, test *ml.Dataset) float64 {
	counts := make([]int, train.K)
	for _, y := range train.Y {
		counts[y]++
	}
	best := 0
	for c, n := range counts {
		if n > counts[best] {
			best = c
		}
	}
	hit := 0
	for _, y := range test.Y {
		if int(y) == best {
			hit++
		}
	}
	return float64(hit) / float64(test.N())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func seq(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i)
	}
	return x
}
