package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/netshare/netshare/host/internal/privacy"
)

func init() {
	register(command{
		name:    "privacy",
		summary: "compute the (ε, δ) a DP training plan spends, or the noise a target ε needs",
		run:     runPrivacy,
	})
}

// privacyJSON is the --json output. Noise is present only when solving for it.
type privacyJSON struct {
	Epsilon float64  `json:"epsilon"`
	Order   float64  `json:"order"`
	Delta   float64  `json:"delta"`
	Noise   *float64 `json:"noise,omitempty"`
}

func runPrivacy(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("privacy", stderr)
	var p privacy.Plan
	fs.IntVar(&p.Records, "records", 0, "training examples (flows) per chunk")
	fs.IntVar(&p.Batch, "batch", 0, "expected batch size (Poisson sampling rate = batch/records)")
	fs.Float64Var(&p.Noise, "noise", 0, "noise multiplier σ (noise std = σ × clip norm)")
	fs.IntVar(&p.Steps, "steps", 0, "DP-SGD critic updates per chunk")
	fs.Float64Var(&p.Epochs, "epochs", 0, "epochs per chunk (steps = ⌈epochs × records / batch⌉)")
	fs.Float64Var(&p.Delta, "delta", 1e-5, "δ of the (ε, δ) guarantee")
	fs.IntVar(&p.Chunks, "chunks", 1, "chunks, each trained with DP-SGD and releasing a noisy flow count")
	fs.IntVar(&p.Critics, "critics", 1, "critics trained with DP-SGD per step: 1, or 2 with the attribute critic")
	sharing := fs.String("sharing", "shared", "how critics draw batches: shared, separate, or netshare (NetShare's σ/2 rule)")
	fs.Float64Var(&p.CountNoise, "count-noise", 1, "noise multiplier of each chunk's noisy flow count")
	fs.BoolVar(&p.PublicCounts, "public-counts", false, "flow counts are public: do not account for releasing them")
	fs.BoolVar(&p.LengthHistogram, "length-histogram", false, "each chunk also releases its flows per length bin (model.length_bins) at the counts' noise")
	conversion := fs.String("conversion", "tight", "RDP to (ε, δ) conversion: tight or classic")
	target := fs.Float64("target-epsilon", 0, "solve for the smallest noise multiplier that keeps ε within this")
	asJSON := fs.Bool("json", false, `print {"epsilon":…,"order":…,"delta":…} (plus "noise" with --target-epsilon)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "netshare privacy: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var missing []string
	for _, name := range []string{"records", "batch"} {
		if !set[name] {
			missing = append(missing, "--"+name)
		}
	}
	if !set["noise"] && !set["target-epsilon"] {
		missing = append(missing, "--noise (or --target-epsilon)")
	}
	if set["steps"] == set["epochs"] {
		missing = append(missing, "exactly one of --steps and --epochs")
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "netshare privacy: need %s\n", strings.Join(missing, ", "))
		fs.Usage()
		return errUsage
	}
	if p.Critics != 1 && p.Critics != 2 {
		return fmt.Errorf("--critics %d: must be 1 or 2", p.Critics)
	}
	if p.Chunks < 1 {
		return fmt.Errorf("--chunks %d: must be at least 1", p.Chunks)
	}
	if (!p.PublicCounts || p.LengthHistogram) && !(p.CountNoise > 0) {
		return fmt.Errorf("--count-noise %v: must be positive (use --public-counts to leave counts out)", p.CountNoise)
	}
	var err error
	if p.Sharing, err = privacy.ParseBatchSharing(*sharing); err != nil {
		return fmt.Errorf("--sharing: %w", err)
	}
	if p.Conversion, err = privacy.ParseConversion(*conversion); err != nil {
		return fmt.Errorf("--conversion: %w", err)
	}

	solving := set["target-epsilon"]
	var res privacy.Result
	if solving {
		res, err = p.SolveNoise(*target)
	} else {
		res, err = p.Epsilon()
	}
	if err != nil {
		return err
	}
	if *asJSON {
		out := privacyJSON{Epsilon: res.Epsilon, Order: res.Order, Delta: res.Delta}
		if solving {
			out.Noise = &res.Noise
		}
		enc := json.NewEncoder(stdout)
		return enc.Encode(out)
	}
	counts := fmt.Sprintf("a noisy flow count per chunk (σ = %g)", p.CountNoise)
	switch {
	case p.PublicCounts && p.LengthHistogram:
		counts = fmt.Sprintf("public flow counts, a noisy length histogram per chunk (σ = %g)", p.CountNoise)
	case p.PublicCounts:
		counts = "public flow counts"
	case p.LengthHistogram:
		counts = fmt.Sprintf("a noisy flow count and length histogram per chunk (σ = %g each)", p.CountNoise)
	}
	fmt.Fprintf(stdout, "plan: %d chunk(s) × %d steps, sample rate q = %.6g, %d critic(s) (%s batches), %s\n",
		p.Chunks, res.Steps, res.SampleRate, p.Critics, p.Sharing, counts)
	if solving {
		fmt.Fprintf(stdout, "noise multiplier σ = %.6g meets target ε = %g\n", res.Noise, *target)
	}
	fmt.Fprintf(stdout, "ε = %.6g at δ = %g (RDP order %g, %s conversion)\n", res.Epsilon, res.Delta, res.Order, p.Conversion)
	return nil
}
