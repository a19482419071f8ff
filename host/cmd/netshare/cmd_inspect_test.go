package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netshare/netshare/internal/shareddata"
)

func inspectJSON(t *testing.T, args ...string) Summary {
	t.Helper()
	var out, errb bytes.Buffer
	if rc := run(append([]string{"inspect", "--json"}, args...), &out, &errb); rc != 0 {
		t.Fatalf("inspect %v: rc %d, stderr %s", args, rc, errb.String())
	}
	var s Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("output %s: %v", out.String(), err)
	}
	return s
}

const nfdumpParams = `{"header":false,"time_format":"2006-01-02 15:04:05","time_is":"end",
 "table":{"ts":"0","td":"1","srcip":"2","dstip":"3","srcport":"4","dstport":"5","proto":"6","pkt":"10","byt":"11","label":"12"}}`

func TestInspectCounts(t *testing.T) {
	// Expected counts come from the data README; flows (distinct 5-tuples)
	// for the CTU and nfdump files were counted with awk.
	tests := []struct {
		name      string
		args      []string
		records   int64
		flows     int
		protocols map[string]int64
		firstTS   int64
	}{
		{"netshare csv", []string{shareddata.Path(t, "flows", "ugr16_netshare-small_1k.csv")}, 1000, 989,
			map[string]int64{"TCP": 437, "ICMP": 267, "UDP": 231, "GRE": 30, "ESP": 29, "IPIP": 5, "IPv6": 1}, 1458298072364000},
		{"nfdump by mapping", []string{"--format", "netflow-csv", "--params", nfdumpParams, shareddata.Path(t, "flows", "ugr16_july-week5_first5k_nfdump-noheader.csv")}, 5000, 4877,
			map[string]int64{"UDP": 2802, "TCP": 2190, "ICMP": 8}, 0},
		{"CTU-Normal-40", []string{shareddata.Path(t, "flows", "ctu50_CTU-Normal-40_day1_zeek-conn.log.labeled")}, 5663, 4880, nil, 1655056416228417},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspectJSON(t, tt.args...)
			if s.Records != tt.records || s.Flows != tt.flows || len(s.Skipped) != 0 {
				t.Errorf("records %d flows %d skipped %v; want %d %d none", s.Records, s.Flows, s.Skipped, tt.records, tt.flows)
			}
			if tt.protocols != nil && !reflect.DeepEqual(s.Protocols, tt.protocols) {
				t.Errorf("protocols %v, want %v", s.Protocols, tt.protocols)
			}
			if tt.firstTS != 0 && s.FirstTS != tt.firstTS {
				t.Errorf("first_ts %d, want %d", s.FirstTS, tt.firstTS)
			}
			if s.LastTS < s.FirstTS || s.PerFlow.Max < s.PerFlow.Min || s.PerFlow.Min < 1 {
				t.Errorf("inconsistent summary %+v", s)
			}
			var inHist int
			for _, b := range s.PerFlow.Histogram {
				inHist += b.Flows
			}
			if inHist != s.Flows {
				t.Errorf("histogram holds %d flows, want %d", inHist, s.Flows)
			}
		})
	}
}

func TestInspectSkipped(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	b := filepath.Join(dir, "b.csv")
	head := "srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt\n"
	os.WriteFile(a, []byte(head+"1.2.3.4,5.6.7.8,1,2,TCP,10,0,1,40\n1.2.3,5.6.7.8,1,2,TCP,11,0,1,40\n"), 0o644)
	os.WriteFile(b, []byte(head+"1.2.3.4,5.6.7.8,1,2,UDP,5,0,1,40\n1.2.3.4,5.6.7.8,x,2,TCP,11,0,1,40\n1.2.3.4\n"), 0o644)
	s := inspectJSON(t, a, b)
	if s.Records != 2 || s.Flows != 2 || s.FirstTS != 5 || s.LastTS != 10 {
		t.Errorf("records %d flows %d span %d–%d", s.Records, s.Flows, s.FirstTS, s.LastTS)
	}
	want := map[string]int64{"bad srcip": 1, "bad srcport": 1, "too few columns": 1}
	if !reflect.DeepEqual(s.Skipped, want) {
		t.Errorf("skipped %v, want %v", s.Skipped, want)
	}
	if len(s.Files) != 2 || s.Files[0].Skipped["bad srcip"] != 1 || s.Files[1].Skipped["too few columns"] != 1 {
		t.Errorf("per-file stats %+v", s.Files)
	}
	if note := s.Files[1].Notes["first skipped"]; !strings.Contains(note, "line 3") || !strings.Contains(note, "line 4") {
		t.Errorf("note %q does not name lines 3 and 4", note)
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"inspect", a, b}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "skipped 3 (bad srcip 1, bad srcport 1, too few columns 1)") {
		t.Errorf("rc %d, text output:\n%s%s", rc, out.String(), errb.String())
	}
}

func TestInspectErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.txt")
	os.WriteFile(junk, []byte("not a trace\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"inspect"}, "usage"},
		{"missing", []string{"inspect", filepath.Join(dir, "gone.csv")}, "gone.csv"},
		{"undetectable", []string{"inspect", junk}, "junk.txt: no format recognises"},
		{"bad params", []string{"inspect", "--params", "{nope", junk}, "--params"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if rc := run(tt.args, &out, &errb); rc == 0 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%s: rc %d, stderr %q; want failure mentioning %q", tt.name, rc, errb.String(), tt.want)
		}
	}
}
