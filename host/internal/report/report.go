package report

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Verdict grades a score against its noise floor (the score of real data
// against another sample of itself) in plain words, with a CSS class
// (good, fair, poor, bad). Without a floor there is no verdict.
func Verdict(value float64, floor *float64) (text, class string) {
	if floor == nil || math.IsNaN(*floor) || math.IsNaN(value) {
		return "", ""
	}
	f := *floor
	switch {
	case value <= f*1.25 || value == 0:
		return "as close as real data is to itself", "good"
	case f <= 0:
		return "differs, though real data does not vary here", "poor"
	case value <= f*2:
		return fmt.Sprintf("close: %.1f× the real-data noise", value/f), "fair"
	case value <= f*5:
		return fmt.Sprintf("noticeably different: %.1f× the real-data noise", value/f), "poor"
	case value <= f*1000:
		return fmt.Sprintf("far off: %.0f× the real-data noise", value/f), "bad"
	}
	return "far off: over 1000× the real-data noise", "bad"
}

// JointComponent is the metric component whose scores the report lists in
// its joint-structure section.
const JointComponent = "joint"

// VersusNaive compares a score with the naive independent sampler's, the
// line a generator must beat on how fields go together. Where s says that
// held-out real traffic does not beat the sampler either (HeldOut, a
// trace whose records of a few long flows dominate the pair), losing to it
// is what real data does too, and the verdict says so instead of "bad".
func VersusNaive(s NamedScore) (text, class string) {
	if s.Naive == nil {
		return "", ""
	}
	value, naive := s.Value, *s.Naive
	switch {
	case math.IsNaN(value) || math.IsNaN(naive):
		return "", ""
	case value < naive:
		if naive > 0 {
			return fmt.Sprintf("beats independent sampling (%.0f%% of its distance)", 100*value/naive), "good"
		}
		return "beats independent sampling", "good"
	case s.HeldOut != nil && s.HeldOutNaive != nil && !(*s.HeldOut < *s.HeldOutNaive):
		return fmt.Sprintf("no better than sampling each field independently, nor is held-out real traffic (%s against %s at half size)", formatNumber(*s.HeldOut), formatNumber(*s.HeldOutNaive)), "fair"
	}
	return "no better than sampling each field independently", "bad"
}

// formatNumber prints a score readably: four significant digits, and
// large values in full with thousands separators rather than exponents.
func formatNumber(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e4 && math.Abs(v) < 1e15:
		s := strconv.FormatInt(int64(math.Round(math.Abs(v))), 10)
		var b strings.Builder
		if v < 0 {
			b.WriteByte('-')
		}
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	case math.Abs(v) < 1e-4:
		return strconv.FormatFloat(v, 'e', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

type scoreView struct {
	NamedScore
	ValueText, FloorText string
	NaiveText            string
	Verdict, Class       string
	// Against the naive sampler (joint metrics): words and CSS class.
	VsNaive, NaiveClass string
	Plots               []template.HTML
	Anchor              string
	Kind                string // what the plot shows, in words
}

type stageView struct {
	Stage
	Width   float64 // bar length, percent of the longest stage
	Seconds string
}

type view struct {
	Data
	Scores   []scoreView // single-field scores: the summary table
	Joint    []scoreView // joint-structure scores: their own table
	Cards    []scoreView // every fidelity score, one plot card each
	HasNaive bool
	Stages   []stageView
	Total    string
	Created  string
	HasFloor bool
	SeedText string
	Choices  []choiceView
	Tasks    []taskView
}

type choiceView struct {
	Chunk     int
	Criterion bool // chosen by criterion, not rank sum
	Rows      []choiceRow
}

type choiceRow struct {
	Candidate, Sum, Criterion, Penalty string
	Best                               bool
}

// Write renders d as one self-contained HTML document.
func Write(w io.Writer, d Data) error {
	if len(d.Scores) == 0 {
		return errors.New("report: no scores to show")
	}
	v := view{Data: d}
	if v.Title == "" {
		v.Title = "netshare fidelity report"
	}
	if !d.Created.IsZero() {
		v.Created = d.Created.UTC().Format(time.RFC1123)
	}
	if d.Seed != nil {
		v.SeedText = strconv.FormatInt(*d.Seed, 10)
	}
	fidelity, tasks := splitDownstream(d.Scores)
	v.Tasks = tasks
	for _, s := range fidelity {
		sv := scoreView{NamedScore: s, ValueText: formatNumber(s.Value), Anchor: "m-" + anchor(s.Name)}
		if s.NoiseFloor != nil {
			v.HasFloor = true
			sv.FloorText = formatNumber(*s.NoiseFloor)
		}
		sv.Verdict, sv.Class = Verdict(s.Value, s.NoiseFloor)
		if s.Naive != nil {
			v.HasNaive = v.HasNaive || s.Component != JointComponent
			sv.NaiveText = formatNumber(*s.Naive)
			sv.VsNaive, sv.NaiveClass = VersusNaive(s)
		}
		for _, sr := range s.Series {
			if svg := svgSeries(sr, s.XLabel, s.XLog); svg != "" {
				sv.Plots = append(sv.Plots, template.HTML(svg)) // built from escaped parts
				if sr.Kind == "histogram" {
					sv.Kind = "Share of records per value (most common real values first). Matching bars mean matching frequencies."
				} else {
					sv.Kind = "Cumulative distribution: the share of records at or below each value. The closer the two curves, the lower the score."
				}
			}
		}
		v.Cards = append(v.Cards, sv)
		if s.Component == JointComponent {
			v.Joint = append(v.Joint, sv)
		} else {
			v.Scores = append(v.Scores, sv)
		}
	}
	var longest, total float64
	for _, st := range d.Timings {
		longest = max(longest, st.Seconds)
		total += st.Seconds
	}
	for _, st := range d.Timings {
		w := 0.0
		if longest > 0 {
			w = st.Seconds / longest * 100
		}
		v.Stages = append(v.Stages, stageView{Stage: st, Width: w, Seconds: duration(st.Seconds)})
	}
	if len(d.Timings) > 0 {
		v.Total = duration(total)
	}
	for _, c := range d.Choices {
		cv := choiceView{Chunk: c.Chunk, Criterion: len(c.Criterion) > 0}
		for i, name := range c.Candidates {
			row := choiceRow{Candidate: name, Best: i == c.Best}
			if i < len(c.RankSums) {
				row.Sum = formatNumber(c.RankSums[i])
			}
			if i < len(c.Criterion) {
				row.Criterion = formatNumber(c.Criterion[i])
			}
			if i < len(c.CopyPenalty) {
				row.Penalty = formatNumber(c.CopyPenalty[i])
			}
			cv.Rows = append(cv.Rows, row)
		}
		v.Choices = append(v.Choices, cv)
	}
	return page.Execute(w, v)
}

// ParamText lists the metric's parameters for the run table.
func (s scoreView) ParamText() string {
	p := s.Params
	keys := slices.Sorted(maps.Keys(p))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s = %v", k, p[k])
	}
	return strings.Join(parts, ", ")
}

func duration(s float64) string {
	switch {
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1000)
	case s < 120:
		return fmt.Sprintf("%.1f s", s)
	case s < 7200:
		return fmt.Sprintf("%.1f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}

func anchor(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func sortedKeys(m map[string]float64) []string { return slices.Sorted(maps.Keys(m)) }

var page = template.Must(template.New("report").Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2630;margin:0;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:32px 0 10px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
h3{font-size:16px;margin:0}
.sub{color:#5b6670;margin:0 0 14px}
.help{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:10px 14px;color:#38434d}
.notprivate{background:#fdecea;border:2px solid #c62828;border-radius:6px;padding:10px 14px;color:#b71c1c;font-weight:600}
table{border-collapse:collapse;background:#fff;border:1px solid #d8dde3;width:100%}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e6e9ed;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.desc{color:#5b6670;font-size:13px}
.verdict{font-weight:600;white-space:nowrap}
.good{color:#1b7a36}.fair{color:#8a6d00}.poor{color:#b35900}.bad{color:#b3261e}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;vertical-align:baseline}
.dot.good{background:#1b7a36}.dot.fair{background:#d4a600}.dot.poor{background:#e07b00}.dot.bad{background:#b3261e}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:16px}
.card{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:12px 14px}
.card .head{display:flex;justify-content:space-between;align-items:baseline;gap:12px}
.card .score{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}
.plot{width:100%;height:auto;display:block;margin-top:6px}
.plot .tick{font-size:11px;fill:#4a5560}
.plot .axis{font-size:12px;fill:#38434d}
.bar{background:#9db7d5;height:12px;border-radius:2px}
pre{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:10px 14px;overflow:auto;font-size:13px}
.best td{background:#eaf6ec;font-weight:600}
a{color:#1f5fa8}
</style>
</head>
<body><main>
<h1>{{.Title}}</h1>
<p class="sub">{{if .Real}}Real: <b>{{.Real}}</b>{{end}}{{if .Synthetic}} · Synthetic: <b>{{.Synthetic}}</b>{{end}}{{if .Kind}} · {{.Kind}}{{end}}{{if .Created}} · {{.Created}}{{end}}</p>
<p class="help">Each score compares one field of the synthetic trace with the real one. <b>Lower is better; 0 means identical distributions.</b>
JSD scores (Jensen–Shannon divergence) range from 0 to 0.693 (= ln 2, no overlap at all).
EMD scores (earth mover's distance) are in the field's own unit: roughly how far, on average, values must move to turn one distribution into the other.
{{if .HasFloor}}The <i>noise floor</i> is the score of one half of the real trace against the other half: a synthetic trace cannot be expected to do better.{{end}}</p>
{{if .Privacy}}<h2>Privacy</h2>
{{if .Privacy.NotPrivate}}<p class="notprivate">{{.Privacy.NotPrivate}}. The ε below is what the accountant would give a run with unpredictable noise; this one has none.</p>
{{end}}<p class="help">Trained with differential privacy: <b>ε = {{printf "%.3g" .Privacy.Epsilon}}</b> at <b>δ = {{printf "%.3g" .Privacy.Delta}}</b>{{if .Privacy.NoiseMultiplier}} (DP-SGD noise multiplier {{.Privacy.NoiseMultiplier}}{{if .Privacy.ClipNorm}}, clipping norm {{.Privacy.ClipNorm}}{{end}}){{end}}.
Smaller ε means stronger privacy: no single record changes what an observer can learn from the synthetic trace by more than a factor e<sup>ε</sup>, except with probability δ.{{if .Privacy.Note}} {{.Privacy.Note}}{{end}}</p>{{end}}
<h2>Summary</h2>
<table>
<tr><th>Metric</th><th>What it compares</th><th class="num">Score</th>{{if .HasNaive}}<th class="num">Naive sampler</th>{{end}}{{if .HasFloor}}<th class="num">Noise floor</th><th>Verdict</th>{{end}}</tr>
{{range .Scores}}<tr><td><a href="#{{.Anchor}}">{{.Name}}</a></td><td class="desc">{{.Description}}</td><td class="num">{{.ValueText}}</td>{{if $.HasNaive}}<td class="num">{{.NaiveText}}</td>{{end}}{{if $.HasFloor}}<td class="num">{{.FloorText}}</td><td class="verdict {{.Class}}">{{if .Class}}<span class="dot {{.Class}}"></span>{{end}}{{.Verdict}}</td>{{end}}</tr>
{{end}}</table>
{{if .Joint}}<h2>How fields go together</h2>
<p class="help">A sampler that draws every field independently from the real trace matches each single-field score above by construction; only joint distributions tell a model that learned how fields go together from it.
Each score is the total variation distance (0 to 1) between the real and synthetic joint distribution of the fields named, ports as their most common real values, numbers in cells between real quantiles (docs/fidelity.md).
The <i>naive sampler</i> column is that independent sampler's distance: the line to beat.</p>
<table>
<tr><th>Fields</th><th>What it compares</th><th class="num">Score</th><th class="num">Naive sampler</th>{{if .HasFloor}}<th class="num">Noise floor</th>{{end}}<th>Against the naive sampler</th></tr>
{{range .Joint}}<tr><td><a href="#{{.Anchor}}">{{.Name}}</a></td><td class="desc">{{.Description}}</td><td class="num">{{.ValueText}}</td><td class="num">{{.NaiveText}}</td>{{if $.HasFloor}}<td class="num">{{.FloorText}}</td>{{end}}<td class="verdict {{.NaiveClass}}">{{if .NaiveClass}}<span class="dot {{.NaiveClass}}"></span>{{end}}{{.VsNaive}}</td></tr>
{{end}}</table>{{end}}
<h2>Real vs synthetic, per field</h2>
<div class="grid">
{{range .Cards}}<div class="card" id="{{.Anchor}}">
<div class="head"><h3>{{.Name}}</h3><span class="score">{{.ValueText}}</span></div>
<div class="desc">{{.Description}}{{if .Verdict}} · <span class="verdict {{.Class}}">{{.Verdict}}</span>{{end}}</div>
{{range .Plots}}{{.}}{{else}}<p class="desc">No plot for this metric.</p>{{end}}
{{if .Kind}}<div class="desc">{{.Kind}}</div>{{end}}
</div>
{{end}}</div>
{{if .Tasks}}<h2>Downstream tasks and privacy audit</h2>
<p class="help">Would the synthetic trace do the real trace's job, and did the model copy records? Each check ends in a plain-words verdict; the numbers behind it follow (docs/downstream.md defines each).</p>
{{range .Tasks}}<div class="card task"><div class="head"><h3>{{.Title}}</h3></div>
<p class="desc">{{.Help}}</p>
<table><tr><th>Check</th><th>Verdict</th><th>Why</th></tr>
{{range .Checks}}<tr><td>{{.Name}}</td><td class="verdict {{.Class}}"><span class="dot {{.Class}}"></span>{{.Verdict}}</td><td class="desc">{{.Detail}}</td></tr>{{end}}</table>
<details><summary>all {{len .Rows}} values</summary><table>{{range .Rows}}<tr><td>{{.Name}}</td><td class="num">{{.Value}}</td></tr>{{end}}</table></details>
</div>{{end}}{{end}}
{{if .Choices}}<h2>Checkpoint selection</h2>
<p class="help">For each chunk, every candidate (checkpoint × sample length) was scored against that chunk's real records. The smallest criterion wins: the mean over metrics of log(score + noise floor), so that every metric counts alike whatever its scale, plus a penalty of log(copy rate / chance rate) for copying training flow keys more often than chance. Without a criterion, the smallest sum of per-metric ranks wins.</p>
{{range .Choices}}<h3>Chunk {{.Chunk}}</h3>
<table><tr><th>Candidate</th>{{if .Criterion}}<th class="num">Criterion</th><th class="num">Copy penalty</th>{{end}}<th class="num">Rank sum</th></tr>
{{range .Rows}}<tr{{if .Best}} class="best"{{end}}><td>{{.Candidate}}{{if .Best}} ✓ chosen{{end}}</td>{{if .Criterion}}<td class="num">{{.Criterion}}</td><td class="num">{{.Penalty}}</td>{{end}}<td class="num">{{.Sum}}</td></tr>
{{end}}</table>
{{end}}{{end}}
<h2>Run</h2>
<table>
{{if .SeedText}}<tr><th>Seed</th><td>{{.SeedText}}</td></tr>{{end}}
{{range .Cards}}{{if .Component}}<tr><th>{{.Name}}</th><td class="desc">{{.Component}}{{if .Params}}: {{.ParamText}}{{end}}</td></tr>{{end}}{{end}}
</table>
{{if .Stages}}<h3 style="margin-top:16px">Time per stage</h3>
<table><tr><th>Stage</th><th class="num">Time</th><th style="width:50%"></th></tr>
{{range .Stages}}<tr><td>{{.Stage.Stage}}</td><td class="num">{{.Seconds}}</td><td><div class="bar" style="width:{{printf "%.1f" .Width}}%"></div></td></tr>
{{end}}<tr><th>Total</th><th class="num">{{.Total}}</th><th></th></tr></table>{{end}}
{{if .Notes}}<h3 style="margin-top:16px">Notes</h3><ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Config}}<h3 style="margin-top:16px">Configuration</h3>
<pre>{{.Config}}</pre>{{end}}
<p class="desc">Generated by netshare. Definitions of every metric: docs/metrics.md.</p>
</main></body>
</html>
`
