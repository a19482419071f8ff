// Package audit is the privacy audit of a synthetic trace against the
// real one it was trained on: exact copies of training records (against
// the rate chance and real unseen records give), the distance to the
// closest training record (DCR) of synthetic records against that of real
// holdout records, and a distance-threshold membership-inference attack.
// Every check yields plain numbers and a 0/1 flag whose rule is in
// docs/downstream.md.
package audit

import (
	"fmt"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/ml"
	"github.com/netshare/netshare/sdk"
)

// hostColumns are added by the host and are not part of a record.
var hostColumns = map[string]bool{abi.FlowColumn: true, abi.SplitColumn: true}

// DefaultFeatures are the DCR features, those the records lack skipped.
var DefaultFeatures = []string{"srcip", "dstip", "srcport", "dstport", "proto", "ts", "td", "pkt", "byt", "pkt_len", "tos", "ttl", "flag", "off", "tcp_flags"}

// FiveTuple is the default flow key.
var FiveTuple = []string{"srcip", "dstip", "srcport", "dstport", "proto"}

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "audit",
		Version: "1.0.0",
		Summary: "privacy audit: exact copies of training records vs chance, distance to closest record (synthetic vs holdout) and a distance-threshold membership-inference attack",
		Params: []abi.Param{
			{Name: "key", Type: abi.ParamStrings, Default: FiveTuple, Doc: "the flow key whose copies are counted"},
			{Name: "features", Type: abi.ParamStrings, Doc: "DCR and attack features (IPv4 become four octets); unset: those of " + fmt.Sprint(DefaultFeatures) + " the records have"},
			{Name: "log", Type: abi.ParamStrings, Default: []string{"td", "pkt", "byt"}, Doc: "features passed through sign(x)·ln(1+|x|) before min-max scaling"},
			{Name: "max_train", Type: abi.ParamInt, Default: int64(10000), Doc: "training (and synthetic reference) rows kept for distances, a seeded sample"},
			{Name: "max_query", Type: abi.ParamInt, Default: int64(1000), Doc: "synthetic, holdout and member rows whose nearest distances are computed"},
			{Name: "max_chance", Type: abi.ParamInt, Default: int64(20000), Doc: "synthetic rows the chance rate of copies is averaged over, a seeded sample"},
			{Name: "name", Type: abi.ParamString, Default: "audit", Doc: "prefix of the score names"},
		},
	}, New)
}

// Metric keeps hashes of the training records, per-field value counts,
// and seeded samples of feature rows on each side.
type Metric struct {
	name                        string
	key, features, logCols      []string
	explicit                    bool
	maxTrain, maxQuery, maxChnc int
	seed                        uint64

	recCols []string // record columns, from the first real batch
	keyIdx  []int    // positions of the key columns in recCols
	feat    *ml.Features

	trainTuples, trainRecs       map[uint64]struct{}
	marg                         []map[uint64]int64 // per record column
	nTrain, nHoldout             int
	holdTupleHit, holdRecHit     int
	holdTuples, holdRecs         []uint64 // holdout hashes, checked at Score
	synTuples, synRecs           []uint64
	synFields                    *hashReservoir
	trainRows, holdRows, synRows *ml.Reservoir
	hasSplit                     bool
	nReal, nSyn                  int
	row                          []float64
	fieldH                       []uint64
	cols                         []*abi.Column
}

// New opens an audit metric.
func New(env sdk.Env) (sdk.Metric, error) {
	p := env.Params
	m := &Metric{name: p.String("name"), key: p.Strings("key"), features: p.Strings("features"),
		logCols: p.Strings("log"), maxTrain: p.Int("max_train"), maxQuery: p.Int("max_query"),
		maxChnc: p.Int("max_chance"), seed: uint64(env.Seed),
		trainTuples: map[uint64]struct{}{}, trainRecs: map[uint64]struct{}{}}
	m.explicit = p.Has("features")
	if !m.explicit {
		m.features = DefaultFeatures
	}
	switch {
	case m.name == "":
		return nil, fmt.Errorf("audit: parameter \"name\" is empty")
	case len(m.key) == 0:
		return nil, fmt.Errorf("audit %s: parameter \"key\" names no columns", m.name)
	case m.maxTrain < 10 || m.maxQuery < 10 || m.maxChnc < 10:
		return nil, fmt.Errorf("audit %s: max_train %d, max_query %d and max_chance %d must each be at least 10", m.name, m.maxTrain, m.maxQuery, m.maxChnc)
	}
	return m, nil
}

func (m *Metric) AddReal(b *abi.Batch) error {
	m.nReal++
	where := fmt.Sprintf("audit %s: real batch %d", m.name, m.nReal)
	if b.Len() == 0 {
		return nil
	}
	if m.recCols == nil {
		if err := m.setup(b, where); err != nil {
			return err
		}
	}
	split := b.Column(abi.SplitColumn)
	if split != nil {
		if split.Type != abi.TypeU8 {
			return fmt.Errorf("%s: column %s is %s, want u8", where, abi.SplitColumn, split.Type)
		}
		m.hasSplit = true
	} else if m.hasSplit {
		return fmt.Errorf("%s has no %s column though earlier real batches had one", where, abi.SplitColumn)
	}
	if err := m.bind(b, where); err != nil {
		return err
	}
	for r := 0; r < b.Len(); r++ {
		holdout := false
		if split != nil {
			switch split.U8[r] {
			case 0:
			case 1:
				holdout = true
			default:
				return fmt.Errorf("%s row %d: %s is %d, want 0 (training) or 1 (holdout)", where, r, abi.SplitColumn, split.U8[r])
			}
		}
		tuple, rec := m.hashRow(r)
		var err error
		if m.row, err = m.feat.Append(m.row[:0], r, where); err != nil {
			return err
		}
		if holdout {
			m.nHoldout++
			m.holdTuples = append(m.holdTuples, tuple)
			m.holdRecs = append(m.holdRecs, rec)
			m.holdRows.Add(m.row, 0)
			continue
		}
		m.nTrain++
		m.trainTuples[tuple] = struct{}{}
		m.trainRecs[rec] = struct{}{}
		for i, h := range m.fieldH {
			m.marg[i][h]++
		}
		m.trainRows.Add(m.row, 0)
	}
	return nil
}

func (m *Metric) AddSynthetic(b *abi.Batch) error {
	m.nSyn++
	where := fmt.Sprintf("audit %s: synthetic batch %d", m.name, m.nSyn)
	if b.Len() == 0 {
		return nil
	}
	if m.recCols == nil {
		return fmt.Errorf("%s arrived before any real record", where)
	}
	if err := m.bind(b, where); err != nil {
		return err
	}
	for r := 0; r < b.Len(); r++ {
		tuple, rec := m.hashRow(r)
		m.synTuples = append(m.synTuples, tuple)
		m.synRecs = append(m.synRecs, rec)
		m.synFields.add(m.fieldH)
		var err error
		if m.row, err = m.feat.Append(m.row[:0], r, where); err != nil {
			return err
		}
		m.synRows.Add(m.row, 0)
	}
	return nil
}

// setup fixes the record columns, key and features from the first batch.
func (m *Metric) setup(b *abi.Batch, where string) error {
	for i := range b.Columns {
		if !hostColumns[b.Columns[i].Name] {
			m.recCols = append(m.recCols, b.Columns[i].Name)
		}
	}
	for _, k := range m.key {
		i := slices.Index(m.recCols, k)
		if i < 0 {
			return fmt.Errorf("%s has no key column %q", where, k)
		}
		m.keyIdx = append(m.keyIdx, i)
	}
	f, err := ml.NewFeatures(b, m.features, m.explicit, m.logCols)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	m.feat = f
	m.marg = make([]map[uint64]int64, len(m.recCols))
	for i := range m.marg {
		m.marg[i] = map[uint64]int64{}
	}
	m.fieldH = make([]uint64, len(m.recCols))
	m.cols = make([]*abi.Column, len(m.recCols))
	m.trainRows = ml.NewReservoir(m.maxTrain, f.D(), m.seed+1)
	m.holdRows = ml.NewReservoir(m.maxQuery, f.D(), m.seed+2)
	m.synRows = ml.NewReservoir(m.maxTrain, f.D(), m.seed+3)
	m.synFields = newHashReservoir(m.maxChnc, len(m.recCols), m.seed+4)
	return nil
}

func (m *Metric) bind(b *abi.Batch, where string) error {
	for i, name := range m.recCols {
		c := b.Column(name)
		if c == nil {
			return fmt.Errorf("%s has no column %q, which the real records have", where, name)
		}
		m.cols[i] = c
	}
	return m.feat.Bind(b, where)
}

// hashRow hashes every record column of row r into m.fieldH and returns
// the hashes of the key and of the whole record. Values hash by their
// canonical 64-bit form (strings by content), so a synthetic record equals
// a real one exactly when every field does.
func (m *Metric) hashRow(r int) (tuple, rec uint64) {
	for i, c := range m.cols {
		var v uint64
		switch c.Type {
		case abi.TypeU8:
			v = uint64(c.U8[r])
		case abi.TypeU16:
			v = uint64(c.U16[r])
		case abi.TypeU32, abi.TypeIPv4:
			v = uint64(c.U32[r])
		case abi.TypeI64, abi.TypeTime:
			v = uint64(c.I64[r])
		case abi.TypeF64:
			f := c.F64[r]
			if f == 0 {
				f = 0 // −0 equals +0
			}
			v = math.Float64bits(f)
		case abi.TypeString:
			v = hashString(c.Dict[c.Codes[r]])
		}
		m.fieldH[i] = mix(v ^ mix(uint64(i)+0x9e3779b97f4a7c15))
	}
	tuple, rec = 0x243f6a8885a308d3, 0x13198a2e03707344
	for _, i := range m.keyIdx {
		tuple = mix(tuple ^ m.fieldH[i])
	}
	for _, h := range m.fieldH {
		rec = mix(rec ^ h)
	}
	return tuple, rec
}

func hashString(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 0x100000001b3
	}
	return mix(h ^ uint64(len(s)))
}

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hashReservoir is a seeded uniform sample of rows of w hashes.
type hashReservoir struct {
	cap, w int
	h      []uint64
	seen   int
	rng    interface{ IntN(int) int }
}

func newHashReservoir(capacity, w int, seed uint64) *hashReservoir {
	return &hashReservoir{cap: capacity, w: w, rng: ml.NewRand(seed)}
}

func (s *hashReservoir) add(row []uint64) {
	s.seen++
	if len(s.h) < s.cap*s.w {
		s.h = append(s.h, row...)
		return
	}
	if j := s.rng.IntN(s.seen); j < s.cap {
		copy(s.h[j*s.w:(j+1)*s.w], row)
	}
}
