package run

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/report"
)

// tiny is a pipeline small enough to run end to end in seconds.
const tiny = `
seed = 3
[input]
paths = ["@sample"]
[flows]
chunks = 2
[model]
attr_gen_units = 16
attr_gen_layers = 2
critic_units = 16
critic_layers = 2
attr_critic_units = 16
attr_critic_layers = 2
lstm_units = 8
sample_len = 8
batch_size = 32
critic_rounds = 1
steps = 12
checkpoint_every = 4
finetune_fraction = 0.5
workers = 2
log_every = 2
`

var testCache = filepath.Join(os.TempDir(), "netshare-test-wazero-cache")

func tinyConfig(t *testing.T, dir string, sets ...string) *pipeline.Config {
	t.Helper()
	cfg, err := pipeline.Parse("tiny.toml", dir, []byte(tiny), append([]string{"run_dir=" + dir, "plugins.cache_dir=" + testCache}, sets...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRunEndToEndAndReuse(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	dir := t.TempDir()
	var log bytes.Buffer
	res, err := Run(ctx, tinyConfig(t, dir), Options{Out: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	for _, p := range []string{res.Output, res.Report, res.Metrics, filepath.Join(dir, "encoders.json"), filepath.Join(dir, "train", "chunk-0", "losses.jsonl"), filepath.Join(dir, "train", "chunk-1", "losses.jsonl")} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("missing output %s: %v", p, err)
		}
	}
	for _, name := range []string{"srcip_rank_jsd", "pkt_len_emd", "flow_size_emd"} {
		if _, ok := res.Scores[name]; !ok {
			t.Errorf("no score %s in %v", name, res.Scores)
		}
	}
	checkPcapWithTshark(t, res.Output)
	// The naive sampler's score stands beside the distribution metrics,
	// not beside the evaluators.
	mf, err := report.ReadMetricsFile(res.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	naive := map[string]bool{}
	for _, sc := range mf.Scores {
		naive[sc.Name] = sc.Naive != nil
	}
	if !naive["srcport_jsd"] || naive["audit.flag"] {
		t.Errorf("naive scores: srcport_jsd %v, audit.flag %v; want true, false", naive["srcport_jsd"], naive["audit.flag"])
	}

	// Nothing changed: every stage is reused.
	res2, err := Run(ctx, tinyConfig(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range res2.Timings {
		if !tm.Reused && tm.Stage != "report" && tm.Stage != "release" {
			t.Errorf("stage %s reran with unchanged inputs", tm.Stage)
		}
	}
	// Only the output changes: training and generation are reused.
	res3, err := Run(ctx, tinyConfig(t, dir, "output.path=flows.csv"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	reran := map[string]bool{}
	for _, tm := range res3.Timings {
		reran[tm.Stage] = !tm.Reused
	}
	if reran["train"] || reran["generate"] || !reran["output"] {
		t.Errorf("after an output change, reran: %v", reran)
	}
	if !strings.HasSuffix(res3.Output, "flows.csv") {
		t.Errorf("output %s", res3.Output)
	}
}

// One step for chunk 0 rounds the fine-tunes' share to none; each still
// trains one, so every chunk has a checkpoint to generate from.
func TestRunOneStep(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	var log bytes.Buffer
	if _, err := Run(context.Background(), tinyConfig(t, dir, "model.steps=1", "model.finetune_fraction=0.25"), Options{Out: &log}); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
}

// TestResumeAfterKill stops a run mid-training and checks that the next
// run resumes from the last checkpoint and ends with exactly the synthetic
// records of an uninterrupted run.
func TestResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	whole := t.TempDir()
	if _, err := Run(context.Background(), tinyConfig(t, whole), Options{}); err != nil {
		t.Fatal(err)
	}
	killed := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Run(ctx, tinyConfig(t, killed), Options{Progress: func(stage string, done, total int) {
		if done >= 8 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("cancelled run succeeded")
	}
	if _, err := Run(context.Background(), tinyConfig(t, killed), Options{}); err != nil {
		t.Fatal(err)
	}
	a, err := os.ReadFile(filepath.Join(whole, "generated", "records.bin"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(killed, "generated", "records.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("the resumed run generated other records than the uninterrupted one")
	}
}

func TestRunRefusesUnknownComponent(t *testing.T) {
	cfg := tinyConfig(t, t.TempDir(), `fields=[{name="ttl",role="feature",encoder="tll-bucket"}]`)
	h, err := plugin.NewHost(context.Background(), PluginOptions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	_, err = Run(context.Background(), cfg, Options{Host: h})
	if err == nil || !strings.Contains(err.Error(), `no encoder named "tll-bucket"`) {
		t.Fatalf("got %v", err)
	}
}

func checkPcapWithTshark(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: skipping the capture validity check")
		return
	}
	out, err := exec.Command("tshark", "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-o", "udp.check_checksum:TRUE", "-Y", "_ws.malformed || _ws.expert.severity >= error").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	var bad []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Running as user") {
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("tshark finds malformed packets in %s:\n%s", path, strings.Join(bad, "\n"))
	}
}

func TestRunWithPrivacy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "privacy.enabled=true", "privacy.epsilon=8.0", "flows.max_flow_len=16")
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b budget
	raw, err := os.ReadFile(filepath.Join(dir, "privacy.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	if b.Epsilon > 8 || b.Epsilon < 7 || b.Noise <= 0 || len(b.Iterations) != 2 {
		t.Fatalf("budget %+v: want ε just under 8 with a derived noise", b)
	}
	if b.NotPrivate != "" {
		t.Errorf("a run with crypto noise says %q", b.NotPrivate)
	}
	// Reusing the run releases nothing new: the same noisy counts.
	if _, err := Run(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	var again budget
	if raw, err := os.ReadFile(filepath.Join(dir, "privacy.json")); err != nil || json.Unmarshal(raw, &again) != nil {
		t.Fatalf("privacy.json after a rerun: %v", err)
	}
	if !slices.Equal(again.Counts, b.Counts) {
		t.Errorf("a rerun released new flow counts %v, had %v", again.Counts, b.Counts)
	}
	// Each chunk's length histogram is released (flows of up to 16
	// records: 5 bins), once, and its model draws lengths from it.
	if len(b.LengthBins) != 2 || len(b.LengthBins[0]) != 5 || !slices.Equal(again.LengthBins[1], b.LengthBins[1]) {
		t.Fatalf("noisy length histograms %v, after a rerun %v: want 2 of 5 bins, released once", b.LengthBins, again.LengthBins)
	}
	for pos, h := range b.LengthBins {
		ck, _, err := gan.LatestCheckpoint(filepath.Join(dir, "train", fmt.Sprintf("chunk-%d", pos)))
		if err != nil || ck == "" {
			t.Fatalf("chunk %d checkpoint: %q %v", pos, ck, err)
		}
		m, err := gan.Load(ck)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(h))
		for i, v := range h {
			want[i] = max(v, 0)
		}
		if got := m.LengthDist(); !slices.Equal(got, want) && !(slices.Max(want) == 0 && slices.Max(got) == 1) {
			t.Errorf("chunk %d draws lengths from %v, released %v", pos, got, h)
		}
	}
	html, err := os.ReadFile(res.Report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "ε") {
		t.Error("the report does not show the privacy budget")
	}

	// A field fitted on the private data is refused, by name.
	cfg = tinyConfig(t, t.TempDir(), "privacy.enabled=true", "privacy.epsilon=8.0", "flows.max_flow_len=16",
		`fields=[{name="ts",role="time",encoder="time",params={iat_max=1.0}},{name="pkt_len",role="feature",encoder="continuous"}]`)
	_, err = Run(context.Background(), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "pkt_len") {
		t.Fatalf("data-derived bounds under privacy: got %v", err)
	}
	// The flow length must be fixed in advance.
	_, err = pipeline.Parse("tiny.toml", ".", []byte(tiny), []string{"privacy.enabled=true", "privacy.epsilon=8.0"})
	if err == nil || !strings.Contains(err.Error(), "max_flow_len") {
		t.Fatalf("data-derived flow length under privacy: got %v", err)
	}
}

func TestRunWithEvaluators(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "input.holdout=0.2",
		`metrics=[{name="defaults"},{name="audit"},{name="sketch"},{name="anomaly"}]`)
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pkt_len_emd", "audit.flag", "audit.dcr.available", "sketch.flag", "anomaly.flag"} {
		if _, ok := res.Scores[name]; !ok {
			t.Errorf("no %s among %d scores", name, len(res.Scores))
		}
	}
	if res.Scores["audit.dcr.available"] != 1 {
		t.Error("the audit did not see the holdout")
	}
	html, err := os.ReadFile(res.Report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Downstream tasks and privacy audit", "Privacy audit", "Telemetry sketches"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestPublicPretraining trains on a "public" trace without privacy, then
// fine-tunes on the "private" one with DP-SGD from that model, as
// NetShare's SAME/DIFF setups do. Both pipelines list the same
// data-independent fields, so the models have one shape.
func TestPublicPretraining(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two models")
	}
	fields := `fields=[{name="ts",role="time",encoder="time",params={iat_max=1.0}},` +
		`{name="srcip",role="attribute",encoder="ip-bits"},{name="dstip",role="attribute",encoder="ip-bits"},` +
		`{name="srcport",role="attribute",encoder="continuous",params={min=0.0,max=65535.0}},` +
		`{name="dstport",role="attribute",encoder="continuous",params={min=0.0,max=65535.0}},` +
		`{name="proto",role="attribute",encoder="categorical",params={int_choices=[1,6,17],unseen="other",other="255"}},` +
		`{name="pkt_len",role="feature",encoder="continuous",params={min=20.0,max=1500.0}}]`
	public := t.TempDir()
	if _, err := Run(context.Background(), tinyConfig(t, public, fields, "flows.max_flow_len=16", "seed=11"), Options{}); err != nil {
		t.Fatal(err)
	}
	private := t.TempDir()
	res, err := Run(context.Background(), tinyConfig(t, private, fields, "flows.max_flow_len=16",
		"privacy.enabled=true", "privacy.epsilon=8.0", "privacy.pretrained="+public), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(private, "privacy.json")); err != nil {
		t.Fatal(err)
	}
	if res.Scores["pkt_len_emd"] == 0 {
		t.Error("no fidelity score")
	}
	// A model of another shape is refused with a clear error.
	for _, other := range []string{"model.lstm_units=4", "model.length_bins=false"} {
		_, err = Run(context.Background(), tinyConfig(t, t.TempDir(), fields, "flows.max_flow_len=16", other,
			"privacy.enabled=true", "privacy.epsilon=8.0", "privacy.pretrained="+public), Options{})
		if err == nil || !strings.Contains(err.Error(), "architecture differs") {
			t.Fatalf("pretrained model with %s: %v", other, err)
		}
	}
}

// Generation decoding on several lanes (module instances of their own)
// gives exactly the records of one lane.
func TestDecodeLanesInRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	one := t.TempDir()
	if _, err := Run(context.Background(), tinyConfig(t, one), Options{}); err != nil {
		t.Fatal(err)
	}
	defer func(n int) { decodeLaneFlows = n }(decodeLaneFlows)
	decodeLaneFlows = 1 // lanes even for the tiny sample's chunks
	lanes := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, tinyConfig(t, lanes), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if err := s.r.trainAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if s.r.decodeLanes != 2 {
		t.Fatalf("decoded on %d lanes, want model.workers = 2", s.r.decodeLanes)
	}
	a, err := os.ReadFile(filepath.Join(one, "generated", "records.bin"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(lanes, "generated", "records.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("decoding on lanes generated other records than one lane")
	}
}

// TestRunBidirectional: on the sample (a capture at a client subnet,
// every connection seen both ways) auto picks bidirectional flows; the
// generated records are written back in their own directions and hold
// conversations with both directions; directed flows remain selectable.
func TestRunBidirectional(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	for _, tc := range []struct{ set, want string }{
		{"flows.direction=auto", "flows    bidirectional"},
		{"flows.direction=directed", ""},
	} {
		t.Run(tc.set, func(t *testing.T) {
			dir := t.TempDir()
			var log bytes.Buffer
			if _, err := Run(ctx, tinyConfig(t, dir, tc.set), Options{Out: &log}); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if tc.want != "" && !strings.Contains(log.String(), tc.want) {
				t.Errorf("log lacks %q:\n%s", tc.want, log.String())
			}
			syn, err := loadBatch(filepath.Join(dir, "generated", "records.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if syn.Column(flow.DirColumn) != nil {
				t.Error("generated records keep the direction column")
			}
			state, err := os.ReadFile(filepath.Join(dir, "encoders.json"))
			if err != nil {
				t.Fatal(err)
			}
			if modelled := strings.Contains(string(state), `"dir"`); modelled != (tc.want != "") {
				t.Errorf("direction modelled: %v", modelled)
			}
			share, err := flow.ReverseShare(syn)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %.2f of generated flows have their reverse flow", tc.set, share)
			if tc.want != "" && share == 0 {
				t.Error("no generated conversation has both directions")
			}
			if tc.want != "" {
				// Session completion: generated two-way conversations start
				// mid-stream and end half-closed or open no more often than
				// the real ones (the sample's: never).
				real, err := loadBatch(filepath.Join(dir, "records", "records.bin"))
				if err != nil {
					t.Fatal(err)
				}
				rc, _ := tcpColumns(real)
				sh := realSessionShape(real, rc)
				sc, ok := tcpColumns(syn)
				if !ok {
					t.Fatal("generated records lack the TCP columns")
				}
				n, mid, unclosed := 0, 0, 0
				for _, cv := range tcpConversations(syn, sc) {
					if cv.n[1] > 0 {
						n++
						if cv.midStart(sc) {
							mid++
						}
						if cv.ending(sc) != endClosed {
							unclosed++
						}
					}
				}
				if sh.midStart != 0 || sh.ends != [3]int{sh.twoWay, 0, 0} {
					t.Fatalf("the sample's conversations are not all whole: %+v", sh)
				}
				if mid != 0 || unclosed != 0 {
					t.Errorf("%d of %d generated two-way conversations start mid-stream and %d are not closed; the real ones all start with a SYN and close", mid, n, unclosed)
				}
			}
		})
	}
}

// TestPublicPrior is the data holder's workflow with the default fields: a
// public run (here half of the sample's flows), then a DP run that names
// it and nothing else. The DP run takes the public run's fields and encoder
// states (the rank tables of the ports, the categorical tables, the
// bounds) instead of fitting any on the private records, so its ports
// decode into the public run's values; a field the prior does not cover is
// still refused when it would read the private data.
func TestPublicPrior(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two models")
	}
	ctx := context.Background()
	session := func(cfg *pipeline.Config) *Session {
		t.Helper()
		s, err := Open(ctx, cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ctx) })
		if err := s.r.trainAll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Finish(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	public := t.TempDir()
	pub := session(tinyConfig(t, public, "flows.max_flow_len=16", "input.holdout=0.5", "seed=11"))
	private := t.TempDir()
	priv := session(tinyConfig(t, private, "privacy.enabled=true", "privacy.epsilon=8.0", "privacy.pretrained="+public,
		`privacy.marginals=["srcport","dstport"]`))

	if priv.r.cfg.Flows.MaxFlowLen != 16 {
		t.Errorf("max_flow_len %d, want the public run's 16", priv.r.cfg.Flows.MaxFlowLen)
	}
	if pub.r.state.Fields[2].Encoder != "rank" {
		t.Fatalf("the public run's fields %+v: want the default rank ports", pub.r.state.Fields)
	}
	if len(priv.r.state.Fields) != len(pub.r.state.Fields) {
		t.Fatalf("the DP run models %d fields, the public run %d", len(priv.r.state.Fields), len(pub.r.state.Fields))
	}
	fromPrior := 0
	for i, f := range priv.r.state.Fields {
		p := pub.r.state.Fields[i]
		if f.Name != p.Name || f.Encoder != p.Encoder {
			t.Fatalf("field %d: the DP run models %q (%s), the public run %q (%s)", i, f.Name, f.Encoder, p.Name, p.Encoder)
		}
		switch {
		case f.Params["private"] == true:
			// The format's private default with the same encoder: fixed
			// bounds, fitted on nothing.
			if f.Encoder == "word2vec" || f.Encoder == "rank" {
				t.Errorf("field %q: %s fitted beside a prior", f.Name, f.Encoder)
			}
		case bytes.Equal(f.State, p.State):
			fromPrior++
		default:
			t.Errorf("field %q (%s): neither the public run's state nor a private fit", f.Name, f.Encoder)
		}
	}
	if fromPrior < 3 {
		t.Errorf("%d fields took the public run's state: want at least the ports and protocol", fromPrior)
	}
	var b budget
	if raw, err := os.ReadFile(filepath.Join(private, "privacy.json")); err != nil || json.Unmarshal(raw, &b) != nil {
		t.Fatalf("privacy.json: %v", err)
	}
	if len(b.Marginals) != 2 || b.MarginalNoise <= 0 || b.Epsilon > 8 {
		t.Errorf("privacy.json: histograms %+v with noise %g, ε = %g: want both ports' within ε = 8", b.Marginals, b.MarginalNoise, b.Epsilon)
	}
	// Each port decodes into values the public run held (either port: a
	// record generated in the reverse direction swaps them), or that a
	// released histogram kept: a bin no private record holds passes the
	// threshold with probability 1/(20·bins), so now and then one does
	// (the noise is not seeded).
	vocab := map[int64]bool{}
	for _, port := range []string{"srcport", "dstport"} {
		c := pub.r.records.Column(port)
		for i := 0; i < c.Len(); i++ {
			vocab[c.Int(i)] = true
		}
	}
	for _, m := range b.Marginals {
		for _, v := range m.Values {
			vocab[v] = true
		}
	}
	for _, port := range []string{"srcport", "dstport"} {
		s := priv.r.synthetic.Column(port)
		if s == nil || s.Len() == 0 {
			t.Fatalf("no synthetic %s", port)
		}
		for i := 0; i < s.Len(); i++ {
			if !vocab[s.Int(i)] {
				t.Fatalf("synthetic %s %d (row %d) is not in the public vocabulary", port, s.Int(i), i)
			}
		}
	}

	// A field outside the prior that would be fitted on the private
	// records is refused, by name.
	fields := `fields=[{name="ts",role="time",encoder="time",params={iat_max=1.0}},` +
		`{name="srcport",role="attribute",encoder="word2vec",params={vector_size=4}}]`
	_, err := Run(ctx, tinyConfig(t, t.TempDir(), fields, "privacy.enabled=true", "privacy.epsilon=8.0", "privacy.pretrained="+public), Options{})
	if err == nil || !strings.Contains(err.Error(), "srcport") || !strings.Contains(err.Error(), "pretrained") {
		t.Fatalf("a private word2vec fit beside a prior: %v", err)
	}
}

// TestGenerateChunkThenFinish generates each chunk in a session of its
// own, as workers do (the attributes in a session over the whole run,
// then each chunk in one opened with OpenGenerate, which reads only that
// chunk's files, except the first chunk in a whole-run session), then
// merges in another: the synthetic trace and the checkpoint choices are
// byte-identical to a run that generates everything in Finish, and Finish
// generated nothing itself.
func TestGenerateChunkThenFinish(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	one := t.TempDir()
	if _, err := Run(ctx, tinyConfig(t, one), Options{}); err != nil {
		t.Fatal(err)
	}
	split := t.TempDir()
	s, err := Open(ctx, tinyConfig(t, split), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.GenerateChunk(ctx, 0); err == nil {
		t.Fatal("generated a chunk before training")
	}
	if err := s.r.trainAll(ctx); err != nil {
		t.Fatal(err)
	}
	var chunks []int
	for k, set := range s.r.sets {
		if set != nil {
			chunks = append(chunks, k)
		}
	}
	if len(chunks) < 2 {
		t.Fatalf("the tiny pipeline has %d chunks with flows, want 2", len(chunks))
	}
	if _, err := s.SaveChunkPlan(); err != nil {
		t.Fatal(err)
	}
	if err := s.GenerateChunk(ctx, chunks[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.GenerateAttributes(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	for pos, k := range chunks[1:] {
		w, err := OpenGenerate(ctx, tinyConfig(t, split), Options{}, pos+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.GenerateChunk(ctx, k+1); err == nil {
			t.Errorf("a session of chunk %d generated chunk %d", k, k+1)
		}
		if err := w.GenerateChunk(ctx, k); err != nil {
			t.Fatal(err)
		}
		w.Close(ctx)
	}
	f, err := Open(ctx, tinyConfig(t, split), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	if _, err := f.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if f.r.generatedHere != 0 {
		t.Errorf("Finish generated %d chunks itself, want 0: the workers' parts were there", f.r.generatedHere)
	}
	for _, name := range []string{"records.bin", "choice.json"} {
		a, err := os.ReadFile(filepath.Join(one, "generated", name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(split, "generated", name))
		if err != nil {
			t.Fatal(err)
		}
		// choice.json names checkpoints by path, in each run's directory.
		b = bytes.ReplaceAll(b, []byte(split), []byte(one))
		if !bytes.Equal(a, b) {
			t.Errorf("generated/%s differs between one session and chunks generated apart", name)
		}
	}
}

// TestLengthWeightingRun: model.length_weighting trains a weighted model
// where it applies (one chunk, flows longer than sample_len), and the
// thinning leaves about as many records as the unweighted run generates
// (without it, the oversampled attributes would give several times as
// many); with more chunks the run turns it off.
func TestLengthWeightingRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	rows := map[string]float64{}
	for _, tc := range []struct {
		sets []string
		on   bool
	}{
		{[]string{"flows.chunks=1", "model.length_weighting=true"}, true},
		{[]string{"flows.chunks=1"}, false},
		{[]string{"flows.chunks=2", "model.length_weighting=true"}, false},
	} {
		name := strings.Join(tc.sets, ",")
		dir := t.TempDir()
		res, err := Run(context.Background(), tinyConfig(t, dir, tc.sets...), Options{})
		if err != nil {
			t.Fatal(err)
		}
		last, _, err := gan.LatestCheckpoint(filepath.Join(dir, "train", "chunk-0"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := gan.Load(last)
		if err != nil {
			t.Fatal(err)
		}
		if weighted := m.LengthWeighted(); weighted != tc.on {
			t.Fatalf("%s: weighted model %v, want %v", name, weighted, tc.on)
		}
		rows[name] = synRows(t, res.Metrics)
	}
	on, off := rows["flows.chunks=1,model.length_weighting=true"], rows["flows.chunks=1"]
	if on < off/2 || on > off*2 {
		t.Fatalf("%g synthetic records weighted, %g without", on, off)
	}
}

// TestLengthBinsRun: with model.length_bins the model generates length
// bins after the encoders' attributes, and a run with two chunks (flow
// tags, attributes copied between chunks) decodes its flows without them.
func TestLengthBinsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	res, err := Run(context.Background(), tinyConfig(t, dir, "flows.chunks=2", "model.length_bins=true"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"chunk-0", "chunk-1"} {
		last, _, err := gan.LatestCheckpoint(filepath.Join(dir, "train", c))
		if err != nil {
			t.Fatal(err)
		}
		m, err := gan.Load(last)
		if err != nil {
			t.Fatal(err)
		}
		if m.LengthBins() < 2 || m.MaxLen() < 2 {
			t.Fatalf("%s: %d length bins for flows of up to %d records", c, m.LengthBins(), m.MaxLen())
		}
	}
	if synRows(t, res.Metrics) == 0 {
		t.Fatal("no synthetic records")
	}
}

// synRows reads the synthetic record count from a run's metrics.json.
func synRows(t *testing.T, path string) float64 {
	t.Helper()
	var mf struct {
		Metrics map[string]float64 `json:"metrics"`
	}
	raw, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(raw, &mf)
	}
	if err != nil {
		t.Fatal(err)
	}
	return mf.Metrics["audit.syn_rows"]
}

// TestCalibrateRun: model.calibrate regenerates without retraining, and
// the chosen candidate's discrete outputs, attributes and features both,
// end no further from the training data's shares than generated.
func TestCalibrateRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	dir := t.TempDir()
	read := func() []chunkChoice {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(dir, "generated", "choice.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cs []chunkChoice
		if err := json.Unmarshal(raw, &cs); err != nil {
			t.Fatal(err)
		}
		return cs
	}
	if _, err := Run(ctx, tinyConfig(t, dir, "model.calibrate=off"), Options{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range read() {
		if len(c.Calibration) != 0 {
			t.Fatalf("chunk %d calibrated with model.calibrate off: %v", c.Chunk, c.Calibration)
		}
	}
	var log bytes.Buffer
	res, err := Run(ctx, tinyConfig(t, dir), Options{Out: &log})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range res.Timings {
		if tm.Stage == "train" && !tm.Reused {
			t.Error("calibration retrained the model")
		}
	}
	if !strings.Contains(log.String(), "generate calibrated ") {
		t.Errorf("the console does not say what calibration did:\n%s", log.String())
	}
	for _, c := range read() {
		names := map[string]bool{}
		moved := false
		for _, o := range c.Calibration {
			names[o.Output] = true
			if o.After > o.Before+1e-12 {
				t.Errorf("chunk %d: %s ended further from its shares: %g → %g", c.Chunk, o.Output, o.Before, o.After)
			}
			moved = moved || o.After < o.Before
			// of the flow tags, only copies into later chunks are capped (capCopies)
			if tag, ok := strings.CutPrefix(o.Output, "flow."); ok {
				j, isChunk := strings.CutPrefix(tag, "chunk")
				if k, err := strconv.Atoi(j); !isChunk || err != nil || k <= c.Chunk {
					t.Errorf("chunk %d: flow tag %s calibrated", c.Chunk, o.Output)
				}
			}
		}
		// an attribute and a feature of the default pcap pipeline
		if !names["proto"] || !names["pkt_len.mode"] || !moved {
			t.Errorf("chunk %d: calibrated %v, want proto and pkt_len.mode among them, some moved", c.Chunk, c.Calibration)
		}
	}
}
