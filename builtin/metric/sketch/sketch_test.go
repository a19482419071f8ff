package sketch

import (
	"flag"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/metrictest"
	"github.com/netshare/netshare/builtin/metric/internal/ml/mltest"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

var table = flag.Bool("downstream.table", false, "print the sketch table for docs/downstream.md")

// zipf returns n flow counts with a Zipf-like skew: flow i has ⌈C/(i+1)⌉.
func zipf(n int) []float64 {
	c := make([]float64, n)
	for i := range c {
		c[i] = math.Ceil(10000 / float64(i+1))
	}
	return c
}

func TestCountMinNeverUnderestimates(t *testing.T) {
	counts := zipf(5000)
	for _, w := range []int{16, 256, 4096} {
		s := newCountMin(4, w, 3)
		for f, c := range counts {
			s.add(uint64(f), uint64(f)*7, c)
		}
		for f, c := range counts {
			if est := s.estimate(uint64(f), uint64(f)*7); est < c {
				t.Fatalf("width %d: flow %d estimated %v below its count %v", w, f, est, c)
			}
		}
	}
}

// With far more counters than flows every sketch is exact on the heavy
// hitters; with few, Count-Min overestimates and every sketch errs.
func TestSketchAccuracyFollowsMemory(t *testing.T) {
	counts := zipf(2000)
	for _, name := range Sketches {
		for _, tc := range []struct {
			counters int
			lo, hi   float64
		}{{1 << 20, 0, 1e-9}, {64, 0.05, math.Inf(1)}} {
			s := newSketch(name, tc.counters, 4, 4, 1)
			keys := make([]uint64, 0, 2*len(counts))
			for f, c := range counts {
				lo, hi := hashKey([]byte(fmt.Sprint(f)))
				keys = append(keys, lo, hi)
				s.add(lo, hi, c)
			}
			if e := meanRelErr(s, keys, counts, 50); e < tc.lo || e > tc.hi {
				t.Errorf("%s with %d counters: mean relative error %v, want in [%v, %v]", name, tc.counters, e, tc.lo, tc.hi)
			}
		}
	}
}

// packets builds packet records: flow f (f = 0..nf-1) sends f+1 packets of
// 100·(f+1) bytes each.
func packets(nf int) *abi.Batch {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4}, {Name: "dstip", Type: abi.TypeIPv4},
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16},
		{Name: "proto", Type: abi.TypeU8}, {Name: "pkt_len", Type: abi.TypeU16},
	}}
	for f := 0; f < nf; f++ {
		for range f + 1 {
			b.Columns[0].U32 = append(b.Columns[0].U32, 0x0a000000+uint32(f))
			b.Columns[1].U32 = append(b.Columns[1].U32, 0xc0a80001)
			b.Columns[2].U16 = append(b.Columns[2].U16, uint16(1000+f))
			b.Columns[3].U16 = append(b.Columns[3].U16, 80)
			b.Columns[4].U8 = append(b.Columns[4].U8, 6)
			b.Columns[5].U16 = append(b.Columns[5].U16, uint16(100*(f+1)))
		}
	}
	return b
}

func TestPacketsCountedPerFlow(t *testing.T) {
	params := sdktest.Params(t, abi.KindMetric, "sketch", nil)
	m, err := New(sdk.Env{Params: params})
	if err != nil {
		t.Fatal(err)
	}
	mt := m.(*Metric)
	if err := mt.AddReal(packets(5)); err != nil {
		t.Fatal(err)
	}
	if len(mt.real.pkt) != 5 {
		t.Fatalf("%d flows, want 5", len(mt.real.pkt))
	}
	for f := 0; f < 5; f++ {
		if mt.real.pkt[f] != float64(f+1) || mt.real.byt[f] != float64(100*(f+1)*(f+1)) {
			t.Errorf("flow %d: %v packets, %v bytes; want %d, %d", f, mt.real.pkt[f], mt.real.byt[f], f+1, 100*(f+1)*(f+1))
		}
	}
}

func TestIdenticalTracesPass(t *testing.T) {
	b := packets(300)
	s, err := metrictest.Run("sketch", map[string]any{"counters": 256, "top_k": 20}, []*abi.Batch{b}, []*abi.Batch{b})
	if err != nil {
		t.Fatal(err)
	}
	v := s.Values
	for _, meas := range Measures {
		if v["sketch."+meas+".rank_preserved"] != 1 {
			t.Errorf("%s: ranking not preserved on identical traces", meas)
		}
		for _, name := range Sketches {
			if v["sketch."+name+"."+meas+".relerr_real"] != v["sketch."+name+"."+meas+".relerr_syn"] {
				t.Errorf("%s %s: errors differ on identical traces", name, meas)
			}
		}
	}
	if v["sketch.flag"] != 0 || v["sketch.mean_relerr_diff"] != 0 {
		t.Errorf("flag %v, diff %v on identical traces", v["sketch.flag"], v["sketch.mean_relerr_diff"])
	}
	if v["sketch.cms.pkt.relerr_real"] <= 0 {
		t.Errorf("Count-Min exact with 256 counters for 300 flows; the test needs collisions")
	}
}

// A synthetic trace of uniform flows has no heavy hitters to speak of; the
// sketches' errors on it are unlike those on a skewed real trace.
func TestUniformSyntheticWarns(t *testing.T) {
	real := packets(400)
	syn := mltest.Rows(real, nil) // same columns, no rows
	for f := 0; f < 3000; f++ {
		syn.Columns[0].U32 = append(syn.Columns[0].U32, uint32(f))
		syn.Columns[1].U32 = append(syn.Columns[1].U32, 1)
		syn.Columns[2].U16 = append(syn.Columns[2].U16, 1)
		syn.Columns[3].U16 = append(syn.Columns[3].U16, 1)
		syn.Columns[4].U8 = append(syn.Columns[4].U8, 17)
		syn.Columns[5].U16 = append(syn.Columns[5].U16, 500)
	}
	s, err := metrictest.Run("sketch", map[string]any{"counters": 256, "top_k": 20}, []*abi.Batch{real}, []*abi.Batch{syn})
	if err != nil {
		t.Fatal(err)
	}
	if s.Values["sketch.flag"] != 1 {
		t.Errorf("flag %v (diff %v); want a warning", s.Values["sketch.flag"], s.Values["sketch.mean_relerr_diff"])
	}
}

func TestErrors(t *testing.T) {
	good := packets(3)
	noKey := &abi.Batch{Columns: good.Columns[1:]}
	noSize := &abi.Batch{Columns: good.Columns[:5]}
	neg := &abi.Batch{Columns: append(append([]abi.Column(nil), good.Columns[:5]...),
		abi.Column{Name: "pkt", Type: abi.TypeI64, I64: []int64{1, 1, -4, 1, 1, 1}},
		abi.Column{Name: "byt", Type: abi.TypeI64, I64: []int64{1, 1, 1, 1, 1, 1}})}
	for _, tc := range []struct {
		name      string
		params    map[string]any
		real, syn *abi.Batch
		want      string
	}{
		{"no key", nil, noKey, good, `real batch 1 has no key column "srcip"`},
		{"no sizes", nil, good, noSize, "synthetic batch 1 has neither pkt_len"},
		{"negative", nil, neg, good, "row 2: packets -4"},
		{"depth", map[string]any{"depth": 0}, good, good, "depth 0"},
		{"counters", map[string]any{"counters": 3}, good, good, "3 counters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metrictest.Run("sketch", tc.params, []*abi.Batch{tc.real}, []*abi.Batch{tc.syn})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRealTraces(t *testing.T) {
	for _, tc := range []struct{ rel, format string }{
		{"flows/ctu50_CTU-Normal-43_day1_zeek-conn.log.labeled", "zeek-conn"},
		{"pcap/cicddos2019_synflood_lucid-sample.pcap", "pcap"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			real := mltest.Read(t, tc.rel, tc.format, nil)
			syn := mltest.Independent(real, real.Len(), 3)
			s, err := metrictest.Run("sketch", nil, []*abi.Batch{real}, []*abi.Batch{syn})
			if err != nil {
				t.Fatal(err)
			}
			v := s.Values
			// Count-Min's estimate is an upper bound: on the same memory it
			// cannot beat... nothing general holds across traces, so check
			// only that every error is a finite non-negative number.
			for _, meas := range Measures {
				for _, name := range Sketches {
					if e := v["sketch."+name+"."+meas+".relerr_real"]; math.IsNaN(e) || e < 0 {
						t.Errorf("%s %s error %v", name, meas, e)
					}
				}
			}
			if *table {
				fmt.Printf("%s (%v flows real, %v synthetic, %v counters)\n%s\n", tc.rel, v["sketch.flows_real"], v["sketch.flows_syn"], v["sketch.counters"], Table(v, "sketch"))
			}
		})
	}
}

// Table renders the scores as docs/downstream.md shows them.
func Table(v map[string]float64, p string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| sketch | pkt real | pkt syn | byt real | byt syn |\n|---|---|---|---|---|\n")
	for _, name := range Sketches {
		fmt.Fprintf(&b, "| %s | %.4f | %.4f | %.4f | %.4f |\n", name,
			v[p+"."+name+".pkt.relerr_real"], v[p+"."+name+".pkt.relerr_syn"], v[p+"."+name+".byt.relerr_real"], v[p+"."+name+".byt.relerr_syn"])
	}
	fmt.Fprintf(&b, "\nrank preserved pkt %v byt %v, spearman pkt %.2f byt %.2f, mean relerr diff %.3f, flag %v\n",
		v[p+".pkt.rank_preserved"], v[p+".byt.rank_preserved"], v[p+".pkt.spearman"], v[p+".byt.spearman"], v[p+".mean_relerr_diff"], v[p+".flag"])
	return b.String()
}
