package encoding

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/internal/suggest"
)

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

	// Fit each field, or each shared group once, all in one pass over
	// the records: each batch is serialised once and fed to every
	// instance, and nothing of the records is held but that batch.
	type fitting struct {
		r     resolved
		key   string
		prior *FieldState
	}
	var todo []fitting
	var fits []resolved
	var keys []string
	seen := map[string]bool{}
	for _, r := range fields {
		key := r.group
		if key == "" {
			key = "field:" + r.field.Name
		}
		p := priorFor(cfg, r.field)
		todo = append(todo, fitting{r: r, key: key, prior: p})
		if p == nil && !seen[key] {
			seen[key] = true
			fits, keys = append(fits, r), append(keys, key)
		}
	}
	states, err := fitAll(ctx, rt, fits, records, batch)
	if err != nil {
		return nil, err
	}
	fitted := map[string][]byte{}
	for i, k := range keys {
		fitted[k] = states[i]
	}
	for _, f := range todo {
		if f.prior != nil {
			st.Fields = append(st.Fields, *f.prior)
			continue
		}
		r, state := f.r, fitted[f.key]
		outs, err := loadOutputs(ctx, rt, r.field, r.params, r.seed, state)
		if err != nil {
			return nil, err
		}
		st.Fields = append(st.Fields, FieldState{
			Field:  abi.Field{Name: r.field.Name, Role: r.field.Role, Encoder: r.field.Encoder, Params: r.params},
			Module: r.module, Version: r.comp.Version, Seed: r.seed, State: state, Outputs: outs,
		})
	}

	if timeField != nil {
		ts, err := fitTime(ctx, rt, cfg, *timeField, records, set, batch)
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
			return nil, nil, fmt.Errorf("%s: the records have no such column%s (they have %s)", where, suggest.DidYouMean(f.Name, names), strings.Join(names, ", "))
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
		if cfg.Private && priorFor(cfg, f) == nil {
			if !declares(abi.ParamPrivate) {
				return nil, nil, fmt.Errorf("%s: privacy is on, and encoder %q declares no private param, so it cannot promise to fit without reading the private data", where, f.Encoder)
			}
			params[abi.ParamPrivate] = true
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
		case abi.RoleAttribute, abi.RoleFeature:
		case abi.RoleTime:
			if timeField != nil {
				return nil, nil, fmt.Errorf("%s: a second time field (the first is %q)", where, timeField.field.Name)
			}
			if !declares(abi.ParamPart) {
				return nil, nil, fmt.Errorf("%s: role time needs an encoder with a part param (start/iat), and %q has none", where, f.Encoder)
			}
			if _, ok := params[abi.ParamPart]; ok {
				return nil, nil, fmt.Errorf("%s: part is set by the host for the time field; remove it", where)
			}
			r := r
			timeField = &r
			continue
		default:
			return nil, nil, fmt.Errorf("%s: role %q, want %q, %q or %q", where, f.Role, abi.RoleAttribute, abi.RoleFeature, abi.RoleTime)
		}
		var shared bool
		if _, err := comp.Default(abi.DefaultSharedFit, &shared); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		if shared {
			var perField []string
			if _, err := comp.Default(abi.DefaultPerFieldParams, &perField); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			r.group = groupKey(f.Encoder, params, perField)
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
func groupKey(encoder string, params map[string]any, perField []string) string {
	p := maps.Clone(params)
	for _, n := range perField {
		delete(p, n)
	}
	b, _ := json.Marshal(p) // map keys marshal sorted
	return "shared:" + encoder + ":" + string(b)
}

// readPretrained reads a pretrained model file for f. The file is either
// an encoding state saved by another run (the state of its field of the
// same encoder is taken, preferring the same name) or a raw encoder state.
func readPretrained(cfg Config, path string, f abi.Field) (string, error) {
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

func open(ctx context.Context, rt Runtime, name string, f abi.Field, params map[string]any, seed int64) (Instance, error) {
	in, err := rt.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: f.Encoder, Params: params, Seed: seed, Column: name})
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: %w", f.Name, err)
	}
	return in, nil
}

// fitAll fits one encoder instance per resolved field on all records, in
// batches of batch rows: each batch is serialised once and fed to every
// instance in turn, so the host holds one batch's bytes and each encoder
// only what its fit keeps (docs/cluster.md, "One machine, large traces").
func fitAll(ctx context.Context, rt Runtime, fields []resolved, records *abi.Batch, batch int) ([][]byte, error) {
	ins := make([]Instance, len(fields))
	defer func() {
		for _, in := range ins {
			if in != nil {
				in.Close(ctx)
			}
		}
	}()
	for i, r := range fields {
		in, err := open(ctx, rt, r.field.Name, r.field, r.params, r.seed)
		if err != nil {
			return nil, err
		}
		ins[i] = in
	}
	n := records.Len()
	var buf []byte
	for lo := 0; lo < n && len(ins) > 0; lo += batch {
		hi := min(lo+batch, n)
		buf = abi.AppendBatch(buf[:0], records.Slice(lo, hi))
		for i, in := range ins {
			if _, _, err := in.Call(ctx, abi.OpFit, nil, buf); err != nil {
				return nil, fmt.Errorf("encoding: field %q: fitting rows %d-%d: %w", fields[i].field.Name, lo, hi-1, err)
			}
		}
	}
	states := make([][]byte, len(ins))
	for i, in := range ins {
		_, state, err := in.Call(ctx, abi.OpFitEnd, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("encoding: field %q: %w", fields[i].field.Name, err)
		}
		states[i] = state
		// Close now: the next FitEnd (word2vec training) then has this
		// instance's memory back.
		in.Close(ctx)
		ins[i] = nil
	}
	return states, nil
}

func loadOutputs(ctx context.Context, rt Runtime, f abi.Field, params map[string]any, seed int64, state []byte) ([]abi.Output, error) {
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
