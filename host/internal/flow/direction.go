package flow

import (
	"fmt"
	"slices"

	"github.com/netshare/netshare/abi"
)

// Direction says whether a flow is one direction of a conversation
// (NetShare's directed 5-tuple) or both.
type Direction int

const (
	// Directed flows: the two directions of a connection are two flows.
	Directed Direction = iota
	// Bidirectional flows: a flow is a conversation, keyed by its
	// unordered endpoint pair, and each record carries its direction (the
	// DirColumn feature), so both directions are generated in one
	// sequence.
	Bidirectional
	// Auto lets the records decide (ChooseDirection).
	Auto
)

func (d Direction) String() string {
	switch d {
	case Bidirectional:
		return "bidirectional"
	case Auto:
		return "auto"
	}
	return "directed"
}

// ParseDirection reads the pipeline's flows.direction.
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "directed":
		return Directed, nil
	case "bidirectional":
		return Bidirectional, nil
	case "auto", "":
		return Auto, nil
	}
	return 0, fmt.Errorf("flow direction %q: want auto, bidirectional or directed", s)
}

// DirColumn is the per-record direction of a bidirectional flow: 0 from
// the conversation's initiator (the sender of its first record), 1 back.
const DirColumn = "dir"

// Endpoint columns: a record's sender and receiver.
var (
	srcCols = [2]string{"srcip", "srcport"}
	dstCols = [2]string{"dstip", "dstport"}
)

// MinReverseShare is the share of flows with a reverse flow from which
// Auto pairs directions. Below it most flows are one-way (a backbone link
// sees one direction of most connections, an attack capture the incoming
// side), so pairing would add a nearly constant feature and nothing to
// learn; a capture taken at an end host or a LAN has most flows paired.
const MinReverseShare = 0.2

// ChooseDirection decides Auto for the records: bidirectional for packet
// records (a pkt_len column) when at least MinReverseShare of the
// 5-tuple flows have their reverse flow in the trace; directed for flow
// records (NetFlow records are one direction by nature; Zeek's already
// hold both) and one-way packet traces. It returns the share it measured.
func ChooseDirection(b *abi.Batch) (Direction, float64) {
	if b.Column("pkt_len") == nil {
		return Directed, 0
	}
	share, err := ReverseShare(b)
	if err != nil || share < MinReverseShare {
		return Directed, share
	}
	return Bidirectional, share
}

// endpoints are the columns of a record's two endpoints and the rest of
// the 5-tuple.
type endpoints struct {
	src, dst [2]*abi.Column
	proto    *abi.Column
}

func endpointsOf(b *abi.Batch) (endpoints, error) {
	var e endpoints
	for i := range 2 {
		e.src[i], e.dst[i] = b.Column(srcCols[i]), b.Column(dstCols[i])
		if e.src[i] == nil || e.dst[i] == nil {
			return e, fmt.Errorf("bidirectional flows: records have no %s/%s columns", srcCols[i], dstCols[i])
		}
		if e.src[i].Type != e.dst[i].Type || e.src[i].Type == abi.TypeString {
			return e, fmt.Errorf("bidirectional flows: %s is %s and %s is %s: want one numeric type", srcCols[i], e.src[i].Type, dstCols[i], e.dst[i].Type)
		}
	}
	e.proto = b.Column("proto")
	return e, nil
}

// key appends record i's directed key (src, dst, proto) or, reversed,
// (dst, src, proto).
func (e endpoints) key(p []byte, i int, reversed bool) []byte {
	a, z := e.src, e.dst
	if reversed {
		a, z = z, a
	}
	p = abi.AppendKey(p, a[:], i)
	p = abi.AppendKey(p, z[:], i)
	if e.proto != nil {
		p = abi.AppendKey(p, []*abi.Column{e.proto}, i)
	}
	return p
}

// pair appends record i's conversation key, the smaller of its two
// directed keys, so both directions get one key; reversed says the
// record goes the other way.
func (e endpoints) pair(p []byte, i int) (_ []byte, reversed bool) {
	start := len(p)
	p = e.key(p, i, false)
	n := len(p)
	p = e.key(p, i, true)
	fwd, rev := p[start:n], p[n:]
	if string(rev) < string(fwd) {
		copy(p[start:], rev)
		reversed = true
	}
	return p[:n], reversed
}

// PairKeyer gives records their conversation key.
type PairKeyer struct{ e endpoints }

// NewPairKeyer reads b's endpoint columns.
func NewPairKeyer(b *abi.Batch) (*PairKeyer, error) {
	e, err := endpointsOf(b)
	if err != nil {
		return nil, err
	}
	return &PairKeyer{e}, nil
}

// Key appends record i's conversation key: the same for both directions.
func (k *PairKeyer) Key(p []byte, i int) []byte {
	p, _ = k.e.pair(p, i)
	return p
}

// ReverseShare is the share of the 5-tuple flows of b whose reverse flow
// (endpoints swapped) also has records.
func ReverseShare(b *abi.Batch) (float64, error) {
	e, err := endpointsOf(b)
	if err != nil {
		return 0, err
	}
	// Per conversation, which directions have records (bit 0: the
	// smaller key's direction).
	dirs := map[string]uint8{}
	var p []byte
	for i := range b.Len() {
		var rev bool
		p, rev = e.pair(p[:0], i)
		bit := uint8(1)
		if rev {
			bit = 2
		}
		dirs[string(p)] |= bit
	}
	flows, paired := 0, 0
	for _, d := range dirs {
		if d == 3 {
			flows += 2
			paired += 2
		} else {
			flows++
		}
	}
	if flows == 0 {
		return 0, nil
	}
	return float64(paired) / float64(flows), nil
}

// Orient returns b with each conversation's records written from its
// initiator (the sender of its first record in time): records going the
// other way have their endpoints swapped, and a DirColumn says which
// were (0 as sent, 1 swapped). The 5-tuple of the result is the
// conversation key. b is not changed.
func Orient(b *abi.Batch) (*abi.Batch, error) {
	if b.Column(DirColumn) != nil {
		return nil, fmt.Errorf("bidirectional flows: records already have a %q column", DirColumn)
	}
	e, err := endpointsOf(b)
	if err != nil {
		return nil, err
	}
	tc := b.Column("ts")
	if tc == nil || tc.Type == abi.TypeString {
		return nil, fmt.Errorf("bidirectional flows: records have no numeric ts column")
	}
	n := b.Len()
	order := timeOrder(timesOf(tc))
	// The initiator's direction relative to the conversation key.
	initRev := map[string]bool{}
	dir := make([]uint8, n)
	var p []byte
	for i := range n {
		r := i
		if order != nil {
			r = int(order[i])
		}
		var rev bool
		p, rev = e.pair(p[:0], r)
		first, seen := initRev[string(p)]
		if !seen {
			initRev[string(p)], first = rev, rev
		}
		if rev != first {
			dir[r] = 1
		}
	}
	out := &abi.Batch{Columns: make([]abi.Column, 0, len(b.Columns)+1)}
	for _, c := range b.Columns {
		out.Columns = append(out.Columns, c)
	}
	out.Columns = append(out.Columns, abi.Column{Name: DirColumn, Type: abi.TypeU8, U8: dir})
	return out, swapEndpoints(out, func(i int) bool { return dir[i] == 1 })
}

// Unorient undoes Orient on records with a DirColumn (of any numeric
// type: generated values are rounded), and drops the column. Records
// without one are returned as they are.
func Unorient(b *abi.Batch) (*abi.Batch, error) {
	dc := b.Column(DirColumn)
	if dc == nil {
		return b, nil
	}
	if dc.Type == abi.TypeString {
		return nil, fmt.Errorf("bidirectional flows: %q is a string column", DirColumn)
	}
	out := &abi.Batch{Columns: make([]abi.Column, 0, len(b.Columns))}
	for _, c := range b.Columns {
		if c.Name != DirColumn {
			out.Columns = append(out.Columns, c)
		}
	}
	return out, swapEndpoints(out, func(i int) bool { return dc.Float(i) >= 0.5 })
}

// swapEndpoints swaps the source and destination columns of b (copying
// them first) on the rows where swap says so.
func swapEndpoints(b *abi.Batch, swap func(int) bool) error {
	for k := range 2 {
		s, d := b.Column(srcCols[k]), b.Column(dstCols[k])
		if s == nil || d == nil || s.Type != d.Type {
			return fmt.Errorf("bidirectional flows: records need %s and %s of one type", srcCols[k], dstCols[k])
		}
		switch s.Type {
		case abi.TypeU8:
			s.U8, d.U8 = swapped(s.U8, d.U8, swap)
		case abi.TypeU16:
			s.U16, d.U16 = swapped(s.U16, d.U16, swap)
		case abi.TypeU32, abi.TypeIPv4:
			s.U32, d.U32 = swapped(s.U32, d.U32, swap)
		case abi.TypeI64, abi.TypeTime:
			s.I64, d.I64 = swapped(s.I64, d.I64, swap)
		case abi.TypeF64:
			s.F64, d.F64 = swapped(s.F64, d.F64, swap)
		default:
			return fmt.Errorf("bidirectional flows: cannot swap %s columns %s and %s", s.Type, srcCols[k], dstCols[k])
		}
	}
	return nil
}

func swapped[T any](a, b []T, swap func(int) bool) ([]T, []T) {
	a, b = slices.Clone(a), slices.Clone(b)
	for i := range a {
		if swap(i) {
			a[i], b[i] = b[i], a[i]
		}
	}
	return a, b
}
