// Package continuous is the continuous encoder: an optional log1p, then
// min-max scaling to [0,1] (sigmoid head) or [-1,1] (tanh head), with the
// bounds read from the data (widened by 1e-8 as NetShare does) or fixed in
// params. Decoding inverts the scaling and writes the column's original
// type, rounding and clamping integers.
package continuous

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// Eps widens data-derived bounds so that the extremes map strictly inside
// the activation's range (NetShare's EPS).
const Eps = 1e-8

func init() {
	sdk.RegisterEncoder(abi.Component{
		Name:    "continuous",
		Version: "1.0.0",
		Summary: "optional log1p, then min-max scaling to [0,1] (sigmoid) or [-1,1] (tanh)",
		Params: []abi.Param{
			{Name: "log1p", Type: abi.ParamBool, Default: false, Doc: "apply ln(1+x) before scaling (bounds too); values must be > -1"},
			{Name: "activation", Type: abi.ParamString, Default: abi.ActSigmoid, Doc: "sigmoid scales to [0,1], tanh to [-1,1]"},
			{Name: "min", Type: abi.ParamFloat, Doc: "fixed lower bound in the column's units (before log1p); default: the data's minimum"},
			{Name: "max", Type: abi.ParamFloat, Doc: "fixed upper bound in the column's units (before log1p); default: the data's maximum"},
			{Name: "private", Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy: min and max must then be given"},
		},
	}, New)
}

// Encoder is the continuous encoder for one column.
type Encoder struct {
	column     string
	log1p      bool
	activation string
	fixedMin   *float64
	fixedMax   *float64

	// Fit-time statistics, on the transformed scale.
	typ    abi.Type
	typed  bool
	lo, hi float64
	rows   int64

	st  state
	ok  bool
	m   abi.Matrix
	out abi.Batch
}

// state is the fitted state. Min and Max are on the transformed (log1p)
// scale, already widened.
type state struct {
	Type       string  `json:"type"`
	Log1p      bool    `json:"log1p"`
	Activation string  `json:"activation"`
	Min        float64 `json:"min"`
	Max        float64 `json:"max"`
}

// New returns a continuous encoder for env.Column.
func New(env sdk.Env) (sdk.FieldEncoder, error) {
	if env.Column == "" {
		return nil, fmt.Errorf("continuous: no column named")
	}
	e := &Encoder{
		column:     env.Column,
		log1p:      env.Params.Bool("log1p"),
		activation: env.Params.String("activation"),
		lo:         math.Inf(1),
		hi:         math.Inf(-1),
	}
	if e.activation != abi.ActSigmoid && e.activation != abi.ActTanh {
		return nil, fmt.Errorf("continuous %s: activation must be %q or %q, got %q", e.column, abi.ActSigmoid, abi.ActTanh, e.activation)
	}
	if env.Params.Has("min") {
		v := env.Params.Float("min")
		e.fixedMin = &v
	}
	if env.Params.Has("max") {
		v := env.Params.Float("max")
		e.fixedMax = &v
	}
	if env.Params.Bool("private") && (e.fixedMin == nil || e.fixedMax == nil) {
		return nil, fmt.Errorf("continuous %s: private = true needs fixed min and max params: bounds read from private data leak it", e.column)
	}
	if e.fixedMin != nil && e.fixedMax != nil && !(*e.fixedMin < *e.fixedMax) {
		return nil, fmt.Errorf("continuous %s: min %v must be below max %v", e.column, *e.fixedMin, *e.fixedMax)
	}
	for _, b := range []*float64{e.fixedMin, e.fixedMax} {
		if b == nil {
			continue
		}
		if math.IsNaN(*b) || math.IsInf(*b, 0) {
			return nil, fmt.Errorf("continuous %s: bound %v is not finite", e.column, *b)
		}
		if e.log1p && *b <= -1 {
			return nil, fmt.Errorf("continuous %s: bound %v is not above -1, which log1p needs", e.column, *b)
		}
	}
	return e, nil
}

func numeric(t abi.Type) bool {
	switch t {
	case abi.TypeU8, abi.TypeU16, abi.TypeU32, abi.TypeIPv4, abi.TypeI64, abi.TypeTime, abi.TypeF64:
		return true
	}
	return false
}

func (e *Encoder) col(b *abi.Batch) (*abi.Column, error) {
	c := b.Column(e.column)
	if c == nil {
		return nil, fmt.Errorf("continuous %s: batch has no column %q", e.column, e.column)
	}
	if !numeric(c.Type) {
		return nil, fmt.Errorf("continuous %s: column is %s, want a numeric type", e.column, c.Type)
	}
	return c, nil
}

// transform maps a raw value to the scale the bounds live on.
func (e *Encoder) transform(x float64) float64 {
	if e.log1p {
		return math.Log1p(x)
	}
	return x
}

// Fit tracks the minimum and maximum on the transformed scale.
func (e *Encoder) Fit(b *abi.Batch) error {
	c, err := e.col(b)
	if err != nil {
		return err
	}
	if e.typed && c.Type != e.typ {
		return fmt.Errorf("continuous %s: column type changed from %s to %s between fit batches", e.column, e.typ, c.Type)
	}
	e.typ, e.typed = c.Type, true
	n := c.Len()
	for i := 0; i < n; i++ {
		x := c.Float(i)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("continuous %s: row %d of the fit batch is %v", e.column, i, x)
		}
		if e.log1p && x <= -1 {
			return fmt.Errorf("continuous %s: row %d of the fit batch is %v; log1p needs values above -1", e.column, i, x)
		}
		e.lo = min(e.lo, x)
		e.hi = max(e.hi, x)
	}
	e.rows += int64(n)
	return nil
}

// FitEnd fixes the bounds: params where given, else the data's ±Eps.
func (e *Encoder) FitEnd() ([]byte, error) {
	if !e.typed {
		return nil, fmt.Errorf("continuous %s: fit saw no batch, so the column type is unknown", e.column)
	}
	st := state{Type: e.typ.String(), Log1p: e.log1p, Activation: e.activation}
	if e.fixedMin != nil {
		st.Min = e.transform(*e.fixedMin)
	} else {
		if e.rows == 0 {
			return nil, fmt.Errorf("continuous %s: fit saw no rows and no min param is set", e.column)
		}
		st.Min = e.transform(e.lo) - Eps
	}
	if e.fixedMax != nil {
		st.Max = e.transform(*e.fixedMax)
	} else {
		if e.rows == 0 {
			return nil, fmt.Errorf("continuous %s: fit saw no rows and no max param is set", e.column)
		}
		st.Max = e.transform(e.hi) + Eps
	}
	if !(st.Min < st.Max) {
		return nil, fmt.Errorf("continuous %s: lower bound %v is not below upper bound %v (transformed scale)", e.column, st.Min, st.Max)
	}
	return json.Marshal(st)
}

func (e *Encoder) Load(raw []byte) ([]abi.Output, error) {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("continuous %s: bad state: %w", e.column, err)
	}
	typ, ok := typeByName(st.Type)
	if !ok || !numeric(typ) {
		return nil, fmt.Errorf("continuous %s: state names column type %q", e.column, st.Type)
	}
	if st.Activation != abi.ActSigmoid && st.Activation != abi.ActTanh {
		return nil, fmt.Errorf("continuous %s: state names activation %q", e.column, st.Activation)
	}
	if !(st.Min < st.Max) || math.IsInf(st.Min, 0) || math.IsInf(st.Max, 0) {
		return nil, fmt.Errorf("continuous %s: state bounds [%v, %v] are unusable", e.column, st.Min, st.Max)
	}
	e.st, e.typ, e.log1p, e.ok = st, typ, st.Log1p, true
	return []abi.Output{{Name: e.column, Width: 1, Activation: st.Activation}}, nil
}

func typeByName(s string) (abi.Type, bool) {
	for t := abi.TypeU8; t <= abi.TypeString; t++ {
		if t.String() == s {
			return t, true
		}
	}
	return 0, false
}

// Encode scales each value; values outside the bounds (possible with fixed
// bounds) are clamped so the target stays within the activation's range.
func (e *Encoder) Encode(b *abi.Batch) (*abi.Matrix, error) {
	if !e.ok {
		return nil, fmt.Errorf("continuous %s: encode before load", e.column)
	}
	c, err := e.col(b)
	if err != nil {
		return nil, err
	}
	n := c.Len()
	e.m.Rows, e.m.Cols = n, 1
	e.m.Data = grow(e.m.Data, n)
	lo, span := e.st.Min, e.st.Max-e.st.Min
	tanh := e.st.Activation == abi.ActTanh
	for i := 0; i < n; i++ {
		x := c.Float(i)
		if math.IsNaN(x) || (e.log1p && x <= -1) {
			return nil, fmt.Errorf("continuous %s: row %d: cannot encode %v", e.column, i, x)
		}
		s := (e.transform(x) - lo) / span
		s = min(max(s, 0), 1)
		if tanh {
			s = 2*s - 1
		}
		e.m.Data[i] = s
	}
	return &e.m, nil
}

// Decode inverts Encode, clamping generated values to the activation's
// range first so that they decode inside the bounds.
func (e *Encoder) Decode(m *abi.Matrix) (*abi.Batch, error) {
	if !e.ok {
		return nil, fmt.Errorf("continuous %s: decode before load", e.column)
	}
	if m.Cols != 1 {
		return nil, fmt.Errorf("continuous %s: decode wants 1 column, got %d", e.column, m.Cols)
	}
	if len(m.Data) != m.Rows {
		return nil, fmt.Errorf("continuous %s: matrix %d×1 holds %d values", e.column, m.Rows, len(m.Data))
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	*col = abi.Column{Name: e.column, Type: e.typ, U8: col.U8[:0], U16: col.U16[:0], U32: col.U32[:0], I64: col.I64[:0], F64: col.F64[:0]}
	lo, span := e.st.Min, e.st.Max-e.st.Min
	tanh := e.st.Activation == abi.ActTanh
	for i, s := range m.Data {
		if math.IsNaN(s) {
			return nil, fmt.Errorf("continuous %s: row %d is NaN", e.column, i)
		}
		if tanh {
			s = (s + 1) / 2
		}
		s = min(max(s, 0), 1)
		x := s*span + lo
		if e.log1p {
			x = math.Expm1(x)
		}
		appendValue(col, x)
	}
	return &e.out, nil
}

// appendValue writes x in c's type: floats as they are, integers rounded
// to nearest and clamped to the type's range.
func appendValue(c *abi.Column, x float64) {
	switch c.Type {
	case abi.TypeF64:
		c.F64 = append(c.F64, x)
	case abi.TypeU8:
		c.U8 = append(c.U8, uint8(clampRound(x, 0, math.MaxUint8)))
	case abi.TypeU16:
		c.U16 = append(c.U16, uint16(clampRound(x, 0, math.MaxUint16)))
	case abi.TypeU32, abi.TypeIPv4:
		c.U32 = append(c.U32, uint32(clampRound(x, 0, math.MaxUint32)))
	case abi.TypeI64, abi.TypeTime:
		// ±2^63 is not representable exactly; stay one ulp inside.
		c.I64 = append(c.I64, int64(clampRound(x, -9.223372036854775e18, 9.223372036854775e18)))
	}
}

func clampRound(x, lo, hi float64) float64 {
	return min(max(math.Round(x), lo), hi)
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
