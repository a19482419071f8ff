package jsd

import (
	"fmt"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/dist"
)

// counter tallies one side's values of the column. Small unsigned types
// count into a dense array indexed by value (no hashing on the hot path);
// u32 and IPv4 values are kept raw and counted by sorting at the end (4
// bytes a record, far less than a map of a million addresses); other
// numbers go into a map keyed by value; strings by text, via a per-batch
// tally of dictionary codes so the map is touched once per distinct value
// per batch rather than once per row. A column whose batches change type
// falls back to the map.
type counter struct {
	typ   abi.Type // of the first non-empty batch; reported in errors
	dense []int64  // u8/u16 values; nil once num is in use
	u32   []uint32 // u32/IPv4 values; nil once num is in use
	num   map[float64]int64
	str   map[string]int64
	codes []int64 // scratch: per-code tallies of the current string batch
	n     int64
}

func (c *counter) isString() bool { return c.typ == abi.TypeString }

func (c *counter) add(col *abi.Column, side dist.Side, n int) error {
	if c.typ == 0 {
		c.typ = col.Type
	}
	if (col.Type == abi.TypeString) != c.isString() {
		return fmt.Errorf("%s batch %d: column %q is %s, earlier batches had %s", side, n, col.Name, col.Type, c.typ)
	}
	c.n += int64(col.Len())
	switch col.Type {
	case abi.TypeString:
		if c.str == nil {
			c.str = map[string]int64{}
		}
		c.codes = slices.Grow(c.codes[:0], len(col.Dict))[:len(col.Dict)]
		clear(c.codes)
		for r, code := range col.Codes {
			if int(code) >= len(c.codes) {
				return fmt.Errorf("%s batch %d row %d: column %q code %d outside its dictionary of %d", side, n, r, col.Name, code, len(col.Dict))
			}
			c.codes[code]++
		}
		for code, k := range c.codes {
			if k > 0 {
				c.str[col.Dict[code]] += k
			}
		}
	case abi.TypeU8:
		if c.num == nil && c.u32 == nil {
			c.grow(1 << 8)
			for _, v := range col.U8 {
				c.dense[v]++
			}
			return nil
		}
		c.toMap()
		for _, v := range col.U8 {
			c.num[float64(v)]++
		}
	case abi.TypeU16:
		if c.num == nil && c.u32 == nil {
			c.grow(1 << 16)
			for _, v := range col.U16 {
				c.dense[v]++
			}
			return nil
		}
		c.toMap()
		for _, v := range col.U16 {
			c.num[float64(v)]++
		}
	case abi.TypeU32, abi.TypeIPv4:
		if c.num == nil && c.dense == nil {
			c.u32 = append(c.u32, col.U32...)
			return nil
		}
		c.toMap()
		for _, v := range col.U32 {
			c.num[float64(v)]++
		}
	default:
		c.toMap()
		switch col.Type {
		case abi.TypeI64, abi.TypeTime:
			for _, v := range col.I64 {
				c.num[float64(v)]++
			}
		case abi.TypeF64:
			for r, v := range col.F64 {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("%s batch %d row %d: column %q is %v", side, n, r, col.Name, v)
				}
				c.num[v]++
			}
		default:
			return fmt.Errorf("%s batch %d: column %q has unknown type %s", side, n, col.Name, col.Type)
		}
	}
	return nil
}

// grow makes the dense array at least n long.
func (c *counter) grow(n int) {
	if len(c.dense) < n {
		c.dense = append(c.dense, make([]int64, n-len(c.dense))...)
	}
}

// toMap moves dense and raw counts into the map, for a column whose
// batches mix types.
func (c *counter) toMap() {
	if c.num != nil {
		return
	}
	m := map[float64]int64{}
	c.each(func(v float64, k int64) { m[v] += k })
	c.num, c.dense, c.u32 = m, nil, nil
}

// each calls f for every distinct numeric value with its count.
func (c *counter) each(f func(v float64, count int64)) {
	for v, k := range c.dense {
		if k > 0 {
			f(float64(v), k)
		}
	}
	if len(c.u32) > 0 {
		dist.SortUint32s(c.u32, nil)
		for i := 0; i < len(c.u32); {
			j := i + 1
			for j < len(c.u32) && c.u32[j] == c.u32[i] {
				j++
			}
			f(float64(c.u32[i]), int64(j-i))
			i = j
		}
	}
	for v, k := range c.num {
		f(v, k)
	}
}

// profile is the popularity profile: every distinct value's count, sorted
// descending.
func (c *counter) profile() []float64 {
	var out []float64
	if c.isString() {
		out = make([]float64, 0, len(c.str))
		for _, k := range c.str {
			out = append(out, float64(k))
		}
	} else {
		c.each(func(_ float64, k int64) { out = append(out, float64(k)) })
	}
	dist.SortCountsDesc(out, nil)
	return out
}
