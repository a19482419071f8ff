package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/report"
	pipelinerun "github.com/netshare/netshare/host/internal/run"
	"github.com/netshare/netshare/host/internal/score"
	"github.com/netshare/netshare/host/internal/trace"
)

const benchFidelityUsage = `usage: netshare bench fidelity [flags] TRACE...

Trains netshare on each TRACE for the same time budget (docs/fidelity.md),
then prints every fidelity metric, single fields and how fields go
together, beside three lines measured in the same run:
  naive      a generator drawing each column independently from the real
             marginals (the line to beat on joint structure);
  floor      the real trace against bootstrap resamples of itself (the best
             to hope for; --floor halves: one half against the other, as
             netshare score and the report do);
  reference  figures from --reference (NetShare's, for the traces it names),
             and the target floor + ½(reference − floor).
The budget is training time: it becomes the pipeline's model.time_budget
(the run times the model on the trace and trains that long). --steps
trains an exact number of steps instead. Run directories go under --runs and are
replaced.

flags:
`

func runBenchFidelity(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench fidelity", stderr)
	budget := fs.Duration("budget", 2*time.Minute, "training time per trace")
	steps := fs.Int("steps", 0, "train exactly this many steps (chunk 0) instead of --budget")
	refPath := fs.String("reference", "docs/fidelity-reference.toml", "TOML file of reference figures per trace (empty: none)")
	runs := fs.String("runs", filepath.Join("runs", "fidelity"), "run directories go under here")
	out := fs.String("out", "", "also write the tables (Markdown) to this `file`")
	chunks := fs.Int("chunks", 1, "flows.chunks")
	seed := fs.Int64("seed", 1, "pipeline and metric seed")
	draws := fs.Int("draws", score.NaiveDraws, "naive samples and bootstrap resamples averaged")
	floorKind := fs.String("floor", "bootstrap", "noise floor: bootstrap (real against resamples of itself, full size) or halves (one half against the other, as the report)")
	var sets multiFlag
	fs.Var(&sets, "set", "override a pipeline key for every trace: key=value (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(stderr, benchFidelityUsage)
		fs.PrintDefaults()
	}
	traces, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(traces) == 0 {
		fs.Usage()
		return errUsage
	}
	if *steps < 0 || (*steps == 0 && *budget <= 0) || *chunks < 1 || *draws < 1 {
		return fmt.Errorf("bench fidelity: --steps %d, --budget %s, --chunks %d, --draws %d: want a positive budget or steps, chunks and draws ≥ 1", *steps, *budget, *chunks, *draws)
	}
	if *floorKind != "bootstrap" && *floorKind != "halves" {
		return fmt.Errorf("bench fidelity: --floor %q: want bootstrap or halves", *floorKind)
	}
	refs, err := loadReferences(*refPath, fs)
	if err != nil {
		return err
	}
	var md strings.Builder
	w := io.MultiWriter(stdout, &md)
	b := fidelityBench{budget: *budget, steps: *steps, runs: *runs, chunks: *chunks, seed: *seed, draws: *draws, floor: *floorKind, sets: sets, stderr: stderr}
	for _, t := range traces {
		if err := b.trace(w, t, refs.find(t)); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	if *out != "" {
		return atomicfile.WriteBytes(*out, []byte(md.String()))
	}
	return nil
}

// references is a --reference file: figures to print beside ours, per
// trace.
type references struct {
	Trace []reference `toml:"trace"`
}

type reference struct {
	// Match is a substring of the trace's file name.
	Match string `toml:"match"`
	// Label heads the column ("NetShare").
	Label string `toml:"label"`
	// About says where the figures come from.
	About  string             `toml:"about"`
	Scores map[string]float64 `toml:"scores"`
}

// loadReferences reads path; a missing default file means no references.
func loadReferences(path string, fs *flag.FlagSet) (references, error) {
	var r references
	if path == "" {
		return r, nil
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "reference" })
	md, err := toml.DecodeFile(path, &r)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("reference file: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return r, fmt.Errorf("reference file %s: unknown key %q", path, und[0].String())
	}
	for i, t := range r.Trace {
		if t.Match == "" || len(t.Scores) == 0 {
			return r, fmt.Errorf("reference file %s: trace %d needs match and scores", path, i+1)
		}
	}
	return r, nil
}

func (r references) find(path string) *reference {
	base := filepath.Base(path)
	for i := range r.Trace {
		if strings.Contains(base, r.Trace[i].Match) {
			return &r.Trace[i]
		}
	}
	return nil
}

type fidelityBench struct {
	budget               time.Duration
	steps, chunks, draws int
	seed                 int64
	runs, floor          string
	sets                 []string
	stderr               io.Writer
}

// config is the pipeline for one trace: its path, the run directory and
// the bench's overrides over the pipeline defaults.
func (b *fidelityBench) config(path, dir string, extra ...string) (*pipeline.Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("seed = %d\n[input]\npaths = [%q]\n", b.seed, abs)
	over := append([]string{"run_dir=" + dir, fmt.Sprintf("flows.chunks=%d", b.chunks)}, b.sets...)
	return pipeline.Parse(filepath.Base(path), ".", []byte(text), append(over, extra...))
}

// trainingConfig gives the pipeline the budget as its own
// model.time_budget (the run times the model and trains that long), or
// --steps exactly; it says which.
func (b *fidelityBench) trainingConfig(path, dir string) (*pipeline.Config, string, error) {
	if b.steps > 0 {
		cfg, err := b.config(path, dir, fmt.Sprintf("model.steps=%d", b.steps))
		return cfg, fmt.Sprintf("%d steps (--steps)", b.steps), err
	}
	cfg, err := b.config(path, dir, "model.steps=0", fmt.Sprintf("model.time_budget=%q", b.budget.String()))
	return cfg, fmt.Sprintf("model.time_budget = %s", b.budget), err
}

// trace trains on one trace and prints its table.
func (b *fidelityBench) trace(w io.Writer, path string, ref *reference) error {
	ctx := context.Background()
	name := strings.SplitN(filepath.Base(path), ".", 2)[0]
	dir := filepath.Join(b.runs, name)
	probe, err := b.config(path, dir)
	if err != nil {
		return err
	}
	h, err := plugin.NewHost(ctx, pipelinerun.PluginOptions(probe))
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	cfg, how, err := b.trainingConfig(path, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.stderr, "bench fidelity: %s: training %s\n", path, how)
	start := time.Now()
	res, err := pipelinerun.Run(ctx, cfg, pipelinerun.Options{Out: b.stderr, Host: h})
	if err != nil {
		return err
	}
	took := time.Since(start)
	ropt := trace.Options{Seed: b.seed}
	if cfg.Input.Format != "" {
		ropt.Format, ropt.Params = cfg.Input.Format, cfg.Input.Params
	}
	real, err := readTrace(ctx, h, path, ropt, b.stderr)
	if err != nil {
		return err
	}
	syn, err := readTrace(ctx, h, res.Output, outputReadOptions(cfg, b.seed), b.stderr)
	if err != nil {
		return err
	}
	metrics, err := score.DefaultMetrics(real)
	if err != nil {
		return err
	}
	opts := score.Options{Seed: b.seed}
	ours, err := score.Run(ctx, h, real, syn, metrics, opts)
	if err != nil {
		return err
	}
	if err := score.SampleNaive(ctx, h, real, syn.Len(), ours, b.draws, opts); err != nil {
		fmt.Fprintf(b.stderr, "bench fidelity: %s: naive sampler: %v\n", path, err)
	}
	// The halves give, beside the floor, which joint pairs held-out real
	// traffic beats the naive sampler on (score.Halves); with the bootstrap
	// floor they are run for the joint metrics only.
	var floor map[string]float64
	var halves score.Halves
	if b.floor == "halves" {
		halves, err = score.HalvesFloor(ctx, h, real, metrics, opts)
		floor = halves.Floor
	} else {
		floor, err = score.BootstrapFloor(ctx, h, real, metrics, b.draws, opts)
		var joint []score.Metric
		for _, m := range metrics {
			if m.Name == report.JointComponent {
				joint = append(joint, m)
			}
		}
		if err == nil && len(joint) > 0 {
			halves, err = score.HalvesFloor(ctx, h, real, joint, opts)
		}
	}
	if err != nil {
		fmt.Fprintf(b.stderr, "bench fidelity: %s: noise floor: %v\n", path, err)
	}
	var train time.Duration
	for _, t := range res.Timings {
		if t.Stage == "train" {
			train = t.Elapsed
		}
	}
	achieved := ""
	if steps := trainedSteps(res.RunDir); train > 0 && steps > 0 {
		achieved = fmt.Sprintf(", %d steps for chunk 0 (%.1f steps/s over all chunks' training)", steps, float64(steps)/train.Seconds())
	}
	fmt.Fprintf(w, "### %s\n\n%d real records, %d synthetic. Training: %s; it took %s%s (whole pipeline %s). Floor: %s.\n", filepath.Base(path), real.Len(), syn.Len(), how, train.Round(time.Second), achieved, took.Round(time.Second), b.floor)
	if ref != nil && ref.About != "" {
		fmt.Fprintf(w, "Reference: %s.\n", ref.About)
	}
	fmt.Fprintln(w)
	writeFidelityTable(w, ours.Report(floor, &halves), ref)
	return nil
}

// writeFidelityTable prints one Markdown row per score and a tally: which
// scores beat the naive sampler, on which joint metrics held-out real
// traffic beats it too (the pairs where beating it is a fair ask:
// score.Halves) and, with a reference, which meet the target
// floor + ½(reference − floor).
func writeFidelityTable(w io.Writer, scores []report.NamedScore, ref *reference) {
	label := "reference"
	if ref != nil && ref.Label != "" {
		label = ref.Label
	}
	fmt.Fprintf(w, "| metric | ours | naive | floor | %s | target | beats naive | held-out real vs naive | meets target |\n|---|---|---|---|---|---|---|---|---|\n", label)
	var beat, joint, jointBeat, met, targets, heldKnown, winnable, winnableBeat int
	for _, s := range scores {
		naive, floor, refv, target := "-", "-", "-", "-"
		beats, meets, held := "-", "-", "-"
		if s.HeldOut != nil && s.HeldOutNaive != nil {
			held = fmt.Sprintf("%s vs %s", benchNum(*s.HeldOut), benchNum(*s.HeldOutNaive))
			heldKnown++
			if *s.HeldOut < *s.HeldOutNaive {
				held = "beats: " + held
				winnable++
				if s.Naive != nil && s.Value < *s.Naive {
					winnableBeat++
				}
			} else {
				held = "loses: " + held
			}
		}
		if s.Naive != nil {
			naive = benchNum(*s.Naive)
			beats = "no"
			if s.Value < *s.Naive {
				beats = "yes"
				beat++
			}
		}
		if s.Component == report.JointComponent {
			joint++
			if beats == "yes" {
				jointBeat++
			}
		}
		if s.NoiseFloor != nil {
			floor = benchNum(*s.NoiseFloor)
		}
		if ref != nil {
			if r, ok := ref.Scores[s.Name]; ok {
				refv = benchNum(r)
				if s.NoiseFloor != nil {
					t := *s.NoiseFloor + (r-*s.NoiseFloor)/2
					target, meets = benchNum(t), "no"
					targets++
					if s.Value <= t {
						meets = "yes"
						met++
					}
				}
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Name, benchNum(s.Value), naive, floor, refv, target, beats, held, meets)
	}
	fmt.Fprintf(w, "\nOurs beats the naive sampler on %d of %d joint metrics (%d of %d metrics in all)", jointBeat, joint, beat, len(scores))
	if heldKnown > 0 {
		fmt.Fprintf(w, "; held-out real traffic beats it on %d of %d, and ours on %d of those %d", winnable, heldKnown, winnableBeat, winnable)
	}
	if targets > 0 {
		fmt.Fprintf(w, "; meets the target on %d of %d metrics with a %s figure", met, targets, label)
	}
	fmt.Fprint(w, ".\n\n")
}

func benchNum(v float64) string {
	if a := math.Abs(v); a >= 1000 || (v != 0 && a < 0.001) {
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// trainedSteps is how many steps chunk 0 of the run in dir trained: its
// newest checkpoint's step.
func trainedSteps(dir string) int {
	_, step, err := gan.LatestCheckpoint(filepath.Join(dir, "train", "chunk-0"))
	if err != nil {
		return 0
	}
	return step
}
