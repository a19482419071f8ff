package trace

import (
	"fmt"

	"github.com/netshare/netshare/abi"
)

// Appender collects record batches into one columnar batch. The first
// non-empty batch fixes the columns; later ones must have the same names
// and types. String columns get one merged dictionary: codes of each
// incoming batch are remapped through it.
type Appender struct {
	b     abi.Batch
	dicts []map[string]uint32 // per column; nil for non-string columns
	remap []uint32
}

// Append adds b's rows. b may be nil or have no columns when empty.
func (a *Appender) Append(b *abi.Batch) error {
	if b == nil || len(b.Columns) == 0 {
		return nil
	}
	if len(a.b.Columns) == 0 {
		a.b.Columns = make([]abi.Column, len(b.Columns))
		a.dicts = make([]map[string]uint32, len(b.Columns))
		for i, c := range b.Columns {
			a.b.Columns[i] = abi.Column{Name: c.Name, Type: c.Type}
			if c.Type == abi.TypeString {
				a.dicts[i] = map[string]uint32{}
			}
		}
	}
	if len(b.Columns) != len(a.b.Columns) {
		return fmt.Errorf("records have columns %s, earlier records had %s", columnList(b), columnList(&a.b))
	}
	for i := range b.Columns {
		src, dst := &b.Columns[i], &a.b.Columns[i]
		if src.Name != dst.Name || src.Type != dst.Type {
			return fmt.Errorf("records have columns %s, earlier records had %s", columnList(b), columnList(&a.b))
		}
	}
	for i := range b.Columns {
		src, dst := &b.Columns[i], &a.b.Columns[i]
		switch src.Type {
		case abi.TypeU8:
			dst.U8 = append(dst.U8, src.U8...)
		case abi.TypeU16:
			dst.U16 = append(dst.U16, src.U16...)
		case abi.TypeU32, abi.TypeIPv4:
			dst.U32 = append(dst.U32, src.U32...)
		case abi.TypeI64, abi.TypeTime:
			dst.I64 = append(dst.I64, src.I64...)
		case abi.TypeF64:
			dst.F64 = append(dst.F64, src.F64...)
		case abi.TypeString:
			a.remap = a.remap[:0]
			d := a.dicts[i]
			for _, s := range src.Dict {
				code, ok := d[s]
				if !ok {
					code = uint32(len(dst.Dict))
					dst.Dict = append(dst.Dict, s)
					d[s] = code
				}
				a.remap = append(a.remap, code)
			}
			for _, c := range src.Codes {
				if int(c) >= len(a.remap) {
					return fmt.Errorf("column %q: code %d outside its dictionary of %d", src.Name, c, len(a.remap))
				}
				dst.Codes = append(dst.Codes, a.remap[c])
			}
		}
	}
	return nil
}

// Batch returns the collected records (owned by the Appender until it is
// discarded).
func (a *Appender) Batch() *abi.Batch { return &a.b }

func columnList(b *abi.Batch) string {
	s := "["
	for i, c := range b.Columns {
		if i > 0 {
			s += " "
		}
		s += c.Name + ":" + c.Type.String()
	}
	return s + "]"
}

// Slice returns rows [lo, hi) of b as a new batch sharing b's storage
// (string columns share the dictionary).
func Slice(b *abi.Batch, lo, hi int) *abi.Batch {
	out := &abi.Batch{Columns: make([]abi.Column, len(b.Columns))}
	for i, c := range b.Columns {
		o := abi.Column{Name: c.Name, Type: c.Type}
		switch c.Type {
		case abi.TypeU8:
			o.U8 = c.U8[lo:hi:hi]
		case abi.TypeU16:
			o.U16 = c.U16[lo:hi:hi]
		case abi.TypeU32, abi.TypeIPv4:
			o.U32 = c.U32[lo:hi:hi]
		case abi.TypeI64, abi.TypeTime:
			o.I64 = c.I64[lo:hi:hi]
		case abi.TypeF64:
			o.F64 = c.F64[lo:hi:hi]
		case abi.TypeString:
			o.Dict, o.Codes = c.Dict, c.Codes[lo:hi:hi]
		}
		out.Columns[i] = o
	}
	return out
}

// Permute returns b's rows in the order given (order[i] is the source row
// of row i). It consumes b: each source column is released once copied, so
// the extra memory is one column at a time.
func Permute(b *abi.Batch, order []int32) *abi.Batch {
	out := &abi.Batch{Columns: make([]abi.Column, len(b.Columns))}
	for i := range b.Columns {
		c := &b.Columns[i]
		o := abi.Column{Name: c.Name, Type: c.Type}
		switch c.Type {
		case abi.TypeU8:
			o.U8 = gather(c.U8, order)
		case abi.TypeU16:
			o.U16 = gather(c.U16, order)
		case abi.TypeU32, abi.TypeIPv4:
			o.U32 = gather(c.U32, order)
		case abi.TypeI64, abi.TypeTime:
			o.I64 = gather(c.I64, order)
		case abi.TypeF64:
			o.F64 = gather(c.F64, order)
		case abi.TypeString:
			o.Dict, o.Codes = c.Dict, gather(c.Codes, order)
		}
		out.Columns[i] = o
		*c = abi.Column{Name: c.Name, Type: c.Type} // release the source column
	}
	return out
}

func gather[T any](src []T, order []int32) []T {
	out := make([]T, len(order))
	for i, r := range order {
		out[i] = src[r]
	}
	return out
}
