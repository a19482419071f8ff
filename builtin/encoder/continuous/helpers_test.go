package continuous

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// dataDir is the shared real-data folder, ../shared/data from the repo
// root; tests skip when it is absent.
func dataDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	dir := filepath.Join(root, "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real data not available at %s: %v", dir, err)
	}
	return dir
}

var protoNumbers = map[string]uint8{"TCP": 6, "UDP": 17, "ICMP": 1, "GRE": 47, "ESP": 50, "IPIP": 4, "IPv6": 41}

// loadUGR reads NetShare's UGR'16 sample (header srcip,dstip,srcport,
// dstport,proto,ts,td,pkt,byt,type) into canonical flow columns. It is a
// test-local reader; the netflow-csv format plugin is the real one.
func loadUGR(t testing.TB) *abi.Batch {
	t.Helper()
	path := filepath.Join(dataDir(t), "flows", "ugr16_netshare-small_1k.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	defer f.Close()
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4}, {Name: "dstip", Type: abi.TypeIPv4},
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16},
		{Name: "proto", Type: abi.TypeU8}, {Name: "ts", Type: abi.TypeTime},
		{Name: "td", Type: abi.TypeF64}, {Name: "pkt", Type: abi.TypeI64},
		{Name: "byt", Type: abi.TypeI64}, {Name: "type", Type: abi.TypeString},
	}}
	c := b.Columns
	dict := map[string]uint32{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue
		}
		r := strings.Split(sc.Text(), ",")
		if len(r) != 10 {
			t.Fatalf("%s line %d: %d fields", path, line, len(r))
		}
		u := func(i int, bits int) uint64 {
			v, err := strconv.ParseUint(r[i], 10, bits)
			if err != nil {
				t.Fatalf("%s line %d field %d: %v", path, line, i+1, err)
			}
			return v
		}
		fl := func(i int) float64 {
			v, err := strconv.ParseFloat(r[i], 64)
			if err != nil {
				t.Fatalf("%s line %d field %d: %v", path, line, i+1, err)
			}
			return v
		}
		p, ok := protoNumbers[r[4]]
		if !ok {
			p = 255
		}
		c[0].U32 = append(c[0].U32, uint32(u(0, 32)))
		c[1].U32 = append(c[1].U32, uint32(u(1, 32)))
		c[2].U16 = append(c[2].U16, uint16(u(2, 16)))
		c[3].U16 = append(c[3].U16, uint16(u(3, 16)))
		c[4].U8 = append(c[4].U8, p)
		c[5].I64 = append(c[5].I64, int64(fl(5)))
		c[6].F64 = append(c[6].F64, fl(6))
		c[7].I64 = append(c[7].I64, int64(fl(7)))
		c[8].I64 = append(c[8].I64, int64(fl(8)))
		code, ok := dict[r[9]]
		if !ok {
			code = uint32(len(c[9].Dict))
			dict[r[9]] = code
			c[9].Dict = append(c[9].Dict, r[9])
		}
		c[9].Codes = append(c[9].Codes, code)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := b.Check(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// wire drives components through sdk.NewDispatcher, the exact protocol
// the host speaks to the Wasm module.
type wire struct {
	t testing.TB
	d *sdk.Dispatcher
}

func newWire(t testing.TB) *wire { return &wire{t: t, d: sdk.NewDispatcher()} }

// call returns the response header and body, or the plugin's error.
func (w *wire) call(op abi.Op, handle uint32, header any, body []byte) ([]byte, []byte, error) {
	req, err := abi.AppendRequest(nil, header, body)
	if err != nil {
		w.t.Fatal(err)
	}
	h, b, err := abi.SplitResponse(w.d.Call(op, handle, req))
	return append([]byte(nil), h...), append([]byte(nil), b...), err
}

func (w *wire) open(name, column string, params map[string]any, seed int64) (uint32, error) {
	h, _, err := w.call(abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindEncoder, Name: name, Column: column, Params: params, Seed: seed}, nil)
	if err != nil {
		return 0, err
	}
	var r abi.OpenReply
	if err := json.Unmarshal(h, &r); err != nil {
		w.t.Fatal(err)
	}
	return r.Handle, nil
}

// fit runs Fit on each batch then FitEnd, returning the state.
func (w *wire) fit(handle uint32, batches ...*abi.Batch) ([]byte, error) {
	for _, b := range batches {
		if _, _, err := w.call(abi.OpFit, handle, nil, abi.AppendBatch(nil, b)); err != nil {
			return nil, err
		}
	}
	_, st, err := w.call(abi.OpFitEnd, handle, nil, nil)
	return st, err
}

func (w *wire) load(handle uint32, state []byte) ([]abi.Output, error) {
	h, _, err := w.call(abi.OpLoad, handle, nil, state)
	if err != nil {
		return nil, err
	}
	var r abi.LoadReply
	if err := json.Unmarshal(h, &r); err != nil {
		w.t.Fatal(err)
	}
	return r.Outputs, nil
}

func (w *wire) encode(handle uint32, b *abi.Batch) (*abi.Matrix, error) {
	_, body, err := w.call(abi.OpEncVal, handle, nil, abi.AppendBatch(nil, b))
	if err != nil {
		return nil, err
	}
	return abi.DecodeMatrix(body)
}

func (w *wire) decode(handle uint32, m *abi.Matrix) (*abi.Batch, error) {
	_, body, err := w.call(abi.OpDecVal, handle, nil, abi.AppendMatrix(nil, m))
	if err != nil {
		return nil, err
	}
	return abi.DecodeBatch(body)
}

// sub returns a batch with just the named columns of b.
func sub(b *abi.Batch, names ...string) *abi.Batch {
	out := &abi.Batch{}
	for _, n := range names {
		out.Columns = append(out.Columns, *b.Column(n))
	}
	return out
}

var _ = json.Marshal

// The capitalised variants fail the test on error.
func (w *wire) Open(name, column string, params map[string]any, seed int64) uint32 {
	w.t.Helper()
	h, err := w.open(name, column, params, seed)
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

func (w *wire) Fit(handle uint32, batches ...*abi.Batch) []byte {
	w.t.Helper()
	st, err := w.fit(handle, batches...)
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *wire) Load(handle uint32, state []byte) []abi.Output {
	w.t.Helper()
	o, err := w.load(handle, state)
	if err != nil {
		w.t.Fatal(err)
	}
	return o
}

func (w *wire) Encode(handle uint32, b *abi.Batch) *abi.Matrix {
	w.t.Helper()
	m, err := w.encode(handle, b)
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

func (w *wire) Decode(handle uint32, m *abi.Matrix) *abi.Batch {
	w.t.Helper()
	b, err := w.decode(handle, m)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}
