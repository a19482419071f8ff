package zeekconn

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/internal/shareddata"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

const ctu40 = "ctu50_CTU-Normal-40_day1_zeek-conn.log.labeled"

func readData(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(shareddata.Path(t, "flows", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func split(data []byte, size int) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(size, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func rowsOf(bs []*abi.Batch) []string {
	var out []string
	for _, b := range bs {
		out = append(out, rows(b)...)
	}
	return out
}

func encode(t testing.TB, seed int64, bs []*abi.Batch) []byte {
	t.Helper()
	enc, err := NewWriter(sdk.Env{Params: params(t, nil), Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, b := range bs {
		if out, err = enc.Encode(out, b); err != nil {
			t.Fatal(err)
		}
	}
	if out, err = enc.End(out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCTUFiles(t *testing.T) {
	// Expected counts: the data README (flows, labels) and awk over the
	// files (packets = orig_pkts+resp_pkts, bytes = orig_ip_bytes+resp_ip_bytes,
	// unset durations).
	tests := []struct {
		file                        string
		flows                       int
		benign, malicious, backgrnd int
		pkt, byt                    int64
		unsetDuration               int
	}{
		{ctu40, 5663, 1402, 4201, 60, 56463, 17020653, 155},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readData(t, tt.file)
			bs, st, err := decode(params(t, nil), data)
			if err != nil {
				t.Fatal(err)
			}
			recs := rowsOf(bs)
			if len(recs) != tt.flows || st.Records != int64(tt.flows) || len(st.Skipped) != 0 {
				t.Fatalf("%d records, stats %+v; want %d and no skips", len(recs), st, tt.flows)
			}
			labels := map[string]int{}
			var pkt, byt int64
			zeroTD := 0
			for _, b := range bs {
				l := b.Column("label")
				for r := 0; r < b.Len(); r++ {
					labels[l.String(r)]++
					pkt += b.Column("pkt").I64[r]
					byt += b.Column("byt").I64[r]
					if b.Column("td").F64[r] == 0 {
						zeroTD++
					}
				}
			}
			if labels["Benign"] != tt.benign || labels["Malicious"] != tt.malicious || labels["Background"] != tt.backgrnd {
				t.Errorf("labels %v", labels)
			}
			if pkt != tt.pkt || byt != tt.byt {
				t.Errorf("pkt %d byt %d, want %d %d", pkt, byt, tt.pkt, tt.byt)
			}
			if zeroTD < tt.unsetDuration {
				t.Errorf("%d zero durations, want at least the %d unset ones", zeroTD, tt.unsetDuration)
			}
			// 1655071198.444458 CHLXQF2OBY4onAR0Ug 147.32.81.167 62771 40.74.108.123 443 tcp ssl 1.135424 … SF … 14 1016 16 1226 (empty) Benign Microsoft
			want := fmt.Sprintf("srcip=%d|dstip=%d|srcport=62771|dstport=443|proto=6|ts=1655071198444458|td=1.135424|pkt=30|byt=2242|service=ssl|conn_state=SF|label=Benign|detailedlabel=Microsoft",
				147<<24|32<<16|81<<8|167, 40<<24|74<<16|108<<8|123)
			if recs[0] != want {
				t.Errorf("first record\n got %s\nwant %s", recs[0], want)
			}
			for _, size := range []int{1, 100, 65536} {
				parts, _, err := decode(params(t, nil), split(data, size)...)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(rowsOf(parts), "\n") != strings.Join(recs, "\n") {
					t.Errorf("pieces of %d bytes decode differently", size)
				}
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, name := range []string{ctu40, "ctu50_CTU-Normal-42_day2_zeek-conn.log.labeled", "ctu50_CTU-Normal-43_day1_zeek-conn.log.labeled"} {
		t.Run(name, func(t *testing.T) {
			data := readData(t, name)
			bs, _, err := decode(params(t, nil), split(data, 1<<16)...)
			if err != nil {
				t.Fatal(err)
			}
			log := encode(t, 1, bs)
			if !Detect(log) {
				t.Error("written log is not detected as zeek-conn")
			}
			again, st, err := decode(params(t, nil), log)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Skipped) != 0 {
				t.Fatalf("re-read skipped %v %v", st.Skipped, st.Notes)
			}
			a, b := rowsOf(bs), rowsOf(again)
			if len(a) != len(b) {
				t.Fatalf("%d records, then %d", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("record %d differs:\n%s\n%s", i, a[i], b[i])
				}
			}
			if string(encode(t, 1, bs)) != string(log) {
				t.Error("the same seed wrote a different log")
			}
		})
	}
}

func TestEncodeHeader(t *testing.T) {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4, U32: []uint32{0x0a000001}},
		{Name: "dstip", Type: abi.TypeIPv4, U32: []uint32{0x0a000002}},
		{Name: "srcport", Type: abi.TypeU16, U16: []uint16{1234}},
		{Name: "dstport", Type: abi.TypeU16, U16: []uint16{53}},
		{Name: "proto", Type: abi.TypeU8, U8: []uint8{47}},
		{Name: "ts", Type: abi.TypeTime, I64: []int64{1655071198444458}},
		{Name: "td", Type: abi.TypeF64, F64: []float64{0.25}},
		{Name: "pkt", Type: abi.TypeI64, I64: []int64{3}},
		{Name: "byt", Type: abi.TypeI64, I64: []int64{300}},
		{Name: "type", Type: abi.TypeString, Dict: []string{"tab\there", ""}, Codes: []uint32{0}},
	}}
	log := string(encode(t, 7, []*abi.Batch{b}))
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines:\n%s", len(lines), log)
	}
	fields := strings.Split(lines[6], "\t")
	types := strings.Split(lines[7], "\t")
	row := strings.Split(lines[8], "\t")
	if fields[0] != "#fields" || types[0] != "#types" || len(fields) != len(types) || len(row) != len(fields)-1 {
		t.Fatalf("header and row disagree:\n%s", log)
	}
	if fields[len(fields)-1] != "type" || row[len(row)-1] != `tab\x09here` {
		t.Errorf("extra column: field %q value %q", fields[len(fields)-1], row[len(row)-1])
	}
	if row[6] != "unknown_transport" || row[0] != "1655071198.444458" || !strings.HasPrefix(lines[9], "#close\t2022-06-12-") {
		t.Errorf("row %q, close %q", row, lines[9])
	}
	again, _, err := decode(params(t, map[string]any{"strings": []any{"type"}}), []byte(log))
	if err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(again); len(got) != 1 || !strings.HasSuffix(got[0], "|proto=255|ts=1655071198444458|td=0.25|pkt=3|byt=300|type=tab\there") {
		t.Errorf("read back %q", got)
	}
}

func TestBadRows(t *testing.T) {
	header := "#separator \\x09\n#unset_field\t-\n#empty_field\t(empty)\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\tlabel\n"
	good := "1.5\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\t1\t40\t-\t-\t(empty)\n"
	tests := []struct {
		name, line, reason string
	}{
		{"ipv6", "1.5\tfe80::1\t1\t10.0.0.2\t2\ttcp\t-\t-\t1\t40\t-\t-\tx", "not IPv4"},
		{"bad orig", "1.5\t10.0.0\t1\t10.0.0.2\t2\ttcp\t-\t-\t1\t40\t-\t-\tx", "bad id.orig_h"},
		{"bad port", "1.5\t10.0.0.1\t1\t10.0.0.2\t99999\ttcp\t-\t-\t1\t40\t-\t-\tx", "bad id.resp_p"},
		{"bad ts", "-\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\t1\t40\t-\t-\tx", "bad ts"},
		{"bad duration", "1.5\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\tlong\t1\t40\t-\t-\tx", "bad duration"},
		{"bad pkts", "1.5\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\tx\t40\t-\t-\tx", "bad orig_pkts"},
		{"bad proto", "1.5\t10.0.0.1\t1\t10.0.0.2\t2\tt p\t-\t-\t1\t40\t-\t-\tx", "bad proto"},
		{"too few", "1.5\t10.0.0.1\t1", "too few columns"},
		{"too many", good[:len(good)-1] + "\textra", "too many columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := header + good + tt.line + "\n" + good
			bs, st, err := decode(params(t, nil), split([]byte(data), 7)...)
			if err != nil {
				t.Fatal(err)
			}
			recs := rowsOf(bs)
			if len(recs) != 2 || st.Skipped[tt.reason] != 1 || len(st.Skipped) != 1 {
				t.Fatalf("%d records, skipped %v; want 2 and one %q", len(recs), st.Skipped, tt.reason)
			}
			if note := st.Notes["first skipped"]; !strings.HasPrefix(note, "line 6 ("+tt.reason) {
				t.Errorf("note %q does not name line 6", note)
			}
			want := "srcip=167772161|dstip=167772162|srcport=1|dstport=2|proto=6|ts=1500000|td=0|pkt=1|byt=40|service=-|label="
			if recs[0] != want {
				t.Errorf("good record\n got %s\nwant %s", recs[0], want)
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"not conn", "#separator \\x09\n#path\tdns\n", "conn logs only"},
		{"no addresses", "#separator \\x09\n#fields\tts\tuid\tproto\n", "lacks id.orig_h"},
	}
	for _, tt := range tests {
		_, _, err := decode(params(t, nil), []byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: error %v, want one naming line 2 and %q", tt.name, err, tt.want)
		}
	}
	_, st, err := decode(params(t, nil), []byte("1.5\t10.0.0.1\n"))
	if err != nil || st.Skipped["no #fields header"] != 1 {
		t.Errorf("headerless row: err %v, stats %+v", err, st)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		head string
		want bool
	}{
		{"#separator \\x09\n#set_separator\t,\n", true},
		{"#fields\tts\n", false},
		{"srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt\n", false},
	}
	for _, tt := range tests {
		if got := Detect([]byte(tt.head)); got != tt.want {
			t.Errorf("Detect(%q) = %v", tt.head, got)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data := readData(b, ctu40)
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

// TestConnFieldColumns keeps uid and history when the records carry them:
// they fill their own fields instead of being written twice.
func TestConnFieldColumns(t *testing.T) {
	data := readData(t, ctu40)
	p := params(t, map[string]any{"strings": []any{"uid", "service", "conn_state", "history", "label", "detailedlabel"}})
	bs, _, err := decode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	log := encode(t, 1, bs)
	if strings.Count(string(log), "\tuid\t") != 1 || strings.Count(string(log), "\thistory\t") != 1 {
		t.Fatalf("conn fields written twice:\n%s", log[:600])
	}
	again, _, err := decode(p, log)
	if err != nil {
		t.Fatal(err)
	}
	a, b := rowsOf(bs), rowsOf(again)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Error("uid/history columns did not survive the round trip")
	}
	if !strings.Contains(a[0], "uid=CHLXQF2OBY4onAR0Ug") || !strings.Contains(a[0], "history=ShADdaFf") {
		t.Errorf("first record %s", a[0])
	}
}

func params(t testing.TB, p map[string]any) sdk.Params {
	t.Helper()
	return sdktest.Params(t, abi.KindFormat, Name, p)
}

func rows(b *abi.Batch) []string { return sdktest.Rows(b) }

// decode feeds pieces to a new decoder with params p.
func decode(p sdk.Params, pieces ...[]byte) ([]*abi.Batch, abi.ReadStats, error) {
	dec, err := NewReader(sdk.Env{Params: p})
	if err != nil {
		return nil, abi.ReadStats{}, err
	}
	return sdktest.Read(dec, pieces...)
}
