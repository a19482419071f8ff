package run

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
)

var portKey = []string{"srcport", "dstport", "proto"}

type tuple struct {
	src, dst uint16
	proto    uint8
}

// flowBatch is generated records: per row its flow, key and a payload
// column naming the row.
func flowBatch(flows []uint32, keys []tuple) *abi.Batch {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcport", Type: abi.TypeU16},
		{Name: "dstport", Type: abi.TypeU16},
		{Name: "proto", Type: abi.TypeU8},
		{Name: "row", Type: abi.TypeU16},
		{Name: abi.FlowColumn, Type: abi.TypeU32, U32: slices.Clone(flows)},
	}}
	for i, k := range keys {
		b.Columns[0].U16 = append(b.Columns[0].U16, k.src)
		b.Columns[1].U16 = append(b.Columns[1].U16, k.dst)
		b.Columns[2].U8 = append(b.Columns[2].U8, k.proto)
		b.Columns[3].U16 = append(b.Columns[3].U16, uint16(i))
	}
	return b
}

func tuplesOf(b *abi.Batch) []tuple {
	var out []tuple
	for i := range b.Len() {
		out = append(out, tuple{b.Column("srcport").U16[i], b.Column("dstport").U16[i], b.Column("proto").U8[i]})
	}
	return out
}

func keysOf(ts ...tuple) map[string]struct{} {
	return flowKeys(flowBatch(make([]uint32, len(ts)), ts), portKey)
}

func TestGuardFlows(t *testing.T) {
	// Flows to 443/TCP from ephemeral ports (srcport has the most
	// distinct values; flow 1 has two records), two to 80/TCP, and one
	// to 53/UDP.
	flows := []uint32{0, 1, 1, 2, 3, 4, 5}
	gen := []tuple{{40001, 443, 6}, {40002, 443, 6}, {40002, 443, 6}, {40003, 443, 6}, {50001, 80, 6}, {40003, 80, 6}, {5353, 53, 17}}
	tests := []struct {
		name   string
		gen    []tuple
		real   []tuple
		redraw bool
		want   guardStats
		rows   []uint16 // payload rows kept
		out    []tuple  // their keys; nil: as generated
	}{
		{name: "no collision", gen: gen, real: []tuple{{1, 1, 6}}, redraw: true,
			rows: []uint16{0, 1, 2, 3, 4, 5, 6}},
		// 50001 is the only TCP source port that gives a key no flow
		// holds; UDP's 5353 is not in the stratum.
		{name: "a copy takes a free value of its protocol", gen: gen, real: []tuple{{40002, 443, 6}}, redraw: true,
			want: guardStats{Copies: 1, Redrawn: 1}, rows: []uint16{0, 1, 2, 3, 4, 5, 6},
			out: []tuple{{40001, 443, 6}, {50001, 443, 6}, {50001, 443, 6}, {40003, 443, 6}, {50001, 80, 6}, {40003, 80, 6}, {5353, 53, 17}}},
		{name: "a copy dropped", gen: gen, real: []tuple{{40002, 443, 6}},
			want: guardStats{Copies: 1, Dropped: 1}, rows: []uint16{0, 3, 4, 5, 6}},
		{name: "copies kept, a shared key redrawn", gen: []tuple{{40001, 443, 6}, {40002, 443, 6}, {40002, 443, 6}, {40001, 443, 6}, {50001, 80, 6}, {40002, 80, 6}, {5353, 53, 17}},
			want: guardStats{Shared: 1, Redrawn: 1}, rows: []uint16{0, 1, 2, 3, 4, 5, 6},
			out: []tuple{{40001, 443, 6}, {40002, 443, 6}, {40002, 443, 6}, {50001, 443, 6}, {50001, 80, 6}, {40002, 80, 6}, {5353, 53, 17}}},
		// The UDP flow's strata hold no other flow: it cannot be
		// separated, and is dropped rather than given a TCP port.
		{name: "a flow alone in its protocol is dropped", gen: gen, real: []tuple{{5353, 53, 17}}, redraw: true,
			want: guardStats{Copies: 1, Dropped: 1}, rows: []uint16{0, 1, 2, 3, 4, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := flowBatch(flows, tc.gen)
			out, st := guardFlows(in, portKey, keysOf(tc.real...), tc.redraw, rand.New(rand.NewPCG(1, 2)))
			if st != tc.want {
				t.Errorf("stats %+v, want %+v", st, tc.want)
			}
			if got := out.Column("row").U16; !slices.Equal(got, tc.rows) {
				t.Fatalf("kept rows %v, want %v", got, tc.rows)
			}
			want := tc.out
			if want == nil {
				for _, r := range tc.rows {
					want = append(want, tc.gen[r])
				}
			}
			if got := tuplesOf(out); !slices.Equal(got, want) {
				t.Errorf("keys %v, want %v", got, want)
			}
			if out.Column(abi.FlowColumn) != nil {
				t.Error("the _flow column survived")
			}
			if !slices.Equal(tuplesOf(in), tc.gen) {
				t.Error("the input was written to")
			}
		})
	}
}

// Colliding flows deal their own values out among themselves first, so
// the source ports the model generated survive: at most the last flow,
// left with its own value, repeats another's.
func TestGuardFlowsSwapsAmongCopies(t *testing.T) {
	var gen []tuple
	var flows []uint32
	for i := range uint16(8) {
		gen, flows = append(gen, tuple{40001 + i, 101 + i, 6}), append(flows, uint32(i))
	}
	real := keysOf(gen...)
	for seed := range uint64(20) {
		out, st := guardFlows(flowBatch(flows, gen), portKey, real, true, rand.New(rand.NewPCG(seed, 3)))
		if want := (guardStats{Copies: 8, Redrawn: 8}); st != want {
			t.Fatalf("seed %d: %+v, want %+v", seed, st, want)
		}
		got := out.Column("srcport").U16
		if d := len(slices.Compact(slices.Sorted(slices.Values(got)))); d < 7 {
			t.Fatalf("seed %d: source ports %v: %d distinct of 8", seed, got, d)
		}
		for i, d := range out.Column("dstport").U16 {
			if d != 101+uint16(i) {
				t.Fatalf("seed %d: destination ports %v changed", seed, out.Column("dstport").U16)
			}
		}
	}
}

// A key of one field has nothing to redraw: a collision is dropped.
func TestGuardFlowsOneField(t *testing.T) {
	out, st := guardFlows(flowBatch([]uint32{0, 1, 2}, []tuple{{1, 0, 6}, {1, 0, 6}, {2, 0, 6}}), []string{"srcport"}, nil, true, rand.New(rand.NewPCG(1, 1)))
	if want := (guardStats{Shared: 1, Dropped: 1}); st != want || !slices.Equal(out.Column("row").U16, []uint16{0, 2}) {
		t.Fatalf("%+v rows %v, want %+v rows [0 2]", st, out.Column("row").U16, want)
	}
}

// On random batches the guard's output never holds a training key, gives
// no two flows one key, never changes a flow's protocol, keeps each field
// within its generated values, and accounts for every flow.
func TestGuardFlowsRandom(t *testing.T) {
	redrawn := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 1 + rng.IntN(60)
		var flows []uint32
		var gen []tuple
		for f := range n {
			k := tuple{uint16(rng.IntN(1 + rng.IntN(12))), uint16(rng.IntN(4)), uint8(rng.IntN(2))}
			for range 1 + rng.IntN(3) {
				flows, gen = append(flows, uint32(f)), append(gen, k)
			}
		}
		var real []tuple
		for range rng.IntN(10) {
			real = append(real, tuple{uint16(rng.IntN(12)), uint16(rng.IntN(4)), uint8(rng.IntN(2))})
		}
		out, st := guardFlows(flowBatch(flows, gen), portKey, keysOf(real...), true, rand.New(rand.NewPCG(seed, 8)))
		name := fmt.Sprintf("seed %d", seed)
		if st.Redrawn+st.Dropped != st.Copies+st.Shared {
			t.Fatalf("%s: %+v does not add up", name, st)
		}
		redrawn += st.Redrawn
		owner := map[tuple]uint32{}
		for i, k := range tuplesOf(out) {
			r := out.Column("row").U16[i]
			if slices.Contains(real, k) {
				t.Fatalf("%s: row %d kept training key %v", name, r, k)
			}
			if o, ok := owner[k]; ok && o != flows[r] {
				t.Fatalf("%s: flows %d and %d share key %v", name, o, flows[r], k)
			}
			owner[k] = flows[r]
			if k.proto != gen[r].proto {
				t.Fatalf("%s: row %d's protocol changed: %v → %v", name, r, gen[r], k)
			}
			if !slices.ContainsFunc(gen, func(g tuple) bool { return g.src == k.src }) || !slices.ContainsFunc(gen, func(g tuple) bool { return g.dst == k.dst }) {
				t.Fatalf("%s: key %v holds a value never generated", name, k)
			}
		}
		if len(owner) != n-st.Dropped {
			t.Fatalf("%s: %d flows kept of %d, %d dropped", name, len(owner), n, st.Dropped)
		}
	}
	if redrawn == 0 {
		t.Fatal("no flow was ever redrawn")
	}
}

// BenchmarkGuardFlows guards 200,000 one-record flows of which a tenth
// copy a training key and a tenth share one.
func BenchmarkGuardFlows(b *testing.B) {
	const n = 200_000
	rng := rand.New(rand.NewPCG(1, 1))
	flows := make([]uint32, n)
	gen := make([]tuple, n)
	var real []tuple
	for i := range gen {
		flows[i] = uint32(i)
		gen[i] = tuple{uint16(rng.IntN(65536)), uint16(rng.IntN(2000)), uint8(rng.IntN(3))}
		switch i % 10 {
		case 0:
			real = append(real, gen[i])
		case 1:
			gen[i] = gen[i-1]
		}
	}
	in, rk := flowBatch(flows, gen), keysOf(real...)
	b.ResetTimer()
	for range b.N {
		guardFlows(in, portKey, rk, true, rand.New(rand.NewPCG(1, 2)))
	}
}

// Zeek's protocol is a string column and its addresses IPv4: the guard
// reads and writes them as any other.
func TestGuardFlowsStringAndAddressKeys(t *testing.T) {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4, U32: []uint32{10, 11, 12, 13}},
		{Name: "dstport", Type: abi.TypeU16, U16: []uint16{443, 443, 80, 53}},
		{Name: "proto", Type: abi.TypeString, Dict: []string{"tcp", "udp"}, Codes: []uint32{0, 0, 0, 1}},
		{Name: abi.FlowColumn, Type: abi.TypeU32, U32: []uint32{0, 1, 2, 3}},
	}}
	key := []string{"srcip", "dstport", "proto"}
	real := flowKeys(b.Take([]int32{0}), key) // flow 0 copies a training flow
	out, st := guardFlows(b, key, real, true, rand.New(rand.NewPCG(1, 1)))
	if want := (guardStats{Copies: 1, Redrawn: 1}); st != want {
		t.Fatalf("%+v, want %+v", st, want)
	}
	// srcip is the most varied field; the TCP flows' addresses 11 and 12
	// are the stratum's, and (11, 443) is flow 1's: only 12 is free.
	if ip, port, proto := out.Column("srcip").U32[0], out.Column("dstport").U16[0], out.Column("proto").String(0); ip != 12 || port != 443 || proto != "tcp" {
		t.Fatalf("flow 0 is (%d, %d, %s), want (12, 443, tcp)", ip, port, proto)
	}
}
