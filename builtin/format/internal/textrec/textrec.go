// Package textrec holds what the text flow-record formats (netflow-csv and
// zeek-conn) share: a line splitter for streams fed in pieces, allocation-free
// parsers for addresses, counts and decimal timestamps, protocol names, a
// string-column builder, and the skip bookkeeping behind abi.ReadStats.
// Both formats use it so they read numbers and addresses the same way.
package textrec

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/netshare/netshare/abi"
)

// MaxLine is the longest line a decoder accepts. Longer lines are skipped and
// counted, so a file without newlines cannot make a plugin buffer it whole.
const MaxLine = 1 << 20

// Lines splits a stream fed in pieces into lines. A piece may end in the
// middle of a line; the partial line is kept until the next piece.
type Lines struct {
	tail    []byte
	skipTo  bool  // dropping the rest of an overlong line
	Num     int64 // number of the last line handed out, 1-based
	MaxLen  int   // 0 means MaxLine
	tooLong bool
}

// Feed calls fn for every line completed by p, without its line ending
// ("\n" or "\r\n"). line is valid only during the call. tooLong reports a
// line longer than MaxLen, whose content is not given.
func (l *Lines) Feed(p []byte, fn func(line []byte, num int64, tooLong bool)) {
	maxLen := l.MaxLen
	if maxLen <= 0 {
		maxLen = MaxLine
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !l.skipTo {
				if len(l.tail)+len(p) > maxLen {
					l.tail = l.tail[:0]
					l.skipTo = true
				} else {
					l.tail = append(l.tail, p...)
				}
			}
			return
		}
		seg := p[:i]
		p = p[i+1:]
		l.Num++
		switch {
		case l.skipTo:
			l.skipTo = false
			fn(nil, l.Num, true)
		case len(l.tail) > 0:
			if len(l.tail)+len(seg) > maxLen {
				l.tail = l.tail[:0]
				fn(nil, l.Num, true)
				continue
			}
			l.tail = append(l.tail, seg...)
			fn(trimCR(l.tail), l.Num, false)
			l.tail = l.tail[:0]
		case len(seg) > maxLen:
			fn(nil, l.Num, true)
		default:
			fn(trimCR(seg), l.Num, false)
		}
	}
}

// Finish hands out a last line that had no line ending.
func (l *Lines) Finish(fn func(line []byte, num int64, tooLong bool)) {
	switch {
	case l.skipTo:
		l.Num++
		l.skipTo = false
		fn(nil, l.Num, true)
	case len(l.tail) > 0:
		l.Num++
		fn(trimCR(l.tail), l.Num, false)
		l.tail = l.tail[:0]
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// ParseIPv4 reads a dotted quad ("10.0.0.1") or an unsigned 32-bit integer
// ("167772161"), the two ways flow files write addresses.
func ParseIPv4(b []byte) (uint32, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if bytes.IndexByte(b, '.') < 0 {
		v, ok := ParseUint(b, math.MaxUint32)
		return uint32(v), ok
	}
	var ip uint32
	part, digits, dots := uint32(0), 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			part = part*10 + uint32(c-'0')
			digits++
			if part > 255 || digits > 3 {
				return 0, false
			}
		case c == '.':
			if digits == 0 || dots == 3 {
				return 0, false
			}
			ip = ip<<8 | part
			part, digits = 0, 0
			dots++
		default:
			return 0, false
		}
	}
	if dots != 3 || digits == 0 {
		return 0, false
	}
	return ip<<8 | part, true
}

// AppendIPv4 appends ip as a dotted quad.
func AppendIPv4(dst []byte, ip uint32) []byte {
	dst = strconv.AppendUint(dst, uint64(ip>>24), 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(ip>>16&0xff), 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(ip>>8&0xff), 10)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, uint64(ip&0xff), 10)
}

// ParseUint reads a decimal integer no larger than max. A fraction of zeros
// ("53.0") is accepted because tools that pass columns through floats write
// integers that way.
func ParseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if i == 0 {
		return 0, false
	}
	if i < len(b) {
		if b[i] != '.' {
			return 0, false
		}
		for _, c := range b[i+1:] {
			if c != '0' {
				return 0, false
			}
		}
	}
	return v, true
}

// ParseCount reads a non-negative count (packets, bytes). Integers are read
// exactly; a value written as a float ("62.0", "1.5e3") is rounded to the
// nearest integer, as generated traces often carry fractional counts.
func ParseCount(b []byte) (int64, bool) {
	if v, ok := ParseUint(b, math.MaxInt64); ok {
		return int64(v), true
	}
	f, ok := ParseFloat(b)
	if !ok || f < 0 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(math.Round(f)), true
}

// ParseFloat reads a finite float64.
func ParseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 64 {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000}

// ParseScaled reads a decimal number and returns it multiplied by 10^scale
// (scale 0..6), rounded half away from zero. Plain decimals are read with
// integer arithmetic, so "1655071198.444458" seconds become exactly
// 1655071198444458 µs; exponent forms fall back to float parsing.
func ParseScaled(b []byte, scale int) (int64, bool) {
	if len(b) == 0 || scale < 0 || scale > 6 {
		return 0, false
	}
	neg := false
	s := b
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	var ip int64
	i := 0
	const limit = math.MaxInt64 / 10
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if ip > limit {
			return 0, false
		}
		ip = ip*10 + int64(s[i]-'0')
	}
	intDigits := i
	var frac int64
	fracDigits := 0
	round := false
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			switch {
			case fracDigits < scale:
				frac = frac*10 + int64(s[i]-'0')
				fracDigits++
			case fracDigits == scale:
				round = s[i] >= '5'
				fracDigits++
			}
		}
	}
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return 0, false
		}
		f, ok := ParseFloat(b)
		if !ok {
			return 0, false
		}
		f = math.Round(f * float64(pow10[scale]))
		if math.Abs(f) >= math.MaxInt64 {
			return 0, false
		}
		return int64(f), true
	}
	if intDigits == 0 && fracDigits == 0 {
		return 0, false
	}
	if fracDigits > scale {
		fracDigits = scale
	}
	for ; fracDigits < scale; fracDigits++ {
		frac *= 10
	}
	m := pow10[scale]
	if ip > (math.MaxInt64-m)/m {
		return 0, false
	}
	v := ip*m + frac
	if round {
		v++
	}
	if neg {
		v = -v
	}
	return v, true
}

// AppendScaled appends v/10^scale as a plain decimal with exactly scale
// fraction digits (the inverse of ParseScaled).
func AppendScaled(dst []byte, v int64, scale int) []byte {
	if scale == 0 {
		return strconv.AppendInt(dst, v, 10)
	}
	u := uint64(v)
	if v < 0 {
		dst = append(dst, '-')
		u = uint64(-v)
	}
	m := uint64(pow10[scale])
	dst = strconv.AppendUint(dst, u/m, 10)
	dst = append(dst, '.')
	f := u % m
	for d := m / 10; d > 0; d /= 10 {
		dst = append(dst, byte('0'+f/d%10))
	}
	return dst
}

// AppendFloat appends f in the shortest plain decimal that reads back to
// exactly f (no exponent, as flow tools expect).
func AppendFloat(dst []byte, f float64) []byte {
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// Protocol numbers of the names flow files use (NetShare's mapping).
var protoNumbers = map[string]uint8{
	"TCP": 6, "UDP": 17, "ICMP": 1, "GRE": 47, "ESP": 50, "IPIP": 4, "IPV6": 41, "OTHER": 255,
}

var protoNames = map[uint8]string{6: "TCP", 17: "UDP", 1: "ICMP", 47: "GRE", 50: "ESP", 4: "IPIP", 41: "IPv6", 255: "OTHER"}

// ParseProto reads a protocol as a number (0..255) or a name. Known names
// (TCP, UDP, ICMP, GRE, ESP, IPIP, IPv6, any case) map to their numbers;
// any other name made of letters, digits, '-' and '_' maps to 255 ("other"),
// as NetShare does. Anything else is invalid.
func ParseProto(b []byte) (uint8, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if b[0] >= '0' && b[0] <= '9' {
		v, ok := ParseUint(b, 255)
		return uint8(v), ok
	}
	if len(b) <= 8 {
		var up [8]byte
		for i, c := range b {
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			up[i] = c
		}
		if n, ok := protoNumbers[string(up[:len(b)])]; ok {
			return n, true
		}
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return 0, false
		}
	}
	return 255, true
}

// ProtoName returns the name flow files use for a protocol number, or "" if
// it has none.
func ProtoName(p uint8) string { return protoNames[p] }

// StringCol appends values to a string column, keeping a per-batch
// dictionary so repeated values (labels, states) cost one code each.
type StringCol struct {
	index map[string]uint32
}

// Reset forgets the dictionary; call it with abi.Batch.Reset.
func (s *StringCol) Reset() { clear(s.index) }

// Add appends v to c.
func (s *StringCol) Add(c *abi.Column, v []byte) {
	if s.index == nil {
		s.index = make(map[string]uint32)
	}
	code, ok := s.index[string(v)]
	if !ok {
		code = uint32(len(c.Dict))
		str := string(v)
		c.Dict = append(c.Dict, str)
		s.index[str] = code
	}
	c.Codes = append(c.Codes, code)
}

// Skips counts skipped records by reason and remembers the first few, so
// a user can find them in the file.
type Skips struct {
	Counts map[string]int64
	first  []string
}

// MaxNoted is how many skipped lines Notes describes.
const MaxNoted = 5

// Add counts one skipped record on line num. detail may be "".
func (s *Skips) Add(reason string, num int64, detail string) {
	if s.Counts == nil {
		s.Counts = map[string]int64{}
	}
	s.Counts[reason]++
	if len(s.first) < MaxNoted {
		if detail != "" {
			s.first = append(s.first, fmt.Sprintf("line %d (%s: %s)", num, reason, detail))
		} else {
			s.first = append(s.first, fmt.Sprintf("line %d (%s)", num, reason))
		}
	}
}

// Stats returns the ReadStats for records decoded, noting the first
// skipped lines under the key "first skipped".
func (s *Skips) Stats(records int64, notes map[string]string) abi.ReadStats {
	st := abi.ReadStats{Records: records, Notes: notes}
	if len(s.Counts) > 0 {
		st.Skipped = s.Counts
	}
	if len(s.first) > 0 {
		if st.Notes == nil {
			st.Notes = map[string]string{}
		}
		st.Notes["first skipped"] = strings.Join(s.first, "; ")
	}
	return st
}

// Quote shows a field value in a skip note, shortened so a garbage line
// cannot make the note huge.
func Quote(b []byte) string {
	const max = 40
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}

// IntAt reads row r of a numeric column as an integer, for the writers:
// generated columns may be floats, which are rounded and must lie strictly
// inside ±limit.
func IntAt(c *abi.Column, r int, limit float64) (int64, error) {
	switch c.Type {
	case abi.TypeI64, abi.TypeTime:
		return c.I64[r], nil
	case abi.TypeF64:
		f := math.Round(c.F64[r])
		if math.IsNaN(f) || math.Abs(f) >= limit {
			return 0, fmt.Errorf("column %s: value %v out of range", c.Name, c.F64[r])
		}
		return int64(f), nil
	case abi.TypeString:
		return 0, fmt.Errorf("column %s: %s is not numeric", c.Name, c.Type)
	}
	return int64(c.Float(r)), nil
}
