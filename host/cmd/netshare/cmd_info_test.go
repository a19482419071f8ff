package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommands drives the platform commands the way a user types them.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.toml", "[input]\npaths = [\"x.pcap\"]\n[[fields]]\nname = \"ttl\"\nrole = \"feature\"\nencoder = \"continuous\"\nparams = { min = 0.0, max = 255.0 }\n")
	typo := write("typo.toml", "[input]\npaths = [\"x.pcap\"]\n[model]\nbatch_sise = 5\n")
	badEnc := write("enc.toml", "[input]\npaths = [\"x.pcap\"]\n[[fields]]\nname = \"ttl\"\nrole = \"feature\"\nencoder = \"continous\"\n")
	badParam := write("param.toml", "[input]\npaths = [\"x.pcap\"]\n[[fields]]\nname = \"ttl\"\nrole = \"feature\"\nencoder = \"continuous\"\nparams = { lgo1p = true }\n")
	tests := []struct {
		name   string
		args   []string
		rc     int
		stdout string
		stderr string
	}{
		{"version", []string{"version"}, 0, "netshare 0.1.0 (plugin ABI 2", ""},
		{"help", []string{"help"}, 0, "usage: netshare <command>", ""},
		{"unknown command", []string{"trian"}, 2, "", `unknown command "trian"`},
		{"validate embedded default", []string{"validate"}, 0, "netshare.toml (embedded default): ok", ""},
		{"validate file", []string{"validate", good}, 0, good + ": ok", ""},
		{"validate typo", []string{"validate", typo}, 1, "", `typo.toml:4: unknown key "batch_sise" in [model] (did you mean "batch_size"?)`},
		{"validate unknown encoder", []string{"validate", badEnc}, 1, "", `no encoder named "continous" (did you mean "continuous"?)`},
		{"validate bad param", []string{"validate", badParam}, 1, "", `has no parameter "lgo1p" (did you mean "log1p"?)`},
		{"validate bad --set", []string{"validate", "--set", "model.steps=many", good}, 1, "", "model.steps"},
		{"run with stray argument", []string{"run", good}, 1, "", "the pipeline file goes after -c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			rc := run(tt.args, &out, &errb)
			if rc != tt.rc || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Fatalf("rc %d (want %d)\nstdout: %s\nstderr: %s", rc, tt.rc, out.String(), errb.String())
			}
		})
	}
}

func TestPluginsJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"plugins", "--json"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	var rows []struct {
		Kind, Name, Version, Module, SHA256 string
	}
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"format/pcap": false, "format/netflow-csv": false, "format/zeek-conn": false,
		"encoder/ip-bits": false, "encoder/word2vec": false, "encoder/continuous": false, "encoder/mixed": false, "encoder/categorical": false, "encoder/time": false,
		"metric/jsd": false, "metric/emd": false, "metric/flow-size": false, "metric/audit": false}
	for _, r := range rows {
		if r.Module != "builtin" || len(r.SHA256) != 64 || r.Version == "" {
			t.Errorf("row %+v", r)
		}
		if _, ok := want[r.Kind+"/"+r.Name]; ok {
			want[r.Kind+"/"+r.Name] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("netshare plugins does not list %s", k)
		}
	}
}
