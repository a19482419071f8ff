package abi

import (
	"encoding/binary"
	"math"
)

// Take returns a new batch holding rows[i] of b as its row i, in that
// order (rows may repeat). String columns keep b's dictionary. b is left
// unchanged.
func (b *Batch) Take(rows []int32) *Batch {
	out := &Batch{Columns: make([]Column, len(b.Columns))}
	for i := range b.Columns {
		c := &b.Columns[i]
		o := Column{Name: c.Name, Type: c.Type}
		switch c.Type {
		case TypeU8:
			o.U8 = gather(c.U8, rows)
		case TypeU16:
			o.U16 = gather(c.U16, rows)
		case TypeU32, TypeIPv4:
			o.U32 = gather(c.U32, rows)
		case TypeI64, TypeTime:
			o.I64 = gather(c.I64, rows)
		case TypeF64:
			o.F64 = gather(c.F64, rows)
		case TypeString:
			o.Dict, o.Codes = c.Dict, gather(c.Codes, rows)
		}
		out.Columns[i] = o
	}
	return out
}

// Slice returns rows [lo, hi) of b as a batch that shares b's storage
// (string columns share the dictionary): a view for streaming b in parts.
// The views' capacities end at hi, so appending to one cannot overwrite b.
func (b *Batch) Slice(lo, hi int) *Batch {
	out := &Batch{Columns: make([]Column, len(b.Columns))}
	for i := range b.Columns {
		c := &b.Columns[i]
		o := Column{Name: c.Name, Type: c.Type}
		switch c.Type {
		case TypeU8:
			o.U8 = c.U8[lo:hi:hi]
		case TypeU16:
			o.U16 = c.U16[lo:hi:hi]
		case TypeU32, TypeIPv4:
			o.U32 = c.U32[lo:hi:hi]
		case TypeI64, TypeTime:
			o.I64 = c.I64[lo:hi:hi]
		case TypeF64:
			o.F64 = c.F64[lo:hi:hi]
		case TypeString:
			o.Dict, o.Codes = c.Dict, c.Codes[lo:hi:hi]
		}
		out.Columns[i] = o
	}
	return out
}

func gather[T any](src []T, rows []int32) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = src[r]
	}
	return out
}

// AppendKey appends row r's values of cols as a map key: numbers at fixed
// width, strings length-prefixed, so no two different keys share an
// encoding. Flow keys, exact-copy checks and holdout assignment use it.
func AppendKey(dst []byte, cols []*Column, r int) []byte {
	for _, c := range cols {
		switch c.Type {
		case TypeU8:
			dst = append(dst, c.U8[r])
		case TypeU16:
			dst = binary.LittleEndian.AppendUint16(dst, c.U16[r])
		case TypeU32, TypeIPv4:
			dst = binary.LittleEndian.AppendUint32(dst, c.U32[r])
		case TypeI64, TypeTime:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(c.I64[r]))
		case TypeF64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(c.F64[r]))
		case TypeString:
			s := c.Dict[c.Codes[r]]
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
			dst = append(dst, s...)
		}
	}
	return dst
}

// Grow returns s resized to n, reusing its storage when it is big enough
// (a component's reusable output columns).
func Grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
