package run

import (
	"bytes"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/calibrate"
	"github.com/netshare/netshare/host/internal/encoding"
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
	shifts := calibrateRecords(feats, D, L, w, heads, sh)
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
	calibrateRecords(feats, D, L, w, heads, &chunkShares{Feat: sh.Feat})
	if a, b := syn(feats, w, true), syn(feats, w, false); math.Abs((a+2*b)/3-0.1) > 1.0/n || a > 0.2 {
		t.Errorf("without first-record shares: SYN share first %g, later %g, want 0.1 over all, spread", a, b)
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
