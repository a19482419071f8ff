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
	"github.com/netshare/netshare/builtin/encoder/internal/fmath"
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
			{Name: abi.ParamPrivate, Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy: min and max must then be given"},
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

	st    state
	ok    bool
	small []float64 // see kernel.small
	out   abi.Batch // reused by every Decode
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
	if env.Params.Bool(abi.ParamPrivate) && (e.fixedMin == nil || e.fixedMax == nil) {
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
	typ, ok := abi.ParseType(st.Type)
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
	e.small = nil
	return []abi.Output{{Name: e.column, Width: 1, Activation: st.Activation}}, nil
}

// Encode scales each value; values outside the bounds (possible with fixed
// bounds) are clamped so the target stays within the activation's range.
// One loop per column type keeps the type switch out of the rows.
func (e *Encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	if !e.ok {
		return fmt.Errorf("continuous %s: encode before load", e.column)
	}
	c, err := e.col(b)
	if err != nil {
		return err
	}
	k := e.kernel()
	dst := out.Values[:c.Len()]
	row := -1
	switch c.Type {
	case abi.TypeU8:
		encodeUints(&k, dst, c.U8)
	case abi.TypeU16:
		encodeUints(&k, dst, c.U16)
	case abi.TypeU32, abi.TypeIPv4:
		encodeUints(&k, dst, c.U32)
	case abi.TypeI64, abi.TypeTime:
		row = k.encodeI64(dst, c.I64)
	case abi.TypeF64:
		row = k.encodeF64(dst, c.F64)
	}
	if row >= 0 {
		return fmt.Errorf("continuous %s: row %d: cannot encode %v", e.column, row, c.Float(row))
	}
	return nil
}

// kernel holds what the row loops need, fixed per batch, so that they do
// not branch on the activation: sigmoid is s*1+0 and tanh s*2-1, both
// exact, so the result equals the old branchy form bit for bit.
type kernel struct {
	lo, span float64
	a, b     float64
	log1p    bool
	// small[x] is the encoding of the integer x for x < len(small), with
	// log1p on integer columns: the same bits, without math.Log1p (pure
	// Go, the bulk of a row's cost in Wasm) for the small counts that
	// dominate packet and byte columns.
	small []float64
}

// smallInts is how many leading integers the log1p table covers (32 KiB).
const smallInts = 4096

func (e *Encoder) kernel() kernel {
	k := kernel{lo: e.st.Min, span: e.st.Max - e.st.Min, a: 1, log1p: e.log1p}
	if e.st.Activation == abi.ActTanh {
		k.a, k.b = 2, -1
	}
	if e.log1p && e.typ != abi.TypeF64 {
		if e.small == nil {
			// Built on first use: decode-only instances never pay for it.
			e.small = make([]float64, smallInts)
			for x := range e.small {
				e.small[x] = k.scale(math.Log1p(float64(x)))
			}
		}
		k.small = e.small
	}
	return k
}

// scale maps a value on the transformed scale into the activation's range.
// t is never NaN here, so clamp01 is exact.
func (k *kernel) scale(t float64) float64 {
	return fmath.Clamp01((t-k.lo)/k.span)*k.a + k.b
}

// encodeUints needs no checks: unsigned values are never NaN nor <= -1.
func encodeUints[T uint8 | uint16 | uint32](k *kernel, dst []float64, src []T) {
	dst = dst[:len(src)]
	if k.log1p {
		small := k.small
		for i, x := range src {
			if uint64(x) < uint64(len(small)) {
				dst[i] = small[x]
			} else {
				dst[i] = k.scale(math.Log1p(float64(x)))
			}
		}
		return
	}
	for i, x := range src {
		dst[i] = k.scale(float64(x))
	}
}

// encodeI64 returns the first row log1p cannot take, or -1.
func (k *kernel) encodeI64(dst []float64, src []int64) int {
	dst = dst[:len(src)]
	if k.log1p {
		small := k.small
		for i, x := range src {
			if uint64(x) < uint64(len(small)) {
				dst[i] = small[x]
				continue
			}
			if x <= -1 {
				return i
			}
			dst[i] = k.scale(math.Log1p(float64(x)))
		}
		return -1
	}
	for i, x := range src {
		dst[i] = k.scale(float64(x))
	}
	return -1
}

// encodeF64 returns the first NaN row (or one log1p cannot take), or -1.
func (k *kernel) encodeF64(dst []float64, src []float64) int {
	dst = dst[:len(src)]
	if k.log1p {
		for i, x := range src {
			if !(x > -1) { // NaN too
				return i
			}
			dst[i] = k.scale(math.Log1p(x))
		}
		return -1
	}
	for i, x := range src {
		if x != x {
			return i
		}
		dst[i] = k.scale(x)
	}
	return -1
}

// Decode inverts Encode, clamping generated values to the activation's
// range first so that they decode inside the bounds. It writes the
// column's type directly, one loop per type, into a reused batch.
func (e *Encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	if !e.ok {
		return nil, fmt.Errorf("continuous %s: decode before load", e.column)
	}
	if in.ValueWidth != 1 || in.HotWidth != 0 || len(in.Values) != in.Rows {
		return nil, fmt.Errorf("continuous %s: decode wants %d rows of 1 value, got %d values of width %d", e.column, in.Rows, len(in.Values), in.ValueWidth)
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	col.Name, col.Type = e.column, e.typ
	d := e.decoder()
	src := in.Values
	row := -1
	switch e.typ {
	case abi.TypeF64:
		col.F64 = abi.Grow(col.F64, len(src))
		row = d.floats(col.F64, src)
	case abi.TypeU8:
		col.U8 = abi.Grow(col.U8, len(src))
		row = decodeInts(&d, col.U8, src, 0, math.MaxUint8)
	case abi.TypeU16:
		col.U16 = abi.Grow(col.U16, len(src))
		row = decodeInts(&d, col.U16, src, 0, math.MaxUint16)
	case abi.TypeU32, abi.TypeIPv4:
		col.U32 = abi.Grow(col.U32, len(src))
		row = decodeInts(&d, col.U32, src, 0, math.MaxUint32)
	case abi.TypeI64, abi.TypeTime:
		// ±2^63 is not representable exactly; stay one ulp inside.
		col.I64 = abi.Grow(col.I64, len(src))
		row = decodeInts(&d, col.I64, src, -9.223372036854775e18, 9.223372036854775e18)
	}
	if row >= 0 {
		return nil, fmt.Errorf("continuous %s: row %d is NaN", e.column, row)
	}
	return &e.out, nil
}

// decoder is Encode's inverse as plain values: s in the activation's range
// maps to [0,1] as s*a+b ((s+1)/2 for tanh, exact either way), is clamped,
// then scaled and, with log1p, passed through expm1.
type decoder struct {
	lo, span float64
	a, b     float64
	expm1    bool
}

func (e *Encoder) decoder() decoder {
	d := decoder{lo: e.st.Min, span: e.st.Max - e.st.Min, a: 1, expm1: e.log1p}
	if e.st.Activation == abi.ActTanh {
		d.a, d.b = 0.5, 0.5
	}
	return d
}

// unscale maps s to the bounds' scale, before any expm1.
func (d *decoder) unscale(s float64) float64 {
	return fmath.Clamp01(s*d.a+d.b)*d.span + d.lo
}

// floats returns the first NaN row, or -1.
func (d *decoder) floats(dst, src []float64) int {
	dst = dst[:len(src)]
	if d.expm1 {
		for i, s := range src {
			if s != s {
				return i
			}
			dst[i] = math.Expm1(d.unscale(s))
		}
		return -1
	}
	for i, s := range src {
		if s != s {
			return i
		}
		dst[i] = d.unscale(s)
	}
	return -1
}

// decodeInts writes integers rounded to nearest and clamped to [lo, hi],
// returning the first NaN row, or -1.
func decodeInts[T uint8 | uint16 | uint32 | int64](d *decoder, dst []T, src []float64, lo, hi float64) int {
	dst = dst[:len(src)]
	if d.expm1 {
		for i, s := range src {
			if s != s {
				return i
			}
			dst[i] = T(clampRound(math.Expm1(d.unscale(s)), lo, hi))
		}
		return -1
	}
	for i, s := range src {
		if s != s {
			return i
		}
		dst[i] = T(clampRound(d.unscale(s), lo, hi))
	}
	return -1
}

// clampRound rounds x to nearest (halves away from zero, as math.Round)
// and clamps it to [lo, hi], which must be integers; x is never NaN here.
// Clamping first is the same for integer bounds and keeps ±Inf out of the
// rounding, which is then branch-free: with t = trunc(y), y-t is exact and
// trunc(2(y-t)) is the ±1 or 0 to add. Trunc is one Wasm instruction;
// math.Round's bit fiddling and min/max's runtime calls cost more.
func clampRound(x, lo, hi float64) float64 {
	y := x
	if y < lo {
		y = lo
	}
	if y > hi {
		y = hi
	}
	t := math.Trunc(y)
	return t + math.Trunc(2*(y-t))
}
