package encoding

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
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

// split cuts the records into n fixed-time chunks of 5-tuple flows.
func split(t testing.TB, b *abi.Batch, n int) *flow.Set {
	t.Helper()
	set, err := flow.Split(b, flow.Options{Chunks: n})
	if err != nil {
		t.Fatal(err)
	}
	return set
}
