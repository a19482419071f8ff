package netflowcsv

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/internal/shareddata"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

// dataFile returns the path of a shared test trace, skipping the test when
// the shared data is absent.
func dataFile(t testing.TB, name string) string {
	t.Helper()
	return shareddata.Path(t, "flows", name)
}

func readData(t testing.TB, name string) []byte {
	b, err := os.ReadFile(dataFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeAll feeds data in pieces of size bytes and returns all records.
func decodeAll(t testing.TB, p sdk.Params, data []byte, size int) ([]string, abi.ReadStats) {
	t.Helper()
	dec, err := NewReader(sdk.Env{Params: p})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for len(data) > 0 {
		n := min(size, len(data))
		b, err := dec.Decode(data[:n])
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			if err := b.Check(); err != nil {
				t.Fatal(err)
			}
			out = append(out, rows(b)...)
		}
		data = data[n:]
	}
	b, st, err := dec.End()
	if err != nil {
		t.Fatal(err)
	}
	if b != nil {
		out = append(out, rows(b)...)
	}
	return out, st
}

func encodeAll(t testing.TB, p sdk.Params, records []*abi.Batch) []byte {
	t.Helper()
	enc, err := NewWriter(sdk.Env{Params: p})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, b := range records {
		if out, err = enc.Encode(out, b); err != nil {
			t.Fatal(err)
		}
	}
	out, err = enc.End(out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decodeBatches returns the decoder's batches (copied through the wire
// form, as the host receives them).
func decodeBatches(t testing.TB, p sdk.Params, data []byte, size int) []*abi.Batch {
	t.Helper()
	dec, err := NewReader(sdk.Env{Params: p})
	if err != nil {
		t.Fatal(err)
	}
	var out []*abi.Batch
	keep := func(b *abi.Batch) {
		if b == nil || b.Len() == 0 {
			return
		}
		c, err := abi.DecodeBatch(abi.AppendBatch(nil, b))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	for len(data) > 0 {
		n := min(size, len(data))
		b, err := dec.Decode(data[:n])
		if err != nil {
			t.Fatal(err)
		}
		keep(b)
		data = data[n:]
	}
	b, _, err := dec.End()
	if err != nil {
		t.Fatal(err)
	}
	keep(b)
	return out
}

func count(records []string, field string) map[string]int {
	m := map[string]int{}
	for _, r := range records {
		for _, f := range strings.Split(r, "|") {
			if k, v, _ := strings.Cut(f, "="); k == field {
				m[v]++
			}
		}
	}
	return m
}

func TestNetShareFile(t *testing.T) {
	data := readData(t, "ugr16_netshare-small_1k.csv")
	p := params(t, nil)
	whole, st := decodeAll(t, p, data, len(data))
	if len(whole) != 1000 || st.Records != 1000 || len(st.Skipped) != 0 {
		t.Fatalf("got %d records, stats %+v; want 1000 and no skips", len(whole), st)
	}
	wantProto := map[string]int{"6": 437, "1": 267, "17": 231, "47": 30, "50": 29, "4": 5, "41": 1}
	if got := count(whole, "proto"); fmt.Sprint(got) != fmt.Sprint(wantProto) {
		t.Errorf("protocol mix %v, want %v", got, wantProto)
	}
	if got := count(whole, "type"); got["background"] != 999 || got["blacklist"] != 1 {
		t.Errorf("type counts %v", got)
	}
	// The first row: 1730436467,719036359,0,0,ICMP,1458298072364000.0,305.63599999999997,62,1736,background
	want := "srcip=1730436467|dstip=719036359|srcport=0|dstport=0|proto=1|ts=1458298072364000|td=305.63599999999997|pkt=62|byt=1736|type=background"
	if whole[0] != want {
		t.Errorf("first record\n got %s\nwant %s", whole[0], want)
	}
	for _, size := range []int{1, 7, 100, 4096} {
		got, _ := decodeAll(t, p, data, size)
		if strings.Join(got, "\n") != strings.Join(whole, "\n") {
			t.Errorf("pieces of %d bytes decode differently from the whole file", size)
		}
	}
}

// nfdumpParams is the mapping docs/formats.md gives for UGR'16's raw nfdump
// export: te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label, no header.
var nfdumpParams = map[string]any{
	"header":      false,
	"time_format": "2006-01-02 15:04:05",
	"time_is":     "end",
	"table": map[string]any{
		"ts": "0", "td": "1", "srcip": "2", "dstip": "3", "srcport": "4", "dstport": "5",
		"proto": "6", "flg": "7", "pkt": "10", "byt": "11", "label": "12",
	},
}

func TestNfdumpMapping(t *testing.T) {
	data := readData(t, "ugr16_july-week5_first5k_nfdump-noheader.csv")
	p := params(t, nfdumpParams)
	got, st := decodeAll(t, p, data, 1<<20)
	if len(got) != 5000 || st.Records != 5000 || len(st.Skipped) != 0 {
		t.Fatalf("got %d records, stats %+v; want 5000 and no skips", len(got), st)
	}
	if c := count(got, "proto"); c["17"] != 2802 || c["6"] != 2190 || c["1"] != 8 {
		t.Errorf("protocol mix %v, want UDP 2802, TCP 2190, ICMP 8", c)
	}
	if c := count(got, "label"); c["background"] != 4979 || c["blacklist"] != 21 {
		t.Errorf("labels %v, want background 4979, blacklist 21", c)
	}
	// 2016-07-27 13:43:21,48.380,187.96.221.207,42.219.153.7,53,53,UDP,.A....,0,0,2,209,background
	te := time.Date(2016, 7, 27, 13, 43, 21, 0, time.UTC).UnixMicro()
	want := fmt.Sprintf("srcip=%d|dstip=%d|srcport=53|dstport=53|proto=17|ts=%d|td=48.38|pkt=2|byt=209|flg=.A....|label=background",
		187<<24|96<<16|221<<8|207, 42<<24|219<<16|153<<8|7, te-48380000)
	if got[0] != want {
		t.Errorf("first record\n got %s\nwant %s", got[0], want)
	}
	small, _ := decodeAll(t, p, data, 13)
	if strings.Join(small, "\n") != strings.Join(got, "\n") {
		t.Error("13-byte pieces decode differently from 1 MiB pieces")
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		read   map[string]any
		write  map[string]any
		reread map[string]any
	}{
		{"netshare ints", "ugr16_netshare-small_1k.csv", nil, nil, nil},
		{"netshare dotted numbers", "ugr16_netshare-small_1k.csv", nil, map[string]any{"ip_style": "dotted", "proto_style": "number"}, nil},
		{"nfdump as netshare", "ugr16_july-week5_first5k_nfdump-noheader.csv", nfdumpParams, nil, nil},
		{"nfdump as nfdump", "ugr16_july-week5_first5k_nfdump-noheader.csv", nfdumpParams, nfdumpParams, nfdumpParams},
		{"seconds, semicolons", "ugr16_netshare-small_1k.csv", nil,
			map[string]any{"time_format": "s", "delimiter": ";"}, map[string]any{"time_format": "s", "delimiter": ";"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readData(t, tt.file)
			batches := decodeBatches(t, params(t, tt.read), data, 4096)
			var first []string
			for _, b := range batches {
				first = append(first, rows(b)...)
			}
			csv := encodeAll(t, params(t, tt.write), batches)
			second, st := decodeAll(t, params(t, tt.reread), csv, 1000)
			if len(st.Skipped) != 0 {
				t.Fatalf("re-read skipped %v (%v)", st.Skipped, st.Notes)
			}
			if len(first) != len(second) {
				t.Fatalf("%d records, then %d", len(first), len(second))
			}
			for i := range first {
				if first[i] != second[i] {
					t.Fatalf("record %d differs:\n%s\n%s", i, first[i], second[i])
				}
			}
		})
	}
}

func TestBadRows(t *testing.T) {
	header := "srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n"
	good := "1.2.3.4,5.6.7.8,1,2,TCP,1000,0.5,1,40,x\n"
	tests := []struct {
		name   string
		line   string
		reason string
	}{
		{"bad srcip", "1.2.3,5.6.7.8,1,2,TCP,1000,0.5,1,40,x", "bad srcip"},
		{"bad dstip", "1.2.3.4,5.6.7.888,1,2,TCP,1000,0.5,1,40,x", "bad dstip"},
		{"bad srcport", "1.2.3.4,5.6.7.8,70000,2,TCP,1000,0.5,1,40,x", "bad srcport"},
		{"bad dstport", "1.2.3.4,5.6.7.8,1,-2,TCP,1000,0.5,1,40,x", "bad dstport"},
		{"bad proto", "1.2.3.4,5.6.7.8,1,2,T*P,1000,0.5,1,40,x", "bad proto"},
		{"bad ts", "1.2.3.4,5.6.7.8,1,2,TCP,yesterday,0.5,1,40,x", "bad ts"},
		{"bad td", "1.2.3.4,5.6.7.8,1,2,TCP,1000,-0.5,1,40,x", "bad td"},
		{"bad pkt", "1.2.3.4,5.6.7.8,1,2,TCP,1000,0.5,many,40,x", "bad pkt"},
		{"bad byt", "1.2.3.4,5.6.7.8,1,2,TCP,1000,0.5,1,NaN,x", "bad byt"},
		{"too few columns", "1.2.3.4,5.6.7.8,1,2", "too few columns"},
		{"bad quoting", `1.2.3.4,5.6.7.8,1,2,TCP,1000,0.5,1,40,"x`, "bad quoting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := header + good + tt.line + "\n" + good
			got, st := decodeAll(t, params(t, nil), []byte(data), 5)
			if len(got) != 2 || st.Records != 2 {
				t.Errorf("got %d records, want the 2 good ones", len(got))
			}
			if st.Skipped[tt.reason] != 1 || len(st.Skipped) != 1 {
				t.Errorf("skipped %v, want one %q", st.Skipped, tt.reason)
			}
			if note := st.Notes["first skipped"]; !strings.HasPrefix(note, "line 3 ("+tt.reason) {
				t.Errorf("note %q does not name line 3 and %q", note, tt.reason)
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		data   string
		want   string
	}{
		{"missing standard", nil, "srcip,dstip,proto\n1,2,3\n", "no column named srcport"},
		{"table names absent", map[string]any{"table": map[string]any{
			"srcip": "sa", "dstip": "da", "srcport": "sp", "dstport": "dp", "proto": "pr", "ts": "ts", "td": "td", "pkt": "pkt", "byt": "nope"}},
			"sa,da,sp,dp,pr,ts,td,pkt,byt\n", `CSV column "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := NewReader(sdk.Env{Params: params(t, tt.params)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = dec.Decode([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "line 1") {
				t.Errorf("error %v, want one naming line 1 and %q", err, tt.want)
			}
		})
	}
}

func TestParamErrors(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"no header no table", map[string]any{"header": false}, "needs a table"},
		{"names without header", map[string]any{"header": false, "table": map[string]any{
			"srcip": "0", "dstip": "1", "srcport": "2", "dstport": "3", "proto": "4", "ts": "5", "td": "6", "pkt": "7", "byt": "x"}}, "use a 0-based index"},
		{"table misses columns", map[string]any{"table": map[string]any{"srcip": "a"}}, "does not map dstip"},
		{"bad time_is", map[string]any{"time_is": "middle"}, "time_is"},
		{"bad time_format", map[string]any{"time_format": "epoch"}, "time_format"},
		{"bad ip_style", map[string]any{"ip_style": "hex"}, "ip_style"},
		{"bad delimiter", map[string]any{"delimiter": ",,"}, "delimiter"},
		{"underscore key", map[string]any{"table": map[string]any{"_flow": "1"}}, "must not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(sdk.Env{Params: params(t, tt.params)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		head string
		want bool
	}{
		{"netshare header", "srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n1,2", true},
		{"reordered with label", "\ufeffts,td,srcip,dstip,srcport,dstport,proto,pkt,byt,type,label\r\n", true},
		{"nfdump rows", "\r\n2016-07-27 13:43:21,48.380,187.96.221.207,42.219.153.7,53,53,UDP\r\n", false},
		{"zeek", "#separator \\x09\n#set_separator\t,\n", false},
		{"incomplete header", "srcip,dstip,srcport", false},
		{"pcap magic", "\xd4\xc3\xb2\xa1\x02\x00\x04\x00", false},
	}
	for _, tt := range tests {
		if got := Detect([]byte(tt.head)); got != tt.want {
			t.Errorf("%s: Detect = %v, want %v", tt.name, got, tt.want)
		}
	}
	if data := readData(t, "ugr16_netshare-small_1k.csv"); !Detect(data[:min(4096, len(data))]) {
		t.Error("the NetShare file is not detected")
	}
}

// TestDispatcher runs the format through the exact wire protocol the host
// speaks.
func TestDispatcher(t *testing.T) {
	data := readData(t, "ugr16_july-week5_first5k_nfdump-noheader.csv")
	d := sdk.NewDispatcher()
	call := func(op abi.Op, handle uint32, header any, body []byte) ([]byte, []byte) {
		t.Helper()
		req, err := abi.AppendRequest(nil, header, body)
		if err != nil {
			t.Fatal(err)
		}
		h, b, err := abi.SplitResponse(d.Call(op, handle, req))
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return append([]byte(nil), h...), append([]byte(nil), b...)
	}
	h, _ := call(abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindFormat, Name: Name, Mode: abi.ModeRead, Params: nfdumpParams}, nil)
	var open abi.OpenReply
	if err := json.Unmarshal(h, &open); err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := 0; off < len(data); off += 1 << 16 {
		_, body := call(abi.OpRead, open.Handle, nil, data[off:min(off+1<<16, len(data))])
		b, err := abi.DecodeBatch(body)
		if err != nil {
			t.Fatal(err)
		}
		n += b.Len()
	}
	h, body := call(abi.OpReadEnd, open.Handle, nil, nil)
	b, err := abi.DecodeBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	n += b.Len()
	var st abi.ReadStats
	if err := json.Unmarshal(h, &st); err != nil {
		t.Fatal(err)
	}
	if n != 5000 || st.Records != 5000 {
		t.Errorf("got %d records, stats %+v", n, st)
	}
}

func BenchmarkDecode(b *testing.B) {
	data := readData(b, "ugr16_netshare-small_1k.csv")
	p := params(b, nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dec, _ := NewReader(sdk.Env{Params: p})
		if _, err := dec.Decode(data); err != nil {
			b.Fatal(err)
		}
		if _, _, err := dec.End(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	data := readData(b, "ugr16_netshare-small_1k.csv")
	batches := decodeBatches(b, params(b, nil), data, len(data))
	p := params(b, nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		enc, _ := NewWriter(sdk.Env{Params: p})
		out, _ = enc.Encode(out[:0], batches[0])
	}
}

func params(t testing.TB, p map[string]any) sdk.Params {
	t.Helper()
	return sdktest.Params(t, abi.KindFormat, Name, p)
}

func rows(b *abi.Batch) []string { return sdktest.Rows(b) }
