package encoding

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/tensor"
)

// f32eps is float32's relative precision: tensors hold float32 values.
const f32eps = 1.0 / (1 << 23)

// netflowFields is NetShare's NetFlow configuration (docs/encoders.md).
func netflowFields() []abi.Field {
	return []abi.Field{
		{Name: "srcip", Role: abi.RoleAttribute, Encoder: "ip-bits"},
		{Name: "dstip", Role: abi.RoleAttribute, Encoder: "ip-bits"},
		{Name: "srcport", Role: abi.RoleAttribute, Encoder: "word2vec"},
		{Name: "dstport", Role: abi.RoleAttribute, Encoder: "word2vec"},
		{Name: "proto", Role: abi.RoleAttribute, Encoder: "word2vec"},
		{Name: "ts", Role: abi.RoleTime, Encoder: "time"},
		{Name: "td", Role: abi.RoleFeature, Encoder: "continuous", Params: map[string]any{"log1p": true}},
		{Name: "pkt", Role: abi.RoleFeature, Encoder: "continuous", Params: map[string]any{"log1p": true}},
		{Name: "byt", Role: abi.RoleFeature, Encoder: "continuous", Params: map[string]any{"log1p": true}},
		{Name: "type", Role: abi.RoleFeature, Encoder: "categorical"},
	}
}

// privateFields is the same under differential privacy: fixed bounds
// (NetShare's DP values), listed categories, a pretrained word2vec.
func privateFields(pretrained string) []abi.Field {
	f := netflowFields()
	for i := range f {
		switch f[i].Name {
		case "srcport", "dstport", "proto":
			f[i].Params = map[string]any{"pretrained": pretrained}
		case "ts":
			f[i].Params = map[string]any{"iat_max": 300.0}
		case "td":
			f[i].Params["min"], f[i].Params["max"] = 0.0, 600.0
		case "pkt":
			f[i].Params["min"], f[i].Params["max"] = 1.0, 1e6
		case "byt":
			f[i].Params["min"], f[i].Params["max"] = 20.0, 1.5e9
		case "type":
			f[i].Params = map[string]any{"choices": []any{"background", "blacklist", "anomaly-spam"}, "unseen": "other"}
		}
	}
	return f
}

// roundTrip fits, saves, reloads, encodes every chunk and checks that
// decoding gives back the chunk's records (the first maxLen of each flow).
func roundTrip(t *testing.T, rt Runtime, cfg Config, b *abi.Batch, set *flow.Set) *State {
	return roundTripCalls(t, rt, cfg, b, set, 0)
}

// roundTripCalls is roundTrip with at most callRows records per plugin
// call (0: the default).
func roundTripCalls(t *testing.T, rt Runtime, cfg Config, b *abi.Batch, set *flow.Set, callRows int) *State {
	t.Helper()
	ctx := context.Background()
	st, err := Fit(ctx, rt, cfg, b, set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "encoding.json")
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	st2, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := Open(ctx, rt, st2)
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close(ctx)
	codec.CallRows = callRows
	L := st.MaxLen
	for k, ch := range set.Chunks {
		if len(ch.Flows) == 0 {
			continue
		}
		ts, err := codec.Encode(ctx, b, set, k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := codec.Decode(ctx, ts, k)
		if err != nil {
			t.Fatal(err)
		}
		var rows []int
		var flowIx []uint32
		for f, fl := range ch.Flows {
			for _, r := range fl.Rows[:min(len(fl.Rows), L)] {
				rows = append(rows, int(r))
				flowIx = append(flowIx, uint32(f))
			}
		}
		if got.Len() != len(rows) {
			t.Fatalf("chunk %d: decoded %d rows, want %d", ch.Index, got.Len(), len(rows))
		}
		for i, f := range got.Column(abi.FlowColumn).U32 {
			if f != flowIx[i] {
				t.Fatalf("chunk %d row %d: _flow %d, want %d", ch.Index, i, f, flowIx[i])
			}
		}
		// Time survives the float32 tensor to within its quantisation:
		// one step of the chunk's start span plus one per interarrival.
		var tsTol float64
		if st.Time != nil {
			var s struct {
				Lo, Hi int64
				IATHi  float64 `json:"iat_hi"`
			}
			json.Unmarshal(st.Time.Chunks[k], &s)
			tsTol = 1 + f32eps*(float64(s.Hi-s.Lo)+float64(L)*s.IATHi)
		}
		for _, f := range cfg.Fields {
			want, g := b.Column(f.Name), got.Column(f.Name)
			if g == nil || g.Type != want.Type {
				t.Fatalf("chunk %d: decoded column %q is %+v, want type %s", ch.Index, f.Name, g, want.Type)
			}
			for i, r := range rows {
				switch want.Type {
				case abi.TypeString:
					if g.String(i) != want.String(r) {
						t.Fatalf("chunk %d %s row %d: %q, want %q", ch.Index, f.Name, i, g.String(i), want.String(r))
					}
				case abi.TypeF64, abi.TypeI64:
					// Continuous values pass through float32: log1p
					// scaling keeps the relative error near 2^-24 × the
					// log range (≤ 25), integers then round.
					w, x := want.Float(r), g.Float(i)
					if d := math.Abs(x - w); d > 25*f32eps*math.Abs(w)+1e-6 && !(want.Type == abi.TypeI64 && d <= 1) {
						t.Fatalf("chunk %d %s row %d: %v, want %v", ch.Index, f.Name, i, x, w)
					}
				case abi.TypeTime:
					if d := math.Abs(g.Float(i) - want.Float(r)); d > tsTol {
						t.Fatalf("chunk %d %s row %d: %v, want %v (tolerance %v µs)", ch.Index, f.Name, i, g.Float(i), want.Float(r), tsTol)
					}
				default:
					if g.Float(i) != want.Float(r) {
						t.Fatalf("chunk %d %s row %d: %v, want %v", ch.Index, f.Name, i, g.Float(i), want.Float(r))
					}
				}
			}
		}
	}
	return st
}

func TestRoundTripRealData(t *testing.T) {
	b := loadUGR(t)
	for _, n := range []int{1, 3, 10} {
		roundTrip(t, newNative(), Config{Fields: netflowFields(), Seed: 1}, b, split(t, b, n))
	}
	// Chunks larger than one call's rows are split across calls.
	roundTripCalls(t, newNative(), Config{Fields: netflowFields(), Seed: 1}, b, split(t, b, 1), 97)
}

// netshareFields are netflowFields without popular-value categories:
// NetShare's layout.
func netshareFields() []abi.Field {
	f := netflowFields()
	for i := range f {
		if f[i].Encoder == "ip-bits" || f[i].Encoder == "word2vec" {
			f[i].Params = map[string]any{"min_flows": int64(0)}
		}
	}
	return f
}

func TestLayout(t *testing.T) {
	b := loadUGR(t)
	st, err := Fit(context.Background(), newNative(), Config{Fields: netshareFields(), MaxLen: 5, Seed: 1}, b, split(t, b, 10))
	if err != nil {
		t.Fatal(err)
	}
	// NetShare: 64+64+10+10+10 + 22 flow tags + 1 flow start = 181; the
	// start here is also one of 16 bins (docs/encoders.md, time): 197.
	if w := tensor.Width(st.AttrOutputs); w != 197 {
		t.Errorf("attribute width %d, want 197", w)
	}
	// interarrival, td, pkt, byt, type (background, blacklist).
	if w := tensor.Width(st.FeatOutputs); w != 6 {
		t.Errorf("feature width %d, want 6", w)
	}
	names := func(outs []tensor.Output) []string {
		var s []string
		for _, o := range outs {
			s = append(s, o.Name)
		}
		return s
	}
	a := names(st.AttrOutputs)
	if a[0] != "srcip.bit0" || a[32] != "dstip.bit0" || a[64] != "srcport" || a[66] != "proto" || a[67] != "flow.start_here" || a[68] != "flow.chunk0" || a[len(a)-1] != "ts.start" {
		t.Errorf("attribute order %v", a)
	}
	if f := names(st.FeatOutputs); strings.Join(f, ",") != "ts.iat,td,pkt,byt,type" {
		t.Errorf("feature order %v", f)
	}
	// A flow's first interarrival is not read (docs/gan.md); no other
	// output is spared.
	for i, o := range st.FeatOutputs {
		if o.FirstUnused != (i == 0) {
			t.Errorf("feature %s: FirstUnused %v", o.Name, o.FirstUnused)
		}
	}
	// In raw mode the time feature is the timestamp itself.
	st.Time.StartOutputs = nil
	if err := st.layout(); err != nil {
		t.Fatal(err)
	}
	if st.FeatOutputs[0].FirstUnused {
		t.Error("raw time: FirstUnused")
	}
	// One shared word2vec state for the three fields.
	var w2v [][]byte
	for _, f := range st.Fields {
		if f.Encoder == "word2vec" {
			w2v = append(w2v, f.State)
		}
	}
	if len(w2v) != 3 || string(w2v[0]) != string(w2v[1]) || string(w2v[1]) != string(w2v[2]) {
		t.Errorf("word2vec fields do not share one state")
	}
}

func TestSharedFitOnce(t *testing.T) {
	b := loadUGR(t)
	rt := newNative()
	set := split(t, b, 3)
	if _, err := Fit(context.Background(), rt, Config{Fields: netflowFields(), MaxLen: 5, Seed: 1, FitBatch: 400}, b, set); err != nil {
		t.Fatal(err)
	}
	// 1000 rows in 3 batches: ip-bits ×2, word2vec once, td/pkt/byt/type
	// ×4, each 3 calls; plus, for time, one call per 400 rows (at most 5
	// a flow) of each non-empty chunk.
	want := int64(3 * (2 + 1 + 4))
	for _, ch := range set.Chunks {
		rows := 0
		for _, f := range ch.Flows {
			rows += min(len(f.Rows), 5)
		}
		want += int64((rows + 399) / 400)
	}
	if got := rt.fitCalls.Load(); got != want {
		t.Errorf("%d fit calls, want %d", got, want)
	}
}

func TestFlowTagsAndTruncation(t *testing.T) {
	b := loadUGR(t)
	set := split(t, b, 3)
	ctx := context.Background()
	rt := newNative()
	const L = 2
	st, err := Fit(ctx, rt, Config{Fields: netflowFields(), MaxLen: L, Seed: 1}, b, set)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := Open(ctx, rt, st)
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close(ctx)
	off := 0 // the flow tags follow the attribute fields' outputs
	for _, o := range st.AttrOutputs {
		if o.Name == "flow.start_here" {
			break
		}
		off += o.Width
	}
	carried := 0
	for k, ch := range set.Chunks {
		ts, err := codec.Encode(ctx, b, set, k)
		if err != nil {
			t.Fatal(err)
		}
		A := tensor.Width(ts.AttrOutputs)
		for f, fl := range ch.Flows {
			tags := ts.Attributes[f*A+off : f*A+off+8]
			want := []float32{1, 0, 1, 0, 1, 0, 1, 0}
			if fl.Starts {
				want[0], want[1] = 0, 1
			}
			for _, c := range set.ChunksOf(fl.ID) {
				want[2+2*c], want[3+2*c] = 0, 1
			}
			for i := range want {
				if tags[i] != want[i] {
					t.Fatalf("chunk %d flow %d: tags %v, want %v", k, f, tags, want)
				}
			}
			if !fl.Starts {
				carried++
			}
			for j := 0; j < L; j++ {
				wantFlag := float32(0)
				if j < len(fl.Rows) {
					wantFlag = 1
				}
				if ts.GenFlags[f*L+j] != wantFlag {
					t.Fatalf("chunk %d flow %d step %d: gen flag %v, want %v", k, f, j, ts.GenFlags[f*L+j], wantFlag)
				}
			}
		}
	}
	if carried == 0 {
		t.Fatal("no flow spans chunks in the sample: the test checks nothing about carried-over flows")
	}
	roundTrip(t, rt, Config{Fields: netflowFields(), MaxLen: L, Seed: 1}, b, set)
}

// Generated tensors are soft and noisy; decoding must still produce valid
// records within the fitted ranges.
func TestDecodeGenerated(t *testing.T) {
	b := loadUGR(t)
	set := split(t, b, 2)
	ctx := context.Background()
	rt := newNative()
	st, err := Fit(ctx, rt, Config{Fields: netflowFields(), MaxLen: 4, Seed: 1}, b, set)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := Open(ctx, rt, st)
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close(ctx)
	N, L := 50, 4
	A, D := tensor.Width(st.AttrOutputs), tensor.Width(st.FeatOutputs)
	gen := &tensor.Set{N: N, L: L, Attributes: make([]float32, N*A), Features: make([]float32, N*L*D), GenFlags: make([]float32, N*L), AttrOutputs: st.AttrOutputs, FeatOutputs: st.FeatOutputs}
	x := uint64(12345)
	rnd := func() float32 {
		x = x*6364136223846793005 + 1442695040888963407
		return float32(x>>40) / (1 << 24)
	}
	fill := func(dst []float32, outs []tensor.Output) {
		for i := 0; i < len(dst); {
			for _, o := range outs {
				for k := 0; k < o.Width; k++ {
					v := rnd()
					if o.Activation == tensor.Tanh {
						v = 2*v - 1
					}
					dst[i] = v
					i++
				}
			}
		}
	}
	fill(gen.Attributes, st.AttrOutputs)
	fill(gen.Features, st.FeatOutputs)
	valid := 0
	for f := 0; f < N; f++ {
		n := 1 + f%L
		for j := 0; j < n; j++ {
			gen.GenFlags[f*L+j] = 1
			valid++
		}
	}
	got, err := codec.Decode(ctx, gen, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != valid {
		t.Fatalf("decoded %d rows, want %d", got.Len(), valid)
	}
	protos := map[uint8]bool{}
	for _, p := range b.Column("proto").U8 {
		protos[p] = true
	}
	ts := got.Column("ts").I64
	var lo, hi int64 = math.MaxInt64, 0
	for _, fl := range set.Chunks[1].Flows {
		lo = min(lo, b.Column("ts").I64[fl.Rows[0]])
		hi = max(hi, b.Column("ts").I64[fl.Rows[0]])
	}
	for i := 0; i < got.Len(); i++ {
		if !protos[got.Column("proto").U8[i]] {
			t.Fatalf("row %d: proto %d was never seen", i, got.Column("proto").U8[i])
		}
		if ts[i] < lo {
			t.Fatalf("row %d: ts %d before the chunk's first flow start %d", i, ts[i], lo)
		}
		if f := got.Column(abi.FlowColumn).U32[i]; i > 0 && f == got.Column(abi.FlowColumn).U32[i-1] && ts[i] < ts[i-1] {
			t.Fatalf("row %d: time goes back within flow %d", i, f)
		}
	}
	// No flows: no records, no error.
	empty := &tensor.Set{N: 0, L: L, AttrOutputs: st.AttrOutputs, FeatOutputs: st.FeatOutputs}
	if got, err := codec.Decode(ctx, empty, 1); err != nil {
		t.Fatalf("empty set: %v", err)
	} else if got.Len() != 0 {
		t.Fatalf("empty set decoded to %d rows", got.Len())
	}
	// A NaN or infinity anywhere a decode reads is named by flow, step
	// and column: in an ip-bits pair, a word2vec vector, a feature.
	aw, fw := tensor.Width(st.AttrOutputs), tensor.Width(st.FeatOutputs)
	for _, tc := range []struct {
		attr  bool
		index int
		v     float32
		want  string
	}{
		{false, 3, float32(math.NaN()), "flow 0 step 0 feature 3 is NaN"},
		{false, 1*L*fw + fw + 2, float32(math.Inf(-1)), "flow 1 step 1 feature 2 is -Inf"},
		{true, 2*aw + 5, float32(math.Inf(1)), "flow 2 attribute 5 is +Inf"},
		{true, 130, float32(math.NaN()), "flow 0 attribute 130 is NaN"},
	} {
		bad := *gen
		bad.Attributes = append([]float32(nil), gen.Attributes...)
		bad.Features = append([]float32(nil), gen.Features...)
		bad.GenFlags = append([]float32(nil), gen.GenFlags...)
		if tc.attr {
			bad.Attributes[tc.index] = tc.v
		} else {
			bad.Features[tc.index] = tc.v
			bad.GenFlags[tc.index/fw] = 1 // the step is read
		}
		if _, err := codec.Decode(ctx, &bad, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v", tc.want, err)
		}
	}
}

func TestPrivate(t *testing.T) {
	b := loadUGR(t)
	set := split(t, b, 2)
	ctx := context.Background()
	rt := newNative()

	// Default params read the data: refused, naming the field.
	_, err := Fit(ctx, rt, Config{Fields: netflowFields(), MaxLen: 4, Seed: 1, Private: true}, b, set)
	if err == nil || !strings.Contains(err.Error(), `"srcport"`) || !strings.Contains(err.Error(), "pretrained") {
		t.Fatalf("private fit with data-derived word2vec: %v", err)
	}

	// A public run's saved encoding serves as the pretrained word2vec.
	dir := t.TempDir()
	public, err := Fit(ctx, rt, Config{Fields: netflowFields(), MaxLen: 4, Seed: 2}, b, split(t, b, 1))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "public.json")
	if err := public.Save(path); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Fields: privateFields(path), Seed: 1, Private: true}
	st := roundTrip(t, rt, cfg, b, set)
	for _, f := range st.Fields {
		if f.Params["private"] != true {
			t.Errorf("field %q fitted without private = true", f.Name)
		}
		if f.Encoder == "word2vec" && string(f.State) != string(public.Fields[2].State) {
			t.Errorf("field %q did not take the pretrained model", f.Name)
		}
	}
	// The time bounds are the chunks' spans, not the data's.
	for k, raw := range st.Time.Chunks {
		var s struct{ Lo, Hi int64 }
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if s.Lo != int64(math.Floor(set.Chunks[k].Start)) || s.Hi != int64(math.Ceil(set.Chunks[k].End)) {
			t.Errorf("chunk %d: time bounds [%d,%d], want the chunk's [%v,%v]", k, s.Lo, s.Hi, set.Chunks[k].Start, set.Chunks[k].End)
		}
	}
	// A missing pretrained file is named.
	cfg.Fields = privateFields(filepath.Join(dir, "absent.json"))
	if _, err := Fit(ctx, rt, cfg, b, set); err == nil || !strings.Contains(err.Error(), "absent.json") {
		t.Fatalf("missing pretrained file: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	b := loadUGR(t)
	set := split(t, b, 1)
	with := func(edit func([]abi.Field) []abi.Field) []abi.Field { return edit(netflowFields()) }
	tests := []struct {
		name   string
		fields []abi.Field
		want   string
	}{
		{"unknown encoder", with(func(f []abi.Field) []abi.Field { f[0].Encoder = "ip-bit"; return f }), `did you mean "ip-bits"`},
		{"missing column", with(func(f []abi.Field) []abi.Field { f[0].Name = "srcipp"; return f }), `field 1 ("srcipp"): the records have no such column (did you mean "srcip"?)`},
		{"bad role", with(func(f []abi.Field) []abi.Field { f[0].Role = "meta"; return f }), `role "meta"`},
		{"duplicate", with(func(f []abi.Field) []abi.Field { f[1].Name = "srcip"; return f }), "configured twice"},
		{"two time fields", with(func(f []abi.Field) []abi.Field {
			f[6].Role = abi.RoleTime
			f[6].Encoder = "time"
			f[6].Params = nil
			return f
		}), "a second time field"},
		{"part set", with(func(f []abi.Field) []abi.Field { f[5].Params = map[string]any{"part": "iat"}; return f }), "part is set by the host"},
		{"time without part", with(func(f []abi.Field) []abi.Field { f[5].Encoder = "continuous"; return f }), "needs an encoder with a part param"},
		{"bad param", with(func(f []abi.Field) []abi.Field { f[6].Params = map[string]any{"log1pp": true}; return f }), `field 7 ("td"): encoder "continuous" has no parameter "log1pp"`},
		{"fit error names field", with(func(f []abi.Field) []abi.Field { f[9].Encoder = "continuous"; return f }), `field "type"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fit(context.Background(), newNative(), Config{Fields: tc.fields, MaxLen: 3}, b, set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadStateRejects(t *testing.T) {
	b := loadUGR(t)
	st, err := Fit(context.Background(), newNative(), Config{Fields: netflowFields(), MaxLen: 3}, b, split(t, b, 1))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("save left %d files behind, want 1", len(entries))
	}
	tests := []struct {
		name string
		edit func(*State)
		want string
	}{
		{"version", func(s *State) { s.Version = 99 }, "version 99"},
		{"layout", func(s *State) { s.AttrOutputs = s.AttrOutputs[1:] }, "disagrees"},
		{"time chunks", func(s *State) { s.Time.Chunks = nil }, "0 chunk states for 1 chunks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s2, _ := LoadState(path)
			tc.edit(s2)
			raw, _ := json.Marshal(s2)
			p := filepath.Join(dir, tc.name+".json")
			os.WriteFile(p, raw, 0o644)
			if _, err := LoadState(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A state saved before tensor.Output.FirstUnused existed loads, with the
// flag recomputed.
func TestLoadStateBeforeFirstUnused(t *testing.T) {
	b := loadUGR(t)
	st, err := Fit(context.Background(), newNative(), Config{Fields: netflowFields(), MaxLen: 3}, b, split(t, b, 1))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.ReplaceAll(string(raw), `,"first_unused":true`, "")
	if old == string(raw) {
		t.Fatal("no first_unused in the saved state")
	}
	p := filepath.Join(t.TempDir(), "old.json")
	if err := os.WriteFile(p, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(p)
	if err != nil {
		t.Fatal(err)
	}
	if !got.FeatOutputs[0].FirstUnused {
		t.Errorf("%s: FirstUnused not recomputed", got.FeatOutputs[0].Name)
	}
}

// Lanes decode blocks side by side on their own instances; the records
// must be those of one codec, for exact encodings and for noisy ones.
func TestDecodeLanes(t *testing.T) {
	b := loadUGR(t)
	set := split(t, b, 3)
	ctx := context.Background()
	st, err := Fit(ctx, newNative(), Config{Fields: netflowFields(), Seed: 1}, b, set)
	if err != nil {
		t.Fatal(err)
	}
	one, err := Open(ctx, newNative(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close(ctx)
	lanes, err := OpenLanes(ctx, []Runtime{newNative(), newNative(), newNative()}, st)
	if err != nil {
		t.Fatal(err)
	}
	defer lanes.Close(ctx)
	lanes.CallRows = 7 // many blocks: 256-flow blocks would be one here
	r := rand.New(rand.NewPCG(3, 4))
	for k, ch := range set.Chunks {
		if len(ch.Flows) == 0 {
			continue
		}
		ts, err := one.Encode(ctx, b, set, k)
		if err != nil {
			t.Fatal(err)
		}
		noisy := *ts
		noisy.Attributes = append([]float32(nil), ts.Attributes...)
		for i := range noisy.Attributes {
			noisy.Attributes[i] += float32(0.05 * r.NormFloat64())
		}
		for _, in := range []*tensor.Set{ts, &noisy} {
			want, err := one.Decode(ctx, in, k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := lanes.Decode(ctx, in, k)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("chunk %d: lanes decoded differently from one codec", k)
			}
		}
	}
}
