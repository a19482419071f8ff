// Package flowsize is the flow-size metric: group each side's records by a
// key (the 5-tuple by default), total a count per group (records, or the
// sum of a numeric column such as pkt), and compare the two sides'
// distributions of those totals with the earth mover's distance. NetShare's
// FS (packets per 5-tuple, PCAP) and records-per-flow are this metric.
package flowsize

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/dist"
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
		Defaults: map[string]any{"column_params": []string{"key", "count"}},
	}, New)
}

// Metric keeps a running total per flow key on each side.
type Metric struct {
	name, count string
	key         []string
	real, syn   flows
	nReal, nSyn int
	buf         []byte    // scratch key encodings, reused
	weights     []float64 // scratch: the count column of the current batch
}

// flows maps encoded keys to per-flow totals. It is an open-addressing
// hash table over a byte arena rather than a map[string]: a million flows
// then cost a few tens of MB and no allocation per flow, which matters in
// the Wasm module's capped memory.
type flows struct {
	arena  []byte   // every key's bytes, back to back
	ends   []uint32 // ends[i]: end of flow i's key in arena
	hashes []uint64 // hashes[i]: hash of flow i's key
	totals []float64
	slots  []int32 // flow index + 1; 0 is empty
}

// find returns the index of key's flow, adding a flow with total 0 if it is
// new.
func (f *flows) find(key []byte, h uint64) int {
	if 2*(len(f.totals)+1) > len(f.slots) {
		f.grow()
	}
	mask := uint64(len(f.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := f.slots[i]
		if s == 0 {
			id := len(f.totals)
			f.arena = append(f.arena, key...)
			f.ends = append(f.ends, uint32(len(f.arena)))
			f.hashes = append(f.hashes, h)
			f.totals = append(f.totals, 0)
			f.slots[i] = int32(id + 1)
			return id
		}
		id := int(s - 1)
		if f.hashes[id] == h && string(f.key(id)) == string(key) {
			return id
		}
	}
}

func (f *flows) key(id int) []byte {
	start := uint32(0)
	if id > 0 {
		start = f.ends[id-1]
	}
	return f.arena[start:f.ends[id]]
}

// grow doubles the slot table (at least 1024) and re-inserts every flow.
func (f *flows) grow() {
	n := max(1024, 2*len(f.slots))
	f.slots = make([]int32, n)
	mask := uint64(n - 1)
	for id, h := range f.hashes {
		i := h & mask
		for f.slots[i] != 0 {
			i = (i + 1) & mask
		}
		f.slots[i] = int32(id + 1)
	}
}

// hashKey mixes the key eight bytes at a time (few steps per key, which
// counts in Wasm), with a final avalanche so that keys differing only in
// low bytes spread over the table.
func hashKey(b []byte) uint64 {
	h := uint64(len(b)) * 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 0xff51afd7ed558ccd
		h ^= h >> 32
		b = b[8:]
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	h = (h ^ t) * 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
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
	if w := keyWidth(cols); w > 0 {
		// Fixed-width keys (the 5-tuple): lay every row's key out column
		// by column, tight loops rather than a type switch per value.
		m.buf = slices.Grow(m.buf[:0], rows*w)[:rows*w]
		fillKeys(m.buf, cols, w)
		for r := 0; r < rows; r++ {
			key := m.buf[r*w : (r+1)*w]
			m.count1(f, f.find(key, hashKey(key)), r)
		}
		return nil
	}
	buf := m.buf
	for r := 0; r < rows; r++ {
		buf = abi.AppendKey(buf[:0], cols, r)
		m.count1(f, f.find(buf, hashKey(buf)), r)
	}
	m.buf = buf
	return nil
}

// count1 adds row r's weight to flow id.
func (m *Metric) count1(f *flows, id, r int) {
	if m.weights != nil && len(m.weights) > r {
		f.totals[id] += m.weights[r]
	} else {
		f.totals[id]++
	}
}

// keyWidth is the bytes per row of a key of fixed-width columns, or 0 when
// a string column makes the width vary.
func keyWidth(cols []*abi.Column) int {
	w := 0
	for _, c := range cols {
		switch c.Type {
		case abi.TypeU8:
			w++
		case abi.TypeU16:
			w += 2
		case abi.TypeU32, abi.TypeIPv4:
			w += 4
		case abi.TypeI64, abi.TypeTime, abi.TypeF64:
			w += 8
		default:
			return 0
		}
	}
	return w
}

// fillKeys writes each row's key into dst (w bytes a row), in the same
// encoding as appendKey.
func fillKeys(dst []byte, cols []*abi.Column, w int) {
	off := 0
	for _, c := range cols {
		switch c.Type {
		case abi.TypeU8:
			for r, v := range c.U8 {
				dst[r*w+off] = v
			}
			off++
		case abi.TypeU16:
			for r, v := range c.U16 {
				binary.LittleEndian.PutUint16(dst[r*w+off:], v)
			}
			off += 2
		case abi.TypeU32, abi.TypeIPv4:
			for r, v := range c.U32 {
				binary.LittleEndian.PutUint32(dst[r*w+off:], v)
			}
			off += 4
		case abi.TypeI64, abi.TypeTime:
			for r, v := range c.I64 {
				binary.LittleEndian.PutUint64(dst[r*w+off:], uint64(v))
			}
			off += 8
		case abi.TypeF64:
			for r, v := range c.F64 {
				binary.LittleEndian.PutUint64(dst[r*w+off:], math.Float64bits(v))
			}
			off += 8
		}
	}
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
