package encoding

import (
	"fmt"

	"github.com/netshare/netshare/abi"
)

// gather returns a column holding c's rows at idx, in that order. String
// columns keep their dictionary (shared, not copied).
func gather(c *abi.Column, idx []int) abi.Column {
	out := abi.Column{Name: c.Name, Type: c.Type}
	switch c.Type {
	case abi.TypeU8:
		out.U8 = make([]uint8, len(idx))
		for i, r := range idx {
			out.U8[i] = c.U8[r]
		}
	case abi.TypeU16:
		out.U16 = make([]uint16, len(idx))
		for i, r := range idx {
			out.U16[i] = c.U16[r]
		}
	case abi.TypeU32, abi.TypeIPv4:
		out.U32 = make([]uint32, len(idx))
		for i, r := range idx {
			out.U32[i] = c.U32[r]
		}
	case abi.TypeI64, abi.TypeTime:
		out.I64 = make([]int64, len(idx))
		for i, r := range idx {
			out.I64[i] = c.I64[r]
		}
	case abi.TypeF64:
		out.F64 = make([]float64, len(idx))
		for i, r := range idx {
			out.F64[i] = c.F64[r]
		}
	case abi.TypeString:
		out.Dict = c.Dict
		out.Codes = make([]uint32, len(idx))
		for i, r := range idx {
			out.Codes[i] = c.Codes[r]
		}
	}
	return out
}

// slice returns rows [lo, hi) of b as views.
func slice(b *abi.Batch, lo, hi int) *abi.Batch {
	out := &abi.Batch{Columns: make([]abi.Column, len(b.Columns))}
	for i := range b.Columns {
		c := &b.Columns[i]
		o := abi.Column{Name: c.Name, Type: c.Type}
		switch c.Type {
		case abi.TypeU8:
			o.U8 = c.U8[lo:hi]
		case abi.TypeU16:
			o.U16 = c.U16[lo:hi]
		case abi.TypeU32, abi.TypeIPv4:
			o.U32 = c.U32[lo:hi]
		case abi.TypeI64, abi.TypeTime:
			o.I64 = c.I64[lo:hi]
		case abi.TypeF64:
			o.F64 = c.F64[lo:hi]
		case abi.TypeString:
			o.Dict, o.Codes = c.Dict, c.Codes[lo:hi]
		}
		out.Columns[i] = o
	}
	return out
}

// without returns b's columns other than name (views).
func without(b *abi.Batch, name string) *abi.Batch {
	out := &abi.Batch{}
	for _, c := range b.Columns {
		if c.Name != name {
			out.Columns = append(out.Columns, c)
		}
	}
	return out
}

// columnOf returns the named column of a plugin's decoded batch, checking
// its length.
func columnOf(b *abi.Batch, name string, rows int) (*abi.Column, error) {
	c := b.Column(name)
	if c == nil {
		return nil, fmt.Errorf("decoded batch has no column %q", name)
	}
	if c.Len() != rows {
		return nil, fmt.Errorf("decoded column %q has %d rows, want %d", name, c.Len(), rows)
	}
	return c, nil
}
