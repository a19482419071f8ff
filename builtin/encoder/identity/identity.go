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

func (e *Encoder) Encode(b *abi.Batch) (*abi.Matrix, error) {
	c := b.Column(e.column)
	if c == nil {
		return nil, fmt.Errorf("identity: batch has no column %q", e.column)
	}
	if c.Type == abi.TypeString {
		return nil, fmt.Errorf("identity: column %q is a string column", e.column)
	}
	m := &abi.Matrix{Rows: c.Len(), Cols: 1, Data: make([]float64, c.Len())}
	for i := range m.Data {
		m.Data[i] = c.Float(i)
	}
	return m, nil
}

func (e *Encoder) Decode(m *abi.Matrix) (*abi.Batch, error) {
	if m.Cols != 1 {
		return nil, fmt.Errorf("identity: want 1 column, got %d", m.Cols)
	}
	return &abi.Batch{Columns: []abi.Column{{Name: e.column, Type: abi.TypeF64, F64: append([]float64(nil), m.Data...)}}}, nil
}
