package encoding

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/host/internal/flow"
)

func dataDir(t testing.TB) string     { return enctest.DataDir(t) }
func loadUGR(t testing.TB) *abi.Batch { return enctest.LoadUGR(t) }

// split cuts the records into n fixed-time chunks of 5-tuple flows.
func split(t testing.TB, b *abi.Batch, n int) *flow.Set {
	t.Helper()
	set, err := flow.Split(b, flow.Options{Chunks: n})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// timedRuntime wraps a runtime and adds up the wall time of each field's
// calls by operation, for benchmarks to say where the time goes: the
// call itself (the module's work and the boundary), and apart from it the
// host's filling of requests and reading of responses.
type timedRuntime struct {
	Runtime
	spent map[string]time.Duration
}

func newTimed(rt Runtime) *timedRuntime {
	return &timedRuntime{Runtime: rt, spent: map[string]time.Duration{}}
}

func (r *timedRuntime) Open(ctx context.Context, req abi.OpenRequest) (Instance, error) {
	in, err := r.Runtime.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &timedInstance{Instance: in, r: r, name: req.Column + " (" + req.Name + ")"}, nil
}

// report logs each field's share, largest first, in ns per record (in
// seconds when records is 0).
func (r *timedRuntime) report(b *testing.B, records int) {
	keys := make([]string, 0, len(r.spent))
	for k := range r.spent {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return r.spent[keys[i]] > r.spent[keys[j]] })
	for _, k := range keys {
		if records == 0 {
			b.Logf("%-40s %8.3f s", k, r.spent[k].Seconds())
			continue
		}
		b.Logf("%-40s %8.1f ns/record", k, float64(r.spent[k].Nanoseconds())/float64(records))
	}
}

type timedInstance struct {
	Instance
	r    *timedRuntime
	name string
}

func (in *timedInstance) Exchange(ctx context.Context, op abi.Op, size int, fill func([]byte), read func(h, b []byte) error) error {
	var host time.Duration
	t := time.Now()
	err := in.Instance.Exchange(ctx, op, size, func(b []byte) {
		t := time.Now()
		fill(b)
		host += time.Since(t)
	}, func(h, b []byte) error {
		t := time.Now()
		err := read(h, b)
		host += time.Since(t)
		return err
	})
	in.r.spent[in.name+" "+op.String()] += time.Since(t) - host
	in.r.spent["(host: fill and read, all fields)"] += host
	return err
}

// benchConfig is NetShare's NetFlow fields with one word2vec epoch: the
// benchmarks' setup stays short, and decoding speed depends on the
// vocabulary, not on how long it trained.
func benchConfig() Config {
	cfg := Config{Fields: netflowFields(), Seed: 1}
	for i := range cfg.Fields {
		if cfg.Fields[i].Encoder == "word2vec" {
			cfg.Fields[i].Params = map[string]any{"epochs": int64(1)}
		}
	}
	return cfg
}

// benchSetup fits benchConfig on bigTrace's 1M records in 10 chunks and
// opens a codec on rt through a timedRuntime; fit and fitCPU are the
// fit's wall and CPU time.
func benchSetup(b *testing.B, rt Runtime) (recs *abi.Batch, set *flow.Set, st *State, codec *Codec, timed *timedRuntime, fit, fitCPU time.Duration) {
	ctx := context.Background()
	recs = bigTrace(b, 1_000_000)
	set = split(b, recs, 10)
	t0, c0 := time.Now(), cpuTime()
	st, err := Fit(ctx, rt, benchConfig(), recs, set)
	if err != nil {
		b.Fatal(err)
	}
	fit, fitCPU = time.Since(t0), cpuTime()-c0
	timed = newTimed(rt)
	if codec, err = Open(ctx, timed, st); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { codec.Close(ctx) })
	return recs, set, st, codec, timed, fit, fitCPU
}
