package encoding

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/tensor"
	"github.com/netshare/netshare/host/internal/trace"
)

// Codec holds loaded encoder instances and converts between chunks of
// records and tensor sets. Every conversion makes one plugin call per
// field per chunk (per CallRows records of a chunk).
type Codec struct {
	// CallRows bounds the records per plugin call (default
	// DefaultCallRows): a chunk larger than that takes several calls.
	CallRows int

	rt     Runtime
	st     *State
	fields []codecField
	// Time instances, loaded with the state of chunk timeChunk.
	tStart, tIAT Instance
	timeChunk    int
	raw          bool // time encoder in raw mode: the feature is the timestamp
	attrW, featW int
	tagOff       int // offset of the flow tags in the attribute vector
	startOff     int // offset of the time start attribute
	startW       int
	iatW         int
	buf          []byte
}

type codecField struct {
	fs     *FieldState
	in     Instance
	off, w int // slice of the attribute or feature vector
}

// Open loads every field's state into a new instance.
func Open(ctx context.Context, rt Runtime, st *State) (*Codec, error) {
	c := &Codec{rt: rt, st: st, timeChunk: -1}
	ok := false
	defer func() {
		if !ok {
			c.Close(ctx)
		}
	}()
	aOff, fOff := 0, 0
	if st.Time != nil {
		fOff = width(st.Time.IATOutputs)
		c.iatW = fOff
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
		c.fields = append(c.fields, codecField{fs: fs, in: in})
		outs, err := load(ctx, in, fs.Name, fs.State)
		if err != nil {
			return nil, err
		}
		if !sameOutputs(outs, fs.Outputs) {
			return nil, fmt.Errorf("encoding: field %q: the encoder describes outputs %v, the state recorded %v", fs.Name, outs, fs.Outputs)
		}
		cf := &c.fields[len(c.fields)-1]
		cf.w = width(outs)
		if fs.Role == RoleAttribute {
			cf.off, aOff = aOff, aOff+cf.w
		} else {
			cf.off, fOff = fOff, fOff+cf.w
		}
	}
	c.tagOff = aOff
	aOff += flow.TagWidth(st.NChunks)
	c.startOff = aOff
	if st.Time != nil {
		ts := st.Time
		if err := checkVersion(rt, ts.Encoder, ts.Version, ts.Name); err != nil {
			return nil, err
		}
		var err error
		if c.tStart, err = open(ctx, rt, ts.Name, ts.Field, ts.partParams(partStart), ts.Seed); err != nil {
			return nil, err
		}
		if c.tIAT, err = open(ctx, rt, ts.Name, ts.Field, ts.partParams(partIAT), ts.Seed); err != nil {
			return nil, err
		}
		c.startW = width(ts.StartOutputs)
		aOff += c.startW
		c.raw = c.startW == 0
	}
	c.attrW, c.featW = aOff, fOff
	if c.attrW != tensor.Width(st.AttrOutputs) || c.featW != tensor.Width(st.FeatOutputs) {
		return nil, fmt.Errorf("encoding: state layout is %d attribute and %d feature values, the fields give %d and %d",
			tensor.Width(st.AttrOutputs), tensor.Width(st.FeatOutputs), c.attrW, c.featW)
	}
	ok = true
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

func width(outs []abi.Output) int {
	w := 0
	for _, o := range outs {
		w += o.Width
	}
	return w
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
	for _, f := range c.fields {
		if f.in != nil {
			if err := f.in.Close(ctx); err != nil && first == nil {
				first = err
			}
		}
	}
	for _, in := range []Instance{c.tStart, c.tIAT} {
		if in != nil {
			if err := in.Close(ctx); err != nil && first == nil {
				first = err
			}
		}
	}
	c.fields, c.tStart, c.tIAT = nil, nil, nil
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

// encode runs one encoder over b and scatters the resulting rows×w matrix
// into dst (rows stride wide, at column off; row i goes to pos[i], or i
// when pos is nil), reading the wire form directly rather than through an
// intermediate abi.Matrix.
func (c *Codec) encode(ctx context.Context, in Instance, name string, b *abi.Batch, rows, w int, dst []float32, stride, off int, pos []int) error {
	// A chunk can hold millions of records, and a matrix is 8 bytes per
	// value inside a memory-capped sandbox: call in slices of CallRows.
	if rows > c.callRows() {
		for lo := 0; lo < rows; lo += c.callRows() {
			hi := min(lo+c.callRows(), rows)
			var p []int
			if pos != nil {
				p = pos[lo:hi]
			} else {
				p = make([]int, hi-lo)
				for i := range p {
					p[i] = lo + i
				}
			}
			if err := c.encode(ctx, in, name, b.Slice(lo, hi), hi-lo, w, dst, stride, off, p); err != nil {
				return fmt.Errorf("%w (rows %d-%d)", err, lo, hi-1)
			}
		}
		return nil
	}
	c.buf = abi.AppendBatch(c.buf[:0], b)
	_, body, err := in.Call(ctx, abi.OpEncVal, nil, c.buf)
	if err != nil {
		return fmt.Errorf("encoding: field %q: %w", name, err)
	}
	if len(body) < 8 {
		return fmt.Errorf("encoding: field %q: %w: matrix of %d bytes", name, abi.ErrMalformed, len(body))
	}
	r, k := int(binary.LittleEndian.Uint32(body)), int(binary.LittleEndian.Uint32(body[4:]))
	if r != rows || k != w {
		return fmt.Errorf("encoding: field %q: encoder returned %d×%d values, want %d×%d", name, r, k, rows, w)
	}
	if len(body) != 8+8*rows*w {
		return fmt.Errorf("encoding: field %q: %w: %d×%d matrix in %d bytes", name, abi.ErrMalformed, rows, w, len(body))
	}
	data := body[8:]
	for i := 0; i < rows; i++ {
		row := i
		if pos != nil {
			row = pos[i]
		}
		d := dst[row*stride+off : row*stride+off+w]
		src := data[i*8*w : (i+1)*8*w]
		for j := range d {
			d[j] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*j:])))
		}
	}
	return nil
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
	// Row indices: the first record of each flow, and every kept record,
	// with the record's position in the feature tensor.
	firsts := make([]int32, N)
	var rows []int32
	var pos []int
	var flowOf []uint32
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
	flowCol := abi.Column{Name: FlowColumn, Type: abi.TypeU32, U32: flowOf}
	for _, f := range c.fields {
		col := records.Column(f.fs.Name)
		if col == nil {
			return nil, fmt.Errorf("encoding: the records have no column %q", f.fs.Name)
		}
		if f.fs.Role == RoleAttribute {
			b := &abi.Batch{Columns: []abi.Column{take(col, firsts)}}
			if err := c.encode(ctx, f.in, f.fs.Name, b, N, f.w, out.Attributes, c.attrW, f.off, nil); err != nil {
				return nil, err
			}
			continue
		}
		b := &abi.Batch{Columns: []abi.Column{take(col, rows), flowCol}}
		if err := c.encode(ctx, f.in, f.fs.Name, b, len(rows), f.w, out.Features, c.featW, f.off, pos); err != nil {
			return nil, err
		}
	}
	// Flow tags from the flow package: started here, then presence in
	// each chunk.
	if tw := flow.TagWidth(c.st.NChunks); tw > 0 {
		var tags []float32
		for f, fl := range ch.Flows {
			tags = set.Tags(tags[:0], fl)
			if len(tags) != tw {
				return nil, fmt.Errorf("encoding: chunk %d flow %d: %d tag values, want %d", k, fl.ID, len(tags), tw)
			}
			copy(out.Attributes[f*c.attrW+c.tagOff:], tags)
		}
	}
	if c.st.Time != nil {
		col := records.Column(c.st.Time.Name)
		if col == nil {
			return nil, fmt.Errorf("encoding: the records have no time column %q", c.st.Time.Name)
		}
		if c.startW > 0 {
			b := &abi.Batch{Columns: []abi.Column{take(col, firsts)}}
			if err := c.encode(ctx, c.tStart, c.st.Time.Name, b, N, c.startW, out.Attributes, c.attrW, c.startOff, nil); err != nil {
				return nil, err
			}
		}
		b := &abi.Batch{Columns: []abi.Column{take(col, rows), flowCol}}
		if err := c.encode(ctx, c.tIAT, c.st.Time.Name, b, len(rows), c.iatW, out.Features, c.featW, 0, pos); err != nil {
			return nil, err
		}
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("encoding: chunk %d: %w", k, err)
	}
	return out, nil
}

// appendRows appends the wire form of a matrix made of the w columns at
// off of the given rows of src (rows stride wide), straight from the
// float32 tensor.
func appendRows(dst []byte, src []float32, stride, off, w int, rows []int) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(rows)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(w))
	for _, r := range rows {
		for _, x := range src[r*stride+off : r*stride+off+w] {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(float64(x)))
		}
	}
	return dst
}

// decode runs one encoder's decode over the given rows of a tensor slice
// and returns the field's column.
func (c *Codec) decode(ctx context.Context, in Instance, name string, src []float32, stride, off, w int, rows []int) (*abi.Column, error) {
	if len(rows) > c.callRows() {
		var out trace.Appender
		for lo := 0; lo < len(rows); lo += c.callRows() {
			hi := min(lo+c.callRows(), len(rows))
			part, err := c.decode(ctx, in, name, src, stride, off, w, rows[lo:hi])
			if err != nil {
				return nil, fmt.Errorf("%w (rows %d-%d)", err, lo, hi-1)
			}
			if err := out.Append(&abi.Batch{Columns: []abi.Column{*part}}); err != nil {
				return nil, fmt.Errorf("encoding: field %q: %w", name, err)
			}
		}
		return &out.Batch().Columns[0], nil
	}
	c.buf = appendRows(c.buf[:0], src, stride, off, w, rows)
	_, body, err := in.Call(ctx, abi.OpDecVal, nil, c.buf)
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: %w", name, err)
	}
	b, err := abi.DecodeBatch(body)
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: %w", name, err)
	}
	col, err := columnOf(b, name, len(rows))
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: %w", name, err)
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
	for i, x := range set.Attributes {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("encoding: decode chunk %d: flow %d attribute %d is %v", k, i/c.attrW, i%c.attrW, x)
		}
	}
	for i, x := range set.Features {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("encoding: decode chunk %d: flow %d step %d feature %d is %v", k, i/(c.featW*set.L), i/c.featW%set.L, i%c.featW, x)
		}
	}
	N, L := set.N, set.L
	flows := make([]int, N)
	for i := range flows {
		flows[i] = i
	}
	// Valid steps, in flow then time order, and their flows.
	var steps []int
	var flowOf []int32
	for f := 0; f < N; f++ {
		for j := 0; j < L; j++ {
			if set.GenFlags[f*L+j] > 0.5 {
				steps = append(steps, f*L+j)
				flowOf = append(flowOf, int32(f))
			}
		}
	}
	out := &abi.Batch{}
	for _, f := range c.fields {
		var col *abi.Column
		var err error
		if f.fs.Role == RoleAttribute {
			col, err = c.decode(ctx, f.in, f.fs.Name, set.Attributes, c.attrW, f.off, f.w, flows)
			if err == nil {
				g := take(col, flowOf)
				col = &g
			}
		} else {
			col, err = c.decode(ctx, f.in, f.fs.Name, set.Features, c.featW, f.off, f.w, steps)
		}
		if err != nil {
			return nil, fmt.Errorf("decode chunk %d: %w", k, err)
		}
		out.Columns = append(out.Columns, *col)
	}
	if c.st.Time != nil {
		name := c.st.Time.Name
		feat, err := c.decode(ctx, c.tIAT, name, set.Features, c.featW, 0, c.iatW, steps)
		if err != nil {
			return nil, fmt.Errorf("decode chunk %d: %w", k, err)
		}
		if feat.Type != abi.TypeTime && feat.Type != abi.TypeI64 {
			return nil, fmt.Errorf("encoding: decode chunk %d: time field %q decoded to %s, want time", k, name, feat.Type)
		}
		ts := abi.Column{Name: name, Type: abi.TypeTime, I64: make([]int64, len(steps))}
		if c.raw {
			copy(ts.I64, feat.I64)
		} else {
			start, err := c.decode(ctx, c.tStart, name, set.Attributes, c.attrW, c.startOff, c.startW, flows)
			if err != nil {
				return nil, fmt.Errorf("decode chunk %d: %w", k, err)
			}
			if start.Type != abi.TypeTime && start.Type != abi.TypeI64 {
				return nil, fmt.Errorf("encoding: decode chunk %d: time field %q start decoded to %s, want time", k, name, start.Type)
			}
			// t_j = start + Σ_{0<i≤j} iat_i: the first interarrival is 0.
			var cur int64
			for i, f := range flowOf {
				if i == 0 || f != flowOf[i-1] {
					cur = start.I64[f]
				} else {
					cur += feat.I64[i]
				}
				ts.I64[i] = cur
			}
		}
		out.Columns = append(out.Columns, ts)
	}
	fl := abi.Column{Name: FlowColumn, Type: abi.TypeU32, U32: make([]uint32, len(flowOf))}
	for i, f := range flowOf {
		fl.U32[i] = uint32(f)
	}
	out.Columns = append(out.Columns, fl)
	if err := out.Check(); err != nil {
		return nil, fmt.Errorf("encoding: decode chunk %d: %w", k, err)
	}
	return out, nil
}
