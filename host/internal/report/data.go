// Package report writes the fidelity report: one self-contained HTML file
// (inline CSS and SVG drawn here, no scripts, nothing fetched) that shows a
// run's scores with plain-words verdicts, real-vs-synthetic plots per
// field, the configuration, seed, stage timings and privacy budget. It also
// defines metrics.json, the run-directory file a report is rebuilt from
// (schema in docs/metrics.md).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
)

// Data is everything a report shows. Only Scores is required.
type Data struct {
	Title string `json:"title,omitempty"`
	// Created is when the scores were computed; zero omits it.
	Created time.Time `json:"created,omitzero"`
	// Real and Synthetic say what was compared (file names).
	Real      string `json:"real,omitempty"`
	Synthetic string `json:"synthetic,omitempty"`
	// Kind is "packets" or "flows".
	Kind   string       `json:"kind,omitempty"`
	Scores []NamedScore `json:"scores"`
	// Config is the pipeline's TOML text, shown verbatim.
	Config string `json:"config,omitempty"`
	// Seed is the run's seed; nil hides it.
	Seed    *int64   `json:"seed,omitempty"`
	Timings []Stage  `json:"timings,omitempty"`
	Privacy *Budget  `json:"privacy,omitempty"`
	Choices []Choice `json:"choices,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// NamedScore is one score with what it means and its curves.
type NamedScore struct {
	Name        string         `json:"name"`
	Value       float64        `json:"value"`
	Description string         `json:"description,omitempty"`
	Component   string         `json:"component,omitempty"`
	Params      map[string]any `json:"params,omitempty"`
	// NoiseFloor is the score of real data against an independent sample
	// of itself; the verdict compares Value with it. nil: no verdict.
	NoiseFloor *float64 `json:"noise_floor,omitempty"`
	// Naive is the score of a generator that draws each column
	// independently from the real marginals: the line a model must beat
	// on joint structure. nil: not measured.
	Naive *float64 `json:"naive,omitempty"`
	// HeldOut and HeldOutNaive (joint metrics): a held-out half of the
	// real conversations scored against the other half, and the naive
	// sampler at that half's size against the same half. Where HeldOut is
	// not below HeldOutNaive, real traffic itself does not beat
	// independent sampling on this score, so losing to the sampler says
	// nothing against a model (docs/fidelity.md). nil: not measured.
	HeldOut      *float64     `json:"held_out,omitempty"`
	HeldOutNaive *float64     `json:"held_out_naive,omitempty"`
	Series       []abi.Series `json:"series,omitempty"`
	// XLabel names the x axis of CDF plots ("pkt_len", "rank"); default "value".
	XLabel string `json:"x_label,omitempty"`
	// XLog forces a logarithmic x axis on CDF plots (popularity ranks);
	// otherwise heavy-tailed data get one automatically.
	XLog bool `json:"x_log,omitempty"`
}

// Stage is one timed step of a run.
type Stage struct {
	Stage   string  `json:"stage"`
	Seconds float64 `json:"seconds"`
}

// Budget is the differential-privacy guarantee of a DP run.
type Budget struct {
	Epsilon         float64 `json:"epsilon"`
	Delta           float64 `json:"delta"`
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty"`
	ClipNorm        float64 `json:"clip_norm,omitempty"`
	Note            string  `json:"note,omitempty"`
	// NotPrivate, when set, says why the guarantee does not hold; the
	// report then shows it in red instead of the guarantee.
	NotPrivate string `json:"not_private,omitempty"`
}

// Choice records one selection among synthetic candidates (a chunk's
// checkpoints × sample lengths): by Criterion when it is set (mean log
// score plus copy penalty, score.ChooseByScores), else by rank sum.
type Choice struct {
	Chunk       int       `json:"chunk"`
	Candidates  []string  `json:"candidates"`
	RankSums    []float64 `json:"rank_sums"`
	Criterion   []float64 `json:"criterion,omitempty"`
	CopyPenalty []float64 `json:"copy_penalty,omitempty"`
	Best        int       `json:"best"`
}

// MetricsVersion is the metrics.json schema version this package writes.
const MetricsVersion = 1

// MetricsFile is metrics.json: the score map that `netshare score --json`
// prints, plus everything the report shows.
type MetricsFile struct {
	Version int                `json:"version"`
	Metrics map[string]float64 `json:"metrics"`
	Data
}

// NewMetricsFile wraps d, filling Metrics from d.Scores.
func NewMetricsFile(d Data) *MetricsFile {
	f := &MetricsFile{Version: MetricsVersion, Metrics: map[string]float64{}, Data: d}
	for _, s := range d.Scores {
		f.Metrics[s.Name] = s.Value
	}
	return f
}

// ReadMetricsFile reads and checks a metrics.json.
func ReadMetricsFile(path string) (*MetricsFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f MetricsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Version != MetricsVersion {
		return nil, fmt.Errorf("%s: schema version %d, this netshare reads version %d", path, f.Version, MetricsVersion)
	}
	// Older writers may list only the score map: show those values.
	if len(f.Scores) == 0 {
		for _, name := range sortedKeys(f.Metrics) {
			f.Scores = append(f.Scores, NamedScore{Name: name, Value: f.Metrics[name]})
		}
	}
	for i, s := range f.Scores {
		if s.Name == "" {
			return nil, fmt.Errorf("%s: score %d has no name", path, i+1)
		}
		for j, sr := range s.Series {
			if len(sr.Real) != len(sr.X) || len(sr.Synthetic) != len(sr.X) || (sr.Labels != nil && len(sr.Labels) != len(sr.X)) {
				return nil, fmt.Errorf("%s: score %q series %d: x, real, synthetic and labels differ in length (%d, %d, %d, %d)", path, s.Name, j+1, len(sr.X), len(sr.Real), len(sr.Synthetic), len(sr.Labels))
			}
		}
	}
	return &f, nil
}

// WriteMetricsFile writes f to path atomically. Scores must be finite:
// JSON has no NaN, and a NaN score means a broken metric.
func WriteMetricsFile(path string, f *MetricsFile) error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	for k, v := range f.Metrics {
		if bad(v) {
			return fmt.Errorf("%s: score %q is %v", path, k, v)
		}
	}
	for _, s := range f.Scores {
		if bad(s.Value) || (s.NoiseFloor != nil && bad(*s.NoiseFloor)) {
			return fmt.Errorf("%s: score %q or its noise floor is not a finite number", path, s.Name)
		}
		for _, sr := range s.Series {
			for _, v := range [][]float64{sr.X, sr.Real, sr.Synthetic} {
				if slices.ContainsFunc(v, bad) {
					return fmt.Errorf("%s: score %q series %q holds a non-finite point", path, s.Name, sr.Name)
				}
			}
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	})
}
