package run

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/plugin/plugintest"
	"github.com/netshare/netshare/host/internal/trace"
)

// writeFlowlog writes a flow log in plugins/flowlog's format: flows of a
// few records each on a handful of hosts and ports.
func writeFlowlog(t *testing.T, path string, flows int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("#flowlog ts srcip dstip srcport dstport proto byt\n")
	ts := int64(1_700_000_000_000_000)
	for f := 0; f < flows; f++ {
		src := fmt.Sprintf("10.0.%d.%d", rng.IntN(4), 1+rng.IntN(20))
		dst := fmt.Sprintf("192.168.1.%d", 1+rng.IntN(8))
		sport, dport := 40000+rng.IntN(20000), []int{53, 80, 443, 8080}[rng.IntN(4)]
		proto := []int{6, 17}[rng.IntN(2)]
		for r := 0; r <= rng.IntN(4); r++ {
			ts += int64(rng.IntN(50_000))
			fmt.Fprintf(&b, "%d %s %s %d %d %d %d\n", ts, src, dst, sport, dport, proto, 40+rng.IntN(100_000))
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestThirdPartyFormatDefaults runs a pipeline that names only its input, a
// trace in the format of plugins/flowlog: the fields modelled are the ones
// that plugin's manifest offers, and the synthetic trace comes back in its
// format.
func TestThirdPartyFormatDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Wasm module and trains a model")
	}
	ctx := context.Background()
	h, err := plugin.NewHost(ctx, plugin.Options{CacheDir: testCache,
		Extra: []plugin.ModuleSpec{{Wasm: plugintest.Build(t, "../../../plugins/flowlog")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	dir := t.TempDir()
	writeFlowlog(t, filepath.Join(dir, "trace.flowlog"), 300)
	const pipelineFile = "[input]\npaths = [\"trace.flowlog\"]\n"
	// The model's size comes from --set overrides, as on the command line.
	sets := []string{"run_dir=" + filepath.Join(dir, "run"), "seed=3", "flows.chunks=2",
		"model.attr_gen_units=16", "model.attr_gen_layers=2", "model.critic_units=16", "model.critic_layers=2",
		"model.attr_critic_units=16", "model.attr_critic_layers=2", "model.lstm_units=8", "model.sample_len=4",
		"model.batch_size=32", "model.critic_rounds=1", "model.steps=8", "model.checkpoint_every=4",
		"model.finetune_fraction=0.5", "model.workers=2", "model.log_every=2"}
	cfg, err := pipeline.Parse("flowlog.toml", dir, []byte(pipelineFile), sets)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, cfg, Options{Host: h})
	if err != nil {
		t.Fatal(err)
	}

	state, err := encoding.LoadState(filepath.Join(dir, "run", "encoders.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{state.Time.Name: state.Time.Encoder}
	for _, f := range state.Fields {
		got[f.Name] = f.Encoder
	}
	want := map[string]string{"ts": "time", "srcip": "ip-bits", "dstip": "ip-bits", "srcport": "continuous",
		"dstport": "continuous", "proto": "categorical", "byt": "continuous"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fitted fields %v, want the plugin's defaults %v", got, want)
	}

	out, err := os.ReadFile(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("#flowlog ")) {
		t.Errorf("output %s is not a flow log: %.60q", res.Output, out)
	}
	tr, err := trace.Read(ctx, h, []string{res.Output}, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Records.Len() == 0 || tr.Files[0].Format != "flowlog" {
		t.Errorf("read back %d records as %q", tr.Records.Len(), tr.Files[0].Format)
	}
}

// TestDefaultFieldsPerPrivacy checks that a run picks the format's private
// set under differential privacy, and names the format when none of its
// default fields is in the records.
func TestDefaultFieldsPerPrivacy(t *testing.T) {
	ctx := context.Background()
	h, err := plugin.NewHost(ctx, plugin.Options{CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	records := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: []int64{1}},
		{Name: "srcport", Type: abi.TypeU16, U16: []uint16{80}},
		{Name: "pkt", Type: abi.TypeI64, I64: []int64{3}},
		{Name: "label", Type: abi.TypeString, Dict: []string{"benign"}, Codes: []uint32{0}},
	}}
	for _, tc := range []struct {
		private bool
		want    []string // name:encoder
	}{
		{false, []string{"ts:time", "srcport:rank", "pkt:mixed", "label:categorical"}},
		{true, []string{"ts:time", "srcport:continuous", "pkt:continuous"}},
	} {
		cfg := &pipeline.Config{}
		cfg.Privacy.Enabled = tc.private
		r := &runner{cfg: cfg, host: h, records: records, inFmt: "netflow-csv"}
		fs, err := r.defaultFields()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Name+":"+f.Encoder)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("private=%v: got %v, want %v", tc.private, got, tc.want)
		}
	}
	r := &runner{cfg: &pipeline.Config{}, host: h, records: &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: []float64{1}}}}, inFmt: "zeek-conn"}
	if _, err := r.defaultFields(); err == nil || !strings.Contains(err.Error(), `"zeek-conn"`) {
		t.Errorf("no default column in the records: %v", err)
	}
}
