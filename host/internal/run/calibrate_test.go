package run

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/calibrate"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/tensor"
)

// fiveTuples builds records of srcip, dstip, srcport, dstport, proto.
func fiveTuples(rows ...[5]uint32) *abi.Batch {
	cols := []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4}, {Name: "dstip", Type: abi.TypeIPv4},
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16}, {Name: "proto", Type: abi.TypeU8},
	}
	for _, r := range rows {
		cols[0].U32 = append(cols[0].U32, r[0])
		cols[1].U32 = append(cols[1].U32, r[1])
		cols[2].U16 = append(cols[2].U16, uint16(r[2]))
		cols[3].U16 = append(cols[3].U16, uint16(r[3]))
		cols[4].U8 = append(cols[4].U8, uint8(r[4]))
	}
	return &abi.Batch{Columns: cols}
}

// TestRegroupAddresses: generated addresses no training flow has get the
// training profile of flows per address over the addresses the synthetic
// trace does not reproduce; reproduced addresses, columns whose values
// are all reproduced, and the input batches stay as they were; a flow
// with records in two chunks counts once and keeps one address.
func TestRegroupAddresses(t *testing.T) {
	const popular, server = 0x01010101, 0x09090909
	var train [][5]uint32
	for i := range 10 { // a popular address: reproduced, not regrouped
		train = append(train, [5]uint32{popular, server, uint32(1000 + i), 80, 6})
	}
	// Unreproduced: one address in 3 flows, one in 2, 6 in one each.
	for i := range 3 {
		train = append(train, [5]uint32{0x0a000001, server, uint32(2000 + i), 80, 6})
	}
	for i := range 2 {
		train = append(train, [5]uint32{0x0a000002, server, uint32(3000 + i), 80, 6})
	}
	for i := range 6 {
		train = append(train, [5]uint32{0x0a000003 + uint32(i), server, 4000, 80, 6})
	}
	// 22 synthetic flows on new addresses, twice the 11 unreproduced
	// training flows: 12 addresses of one flow, 2 of two, 2 of three.
	var a, b [][5]uint32
	for i := range 10 {
		a = append(a, [5]uint32{popular, server, uint32(5000 + i), 80, 6})
	}
	for i := range 22 {
		row := [5]uint32{0x14000000 + uint32(7*i), server, uint32(6000 + i), 80, 6}
		if i%2 == 0 {
			a = append(a, row)
		} else {
			b = append(b, row)
		}
	}
	b = append(b, a[10]) // flow 0 goes on into the next chunk
	in := []*abi.Batch{fiveTuples(a...), fiveTuples(b...)}
	parts := slices.Clone(in)
	before := []*abi.Batch{fiveTuples(a...), fiveTuples(b...)}
	generated := map[uint32]bool{}
	for _, p := range parts {
		for _, v := range p.Column("srcip").U32 {
			generated[v] = true
		}
	}
	state := &encoding.State{Fields: []encoding.FieldState{
		{Field: abi.Field{Name: "srcip", Role: abi.RoleAttribute}},
		{Field: abi.Field{Name: "dstip", Role: abi.RoleAttribute}},
		{Field: abi.Field{Name: "srcport", Role: abi.RoleAttribute}},
	}}
	var out bytes.Buffer
	r := &runner{cfg: tinyConfig(t, t.TempDir()), records: fiveTuples(train...), state: state, out: &out}
	notes := r.regroupAddresses(parts)
	r.reportRegrouped(notes)

	want := []regrouped{{Column: "srcip", Flows: 22, Before: 22, After: 16, Training: 8}}
	if !slices.Equal(notes, want) {
		t.Errorf("notes %+v, want %+v", notes, want)
	}
	if !strings.Contains(out.String(), "generate regrouped srcip: 22 flows on 22 addresses") {
		t.Errorf("console: %q", out.String())
	}
	flows := map[uint32]map[uint32]bool{} // address → source ports (flows)
	for k, p := range parts {
		src, sport := p.Column("srcip"), p.Column("srcport")
		for i, v := range src.U32 {
			if !generated[v] {
				t.Fatalf("address %#x is not a generated one", v)
			}
			if flows[v] == nil {
				flows[v] = map[uint32]bool{}
			}
			flows[v][uint32(sport.U16[i])] = true
		}
		if !slices.Equal(p.Column("dstip").U32, before[k].Column("dstip").U32) {
			t.Error("dstip, reproduced everywhere, changed")
		}
	}
	if n := len(flows[popular]); n != 10 {
		t.Errorf("the popular address has %d flows, want its 10", n)
	}
	profile := map[int]int{}
	for v, f := range flows {
		if v != popular {
			profile[len(f)]++
		}
	}
	if w := map[int]int{1: 12, 2: 2, 3: 2}; !maps.Equal(profile, w) {
		t.Errorf("addresses by flows %v, want %v", profile, w)
	}
	if x, y := parts[0].Column("srcip").U32[10], parts[1].Column("srcip").U32[11]; x != y {
		t.Errorf("the flow in two chunks has addresses %#x and %#x", x, y)
	}
	for k := range in {
		if !slices.Equal(in[k].Column("srcip").U32, before[k].Column("srcip").U32) {
			t.Errorf("chunk %d: the batch handed in was written", k)
		}
	}
	// Off: nothing moves.
	parts = []*abi.Batch{fiveTuples(a...), fiveTuples(b...)}
	r.cfg = tinyConfig(t, t.TempDir(), "model.calibrate=off")
	if notes := r.regroupAddresses(parts); notes != nil || !slices.Equal(parts[0].Column("srcip").U32, before[0].Column("srcip").U32) {
		t.Errorf("model.calibrate = off regrouped: %+v", notes)
	}
}

// TestCalibrateRecords: a flow's first record takes the training data's
// first-record shares and the others the others', where the generator
// put a SYN nowhere; padded records stay as generated. Without the
// first-record shares (a chunk's shares from before them) all records
// take the overall share.
func TestCalibrateRecords(t *testing.T) {
	const n, L, D = 400, 4, 2 // flows, records per flow, head: SYN, ACK
	heads := []calibrate.Head{{Name: "flags", Off: 0, Width: 2}}
	gen := func() ([]float32, []float64) {
		rng := rand.New(rand.NewPCG(5, 6))
		feats := make([]float32, n*L*D)
		w := make([]float64, n*L)
		for i := range n * L {
			p := 0.4 * rng.Float32()
			feats[i*D], feats[i*D+1] = p, 1-p
			if i%L < 3 { // the last record of every flow is padding
				w[i] = 1
			}
		}
		return feats, w
	}
	syn := func(feats []float32, w []float64, first bool) float64 {
		k, all := 0.0, 0.0
		for i := range n * L {
			if w[i] > 0 && (i%L == 0) == first {
				all++
				if feats[i*D] > feats[i*D+1] {
					k++
				}
			}
		}
		return k / all
	}
	sh := &chunkShares{Feat: [][]float64{{0.1, 0.9}}, First: [][]float64{{0.3, 0.7}}, Later: [][]float64{{0, 1}}}
	feats, w := gen()
	orig := slices.Clone(feats)
	shifts, _ := calibrateRecords(feats, D, L, w, heads, nil, sh)
	if got := syn(feats, w, true); math.Abs(got-0.3) > 1.0/n {
		t.Errorf("first records: SYN share %g, want 0.3", got)
	}
	if got := syn(feats, w, false); got != 0 {
		t.Errorf("later records: SYN share %g, want 0", got)
	}
	for i := range n {
		r := i*L + L - 1
		if feats[r*D] != orig[r*D] || feats[r*D+1] != orig[r*D+1] {
			t.Fatalf("padded record %d changed", r)
		}
	}
	if len(shifts) != 1 || math.Abs(shifts[0].Before-0.1) > 1e-9 || shifts[0].After > 1.0/n {
		t.Errorf("shifts %+v, want one from 0.1 to about 0", shifts)
	}

	feats, w = gen()
	calibrateRecords(feats, D, L, w, heads, nil, &chunkShares{Feat: sh.Feat})
	if a, b := syn(feats, w, true), syn(feats, w, false); math.Abs((a+2*b)/3-0.1) > 1.0/n || a > 0.2 {
		t.Errorf("without first-record shares: SYN share first %g, later %g, want 0.1 over all, spread", a, b)
	}
}

// TestCalibrateRecordsCombos: where the direction decides the flags in
// the training records, each record decodes into a pair of them that
// training records have: first records an outgoing SYN (by the shares),
// later ones that or a returning RST-ACK (by the pairs), where the
// generator drew every combination; padded records stay.
func TestCalibrateRecordsCombos(t *testing.T) {
	const n, L, D = 300, 3, 4 // flows, records per flow: dir out/back, flags SYN/RST-ACK
	heads := []calibrate.Head{{Name: "dir", Off: 0, Width: 2}, {Name: "flags", Off: 2, Width: 2}}
	rng := rand.New(rand.NewPCG(7, 8))
	feats := make([]float32, n*L*D)
	w := make([]float64, n*L)
	for i := range n * L {
		p, q := rng.Float32(), rng.Float32()
		copy(feats[i*D:], []float32{p, 1 - p, q, 1 - q})
		if i%L < 2 { // the last record of every flow is padding
			w[i] = 1
		}
	}
	orig := slices.Clone(feats)
	sh := &chunkShares{
		Feat:  [][]float64{{0.75, 0.25}, {0.75, 0.25}},
		First: [][]float64{{1, 0}, {1, 0}}, Later: [][]float64{{0.5, 0.5}, {0.5, 0.5}},
		Pairs: []calibrate.Pair{{A: 0, B: 1, Combos: [][]int32{{0, 0}, {1, 1}}}},
	}
	_, moved := calibrateRecords(feats, D, L, w, heads, nil, sh)
	if moved == 0 {
		t.Fatal("no record moved, though a quarter of them were drawn returning SYNs")
	}
	changed := 0
	for i := range n * L {
		r := feats[i*D : i*D+D]
		switch {
		case w[i] == 0:
			if !slices.Equal(r, orig[i*D:i*D+D]) {
				t.Fatalf("padded record %d changed", i)
			}
			continue
		case i%L == 0 && !slices.Equal(r, []float32{1, 0, 1, 0}):
			t.Fatalf("first record %d is %v, want an outgoing SYN", i, r)
		case !slices.Equal(r, []float32{1, 0, 1, 0}) && !slices.Equal(r, []float32{0, 1, 0, 1}):
			t.Fatalf("later record %d is %v, a combination training lacks", i, r)
		}
		if o := orig[i*D : i*D+D]; (o[0] > o[1]) != (r[0] > r[1]) || (o[2] > o[3]) != (r[2] > r[3]) {
			changed++
		}
	}
	// every moved record changed, and shifts alone moved some more
	if changed < moved {
		t.Errorf("%d records changed, fewer than the %d moved", changed, moved)
	}
}

// TestCalibrateRecordsOneRecord: with flows of one record (one place)
// the continuous columns still move onto the training quantiles.
func TestCalibrateRecordsOneRecord(t *testing.T) {
	const n, D = 100, 1
	feats := make([]float32, n)
	gen := make([]float64, n)
	for i := range feats {
		feats[i], gen[i] = 0.5, 1 // a generator that gave one value
	}
	train := make([]float32, n)
	for i := range train {
		train[i] = float32(i) / (n - 1)
	}
	cols := []calibrate.Column{{Name: "td", Col: 0}}
	sh := &chunkShares{Feat: [][]float64{}, First: [][]float64{}, FirstValues: calibrate.Quantiles(train, D, nil, cols)}
	calibrateRecords(feats, D, 1, gen, nil, cols, sh)
	if lo, hi := slices.Min(feats), slices.Max(feats); lo > 0.02 || hi < 0.98 {
		t.Errorf("values span [%g, %g], want the training's [0, 1]", lo, hi)
	}
}

// TestValueColumns: the continuous feature columns, each within its
// field's one softmax head (a mixed field's mode), none for a field with
// two heads or none; attributes and softmax outputs are not columns.
func TestValueColumns(t *testing.T) {
	out := func(name string, w int, d bool) abi.Output {
		o := abi.Output{Name: name, Width: w, Activation: abi.ActSigmoid}
		if d {
			o.Discrete, o.Activation = true, abi.ActSoftmax
		}
		return o
	}
	field := func(name, role string, outs ...abi.Output) encoding.FieldState {
		return encoding.FieldState{Field: abi.Field{Name: name, Role: role}, Outputs: outs}
	}
	state := &encoding.State{
		Fields: []encoding.FieldState{
			field("srcport", abi.RoleAttribute, out("srcport.popular", 3, true), out("srcport.rank", 1, false)),
			field("pkt_len", abi.RoleFeature, out("pkt_len.mode", 4, true), out("pkt_len.value", 1, false)),
			field("tcp_flags", abi.RoleFeature, out("tcp_flags", 3, true)),
			field("ttl", abi.RoleFeature, out("ttl", 1, false)),
			field("two", abi.RoleFeature, out("two.a", 2, true), out("two.b", 2, true), out("two.value", 1, false)),
		},
		Time: &encoding.TimeState{Field: abi.Field{Name: "ts", Role: abi.RoleTime}, IATOutputs: []abi.Output{out("ts.iat", 1, false)}},
	}
	// the layout: the time field's interarrival, then the features
	for _, o := range append(slices.Clone(state.Time.IATOutputs), slices.Concat(state.Fields[1].Outputs, state.Fields[2].Outputs, state.Fields[3].Outputs, state.Fields[4].Outputs)...) {
		t := tensor.Output{Name: o.Name, Width: o.Width, Kind: tensor.Continuous, Activation: tensor.Sigmoid}
		if o.Discrete {
			t.Kind, t.Activation = tensor.Discrete, tensor.Softmax
		}
		state.FeatOutputs = append(state.FeatOutputs, t)
	}
	r := &runner{state: state}
	mode := calibrate.Head{Name: "pkt_len.mode", Off: 1, Width: 4}
	want := []calibrate.Column{
		{Name: "ts.iat", Col: 0},
		{Name: "pkt_len.value", Col: 5, Cond: &mode},
		{Name: "ttl", Col: 9},
		{Name: "two.value", Col: 14},
	}
	if got := r.valueColumns(); !reflect.DeepEqual(got, want) {
		t.Errorf("valueColumns = %+v, want %+v", got, want)
	}
}

// TestRegroupSplits: where every training address outside the popular
// ones holds one flow (spoofed sources), a new address the generator
// repeated is split: each of its flows gets an address of its own, none a
// training or another generated address.
func TestRegroupSplits(t *testing.T) {
	const server = 0x09090909
	var train, gen [][5]uint32
	for i := range 8 {
		train = append(train, [5]uint32{0x0a000000 + uint32(i), server, 1000, 80, 6})
	}
	for i := range 4 { // one new address, four flows
		gen = append(gen, [5]uint32{0x14000005, server, uint32(2000 + i), 80, 6})
	}
	gen = append(gen, [5]uint32{0x14000006, server, 3000, 80, 6}, [5]uint32{0x0a000003, server, 3001, 80, 6})
	state := &encoding.State{Fields: []encoding.FieldState{{Field: abi.Field{Name: "srcip", Role: abi.RoleAttribute}}}}
	r := &runner{cfg: tinyConfig(t, t.TempDir()), records: fiveTuples(train...), state: state, out: &bytes.Buffer{}}
	parts := []*abi.Batch{fiveTuples(gen...)}
	notes := r.regroupAddresses(parts)
	if want := []regrouped{{Column: "srcip", Flows: 5, Before: 2, After: 5, Training: 7}}; !slices.Equal(notes, want) {
		t.Errorf("notes %+v, want %+v", notes, want)
	}
	src := parts[0].Column("srcip").U32
	seen := map[uint32]bool{}
	for i, v := range src[:5] {
		if seen[v] {
			t.Errorf("flow %d shares address %#x", i, v)
		}
		seen[v] = true
		if v >= 0x0a000000 && v < 0x0a000008 || (i > 0 && v == 0x14000006 && i != 4) {
			t.Errorf("flow %d got %#x, a training or another generated flow's address", i, v)
		}
	}
	if src[0] != 0x14000005 || src[5] != 0x0a000003 {
		t.Errorf("addresses %x: the first flow keeps its address, the reproduced one stays", src)
	}
}

// TestCapCopies: where the generated flows starting in chunk 0 would be
// copied into a later chunk more often than training flows go on into it,
// the copies are capped at the training share, keeping the flows whose
// tag for that chunk is surest; a chunk the generator copies into less
// often than real, the start tags and the rows that do not start stay.
func TestCapCopies(t *testing.T) {
	const n, chunks = 1000, 4
	outs := []tensor.Output{{Name: "flow.start_here", Width: 2, Kind: tensor.Discrete, Activation: tensor.Softmax}}
	for c := range chunks {
		outs = append(outs, tensor.Output{Name: fmt.Sprintf("flow.chunk%d", c), Width: 2, Kind: tensor.Discrete, Activation: tensor.Softmax})
	}
	w := tensor.Width(outs)
	tags := calibrate.Heads(outs, nil)
	// Training flows of chunk 0: 80% start there; of those, 10% go on
	// into chunk 1, none into chunk 2, 90% into chunk 3.
	real := make([]float32, 0, n*w)
	for i := range n {
		s := i%5 != 0
		real = flow.AppendTags(real, s, []bool{true, s && i%10 == 1, false, s && i%10 != 3})
	}
	appear := tagShares(real, w, tags)
	if math.Abs(appear[1][1]-0.125) > 1e-9 || appear[2][1] != 0 || math.Abs(appear[3][1]-0.875) > 1e-9 || appear[0][1] != 1 {
		t.Fatalf("shares: %v", appear)
	}
	// A generator unsure of everything: every tag near even.
	rng := rand.New(rand.NewPCG(7, 8))
	soft := make([]float32, n*w)
	for i := range n {
		for h := range tags {
			p := 0.3 + 0.4*rng.Float32()
			soft[i*w+tags[h].Off], soft[i*w+tags[h].Off+1] = 1-p, p
		}
	}
	orig := slices.Clone(soft)
	hard := slices.Clone(soft)
	capCopies(soft, hard, w, 0, tags, appear)
	var starts, into [chunks]int
	lowIn, highOut := float32(1), float32(0) // chunk-1 tag among the flows copied there and not
	for i := range n {
		row, was := soft[i*w:(i+1)*w], orig[i*w:(i+1)*w]
		if !slices.Equal(row, hard[i*w:(i+1)*w]) {
			t.Fatalf("row %d: hard %v, soft %v", i, hard[i*w:(i+1)*w], row)
		}
		s0, ap0, _ := flow.DecodeTags(was, chunks)
		s, ap, err := flow.DecodeTags(row, chunks)
		if err != nil {
			t.Fatal(err)
		}
		if s != s0 || ap[0] != ap0[0] || ap[3] != ap0[3] || (!s && !slices.Equal(row, was)) {
			t.Fatalf("row %d: tags %v %v, generated %v %v: only chunks 1 and 2 of starting rows may change", i, s, ap, s0, ap0)
		}
		keep, copies := flow.Placement(0, s, ap)
		if !keep {
			continue
		}
		starts[0]++
		p := was[tags[2].Off+1]
		if slices.Contains(copies, 1) {
			lowIn = min(lowIn, p)
		} else {
			highOut = max(highOut, p)
		}
		for _, c := range copies {
			into[c]++
		}
	}
	if want := math.Round(0.125 * float64(starts[0])); math.Abs(float64(into[1])-want) > 1 || into[2] != 0 {
		t.Errorf("of %d flows starting in chunk 0, %d copied into chunk 1 and %d into chunk 2; want %g and 0", starts[0], into[1], into[2], want)
	}
	if into[3] > starts[0]*3/4 {
		t.Errorf("%d of %d flows copied into chunk 3: generated about half, want them left alone", into[3], starts[0])
	}
	if lowIn < highOut {
		t.Errorf("copied a flow whose chunk-1 tag is %g and left one at %g", lowIn, highOut)
	}
}
