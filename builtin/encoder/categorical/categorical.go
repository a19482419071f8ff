// Package categorical is the categorical encoder: one-hot over the values
// seen at fit time or listed in params, decoded by argmax (NetShare's
// DiscreteField). It serves string columns and integer columns alike.
package categorical

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

func init() {
	sdk.RegisterEncoder(abi.Component{
		Name:    "categorical",
		Version: "1.0.0",
		Summary: "one-hot over the values seen or listed; decode by argmax",
		Params: []abi.Param{
			{Name: "choices", Type: abi.ParamStrings, Doc: "the categories, in output order (string columns; for integer columns the decimal form); default: the values seen at fit, sorted"},
			{Name: "int_choices", Type: abi.ParamInts, Doc: "the categories of an integer column, in output order (alternative to choices)"},
			{Name: "unseen", Type: abi.ParamString, Default: "error", Doc: `a value outside the categories at encode time: "error", or "other" to map it to an extra category`},
			{Name: "other", Type: abi.ParamString, Doc: `what the extra category decodes to when unseen = "other": default "other" for string columns; integer columns must set it (e.g. "255")`},
			{Name: abi.ParamPrivate, Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy: categories must then come from params, not from the data"},
		},
	}, New)
}

// Encoder is the categorical encoder for one column.
type Encoder struct {
	column  string
	unseen  string
	other   string
	private bool
	listed  bool // categories come from params

	// Fit-time collection, keyed by value (strings) or integer.
	typ     abi.Type
	typed   bool
	strSeen map[string]struct{}
	intSeen map[int64]struct{}

	// Loaded state.
	st       state
	strIndex map[string]int
	intIndex map[int64]int
	width    int // categories plus the "other" slot when present
	// dense maps an integer v in [base, base+len(dense)) to its slot, or
	// to otherSlot (-1 without one) for values that are not categories;
	// nil when the categories spread too wide, and then sorted holds them
	// in increasing order with sortedSlot their slots, for binary search
	// (maps cost about 100 ns a lookup in Wasm).
	dense      []int32
	base       int64
	sorted     []int64
	sortedSlot []int32
	otherSlot  int32
	// The decoded value of each slot, in the column's type.
	u8s  []uint8
	u16s []uint16
	u32s []uint32
	i64s []int64

	slots []int32   // per-call dictionary code → slot
	out   abi.Batch // reused by every Decode
}

// maxDense bounds the dense lookup table (entries of 4 bytes): every u8
// and u16 column fits, and so do integer categories of narrow range.
const maxDense = 1 << 16

// state is the fitted state: the column type and the ordered categories.
type state struct {
	Type   string   `json:"type"`
	Values []string `json:"values,omitempty"` // string columns
	Ints   []int64  `json:"ints,omitempty"`   // integer columns
	Other  bool     `json:"other"`            // an extra "other" slot follows the values
	// OtherValue is what the extra slot decodes to.
	OtherValue string `json:"other_value,omitempty"`
}

// New returns a categorical encoder for env.Column.
func New(env sdk.Env) (sdk.FieldEncoder, error) {
	if env.Column == "" {
		return nil, fmt.Errorf("categorical: no column named")
	}
	e := &Encoder{
		column:  env.Column,
		unseen:  env.Params.String("unseen"),
		other:   env.Params.String("other"),
		private: env.Params.Bool(abi.ParamPrivate),
		strSeen: map[string]struct{}{},
		intSeen: map[int64]struct{}{},
	}
	if e.unseen != "error" && e.unseen != "other" {
		return nil, fmt.Errorf("categorical %s: unseen must be \"error\" or \"other\", got %q", e.column, e.unseen)
	}
	hasStr, hasInt := env.Params.Has("choices"), env.Params.Has("int_choices")
	if hasStr && hasInt {
		return nil, fmt.Errorf("categorical %s: give choices or int_choices, not both", e.column)
	}
	if hasStr {
		cs := env.Params.Strings("choices")
		if len(cs) == 0 {
			return nil, fmt.Errorf("categorical %s: choices is empty", e.column)
		}
		for i, c := range cs {
			if _, dup := e.strSeen[c]; dup {
				return nil, fmt.Errorf("categorical %s: choice %q listed twice (item %d)", e.column, c, i)
			}
			e.strSeen[c] = struct{}{}
		}
		e.st.Values = cs
		e.listed = true
	}
	if hasInt {
		cs := env.Params.Ints("int_choices")
		if len(cs) == 0 {
			return nil, fmt.Errorf("categorical %s: int_choices is empty", e.column)
		}
		for i, c := range cs {
			if _, dup := e.intSeen[c]; dup {
				return nil, fmt.Errorf("categorical %s: int choice %d listed twice (item %d)", e.column, c, i)
			}
			e.intSeen[c] = struct{}{}
		}
		e.st.Ints = cs
		e.listed = true
	}
	if e.private && !e.listed {
		return nil, fmt.Errorf("categorical %s: private = true needs the categories in choices or int_choices: categories read from private data leak it", e.column)
	}
	return e, nil
}

func (e *Encoder) col(b *abi.Batch) (*abi.Column, error) {
	c := b.Column(e.column)
	if c == nil {
		return nil, fmt.Errorf("categorical %s: batch has no column %q", e.column, e.column)
	}
	if c.Type != abi.TypeString && !c.Type.IsInt() {
		return nil, fmt.Errorf("categorical %s: column is %s, want string or integer", e.column, c.Type)
	}
	return c, nil
}

// Fit collects the distinct values, or with listed categories checks that
// the data fits them when unseen values are errors.
func (e *Encoder) Fit(b *abi.Batch) error {
	c, err := e.col(b)
	if err != nil {
		return err
	}
	if e.typed && c.Type != e.typ {
		return fmt.Errorf("categorical %s: column type changed from %s to %s between fit batches", e.column, e.typ, c.Type)
	}
	e.typ, e.typed = c.Type, true
	if c.Type == abi.TypeString {
		if e.listed && e.st.Ints != nil {
			return fmt.Errorf("categorical %s: int_choices given for a string column", e.column)
		}
		// Scan the dictionary once, then only the codes actually used.
		used := make([]bool, len(c.Dict))
		for _, code := range c.Codes {
			used[code] = true
		}
		for code, s := range c.Dict {
			if !used[code] {
				continue
			}
			if _, ok := e.strSeen[s]; ok {
				continue
			}
			if e.listed {
				if e.unseen == "error" {
					return fmt.Errorf("categorical %s: value %q (row %d of the fit batch) is not among choices", e.column, s, firstRow(c.Codes, uint32(code)))
				}
				continue
			}
			e.strSeen[s] = struct{}{}
		}
		return nil
	}
	if e.listed && e.st.Values != nil && e.st.Ints == nil {
		// Choices given as strings for an integer column: parse them once.
		ints := make([]int64, len(e.st.Values))
		for i, s := range e.st.Values {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("categorical %s: choice %q is not an integer, and the column is %s", e.column, s, c.Type)
			}
			ints[i] = v
			e.intSeen[v] = struct{}{}
		}
		e.st.Ints, e.st.Values = ints, nil
	}
	n := c.Len()
	for i := 0; i < n; i++ {
		v := c.Int(i)
		if _, ok := e.intSeen[v]; ok {
			continue
		}
		if e.listed {
			if e.unseen == "error" {
				return fmt.Errorf("categorical %s: value %d (row %d of the fit batch) is not among the choices", e.column, v, i)
			}
			continue
		}
		e.intSeen[v] = struct{}{}
	}
	return nil
}

func firstRow(codes []uint32, code uint32) int {
	for i, c := range codes {
		if c == code {
			return i
		}
	}
	return -1
}

func (e *Encoder) FitEnd() ([]byte, error) {
	if !e.typed {
		return nil, fmt.Errorf("categorical %s: fit saw no data, so the column type is unknown", e.column)
	}
	st := state{Type: e.typ.String(), Other: e.unseen == "other", OtherValue: e.other}
	if e.typ == abi.TypeString {
		if st.OtherValue == "" {
			st.OtherValue = "other"
		}
		if e.listed {
			st.Values = e.st.Values
		} else {
			st.Values = make([]string, 0, len(e.strSeen))
			for s := range e.strSeen {
				st.Values = append(st.Values, s)
			}
			sort.Strings(st.Values)
		}
		if len(st.Values) == 0 {
			return nil, fmt.Errorf("categorical %s: no categories (fit saw no rows)", e.column)
		}
	} else {
		if e.listed {
			st.Ints = e.st.Ints
		} else {
			st.Ints = make([]int64, 0, len(e.intSeen))
			for v := range e.intSeen {
				st.Ints = append(st.Ints, v)
			}
			sort.Slice(st.Ints, func(i, j int) bool { return st.Ints[i] < st.Ints[j] })
		}
		if len(st.Ints) == 0 {
			return nil, fmt.Errorf("categorical %s: no categories (fit saw no rows)", e.column)
		}
		if st.Other {
			if _, err := strconv.ParseInt(e.other, 10, 64); err != nil {
				return nil, fmt.Errorf("categorical %s: unseen = \"other\" on a %s column needs other set to the integer the extra category decodes to (got %q)", e.column, e.typ, e.other)
			}
		}
	}
	return json.Marshal(st)
}

func (e *Encoder) Load(raw []byte) ([]abi.Output, error) {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("categorical %s: bad state: %w", e.column, err)
	}
	typ, ok := abi.ParseType(st.Type)
	if !ok || (typ != abi.TypeString && !typ.IsInt()) {
		return nil, fmt.Errorf("categorical %s: state names column type %q", e.column, st.Type)
	}
	e.typ = typ
	e.strIndex, e.intIndex = nil, nil
	var n int
	if typ == abi.TypeString {
		e.strIndex = make(map[string]int, len(st.Values))
		for i, s := range st.Values {
			if _, dup := e.strIndex[s]; dup {
				return nil, fmt.Errorf("categorical %s: state lists %q twice", e.column, s)
			}
			e.strIndex[s] = i
		}
		n = len(st.Values)
	} else {
		e.intIndex = make(map[int64]int, len(st.Ints))
		probe := abi.Column{Type: typ}
		for i, v := range st.Ints {
			if err := probe.AppendInt(v); err != nil {
				return nil, fmt.Errorf("categorical %s: state category %d: %w", e.column, i, err)
			}
			if _, dup := e.intIndex[v]; dup {
				return nil, fmt.Errorf("categorical %s: state lists %d twice", e.column, v)
			}
			e.intIndex[v] = i
		}
		n = len(st.Ints)
		if st.Other {
			v, err := strconv.ParseInt(st.OtherValue, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("categorical %s: state's other value %q is not an integer", e.column, st.OtherValue)
			}
			if err := probe.AppendInt(v); err != nil {
				return nil, fmt.Errorf("categorical %s: state's other value: %w", e.column, err)
			}
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("categorical %s: state has no categories", e.column)
	}
	e.st = st
	e.width = n
	e.otherSlot = -1
	if st.Other {
		e.width++
		e.otherSlot = int32(n)
	}
	if typ != abi.TypeString {
		e.buildIntTables()
	}
	return []abi.Output{{Name: e.column, Width: e.width, Discrete: true, Activation: abi.ActSoftmax}}, nil
}

// buildIntTables makes the dense encode table, when the categories'
// range allows, and the typed decode tables. Load has checked that every
// value fits the column's type.
func (e *Encoder) buildIntTables() {
	ints := e.st.Ints
	lo, hi := ints[0], ints[0]
	for _, v := range ints {
		lo, hi = min(lo, v), max(hi, v)
	}
	if e.typ == abi.TypeU8 {
		// Every u8 has an entry: the row loop then needs no range test.
		lo, hi = 0, math.MaxUint8
	}
	e.dense, e.base, e.sorted, e.sortedSlot = nil, lo, nil, nil
	if uint64(hi-lo) < maxDense {
		e.dense = make([]int32, hi-lo+1)
		for i := range e.dense {
			e.dense[i] = e.otherSlot
		}
		for k, v := range ints {
			e.dense[v-lo] = int32(k)
		}
	} else {
		order := make([]int, len(ints))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return ints[order[a]] < ints[order[b]] })
		for _, k := range order {
			e.sorted = append(e.sorted, ints[k])
			e.sortedSlot = append(e.sortedSlot, int32(k))
		}
	}
	vals := ints
	if e.st.Other {
		other, _ := strconv.ParseInt(e.st.OtherValue, 10, 64)
		vals = append(append([]int64(nil), ints...), other)
	}
	e.u8s, e.u16s, e.u32s, e.i64s = nil, nil, nil, nil
	switch e.typ {
	case abi.TypeU8:
		e.u8s = narrow[uint8](vals)
	case abi.TypeU16:
		e.u16s = narrow[uint16](vals)
	case abi.TypeU32, abi.TypeIPv4:
		e.u32s = narrow[uint32](vals)
	default:
		e.i64s = vals
	}
}

func narrow[T uint8 | uint16 | uint32](vals []int64) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		out[i] = T(v)
	}
	return out
}

// Encode writes each record's category index, one loop per column type.
func (e *Encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	if e.width == 0 {
		return fmt.Errorf("categorical %s: encode before load", e.column)
	}
	c, err := e.col(b)
	if err != nil {
		return err
	}
	if (c.Type == abi.TypeString) != (e.typ == abi.TypeString) {
		return fmt.Errorf("categorical %s: column is %s, state was fitted on %s", e.column, c.Type, e.typ)
	}
	dst := out.Hot[:c.Len()]
	if c.Type == abi.TypeString {
		// Map each dictionary entry once; rows then only index.
		if cap(e.slots) < len(c.Dict) {
			e.slots = make([]int32, len(c.Dict))
		}
		slots := e.slots[:len(c.Dict)]
		for code, s := range c.Dict {
			k, ok := e.strIndex[s]
			if !ok {
				k = int(e.otherSlot)
			}
			slots[code] = int32(k)
		}
		for i, code := range c.Codes {
			k := slots[code]
			if k < 0 {
				return fmt.Errorf("categorical %s: row %d: value %q was not seen at fit (set unseen = \"other\" to accept it)", e.column, i, c.Dict[code])
			}
			dst[i] = uint32(k)
		}
		return nil
	}
	row := -1
	if e.dense == nil {
		switch c.Type {
		case abi.TypeU8:
			row = encodeSorted(dst, c.U8, e.sorted, e.sortedSlot, e.otherSlot)
		case abi.TypeU16:
			row = encodeSorted(dst, c.U16, e.sorted, e.sortedSlot, e.otherSlot)
		case abi.TypeU32, abi.TypeIPv4:
			row = encodeSorted(dst, c.U32, e.sorted, e.sortedSlot, e.otherSlot)
		default:
			row = encodeSorted(dst, c.I64, e.sorted, e.sortedSlot, e.otherSlot)
		}
	} else {
		switch c.Type {
		case abi.TypeU8:
			row = encodeU8(dst, c.U8, (*[256]int32)(e.dense))
		case abi.TypeU16:
			row = encodeDense(dst, c.U16, e.dense, e.base, e.otherSlot)
		case abi.TypeU32, abi.TypeIPv4:
			row = encodeDense(dst, c.U32, e.dense, e.base, e.otherSlot)
		default:
			row = encodeDense(dst, c.I64, e.dense, e.base, e.otherSlot)
		}
	}
	if row >= 0 {
		return fmt.Errorf("categorical %s: row %d: value %d was not seen at fit (set unseen = \"other\" to accept it)", e.column, row, c.Int(row))
	}
	return nil
}

// encodeDense looks each value up in the dense table; values outside it
// take the other slot. It returns the first row with no slot, or -1.
func encodeDense[T uint8 | uint16 | uint32 | int64](dst []uint32, src []T, dense []int32, base int64, other int32) int {
	dst = dst[:len(src)]
	for i, x := range src {
		k := other
		if d := uint64(int64(x) - base); d < uint64(len(dense)) {
			k = dense[d]
		}
		if k < 0 {
			return i
		}
		dst[i] = uint32(k)
	}
	return -1
}

// encodeU8 is encodeDense for u8 columns, whose table has all 256 entries.
func encodeU8(dst []uint32, src []uint8, dense *[256]int32) int {
	dst = dst[:len(src)]
	for i, x := range src {
		k := dense[x]
		if k < 0 {
			return i
		}
		dst[i] = uint32(k)
	}
	return -1
}

// encodeSorted serves categories too spread out for a dense table, by
// binary search over their sorted values; it returns the first row with no
// slot, or -1.
func encodeSorted[T uint8 | uint16 | uint32 | int64](dst []uint32, src []T, sorted []int64, slots []int32, other int32) int {
	dst = dst[:len(src)]
	slots = slots[:len(sorted)]
	for i, x := range src {
		v := int64(x)
		lo, hi := 0, len(sorted)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if sorted[m] < v {
				lo = m + 1
			} else {
				hi = m
			}
		}
		k := other
		if lo < len(sorted) && sorted[lo] == v {
			k = slots[lo]
		}
		if k < 0 {
			return i
		}
		dst[i] = uint32(k)
	}
	return -1
}

// Decode writes each row's category (the host has taken the argmax of
// generated rows) in the column's fitted type.
func (e *Encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	if e.width == 0 {
		return nil, fmt.Errorf("categorical %s: decode before load", e.column)
	}
	if in.HotWidth != 1 || in.ValueWidth != 0 || len(in.Hot) != in.Rows {
		return nil, fmt.Errorf("categorical %s: decode wants %d rows of 1 index, got %d indices of width %d", e.column, in.Rows, len(in.Hot), in.HotWidth)
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	*col = abi.Column{Name: e.column, Type: e.typ, U8: col.U8, U16: col.U16, U32: col.U32, I64: col.I64, Codes: col.Codes}
	row := -1
	switch e.typ {
	case abi.TypeString:
		col.Dict = e.st.Values
		if e.st.Other {
			col.Dict = append(e.st.Values[:len(e.st.Values):len(e.st.Values)], e.st.OtherValue)
		}
		col.Codes = abi.Grow(col.Codes, in.Rows)
		row = decodeCodes(col.Codes, in.Hot, uint32(e.width))
	case abi.TypeU8:
		col.U8 = abi.Grow(col.U8, in.Rows)
		row = decodeInts(col.U8, in.Hot, e.u8s)
	case abi.TypeU16:
		col.U16 = abi.Grow(col.U16, in.Rows)
		row = decodeInts(col.U16, in.Hot, e.u16s)
	case abi.TypeU32, abi.TypeIPv4:
		col.U32 = abi.Grow(col.U32, in.Rows)
		row = decodeInts(col.U32, in.Hot, e.u32s)
	default:
		col.I64 = abi.Grow(col.I64, in.Rows)
		row = decodeInts(col.I64, in.Hot, e.i64s)
	}
	if row >= 0 {
		return nil, fmt.Errorf("categorical %s: row %d: index %d is outside the %d categories", e.column, row, in.Hot[row], e.width)
	}
	return &e.out, nil
}

// decodeCodes copies the indices as dictionary codes, returning the first
// row whose index is out of range, or -1.
func decodeCodes(dst, hot []uint32, width uint32) int {
	dst = dst[:len(hot)]
	for i, k := range hot {
		if k >= width {
			return i
		}
		dst[i] = k
	}
	return -1
}

// decodeInts maps indices to values through the slot table, returning the
// first row whose index is out of range, or -1.
func decodeInts[T uint8 | uint16 | uint32 | int64](dst []T, hot []uint32, vals []T) int {
	dst = dst[:len(hot)]
	for i, k := range hot {
		if uint64(k) >= uint64(len(vals)) {
			return i
		}
		dst[i] = vals[k]
	}
	return -1
}
