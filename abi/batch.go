package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Type is a column's element type on the wire.
type Type uint8

const (
	TypeU8     Type = 1 // uint8: protocol, TTL, flags
	TypeU16    Type = 2 // uint16: ports, lengths
	TypeU32    Type = 3 // uint32
	TypeIPv4   Type = 4 // IPv4 address as uint32, most significant byte first
	TypeI64    Type = 5 // int64
	TypeTime   Type = 6 // timestamp, int64 microseconds since the Unix epoch
	TypeF64    Type = 7 // float64
	TypeString Type = 8 // dictionary of strings plus one uint32 code per row
)

var typeNames = map[Type]string{
	TypeU8: "u8", TypeU16: "u16", TypeU32: "u32", TypeIPv4: "ipv4",
	TypeI64: "i64", TypeTime: "time", TypeF64: "f64", TypeString: "string",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType is the inverse of Type.String: the type a name such as "u16"
// or "ipv4" stands for (as saved encoder states spell column types).
func ParseType(name string) (Type, bool) {
	for t, n := range typeNames {
		if n == name {
			return t, true
		}
	}
	return 0, false
}

// IsInt reports whether values of t are integers: the unsigned types,
// i64, and also IPv4 addresses and timestamps, which are integers on the
// wire (Column.Int reads all of them).
func (t Type) IsInt() bool {
	switch t {
	case TypeU8, TypeU16, TypeU32, TypeIPv4, TypeI64, TypeTime:
		return true
	}
	return false
}

// width is the bytes per row of a fixed-width type, or 0.
func (t Type) width() int {
	switch t {
	case TypeU8:
		return 1
	case TypeU16:
		return 2
	case TypeU32, TypeIPv4, TypeString:
		return 4
	case TypeI64, TypeTime, TypeF64:
		return 8
	}
	return 0
}

// Column is one typed column. Exactly the slice matching Type is used:
// U8, U16, U32 (also IPv4), I64 (also Time), F64, or Dict+Codes (String).
type Column struct {
	Name string
	Type Type

	U8    []uint8
	U16   []uint16
	U32   []uint32
	I64   []int64
	F64   []float64
	Dict  []string
	Codes []uint32
}

// Len is the number of rows in the column.
func (c *Column) Len() int {
	switch c.Type {
	case TypeU8:
		return len(c.U8)
	case TypeU16:
		return len(c.U16)
	case TypeU32, TypeIPv4:
		return len(c.U32)
	case TypeI64, TypeTime:
		return len(c.I64)
	case TypeF64:
		return len(c.F64)
	case TypeString:
		return len(c.Codes)
	}
	return 0
}

// Float returns row i as a float64, whatever the numeric type; strings give
// their code.
func (c *Column) Float(i int) float64 {
	switch c.Type {
	case TypeU8:
		return float64(c.U8[i])
	case TypeU16:
		return float64(c.U16[i])
	case TypeU32, TypeIPv4:
		return float64(c.U32[i])
	case TypeI64, TypeTime:
		return float64(c.I64[i])
	case TypeF64:
		return c.F64[i]
	case TypeString:
		return float64(c.Codes[i])
	}
	return math.NaN()
}

// Int returns row i of an integer column (Type.IsInt) as an int64.
func (c *Column) Int(i int) int64 {
	switch c.Type {
	case TypeU8:
		return int64(c.U8[i])
	case TypeU16:
		return int64(c.U16[i])
	case TypeU32, TypeIPv4:
		return int64(c.U32[i])
	}
	return c.I64[i]
}

// AppendInt appends v to an integer column (Type.IsInt), the writer
// matching Int; a value outside an unsigned column's range is an error,
// not a silent wrap.
func (c *Column) AppendInt(v int64) error {
	var lim int64
	switch c.Type {
	case TypeU8:
		lim = math.MaxUint8
	case TypeU16:
		lim = math.MaxUint16
	case TypeU32, TypeIPv4:
		lim = math.MaxUint32
	default:
		c.I64 = append(c.I64, v)
		return nil
	}
	if v < 0 || v > lim {
		return fmt.Errorf("value %d does not fit a %s column", v, c.Type)
	}
	switch c.Type {
	case TypeU8:
		c.U8 = append(c.U8, uint8(v))
	case TypeU16:
		c.U16 = append(c.U16, uint16(v))
	default:
		c.U32 = append(c.U32, uint32(v))
	}
	return nil
}

// String returns row i of a string column.
func (c *Column) String(i int) string { return c.Dict[c.Codes[i]] }

// Truncate keeps the first n rows.
func (c *Column) Truncate(n int) {
	switch c.Type {
	case TypeU8:
		c.U8 = c.U8[:n]
	case TypeU16:
		c.U16 = c.U16[:n]
	case TypeU32, TypeIPv4:
		c.U32 = c.U32[:n]
	case TypeI64, TypeTime:
		c.I64 = c.I64[:n]
	case TypeF64:
		c.F64 = c.F64[:n]
	case TypeString:
		c.Codes = c.Codes[:n]
	}
}

// Batch is a set of equally long named columns: the unit of data exchange.
type Batch struct {
	Columns []Column
}

// Len is the number of rows (that of the first column).
func (b *Batch) Len() int {
	if b == nil || len(b.Columns) == 0 {
		return 0
	}
	return b.Columns[0].Len()
}

// Column returns the named column or nil.
func (b *Batch) Column(name string) *Column {
	for i := range b.Columns {
		if b.Columns[i].Name == name {
			return &b.Columns[i]
		}
	}
	return nil
}

// Reset empties every column, keeping capacity and dictionaries' storage.
func (b *Batch) Reset() {
	for i := range b.Columns {
		c := &b.Columns[i]
		c.Truncate(0)
		if c.Type == TypeString {
			c.Dict = c.Dict[:0]
		}
	}
}

// Check verifies that all columns have the same length, names are unique
// and string codes index their dictionary.
func (b *Batch) Check() error {
	n := b.Len()
	for i := range b.Columns {
		c := &b.Columns[i]
		if c.Type.width() == 0 {
			return fmt.Errorf("column %q: unknown type %d", c.Name, c.Type)
		}
		// A batch has a few columns: comparing names beats a map, and
		// this runs on every call into a plugin.
		for j := range i {
			if b.Columns[j].Name == c.Name {
				return fmt.Errorf("column %q appears twice", c.Name)
			}
		}
		if c.Len() != n {
			return fmt.Errorf("column %q has %d rows, column %q has %d", c.Name, c.Len(), b.Columns[0].Name, n)
		}
		if c.Type == TypeString {
			for r, code := range c.Codes {
				if int(code) >= len(c.Dict) {
					return fmt.Errorf("column %q row %d: code %d outside dictionary of %d", c.Name, r, code, len(c.Dict))
				}
			}
		}
	}
	return nil
}

// ErrMalformed wraps every decoding failure of wire data.
var ErrMalformed = errors.New("malformed data")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Wire layout of a batch (all integers little-endian):
//
//	u32 rows | u32 columns | columns...
//	column: u8 type | u16 name length | name | data
//	data:   rows × width bytes for fixed-width types;
//	        for strings: u32 dictionary size | (u32 length | bytes)... | rows × u32 codes

// AppendBatch appends the wire form of b to dst. b must pass Check.
func AppendBatch(dst []byte, b *Batch) []byte {
	n := b.Len()
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b.Columns)))
	for i := range b.Columns {
		c := &b.Columns[i]
		dst = append(dst, byte(c.Type))
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(c.Name)))
		dst = append(dst, c.Name...)
		switch c.Type {
		case TypeU8:
			dst = append(dst, c.U8...)
		case TypeU16:
			dst = appendU16s(dst, c.U16)
		case TypeU32, TypeIPv4:
			dst = appendU32s(dst, c.U32)
		case TypeI64, TypeTime:
			dst = appendU64s(dst, i64bits(c.I64))
		case TypeF64:
			dst = appendU64s(dst, f64bits(c.F64))
		case TypeString:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(c.Dict)))
			for _, s := range c.Dict {
				dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
				dst = append(dst, s...)
			}
			dst = appendU32s(dst, c.Codes)
		}
	}
	return dst
}

// DecodeBatch parses a batch from src, which must hold exactly one batch.
// The result does not alias src. Every length is checked against the bytes
// present, so hostile input yields an error wrapping ErrMalformed.
func DecodeBatch(src []byte) (*Batch, error) {
	r := reader{buf: src}
	rows, cols := r.u32(), r.u32()
	if r.err != nil {
		return nil, malformed("batch header: %v", r.err)
	}
	// Each column needs at least 3 bytes of header.
	if uint64(cols)*3 > uint64(len(r.buf)) {
		return nil, malformed("batch claims %d columns in %d bytes", cols, len(src))
	}
	b := &Batch{Columns: make([]Column, cols)}
	for i := range b.Columns {
		c := &b.Columns[i]
		c.Type = Type(r.u8())
		c.Name = string(r.bytes(int(r.u16())))
		if r.err != nil {
			return nil, malformed("column %d header: %v", i, r.err)
		}
		w := c.Type.width()
		if w == 0 {
			return nil, malformed("column %q: unknown type %d", c.Name, c.Type)
		}
		switch c.Type {
		case TypeU8:
			c.U8 = append([]uint8(nil), r.bytes(int(rows))...)
		case TypeU16:
			c.U16 = readU16s(r.bytes(int(rows) * 2))
		case TypeU32, TypeIPv4:
			c.U32 = readU32s(r.bytes(int(rows) * 4))
		case TypeI64, TypeTime:
			c.I64 = bitsI64(readU64s(r.bytes(int(rows) * 8)))
		case TypeF64:
			c.F64 = bitsF64(readU64s(r.bytes(int(rows) * 8)))
		case TypeString:
			nd := r.u32()
			if r.err == nil && uint64(nd)*4 > uint64(len(r.buf)-r.off) {
				return nil, malformed("column %q: dictionary of %d entries in %d bytes", c.Name, nd, len(r.buf)-r.off)
			}
			c.Dict = make([]string, nd)
			for j := range c.Dict {
				c.Dict[j] = string(r.bytes(int(r.u32())))
			}
			c.Codes = readU32s(r.bytes(int(rows) * 4))
		}
		if r.err != nil {
			return nil, malformed("column %q (%s, %d rows): %v", c.Name, c.Type, rows, r.err)
		}
	}
	if r.off != len(src) {
		return nil, malformed("%d trailing bytes after batch", len(src)-r.off)
	}
	if err := b.Check(); err != nil {
		return nil, malformed("%v", err)
	}
	return b, nil
}

type reader struct {
	buf []byte
	off int
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf)-r.off {
		r.err = fmt.Errorf("need %d bytes at offset %d, have %d", n, r.off, len(r.buf)-r.off)
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) u8() uint8 {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() uint16 {
	b := r.bytes(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}
