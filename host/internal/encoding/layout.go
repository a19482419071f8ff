package encoding

import (
	"errors"
	"fmt"
	"math"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/tensor"
)

// layout is how one encoder's rows sit in a tensor row: its outputs in
// order, each at an offset from the field's first column. A discrete
// output is one index on the wire and a one-hot vector in the tensor.
type layout struct {
	parts       []part
	hot, values int // abi.Layout of the outputs
	width       int
	// bits is set when every output is a two-way discrete one (ip-bits),
	// which has its own tight loops.
	bits bool
}

type part struct {
	name     string
	off, w   int
	discrete bool
}

func newLayout(outs []abi.Output) layout {
	l := layout{bits: len(outs) > 0}
	for _, o := range outs {
		l.parts = append(l.parts, part{name: o.Name, off: l.width, w: o.Width, discrete: o.Discrete})
		l.width += o.Width
		l.bits = l.bits && o.Discrete && o.Width == 2
	}
	l.hot, l.values = abi.Layout(outs)
	return l
}

// put writes row i of e into d, the field's columns of a tensor row
// (zeroed): an index becomes a one-hot vector, a value a float32.
func (l *layout) put(e *abi.Encoded, i int, d []float32) error {
	hot := e.Hot[i*l.hot : (i+1)*l.hot]
	if l.bits {
		d = d[:2*len(hot)]
		for k, x := range hot {
			if x > 1 {
				return fmt.Errorf("output %q: index %d outside its width 2", l.parts[k].name, x)
			}
			d[2*k+int(x)] = 1
		}
		return nil
	}
	vals := e.Values[i*l.values : (i+1)*l.values]
	for _, p := range l.parts {
		if p.discrete {
			x := hot[0]
			if int(x) >= p.w {
				return fmt.Errorf("output %q: index %d outside its width %d", p.name, x, p.w)
			}
			d[p.off+int(x)] = 1
			hot = hot[1:]
			continue
		}
		for j, v := range vals[:p.w] {
			d[p.off+j] = float32(v)
		}
		vals = vals[p.w:]
	}
	return nil
}

// get fills row i of e from s, the field's columns of a tensor row: the
// argmax of each discrete output (the lowest index on ties) and the values
// of continuous ones. It returns the column of a NaN or infinity in s, or
// -1.
func (l *layout) get(s []float32, e *abi.Encoded, i int) int {
	hot := e.Hot[i*l.hot : (i+1)*l.hot]
	// bad collects nonFinite over the row: a NaN or infinity is found
	// without a branch per value.
	var bad uint32
	if l.bits {
		s = s[:2*len(hot)]
		for k := range hot {
			a, b := s[2*k], s[2*k+1]
			bad |= nonFinite(a) | nonFinite(b)
			// In a register the compiler makes this a conditional move:
			// generated bits are coin flips a branch would mispredict.
			var x uint32
			if b > a {
				x = 1
			}
			hot[k] = x
		}
		if bad != 0 {
			return badColumn(s)
		}
		return -1
	}
	vals := e.Values[i*l.values : (i+1)*l.values]
	for _, p := range l.parts {
		v := s[p.off : p.off+p.w]
		if p.discrete {
			best := 0
			for j, x := range v {
				bad |= nonFinite(x)
				if x > v[best] {
					best = j
				}
			}
			hot[0] = uint32(best)
			hot = hot[1:]
			continue
		}
		for j, x := range v {
			bad |= nonFinite(x)
			vals[j] = float64(x)
		}
		vals = vals[p.w:]
	}
	if bad != 0 {
		return badColumn(s[:l.width])
	}
	return -1
}

// nonFinite is 1 for a NaN or an infinity (all exponent bits set) and 0
// otherwise: adding one to the exponent carries into the sign bit only
// from all ones.
func nonFinite(x float32) uint32 {
	return (math.Float32bits(x)&0x7f800000 + 0x00800000) >> 31
}

// badColumn is the index of v's first NaN or infinity.
func badColumn(v []float32) int {
	for j, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return j
		}
	}
	return -1
}

// resize makes e hold rows rows of l's layout, keeping its storage.
func (l *layout) resize(e *abi.Encoded, rows int) {
	e.Rows, e.HotWidth, e.ValueWidth = rows, l.hot, l.values
	e.Hot = abi.Grow(e.Hot, rows*l.hot)
	e.Values = abi.Grow(e.Values, rows*l.values)
}

// layout computes the tensor outputs in NetShare master's order.
func (s *State) layout() error {
	s.AttrOutputs, s.FeatOutputs = nil, nil
	add := func(dst *[]tensor.Output, outs []abi.Output) error {
		for _, o := range outs {
			t, err := toTensor(o)
			if err != nil {
				return err
			}
			*dst = append(*dst, t)
		}
		return nil
	}
	for _, f := range s.Fields {
		if f.Role == abi.RoleAttribute {
			if err := add(&s.AttrOutputs, f.Outputs); err != nil {
				return err
			}
		}
	}
	s.AttrOutputs = append(s.AttrOutputs, flowTagOutputs(s.NChunks)...)
	if s.Time != nil {
		if err := add(&s.AttrOutputs, s.Time.StartOutputs); err != nil {
			return err
		}
		n := len(s.FeatOutputs)
		if err := add(&s.FeatOutputs, s.Time.IATOutputs); err != nil {
			return err
		}
		// A flow's records are timed from its start: the first
		// interarrival is taken as 0 whatever was generated
		// (docs/encoders.md, time). Raw mode has no start: its feature is
		// the timestamp itself.
		if len(s.Time.StartOutputs) > 0 {
			for i := n; i < len(s.FeatOutputs); i++ {
				s.FeatOutputs[i].FirstUnused = true
			}
		}
	}
	for _, f := range s.Fields {
		if f.Role == abi.RoleFeature {
			if err := add(&s.FeatOutputs, f.Outputs); err != nil {
				return err
			}
		}
	}
	if len(s.FeatOutputs) == 0 {
		return errors.New("encoding: no feature outputs: configure a time field or a feature field")
	}
	return nil
}

// flowTagOutputs are NetShare's 2+2N flow tags, present when N > 1.
func flowTagOutputs(n int) []tensor.Output {
	if n <= 1 {
		return nil
	}
	outs := []tensor.Output{{Name: "flow.start_here", Width: 2, Kind: tensor.Discrete, Activation: tensor.Softmax}}
	for i := 0; i < n; i++ {
		outs = append(outs, tensor.Output{Name: fmt.Sprintf("flow.chunk%d", i), Width: 2, Kind: tensor.Discrete, Activation: tensor.Softmax})
	}
	return outs
}

func toTensor(o abi.Output) (tensor.Output, error) {
	t := tensor.Output{Name: o.Name, Width: o.Width}
	switch o.Activation {
	case abi.ActSoftmax:
		t.Activation = tensor.Softmax
	case abi.ActSigmoid:
		t.Activation = tensor.Sigmoid
	case abi.ActTanh:
		t.Activation = tensor.Tanh
	default:
		return t, fmt.Errorf("output %q: unknown activation %q", o.Name, o.Activation)
	}
	if o.Discrete {
		t.Kind = tensor.Discrete
	}
	if o.Discrete != (o.Activation == abi.ActSoftmax) {
		return t, fmt.Errorf("output %q: discrete=%v with activation %s (discrete outputs are softmax, continuous ones sigmoid or tanh)", o.Name, o.Discrete, o.Activation)
	}
	return t, nil
}
