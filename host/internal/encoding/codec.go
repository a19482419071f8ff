package encoding

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/tensor"
	"github.com/netshare/netshare/host/internal/trace"
)

// Codec holds loaded encoder instances and converts between chunks of
// records and tensor sets. A chunk is converted in blocks of flows: per
// block, one plugin call per field and one pass over the block's tensor
// rows for all fields together.
type Codec struct {
	// CallRows bounds the records per plugin call (default
	// DefaultCallRows): a chunk larger than that takes several calls.
	CallRows int

	rt     Runtime
	st     *State
	fields []Instance // one per non-time field, in state order
	// Time instances, loaded with the state of chunk timeChunk.
	tStart, tIAT Instance
	timeChunk    int
	raw          bool // time encoder in raw mode: the feature is the timestamp
	attrW, featW int
	tagOff       int // offset of the flow tags in the attribute vector
	startW       int
	// slots are the calls of a block: the fields in order, then the time
	// field's start (when it has one) and interarrival.
	slots              []slot
	startSlot, iatSlot int
	buf                []byte
	// lanes are codecs over other runtimes (OpenLanes) that Decode
	// shares blocks with.
	lanes []*Codec
}

// slot is one encoder call per block, with its place in the tensor rows.
type slot struct {
	name string // the record column
	in   Instance
	l    layout
	off  int  // first column in the attribute or feature row
	attr bool // one row per flow (attribute) or per record (feature)
	// enc holds the block's encoded rows on the host: what the module
	// returned (encode) or what the tensor gives (decode).
	enc abi.Encoded
}

// Open loads every field's state into a new instance.
func Open(ctx context.Context, rt Runtime, st *State) (*Codec, error) {
	c := &Codec{rt: rt, st: st, timeChunk: -1, startSlot: -1, iatSlot: -1}
	ok := false
	defer func() {
		if !ok {
			c.Close(ctx)
		}
	}()
	aOff, fOff := 0, 0
	if st.Time != nil {
		fOff = abi.Width(st.Time.IATOutputs)
	}
	for i := range st.Fields {
		fs := &st.Fields[i]
		if err := checkVersion(rt, fs.Encoder, fs.Version, fs.Name); err != nil {
			return nil, err
		}
		in, err := open(ctx, rt, fs.Name, fs.Field, fs.Params, fs.Seed)
		if err != nil {
			return nil, err
		}
		c.fields = append(c.fields, in)
		outs, err := load(ctx, in, fs.Name, fs.State)
		if err != nil {
			return nil, err
		}
		if !sameOutputs(outs, fs.Outputs) {
			return nil, fmt.Errorf("encoding: field %q: the encoder describes outputs %v, the state recorded %v", fs.Name, outs, fs.Outputs)
		}
		w := abi.Width(outs)
		sl := slot{name: fs.Name, in: in, l: newLayout(outs), attr: fs.Role == abi.RoleAttribute}
		if sl.attr {
			sl.off, aOff = aOff, aOff+w
		} else {
			sl.off, fOff = fOff, fOff+w
		}
		c.slots = append(c.slots, sl)
	}
	c.tagOff = aOff
	aOff += flow.TagWidth(st.NChunks)
	if st.Time != nil {
		ts := st.Time
		if err := checkVersion(rt, ts.Encoder, ts.Version, ts.Name); err != nil {
			return nil, err
		}
		var err error
		if c.tStart, err = open(ctx, rt, ts.Name, ts.Field, ts.partParams(abi.PartStart), ts.Seed); err != nil {
			return nil, err
		}
		if c.tIAT, err = open(ctx, rt, ts.Name, ts.Field, ts.partParams(abi.PartIAT), ts.Seed); err != nil {
			return nil, err
		}
		c.startW = abi.Width(ts.StartOutputs)
		c.raw = c.startW == 0
		if !c.raw {
			c.startSlot = len(c.slots)
			c.slots = append(c.slots, slot{name: ts.Name, in: c.tStart, l: newLayout(ts.StartOutputs), off: aOff, attr: true})
		}
		c.iatSlot = len(c.slots)
		c.slots = append(c.slots, slot{name: ts.Name, in: c.tIAT, l: newLayout(ts.IATOutputs)})
		aOff += c.startW
	}
	c.attrW, c.featW = aOff, fOff
	if c.attrW != tensor.Width(st.AttrOutputs) || c.featW != tensor.Width(st.FeatOutputs) {
		return nil, fmt.Errorf("encoding: state layout is %d attribute and %d feature values, the fields give %d and %d",
			tensor.Width(st.AttrOutputs), tensor.Width(st.FeatOutputs), c.attrW, c.featW)
	}
	ok = true
	return c, nil
}

// OpenLanes opens a codec on each runtime, each of which must hold its own
// module instances (a plugin.Host each): Decode then spreads a chunk's
// blocks over them, one goroutine a lane. Decoding generated word2vec
// vectors is an exact nearest-neighbour search that can take 100 µs a
// value inside the sandbox; lanes are how generation uses more than one
// core for it. Encode stays on the first runtime.
func OpenLanes(ctx context.Context, rts []Runtime, st *State) (*Codec, error) {
	if len(rts) == 0 {
		return nil, fmt.Errorf("encoding: no runtime")
	}
	c, err := Open(ctx, rts[0], st)
	if err != nil {
		return nil, err
	}
	for i, rt := range rts[1:] {
		l, err := Open(ctx, rt, st)
		if err != nil {
			c.Close(ctx)
			return nil, fmt.Errorf("encoding: lane %d: %w", i+1, err)
		}
		c.lanes = append(c.lanes, l)
	}
	return c, nil
}

func checkVersion(rt Runtime, encoder, version, field string) error {
	_, comp, err := rt.Component(encoder)
	if err != nil {
		return fmt.Errorf("encoding: field %q: %w", field, err)
	}
	if comp.Version != version {
		return fmt.Errorf("encoding: field %q was fitted with encoder %q version %s, the loaded one is version %s: refit, or load the module that fitted it", field, encoder, version, comp.Version)
	}
	return nil
}

func sameOutputs(a, b []abi.Output) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// DefaultCallRows bounds the rows of one encode or decode call.
const DefaultCallRows = 1 << 16

func (c *Codec) callRows() int {
	if c.CallRows > 0 {
		return c.CallRows
	}
	return DefaultCallRows
}

// State returns the codec's state.
func (c *Codec) State() *State { return c.st }

// Close releases every instance.
func (c *Codec) Close(ctx context.Context) error {
	var first error
	for _, l := range c.lanes {
		if err := l.Close(ctx); err != nil && first == nil {
			first = err
		}
	}
	c.lanes = nil
	for _, in := range append(c.fields, c.tStart, c.tIAT) {
		if in != nil {
			if err := in.Close(ctx); err != nil && first == nil {
				first = err
			}
		}
	}
	c.fields, c.tStart, c.tIAT, c.slots = nil, nil, nil, nil
	return first
}

// useChunk loads chunk k's time state into the time instances.
func (c *Codec) useChunk(ctx context.Context, k int) error {
	if c.st.Time == nil || c.timeChunk == k {
		return nil
	}
	if k < 0 || k >= len(c.st.Time.Chunks) {
		return fmt.Errorf("encoding: chunk %d outside [0, %d)", k, len(c.st.Time.Chunks))
	}
	state := c.st.Time.Chunks[k]
	if state == nil {
		return fmt.Errorf("encoding: time field %q has no state for chunk %d: the chunk had no flows when the encoders were fitted", c.st.Time.Name, k)
	}
	if _, err := load(ctx, c.tStart, c.st.Time.Name, state); err != nil {
		return err
	}
	if _, err := load(ctx, c.tIAT, c.st.Time.Name, state); err != nil {
		return err
	}
	c.timeChunk = k
	return nil
}

// encode runs a slot's encoder over b and keeps the encoded rows in
// sl.enc: the module's answer is copied out once, so that the scatter can
// then walk the tensor rows for all fields together.
func (c *Codec) encode(ctx context.Context, sl *slot, b *abi.Batch) error {
	rows := b.Len()
	c.buf = abi.AppendBatch(c.buf[:0], b)
	err := sl.in.Exchange(ctx, abi.OpEncVal, len(c.buf), func(body []byte) { copy(body, c.buf) }, func(_, body []byte) error {
		e, err := abi.DecodeEncoded(body)
		if err != nil {
			return err
		}
		if e.Rows != rows || e.HotWidth != sl.l.hot || e.ValueWidth != sl.l.values {
			return fmt.Errorf("encoder returned %d rows of %d indices and %d values for %d records, its outputs have %d and %d", e.Rows, e.HotWidth, e.ValueWidth, rows, sl.l.hot, sl.l.values)
		}
		sl.l.resize(&sl.enc, rows)
		copy(sl.enc.Hot, e.Hot)
		copy(sl.enc.Values, e.Values)
		return nil
	})
	if err != nil {
		return fmt.Errorf("encoding: field %q: %w", sl.name, err)
	}
	return nil
}

// blockBytes bounds the tensor memory one block covers, which bounds the
// host's copies of the block's encoded rows and the module's buffers.
// Blocks are otherwise as large as CallRows allows: each call into a
// module has a fixed cost (measured ~20 ns a row at 1,400-row calls), and
// a field's columns share no cache lines with the next field's, so small
// blocks bought no locality.
const blockBytes = 16 << 20

// blocks cuts the flows into consecutive blocks [f0, f1) of about
// blockBytes of tensor and at most CallRows flows and records (a flow
// whose records alone exceed CallRows gets a block of its own). starts[f]
// is the index of flow f's first record, len N+1. A chunk without flows
// has one empty block, so that decoding it still names its columns.
func (c *Codec) blocks(starts []int, L, lanes int) [][2]int {
	N := len(starts) - 1
	per := max(1, min(c.callRows(), blockBytes/(4*(c.attrW+L*c.featW)+1)))
	if lanes > 1 {
		// Several blocks a lane, so that lanes finish together.
		per = min(per, max(256, (N+4*lanes-1)/(4*lanes)))
	}
	var out [][2]int
	for f0 := 0; f0 < N || len(out) == 0; {
		f1 := f0
		for f1 < N && f1-f0 < per && (f1 == f0 || starts[f1+1]-starts[f0] <= c.callRows()) {
			f1++
		}
		out = append(out, [2]int{f0, f1})
		if f1 == f0 {
			break
		}
		f0 = f1
	}
	return out
}

// Encode builds chunk k's tensor set from the records: one attribute row
// per flow (from its first record in the chunk), and its first MaxLen
// records as features, zero-padded, with gen flags marking real records.
func (c *Codec) Encode(ctx context.Context, records *abi.Batch, set *flow.Set, k int) (*tensor.Set, error) {
	if len(set.Chunks) != c.st.NChunks {
		return nil, fmt.Errorf("encoding: the flows are cut into %d chunks, the encoding was fitted on %d", len(set.Chunks), c.st.NChunks)
	}
	if k < 0 || k >= len(set.Chunks) {
		return nil, fmt.Errorf("encoding: chunk %d outside [0, %d)", k, len(set.Chunks))
	}
	ch := set.Chunks[k]
	N, L := len(ch.Flows), c.st.MaxLen
	if err := c.useChunk(ctx, k); err != nil {
		return nil, err
	}
	// Row indices: the first record of each flow, every kept record with
	// its position in the feature tensor, and where each flow's records
	// start among them.
	firsts := make([]int32, N)
	var rows []int32
	var pos []int
	var flowOf []uint32
	starts := make([]int, 0, N+1)
	n := records.Len()
	out := &tensor.Set{
		N: N, L: L,
		Attributes:  make([]float32, N*c.attrW),
		Features:    make([]float32, N*L*c.featW),
		GenFlags:    make([]float32, N*L),
		AttrOutputs: c.st.AttrOutputs,
		FeatOutputs: c.st.FeatOutputs,
	}
	for f, fl := range ch.Flows {
		starts = append(starts, len(rows))
		if len(fl.Rows) == 0 {
			return nil, fmt.Errorf("encoding: chunk %d flow %d has no records", k, fl.ID)
		}
		kept := fl.Rows[:min(len(fl.Rows), L)]
		for j, r := range kept {
			if r < 0 || int(r) >= n {
				return nil, fmt.Errorf("encoding: chunk %d flow %d: row %d outside the %d records", k, fl.ID, r, n)
			}
			rows = append(rows, r)
			pos = append(pos, f*L+j)
			flowOf = append(flowOf, uint32(f))
			out.GenFlags[f*L+j] = 1
		}
		firsts[f] = kept[0]
	}
	starts = append(starts, len(rows))
	cols := make([]*abi.Column, len(c.slots))
	for i := range c.slots {
		if cols[i] = records.Column(c.slots[i].name); cols[i] == nil {
			return nil, fmt.Errorf("encoding: the records have no column %q", c.slots[i].name)
		}
	}
	tw := flow.TagWidth(c.st.NChunks)
	var tags []float32
	for _, blk := range c.blocks(starts, L, 1) {
		f0, f1 := blk[0], blk[1]
		r0, r1 := starts[f0], starts[f1]
		flowCol := abi.Column{Name: abi.FlowColumn, Type: abi.TypeU32, U32: flowOf[r0:r1]}
		for i := range c.slots {
			sl := &c.slots[i]
			b := &abi.Batch{Columns: []abi.Column{take(cols[i], rows[r0:r1]), flowCol}}
			if sl.attr {
				b = &abi.Batch{Columns: []abi.Column{take(cols[i], firsts[f0:f1])}}
			}
			if err := c.encode(ctx, sl, b); err != nil {
				return nil, fmt.Errorf("%w (chunk %d, flows %d-%d)", err, k, f0, f1-1)
			}
		}
		// One pass over the block's rows for every field.
		for f := f0; f < f1; f++ {
			arow := out.Attributes[f*c.attrW : (f+1)*c.attrW]
			for i := range c.slots {
				if sl := &c.slots[i]; sl.attr {
					if err := sl.l.put(&sl.enc, f-f0, arow[sl.off:]); err != nil {
						return nil, fmt.Errorf("encoding: field %q: chunk %d flow %d: %w", sl.name, k, f, err)
					}
				}
			}
			if tw > 0 {
				// Flow tags from the flow package: started here, then
				// presence in each chunk.
				fl := ch.Flows[f]
				if tags = set.Tags(tags[:0], fl); len(tags) != tw {
					return nil, fmt.Errorf("encoding: chunk %d flow %d: %d tag values, want %d", k, fl.ID, len(tags), tw)
				}
				copy(arow[c.tagOff:], tags)
			}
			for r := starts[f]; r < starts[f+1]; r++ {
				frow := out.Features[pos[r]*c.featW : (pos[r]+1)*c.featW]
				for i := range c.slots {
					if sl := &c.slots[i]; !sl.attr {
						if err := sl.l.put(&sl.enc, r-r0, frow[sl.off:]); err != nil {
							return nil, fmt.Errorf("encoding: field %q: chunk %d flow %d record %d: %w", sl.name, k, f, r-starts[f], err)
						}
					}
				}
			}
		}
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("encoding: chunk %d: %w", k, err)
	}
	return out, nil
}

// decode sends a slot's rows, gathered in sl.enc, to its encoder and
// returns the field's column.
func (c *Codec) decode(ctx context.Context, sl *slot) (*abi.Column, error) {
	var col *abi.Column
	e := &sl.enc
	size := abi.EncodedSize(e.Rows, e.HotWidth, e.ValueWidth)
	err := sl.in.Exchange(ctx, abi.OpDecVal, size, func(body []byte) {
		w := abi.PlaceEncoded(body, e.Rows, e.HotWidth, e.ValueWidth)
		copy(w.Hot, e.Hot)
		copy(w.Values, e.Values)
		abi.SyncEncoded(body, w)
	}, func(_, body []byte) error {
		b, err := abi.DecodeBatch(body)
		if err != nil {
			return err
		}
		col, err = columnOf(b, sl.name, e.Rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: %w", sl.name, err)
	}
	return col, nil
}

// Decode turns a generated (or encoded) tensor set of chunk k back into
// records: one row per step whose gen flag is set, flows in order, with
// the attribute fields repeated on each of a flow's rows, the timestamp
// rebuilt, and a "_flow" column holding the flow's index in the set. The
// flow tags are not decoded: merging flows across chunks is the caller's
// business.
func (c *Codec) Decode(ctx context.Context, set *tensor.Set, k int) (*abi.Batch, error) {
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("encoding: decode chunk %d: %w", k, err)
	}
	if tensor.Width(set.AttrOutputs) != c.attrW || tensor.Width(set.FeatOutputs) != c.featW {
		return nil, fmt.Errorf("encoding: decode chunk %d: set is %d+%d wide, the encoding %d+%d", k, tensor.Width(set.AttrOutputs), tensor.Width(set.FeatOutputs), c.attrW, c.featW)
	}
	if err := c.useChunk(ctx, k); err != nil {
		return nil, err
	}
	N, L := set.N, set.L
	// Valid steps, in flow then time order, and their flows; starts[f] is
	// the index of flow f's first step.
	var steps []int
	var flowOf []int32
	starts := make([]int, 0, N+1)
	for f := 0; f < N; f++ {
		starts = append(starts, len(steps))
		for j := 0; j < L; j++ {
			if set.GenFlags[f*L+j] > 0.5 {
				steps = append(steps, f*L+j)
				flowOf = append(flowOf, int32(f))
			}
		}
	}
	starts = append(starts, len(steps))
	lanes := append([]*Codec{c}, c.lanes...)
	for _, l := range c.lanes {
		if err := l.useChunk(ctx, k); err != nil {
			return nil, err
		}
	}
	blks := c.blocks(starts, L, len(lanes))
	parts := make([]*abi.Batch, len(blks))
	if len(lanes) == 1 || len(blks) == 1 {
		for i, blk := range blks {
			var err error
			if parts[i], err = c.decodeBlock(ctx, set, k, steps, flowOf, starts, blk); err != nil {
				return nil, err
			}
		}
	} else {
		// Each lane has its own module instances: blocks are decoded side
		// by side, and joined in order, so the result does not depend on
		// which lane took which block.
		errs := make([]error, len(blks))
		var next atomic.Int64
		var wg sync.WaitGroup
		for _, l := range lanes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(blks) || ctx.Err() != nil {
						return
					}
					if parts[i], errs[i] = l.decodeBlock(ctx, set, k, steps, flowOf, starts, blks[i]); errs[i] != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				return nil, err
			}
			if parts[i] == nil {
				return nil, ctx.Err()
			}
		}
	}
	var all trace.Appender
	for _, part := range parts {
		if err := all.Append(part); err != nil {
			return nil, fmt.Errorf("encoding: decode chunk %d: %w", k, err)
		}
	}
	return all.Batch(), nil
}

// decodeBlock decodes the flows [blk[0], blk[1]) of a chunk's set with
// this codec's instances: one pass over their tensor rows gathers every
// field's indices and values, then one call per field.
func (c *Codec) decodeBlock(ctx context.Context, set *tensor.Set, k int, steps []int, flowOf []int32, starts []int, blk [2]int) (*abi.Batch, error) {
	L := set.L
	f0, f1 := blk[0], blk[1]
	s0, s1 := starts[f0], starts[f1]
	for i := range c.slots {
		sl := &c.slots[i]
		if sl.attr {
			sl.l.resize(&sl.enc, f1-f0)
		} else {
			sl.l.resize(&sl.enc, s1-s0)
		}
	}
	// A NaN or infinity is named by flow, step and column.
	for f := f0; f < f1; f++ {
		arow := set.Attributes[f*c.attrW : (f+1)*c.attrW]
		for i := range c.slots {
			if sl := &c.slots[i]; sl.attr {
				if j := sl.l.get(arow[sl.off:], &sl.enc, f-f0); j >= 0 {
					return nil, fmt.Errorf("encoding: decode chunk %d: flow %d attribute %d is %v", k, f, sl.off+j, arow[sl.off+j])
				}
			}
		}
		for st := starts[f]; st < starts[f+1]; st++ {
			frow := set.Features[steps[st]*c.featW : (steps[st]+1)*c.featW]
			for i := range c.slots {
				if sl := &c.slots[i]; !sl.attr {
					if j := sl.l.get(frow[sl.off:], &sl.enc, st-s0); j >= 0 {
						return nil, fmt.Errorf("encoding: decode chunk %d: flow %d step %d feature %d is %v", k, f, steps[st]%L, sl.off+j, frow[sl.off+j])
					}
				}
			}
		}
	}
	// Each step's flow within the block, to repeat attributes.
	local := make([]int32, s1-s0)
	for i, f := range flowOf[s0:s1] {
		local[i] = f - int32(f0)
	}
	decoded := make([]*abi.Column, len(c.slots))
	for i := range c.slots {
		col, err := c.decode(ctx, &c.slots[i])
		if err != nil {
			return nil, fmt.Errorf("decode chunk %d: %w", k, err)
		}
		decoded[i] = col
	}
	out := &abi.Batch{}
	for i := range c.fields {
		col := decoded[i]
		if c.slots[i].attr {
			g := take(col, local)
			col = &g
		}
		out.Columns = append(out.Columns, *col)
	}
	if c.st.Time != nil {
		ts, err := c.timestamps(k, decoded, local)
		if err != nil {
			return nil, err
		}
		out.Columns = append(out.Columns, *ts)
	}
	fl := abi.Column{Name: abi.FlowColumn, Type: abi.TypeU32, U32: make([]uint32, s1-s0)}
	for i, f := range flowOf[s0:s1] {
		fl.U32[i] = uint32(f)
	}
	out.Columns = append(out.Columns, fl)
	if err := out.Check(); err != nil {
		return nil, fmt.Errorf("encoding: decode chunk %d: %w", k, err)
	}
	return out, nil
}

// timestamps rebuilds one block's timestamps from the time slots' decoded
// columns: the flow's start plus the running sum of its interarrivals, or
// the raw feature.
func (c *Codec) timestamps(k int, decoded []*abi.Column, local []int32) (*abi.Column, error) {
	name := c.st.Time.Name
	feat := decoded[c.iatSlot]
	if feat.Type != abi.TypeTime && feat.Type != abi.TypeI64 {
		return nil, fmt.Errorf("encoding: decode chunk %d: time field %q decoded to %s, want time", k, name, feat.Type)
	}
	ts := abi.Column{Name: name, Type: abi.TypeTime, I64: make([]int64, len(local))}
	if c.raw {
		copy(ts.I64, feat.I64)
		return &ts, nil
	}
	start := decoded[c.startSlot]
	if start.Type != abi.TypeTime && start.Type != abi.TypeI64 {
		return nil, fmt.Errorf("encoding: decode chunk %d: time field %q start decoded to %s, want time", k, name, start.Type)
	}
	// t_j = start + Σ_{0<i≤j} iat_i: the first interarrival is 0.
	var cur int64
	for i, f := range local {
		if i == 0 || f != local[i-1] {
			cur = start.I64[f]
		} else {
			cur += feat.I64[i]
		}
		ts.I64[i] = cur
	}
	return &ts, nil
}
