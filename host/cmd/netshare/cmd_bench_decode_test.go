package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netshare/netshare/internal/shareddata"
)

// TestBenchDecode trains a tiny model for a few steps on the UGR'16
// sample, then decodes its generated flows through the Wasm module with
// the ports' approx changed: the rate line, an agreement line per
// attribute field (exact fields agree fully), and the dump's size. The
// ports are word2vec, whose approximate search approx tunes (the
// formats' default, rank, has no search to approximate).
func TestBenchDecode(t *testing.T) {
	ugr := shareddata.Path(t, "flows/ugr16_netshare-small_1k.csv")
	dir := t.TempDir()
	toml := filepath.Join(dir, "p.toml")
	runDir := filepath.Join(dir, "run")
	os.WriteFile(toml, []byte("run_dir = "+strconv.Quote(runDir)+"\n[input]\npaths = ["+strconv.Quote(ugr)+"]\n[flows]\nchunks = 1\n[model]\nsteps = 3\n[output]\npath = "+strconv.Quote(filepath.Join(runDir, "syn.csv"))+"\n"+wordFields), 0o644)
	if _, errs, rc := runCmd(t, append([]string{"run", "-c", toml}, tinyModel...)...); rc != 0 {
		t.Fatalf("run: rc %d: %s", rc, errs)
	}
	dump := filepath.Join(dir, "gen")
	out, errs, rc := runCmd(t, "bench", "decode", "--flows", "300", "--min-time", "1ms", "--dump", dump,
		"--set", "srcport.approx=2", "--set", "dstport.approx=0", runDir)
	if rc != 0 {
		t.Fatalf("bench decode: rc %d: %s", rc, errs)
	}
	if !strings.Contains(out, "flows=300 ") || !strings.Contains(out, "records_per_s=") {
		t.Errorf("no rate line:\n%s", out)
	}
	for _, f := range []string{"srcip", "srcport", "dstport", "proto"} {
		if !strings.Contains(out, "field="+f+" agreement=") {
			t.Errorf("no agreement for %s:\n%s", f, out)
		}
	}
	if !strings.Contains(out, "field=srcip agreement=1.0000") {
		t.Errorf("an unchanged field disagrees:\n%s", out)
	}
	var hdr struct {
		N       int `json:"n"`
		Outputs []struct {
			Name  string `json:"name"`
			Width int    `json:"width"`
		} `json:"outputs"`
	}
	b, err := os.ReadFile(dump + ".json")
	if err != nil || json.Unmarshal(b, &hdr) != nil {
		t.Fatalf("dump header: %v %s", err, b)
	}
	w := 0
	for _, o := range hdr.Outputs {
		w += o.Width
	}
	if st, err := os.Stat(dump + ".f32"); err != nil || hdr.N != 300 || st.Size() != int64(4*300*w) {
		t.Errorf("dump: n %d, %v, want 300 rows of %d floats", hdr.N, err, w)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "decode"}, "usage: netshare bench decode"},
		{[]string{"bench", "decode", "--set", "nosuch.approx=1", runDir}, `no field "nosuch"`},
		{[]string{"bench", "decode", "--set", "srcport", runDir}, "want FIELD.PARAM=VALUE"},
		{[]string{"bench", "decode", filepath.Join(dir, "none")}, "encoders.json"},
	} {
		if _, errs, rc := runCmd(t, tc.args...); rc == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: rc %d, stderr %q, want it to say %q", tc.args, rc, errs, tc.want)
		}
	}
}

// wordFields models the UGR'16 sample with word2vec ports.
const wordFields = `[[fields]]
name = "ts"
role = "time"
encoder = "time"
[[fields]]
name = "srcip"
role = "attribute"
encoder = "ip-bits"
[[fields]]
name = "dstip"
role = "attribute"
encoder = "ip-bits"
[[fields]]
name = "srcport"
role = "attribute"
encoder = "word2vec"
[[fields]]
name = "dstport"
role = "attribute"
encoder = "word2vec"
[[fields]]
name = "proto"
role = "attribute"
encoder = "categorical"
[[fields]]
name = "td"
role = "feature"
encoder = "mixed"
params = {log1p = true}
[[fields]]
name = "pkt"
role = "feature"
encoder = "mixed"
params = {log1p = true}
[[fields]]
name = "byt"
role = "feature"
encoder = "mixed"
params = {log1p = true}
`
