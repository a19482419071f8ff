package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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
	if err := r.splitFlows(); err != nil {
		return false, err
	}
	r.fields = r.cfg.Fields
	if len(r.fields) == 0 {
		var err error
		if r.fields, err = r.defaultFields(); err != nil {
			return false, err
		}
	}
	key := newKey("encode").str("read", r.keys["read"]).json("flows", r.cfg.Flows).
		json("fields", r.fields).json("seed", r.cfg.Seed).json("private", r.cfg.Privacy.Enabled).
		json("holdout", r.cfg.Input.Holdout).sum()
	r.keys["encode"] = key
	statePath := filepath.Join(r.dir, "encoders.json")
	setPath := func(k int) string { return filepath.Join(r.dir, "chunks", fmt.Sprintf("chunk-%d.gob", k)) }
	outputs := []string{statePath}
	for k, c := range r.flows.Chunks {
		if len(c.Flows) > 0 {
			outputs = append(outputs, setPath(k))
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
	rt := encoding.FromPlugin(r.host)
	r.line.Update("encode   fitting %d encoders on %d records", len(ecfg.Fields), r.records.Len())
	state, err := encoding.Fit(ctx, rt, ecfg, r.records, r.flows)
	if err != nil {
		return false, err
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
		set, err := codec.Encode(ctx, r.records, r.flows, k)
		if err != nil {
			return false, fmt.Errorf("chunk %d: %w", k, err)
		}
		if err := saveSet(setPath(k), set); err != nil {
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
