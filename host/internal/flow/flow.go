// Package flow splits records into flows by a key (the 5-tuple by default)
// and cuts the trace into time chunks the way NetShare does, with its flow
// tags. A chunk lists the flows that have records in it; each of those
// holds the flow's global id, its row indices in time order, whether the
// flow starts in this chunk, and (through the Set) the chunks it appears in.
//
// Unlike NetShare, an empty chunk keeps its place: chunk ids always equal
// the chunk's position in time, so later chunks are not renumbered.
package flow

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/netshare/netshare/abi"
)

// FiveTuple is the default flow key.
var FiveTuple = []string{"srcip", "dstip", "srcport", "dstport", "proto"}

// ChunkMode says how the trace is cut into chunks.
type ChunkMode int

const (
	// FixedTime cuts [tmin, tmax] into N equal spans: boundaries are
	// linspace(tmin, tmax, N+1) and the last boundary is inclusive.
	FixedTime ChunkMode = iota
	// FixedSize gives each chunk ceil(records/N) records in time order.
	FixedSize
)

func (m ChunkMode) String() string {
	if m == FixedSize {
		return "fixed_size"
	}
	return "fixed_time"
}

// ParseChunkMode reads the pipeline's "time" or "size", or NetShare's
// names "fixed_time" and "fixed_size".
func ParseChunkMode(s string) (ChunkMode, error) {
	switch s {
	case "time", "fixed_time", "":
		return FixedTime, nil
	case "size", "fixed_size":
		return FixedSize, nil
	}
	return 0, fmt.Errorf("chunk mode %q: want time or size", s)
}

// Options configure Split.
type Options struct {
	// Key lists the columns whose values identify a flow; nil means
	// FiveTuple.
	Key []string
	// Time is the timestamp column; "" means "ts".
	Time string
	// Chunks is N, the number of chunks; 0 means 1.
	Chunks int
	Mode   ChunkMode
	// MaxFlowLen truncates each flow to its first MaxFlowLen records within
	// each chunk. 0 means the largest flow length within any single chunk,
	// which truncates nothing.
	MaxFlowLen int
}

// Set is a trace split into flows and chunks.
type Set struct {
	Key    []string
	Mode   ChunkMode
	Chunks []Chunk
	// NumFlows is the number of distinct flows; ids are 0..NumFlows-1 in
	// the order of each flow's first record.
	NumFlows int
	// MaxFlowLen is the per-chunk flow length in effect (the configured
	// limit, or the longest flow piece in any chunk).
	MaxFlowLen int
	// Truncated counts records dropped by MaxFlowLen.
	Truncated int
	// TimeMin and TimeMax are the trace's time span, in the time column's
	// unit.
	TimeMin, TimeMax int64

	rows    []int32 // all rows grouped by flow, each flow's rows in time order
	offsets []int32 // flow f's rows are rows[offsets[f]:offsets[f+1]]
	appear  []uint64
	words   int // bitset words per flow in appear
}

// Chunk is one time span of the trace.
type Chunk struct {
	Index int
	// Start and End bound the chunk's span: Start ≤ t < End, and t ≤ End
	// for the last chunk. For FixedSize they are the first and last record
	// times.
	Start, End float64
	Flows      []ChunkFlow
	// Records counts the chunk's records after truncation.
	Records int
}

// ChunkFlow is one flow's part of a chunk.
type ChunkFlow struct {
	ID int
	// Rows are indices into the records, in time order, truncated to the
	// Set's MaxFlowLen.
	Rows []int32
	// Starts is true when the flow's first record is in this chunk.
	Starts bool
}

// Flow returns the rows of flow id over the whole trace, in time order
// (not truncated).
func (s *Set) Flow(id int) []int32 { return s.rows[s.offsets[id]:s.offsets[id+1]] }

// Appears reports whether flow id has records in chunk c.
func (s *Set) Appears(id, c int) bool {
	return s.appear[id*s.words+c/64]&(1<<(c%64)) != 0
}

// ChunksOf lists the chunks flow id appears in, in order.
func (s *Set) ChunksOf(id int) []int {
	var out []int
	for c := range s.Chunks {
		if s.Appears(id, c) {
			out = append(out, c)
		}
	}
	return out
}

// Tags appends flow f's tag vector in chunk c (see AppendTags); nothing
// when the Set has a single chunk.
func (s *Set) Tags(dst []float32, f ChunkFlow) []float32 {
	n := len(s.Chunks)
	if n <= 1 {
		return dst
	}
	dst = appendBit(dst, f.Starts)
	for c := 0; c < n; c++ {
		dst = appendBit(dst, s.Appears(f.ID, c))
	}
	return dst
}

// Split groups the records of b into flows by opt.Key and cuts them into
// chunks. Rows need not be in time order; ties keep row order.
func Split(b *abi.Batch, opt Options) (*Set, error) {
	if opt.Key == nil {
		opt.Key = FiveTuple
	}
	if opt.Time == "" {
		opt.Time = "ts"
	}
	if opt.Chunks == 0 {
		opt.Chunks = 1
	}
	if opt.Chunks < 0 || opt.Chunks > 1<<16 {
		return nil, fmt.Errorf("flow split: %d chunks: want 1..65536", opt.Chunks)
	}
	if opt.MaxFlowLen < 0 {
		return nil, fmt.Errorf("flow split: negative max flow length %d", opt.MaxFlowLen)
	}
	n := b.Len()
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("flow split: %d records exceed the 2^31 limit", n)
	}
	tc := b.Column(opt.Time)
	if tc == nil {
		return nil, fmt.Errorf("flow split: records have no time column %q", opt.Time)
	}
	if tc.Type == abi.TypeString {
		return nil, fmt.Errorf("flow split: time column %q is a string column", opt.Time)
	}
	keys := make([]*abi.Column, len(opt.Key))
	for i, k := range opt.Key {
		if keys[i] = b.Column(k); keys[i] == nil {
			return nil, fmt.Errorf("flow split: records have no key column %q", k)
		}
	}
	times := timesOf(tc)
	order := timeOrder(times)
	at := func(i int) int32 { // i-th row in time order
		if order == nil {
			return int32(i)
		}
		return order[i]
	}

	s := &Set{Key: opt.Key, Mode: opt.Mode}
	flowOf, numFlows := assignFlows(keys, n, at)
	s.NumFlows = numFlows

	// Rows grouped by flow with a counting sort over the time order, so
	// each flow's rows stay in time order.
	s.offsets = make([]int32, numFlows+1)
	for _, f := range flowOf {
		s.offsets[f+1]++
	}
	for f := 0; f < numFlows; f++ {
		s.offsets[f+1] += s.offsets[f]
	}
	s.rows = make([]int32, n)
	next := slices.Clone(s.offsets[:numFlows])
	for i := 0; i < n; i++ {
		r := at(i)
		f := flowOf[r]
		s.rows[next[f]] = r
		next[f]++
	}

	chunkOf := s.cut(times, n, at, opt)

	// Each flow's rows are in time order, so its chunks form runs; each run
	// is that flow's entry in the chunk, a sub-slice of s.rows.
	s.words = (len(s.Chunks) + 63) / 64
	s.appear = make([]uint64, numFlows*s.words)
	perChunk := make([]int, len(s.Chunks))
	for f := 0; f < numFlows; f++ {
		rows := s.Flow(f)
		for i := 0; i < len(rows); {
			c := chunkOf[rows[i]]
			j := i + 1
			for j < len(rows) && chunkOf[rows[j]] == c {
				j++
			}
			perChunk[c]++
			s.appear[f*s.words+int(c)/64] |= 1 << (c % 64)
			i = j
		}
	}
	for c := range s.Chunks {
		s.Chunks[c].Flows = make([]ChunkFlow, 0, perChunk[c])
	}
	longest := 0
	for f := 0; f < numFlows; f++ {
		rows := s.Flow(f)
		first := true
		for i := 0; i < len(rows); {
			c := chunkOf[rows[i]]
			j := i + 1
			for j < len(rows) && chunkOf[rows[j]] == c {
				j++
			}
			ch := &s.Chunks[c]
			ch.Flows = append(ch.Flows, ChunkFlow{ID: f, Rows: rows[i:j:j], Starts: first})
			longest = max(longest, j-i)
			first = false
			i = j
		}
	}
	s.MaxFlowLen = longest
	if opt.MaxFlowLen > 0 {
		s.MaxFlowLen = opt.MaxFlowLen
	}
	for c := range s.Chunks {
		ch := &s.Chunks[c]
		for i := range ch.Flows {
			f := &ch.Flows[i]
			if len(f.Rows) > s.MaxFlowLen {
				s.Truncated += len(f.Rows) - s.MaxFlowLen
				f.Rows = f.Rows[:s.MaxFlowLen:s.MaxFlowLen]
			}
			ch.Records += len(f.Rows)
		}
	}
	return s, nil
}

// timesOf returns the time column as int64 values (floats are rounded).
func timesOf(c *abi.Column) []int64 {
	if c.Type == abi.TypeTime || c.Type == abi.TypeI64 {
		return c.I64
	}
	t := make([]int64, c.Len())
	for i := range t {
		t[i] = int64(math.Round(c.Float(i)))
	}
	return t
}

// timeOrder returns the rows sorted stably by time, or nil when they
// already are (the usual case: the trace reader merges by time).
func timeOrder(t []int64) []int32 {
	if slices.IsSorted(t) {
		return nil
	}
	order := make([]int32, len(t))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		switch {
		case t[a] < t[b]:
			return -1
		case t[a] > t[b]:
			return 1
		}
		return 0
	})
	return order
}

// assignFlows gives each row its flow id; ids follow first appearance in
// time order. Keys up to 16 bytes wide (the 5-tuple is 13) are packed into
// two words, so the map allocates nothing per flow.
func assignFlows(keys []*abi.Column, n int, at func(int) int32) ([]int32, int) {
	flowOf := make([]int32, n)
	width := 0
	for _, k := range keys {
		width += keyWidth(k)
	}
	if width <= 16 {
		ids := make(map[[2]uint64]int32)
		for i := 0; i < n; i++ {
			r := at(i)
			var buf [16]byte
			p := buf[:0]
			p = abi.AppendKey(p, keys, int(r))
			key := [2]uint64{binary.LittleEndian.Uint64(buf[:8]), binary.LittleEndian.Uint64(buf[8:])}
			id, ok := ids[key]
			if !ok {
				id = int32(len(ids))
				ids[key] = id
			}
			flowOf[r] = id
		}
		return flowOf, len(ids)
	}
	ids := make(map[string]int32)
	var p []byte
	for i := 0; i < n; i++ {
		r := at(i)
		p = abi.AppendKey(p[:0], keys, int(r))
		id, ok := ids[string(p)]
		if !ok {
			id = int32(len(ids))
			ids[string(p)] = id
		}
		flowOf[r] = id
	}
	return flowOf, len(ids)
}

func keyWidth(c *abi.Column) int {
	switch c.Type {
	case abi.TypeU8:
		return 1
	case abi.TypeU16:
		return 2
	case abi.TypeU32, abi.TypeIPv4:
		return 4
	case abi.TypeString:
		return 1 << 10 // strings go by value: force the general map
	}
	return 8
}

// cut assigns each row its chunk and fills s.Chunks' bounds.
func (s *Set) cut(times []int64, n int, at func(int) int32, opt Options) []uint16 {
	chunkOf := make([]uint16, n)
	s.Chunks = make([]Chunk, opt.Chunks)
	for c := range s.Chunks {
		s.Chunks[c].Index = c
	}
	if n == 0 {
		return chunkOf
	}
	tmin, tmax := times[at(0)], times[at(n-1)]
	s.TimeMin, s.TimeMax = tmin, tmax
	N := opt.Chunks
	if opt.Mode == FixedSize {
		size := (n + N - 1) / N
		for i := 0; i < n; i++ {
			chunkOf[at(i)] = uint16(i / size)
		}
		for c := range s.Chunks {
			lo, hi := c*size, min((c+1)*size, n)-1
			if lo <= hi {
				s.Chunks[c].Start, s.Chunks[c].End = float64(times[at(lo)]), float64(times[at(hi)])
			} else {
				s.Chunks[c].Start, s.Chunks[c].End = float64(tmax), float64(tmax)
			}
		}
		return chunkOf
	}
	bounds := Linspace(float64(tmin), float64(tmax), N+1)
	for c := range s.Chunks {
		s.Chunks[c].Start, s.Chunks[c].End = bounds[c], bounds[c+1]
	}
	for i := 0; i < n; i++ {
		r := at(i)
		chunkOf[r] = uint16(ChunkAt(bounds, float64(times[r])))
	}
	return chunkOf
}

// Linspace returns n evenly spaced values from lo to hi inclusive, computed
// as numpy does (lo + i·step, the last value exactly hi).
func Linspace(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = lo
		return out
	}
	step := (hi - lo) / float64(n-1)
	for i := range out {
		out[i] = lo + float64(i)*step
	}
	out[n-1] = hi
	return out
}

// ChunkAt returns the chunk of time t for fixed-time boundaries: the chunk
// i with bounds[i] ≤ t < bounds[i+1], the last chunk also taking t equal to
// the last boundary. Times outside the span clamp to the first or last
// chunk; when all boundaries coincide (a trace at a single instant) every
// record is in chunk 0.
func ChunkAt(bounds []float64, t float64) int {
	n := len(bounds) - 1
	// The first boundary greater than t, minus one.
	i := sort.SearchFloat64s(bounds, math.Nextafter(t, math.Inf(1))) - 1
	if bounds[0] == bounds[n] {
		return 0
	}
	return min(max(i, 0), n-1)
}

// TagWidth is the width of the flow tag vector for n chunks: 2+2n one-hot
// dims (starts-in-this-chunk, then appears-in-chunk-i for each i), or 0 when
// n ≤ 1, where NetShare adds no tags.
func TagWidth(n int) int {
	if n <= 1 {
		return 0
	}
	return 2 + 2*n
}

// AppendTags appends NetShare's flow tags: startFromThisChunk, then
// chunk_0 … chunk_{n-1}, each as a 2-dim one-hot (1 → [0,1], 0 → [1,0]).
// appears[i] says whether the flow appears in chunk i. Nothing is appended
// for a single chunk.
func AppendTags(dst []float32, starts bool, appears []bool) []float32 {
	if len(appears) <= 1 {
		return dst
	}
	dst = appendBit(dst, starts)
	for _, a := range appears {
		dst = appendBit(dst, a)
	}
	return dst
}

func appendBit(dst []float32, b bool) []float32 {
	if b {
		return append(dst, 0, 1)
	}
	return append(dst, 1, 0)
}

// DecodeTags reads a (generated, possibly soft) tag vector for n chunks
// back into bits, with NetShare's rule: a pair [p0, p1] is 1 when p0 < p1.
func DecodeTags(v []float32, n int) (starts bool, appears []bool, err error) {
	if w := TagWidth(n); len(v) != w {
		return false, nil, fmt.Errorf("flow tags for %d chunks: want %d values, got %d", n, w, len(v))
	}
	appears = make([]bool, n)
	starts = v[0] < v[1]
	for i := range appears {
		appears[i] = v[2+2*i] < v[3+2*i]
	}
	return starts, appears, nil
}

// Placement is where NetShare's attribute merge puts a flow generated by
// chunk c's model: Keep when it starts in c and appears in c, and a copy
// (with the start bit cleared) in every later chunk it appears in. A
// generated flow that does not start in its own chunk is dropped; the
// copies from earlier chunks stand in for it.
func Placement(c int, starts bool, appears []bool) (keep bool, copies []int) {
	if c < 0 || c >= len(appears) || !starts || !appears[c] {
		return false, nil
	}
	for i := c + 1; i < len(appears); i++ {
		if appears[i] {
			copies = append(copies, i)
		}
	}
	return true, copies
}
