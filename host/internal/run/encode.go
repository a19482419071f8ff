package run

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/tensor"
)

func (r *runner) splitFlows() error {
	mode, err := flow.ParseChunkMode(r.cfg.Flows.Chunking)
	if err != nil {
		return err
	}
	r.flows, err = flow.Split(r.records, flow.Options{
		Key: r.cfg.Flows.Key, Chunks: r.cfg.Flows.Chunks, Mode: mode, MaxFlowLen: r.cfg.Flows.MaxFlowLen,
	})
	return err
}

func (r *runner) encode(ctx context.Context) (bool, error) {
	prior, priorPath, err := r.publicEncoders()
	if err != nil {
		return false, err
	}
	if prior != nil && r.cfg.Flows.MaxFlowLen == 0 {
		// The public model's length: the private trace's longest flow may
		// not shape the model, and the pretrained GAN needs this one.
		r.cfg.Flows.MaxFlowLen = prior.MaxLen
	}
	if err := r.splitFlows(); err != nil {
		return false, err
	}
	r.fields = r.cfg.Fields
	if len(r.fields) == 0 {
		if prior != nil {
			r.fields, err = r.priorFields(prior)
		} else {
			r.fields, err = r.defaultFields()
		}
		if err != nil {
			return false, err
		}
	}
	if r.records.Column(flow.DirColumn) != nil && !slices.ContainsFunc(r.fields, func(f abi.Field) bool { return f.Name == flow.DirColumn }) {
		// Bidirectional flows: each record's direction is generated with
		// the rest of the record. Fixed choices, so it needs no fit (and
		// is safe under privacy).
		r.fields = append(slices.Clone(r.fields), abi.Field{Name: flow.DirColumn, Role: abi.RoleFeature, Encoder: "categorical",
			Params: map[string]any{"int_choices": []any{int64(0), int64(1)}}})
	}
	k := newKey("encode").str("read", r.keys["read"]).json("flows", r.cfg.Flows).
		json("fields", r.fields).json("seed", r.cfg.Seed).json("private", r.cfg.Privacy.Enabled).
		json("holdout", r.cfg.Input.Holdout)
	if prior != nil {
		if err := k.file(priorPath); err != nil {
			return false, err
		}
	}
	// What the encoders mean by the params a field leaves out: a netshare
	// whose encoder defaults changed (rank's heavy table, session 15)
	// refits, and so retrains, instead of reusing encoders.json fitted
	// under the old ones.
	for _, f := range r.fields {
		if _, c, err := r.host.Find(abi.KindEncoder, f.Encoder); err == nil {
			k.json("encoder "+f.Encoder, encoderDefaults(c))
		}
	}
	key := k.sum()
	r.keys["encode"] = key
	statePath := filepath.Join(r.dir, "encoders.json")
	setPath := func(k int) string { return filepath.Join(r.dir, filepath.FromSlash(ChunkFile(k))) }
	recPath := func(k int) string { return filepath.Join(r.dir, filepath.FromSlash(ChunkRecordsFile(k))) }
	outputs := []string{statePath}
	for k, c := range r.flows.Chunks {
		if len(c.Flows) > 0 {
			outputs = append(outputs, setPath(k), recPath(k))
		}
	}
	r.sets = make([]*tensor.Set, len(r.flows.Chunks))
	if r.stages.fresh("encode", key, outputs...) {
		var err error
		if r.state, err = encoding.LoadState(statePath); err != nil {
			return false, err
		}
		for k, c := range r.flows.Chunks {
			if len(c.Flows) > 0 {
				if r.sets[k], err = loadSet(setPath(k)); err != nil {
					return false, err
				}
			}
		}
		return true, nil
	}
	r.stages.forget("encode")
	ecfg := encoding.Config{Fields: r.fields, MaxLen: r.flows.MaxFlowLen, Seed: r.cfg.Seed,
		Private: r.cfg.Privacy.Enabled, ReadFile: func(p string) ([]byte, error) { return os.ReadFile(r.cfg.Resolve(p)) }}
	if prior != nil {
		ecfg.Prior = prior.Fields
	}
	rt := encoding.FromPlugin(r.host)
	r.line.Update("encode   fitting %d encoders on %d records", len(ecfg.Fields), r.records.Len())
	state, err := encoding.Fit(ctx, rt, ecfg, r.records, r.flows)
	if err != nil {
		return false, err
	}
	records := r.records
	if prior != nil {
		if records, err = r.mapUnseen(ctx, rt, state, prior); err != nil {
			return false, err
		}
	}
	codec, err := encoding.Open(ctx, rt, state)
	if err != nil {
		return false, err
	}
	defer codec.Close(ctx)
	for k, ch := range r.flows.Chunks {
		if len(ch.Flows) == 0 {
			continue
		}
		r.line.Update("encode   chunk %d/%d: %d flows", k+1, len(r.flows.Chunks), len(ch.Flows))
		set, err := codec.Encode(ctx, records, r.flows, k)
		if err != nil {
			return false, fmt.Errorf("chunk %d: %w", k, err)
		}
		if err := saveSet(setPath(k), set); err != nil {
			return false, err
		}
		// The real chunk, for a worker that generates this chunk alone
		// (choosing its checkpoint scores against it).
		if err := saveBatch(recPath(k), r.chunkRecords(k)); err != nil {
			return false, err
		}
		r.sets[k] = set
	}
	if err := state.Save(statePath); err != nil {
		return false, err
	}
	r.state = state
	return false, r.stages.done("encode", key)
}

// defaultFields are the fields a pipeline without [[fields]] models: the
// input format's defaults (abi.DefaultFields, or abi.DefaultPrivateFields
// under differential privacy) for the columns the records have.
func (r *runner) defaultFields() ([]abi.Field, error) {
	key := abi.DefaultFields
	if r.cfg.Privacy.Enabled {
		key = abi.DefaultPrivateFields
	}
	mod, comp, err := r.host.Find(abi.KindFormat, r.inFmt)
	if err != nil {
		return nil, fmt.Errorf("default fields: %w", err)
	}
	var d abi.FieldDefaults
	ok, err := comp.Default(key, &d)
	if err != nil {
		return nil, fmt.Errorf("default fields: plugin %s: %w", mod.Name(), err)
	}
	if !ok {
		return nil, fmt.Errorf("format %q (plugin %s) offers no default fields (%q in its manifest's defaults): name the fields in [[fields]]", comp.Name, mod.Name(), key)
	}
	fs := d.Apply(r.records)
	if len(fs) == 0 {
		return nil, fmt.Errorf("none of format %q's default fields is a column of the records: name the fields in [[fields]]", comp.Name)
	}
	return fs, nil
}

// publicEncoders is the encoding fitted on the public run that
// privacy.pretrained names (its encoders.json; for a checkpoint file, that
// of the run directory holding it, when there is one), with its path: the
// public prior whose vocabularies, embeddings, tables and bounds the
// private run uses instead of fitting its own (docs/privacy.md, "Public
// pretraining"). It is nil when no pretrained run is named.
func (r *runner) publicEncoders() (*encoding.State, string, error) {
	if r.cfg.Privacy.Pretrained == "" {
		return nil, "", nil
	}
	if _, err := os.Stat(r.cfg.Resolve(r.cfg.Privacy.Pretrained)); err != nil {
		return nil, "", fmt.Errorf("privacy.pretrained: %w", err)
	}
	dir := r.publicRunDir()
	if dir == "" {
		return nil, "", nil
	}
	path := filepath.Join(dir, "encoders.json")
	prior, err := encoding.LoadState(path)
	if err != nil {
		return nil, "", fmt.Errorf("privacy.pretrained: the public run's encoders: %w", err)
	}
	return prior, path, nil
}

// publicRunDir is the run directory privacy.pretrained names, or the one
// holding the checkpoint it names (RUN_DIR/train/chunk-N/FILE) when that
// has an encoders.json; "" otherwise.
func (r *runner) publicRunDir() string {
	if r.cfg.Privacy.Pretrained == "" {
		return ""
	}
	p := r.cfg.Resolve(r.cfg.Privacy.Pretrained)
	st, err := os.Stat(p)
	if err != nil {
		return ""
	}
	if !st.IsDir() {
		p = filepath.Dir(filepath.Dir(filepath.Dir(p)))
		if _, err := os.Stat(filepath.Join(p, "encoders.json")); err != nil {
			return ""
		}
	}
	return p
}

// priorFields are the fields of a pipeline without [[fields]] that
// fine-tunes a public run: the public run's own, so that the pretrained
// model fits, each taking its fitted state (vocabularies, embeddings,
// tables). Under privacy, a continuous field the format's private
// defaults also model as continuous keeps those defaults' fixed bounds
// instead: they
// are chosen to cover any trace, while bounds fitted on the public trace
// clip the private values beyond them (docs/privacy.md measures both).
// The time field is fitted per chunk on each trace's own span, with the
// private default's bounds for what the public run left to the data.
func (r *runner) priorFields(prior *encoding.State) ([]abi.Field, error) {
	fixed := map[string]abi.Field{}
	if r.cfg.Privacy.Enabled {
		defaults, err := r.defaultFields()
		if err != nil {
			return nil, err
		}
		for _, d := range defaults {
			fixed[d.Name] = d
		}
	}
	var fs []abi.Field
	if t := prior.Time; t != nil {
		f := abi.Field{Name: t.Name, Role: t.Role, Encoder: t.Encoder, Params: maps.Clone(t.Params)}
		if d, ok := fixed[f.Name]; ok && d.Role == f.Role && d.Encoder == f.Encoder {
			if f.Params == nil {
				f.Params = map[string]any{}
			}
			for k, v := range d.Params {
				if _, ok := f.Params[k]; !ok {
					f.Params[k] = v
				}
			}
		}
		fs = append(fs, f)
	}
	for _, p := range prior.Fields {
		if r.records.Column(p.Name) == nil {
			return nil, fmt.Errorf("privacy.pretrained: the public run models column %q, which the records lack: name the fields in [[fields]] and train the public run with them", p.Name)
		}
		// Only bounds may differ from the public model's: a continuous
		// field's output is one value whatever its bounds, while other
		// encoders' outputs (a category table's width) must stay the
		// pretrained model's.
		if d, ok := fixed[p.Name]; ok && d.Role == p.Role && d.Encoder == p.Encoder && d.Encoder == "continuous" {
			fs = append(fs, d)
			continue
		}
		fs = append(fs, p.Field)
	}
	return fs, nil
}

// mapUnseen gives the records' values that the public prior cannot encode
// (categories the public trace never had) the nearest it can, and says so.
func (r *runner) mapUnseen(ctx context.Context, rt encoding.Runtime, state *encoding.State, prior *encoding.State) (*abi.Batch, error) {
	var fromPrior []string
	for _, f := range state.Fields {
		for _, p := range prior.Fields {
			if p.Name == f.Name && bytes.Equal(p.State, f.State) {
				fromPrior = append(fromPrior, f.Name)
			}
		}
	}
	records, changed, err := encoding.MapUnseen(ctx, rt, state, fromPrior, r.records)
	if err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(changed) {
		fmt.Fprintf(r.out, "encode   %s: %d records hold values the public prior lacks; encoded as its nearest\n", name, changed[name])
	}
	return records, nil
}

// encoderDefaults is what of c's declaration decides what its fields
// mean: its version and each param's type and default (not the docs).
func encoderDefaults(c *abi.Component) []string {
	out := []string{c.Name + "@" + c.Version}
	for _, p := range c.Params {
		d, _ := json.Marshal(p.Default)
		out = append(out, fmt.Sprintf("%s %s %s", p.Name, p.Type, d))
	}
	return out
}
