// Package encoding turns a chunk of flows into the tensors DoppelGANger
// consumes (host/internal/tensor) and generated tensors back into records,
// through the field encoders that run as plugins. It also fits those
// encoders on the real trace and saves their state beside the model, so
// that generation needs no access to the real data.
//
// Layout, as NetShare master: attributes are the attribute fields' outputs
// in configuration order, then the flow tags when there is more than one
// chunk (started-here, then one per chunk, each a two-way softmax), then
// the flow start of the time field; features are the time field's
// interarrival first, then the feature fields' outputs in order.
//
// The time field (Role "time") is one encoder opened twice with the same
// fitted state, part = "start" (attribute) and part = "iat" (feature); its
// state is fitted per chunk on the chunk's flows. Decoding composes each
// record's timestamp as start + running sum of interarrivals (the first
// taken as 0), or, in the encoder's "raw" mode, takes the feature as the
// timestamp.
//
// Encoders whose manifest sets Defaults[abi.DefaultSharedFit] (word2vec)
// are fitted once per group of fields with the same encoder and params
// (ignoring the names in Defaults[abi.DefaultPerFieldParams]); every field
// of the group loads that one state.
package encoding

import (
	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/tensor"
)

// Config is the encoding of a trace. The chunks (and with them the flow
// tags, present when there is more than one) come from the flow.Set.
type Config struct {
	Fields []abi.Field
	// MaxLen is L, the records kept per flow and chunk (longer flows are
	// truncated to their first MaxLen records, as NetShare does); 0 means
	// the flow.Set's MaxFlowLen.
	MaxLen int
	// Seed derives each encoder's seed.
	Seed int64
	// Private is set under differential privacy: every encoder gets
	// private = true and must fit without reading bounds or vocabularies
	// from the data; the time field gets the chunk's bounds as its span.
	Private bool
	// Prior holds encoder states fitted on another trace, under
	// differential privacy a public one (the run privacy.pretrained
	// names): a field of the same name, encoder and params takes its
	// state, seed and params and is not fitted, so it is not given the
	// private param either; every other field is fitted as usual.
	Prior []FieldState
	// ReadFile reads a "pretrained" path; nil means os.ReadFile.
	ReadFile func(path string) ([]byte, error)
	// FitBatch is the rows per fit call (default 65536).
	FitBatch int
}

// StateVersion is the version of the saved state format.
const StateVersion = 1

// State is the fitted encoding: saved beside the model, it is all that
// generation needs.
type State struct {
	Version int          `json:"version"`
	NChunks int          `json:"n_chunks"`
	MaxLen  int          `json:"max_len"`
	Fields  []FieldState `json:"fields"`
	// Time is the time field, if any.
	Time *TimeState `json:"time,omitempty"`
	// AttrOutputs and FeatOutputs are the tensor layout.
	AttrOutputs []tensor.Output `json:"attr_outputs"`
	FeatOutputs []tensor.Output `json:"feat_outputs"`
}

// FieldState is one non-time field's fitted encoder.
type FieldState struct {
	abi.Field
	Module  string       `json:"module"`
	Version string       `json:"version"`
	Seed    int64        `json:"seed"`
	State   []byte       `json:"state"` // opaque to the host; base64 in JSON
	Outputs []abi.Output `json:"outputs"`
}

// TimeState is the time field's encoder with one state per chunk.
type TimeState struct {
	abi.Field
	Module  string `json:"module"`
	Version string `json:"version"`
	Seed    int64  `json:"seed"`
	// Chunks holds each chunk's state; nil for a chunk without flows.
	Chunks       [][]byte     `json:"chunks"`
	StartOutputs []abi.Output `json:"start_outputs"`
	IATOutputs   []abi.Output `json:"iat_outputs"`
}

type resolved struct {
	field  abi.Field
	module string
	comp   abi.Component
	params map[string]any
	seed   int64
	group  string // shared-fit group key, "" for none
}
