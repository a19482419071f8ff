// Package ipbits is the ip-bits encoder: an IPv4 address as its 32 bits,
// most significant first, each bit a two-way one-hot (0 → [1,0], 1 → [0,1])
// so that the GAN applies 32 separate two-way softmaxes (NetShare's
// BitField with n_bits = 32). Decoding takes the larger of each pair.
//
// Popular addresses (package popular). Drawn bit by bit, an address the
// generator has not learned exactly comes out as a new address one or a
// few bits away from a real one, so a host that carries many flows in the
// real trace is smeared over many near-copies in the synthetic one and
// the popularity curve flattens (the default run's sample: 63 real
// addresses, 157 synthetic, 15% of synthetic records on addresses within
// 1–9 bits of a real one; docs/encoders.md). Addresses in at least
// min_flows distinct flows get a category each before the bits, and the
// bits carry only the tail. A rare address is never a category, so the
// synthetic trace reproduces an address only when many flows share it.
package ipbits

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/internal/popular"
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
			{Name: "min_flows", Type: abi.ParamInt, Default: int64(5), Doc: "an address seen in at least this many distinct flows gets a category of its own before the bits (0: bits only)"},
			{Name: "max_popular", Type: abi.ParamInt, Default: int64(256), Doc: "at most this many such categories, the most common addresses"},
			// Under privacy the categories would be read from the private
			// data: the bits alone read nothing, so they are all there is.
			{Name: abi.ParamPrivate, Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy: no categories (the bits read nothing from the data)"},
		},
	}, New)
}

// Encoder is the ip-bits encoder for one column.
type Encoder struct {
	column string
	typ    abi.Type // column type seen at fit (ipv4 or u32), restored on decode
	fitted bool
	fit    *popular.Counter // nil: no categories
	max    int

	popular []uint32       // loaded categories, index = category
	index   map[uint32]int // address → category
	out     abi.Batch
}

type state struct {
	Type string `json:"type"`
	// Popular are the addresses with a category, in category order.
	Popular []uint32 `json:"popular,omitempty"`
}

// New returns an ip-bits encoder for env.Column.
func New(env sdk.Env) (sdk.FieldEncoder, error) {
	if env.Column == "" {
		return nil, fmt.Errorf("ip-bits: no column named")
	}
	e := &Encoder{column: env.Column, typ: abi.TypeIPv4, max: env.Params.Int("max_popular")}
	minFlows := env.Params.Int("min_flows")
	if minFlows < 0 || e.max < 0 {
		return nil, fmt.Errorf("ip-bits %s: min_flows %d and max_popular %d must not be negative", env.Column, minFlows, e.max)
	}
	if minFlows > 0 && e.max > 0 && !env.Params.Bool(abi.ParamPrivate) {
		e.fit = popular.NewCounter(env.Column, minFlows, false)
	}
	return e, nil
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

// Fit records the column's type and counts the flows of each address.
func (e *Encoder) Fit(b *abi.Batch) error {
	c, err := e.col(b)
	if err != nil {
		return err
	}
	if e.fitted && c.Type != e.typ {
		return fmt.Errorf("ip-bits %s: column type changed from %s to %s between fit batches", e.column, e.typ, c.Type)
	}
	e.typ, e.fitted = c.Type, true
	if e.fit != nil {
		e.fit.Add(b, func(r int) uint64 { return uint64(c.U32[r]) })
	}
	return nil
}

func (e *Encoder) FitEnd() ([]byte, error) {
	s := state{Type: e.typ.String()}
	if e.fit != nil {
		for _, v := range e.fit.Popular(e.max) {
			s.Popular = append(s.Popular, uint32(v))
		}
	}
	return json.Marshal(s)
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
	e.popular, e.index = s.Popular, nil
	var outs []abi.Output
	if len(s.Popular) > 0 {
		e.index = make(map[uint32]int, len(s.Popular))
		for i, v := range s.Popular {
			if _, dup := e.index[v]; dup {
				return nil, fmt.Errorf("ip-bits %s: bad state: address %08x is popular twice", e.column, v)
			}
			e.index[v] = i
		}
		// One category per popular address and one for "any other",
		// which the bits then spell.
		outs = append(outs, abi.Output{Name: e.column + ".popular", Width: len(s.Popular) + 1, Discrete: true, Activation: abi.ActSoftmax})
	}
	for i := range Bits {
		outs = append(outs, abi.Output{Name: e.column + ".bit" + strconv.Itoa(i), Width: 2, Discrete: true, Activation: abi.ActSoftmax})
	}
	return outs, nil
}

// hot is the number of indices a row has on the wire.
func (e *Encoder) hot() int {
	if len(e.popular) > 0 {
		return Bits + 1
	}
	return Bits
}

// Encode writes per address its category, when it has categories, and 32
// bit indices. A popular address's bits are its own too, so that the bit
// heads learn from every row.
func (e *Encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	c, err := e.col(b)
	if err != nil {
		return err
	}
	w := e.hot()
	if out.HotWidth != w || len(out.Hot) != len(c.U32)*w {
		return fmt.Errorf("ip-bits %s: encode into %d×%d indices, want %d×%d", e.column, out.Rows, out.HotWidth, len(c.U32), w)
	}
	for i, v := range c.U32 {
		row := out.Hot[i*w:]
		if w > Bits {
			cat, ok := e.index[v]
			if !ok {
				cat = len(e.popular)
			}
			row[0] = uint32(cat)
			row = row[1:]
		}
		encodeRow((*[Bits]uint32)(row), v)
	}
	return nil
}

// Decode sets each bit whose index is 1: the host's argmax picks the
// second element of a pair only when it is the larger (ties give 0, as
// NetShare's p1 > p0).
// With categories, a popular category decodes to its address and "any
// other" to the bits.
func (e *Encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	w := e.hot()
	if in.HotWidth != w || len(in.Hot) != in.Rows*w {
		return nil, fmt.Errorf("ip-bits %s: decode wants %d indices a row, got %d rows of %d", e.column, w, in.Rows, in.HotWidth)
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	col.Name, col.Type = e.column, e.typ
	col.U32 = abi.Grow(col.U32, in.Rows)
	for i := range col.U32 {
		row := in.Hot[i*w:]
		if w > Bits {
			if cat := int(row[0]); cat < len(e.popular) {
				col.U32[i] = e.popular[cat]
				continue
			}
			row = row[1:]
		}
		col.U32[i] = decodeRow((*[Bits]uint32)(row))
	}
	return &e.out, nil
}
