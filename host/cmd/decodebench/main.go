// Command decodebench measures how fast the pcap format decodes captures
// through the WebAssembly plugin, the path the pipeline takes: the file is
// handed to the module in pieces (1 MiB by default) with the decode op,
// and every returned batch is parsed on the host side as the pipeline
// would. With -native it runs the same decoder compiled natively instead.
//
//	go run ./host/cmd/decodebench [-wasm builtin.wasm] [-piece N] [-min-time 2s] [-native] FILE...
//
// It prints one line per file, tab-separated: name, packets, records, wall
// seconds per pass, CPU seconds per pass, packets per CPU second (CPU time
// because a shared machine's wall time says more about its load than
// about the decoder). The Wasm path goes through host/internal/plugin
// with the limits the builtin module runs under (a memory cap, no call
// time limit).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin"
	"github.com/netshare/netshare/builtin/format/pcap"
	"github.com/netshare/netshare/host/internal/plugin"
)

func main() {
	wasmPath := flag.String("wasm", "", "plugin module to load (default: the builtin module embedded in this binary)")
	piece := flag.Int("piece", 1<<20, "bytes per decode call")
	minTime := flag.Duration("min-time", 2*time.Second, "repeat each file for at least this long")
	native := flag.Bool("native", false, "decode natively instead of through Wasm")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the decoding to this file")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: decodebench [flags] FILE...")
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "decodebench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*wasmPath, *piece, *minTime, *native, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "decodebench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(wasmPath string, piece int, minTime time.Duration, native bool, files []string) error {
	ctx := context.Background()
	var decode func(data []byte) (abi.ReadStats, error)
	if native {
		decode = func(data []byte) (abi.ReadStats, error) { return decodeNative(data, piece) }
	} else {
		code := builtin.Wasm
		if wasmPath != "" {
			var err error
			if code, err = os.ReadFile(wasmPath); err != nil {
				return err
			}
		}
		t0 := time.Now()
		h, err := plugin.NewHost(ctx, plugin.Options{NoBuiltin: true, Extra: []plugin.ModuleSpec{{Name: "bench", Wasm: code, Limits: plugin.Limits{CallTimeout: -1}}}})
		if err != nil {
			return err
		}
		defer h.Close(ctx)
		fmt.Fprintf(os.Stderr, "module compiled and started in %v\n", time.Since(t0).Round(time.Millisecond))
		decode = func(data []byte) (abi.ReadStats, error) { return decodeWasm(ctx, h, data, piece) }
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var st abi.ReadStats
		passes := 0
		t0, c0 := time.Now(), cpuTime()
		for passes == 0 || time.Since(t0) < minTime {
			if st, err = decode(data); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			passes++
		}
		wall := time.Since(t0).Seconds() / float64(passes)
		cpu := (cpuTime() - c0).Seconds() / float64(passes)
		if cpu <= 0 {
			cpu = wall
		}
		pkts := st.Records
		for _, n := range st.Skipped {
			pkts += n
		}
		fmt.Printf("%s\t%d\t%d\t%.6f\t%.6f\t%.0f\n", filepath.Base(f), pkts, st.Records, wall, cpu, float64(pkts)/cpu)
	}
	return nil
}

func decodeNative(data []byte, piece int) (abi.ReadStats, error) {
	d := pcap.NewDecoder()
	for p := data; len(p) > 0; p = p[min(len(p), piece):] {
		if _, err := d.Decode(p[:min(len(p), piece)]); err != nil {
			return abi.ReadStats{}, err
		}
	}
	_, st, err := d.End()
	return st, err
}

// decodeWasm feeds data to the pcap plugin through the host's plugin
// runtime, the path `netshare run` takes, parsing every returned batch.
func decodeWasm(ctx context.Context, h *plugin.Host, data []byte, piece int) (abi.ReadStats, error) {
	var st abi.ReadStats
	in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindFormat, Name: "pcap", Mode: abi.ModeRead})
	if err != nil {
		return st, err
	}
	defer in.Close(ctx)
	for p := data; len(p) > 0; p = p[min(len(p), piece):] {
		_, body, err := in.Call(ctx, abi.OpRead, nil, p[:min(len(p), piece)])
		if err != nil {
			return st, err
		}
		if _, err := abi.DecodeBatch(body); err != nil {
			return st, err
		}
	}
	hdr, body, err := in.Call(ctx, abi.OpReadEnd, nil, nil)
	if err != nil {
		return st, err
	}
	if _, err := abi.DecodeBatch(body); err != nil {
		return st, err
	}
	return st, json.Unmarshal(hdr, &st)
}
