package run

import (
	"math"
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/privacy"
)

// portFlows is a batch of flows of two records each, flow i with port
// ports[i] and a second column that tells the flows apart.
func portFlows(ports []uint16) *abi.Batch {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: abi.FlowColumn, Type: abi.TypeU32},
		{Name: "dstport", Type: abi.TypeU16},
		{Name: "pkt", Type: abi.TypeI64},
	}}
	for i, p := range ports {
		for range 2 {
			b.Columns[0].U32 = append(b.Columns[0].U32, uint32(i))
			b.Columns[1].U16 = append(b.Columns[1].U16, p)
			b.Columns[2].I64 = append(b.Columns[2].I64, int64(i))
		}
	}
	return b
}

// flowPorts counts the flows of b per port, checking that every flow
// kept one port on all its records and its other columns.
func flowPorts(t *testing.T, b *abi.Batch) map[int64]int {
	t.Helper()
	fc, pc, kc := b.Column(abi.FlowColumn), b.Column("dstport"), b.Column("pkt")
	port := map[uint32]int64{}
	for i, f := range fc.U32 {
		if kc.I64[i] != int64(f) {
			t.Fatalf("row %d: another column changed", i)
		}
		if p, ok := port[f]; ok && p != pc.Int(i) {
			t.Fatalf("flow %d has ports %d and %d", f, p, pc.Int(i))
		}
		port[f] = pc.Int(i)
	}
	out := map[int64]int{}
	for _, p := range port {
		out[p]++
	}
	return out
}

func TestImposeMarginals(t *testing.T) {
	r := &runner{cfg: tinyConfig(t, t.TempDir())}
	// 100 generated flows: 60 at 80, 30 at 7, 10 at 9; the released
	// histogram (of 200 flows) wants 25% at 443 and 50% at 80.
	var ports []uint16
	ports = append(ports, slices.Repeat([]uint16{80}, 60)...)
	ports = append(ports, slices.Repeat([]uint16{7}, 30)...)
	ports = append(ports, slices.Repeat([]uint16{9}, 10)...)
	b := portFlows(ports)
	ms := []marginal{{Column: "dstport", Values: []int64{80, 443}, Counts: []float64{100, 50}}}
	out := r.imposeMarginals(b, 0, ms, 200)
	got := flowPorts(t, out)
	if got[80] != 50 || got[443] != 25 || got[7]+got[9] != 25 || len(got) > 4 {
		t.Errorf("flows per port %v: want 50 at 80, 25 at 443 and the other 25 at the generated 7 and 9", got)
	}
	if before := flowPorts(t, b); before[80] != 60 || before[7] != 30 {
		t.Errorf("the input changed: %v", before)
	}
	// Nothing to impose: the batch is returned as it is.
	if r.imposeMarginals(b, 0, nil, 200) != b {
		t.Error("no histograms, yet the batch changed")
	}
	// More flows than any bin needs and no tail: the surplus stays.
	all80 := portFlows(slices.Repeat([]uint16{80}, 10))
	if got := flowPorts(t, r.imposeMarginals(all80, 0, ms, 200)); got[80]+got[443] != 10 || got[443] != 3 {
		t.Errorf("flows per port %v: want 3 of 10 moved to 443, the rest at 80", got)
	}
}

// The histograms' noise meets their share of ε and not much less noise
// would; their release is in the run's ledger; the released counts are
// the flows' counts plus noise, over bins fixed without the data.
func TestNoisyMarginals(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "privacy.enabled=true", "privacy.epsilon=4.0", "flows.max_flow_len=16",
		`privacy.marginals=["dstport"]`, "privacy.insecure_reproducible_noise=true")
	var ports []uint16
	ports = append(ports, slices.Repeat([]uint16{443}, 3000)...)
	ports = append(ports, slices.Repeat([]uint16{53}, 1000)...)
	for i := range 500 {
		ports = append(ports, uint16(10000+i))
	}
	b := portFlows(ports)
	b.Columns[0].Name = "ts" // records, not generated flows
	set := &flow.Set{NumFlows: len(ports), Chunks: []flow.Chunk{{}, {}}}
	for i := range ports {
		f := flow.ChunkFlow{ID: i, Rows: []int32{int32(2 * i), int32(2*i + 1)}}
		set.Chunks[0].Flows = append(set.Chunks[0].Flows, f)
		if i%2 == 0 { // flows cut by the chunk boundary count once
			set.Chunks[1].Flows = append(set.Chunks[1].Flows, flow.ChunkFlow{ID: i, Rows: f.Rows[1:]})
		}
	}
	r := &runner{cfg: cfg, dir: dir, records: b, flows: set}

	sigma, err := r.marginalNoise()
	if err != nil {
		t.Fatal(err)
	}
	cost := func(s float64) float64 {
		acc, _ := privacy.NewAccountant(privacy.AccountantConfig{Delta: cfg.Privacy.Delta})
		if err := r.composeMarginals(acc, s); err != nil {
			t.Fatal(err)
		}
		eps, _, _ := acc.Epsilon()
		return eps
	}
	if share := marginalShare * cfg.Privacy.Epsilon; cost(sigma) > share || cost(0.99*sigma) <= share {
		t.Errorf("σ = %g costs ε = %g, 0.99σ %g: want the least σ within %g", sigma, cost(sigma), cost(0.99*sigma), share)
	}

	ms, err := r.noisyMarginals("k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Bins != 1<<16 {
		t.Fatalf("histograms %+v: want one over every u16 port", ms)
	}
	m := ms[0]
	if len(m.Values) < 2 || len(m.Values) > 3 || m.Values[0] != 53 || !slices.Contains(m.Values, 443) {
		t.Fatalf("bins kept %v (threshold %g): want the two large ones, and rarely one empty", m.Values, m.Threshold)
	}
	if m.Threshold < 4*sigma || m.Threshold > 6*sigma {
		t.Errorf("threshold %g for noise %g over %d bins", m.Threshold, sigma, m.Bins)
	}
	for j, want := range []float64{1000, 3000} {
		j = slices.Index(m.Values, []int64{53, 443}[j])
		if math.Abs(m.Counts[j]-want) > 6*sigma {
			t.Errorf("port %d: released %g, want %g ± noise %g", m.Values[j], m.Counts[j], want, sigma)
		}
	}
	if again, _ := r.noisyMarginals("k", &budget{TrainKey: "k", Marginals: ms}); &again[0] != &ms[0] {
		t.Error("the same training released its histograms again")
	}
}
