// Package enctest is test support for encoders: the repository's real
// data folder, NetShare's UGR'16 sample decoded by the netflow-csv format
// and the shared packet captures decoded by the pcap format, natively.
// Tests skip when the data is absent.
package enctest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/netflowcsv"
	"github.com/netshare/netshare/builtin/format/pcap"
	"github.com/netshare/netshare/internal/shareddata"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

// DataDir is ../shared/data beside the repository; the test skips when it
// is absent.
func DataDir(t testing.TB) string {
	t.Helper()
	return shareddata.Path(t)
}

// LoadUGR returns NetShare's 1000-record UGR'16 sample as flow records.
func LoadUGR(t testing.TB) *abi.Batch {
	t.Helper()
	path := filepath.Join(DataDir(t), "flows", "ugr16_netshare-small_1k.csv")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	d, err := netflowcsv.NewReader(sdk.Env{Params: sdktest.Params(t, abi.KindFormat, netflowcsv.Name, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var out []*abi.Batch
	b, err := d.Decode(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out = append(out, clone(b))
	b, st, err := d.End()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(st.Skipped) > 0 {
		t.Fatalf("%s: skipped %v", path, st.Skipped)
	}
	out = append(out, b)
	return concat(t, out)
}

// LoadPcap returns the packet records of the shared capture
// ../shared/data/pcap/name, in the batches the pcap reader gave them: an
// encoder fits on them in turn, as in the pipeline.
func LoadPcap(t testing.TB, name string) []*abi.Batch {
	t.Helper()
	path := filepath.Join(DataDir(t), "pcap", name)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	d := pcap.NewReader()
	b, err := d.Decode(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := []*abi.Batch{clone(b)}
	if b, _, err = d.End(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out = append(out, clone(b))
	var n int
	for _, b := range out {
		n += b.Len()
	}
	if n == 0 {
		t.Fatalf("%s: no packet records", path)
	}
	return out
}

func clone(b *abi.Batch) *abi.Batch {
	if b == nil {
		return &abi.Batch{}
	}
	c, err := abi.DecodeBatch(abi.AppendBatch(nil, b))
	if err != nil {
		panic(err)
	}
	return c
}

func concat(t testing.TB, parts []*abi.Batch) *abi.Batch {
	var all *abi.Batch
	for _, p := range parts {
		if p == nil || p.Len() == 0 {
			continue
		}
		if all == nil {
			all = p
			continue
		}
		t.Fatal("UGR sample decoded in more than one batch; extend enctest.concat")
	}
	if all == nil {
		t.Fatal("UGR sample decoded to no records")
	}
	return all
}

// Kernels fits fe on in, loads the state, and times Encode of in's rows or
// (decode) Decode of their encoding, in ns per row: the encoder's own
// loops, without the wire framing. Built for wasip1 and run under wazero
// (see docs/encoders.md) it gives the sandbox's cost of them.
func Kernels(b *testing.B, fe sdk.FieldEncoder, in *abi.Batch, decode bool) {
	b.Helper()
	if err := fe.Fit(in); err != nil {
		b.Fatal(err)
	}
	state, err := fe.FitEnd()
	if err != nil {
		b.Fatal(err)
	}
	outs, err := fe.Load(state)
	if err != nil {
		b.Fatal(err)
	}
	rows := in.Len()
	hot, values := abi.Layout(outs)
	e := &abi.Encoded{Rows: rows, HotWidth: hot, ValueWidth: values, Hot: make([]uint32, rows*hot), Values: make([]float64, rows*values)}
	if err := fe.Encode(in, e); err != nil {
		b.Fatal(err)
	}
	if _, err := fe.Decode(e); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if decode {
			_, err = fe.Decode(e)
		} else {
			err = fe.Encode(in, e)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
}
