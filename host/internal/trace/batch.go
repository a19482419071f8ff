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
