// Command fidelitybench trains netshare on real traces with a stated budget
// and prints every fidelity metric next to two references measured in the
// same run: a naive generator that samples each field independently from
// the real marginals (a useful generator must beat it on joint structure),
// and the real trace's second half scored against its first half (the
// noise floor: as close as two samples of the same traffic get).
//
//	go run ./host/cmd/fidelitybench [-steps 400] [-data ../shared/data] [-out table.md]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/netshare/netshare/host/internal/baseline"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/run"
	"github.com/netshare/netshare/host/internal/score"
	"github.com/netshare/netshare/host/internal/trace"
)

var traces = []string{
	"flows/ugr16_netshare-small_1k.csv",
	"pcap/caida_equinix-nyc_2018-03-15_10kpkts.pcapng",
	"flows/ctu50_CTU-Normal-40_day1_zeek-conn.log.labeled",
}

func main() {
	data := flag.String("data", "../shared/data", "directory of the real traces")
	steps := flag.Int("steps", 400, "training steps for chunk 0 (later chunks train a quarter)")
	chunks := flag.Int("chunks", 2, "time chunks")
	units := flag.Int("units", 128, "units per MLP layer (generator and critics)")
	lr := flag.Float64("lr", 1e-3, "learning rate (NetShare: 1e-4 over 80k+ steps; DoppelGANger's 1e-3 learns faster on small budgets)")
	out := flag.String("out", "", "also write the table (Markdown) here")
	runs := flag.String("runs", "runs/fidelity", "run directories go under here")
	only := flag.String("only", "", "comma-separated substrings: run only matching traces")
	flag.Parse()
	var w io.Writer = os.Stdout
	var md strings.Builder
	if *out != "" {
		w = io.MultiWriter(os.Stdout, &md)
	}
	fmt.Fprintf(w, "Budget: %d steps for chunk 0, %d chunks, %d units per layer, learning rate %g, seed 1.\n\n", *steps, *chunks, *units, *lr)
	for _, t := range traces {
		if *only != "" && !matchesAny(t, *only) {
			continue
		}
		if err := bench(w, filepath.Join(*data, t), *runs, *steps, *chunks, *units, *lr); err != nil {
			fmt.Fprintf(os.Stderr, "fidelitybench: %s: %v\n", t, err)
			os.Exit(1)
		}
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func matchesAny(s, subs string) bool {
	for _, p := range strings.Split(subs, ",") {
		if p != "" && strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func bench(w io.Writer, path, runs string, steps, chunks, units int, lr float64) error {
	name := strings.SplitN(filepath.Base(path), ".", 2)[0]
	text := fmt.Sprintf("[input]\npaths = [%q]\n", path)
	cfg, err := pipeline.Parse(name, ".", []byte(text), []string{
		"run_dir=" + filepath.Join(runs, name),
		fmt.Sprintf("model.steps=%d", steps),
		fmt.Sprintf("model.checkpoint_every=%d", max(steps/4, 1)),
		fmt.Sprintf("flows.chunks=%d", chunks),
		fmt.Sprintf("model.attr_gen_units=%d", units),
		fmt.Sprintf("model.critic_units=%d", units),
		fmt.Sprintf("model.attr_critic_units=%d", units),
		"model.attr_gen_layers=3", "model.critic_layers=3", "model.attr_critic_layers=3",
		"model.sample_len=5",
		fmt.Sprintf("model.learning_rate=%g", lr),
	})
	if err != nil {
		return err
	}
	ctx := context.Background()
	h, err := plugin.NewHost(ctx, run.PluginOptions(cfg))
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	start := time.Now()
	res, err := run.Run(ctx, cfg, run.Options{Out: os.Stderr, Host: h})
	if err != nil {
		return err
	}
	took := time.Since(start)
	real, err := trace.Read(ctx, h, []string{path}, trace.Options{})
	if err != nil {
		return err
	}
	syn, err := trace.Read(ctx, h, []string{res.Output}, trace.Options{})
	if err != nil {
		return err
	}
	metrics, err := score.DefaultMetrics(real.Records)
	if err != nil {
		return err
	}
	opts := score.Options{Seed: 1}
	ours, err := score.Run(ctx, h, real.Records, syn.Records, metrics, opts)
	if err != nil {
		return err
	}
	naive, err := score.Run(ctx, h, real.Records, baseline.Marginals(real.Records, syn.Records.Len(), 1), metrics, opts)
	if err != nil {
		return err
	}
	n := real.Records.Len()
	halves, err := score.Run(ctx, h, real.Records.Slice(0, n/2), real.Records.Slice(n/2, n), metrics, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "### %s\n\n%d real records, %d synthetic; pipeline took %s (%s).\n\n", filepath.Base(path), n, syn.Records.Len(), took.Round(time.Second), strings.Join(timings(res), ", "))
	fmt.Fprintln(w, "| metric | netshare | naive marginals | real 2nd half vs 1st | netshare beats naive |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	o, b, f := ours.Values(), naive.Values(), halves.Values()
	names := make([]string, 0, len(o))
	for k := range o {
		names = append(names, k)
	}
	sort.Strings(names)
	wins := 0
	for _, k := range names {
		beat := "no"
		if o[k] < b[k] {
			beat, wins = "yes", wins+1
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", k, num(o[k]), num(b[k]), num(f[k]), beat)
	}
	fmt.Fprintf(w, "\nnetshare beats the naive baseline on %d of %d metrics.\n\n", wins, len(names))
	return nil
}

func timings(res *run.Result) []string {
	var out []string
	for _, t := range res.Timings {
		out = append(out, fmt.Sprintf("%s %s", t.Stage, t.Elapsed.Round(100*time.Millisecond)))
	}
	return out
}

func num(v float64) string {
	if math.Abs(v) >= 1000 || (v != 0 && math.Abs(v) < 0.001) {
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.4f", v)
}
