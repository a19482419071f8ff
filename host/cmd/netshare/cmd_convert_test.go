package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/trace"
	"github.com/netshare/netshare/internal/shareddata"
)

func convert(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if rc := run(append([]string{"convert"}, args...), &out, &errb); rc != 0 {
		t.Fatalf("convert %v: rc %d, stderr %s", args, rc, errb.String())
	}
	return out.String()
}

// TestConvertPcapToFlows aggregates a pcap into flow records and checks
// that no packet or byte is lost: the flows' pkt and byt sum to the
// packets and IP bytes inspect counts in the pcap.
func TestConvertPcapToFlows(t *testing.T) {
	pcap := shareddata.Path(t, "pcap", "stopddos_amp.UDP.bacnet.IOT.37810.pcap")
	out := filepath.Join(t.TempDir(), "flows.csv")
	msg := convert(t, pcap, out)
	if !strings.Contains(msg, "aggregated into flows") {
		t.Errorf("message %q", msg)
	}
	packets := inspectJSON(t, pcap)
	flows := inspectJSON(t, out)
	if flows.Packets != packets.Records || flows.Bytes != packets.Bytes {
		t.Errorf("flows hold %d packets, %d bytes; the pcap has %d, %d", flows.Packets, flows.Bytes, packets.Records, packets.Bytes)
	}
	// Within 25 ms no flow idles out, so each 5-tuple is one flow record.
	if flows.Records != int64(packets.Flows) || flows.Flows != packets.Flows {
		t.Errorf("%d flow records (%d distinct), pcap has %d 5-tuples", flows.Records, flows.Flows, packets.Flows)
	}
	if flows.FirstTS != packets.FirstTS {
		t.Errorf("first flow starts at %d, first packet at %d", flows.FirstTS, packets.FirstTS)
	}
}

// TestConvertZeekViaCSV converts a conn.log to CSV and back and compares
// the records field for field.
func TestConvertZeekViaCSV(t *testing.T) {
	src := shareddata.Path(t, "flows", "ctu50_CTU-Normal-42_day2_zeek-conn.log.labeled")
	dir := t.TempDir()
	mid, back := filepath.Join(dir, "mid.csv"), filepath.Join(dir, "back.log")
	convert(t, src, mid, "--to-params", `{"ip_style":"dotted"}`)
	convert(t, mid, back)
	ctx := context.Background()
	h, err := openHost(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	a, err := trace.Read(ctx, h, []string{src}, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := trace.Read(ctx, h, []string{back}, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Records.Len() != 5347 || b.Records.Len() != a.Records.Len() {
		t.Fatalf("%d records, %d after the round trip; want 5347", a.Records.Len(), b.Records.Len())
	}
	for i := range a.Records.Columns {
		ca := &a.Records.Columns[i]
		cb := b.Records.Column(ca.Name)
		if cb == nil || cb.Type != ca.Type {
			t.Fatalf("column %s (%s) lost or retyped", ca.Name, ca.Type)
		}
		for r := 0; r < a.Records.Len(); r++ {
			var same bool
			if ca.Type == abi.TypeString {
				same = ca.String(r) == cb.String(r)
			} else {
				same = ca.Float(r) == cb.Float(r)
			}
			if !same {
				t.Fatalf("record %d column %s differs", r, ca.Name)
			}
		}
	}
}

// TestConvertCSVViaZeek checks the documented loss: Zeek knows only tcp,
// udp and icmp, so other protocols come back as 255 ("OTHER").
func TestConvertCSVViaZeek(t *testing.T) {
	src := shareddata.Path(t, "flows", "ugr16_netshare-small_1k.csv")
	dir := t.TempDir()
	mid, back := filepath.Join(dir, "mid.log"), filepath.Join(dir, "back.csv")
	convert(t, src, mid)
	convert(t, mid, back)
	a, b := inspectJSON(t, src), inspectJSON(t, back)
	want := map[string]int64{"TCP": 437, "ICMP": 267, "UDP": 231, "OTHER": 30 + 29 + 5 + 1}
	if !reflect.DeepEqual(b.Protocols, want) {
		t.Errorf("protocols %v, want %v", b.Protocols, want)
	}
	if a.Records != b.Records || a.Packets != b.Packets || a.Bytes != b.Bytes || a.FirstTS != b.FirstTS || a.LastTS != b.LastTS {
		t.Errorf("summaries differ:\n%+v\n%+v", a, b)
	}
}

func TestConvertRefusals(t *testing.T) {
	csv := shareddata.Path(t, "flows", "ugr16_netshare-small_1k.csv")
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"flows to pcap", []string{csv, filepath.Join(dir, "x.pcap")}, "cannot become packets"},
		{"unknown extension", []string{csv, filepath.Join(dir, "x.bin")}, "--to"},
		{"one argument", []string{csv}, "usage"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if rc := run(append([]string{"convert"}, tt.args...), &out, &errb); rc == 0 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%s: rc %d, stderr %q; want failure mentioning %q", tt.name, rc, errb.String(), tt.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused conversions left files: %v", entries)
	}
}
