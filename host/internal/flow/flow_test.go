package flow

import (
	"flag"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/netflowcsv"
	"github.com/netshare/netshare/internal/shareddata"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

// packets builds a packet batch from (ts, flow) pairs; flow k has srcip k.
func packets(ts []int64, flows []uint32) *abi.Batch {
	n := len(ts)
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: ts},
		{Name: "srcip", Type: abi.TypeIPv4, U32: flows},
		{Name: "dstip", Type: abi.TypeIPv4, U32: make([]uint32, n)},
		{Name: "srcport", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "dstport", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "proto", Type: abi.TypeU8, U8: make([]uint8, n)},
		{Name: "pkt_len", Type: abi.TypeU16, U16: make([]uint16, n)},
	}}
	for i := range b.Columns[6].U16 {
		b.Columns[6].U16[i] = uint16(40 + i)
	}
	return b
}

// view is a Set reduced to what the tests compare: per chunk, each flow as
// id, start flag and rows.
type view struct {
	ID     int
	Starts bool
	Rows   []int32
}

func chunks(s *Set) [][]view {
	out := make([][]view, len(s.Chunks))
	for c, ch := range s.Chunks {
		out[c] = []view{}
		for _, f := range ch.Flows {
			out[c] = append(out[c], view{f.ID, f.Starts, f.Rows})
		}
	}
	return out
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name      string
		ts        []int64
		flows     []uint32
		opt       Options
		want      [][]view
		numFlows  int
		maxLen    int
		truncated int
	}{
		{
			name:  "one chunk",
			ts:    []int64{0, 1, 2, 3},
			flows: []uint32{7, 8, 7, 7},
			opt:   Options{},
			want: [][]view{{
				{0, true, []int32{0, 2, 3}}, {1, true, []int32{1}},
			}},
			numFlows: 2, maxLen: 3,
		},
		{
			// Span 0..90, N=3: boundaries 0,30,60,90. Nothing in [30,60):
			// the middle chunk stays, empty, and the last keeps id 2.
			name:  "empty chunk keeps its id",
			ts:    []int64{0, 10, 29, 60, 90},
			flows: []uint32{1, 2, 1, 1, 3},
			opt:   Options{Chunks: 3},
			want: [][]view{
				{{0, true, []int32{0, 2}}, {1, true, []int32{1}}},
				{},
				{{0, false, []int32{3}}, {2, true, []int32{4}}},
			},
			numFlows: 3, maxLen: 2,
		},
		{
			name:  "unsorted input, ties keep row order",
			ts:    []int64{50, 0, 50, 100, 0},
			flows: []uint32{1, 1, 2, 1, 2},
			opt:   Options{Chunks: 2},
			want: [][]view{
				{{0, true, []int32{1}}, {1, true, []int32{4}}},
				{{0, false, []int32{0, 3}}, {1, false, []int32{2}}},
			},
			numFlows: 2, maxLen: 2,
		},
		{
			name:  "truncation",
			ts:    []int64{0, 1, 2, 3, 4, 5},
			flows: []uint32{1, 1, 1, 1, 2, 2},
			opt:   Options{MaxFlowLen: 2},
			want: [][]view{{
				{0, true, []int32{0, 1}}, {1, true, []int32{4, 5}},
			}},
			numFlows: 2, maxLen: 2, truncated: 2,
		},
		{
			name:  "fixed size",
			ts:    []int64{0, 1, 2, 100, 101},
			flows: []uint32{1, 2, 1, 1, 2},
			opt:   Options{Chunks: 2, Mode: FixedSize},
			want: [][]view{
				{{0, true, []int32{0, 2}}, {1, true, []int32{1}}},
				{{0, false, []int32{3}}, {1, false, []int32{4}}},
			},
			numFlows: 2, maxLen: 2,
		},
		{
			name:  "no records",
			ts:    []int64{},
			flows: []uint32{},
			opt:   Options{Chunks: 2},
			want:  [][]view{{}, {}},
		},
		{
			name:  "single instant",
			ts:    []int64{5, 5, 5},
			flows: []uint32{1, 2, 1},
			opt:   Options{Chunks: 4},
			want: [][]view{
				{{0, true, []int32{0, 2}}, {1, true, []int32{1}}}, {}, {}, {},
			},
			numFlows: 2, maxLen: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Split(packets(tt.ts, tt.flows), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := chunks(s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("chunks\n got %v\nwant %v", got, tt.want)
			}
			if s.NumFlows != tt.numFlows || s.MaxFlowLen != tt.maxLen || s.Truncated != tt.truncated {
				t.Errorf("flows %d maxLen %d truncated %d; want %d %d %d", s.NumFlows, s.MaxFlowLen, s.Truncated, tt.numFlows, tt.maxLen, tt.truncated)
			}
			// Every flow appears exactly in the chunks that list it.
			for c, ch := range s.Chunks {
				listed := map[int]bool{}
				for _, f := range ch.Flows {
					listed[f.ID] = true
				}
				for id := 0; id < s.NumFlows; id++ {
					if s.Appears(id, c) != listed[id] {
						t.Errorf("Appears(%d, %d) = %v, chunk lists it: %v", id, c, s.Appears(id, c), listed[id])
					}
				}
			}
		})
	}
}

func TestSplitTags(t *testing.T) {
	s, err := Split(packets([]int64{0, 10, 29, 60, 90}, []uint32{1, 2, 1, 1, 3}), Options{Chunks: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Flow 0 in chunk 2: does not start there; appears in chunks 0 and 2.
	f := s.Chunks[2].Flows[0]
	got := s.Tags(nil, f)
	want := []float32{1, 0, 0, 1, 1, 0, 0, 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tags %v, want %v", got, want)
	}
	if len(got) != TagWidth(3) {
		t.Errorf("TagWidth(3) = %d, tags have %d", TagWidth(3), len(got))
	}
	if !reflect.DeepEqual(s.ChunksOf(0), []int{0, 2}) {
		t.Errorf("ChunksOf(0) = %v", s.ChunksOf(0))
	}
	one, _ := Split(packets([]int64{0, 1}, []uint32{1, 1}), Options{})
	if tags := one.Tags(nil, one.Chunks[0].Flows[0]); len(tags) != 0 || TagWidth(1) != 0 {
		t.Errorf("single chunk tags %v", tags)
	}
}

func TestTagsRoundTrip(t *testing.T) {
	tests := []struct {
		starts  bool
		appears []bool
	}{
		{true, []bool{true, false}},
		{false, []bool{true, true, true}},
		{true, []bool{false, false, true, false, true, true, false, false, false, true}},
	}
	for _, tt := range tests {
		v := AppendTags(nil, tt.starts, tt.appears)
		if len(v) != TagWidth(len(tt.appears)) {
			t.Fatalf("width %d, want %d", len(v), TagWidth(len(tt.appears)))
		}
		// Soften the one-hots as a generator's softmax would.
		for i := 0; i < len(v); i += 2 {
			if v[i] == 1 {
				v[i], v[i+1] = 0.6, 0.4
			} else {
				v[i], v[i+1] = 0.3, 0.7
			}
		}
		starts, appears, err := DecodeTags(v, len(tt.appears))
		if err != nil {
			t.Fatal(err)
		}
		if starts != tt.starts || !reflect.DeepEqual(appears, tt.appears) {
			t.Errorf("decoded %v %v, want %v %v", starts, appears, tt.starts, tt.appears)
		}
	}
	if _, _, err := DecodeTags(make([]float32, 5), 2); err == nil {
		t.Error("DecodeTags accepted a vector of the wrong width")
	}
}

func TestPlacement(t *testing.T) {
	tests := []struct {
		c       int
		starts  bool
		appears []bool
		keep    bool
		copies  []int
	}{
		{0, true, []bool{true, false, true, true}, true, []int{2, 3}},
		{1, true, []bool{true, true, false}, true, nil},
		{1, false, []bool{true, true, true}, false, nil},
		{1, true, []bool{true, false, true}, false, nil},
		{5, true, []bool{true}, false, nil},
	}
	for _, tt := range tests {
		keep, copies := Placement(tt.c, tt.starts, tt.appears)
		if keep != tt.keep || !reflect.DeepEqual(copies, tt.copies) {
			t.Errorf("Placement(%d, %v, %v) = %v %v; want %v %v", tt.c, tt.starts, tt.appears, keep, copies, tt.keep, tt.copies)
		}
	}
}

func TestChunkAt(t *testing.T) {
	b := Linspace(0, 90, 4)
	if !reflect.DeepEqual(b, []float64{0, 30, 60, 90}) {
		t.Fatalf("Linspace = %v", b)
	}
	tests := []struct {
		t    float64
		want int
	}{{0, 0}, {29.999, 0}, {30, 1}, {59, 1}, {60, 2}, {90, 2}, {-5, 0}, {100, 2}}
	for _, tt := range tests {
		if got := ChunkAt(b, tt.t); got != tt.want {
			t.Errorf("ChunkAt(%v) = %d, want %d", tt.t, got, tt.want)
		}
	}
}

func TestParseChunkMode(t *testing.T) {
	for in, want := range map[string]ChunkMode{"time": FixedTime, "fixed_time": FixedTime, "size": FixedSize, "fixed_size": FixedSize} {
		if got, err := ParseChunkMode(in); err != nil || got != want {
			t.Errorf("ParseChunkMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseChunkMode("sized"); err == nil {
		t.Error("ParseChunkMode accepted \"sized\"")
	}
}

func TestSplitErrors(t *testing.T) {
	b := packets([]int64{0}, []uint32{1})
	tests := []struct {
		opt  Options
		want string
	}{
		{Options{Key: []string{"srcip", "nope"}}, `no key column "nope"`},
		{Options{Time: "when"}, `no time column "when"`},
		{Options{Chunks: -1}, "chunks"},
		{Options{MaxFlowLen: -3}, "negative"},
	}
	for _, tt := range tests {
		_, err := Split(b, tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Split(%+v): %v, want error containing %q", tt.opt, err, tt.want)
		}
	}
}

// TestNetShareFile checks the counts NetShare's notes give for its own
// UGR'16 sample: 1000 records in 989 flows, at most 2 records per flow.
func TestNetShareFile(t *testing.T) {
	b := decodeFlowCSV(t, "ugr16_netshare-small_1k.csv")
	s, err := Split(b, Options{Chunks: 10})
	if err != nil {
		t.Fatal(err)
	}
	if s.NumFlows != 989 {
		t.Errorf("%d flows, want 989", s.NumFlows)
	}
	longest := 0
	total := 0
	for id := 0; id < s.NumFlows; id++ {
		longest = max(longest, len(s.Flow(id)))
		total += len(s.Flow(id))
	}
	if longest != 2 || total != 1000 {
		t.Errorf("longest flow %d records, total %d; want 2 and 1000", longest, total)
	}
	// Every record lands in exactly one chunk, within the chunk's bounds.
	seen := 0
	ts := b.Column("ts").I64
	for c, ch := range s.Chunks {
		for _, f := range ch.Flows {
			for _, r := range f.Rows {
				seen++
				tv := float64(ts[r])
				if tv < ch.Start || tv > ch.End || tv == ch.End && c != len(s.Chunks)-1 {
					t.Fatalf("row %d (t=%v) outside chunk %d [%v, %v)", r, tv, c, ch.Start, ch.End)
				}
			}
		}
	}
	if seen != 1000 {
		t.Errorf("chunks hold %d records, want 1000", seen)
	}
}

func decodeFlowCSV(t testing.TB, name string) *abi.Batch {
	t.Helper()
	data, err := os.ReadFile(shareddata.Path(t, "flows", name))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := netflowcsv.NewReader(sdk.Env{Params: sdktest.Params(t, abi.KindFormat, netflowcsv.Name, nil)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := dec.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	// One piece holds the whole small file; End adds nothing but stats.
	b, err = abi.DecodeBatch(abi.AppendBatch(nil, b))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAggregate(t *testing.T) {
	const s = 1_000_000
	// Flow 1: packets at 0, 1 s, then 200 s (idle > 120 s: a new flow).
	// Flow 2: one packet at 0.5 s. Unsorted on purpose.
	b := packets([]int64{200 * s, 0, s / 2, 1 * s}, []uint32{1, 1, 2, 1})
	out, err := Aggregate(b, AggregateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := [][]any{}
	for r := 0; r < out.Len(); r++ {
		got = append(got, []any{out.Column("srcip").U32[r], out.Column("ts").I64[r], out.Column("td").F64[r], out.Column("pkt").I64[r], out.Column("byt").I64[r]})
	}
	// pkt_len of row i is 40+i: rows 1 and 3 → 41+43, row 2 → 42, row 0 → 40.
	want := [][]any{
		{uint32(1), int64(0), 1.0, int64(2), int64(84)},
		{uint32(2), int64(s / 2), 0.0, int64(1), int64(42)},
		{uint32(1), int64(200 * s), 0.0, int64(1), int64(40)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flows\n got %v\nwant %v", got, want)
	}
	if err := out.Check(); err != nil {
		t.Error(err)
	}
	never, _ := Aggregate(b, AggregateOptions{IdleTimeout: -1})
	if never.Len() != 2 {
		t.Errorf("no idle timeout: %d flows, want 2", never.Len())
	}
	active, _ := Aggregate(b, AggregateOptions{ActiveTimeout: s / 2})
	if active.Len() != 4 {
		t.Errorf("0.5 s active timeout: %d flows, want 4", active.Len())
	}
	if _, err := Aggregate(&abi.Batch{Columns: b.Columns[:3]}, AggregateOptions{}); err == nil {
		t.Error("Aggregate accepted records without ports")
	}
}

// synthetic returns n packets in time order over about n/10 flows with a
// heavy-tailed flow size, like a backbone trace.
func synthetic(n int) *abi.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := make([]int64, n)
	flows := make([]uint32, n)
	for i := range ts {
		ts[i] = int64(i) * 10
		flows[i] = uint32(float64(n/10) * rng.Float64() * rng.Float64())
	}
	b := packets(ts, flows)
	sp := b.Column("srcport").U16
	for i := range sp {
		sp[i] = uint16(rng.IntN(4))
	}
	return b
}

var memoryFlag = flag.Bool("memory", false, "run the 1M-packet memory measurement")

// TestSplitMemory measures the heap Split needs per million packets. It
// runs with -memory, as it builds a large batch:
//
//	go test ./host/internal/flow -run TestSplitMemory -memory -v
func TestSplitMemory(t *testing.T) {
	if !*memoryFlag {
		t.Skip("run with -memory")
	}
	const n = 1_000_000
	b := synthetic(n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := Split(b, Options{Chunks: 10})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(s)
	alloc := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	var kept runtime.MemStats
	runtime.ReadMemStats(&kept)
	t.Logf("Split of %d packets, %d flows, 10 chunks: %.1f MB allocated, %.1f MB live after; records themselves %.1f MB",
		n, s.NumFlows, float64(alloc)/1e6, float64(kept.HeapAlloc-before.HeapAlloc)/1e6, float64(len(abi.AppendBatch(nil, b)))/1e6)
}

func BenchmarkSplit1M(b *testing.B) {
	batch := synthetic(1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(batch, Options{Chunks: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAggregate1M(b *testing.B) {
	batch := synthetic(1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Aggregate(batch, AggregateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
