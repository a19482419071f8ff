package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/tensor"
)

func init() {
	register(command{name: "bench", summary: "time the GAN on NetShare's PCAP shapes (bench gan); fidelity at a time budget (bench fidelity); a run's generate→decode stage (bench decode)", run: runBench})
}

// runBench times one DoppelGANger iteration (critic rounds + generator round)
// and generation on the shapes of ../shared/bench/dg_reference.py, so the two
// can be compared line for line.
func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "fidelity" {
		return runBenchFidelity(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "decode" {
		return runBenchDecode(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "gan" {
		fmt.Fprintln(stderr, "usage: netshare bench gan|fidelity|decode [flags]")
		return errUsage
	}
	fs := newFlags("bench gan", stderr)
	threads := fs.Int("threads", 1, "GOMAXPROCS and BLAS threads")
	iters := fs.Int("iters", 20, "timed iterations")
	warmup := fs.Int("warmup", 3, "untimed iterations first")
	batch := fs.Int("batch", 100, "batch size")
	units := fs.Int("units", 512, "units of the attribute generator and both critics")
	layers := fs.Int("layers", 5, "layers of the attribute generator and both critics")
	lstm := fs.Int("lstm", 100, "LSTM units")
	L := fs.Int("L", 100, "records per flow")
	S := fs.Int("S", 10, "records per LSTM step (sample_len)")
	bits := fs.Int("attr-softmax2", 64+11, "two-way softmax attributes (IP bits and flow tags)")
	w2v := fs.Int("attr-tanh", 3, "tanh attribute vectors (word2vec ports/proto)")
	w2vDim := fs.Int("attr-tanh-dim", 10, "width of each tanh attribute vector")
	sig := fs.Int("attr-sigmoid", 1, "sigmoid attributes (flow start)")
	fsig := fs.Int("feat-sigmoid", 6, "sigmoid features per record")
	fcat := fs.Int("feat-softmax", 3, "width of the one softmax feature (0: none); the 2 gen-flag dims come on top")
	genSecs := fs.Float64("gen-seconds", 3, "seconds of generation to time")
	flows := fs.Int("flows", 10000, "synthetic training flows")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed part to this file")
	dpNoise := fs.Float64("dp-noise", 0, "train the critics with DP-SGD at this noise multiplier (0: no DP), to time a DP iteration")
	dpClip := fs.Float64("dp-clip", 1, "DP-SGD per-example clip norm (with --dp-noise)")
	ema := fs.Float64("ema", 0, "keep a moving average of the generator's weights with this decay (model.ema), to time its update")
	clockName := fs.String("clock", "wall", "wall, or cpu: process CPU time (Linux), which a loaded machine disturbs less; meaningful at 1 thread only")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *iters < 1 || *threads < 1 || *warmup < 0 {
		return fmt.Errorf("--iters %d and --threads %d must be ≥ 1, --warmup %d ≥ 0", *iters, *threads, *warmup)
	}
	runtime.GOMAXPROCS(*threads)
	gan.SetBLASThreads(*threads)

	var ao, fo []tensor.Output
	for i := 0; i < *bits; i++ {
		ao = append(ao, tensor.Output{Name: "bit", Width: 2, Kind: tensor.Discrete, Activation: tensor.Softmax})
	}
	for i := 0; i < *w2v; i++ {
		ao = append(ao, tensor.Output{Name: "w2v", Width: *w2vDim, Kind: tensor.Continuous, Activation: tensor.Tanh})
	}
	for i := 0; i < *sig; i++ {
		ao = append(ao, tensor.Output{Name: "start", Width: 1, Kind: tensor.Continuous, Activation: tensor.Sigmoid})
	}
	for i := 0; i < *fsig; i++ {
		fo = append(fo, tensor.Output{Name: "f", Width: 1, Kind: tensor.Continuous, Activation: tensor.Sigmoid})
	}
	if *fcat > 0 {
		fo = append(fo, tensor.Output{Name: "flag", Width: *fcat, Kind: tensor.Discrete, Activation: tensor.Softmax})
	}
	cfg := gan.DefaultConfig()
	cfg.BatchSize, cfg.LSTMUnits, cfg.SampleLen = *batch, *lstm, *S
	cfg.AttrGenUnits, cfg.CriticUnits, cfg.AttrCriticUnits = *units, *units, *units
	cfg.AttrGenLayers, cfg.CriticLayers, cfg.AttrCriticLayers = *layers, *layers, *layers
	cfg.EMA = *ema
	if *dpNoise > 0 {
		cfg.DP = &gan.DPConfig{Clip: *dpClip, Noise: *dpNoise}
	}
	m, err := gan.New(cfg, ao, fo, *L, 1)
	if err != nil {
		return err
	}
	// Uniform random data like the reference's torch.rand; every record valid.
	rng := rand.New(rand.NewPCG(1, 2))
	set := &tensor.Set{N: *flows, L: *L, AttrOutputs: ao, FeatOutputs: fo}
	set.Attributes = make([]float32, set.N*tensor.Width(ao))
	set.Features = make([]float32, set.N*set.L*tensor.Width(fo))
	set.GenFlags = make([]float32, set.N*set.L)
	for _, s := range [][]float32{set.Attributes, set.Features} {
		for i := range s {
			s[i] = rng.Float32()
		}
	}
	for i := range set.GenFlags {
		set.GenFlags[i] = 1
	}
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	clock, err := benchClock(*clockName)
	if err != nil {
		return err
	}
	step, err := m.Iterator(set)
	if err != nil {
		return err
	}
	for i := 0; i < *warmup; i++ {
		step()
	}
	ds := make([]time.Duration, *iters)
	for i := range ds {
		t := clock()
		step()
		ds[i] = clock() - t
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	med := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		med = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}

	const block = 1000
	n, t0 := 0, clock()
	for (clock() - t0).Seconds() < *genSecs {
		_, hard := m.GenerateAttributes(block, rng)
		if _, _, err := m.GenerateFeatures(hard, rng); err != nil {
			return err
		}
		n += block
	}
	gen := float64(n) / (clock() - t0).Seconds()
	fmt.Fprintf(stdout, "threads=%d blas=%q clock=%s ms_per_iteration=%.1f min=%.1f max=%.1f generation_flows_per_s=%.0f generation_records_per_s=%.0f\n",
		*threads, gan.BLASBackend, *clockName, ms(med), ms(ds[0]), ms(ds[len(ds)-1]), gen, gen*float64(*L))
	return nil
}

// benchClock returns the named clock as time since an arbitrary origin.
func benchClock(name string) (func() time.Duration, error) {
	switch name {
	case "wall":
		t0 := time.Now()
		return func() time.Duration { return time.Since(t0) }, nil
	case "cpu":
		if _, err := processCPU(); err != nil {
			return nil, fmt.Errorf("--clock cpu: %w", err)
		}
		return func() time.Duration {
			d, _ := processCPU()
			return d
		}, nil
	}
	return nil, fmt.Errorf("unknown --clock %q (want wall or cpu)", name)
}

// processCPU reads the process's user+system time from /proc/self/stat
// (clock ticks of 10 ms: fine for iterations of hundreds of ms). It avoids
// syscall.Getrusage so the command still builds on every platform.
func processCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	// fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields overall, the 12th and 13th after it
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/self/stat %q", s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/self/stat %q", s)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/self/stat %q", s)
	}
	return time.Duration(u+st) * 10 * time.Millisecond, nil
}

// startCPUProfile writes a CPU profile to path until stop is called; an
// empty path profiles nothing. The bench commands profile only their timed
// part.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
