package score

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/report"
)

// BatchRows is the most rows sent to a metric in one call: large enough
// that the ~1 µs per call vanishes, small enough to bound the module's
// transient memory.
const BatchRows = 1 << 16

// Options tune Run.
type Options struct {
	// Seed is passed to every metric instance.
	Seed int64
	// BatchRows overrides BatchRows (tests).
	BatchRows int
}

// Score is one named score and the curves behind it.
type Score struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Metric Metric  `json:"metric"`
	// Naive is the naive independent sampler's score, the line to beat:
	// from the metric itself (joint metrics) or from SampleNaive.
	Naive       *float64     `json:"naive,omitempty"`
	Description string       `json:"description,omitempty"`
	XLabel      string       `json:"x_label,omitempty"`
	XLog        bool         `json:"x_log,omitempty"`
	Series      []abi.Series `json:"series,omitempty"`
}

// Result holds every score of a run, in metric order (and by name within
// a metric that returns several).
type Result struct {
	Scores []Score `json:"scores"`
}

// Values returns the scores by name: the "metrics" object of
// `netshare score --json` and of metrics.json.
func (r *Result) Values() map[string]float64 {
	out := make(map[string]float64, len(r.Scores))
	for _, s := range r.Scores {
		out[s.Name] = s.Value
	}
	return out
}

// Run scores syn against real with each metric, through the plugin host:
// it opens one instance per metric, streams both tables to all of them in
// slices of at most BatchRows rows (each slice is encoded once and sent to
// every instance), and collects every instance's scores. Score names must
// be unique across metrics.
func Run(ctx context.Context, h *plugin.Host, real, syn *abi.Batch, metrics []Metric, opts Options) (*Result, error) {
	if len(metrics) == 0 {
		return nil, errors.New("score: no metrics to run")
	}
	if real.Len() == 0 {
		return nil, errors.New("score: the real table has no records")
	}
	if syn.Len() == 0 {
		return nil, errors.New("score: the synthetic table has no records")
	}
	rows := opts.BatchRows
	if rows <= 0 {
		rows = BatchRows
	}
	insts := make([]*plugin.Instance, len(metrics))
	defer func() {
		for _, in := range insts {
			if in != nil {
				in.Close(ctx)
			}
		}
	}()
	// Metrics that read the same columns share one encoding of each slice.
	groups := map[string][]int{}
	var order []string
	cols := map[string][]string{}
	for i, m := range metrics {
		in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindMetric, Name: m.Name, Params: m.Params, Seed: opts.Seed})
		if err != nil {
			return nil, fmt.Errorf("metric %d (%s): %w", i+1, m, err)
		}
		insts[i] = in
		need := neededColumns(in.Component(), m.Params)
		key := strings.Join(need, "\x00")
		if need == nil {
			key = "\x00all"
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
			cols[key] = need
		}
		groups[key] = append(groups[key], i)
	}
	for _, side := range []struct {
		op abi.Op
		b  *abi.Batch
	}{{abi.OpAddReal, real}, {abi.OpAddSynthetic, syn}} {
		for _, key := range order {
			if err := stream(ctx, insts, metrics, groups[key], side.op, Project(side.b, cols[key]), rows); err != nil {
				return nil, err
			}
		}
	}
	res := &Result{}
	seen := map[string]string{}
	for i, in := range insts {
		hdr, _, err := in.Call(ctx, abi.OpScore, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("metric %d (%s): %w", i+1, metrics[i], err)
		}
		var s abi.Scores
		if err := json.Unmarshal(hdr, &s); err != nil {
			return nil, fmt.Errorf("metric %d (%s): score reply: %w", i+1, metrics[i], err)
		}
		if len(s.Values) == 0 {
			return nil, fmt.Errorf("metric %d (%s) returned no scores", i+1, metrics[i])
		}
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range s.Values {
				if !yield(k) {
					return
				}
			}
		})
		first := len(res.Scores)
		for _, name := range names {
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("metric %d (%s) and %s both return a score named %q: give one a different name parameter", i+1, metrics[i], prev, name)
			}
			seen[name] = metrics[i].String()
			sc := Score{Name: name, Value: s.Values[name], Metric: metrics[i], Description: Describe(metrics[i], real), XLabel: AxisLabel(metrics[i], real), XLog: isRank(metrics[i])}
			if v, ok := s.Naive[name]; ok {
				sc.Naive = &v
			}
			res.Scores = append(res.Scores, sc)
		}
		// A series goes with the score of the same name, else with the
		// metric's first score.
		for _, sr := range s.Series {
			at := first
			for j := first; j < len(res.Scores); j++ {
				if res.Scores[j].Name == sr.Name {
					at = j
				}
			}
			res.Scores[at].Series = append(res.Scores[at].Series, sr)
		}
	}
	return res, nil
}

// neededColumns lists the columns a metric reads, from the parameters its
// manifest names under Defaults[abi.DefaultColumnParams] (string or list
// values), or nil when it does not say: then it gets every column.
func neededColumns(c abi.Component, params map[string]any) []string {
	var names []string
	if ok, err := c.Default(abi.DefaultColumnParams, &names); !ok || err != nil {
		return nil
	}
	resolved, err := c.ResolveParams(params)
	if err != nil {
		return nil // Open already accepted them; be safe and send everything
	}
	var out []string
	for _, pn := range names {
		switch v := resolved[pn].(type) {
		case string:
			if v != "" {
				out = append(out, v)
			}
		case []string:
			out = append(out, v...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Project returns a batch of b's columns named in cols, sharing storage.
// When cols is nil, or names a column b lacks (a parameter value that is
// not a column, or a genuinely missing one the metric will report with
// the full list of what b has), it returns b whole.
func Project(b *abi.Batch, cols []string) *abi.Batch {
	if cols == nil {
		return b
	}
	out := &abi.Batch{}
	for _, name := range cols {
		c := b.Column(name)
		if c == nil {
			return b
		}
		out.Columns = append(out.Columns, *c)
	}
	return out
}

// stream sends b in slices to the instances at idx with op.
func stream(ctx context.Context, insts []*plugin.Instance, metrics []Metric, idx []int, op abi.Op, b *abi.Batch, rows int) error {
	var buf []byte
	n := b.Len()
	for lo := 0; lo < n; lo += rows {
		hi := min(lo+rows, n)
		buf = abi.AppendBatch(buf[:0], Slice(b, lo, hi))
		for _, i := range idx {
			in := insts[i]
			if _, _, err := in.Call(ctx, op, nil, buf); err != nil {
				return fmt.Errorf("metric %d (%s): rows %d–%d: %w", i+1, metrics[i], lo, hi-1, err)
			}
		}
	}
	return nil
}

// Slice returns rows [lo, hi) of b as a batch sharing b's storage, except
// that a string column whose dictionary is larger than the slice gets a
// compact dictionary of its own, so that a slice never carries a
// million-entry dictionary for 64k rows.
func Slice(b *abi.Batch, lo, hi int) *abi.Batch {
	out := b.Slice(lo, hi)
	for i := range out.Columns {
		c := &out.Columns[i]
		if c.Type != abi.TypeString || len(c.Dict) <= hi-lo {
			continue
		}
		remap := map[uint32]uint32{}
		dict, codes := []string(nil), make([]uint32, len(c.Codes))
		for r, code := range c.Codes {
			nc, ok := remap[code]
			if !ok {
				nc = uint32(len(dict))
				remap[code] = nc
				dict = append(dict, c.Dict[code])
			}
			codes[r] = nc
		}
		c.Dict, c.Codes = dict, codes
	}
	return out
}

// Report converts the scores for the report and metrics.json, attaching
// each score's noise floor from floor (which may be nil), its naive
// sampler's score where known, and, from halves (which may be nil), what
// held-out real traffic and the naive sampler score against the other half.
func (r *Result) Report(floor map[string]float64, halves *Halves) []report.NamedScore {
	out := make([]report.NamedScore, len(r.Scores))
	for i, s := range r.Scores {
		out[i] = report.NamedScore{Name: s.Name, Value: s.Value, Description: s.Description, Component: s.Metric.Name, Params: s.Metric.Params, Series: s.Series, XLabel: s.XLabel, XLog: s.XLog, Naive: s.Naive}
		if f, ok := floor[s.Name]; ok {
			out[i].NoiseFloor = &f
		}
		if _, known := halves.Beaten(s.Name); known {
			held, naive := halves.Floor[s.Name], halves.Naive[s.Name]
			out[i].HeldOut, out[i].HeldOutNaive = &held, &naive
		}
	}
	return out
}

// isRank reports a popularity-rank metric, whose curve reads best on a log
// axis: the top ranks hold most records.
func isRank(m Metric) bool {
	mode, _ := m.Params["mode"].(string)
	return m.Name == "jsd" && mode == "rank"
}
