package word2vec

import (
	"fmt"
	"math"

	"github.com/netshare/netshare/abi"
)

// Decode maps each row to the field's own value with the highest cosine
// similarity (ties: the lower value), or under approx or max_checks to a
// value close to it.
func (e *Encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	if !e.loaded {
		return nil, fmt.Errorf("word2vec %s: decode before load", e.column)
	}
	d, n := e.dim, in.Rows
	if hot := e.hotWidth(); in.ValueWidth != d || in.HotWidth != hot {
		return nil, fmt.Errorf("word2vec %s: decode wants rows of %d values and %d indices, got %d and %d", e.column, d, hot, in.ValueWidth, in.HotWidth)
	}
	if len(in.Values) != n*d {
		return nil, fmt.Errorf("word2vec %s: %d rows of %d hold %d values", e.column, n, d, len(in.Values))
	}
	e.offs = abi.Grow(e.offs, n)
	pos := e.offs
	if d == 10 {
		e.memo.lookupAll10(in.Values, pos)
	} else {
		for i := range pos {
			pos[i] = e.memo.lookup(in.Values[i*d : i*d+d])
		}
	}
	cats := len(e.popular)
	for i, p := range pos {
		if p >= 0 {
			continue
		}
		if cats > 0 && int(in.Hot[i]) < cats {
			continue // a popular category: its value, no search
		}
		q, err := e.query(in.Values[i*d:i*d+d], i)
		if err != nil {
			return nil, err
		}
		p, _ := e.tree.nearest(q, e.maxChecks, e.grow)
		pos[i] = int32(p)
	}
	// Each row's value: its popular category's, else its searched token's.
	e.vals = abi.Grow(e.vals, n)
	vals, key := e.vals, e.tree.key
	for i, p := range pos {
		if cats > 0 && int(in.Hot[i]) < cats {
			vals[i] = e.popular[in.Hot[i]]
		} else {
			vals[i] = key[p]
		}
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	*col = abi.Column{Name: e.column, Type: e.typ, U8: col.U8[:0], U16: col.U16[:0], U32: col.U32[:0], I64: col.I64[:0]}
	switch e.typ {
	case abi.TypeU8:
		col.U8 = abi.Grow(col.U8, n)
		for i, v := range vals {
			col.U8[i] = uint8(v)
		}
	case abi.TypeU16:
		col.U16 = abi.Grow(col.U16, n)
		for i, v := range vals {
			col.U16[i] = uint16(v)
		}
	case abi.TypeU32, abi.TypeIPv4:
		col.U32 = abi.Grow(col.U32, n)
		for i, v := range vals {
			col.U32[i] = uint32(v)
		}
	default:
		col.I64 = append(col.I64, vals...)
	}
	return &e.out, nil
}

// query is row i normalised, the tree's query for it.
func (e *Encoder) query(row []float64, i int) ([]float64, error) {
	d, q := e.dim, e.q[:e.dim]
	var s float64
	if d == 10 {
		w := (*[10]float64)(row)
		s = w[0]*w[0] + w[1]*w[1] + w[2]*w[2] + w[3]*w[3] + w[4]*w[4] + w[5]*w[5] + w[6]*w[6] + w[7]*w[7] + w[8]*w[8] + w[9]*w[9]
	} else {
		for _, x := range row {
			s += x * x
		}
	}
	// On unit vectors the smallest Euclidean distance is the highest
	// cosine, which the k-d tree finds exactly. A NaN or infinity makes s
	// NaN or infinite; so does a finite row too large to square, which
	// rescale handles.
	switch {
	case !(s <= math.MaxFloat64):
		if err := e.rescale(row, q, i); err != nil {
			return nil, err
		}
	case s == 0:
		copy(q, row)
	default:
		inv := 1 / math.Sqrt(s)
		if d == 10 {
			w, v := (*[10]float64)(row), (*[10]float64)(q)
			v[0], v[1], v[2], v[3], v[4] = w[0]*inv, w[1]*inv, w[2]*inv, w[3]*inv, w[4]*inv
			v[5], v[6], v[7], v[8], v[9] = w[5]*inv, w[6]*inv, w[7]*inv, w[8]*inv, w[9]*inv
		} else {
			for k, x := range row {
				q[k] = x * inv
			}
		}
	}
	return q, nil
}

// rescale is Decode's slow path for a row whose squared norm is not
// finite: an error naming a NaN or infinite value, or else the row scaled
// by its largest magnitude before it is normalised into q.
func (e *Encoder) rescale(row, q []float64, i int) error {
	var big float64
	for _, x := range row {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("word2vec %s: row %d holds %v", e.column, i, x)
		}
		big = max(big, math.Abs(x))
	}
	for k, x := range row {
		q[k] = x / big
	}
	normalize(q)
	return nil
}
