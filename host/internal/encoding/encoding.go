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
// Encoders whose manifest sets Defaults["shared_fit"] (word2vec) are fitted
// once per group of fields with the same encoder and params (ignoring the
// names in Defaults["per_field_params"]); every field of the group loads
// that one state.
package encoding

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/tensor"
)

// Roles of a field.
const (
	RoleAttribute = "attribute" // one value per flow (DoppelGANger attribute)
	RoleFeature   = "feature"   // one value per record (time series)
	RoleTime      = "time"      // the timestamp: flow start attribute + interarrival feature
)

// FlowColumn is the host-added column of flow indices.
const FlowColumn = "_flow"

// Field configures one column's encoding; the pipeline TOML fills it.
type Field struct {
	Name    string         // the record column
	Role    string         // RoleAttribute, RoleFeature or RoleTime
	Encoder string         // component name, "module/name" to pick a module
	Params  map[string]any // the encoder's params
}

// Config is the encoding of a trace. The chunks (and with them the flow
// tags, present when there is more than one) come from the flow.Set.
type Config struct {
	Fields []Field
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
	Field
	Module  string       `json:"module"`
	Version string       `json:"version"`
	Seed    int64        `json:"seed"`
	State   []byte       `json:"state"` // opaque to the host; base64 in JSON
	Outputs []abi.Output `json:"outputs"`
}

// TimeState is the time field's encoder with one state per chunk.
type TimeState struct {
	Field
	Module  string `json:"module"`
	Version string `json:"version"`
	Seed    int64  `json:"seed"`
	// Chunks holds each chunk's state; nil for a chunk without flows.
	Chunks       [][]byte     `json:"chunks"`
	StartOutputs []abi.Output `json:"start_outputs"`
	IATOutputs   []abi.Output `json:"iat_outputs"`
}

// Part param values of a time encoder.
const (
	partStart = "start"
	partIAT   = "iat"
)

type resolved struct {
	field   Field
	module  string
	comp    abi.Component
	params  map[string]any
	seed    int64
	group   string // shared-fit group key, "" for none
	stateIx int
}

// Fit fits every field's encoder on the records and returns the state.
// records holds the trace's canonical columns; set is its split into flows
// and chunks (the time field fits one state per chunk on its flows).
func Fit(ctx context.Context, rt Runtime, cfg Config, records *abi.Batch, set *flow.Set) (*State, error) {
	if err := records.Check(); err != nil {
		return nil, fmt.Errorf("encoding: records: %w", err)
	}
	if set == nil || len(set.Chunks) == 0 {
		return nil, errors.New("encoding: no chunks")
	}
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = set.MaxFlowLen
	}
	fields, timeField, err := resolve(rt, cfg, records)
	if err != nil {
		return nil, err
	}
	batch := cfg.FitBatch
	if batch <= 0 {
		batch = 1 << 16
	}
	st := &State{Version: StateVersion, NChunks: len(set.Chunks), MaxLen: cfg.MaxLen}

	// Fit each field, or each shared group once.
	fitted := map[string][]byte{}
	for _, r := range fields {
		key := r.group
		if key == "" {
			key = "field:" + r.field.Name
		}
		state, ok := fitted[key]
		if !ok {
			state, err = fitOne(ctx, rt, r, r.field.Name, records, batch)
			if err != nil {
				return nil, err
			}
			fitted[key] = state
		}
		outs, err := loadOutputs(ctx, rt, r.field, r.params, r.seed, state)
		if err != nil {
			return nil, err
		}
		st.Fields = append(st.Fields, FieldState{
			Field:  Field{Name: r.field.Name, Role: r.field.Role, Encoder: r.field.Encoder, Params: r.params},
			Module: r.module, Version: r.comp.Version, Seed: r.seed, State: state, Outputs: outs,
		})
	}

	if timeField != nil {
		ts, err := fitTime(ctx, rt, cfg, *timeField, records, set)
		if err != nil {
			return nil, err
		}
		st.Time = ts
	}
	if err := st.layout(); err != nil {
		return nil, err
	}
	return st, nil
}

// resolve checks the configuration against the records and the runtime's
// components and completes the params.
func resolve(rt Runtime, cfg Config, records *abi.Batch) ([]resolved, *resolved, error) {
	if cfg.MaxLen <= 0 {
		return nil, nil, fmt.Errorf("encoding: max_len must be positive, got %d", cfg.MaxLen)
	}
	var out []resolved
	var timeField *resolved
	seen := map[string]bool{}
	for i, f := range cfg.Fields {
		where := fmt.Sprintf("encoding: field %d (%q)", i+1, f.Name)
		if f.Name == "" {
			return nil, nil, fmt.Errorf("%s: no column name", where)
		}
		if seen[f.Name] {
			return nil, nil, fmt.Errorf("%s: configured twice", where)
		}
		seen[f.Name] = true
		if records != nil && records.Column(f.Name) == nil {
			var names []string
			for _, c := range records.Columns {
				names = append(names, c.Name)
			}
			return nil, nil, fmt.Errorf("%s: the records have no such column%s (they have %s)", where, abi.Suggest(f.Name, names), strings.Join(names, ", "))
		}
		module, comp, err := rt.Component(f.Encoder)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		params := maps.Clone(f.Params)
		if params == nil {
			params = map[string]any{}
		}
		declares := func(name string) bool {
			return slices.ContainsFunc(comp.Params, func(p abi.Param) bool { return p.Name == name })
		}
		if cfg.Private {
			if !declares("private") {
				return nil, nil, fmt.Errorf("%s: privacy is on, and encoder %q declares no private param, so it cannot promise to fit without reading the private data", where, f.Encoder)
			}
			params["private"] = true
		}
		if p, ok := params["pretrained"].(string); ok && p != "" && !strings.HasPrefix(p, "base64:") && !strings.HasPrefix(strings.TrimSpace(p), "{") {
			inline, err := readPretrained(cfg, p, f)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			params["pretrained"] = inline
		}
		// Check params now, with the component's own rules, so that
		// errors name the field rather than a later plugin call.
		if _, err := comp.ResolveParams(params); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		r := resolved{field: f, module: module, comp: comp, params: params, seed: fieldSeed(cfg.Seed, f.Name)}
		switch f.Role {
		case RoleAttribute, RoleFeature:
		case RoleTime:
			if timeField != nil {
				return nil, nil, fmt.Errorf("%s: a second time field (the first is %q)", where, timeField.field.Name)
			}
			if !declares("part") {
				return nil, nil, fmt.Errorf("%s: role time needs an encoder with a part param (start/iat), and %q has none", where, f.Encoder)
			}
			if _, ok := params["part"]; ok {
				return nil, nil, fmt.Errorf("%s: part is set by the host for the time field; remove it", where)
			}
			r := r
			timeField = &r
			continue
		default:
			return nil, nil, fmt.Errorf("%s: role %q, want %q, %q or %q", where, f.Role, RoleAttribute, RoleFeature, RoleTime)
		}
		if shared, _ := comp.Defaults["shared_fit"].(bool); shared {
			r.group = groupKey(f.Encoder, params, comp.Defaults["per_field_params"])
		}
		out = append(out, r)
	}
	return out, timeField, nil
}

// fieldSeed derives a field's seed from the run's seed and its name, so
// that adding a field does not change the others'.
func fieldSeed(seed int64, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return seed ^ int64(h.Sum64()&0x7fffffffffffffff)
}

// groupKey identifies fields that share one fit: same encoder, same params
// apart from the per-field ones.
func groupKey(encoder string, params map[string]any, perField any) string {
	p := maps.Clone(params)
	if list, ok := perField.([]any); ok {
		for _, n := range list {
			if s, ok := n.(string); ok {
				delete(p, s)
			}
		}
	}
	b, _ := json.Marshal(p) // map keys marshal sorted
	return "shared:" + encoder + ":" + string(b)
}

// readPretrained reads a pretrained model file for f. The file is either
// an encoding state saved by another run (the state of its field of the
// same encoder is taken, preferring the same name) or a raw encoder state.
func readPretrained(cfg Config, path string, f Field) (string, error) {
	read := cfg.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	raw, err := read(path)
	if err != nil {
		return "", fmt.Errorf("pretrained: %w", err)
	}
	var st State
	if json.Unmarshal(raw, &st) == nil && st.Version > 0 && st.Fields != nil {
		var pick *FieldState
		for i := range st.Fields {
			fs := &st.Fields[i]
			if fs.Encoder != f.Encoder {
				continue
			}
			if pick == nil || fs.Name == f.Name {
				pick = fs
			}
		}
		if pick == nil {
			return "", fmt.Errorf("pretrained %s: the saved encoding has no %q field", path, f.Encoder)
		}
		raw = pick.State
	}
	return "base64:" + base64.StdEncoding.EncodeToString(raw), nil
}

func open(ctx context.Context, rt Runtime, name string, f Field, params map[string]any, seed int64) (Instance, error) {
	in, err := rt.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: f.Encoder, Params: params, Seed: seed, Column: name})
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: %w", f.Name, err)
	}
	return in, nil
}

// fitOne fits one encoder instance on all records, in batches.
func fitOne(ctx context.Context, rt Runtime, r resolved, column string, records *abi.Batch, batch int) ([]byte, error) {
	in, err := open(ctx, rt, column, r.field, r.params, r.seed)
	if err != nil {
		return nil, err
	}
	defer in.Close(ctx)
	n := records.Len()
	var buf []byte
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		buf = abi.AppendBatch(buf[:0], records.Slice(lo, hi))
		if _, _, err := in.Call(ctx, abi.OpFit, nil, buf); err != nil {
			return nil, fmt.Errorf("encoding: field %q: fitting rows %d-%d: %w", r.field.Name, lo, hi-1, err)
		}
	}
	_, state, err := in.Call(ctx, abi.OpFitEnd, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: %w", r.field.Name, err)
	}
	return state, nil
}

func loadOutputs(ctx context.Context, rt Runtime, f Field, params map[string]any, seed int64, state []byte) ([]abi.Output, error) {
	in, err := open(ctx, rt, f.Name, f, params, seed)
	if err != nil {
		return nil, err
	}
	defer in.Close(ctx)
	return load(ctx, in, f.Name, state)
}

func load(ctx context.Context, in Instance, name string, state []byte) ([]abi.Output, error) {
	h, _, err := in.Call(ctx, abi.OpLoad, nil, state)
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: %w", name, err)
	}
	var r abi.LoadReply
	if err := json.Unmarshal(h, &r); err != nil {
		return nil, fmt.Errorf("encoding: field %q: load reply: %w", name, err)
	}
	for _, o := range r.Outputs {
		if o.Width <= 0 {
			return nil, fmt.Errorf("encoding: field %q: output %q has width %d", name, o.Name, o.Width)
		}
		if _, err := toTensor(o); err != nil {
			return nil, fmt.Errorf("encoding: field %q: %w", name, err)
		}
	}
	return r.Outputs, nil
}

// fitTime fits the time encoder once per chunk on the chunk's flows.
func fitTime(ctx context.Context, rt Runtime, cfg Config, r resolved, records *abi.Batch, set *flow.Set) (*TimeState, error) {
	ts := &TimeState{
		Field:  Field{Name: r.field.Name, Role: r.field.Role, Encoder: r.field.Encoder, Params: r.params},
		Module: r.module, Version: r.comp.Version, Seed: r.seed,
		Chunks: make([][]byte, len(set.Chunks)),
	}
	col := records.Column(r.field.Name)
	if col.Type != abi.TypeTime && col.Type != abi.TypeI64 {
		return nil, fmt.Errorf("encoding: time field %q is a %s column, want time", r.field.Name, col.Type)
	}
	var sample []byte
	for k, ch := range set.Chunks {
		if len(ch.Flows) == 0 {
			continue
		}
		params := ts.partParams(partStart)
		if cfg.Private {
			// The chunk's bounds, not its data, scale the starts.
			lo, hi := int64(math.Floor(ch.Start)), int64(math.Ceil(ch.End))
			params["span_start"], params["span_end"] = lo, max(hi, lo+1)
		}
		b, err := chunkTimeBatch(col, k, ch, records.Len(), cfg.MaxLen)
		if err != nil {
			return nil, err
		}
		in, err := open(ctx, rt, r.field.Name, r.field, params, r.seed)
		if err != nil {
			return nil, err
		}
		_, _, err = in.Call(ctx, abi.OpFit, nil, abi.AppendBatch(nil, b))
		var state []byte
		if err == nil {
			_, state, err = in.Call(ctx, abi.OpFitEnd, nil, nil)
		}
		in.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("encoding: time field %q, chunk %d: %w", r.field.Name, k, err)
		}
		ts.Chunks[k] = state
		if sample == nil {
			sample = state
		}
	}
	if sample == nil {
		return nil, fmt.Errorf("encoding: time field %q: no chunk has flows", r.field.Name)
	}
	var err error
	if ts.StartOutputs, err = loadOutputs(ctx, rt, r.field, ts.partParams(partStart), r.seed, sample); err != nil {
		return nil, err
	}
	if ts.IATOutputs, err = loadOutputs(ctx, rt, r.field, ts.partParams(partIAT), r.seed, sample); err != nil {
		return nil, err
	}
	if len(ts.IATOutputs) == 0 {
		return nil, fmt.Errorf("encoding: time field %q: the iat part has no outputs", r.field.Name)
	}
	return ts, nil
}

// partParams returns the time field's params for one part. Under privacy
// the encoder refuses to open without a span; the span only matters when
// fitting (each chunk's state carries its bounds, and fitting passes the
// chunk's real span), so instances opened to load a state get a
// placeholder.
func (ts *TimeState) partParams(part string) map[string]any {
	p := maps.Clone(ts.Params)
	if p == nil {
		p = map[string]any{}
	}
	p["part"] = part
	if priv, _ := p["private"].(bool); priv {
		if _, ok := p["span_start"]; !ok {
			p["span_start"], p["span_end"] = int64(0), int64(1)
		}
	}
	return p
}

// chunkTimeBatch returns the chunk's rows of the time column grouped by
// flow (time order within each), with _flow, keeping at most maxLen rows
// per flow.
func chunkTimeBatch(col *abi.Column, k int, ch flow.Chunk, nrows, maxLen int) (*abi.Batch, error) {
	ts := abi.Column{Name: col.Name, Type: col.Type}
	fl := abi.Column{Name: FlowColumn, Type: abi.TypeU32}
	for f, cf := range ch.Flows {
		rows := cf.Rows[:min(len(cf.Rows), maxLen)]
		for _, r := range rows {
			if r < 0 || int(r) >= nrows {
				return nil, fmt.Errorf("encoding: chunk %d flow %d: row %d outside the %d records", k, cf.ID, r, nrows)
			}
			ts.I64 = append(ts.I64, col.I64[r])
			fl.U32 = append(fl.U32, uint32(f))
		}
	}
	return &abi.Batch{Columns: []abi.Column{ts, fl}}, nil
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
		if f.Role == RoleAttribute {
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
		if err := add(&s.FeatOutputs, s.Time.IATOutputs); err != nil {
			return err
		}
	}
	for _, f := range s.Fields {
		if f.Role == RoleFeature {
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

// Save writes the state to path atomically: a temporary file in the same
// folder, synced, then renamed over path.
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("encoding state %s: %w", path, err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("encoding state %s: %w", path, err)
	}
	return nil
}

// LoadState reads a state written by Save.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("encoding state %s: %w", path, err)
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("encoding state %s: version %d, this build reads %d", path, s.Version, StateVersion)
	}
	if s.MaxLen <= 0 || s.NChunks <= 0 {
		return nil, fmt.Errorf("encoding state %s: bad max_len %d or n_chunks %d", path, s.MaxLen, s.NChunks)
	}
	if s.Time != nil && len(s.Time.Chunks) != s.NChunks {
		return nil, fmt.Errorf("encoding state %s: time field has %d chunk states for %d chunks", path, len(s.Time.Chunks), s.NChunks)
	}
	// Recompute the layout from the field outputs rather than trusting
	// the saved copy, so a hand-edited file cannot disagree with itself.
	saved := append([]tensor.Output(nil), s.AttrOutputs...)
	savedF := append([]tensor.Output(nil), s.FeatOutputs...)
	if err := s.layout(); err != nil {
		return nil, fmt.Errorf("encoding state %s: %w", path, err)
	}
	if !slices.Equal(saved, s.AttrOutputs) || !slices.Equal(savedF, s.FeatOutputs) {
		return nil, fmt.Errorf("encoding state %s: saved output layout disagrees with the field outputs", path)
	}
	return &s, nil
}
