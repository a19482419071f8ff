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
			{Name: "private", Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy: categories must then come from params, not from the data"},
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

	m   abi.Matrix
	out abi.Batch
}

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
		private: env.Params.Bool("private"),
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

func isInt(t abi.Type) bool {
	switch t {
	case abi.TypeU8, abi.TypeU16, abi.TypeU32, abi.TypeIPv4, abi.TypeI64, abi.TypeTime:
		return true
	}
	return false
}

func intAt(c *abi.Column, i int) int64 {
	switch c.Type {
	case abi.TypeU8:
		return int64(c.U8[i])
	case abi.TypeU16:
		return int64(c.U16[i])
	case abi.TypeU32, abi.TypeIPv4:
		return int64(c.U32[i])
	}
	return c.I64[i]
}

func (e *Encoder) col(b *abi.Batch) (*abi.Column, error) {
	c := b.Column(e.column)
	if c == nil {
		return nil, fmt.Errorf("categorical %s: batch has no column %q", e.column, e.column)
	}
	if c.Type != abi.TypeString && !isInt(c.Type) {
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
		v := intAt(c, i)
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
	typ, ok := typeByName(st.Type)
	if !ok || (typ != abi.TypeString && !isInt(typ)) {
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
			if err := appendInt(&probe, v); err != nil {
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
			if err := appendInt(&probe, v); err != nil {
				return nil, fmt.Errorf("categorical %s: state's other value: %w", e.column, err)
			}
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("categorical %s: state has no categories", e.column)
	}
	e.st = st
	e.width = n
	if st.Other {
		e.width++
	}
	return []abi.Output{{Name: e.column, Width: e.width, Discrete: true, Activation: abi.ActSoftmax}}, nil
}

func typeByName(s string) (abi.Type, bool) {
	for t := abi.TypeU8; t <= abi.TypeString; t++ {
		if t.String() == s {
			return t, true
		}
	}
	return 0, false
}

// Encode writes one one-hot row per record.
func (e *Encoder) Encode(b *abi.Batch) (*abi.Matrix, error) {
	if e.width == 0 {
		return nil, fmt.Errorf("categorical %s: encode before load", e.column)
	}
	c, err := e.col(b)
	if err != nil {
		return nil, err
	}
	if (c.Type == abi.TypeString) != (e.typ == abi.TypeString) {
		return nil, fmt.Errorf("categorical %s: column is %s, state was fitted on %s", e.column, c.Type, e.typ)
	}
	n := c.Len()
	e.m.Rows, e.m.Cols = n, e.width
	e.m.Data = grow(e.m.Data, n*e.width)
	clear(e.m.Data)
	otherSlot := -1
	if e.st.Other {
		otherSlot = e.width - 1
	}
	if c.Type == abi.TypeString {
		// Map each dictionary entry once; rows then only index.
		slot := make([]int, len(c.Dict))
		for code, s := range c.Dict {
			k, ok := e.strIndex[s]
			if !ok {
				k = otherSlot
			}
			slot[code] = k
		}
		for i, code := range c.Codes {
			k := slot[code]
			if k < 0 {
				return nil, fmt.Errorf("categorical %s: row %d: value %q was not seen at fit (set unseen = \"other\" to accept it)", e.column, i, c.Dict[code])
			}
			e.m.Data[i*e.width+k] = 1
		}
		return &e.m, nil
	}
	for i := 0; i < n; i++ {
		v := intAt(c, i)
		k, ok := e.intIndex[v]
		if !ok {
			if otherSlot < 0 {
				return nil, fmt.Errorf("categorical %s: row %d: value %d was not seen at fit (set unseen = \"other\" to accept it)", e.column, i, v)
			}
			k = otherSlot
		}
		e.m.Data[i*e.width+k] = 1
	}
	return &e.m, nil
}

// Decode takes the argmax of each row (first on ties) and writes the value
// in the column's fitted type.
func (e *Encoder) Decode(m *abi.Matrix) (*abi.Batch, error) {
	if e.width == 0 {
		return nil, fmt.Errorf("categorical %s: decode before load", e.column)
	}
	if m.Cols != e.width {
		return nil, fmt.Errorf("categorical %s: decode wants %d columns, got %d", e.column, e.width, m.Cols)
	}
	if len(m.Data) != m.Rows*m.Cols {
		return nil, fmt.Errorf("categorical %s: matrix %d×%d holds %d values", e.column, m.Rows, m.Cols, len(m.Data))
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	*col = abi.Column{Name: e.column, Type: e.typ, U8: col.U8[:0], U16: col.U16[:0], U32: col.U32[:0], I64: col.I64[:0], Codes: col.Codes[:0]}
	var otherInt int64
	if e.typ == abi.TypeString {
		col.Dict = e.st.Values
		if e.st.Other {
			col.Dict = append(append([]string(nil), e.st.Values...), e.st.OtherValue)
		}
	} else if e.st.Other {
		otherInt, _ = strconv.ParseInt(e.st.OtherValue, 10, 64)
	}
	for i := 0; i < m.Rows; i++ {
		row := m.Data[i*m.Cols : (i+1)*m.Cols]
		best, bv := 0, math.Inf(-1)
		for k, x := range row {
			if x > bv {
				best, bv = k, x
			}
		}
		if math.IsInf(bv, -1) {
			return nil, fmt.Errorf("categorical %s: row %d holds no finite value", e.column, i)
		}
		if e.typ == abi.TypeString {
			col.Codes = append(col.Codes, uint32(best))
			continue
		}
		v := otherInt
		if best < len(e.st.Ints) {
			v = e.st.Ints[best]
		}
		if err := appendInt(col, v); err != nil {
			return nil, fmt.Errorf("categorical %s: row %d: %w", e.column, i, err)
		}
	}
	return &e.out, nil
}

func appendInt(c *abi.Column, v int64) error {
	var lim int64
	switch c.Type {
	case abi.TypeU8:
		lim = math.MaxUint8
	case abi.TypeU16:
		lim = math.MaxUint16
	case abi.TypeU32, abi.TypeIPv4:
		lim = math.MaxUint32
	default:
		c.I64 = append(c.I64, v)
		return nil
	}
	if v < 0 || v > lim {
		return fmt.Errorf("value %d does not fit a %s column", v, c.Type)
	}
	switch c.Type {
	case abi.TypeU8:
		c.U8 = append(c.U8, uint8(v))
	case abi.TypeU16:
		c.U16 = append(c.U16, uint16(v))
	default:
		c.U32 = append(c.U32, uint32(v))
	}
	return nil
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
