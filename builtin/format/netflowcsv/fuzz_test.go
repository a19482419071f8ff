package netflowcsv

import (
	"os"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/internal/shareddata"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

// FuzzDecode checks, for any input, that decoding never panics, yields valid
// batches, does not depend on where the stream is cut into pieces, and that
// what it decodes survives an encode/decode round trip unchanged.
//
//	go test ./builtin/format/netflowcsv -run '^$' -fuzz FuzzDecode -fuzztime 3m
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"ugr16_netshare-small_1k.csv", "ugr16_july-week5_first5k_nfdump-noheader.csv"} {
		if p, err := shareddata.Lookup("flows", name); err == nil {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b[:min(len(b), 6000)], uint16(4000), uint8(0))
				f.Add(b[:min(len(b), 6000)], uint16(333), uint8(1))
			}
		}
	}
	f.Add([]byte("srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,\"la,bel\"\n1,2,3,4,TCP,5,0.5,1,2,\"a\"\"b\"\n1.2.3,2,3,4,5,6,7,8,9,x\n"), uint16(17), uint8(0))
	f.Add([]byte("\r\n2016-07-27 13:43:21,48.380,1.2.3.4,5.6.7.8,53,53,UDP,.A....,0,0,2,209,background\r\n"), uint16(5), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint16, mode uint8) {
		p := params(t, nil)
		if mode%2 == 1 {
			p = params(t, nfdumpParams)
		}
		whole, stWhole, errWhole := tryDecode(p, [][]byte{data})
		cut := int(split) % (len(data) + 1)
		parts, stParts, errParts := tryDecode(p, [][]byte{data[:cut], data[cut:]})
		if (errWhole == nil) != (errParts == nil) {
			t.Fatalf("whole: %v; in pieces: %v", errWhole, errParts)
		}
		if errWhole != nil {
			return
		}
		if strings.Join(rowsOf(whole), "\n") != strings.Join(rowsOf(parts), "\n") {
			t.Fatal("records depend on where the stream is cut")
		}
		if stWhole.Records != stParts.Records || len(stWhole.Skipped) != len(stParts.Skipped) {
			t.Fatalf("stats differ: %+v vs %+v", stWhole, stParts)
		}
		var n int64
		for _, b := range whole {
			n += int64(b.Len())
		}
		if n != stWhole.Records {
			t.Fatalf("%d records returned, stats say %d", n, stWhole.Records)
		}
		if n == 0 {
			return
		}
		enc, err := NewWriter(sdk.Env{Params: p})
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for _, b := range whole {
			if out, err = enc.Encode(out, b); err != nil {
				t.Fatalf("encoding decoded records: %v", err)
			}
		}
		if out, err = enc.End(out); err != nil {
			t.Fatal(err)
		}
		again, st, err := tryDecode(p, [][]byte{out})
		if err != nil {
			t.Fatalf("re-decoding: %v\n%s", err, out)
		}
		if len(st.Skipped) > 0 {
			t.Fatalf("re-decoding skipped %v %v\n%s", st.Skipped, st.Notes, out)
		}
		a, b := rowsOf(whole), rowsOf(again)
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Fatalf("round trip changed records:\n%q\n%q\nvia\n%s", a, b, out)
		}
	})
}

func rowsOf(bs []*abi.Batch) []string {
	var out []string
	for _, b := range bs {
		out = append(out, rows(b)...)
	}
	return out
}

// tryDecode feeds pieces to a new decoder with params p.
func tryDecode(p sdk.Params, pieces [][]byte) ([]*abi.Batch, abi.ReadStats, error) {
	dec, err := NewReader(sdk.Env{Params: p})
	if err != nil {
		return nil, abi.ReadStats{}, err
	}
	return sdktest.Read(dec, pieces...)
}
