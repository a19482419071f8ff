// Package identity is the identity encoder: a numeric field that is already
// scaled to its activation's range passes through unchanged. It is the
// smallest complete encoder and exercises the plugin path end to end.
package identity

import (
	"fmt"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

func init() {
	sdk.RegisterEncoder(abi.Component{
		Name:    "identity",
		Version: "1.0.0",
		Summary: "passes a numeric field through unchanged (values already in the activation's range)",
		Params: []abi.Param{
			{Name: "activation", Type: abi.ParamString, Default: abi.ActSigmoid, Doc: "sigmoid for [0,1] values, tanh for [-1,1]"},
		},
	}, New)
}

// Encoder is the identity encoder.
type Encoder struct {
	column     string
	activation string
	out        abi.Batch // reused by every Decode
}

// New returns an identity encoder for env.Column.
func New(env sdk.Env) (sdk.FieldEncoder, error) {
	act := env.Params.String("activation")
	if act != abi.ActSigmoid && act != abi.ActTanh {
		return nil, fmt.Errorf("identity: activation must be %q or %q, got %q", abi.ActSigmoid, abi.ActTanh, act)
	}
	if env.Column == "" {
		return nil, fmt.Errorf("identity: no column named")
	}
	return &Encoder{column: env.Column, activation: act}, nil
}

func (e *Encoder) Fit(*abi.Batch) error    { return nil }
func (e *Encoder) FitEnd() ([]byte, error) { return []byte{}, nil }
func (e *Encoder) Load([]byte) ([]abi.Output, error) {
	return []abi.Output{{Name: e.column, Width: 1, Activation: e.activation}}, nil
}

// Encode copies the column's values, one loop per type.
func (e *Encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	c := b.Column(e.column)
	if c == nil {
		return fmt.Errorf("identity: batch has no column %q", e.column)
	}
	dst := out.Values[:c.Len()]
	switch c.Type {
	case abi.TypeU8:
		widen(dst, c.U8)
	case abi.TypeU16:
		widen(dst, c.U16)
	case abi.TypeU32, abi.TypeIPv4:
		widen(dst, c.U32)
	case abi.TypeI64, abi.TypeTime:
		widen(dst, c.I64)
	case abi.TypeF64:
		copy(dst, c.F64)
	default:
		return fmt.Errorf("identity: column %q is a %s column", e.column, c.Type)
	}
	return nil
}

func widen[T uint8 | uint16 | uint32 | int64](dst []float64, src []T) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = float64(x)
	}
}

// Decode copies the values into a reused f64 column (in is only valid
// during the call).
func (e *Encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	if in.ValueWidth != 1 || in.HotWidth != 0 || len(in.Values) != in.Rows {
		return nil, fmt.Errorf("identity: want %d rows of 1 value, got %d values of width %d", in.Rows, len(in.Values), in.ValueWidth)
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	col.Name, col.Type = e.column, abi.TypeF64
	col.F64 = append(col.F64[:0], in.Values...)
	return &e.out, nil
}
