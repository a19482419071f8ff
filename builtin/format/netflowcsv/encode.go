package netflowcsv

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/internal/textrec"
	"github.com/netshare/netshare/sdk"
)

// Writer writes flow records as CSV.
type Writer struct {
	cfg *config
	// layout, fixed by the first batch: out[i] is the record column written
	// at CSV position i ("" leaves the position empty).
	out     []string
	header  []string
	started bool
}

// NewWriter opens an encoder with env's parameters.
func NewWriter(env sdk.Env) (sdk.Writer, error) {
	cfg, err := parseConfig(env.Params)
	if err != nil {
		return nil, err
	}
	return &Writer{cfg: cfg}, nil
}

// plan fixes the CSV layout from the table, or from the first batch's
// columns when there is no table.
func (e *Writer) plan(b *abi.Batch) {
	if e.cfg.table == nil {
		e.out = append(e.out, Standard...)
		e.header = append(e.header, Standard...)
		if b != nil {
			for _, c := range b.Columns {
				if _, std := standardTypes[c.Name]; std || len(c.Name) == 0 || c.Name[0] == '_' {
					continue
				}
				e.out = append(e.out, c.Name)
				e.header = append(e.header, c.Name)
			}
		}
		return
	}
	keys := append(append([]string(nil), Standard...), e.cfg.extras...)
	var indexed, named []string
	for _, k := range keys {
		if e.cfg.table[k].index >= 0 {
			indexed = append(indexed, k)
		} else {
			named = append(named, k)
		}
	}
	sort.SliceStable(indexed, func(i, j int) bool { return e.cfg.table[indexed[i]].index < e.cfg.table[indexed[j]].index })
	for _, k := range indexed {
		at := e.cfg.table[k].index
		for len(e.out) <= at {
			e.out = append(e.out, "")
			e.header = append(e.header, "")
		}
		if e.out[at] == "" { // two keys on one index: the first in column order wins
			e.out[at] = k
			e.header[at] = k
		}
	}
	for _, k := range named {
		e.out = append(e.out, k)
		e.header = append(e.header, e.cfg.table[k].name)
	}
}

func (e *Writer) start(dst []byte, b *abi.Batch) []byte {
	e.started = true
	e.plan(b)
	if !e.cfg.header {
		return dst
	}
	for i, h := range e.header {
		if i > 0 {
			dst = append(dst, e.cfg.delim)
		}
		dst = e.appendString(dst, h)
	}
	return append(dst, '\n')
}

// Encode appends b's records as CSV lines.
func (e *Writer) Encode(dst []byte, b *abi.Batch) ([]byte, error) {
	if !e.started {
		dst = e.start(dst, b)
	}
	n := b.Len()
	cols := make([]*abi.Column, len(e.out))
	for i, name := range e.out {
		if name == "" {
			continue
		}
		cols[i] = b.Column(name)
		if cols[i] == nil {
			return dst, fmt.Errorf("%s: records have no column %q", Name, name)
		}
	}
	std := make(map[string]*abi.Column, nStandard)
	for _, s := range Standard {
		std[s] = b.Column(s)
	}
	for r := 0; r < n; r++ {
		for i, c := range cols {
			if i > 0 {
				dst = append(dst, e.cfg.delim)
			}
			if c == nil {
				continue
			}
			var err error
			dst, err = e.appendValue(dst, c, r, std)
			if err != nil {
				return dst, fmt.Errorf("%s: record %d: %w", Name, r, err)
			}
		}
		dst = append(dst, '\n')
	}
	return dst, nil
}

// End writes the header if no record came (an empty trace is still a valid
// CSV file).
func (e *Writer) End(dst []byte) ([]byte, error) {
	if !e.started {
		dst = e.start(dst, nil)
	}
	return dst, nil
}

func (e *Writer) appendValue(dst []byte, c *abi.Column, r int, std map[string]*abi.Column) ([]byte, error) {
	switch c.Name {
	case "srcip", "dstip":
		v, err := uintAt(c, r, math.MaxUint32)
		if err != nil {
			return dst, err
		}
		if e.cfg.ipDotted {
			return textrec.AppendIPv4(dst, uint32(v)), nil
		}
		return strconv.AppendUint(dst, v, 10), nil
	case "srcport", "dstport":
		v, err := uintAt(c, r, math.MaxUint16)
		return strconv.AppendUint(dst, v, 10), err
	case "proto":
		v, err := uintAt(c, r, 255)
		if err != nil {
			return dst, err
		}
		if name := textrec.ProtoName(uint8(v)); name != "" && !e.cfg.protoNum {
			return append(dst, name...), nil
		}
		return strconv.AppendUint(dst, v, 10), nil
	case "pkt", "byt":
		v, err := uintAt(c, r, math.MaxInt64)
		return strconv.AppendUint(dst, v, 10), err
	case "td":
		v := c.Float(r)
		if c.Type == abi.TypeString || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return dst, fmt.Errorf("column td: bad duration %v", v)
		}
		return textrec.AppendFloat(dst, v), nil
	case "ts":
		ts, err := textrec.IntAt(c, r, maxAbsMicros)
		if err != nil {
			return dst, err
		}
		if e.cfg.timeEnd {
			td := std["td"]
			if td == nil {
				return dst, fmt.Errorf("time_is = end needs a td column")
			}
			ts += int64(math.Round(td.Float(r) * 1e6))
		}
		if e.cfg.timeScale >= 0 {
			return textrec.AppendScaled(dst, ts, e.cfg.timeScale), nil
		}
		return time.UnixMicro(ts).UTC().AppendFormat(dst, e.cfg.layout), nil
	}
	switch c.Type {
	case abi.TypeString:
		return e.appendString(dst, c.String(r)), nil
	case abi.TypeF64:
		return textrec.AppendFloat(dst, c.F64[r]), nil
	case abi.TypeIPv4:
		return textrec.AppendIPv4(dst, c.U32[r]), nil
	}
	v, err := textrec.IntAt(c, r, maxAbsMicros)
	return strconv.AppendInt(dst, v, 10), err
}

// appendString quotes a value only when it holds the delimiter, a quote or
// a line ending, so ordinary labels stay bare as in NetShare's files.
func (e *Writer) appendString(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, "\"\r\n") && strings.IndexByte(s, e.cfg.delim) < 0 &&
		(len(s) == 0 || s[0] != ' ' && s[len(s)-1] != ' ') {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// uintAt reads row r of a numeric column of any type as an integer in
// [0, max]; generated columns may arrive as floats, which are rounded.
func uintAt(c *abi.Column, r int, max uint64) (uint64, error) {
	switch c.Type {
	case abi.TypeU8:
		return uint64(c.U8[r]), checkMax(c, uint64(c.U8[r]), max)
	case abi.TypeU16:
		return uint64(c.U16[r]), checkMax(c, uint64(c.U16[r]), max)
	case abi.TypeU32, abi.TypeIPv4:
		return uint64(c.U32[r]), checkMax(c, uint64(c.U32[r]), max)
	case abi.TypeI64, abi.TypeTime:
		if c.I64[r] < 0 {
			return 0, fmt.Errorf("column %s: negative value %d", c.Name, c.I64[r])
		}
		return uint64(c.I64[r]), checkMax(c, uint64(c.I64[r]), max)
	case abi.TypeF64:
		f := math.Round(c.F64[r])
		if math.IsNaN(f) || f < 0 || f > float64(max) {
			return 0, fmt.Errorf("column %s: value %v outside 0..%d", c.Name, c.F64[r], max)
		}
		return uint64(f), nil
	}
	return 0, fmt.Errorf("column %s: %s is not numeric", c.Name, c.Type)
}

func checkMax(c *abi.Column, v, max uint64) error {
	if v > max {
		return fmt.Errorf("column %s: value %d outside 0..%d", c.Name, v, max)
	}
	return nil
}
