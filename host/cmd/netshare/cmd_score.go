package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/report"
	"github.com/netshare/netshare/host/internal/score"
	"github.com/netshare/netshare/host/internal/trace"
)

func init() {
	register(command{
		name:    "score",
		summary: "score a synthetic trace against a real one (fidelity metrics, report)",
		run:     runScore,
	})
}

const scoreUsage = `usage: netshare score REAL SYNTHETIC [flags]

Scores SYNTHETIC against REAL with the fidelity metrics (docs/metrics.md):
the pipeline's [[metrics]] with -c, else the default set for the kind of
records (packets or flows), single fields and how fields go together
(docs/fidelity.md). Both traces are read through the format plugins; the
format is detected unless --format names it. Lower scores are better.
Beside each score: the naive sampler's (every column drawn independently
from REAL: the line to beat) and the noise floor (REAL's halves against
each other: the best to hope for).

flags:
`

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, as `netshare score REAL SYN --json` is written.
func parseInterleaved(fs interface {
	Parse([]string) error
	Args() []string
}, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runScore(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("score", stderr)
	cfgPath := fs.String("c", "", "pipeline TOML `file`: its [[metrics]], seed, plugins and input format")
	format := fs.String("format", "", "format component of both traces (default: detect each)")
	asJSON := fs.Bool("json", false, `print {"metrics": {name: score}} as JSON`)
	htmlOut := fs.String("report", "", "write the HTML report to this `file`")
	metricsOut := fs.String("metrics", "", "write metrics.json, which netshare report reads, to this `file`")
	floor := fs.Bool("noise-floor", true, "also score one half of REAL against the other, for verdicts")
	naiveDraws := fs.Int("naive-draws", score.NaiveDraws, "also score this many samples of a generator drawing each column independently from REAL's marginals, the line to beat (0: none; joint metrics always give theirs)")
	seed := fs.Int64("seed", 1, "seed for the metric plugins and the noise-floor split (with -c: the pipeline's seed)")
	fs.Usage = func() {
		fmt.Fprint(stderr, scoreUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return errUsage
	}
	seedSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			seedSet = true
		}
	})
	realPath, synPath := pos[0], pos[1]

	var cfg *pipeline.Config
	opts := plugin.Options{}
	readOpt := trace.Options{Format: *format}
	var metrics []score.Metric
	if *cfgPath != "" {
		if cfg, err = pipeline.LoadFile(*cfgPath, nil); err != nil {
			return err
		}
		opts = pluginOptions(cfg)
		for _, m := range cfg.Metrics {
			metrics = append(metrics, score.Metric(m))
		}
		if !seedSet {
			*seed = cfg.Seed
		}
		if *format == "" && cfg.Input.Format != "" {
			readOpt.Format, readOpt.Params = cfg.Input.Format, cfg.Input.Params
		}
	}
	readOpt.Seed = *seed
	synOpt := readOpt
	if cfg != nil && *format == "" {
		synOpt = outputReadOptions(cfg, *seed)
	}

	ctx := context.Background()
	h, err := plugin.NewHost(ctx, opts)
	if err != nil {
		return err
	}
	defer h.Close(ctx)

	var timings []report.Stage
	stage := func(name string, start time.Time) {
		timings = append(timings, report.Stage{Stage: name, Seconds: time.Since(start).Seconds()})
	}
	start := time.Now()
	real, err := readTrace(ctx, h, realPath, readOpt, stderr)
	if err != nil {
		return err
	}
	syn, err := readTrace(ctx, h, synPath, synOpt, stderr)
	if err != nil {
		return err
	}
	stage("read traces", start)
	if metrics == nil {
		metrics = []score.Metric{{Name: pipeline.DefaultMetrics}}
	}
	// An entry named "defaults" stands for the default set, as in a run.
	var expanded []score.Metric
	for _, m := range metrics {
		if m.Name != pipeline.DefaultMetrics {
			expanded = append(expanded, m)
			continue
		}
		def, err := score.DefaultMetrics(real)
		if err != nil {
			return fmt.Errorf("%s: %w", realPath, err)
		}
		expanded = append(expanded, def...)
	}
	metrics = expanded

	start = time.Now()
	sopt := score.Options{Seed: *seed}
	res, err := score.Run(ctx, h, real, syn, metrics, sopt)
	if err != nil {
		return fmt.Errorf("scoring %s against %s: %w", synPath, realPath, err)
	}
	stage("score", start)
	if *naiveDraws > 0 {
		start = time.Now()
		if err := score.SampleNaive(ctx, h, real, syn.Len(), res, *naiveDraws, sopt); err != nil {
			fmt.Fprintf(stderr, "netshare score: no naive sampler scores: %v\n", err)
		}
		stage("naive sampler", start)
	}
	var halves score.Halves
	if *floor {
		start = time.Now()
		if halves, err = score.HalvesFloor(ctx, h, real, metrics, sopt); err != nil {
			// A trace too small to halve still has scores worth showing.
			fmt.Fprintf(stderr, "netshare score: no noise floor: %v\n", err)
		}
		stage("noise floor", start)
	}

	d := report.Data{
		Title:     "Fidelity of " + filepath.Base(synPath),
		Created:   time.Now(),
		Real:      realPath,
		Synthetic: synPath,
		Kind:      score.KindOf(real),
		Scores:    res.Report(halves.Floor, &halves),
		Seed:      seed,
		Timings:   timings,
	}
	if cfg != nil {
		d.Config = cfg.Text
	}
	if *metricsOut != "" {
		if err := report.WriteMetricsFile(*metricsOut, report.NewMetricsFile(d)); err != nil {
			return err
		}
	}
	if *htmlOut != "" {
		if err := atomicfile.Write(*htmlOut, func(w io.Writer) error { return report.Write(w, d) }); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Metrics    map[string]float64 `json:"metrics"`
			Naive      map[string]float64 `json:"naive,omitempty"`
			NoiseFloor map[string]float64 `json:"noise_floor,omitempty"`
			// The naive sampler against the same half the noise floor's
			// held-out half is scored against (score.Halves).
			HeldOutNaive map[string]float64 `json:"held_out_naive,omitempty"`
		}{res.Values(), res.Naive(), halves.Floor, halves.Naive})
	}
	if err := printScoreTable(stdout, d.Scores); err != nil {
		return err
	}
	if *htmlOut != "" {
		fmt.Fprintf(stdout, "\nreport: %s\n", *htmlOut)
	}
	return nil
}

// printScoreTable prints one line per score: its value, the naive sampler's
// and the noise floor where known, and the verdicts (against the noise
// floor; for joint metrics, against the naive sampler).
func printScoreTable(w io.Writer, scores []report.NamedScore) error {
	opt := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.6g", *v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tSCORE\tNAIVE\tNOISE FLOOR\t")
	for _, s := range scores {
		fmt.Fprintf(tw, "%s\t%.6g\t%s\t%s\t", s.Name, s.Value, opt(s.Naive), opt(s.NoiseFloor))
		verdict, _ := report.Verdict(s.Value, s.NoiseFloor)
		if s.Component == report.JointComponent && s.Naive != nil {
			verdict, _ = report.VersusNaive(s)
		}
		if verdict != "" {
			fmt.Fprintf(tw, "  %s", verdict)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// readTrace reads one trace file into a batch, reporting skipped records
// on the way.
func readTrace(ctx context.Context, h *plugin.Host, path string, opt trace.Options, stderr io.Writer) (*abi.Batch, error) {
	t, err := trace.Read(ctx, h, []string{path}, opt)
	if err != nil {
		return nil, err
	}
	for _, f := range t.Files {
		for _, reason := range slices.Sorted(maps.Keys(f.Skipped)) {
			fmt.Fprintf(stderr, "netshare score: %s: skipped %d records: %s\n", f.Path, f.Skipped[reason], reason)
		}
	}
	if t.Records == nil || t.Records.Len() == 0 {
		return nil, fmt.Errorf("%s: no records", path)
	}
	return t.Records, nil
}

// outputReadOptions reads a synthetic trace the pipeline cfg wrote: in the
// output's format and layout, which the input's parameters (a headerless
// CSV's column mapping) do not read.
func outputReadOptions(cfg *pipeline.Config, seed int64) trace.Options {
	o := trace.Options{Seed: seed, Format: cfg.Output.Format, Params: cfg.Output.Params}
	if o.Format == "" {
		o.Format = cfg.Input.Format
	}
	return o
}
