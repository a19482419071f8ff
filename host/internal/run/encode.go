package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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
		r.fields = defaultFields(r.records, r.cfg.Privacy.Enabled)
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
	ecfg := encoding.Config{MaxLen: r.flows.MaxFlowLen, Seed: r.cfg.Seed,
		Private: r.cfg.Privacy.Enabled, ReadFile: func(p string) ([]byte, error) { return os.ReadFile(r.cfg.Resolve(p)) }}
	for _, f := range r.fields {
		ecfg.Fields = append(ecfg.Fields, encoding.Field{Name: f.Name, Role: f.Role, Encoder: f.Encoder, Params: f.Params})
	}
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
