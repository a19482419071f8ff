package pipeline

import (
	"strings"
	"testing"
	"time"
)

const minimal = `
[input]
paths = ["trace.pcap"]
`

func TestParseMinimalUsesDefaults(t *testing.T) {
	c, err := Parse("p.toml", ".", []byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.Flows.Chunks != d.Flows.Chunks || c.Model.BatchSize != 200 || c.Model.LearningRate != 1e-3 || c.Model.EMA != 0.999 || c.Model.TimeBudget.Duration != 2*time.Minute || c.Model.Steps != 0 || c.Model.CriticUnits != 0 || c.Privacy.Delta != 1e-5 {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if strings.Join(c.Flows.Key, ",") != "srcip,dstip,srcport,dstport,proto" {
		t.Fatalf("flow key %v", c.Flows.Key)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       string
	}{
		{"unknown top key", "sed = 3\n" + minimal, `p.toml:1: unknown key "sed" in top level (did you mean "seed"?)`},
		{"unknown section key", minimal + "[model]\nbatch_sise = 10\n", `p.toml:5: unknown key "batch_sise" in [model] (did you mean "batch_size"?)`},
		{"unknown section", minimal + "[modle]\nsteps = 1\n", `p.toml:4: unknown key "modle" in top level (did you mean "model"?)`},
		{"unknown field key", minimal + "[[fields]]\nname = \"ttl\"\nrole = \"feature\"\nencodr = \"x\"\n", `p.toml:7: unknown key "encodr" in [fields] (did you mean "encoder"?)`},
		{"wrong type", minimal + "[model]\nsteps = \"many\"\n", `p.toml:5: key model.steps: incompatible types`},
		{"bad duration", minimal + "[plugins]\ncall_timeout = \"soon\"\n", `p.toml:5`},
		{"syntax", minimal + "[model\n", `expected '.' or ']' to end table name`},
		{"missing paths", "[input]\nformat = \"pcap\"\n", `[input] paths is required`},
		{"bad chunks", minimal + "[flows]\nchunks = 0\n", `p.toml:5: flows.chunks: 0, want ≥ 1`},
		{"bad direction", minimal + "[flows]\ndirection = \"both\"\n", `p.toml:5: flows.direction: "both", want "auto", "bidirectional" or "directed"`},
		{"bad sessions", minimal + "[flows]\nsessions = \"fix\"\n", `p.toml:5: flows.sessions: "fix", want "auto", "complete" or "as-generated"`},
		{"complete sessions under privacy", minimal + "[flows]\nsessions = \"complete\"\nmax_flow_len = 10\n[privacy]\nenabled = true\nepsilon = 1.0\n", `flows.sessions: "complete" reads the private trace`},
		{"bad role", minimal + "[[fields]]\nname = \"ttl\"\nrole = \"both\"\nencoder = \"x\"\n", `[[fields]] #1 (ttl): role "both"`},
		{"missing encoder", minimal + "[[fields]]\nname = \"ttl\"\nrole = \"feature\"\n", `[[fields]] #1 (ttl): encoder is required`},
		{"privacy without budget", minimal + "[privacy]\nenabled = true\n", `privacy.epsilon: set a target epsilon`},
		{"privacy without flow length", minimal + "[privacy]\nenabled = true\nepsilon = 1.0\n", `flows.max_flow_len: must be set when privacy is enabled`},
		{"bad pin", minimal + "[[plugins.module]]\npath = \"x.wasm\"\nsha256 = \"abc\"\n", `sha256 "abc" is not 64 hex digits`},
		{"model validation", minimal + "[model]\nbatch_size = -1\n", `batch_size = -1, want > 0`},
		{"bad copy guard", minimal + "[privacy]\ncopies = \"hide\"\n", `p.toml:5: privacy.copies: "hide", want "auto", "redraw", "drop" or "keep"`},
		{"bad calibrate", minimal + "[model]\ncalibrate = \"yes\"\n", `p.toml:5: model.calibrate: "yes", want "auto", "on" or "off"`},
		{"calibrate under privacy", minimal + "[flows]\nmax_flow_len = 10\n[model]\ncalibrate = \"on\"\n[privacy]\nenabled = true\nepsilon = 1.0\n", `model.calibrate: "on" reads the private data's category shares`},
		{"redraw under privacy", minimal + "[flows]\nmax_flow_len = 10\n[privacy]\nenabled = true\nepsilon = 1.0\ncopies = \"redraw\"\n", `privacy.copies: "redraw" consults the private data`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.toml", ".", []byte(tt.text), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant it to contain %s", err, tt.want)
			}
		})
	}
}

// "auto" redraws copies without DP and keeps them under DP; the others
// mean what they say.
func TestCopyGuard(t *testing.T) {
	tests := []struct {
		copies  string
		private bool
		want    string
	}{
		{"auto", false, "redraw"},
		{"auto", true, "keep"},
		{"redraw", false, "redraw"},
		{"drop", false, "drop"},
		{"keep", false, "keep"},
		{"keep", true, "keep"},
	}
	for _, tt := range tests {
		if got := (Privacy{Copies: tt.copies, Enabled: tt.private}).CopyGuard(); got != tt.want {
			t.Errorf("copies %q, DP %v: %q, want %q", tt.copies, tt.private, got, tt.want)
		}
	}
}

// "auto" calibrates without DP only.
func TestCalibrated(t *testing.T) {
	tests := []struct {
		calibrate string
		private   bool
		want      bool
	}{
		{"auto", false, true},
		{"auto", true, false},
		{"on", false, true},
		{"off", false, false},
		{"off", true, false},
	}
	for _, tt := range tests {
		c := Default()
		c.Model.Calibrate, c.Privacy.Enabled = tt.calibrate, tt.private
		if got := c.Calibrated(); got != tt.want {
			t.Errorf("calibrate %q, DP %v: %v, want %v", tt.calibrate, tt.private, got, tt.want)
		}
	}
}

func TestOverrides(t *testing.T) {
	c, err := Parse("p.toml", ".", []byte(minimal+"[model]\nsteps = 10\n"), []string{
		"model.steps=42", "flows.chunks=3", "output.format=netflow-csv", "plugins.call_timeout=5s", "input.paths=[\"a\",\"b\"]",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Model.Steps != 42 || c.Flows.Chunks != 3 || c.Output.Format != "netflow-csv" || c.Plugins.CallTimeout.Duration != 5*time.Second || len(c.Input.Paths) != 2 {
		t.Fatalf("overrides not applied: steps %d chunks %d format %q timeout %v paths %v", c.Model.Steps, c.Flows.Chunks, c.Output.Format, c.Plugins.CallTimeout, c.Input.Paths)
	}
	for _, o := range []string{"model.stepz=1", "nokey", "input.paths.x=1"} {
		if _, err := Parse("p.toml", ".", []byte(minimal), []string{o}); err == nil {
			t.Errorf("--set %s accepted", o)
		}
	}
}

func TestKeysDocumented(t *testing.T) {
	keys := Keys()
	for _, want := range []string{"seed", "input.paths", "flows.chunks", "fields.encoder", "model.batch_size", "model.steps", "privacy.epsilon", "output.format", "metrics.name", "plugins.module.sha256", "plugins.call_timeout"} {
		found := false
		for _, k := range keys {
			found = found || k == want
		}
		if !found {
			t.Errorf("Keys() lacks %s", want)
		}
	}
}

// A component's params may hold tables (a CSV column mapping), in either
// TOML form; the component checks their keys, not the pipeline.
func TestNestedParams(t *testing.T) {
	for _, text := range []string{
		minimal + "[input.params]\nheader = false\n[input.params.table]\nts = \"0\"\n",
		minimal + "[input.params]\ntable = {ts = \"0\"}\n",
	} {
		c, err := Parse("p.toml", ".", []byte(text), nil)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if tab, _ := c.Input.Params["table"].(map[string]any); tab["ts"] != "0" {
			t.Fatalf("%s: params %v", text, c.Input.Params)
		}
	}
	if _, err := Parse("p.toml", ".", []byte(minimal+"[input.parms]\nx = 1\n"), nil); err == nil {
		t.Error("a misspelt params table was accepted")
	}
}
