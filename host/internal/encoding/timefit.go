package encoding

import (
	"context"
	"fmt"
	"maps"
	"math"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
)

// fitTime fits the time encoder once per chunk on the chunk's flows.
func fitTime(ctx context.Context, rt Runtime, cfg Config, r resolved, records *abi.Batch, set *flow.Set, batch int) (*TimeState, error) {
	ts := &TimeState{
		Field:  abi.Field{Name: r.field.Name, Role: r.field.Role, Encoder: r.field.Encoder, Params: r.params},
		Module: r.module, Version: r.comp.Version, Seed: r.seed,
		Chunks: make([][]byte, len(set.Chunks)),
	}
	col := records.Column(r.field.Name)
	if col.Type != abi.TypeTime && col.Type != abi.TypeI64 {
		return nil, fmt.Errorf("encoding: time field %q is a %s column, want time", r.field.Name, col.Type)
	}
	var sample, buf []byte
	for k, ch := range set.Chunks {
		if len(ch.Flows) == 0 {
			continue
		}
		params := ts.partParams(abi.PartStart)
		if cfg.Private {
			// The chunk's bounds, not its data, scale the starts.
			lo, hi := int64(math.Floor(ch.Start)), int64(math.Ceil(ch.End))
			params[abi.ParamSpanStart], params[abi.ParamSpanEnd] = lo, max(hi, lo+1)
		}
		in, err := open(ctx, rt, r.field.Name, r.field, params, r.seed)
		if err != nil {
			return nil, err
		}
		err = chunkTimeBatches(col, k, ch, records.Len(), cfg.MaxLen, batch, func(b *abi.Batch) error {
			buf = abi.AppendBatch(buf[:0], b)
			_, _, err := in.Call(ctx, abi.OpFit, nil, buf)
			return err
		})
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
	if ts.StartOutputs, err = loadOutputs(ctx, rt, r.field, ts.partParams(abi.PartStart), r.seed, sample); err != nil {
		return nil, err
	}
	if ts.IATOutputs, err = loadOutputs(ctx, rt, r.field, ts.partParams(abi.PartIAT), r.seed, sample); err != nil {
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
	p[abi.ParamPart] = part
	if priv, _ := p[abi.ParamPrivate].(bool); priv {
		if _, ok := p[abi.ParamSpanStart]; !ok {
			p[abi.ParamSpanStart], p[abi.ParamSpanEnd] = int64(0), int64(1)
		}
	}
	return p
}

// chunkTimeBatches passes the chunk's rows of the time column to fit in
// batches of at most batch rows, grouped by flow (time order within each)
// with _flow, keeping at most maxLen rows per flow; a flow may continue
// into the next batch, as the time encoder allows.
func chunkTimeBatches(col *abi.Column, k int, ch flow.Chunk, nrows, maxLen, batch int, fit func(*abi.Batch) error) error {
	ts := abi.Column{Name: col.Name, Type: col.Type}
	fl := abi.Column{Name: abi.FlowColumn, Type: abi.TypeU32}
	flush := func() error {
		if len(ts.I64) == 0 {
			return nil
		}
		err := fit(&abi.Batch{Columns: []abi.Column{ts, fl}})
		ts.I64, fl.U32 = ts.I64[:0], fl.U32[:0]
		return err
	}
	for f, cf := range ch.Flows {
		rows := cf.Rows[:min(len(cf.Rows), maxLen)]
		for _, r := range rows {
			if r < 0 || int(r) >= nrows {
				return fmt.Errorf("encoding: chunk %d flow %d: row %d outside the %d records", k, cf.ID, r, nrows)
			}
			ts.I64 = append(ts.I64, col.I64[r])
			fl.U32 = append(fl.U32, uint32(f))
			if len(ts.I64) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}
