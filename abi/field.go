package abi

import (
	"encoding/json"
	"fmt"
)

// Field is one record column and how the GAN sees it: a pipeline's
// [[fields]] entry, and an entry of a format's default fields.
type Field struct {
	Name    string         `toml:"name" json:"name"`
	Role    string         `toml:"role" json:"role"`       // RoleAttribute, RoleFeature or RoleTime
	Encoder string         `toml:"encoder" json:"encoder"` // component name, "module/name" to pick a module
	Params  map[string]any `toml:"params" json:"params,omitempty"`
}

// Roles of a field.
const (
	RoleAttribute = "attribute" // one value per flow
	RoleFeature   = "feature"   // one value per record
	RoleTime      = "time"      // the timestamp: flow start (attribute) and interarrival (feature)
)

// Encoder params the host sets itself. An encoder that declares them gets
// them; one that does not declare ParamPrivate is refused under
// differential privacy, and a time encoder must declare ParamPart.
const (
	// ParamPrivate (bool) is true under differential privacy: the encoder
	// must then fit nothing (bounds, vocabularies) from the data.
	ParamPrivate = "private"
	// ParamPart (string) says which half of the time field an instance
	// serves: PartStart (the flow start, an attribute) or PartIAT (the
	// interarrival, a feature). The host opens both with one state.
	ParamPart = "part"
	// ParamSpanStart and ParamSpanEnd (int, µs since the epoch) bound a
	// time encoder's values: the chunk's first and last instants, given
	// under differential privacy in place of bounds from the records.
	ParamSpanStart = "span_start"
	ParamSpanEnd   = "span_end"
)

// Values of ParamPart.
const (
	PartStart = "start"
	PartIAT   = "iat"
)

// Columns the host adds to the batches it sends.
const (
	// FlowColumn (u32) is each record's flow index, sent to encoders with
	// rows grouped by flow in time order, and returned by an encoder that
	// decodes whole flows (the time field).
	FlowColumn = "_flow"
	// SplitColumn (u8) marks, in the real records a metric receives, the
	// training records (0) and the held-out ones (1).
	SplitColumn = "_split"
)

// Keys of Component.Defaults the host reads.
const (
	// DefaultFields (FieldDefaults, formats): the fields modelled when the
	// pipeline names none.
	DefaultFields = "fields"
	// DefaultPrivateFields (FieldDefaults, formats): the same under
	// differential privacy, where nothing may be fitted on the data.
	DefaultPrivateFields = "private_fields"
	// DefaultSharedFit (bool, encoders): fit one instance per group of
	// fields with the same encoder and params, and load its state for every
	// field of the group (word2vec's one embedding of ports and protocols).
	DefaultSharedFit = "shared_fit"
	// DefaultPerFieldParams ([]string, encoders): params that may differ
	// within a shared-fit group.
	DefaultPerFieldParams = "per_field_params"
	// DefaultColumnParams ([]string, metrics): params whose values name
	// the record columns the metric reads; the host sends it only those
	// columns (every column when the key is absent).
	DefaultColumnParams = "column_params"
)

// FieldDefaults is what a format offers under DefaultFields and
// DefaultPrivateFields. The host keeps the fields whose column the records
// have, in order, then applies Strings to each string column not named yet.
type FieldDefaults struct {
	Fields []Field `json:"fields"`
	// Strings, when set, models every other string column with at most
	// MaxValues distinct values (labels and other small vocabularies, not
	// identifiers).
	Strings *StringDefault `json:"strings,omitempty"`
}

// StringDefault is the field made of a string column (Name unset).
type StringDefault struct {
	Field
	MaxValues int `json:"max_values"`
}

// Default decodes Defaults[key] into v, whatever form it has: the Go
// value a component registered, or the JSON one a manifest carried across
// the boundary. It reports whether the key is present.
func (c *Component) Default(key string, v any) (bool, error) {
	raw, ok := c.Defaults[key]
	if !ok || raw == nil {
		return false, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return true, fmt.Errorf("%s %q: defaults %q: %w", c.Kind, c.Name, key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("%s %q: defaults %q: %w", c.Kind, c.Name, key, err)
	}
	return true, nil
}

// Apply lists the fields d models in records: each of d.Fields whose
// column records have, in order, then, when d.Strings is set, each other
// string column with at most d.Strings.MaxValues distinct values, in
// column order.
func (d *FieldDefaults) Apply(records *Batch) []Field {
	var fs []Field
	named := map[string]bool{}
	for _, f := range d.Fields {
		if records.Column(f.Name) != nil {
			fs = append(fs, f)
			named[f.Name] = true
		}
	}
	if d.Strings == nil {
		return fs
	}
	for _, c := range records.Columns {
		if c.Type == TypeString && !named[c.Name] && len(c.Dict) <= d.Strings.MaxValues {
			f := d.Strings.Field
			f.Name = c.Name
			fs = append(fs, f)
		}
	}
	return fs
}
