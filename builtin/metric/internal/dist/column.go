package dist

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/netshare/netshare/abi"
)

// Side names the table a batch belongs to, for error messages.
type Side string

const (
	Real      Side = "real"
	Synthetic Side = "synthetic"
)

// Need returns the named column of batch number n (1-based) of side, or an
// error that lists the columns the batch does have.
func Need(b *abi.Batch, name string, side Side, n int) (*abi.Column, error) {
	if c := b.Column(name); c != nil {
		return c, nil
	}
	names := make([]string, len(b.Columns))
	for i := range b.Columns {
		names[i] = b.Columns[i].Name
	}
	sort.Strings(names)
	return nil, fmt.Errorf("%s batch %d has no column %q (it has: %s)", side, n, name, strings.Join(names, ", "))
}

// AppendFloats appends column c's values to dst as float64. Strings are
// refused, and so are NaN and ±Inf, which no distance is defined for; the
// error names the side, batch and row.
func AppendFloats(dst []float64, c *abi.Column, side Side, n int) ([]float64, error) {
	switch c.Type {
	case abi.TypeU8:
		for _, v := range c.U8 {
			dst = append(dst, float64(v))
		}
	case abi.TypeU16:
		for _, v := range c.U16 {
			dst = append(dst, float64(v))
		}
	case abi.TypeU32, abi.TypeIPv4:
		for _, v := range c.U32 {
			dst = append(dst, float64(v))
		}
	case abi.TypeI64, abi.TypeTime:
		for _, v := range c.I64 {
			dst = append(dst, float64(v))
		}
	case abi.TypeF64:
		for r, v := range c.F64 {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return dst, fmt.Errorf("%s batch %d row %d: column %q is %v", side, n, r, c.Name, v)
			}
		}
		dst = append(dst, c.F64...)
	default:
		return dst, fmt.Errorf("%s batch %d: column %q is %s, not numeric", side, n, c.Name, c.Type)
	}
	return dst, nil
}

// FormatValue prints a numeric key the way a user wrote it: integers
// without a decimal point.
func FormatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}
