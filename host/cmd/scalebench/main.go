// Command scalebench runs the stages of a run that grow with the trace —
// read, flows, chunks, encode — on one large input, as netshare run does
// them, and reports each stage's time, throughput and peak resident memory.
//
//	go run ./host/cmd/scalebench -in /tmp/ugr16-10M.csv [-chunks 10] [-json out.json]
//
// scripts/bench_scale.sh builds the inputs (scripts/make_large_netflow.py)
// and runs it at 1M and 10M records. Peak RSS is the kernel's high-water
// mark (VmHWM), reset before each stage, so each stage's figure is its own
// peak; the heap figure is Go's live heap after the stage.
package main

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/memguard"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/trace"
)

// format is the input's format: the script writes NetShare's NetFlow CSV.
const format = "netflow-csv"

// Stage is one stage's measurement.
type Stage struct {
	Name    string  `json:"stage"`
	Seconds float64 `json:"seconds"`
	// CPU is the process's CPU seconds in the stage: on a shared machine
	// the wall time depends on the load, this much less.
	CPU float64 `json:"cpu_seconds"`
	// PerSecond is records (read, flows, chunks, fit) or encoded records
	// (encode) per second.
	PerSecond float64 `json:"records_per_second"`
	PeakRSS   int64   `json:"peak_rss_bytes"`
	Heap      int64   `json:"heap_after_bytes"`
	// Plugin is the plugin modules' linear memory after the stage (a
	// high-water mark: Wasm memory never shrinks), part of PeakRSS.
	Plugin int64  `json:"plugin_memory_bytes"`
	Note   string `json:"note,omitempty"`
}

func main() {
	in := flag.String("in", "", "NetFlow CSV (NetShare's schema) to read")
	chunks := flag.Int("chunks", 10, "time chunks")
	maxFlowLen := flag.Int("max-flow-len", 0, "records kept per flow and chunk (0: the longest flow piece)")
	out := flag.String("out", "", "directory for the chunk tensors (default: a temporary one, removed)")
	jsonOut := flag.String("json", "", "also write the measurements here")
	cache := flag.String("cache", "", "plugin compilation cache (default: the user's)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run here")
	pluginMiB := flag.Int("plugin-memory-mib", 0, "memory cap of each plugin instance, as [plugins] memory_mib (0: the default)")
	flag.Parse()
	// As netshare itself does (host/cmd/netshare/memory.go).
	soft := memguard.SetSoftLimit(0.9)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "scalebench: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *in == "" {
		fmt.Fprintln(os.Stderr, "scalebench: -in is required")
		os.Exit(2)
	}
	fmt.Printf("memory budget %s; soft limit %s\n", memguard.Current(), memguard.Size(soft))
	stages, err := bench(context.Background(), *in, *chunks, *maxFlowLen, *out, plugin.Options{CacheDir: *cache, Limits: plugin.Limits{MemoryMiB: *pluginMiB}})
	for _, s := range stages {
		fmt.Printf("%-7s %8.2f s (CPU %8.2f s)  %10.0f rec/s  peak RSS %7.0f MiB  heap after %7.0f MiB  plugins %5.0f MiB  %s\n",
			s.Name, s.Seconds, s.CPU, s.PerSecond, mib(s.PeakRSS), mib(s.Heap), mib(s.Plugin), s.Note)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "scalebench: %v\n", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(stages, "", "  ")
		if err := atomicfile.WriteBytes(*jsonOut, b); err != nil {
			fmt.Fprintf(os.Stderr, "scalebench: %v\n", err)
			os.Exit(1)
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func bench(ctx context.Context, in string, chunks, maxFlowLen int, out string, popts plugin.Options) ([]Stage, error) {
	if out == "" {
		d, err := os.MkdirTemp("", "scalebench-*")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		out = d
	}
	h, err := plugin.NewHost(ctx, popts)
	if err != nil {
		return nil, err
	}
	defer h.Close(ctx)
	var stages []Stage
	measure := func(name string, n func() int, fn func() (string, error)) error {
		runtime.GC()
		resetPeak()
		start, cpu0 := time.Now(), cpuSeconds()
		note, err := fn()
		s := Stage{Name: name, Seconds: time.Since(start).Seconds(), CPU: cpuSeconds() - cpu0, PeakRSS: peakRSS(), Note: note}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.Heap = int64(ms.HeapAlloc)
		for _, m := range h.Modules() {
			s.Plugin += int64(m.MemoryBytes())
		}
		if err == nil && s.Seconds > 0 {
			s.PerSecond = float64(n()) / s.Seconds
		}
		stages = append(stages, s)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}

	var records *abi.Batch
	nrec := func() int { return records.Len() }
	if err := measure("read", nrec, func() (string, error) {
		tr, err := trace.Read(ctx, h, []string{in}, trace.Options{Format: format})
		if err != nil {
			return "", err
		}
		records = tr.Records
		return fmt.Sprintf("%d records", records.Len()), nil
	}); err != nil {
		return stages, err
	}
	var set *flow.Set
	if err := measure("flows", nrec, func() (string, error) {
		var err error
		set, err = flow.Split(records, flow.Options{Chunks: chunks, MaxFlowLen: maxFlowLen})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d flows in %d chunks, max flow length %d, %d records truncated",
			set.NumFlows, len(set.Chunks), set.MaxFlowLen, set.Truncated), nil
	}); err != nil {
		return stages, err
	}
	// The fields a run models by default: the format's own defaults.
	_, comp, err := h.Find(abi.KindFormat, format)
	if err != nil {
		return stages, err
	}
	var d abi.FieldDefaults
	if ok, err := comp.Default(abi.DefaultFields, &d); err != nil || !ok {
		return stages, fmt.Errorf("format %s: no default fields (%v)", format, err)
	}
	cfg := encoding.Config{Fields: d.Apply(records), MaxLen: set.MaxFlowLen, Seed: 1}
	rt := encoding.FromPlugin(h)
	var state *encoding.State
	if err := measure("fit", nrec, func() (string, error) {
		var err error
		state, err = encoding.Fit(ctx, rt, cfg, records, set)
		return fmt.Sprintf("%d encoders", len(cfg.Fields)), err
	}); err != nil {
		return stages, err
	}
	encoded := 0
	if err := measure("encode", func() int { return encoded }, func() (string, error) {
		codec, err := encoding.Open(ctx, rt, state)
		if err != nil {
			return "", err
		}
		defer codec.Close(ctx)
		var bytes int64
		for k, ch := range set.Chunks {
			if len(ch.Flows) == 0 {
				continue
			}
			ts, err := codec.Encode(ctx, records, set, k)
			if err != nil {
				return "", fmt.Errorf("chunk %d: %w", k, err)
			}
			p := filepath.Join(out, fmt.Sprintf("chunk-%d.gob", k))
			if err := atomicfile.Write(p, func(w io.Writer) error { return gob.NewEncoder(w).Encode(ts) }); err != nil {
				return "", err
			}
			st, err := os.Stat(p)
			if err != nil {
				return "", err
			}
			bytes += st.Size()
			encoded += ch.Records
		}
		return fmt.Sprintf("%d chunk tensor files, %.0f MiB", len(set.Chunks), mib(bytes)), nil
	}); err != nil {
		return stages, err
	}
	return stages, nil
}

// cpuSeconds is the CPU time this process has used (user and system).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// resetPeak resets the kernel's high-water mark of this process's RSS
// (Linux: writing 5 to clear_refs), so the next reading is a stage's own.
func resetPeak() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM from /proc/self/status, in bytes (0 where unknown).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
