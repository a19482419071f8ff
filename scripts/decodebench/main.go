// Command decodebench measures how fast the pcap format decodes captures
// through the WebAssembly plugin, the path the pipeline takes: the file is
// handed to the module in pieces (1 MiB by default) with the decode op,
// and every returned batch is parsed on the host side as the pipeline
// would. With -native it runs the same decoder compiled natively instead.
//
//	go run ./scripts/decodebench [-wasm builtin.wasm] [-piece N] [-min-time 2s] [-native] FILE...
//
// It prints one line per file, tab-separated: name, packets, records, wall
// seconds per pass, CPU seconds per pass, packets per CPU second (CPU time
// because a shared machine's wall time says more about its load than
// about the decoder). The host side here is a minimal copy of the
// protocol host/internal/plugin speaks (that package is internal to
// host/, so a program outside it cannot import it); it uses the same
// wazero compiled mode, WASI setup and request/response framing.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin"
	"github.com/netshare/netshare/builtin/format/pcap"
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
	var decode func(data []byte) (abi.DecodeStats, error)
	if native {
		decode = func(data []byte) (abi.DecodeStats, error) { return decodeNative(data, piece) }
	} else {
		code := builtin.Wasm
		if wasmPath != "" {
			var err error
			if code, err = os.ReadFile(wasmPath); err != nil {
				return err
			}
		}
		t0 := time.Now()
		m, err := load(ctx, code)
		if err != nil {
			return err
		}
		defer m.rt.Close(ctx)
		fmt.Fprintf(os.Stderr, "module compiled and started in %v\n", time.Since(t0).Round(time.Millisecond))
		decode = func(data []byte) (abi.DecodeStats, error) { return m.decode(ctx, data, piece) }
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var st abi.DecodeStats
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

func decodeNative(data []byte, piece int) (abi.DecodeStats, error) {
	d := pcap.NewDecoder()
	for p := data; len(p) > 0; p = p[min(len(p), piece):] {
		if _, err := d.Decode(p[:min(len(p), piece)]); err != nil {
			return abi.DecodeStats{}, err
		}
	}
	_, st, err := d.End()
	return st, err
}

type module struct {
	rt     wazero.Runtime
	mod    api.Module
	buffer api.Function
	call   api.Function
}

func load(ctx context.Context, code []byte) (*module, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil, err
	}
	compiled, err := rt.CompileModule(ctx, code)
	if err != nil {
		return nil, err
	}
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions("_initialize").WithStderr(os.Stderr))
	if err != nil {
		return nil, err
	}
	m := &module{rt: rt, mod: mod, buffer: mod.ExportedFunction(abi.ExportBuffer), call: mod.ExportedFunction(abi.ExportCall)}
	if m.buffer == nil || m.call == nil {
		return nil, errors.New("module is not a netshare plugin")
	}
	return m, nil
}

// rpc sends one request frame and returns the response's header and body
// (valid until the next call).
func (m *module) rpc(ctx context.Context, op abi.Op, handle uint32, header any, body []byte) ([]byte, []byte, error) {
	var h []byte
	if header != nil {
		var err error
		if h, err = json.Marshal(header); err != nil {
			return nil, nil, err
		}
	}
	size := 4 + len(h) + len(body)
	res, err := m.buffer.Call(ctx, uint64(size))
	if err != nil {
		return nil, nil, err
	}
	ptr := uint32(res[0])
	mem := m.mod.Memory()
	var lenb [4]byte
	binary.LittleEndian.PutUint32(lenb[:], uint32(len(h)))
	if !mem.Write(ptr, lenb[:]) || !mem.Write(ptr+4, h) || !mem.Write(ptr+4+uint32(len(h)), body) {
		return nil, nil, errors.New("request outside module memory")
	}
	if res, err = m.call.Call(ctx, uint64(op), uint64(handle), uint64(size)); err != nil {
		return nil, nil, err
	}
	view, ok := mem.Read(uint32(res[0]>>32), uint32(res[0]))
	if !ok {
		return nil, nil, errors.New("response outside module memory")
	}
	return abi.SplitResponse(view)
}

func (m *module) decode(ctx context.Context, data []byte, piece int) (abi.DecodeStats, error) {
	var st abi.DecodeStats
	h, _, err := m.rpc(ctx, abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindFormat, Name: "pcap", Mode: abi.ModeDecode}, nil)
	if err != nil {
		return st, err
	}
	var open abi.OpenReply
	if err := json.Unmarshal(h, &open); err != nil {
		return st, err
	}
	defer m.rpc(ctx, abi.OpClose, open.Handle, nil, nil)
	for p := data; len(p) > 0; p = p[min(len(p), piece):] {
		_, body, err := m.rpc(ctx, abi.OpDecode, open.Handle, nil, p[:min(len(p), piece)])
		if err != nil {
			return st, err
		}
		// The pipeline parses every batch; so does the benchmark.
		if _, err := abi.DecodeBatch(body); err != nil {
			return st, err
		}
	}
	h, _, err = m.rpc(ctx, abi.OpDecodeEnd, open.Handle, nil, nil)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(h, &st)
}
