// Package tensor holds the contract between the field encoders and the GAN:
// what a chunk of flows looks like once encoded, and how each output slice is
// to be activated. It knows nothing of network fields or of the model.
package tensor

import "fmt"

// Kind says whether an output slice is a one-hot choice or a real value.
type Kind uint8

const (
	Continuous Kind = iota
	Discrete
)

func (k Kind) String() string {
	if k == Discrete {
		return "discrete"
	}
	return "continuous"
}

// Activation is the generator head's output non-linearity for a slice.
type Activation uint8

const (
	Softmax Activation = iota // Discrete slices.
	Sigmoid                   // Continuous values scaled to [0,1].
	Tanh                      // Continuous values scaled to [-1,1].
)

func (a Activation) String() string {
	switch a {
	case Softmax:
		return "softmax"
	case Sigmoid:
		return "sigmoid"
	case Tanh:
		return "tanh"
	}
	return fmt.Sprintf("activation(%d)", uint8(a))
}

// Output describes one contiguous slice of an attribute or feature vector.
type Output struct {
	Name       string
	Width      int
	Kind       Kind
	Activation Activation
	// FirstUnused: nothing reads this output on a flow's first record (a
	// time field's interarrival: the flow begins at its start attribute).
	FirstUnused bool `json:"first_unused,omitempty"`
}

// Width sums the widths of outs.
func Width(outs []Output) int {
	w := 0
	for _, o := range outs {
		w += o.Width
	}
	return w
}

// Set is one chunk's training data in DoppelGANger's layout. All slices are
// row-major and dense. GenFlags marks real records (1) versus padding (0);
// the GAN derives its two-dimensional end-of-flow flag from it.
type Set struct {
	N int // flows
	L int // maximum records per flow (padded length)

	Attributes []float32 // N × Width(AttrOutputs)
	Features   []float32 // N × L × Width(FeatOutputs)
	GenFlags   []float32 // N × L

	AttrOutputs []Output
	FeatOutputs []Output
}

// Validate checks that the slice lengths agree with the shapes.
func (s *Set) Validate() error {
	a, d := Width(s.AttrOutputs), Width(s.FeatOutputs)
	switch {
	case s.N < 0 || s.L <= 0:
		return fmt.Errorf("tensor set: bad shape N=%d L=%d", s.N, s.L)
	case len(s.Attributes) != s.N*a:
		return fmt.Errorf("tensor set: attributes have %d values, want %d×%d", len(s.Attributes), s.N, a)
	case len(s.Features) != s.N*s.L*d:
		return fmt.Errorf("tensor set: features have %d values, want %d×%d×%d", len(s.Features), s.N, s.L, d)
	case len(s.GenFlags) != s.N*s.L:
		return fmt.Errorf("tensor set: gen flags have %d values, want %d×%d", len(s.GenFlags), s.N, s.L)
	}
	for _, o := range append(append([]Output(nil), s.AttrOutputs...), s.FeatOutputs...) {
		if o.Width <= 0 {
			return fmt.Errorf("tensor set: output %q has width %d", o.Name, o.Width)
		}
		if (o.Kind == Discrete) != (o.Activation == Softmax) {
			return fmt.Errorf("tensor set: output %q: %s with %s", o.Name, o.Kind, o.Activation)
		}
	}
	return nil
}
