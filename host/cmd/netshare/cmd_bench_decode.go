package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/tensor"
)

// runBenchDecode times the generate→decode stage of a finished run the way
// generation runs it: a trained checkpoint generates flows, and one codec
// over the builtin Wasm module (one lane, GOMAXPROCS 1) decodes them into
// records. It prints records and flows per CPU second of the decoding
// alone, and, with --set, how many decoded values of each field differ
// from a decode with the run's own encoder parameters.
func runBenchDecode(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench decode", stderr)
	flows := fs.Int("flows", 10000, "flows to generate and decode")
	chunk := fs.Int("chunk", 0, "the chunk whose model generates")
	ckpt := fs.String("checkpoint", "", "checkpoint file (default: the chunk's chosen one in generated/choice.json, else its last)")
	minTime := fs.Duration("min-time", 3*time.Second, "repeat the decode for at least this much CPU time")
	clockName := fs.String("clock", "cpu", "wall or cpu (process CPU time)")
	wasmPath := fs.String("wasm", "", "plugin module to decode with (default: the builtin module in this binary)")
	dump := fs.String("dump", "", "also write the generated attribute tensor as PREFIX.json and PREFIX.f32 (BenchmarkGenerated's input)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed decoding to this file")
	var sets []string
	fs.Func("set", "FIELD.PARAM=VALUE: decode with this encoder parameter changed (JSON value; repeatable); agreement is then reported against the run's own parameters", func(s string) error {
		sets = append(sets, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: netshare bench decode [flags] RUN_DIR")
		return errUsage
	}
	if *flows < 1 || *chunk < 0 {
		return fmt.Errorf("--flows %d must be ≥ 1 and --chunk %d ≥ 0", *flows, *chunk)
	}
	// Per core: the decode runs on one lane; the generation before it is
	// not timed.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	dir := fs.Arg(0)
	st, err := encoding.LoadState(filepath.Join(dir, "encoders.json"))
	if err != nil {
		return err
	}
	path, err := benchCheckpoint(dir, *chunk, *ckpt)
	if err != nil {
		return err
	}
	m, err := gan.Load(path)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, uint64(2**chunk+1)))
	_, attrs := m.GenerateAttributes(*flows, rng)
	feats, valid, err := m.GenerateFeatures(attrs, rng)
	if err != nil {
		return err
	}
	set := &tensor.Set{N: *flows, L: m.MaxLen(), Attributes: m.EncoderAttributes(attrs), Features: feats, GenFlags: valid,
		AttrOutputs: st.AttrOutputs, FeatOutputs: st.FeatOutputs}
	if *dump != "" {
		if err := dumpAttributes(*dump, set); err != nil {
			return err
		}
	}
	ctx := context.Background()
	opts := plugin.Options{}
	if *wasmPath != "" {
		code, err := os.ReadFile(*wasmPath)
		if err != nil {
			return err
		}
		// In the builtin module's place, with its limits (no call time
		// limit, whose loop checks would slow the search several times).
		opts = plugin.Options{NoBuiltin: true, Extra: []plugin.ModuleSpec{{Name: builtin.Name, Wasm: code, Limits: plugin.Limits{CallTimeout: -1}}}}
	}
	h, err := plugin.NewHost(ctx, opts)
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	ref := st
	if len(sets) > 0 {
		if st, err = withParams(st, sets); err != nil {
			return err
		}
	}
	codec, err := encoding.Open(ctx, encoding.FromPlugin(h), st)
	if err != nil {
		return err
	}
	defer codec.Close(ctx)
	clock, err := benchClock(*clockName)
	if err != nil {
		return err
	}
	out, err := codec.Decode(ctx, set, *chunk) // warm-up: first calls grow the module's memory
	if err != nil {
		return err
	}
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	passes, t0 := 0, clock()
	for passes == 0 || clock()-t0 < *minTime {
		if _, err := codec.Decode(ctx, set, *chunk); err != nil {
			return err
		}
		passes++
	}
	secs := (clock() - t0).Seconds() / float64(passes)
	fmt.Fprintf(stdout, "checkpoint=%s flows=%d records=%d passes=%d clock=%s records_per_s=%.0f flows_per_s=%.0f\n",
		path, *flows, out.Len(), passes, *clockName, float64(out.Len())/secs, float64(*flows)/secs)
	if len(sets) == 0 {
		return nil
	}
	base, err := encoding.Open(ctx, encoding.FromPlugin(h), ref)
	if err != nil {
		return err
	}
	defer base.Close(ctx)
	want, err := base.Decode(ctx, set, *chunk)
	if err != nil {
		return err
	}
	for _, f := range st.Fields {
		a, b := out.Column(f.Name), want.Column(f.Name)
		if a == nil || b == nil || a.Len() != b.Len() {
			return fmt.Errorf("field %q: the two decodes disagree in shape", f.Name)
		}
		if f.Role != abi.RoleAttribute {
			continue
		}
		same := 0
		for i := 0; i < a.Len(); i++ {
			if a.Int(i) == b.Int(i) {
				same++
			}
		}
		fmt.Fprintf(stdout, "field=%s agreement=%.4f\n", f.Name, float64(same)/float64(a.Len()))
	}
	return nil
}

// benchCheckpoint is the checkpoint chunk k generated with: explicit, the
// chosen one in generated/choice.json, or the chunk's last.
func benchCheckpoint(dir string, k int, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, "generated", "choice.json")); err == nil {
		var cs []struct {
			Chunk  int    `json:"chunk"`
			Chosen string `json:"chosen"`
		}
		if err := json.Unmarshal(b, &cs); err != nil {
			return "", fmt.Errorf("%s: %w", filepath.Join(dir, "generated", "choice.json"), err)
		}
		for _, c := range cs {
			if c.Chunk == k && c.Chosen != "" {
				return c.Chosen, nil
			}
		}
	}
	p, _, err := gan.LatestCheckpoint(filepath.Join(dir, "train", fmt.Sprintf("chunk-%d", k)))
	if err != nil {
		return "", fmt.Errorf("chunk %d: %w", k, err)
	}
	return p, nil
}

// withParams is a copy of st whose fields have the FIELD.PARAM=VALUE
// settings applied (VALUE as JSON, else a string).
func withParams(st *encoding.State, sets []string) (*encoding.State, error) {
	c := *st
	c.Fields = append([]encoding.FieldState(nil), st.Fields...)
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		field, param, ok2 := strings.Cut(k, ".")
		if !ok || !ok2 {
			return nil, fmt.Errorf("--set %q: want FIELD.PARAM=VALUE", s)
		}
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			val = v
		}
		found := false
		for i := range c.Fields {
			f := &c.Fields[i]
			if f.Name != field {
				continue
			}
			p := make(map[string]any, len(f.Params)+1)
			for pk, pv := range f.Params {
				p[pk] = pv
			}
			p[param] = val
			f.Params, found = p, true
		}
		if !found {
			return nil, fmt.Errorf("--set %q: the run has no field %q", s, field)
		}
	}
	return &c, nil
}

// dumpAttributes writes set's attribute rows as PREFIX.f32 (little-endian
// float32) with their layout in PREFIX.json.
func dumpAttributes(prefix string, set *tensor.Set) error {
	type out struct {
		Name  string `json:"name"`
		Width int    `json:"width"`
	}
	hdr := struct {
		N       int   `json:"n"`
		Outputs []out `json:"outputs"`
	}{N: set.N}
	for _, o := range set.AttrOutputs {
		hdr.Outputs = append(hdr.Outputs, out{o.Name, o.Width})
	}
	j, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	raw := make([]byte, 4*len(set.Attributes))
	for i, x := range set.Attributes {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	if err := atomicfile.WriteBytes(prefix+".json", j); err != nil {
		return err
	}
	return atomicfile.WriteBytes(prefix+".f32", raw)
}
