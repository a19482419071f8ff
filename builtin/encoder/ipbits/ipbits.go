// Package ipbits is the ip-bits encoder: an IPv4 address as its 32 bits,
// most significant first, each bit a two-way one-hot (0 → [1,0], 1 → [0,1])
// so that the GAN applies 32 separate two-way softmaxes (NetShare's
// BitField with n_bits = 32). Decoding takes the larger of each pair.
package ipbits

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// Bits is the number of bits of an address; the encoded width is 2*Bits.
const Bits = 32

func init() {
	sdk.RegisterEncoder(abi.Component{
		Name:    "ip-bits",
		Version: "1.0.0",
		Summary: "IPv4 address as 32 bits, MSB first, each a two-way softmax (64 dims)",
		Params: []abi.Param{
			// Accepted so that the host can require every encoder to
			// acknowledge privacy; the bits read no statistics from the
			// data, so nothing changes.
			{Name: abi.ParamPrivate, Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy; ip-bits reads nothing from the data, so it has no effect"},
		},
	}, New)
}

// Encoder is the ip-bits encoder for one column.
type Encoder struct {
	column string
	typ    abi.Type // column type seen at fit (ipv4 or u32), restored on decode
	fitted bool
	out    abi.Batch
}

type state struct {
	Type string `json:"type"`
}

// New returns an ip-bits encoder for env.Column.
func New(env sdk.Env) (sdk.FieldEncoder, error) {
	if env.Column == "" {
		return nil, fmt.Errorf("ip-bits: no column named")
	}
	return &Encoder{column: env.Column, typ: abi.TypeIPv4}, nil
}

func (e *Encoder) col(b *abi.Batch) (*abi.Column, error) {
	c := b.Column(e.column)
	if c == nil {
		return nil, fmt.Errorf("ip-bits %s: batch has no column %q", e.column, e.column)
	}
	if c.Type != abi.TypeIPv4 && c.Type != abi.TypeU32 {
		return nil, fmt.Errorf("ip-bits %s: column is %s, want ipv4 or u32", e.column, c.Type)
	}
	return c, nil
}

// Fit records the column's type; the encoding itself needs no statistics.
func (e *Encoder) Fit(b *abi.Batch) error {
	c, err := e.col(b)
	if err != nil {
		return err
	}
	if e.fitted && c.Type != e.typ {
		return fmt.Errorf("ip-bits %s: column type changed from %s to %s between fit batches", e.column, e.typ, c.Type)
	}
	e.typ, e.fitted = c.Type, true
	return nil
}

func (e *Encoder) FitEnd() ([]byte, error) {
	return json.Marshal(state{Type: e.typ.String()})
}

func (e *Encoder) Load(st []byte) ([]abi.Output, error) {
	var s state
	if err := json.Unmarshal(st, &s); err != nil {
		return nil, fmt.Errorf("ip-bits %s: bad state: %w", e.column, err)
	}
	switch s.Type {
	case abi.TypeIPv4.String():
		e.typ = abi.TypeIPv4
	case abi.TypeU32.String():
		e.typ = abi.TypeU32
	default:
		return nil, fmt.Errorf("ip-bits %s: state names column type %q, want ipv4 or u32", e.column, s.Type)
	}
	outs := make([]abi.Output, Bits)
	for i := range outs {
		outs[i] = abi.Output{Name: e.column + ".bit" + strconv.Itoa(i), Width: 2, Discrete: true, Activation: abi.ActSoftmax}
	}
	return outs, nil
}

// Encode writes 32 bit indices per address.
func (e *Encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	c, err := e.col(b)
	if err != nil {
		return err
	}
	if out.HotWidth != Bits || len(out.Hot) != len(c.U32)*Bits {
		return fmt.Errorf("ip-bits %s: encode into %d×%d indices, want %d×%d", e.column, out.Rows, out.HotWidth, len(c.U32), Bits)
	}
	for i, v := range c.U32 {
		encodeRow((*[Bits]uint32)(out.Hot[i*Bits:]), v)
	}
	return nil
}

// Decode sets each bit whose index is 1: the host's argmax picks the
// second element of a pair only when it is the larger (ties give 0, as
// NetShare's p1 > p0).
func (e *Encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	if in.HotWidth != Bits || len(in.Hot) != in.Rows*Bits {
		return nil, fmt.Errorf("ip-bits %s: decode wants %d indices a row, got %d rows of %d", e.column, Bits, in.Rows, in.HotWidth)
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	col.Name, col.Type = e.column, e.typ
	col.U32 = abi.Grow(col.U32, in.Rows)
	for i := range col.U32 {
		col.U32[i] = decodeRow((*[Bits]uint32)(in.Hot[i*Bits:]))
	}
	return &e.out, nil
}
