package encoding

import (
	"fmt"

	"github.com/netshare/netshare/abi"
)

// take returns a column holding c's rows at idx, in that order (string
// columns share the dictionary).
func take(c *abi.Column, idx []int32) abi.Column {
	return (&abi.Batch{Columns: []abi.Column{*c}}).Take(idx).Columns[0]
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

// appendColumn appends src's rows to dst (same name and type); string
// dictionaries are merged.
func appendColumn(dst, src *abi.Column) error {
	if dst.Type != src.Type {
		return fmt.Errorf("decoded column %q changed type from %s to %s between calls", dst.Name, dst.Type, src.Type)
	}
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
		index := make(map[string]uint32, len(dst.Dict))
		for i, s := range dst.Dict {
			index[s] = uint32(i)
		}
		remap := make([]uint32, len(src.Dict))
		for i, s := range src.Dict {
			code, ok := index[s]
			if !ok {
				code = uint32(len(dst.Dict))
				dst.Dict = append(dst.Dict, s)
				index[s] = code
			}
			remap[i] = code
		}
		for _, c := range src.Codes {
			dst.Codes = append(dst.Codes, remap[c])
		}
	}
	return nil
}
