package report

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/netshare/netshare/abi"
)

// Plot geometry, in SVG user units.
const (
	plotW, plotH                   = 560, 300
	padL, padR, padT, padB         = 58, 16, 30, 46
	colorReal, colorSynth, colGrid = "#1f5fa8", "#e0701b", "#e3e6ea"
)

// scale maps data values to pixel offsets: linearly, on log10(x) when the
// data are positive, or on log10(1+x) when they start at zero.
type scale struct {
	lo, hi float64
	log    bool
	px     float64 // pixel span
}

func (s scale) f(v float64) float64 {
	switch {
	case !s.log:
		return v
	case s.lo > 0:
		return math.Log10(v)
	}
	return math.Log10(1 + v)
}

func (s scale) at(v float64) float64 {
	a, b := s.f(s.lo), s.f(s.hi)
	if b == a {
		return s.px / 2
	}
	return (s.f(v) - a) / (b - a) * s.px
}

// chooseLog picks a log axis for heavy-tailed data: non-negative values
// whose median sits in the bottom 1% of the range, where a linear axis
// would squash nearly every point against the left edge.
func chooseLog(x []float64) bool {
	if len(x) < 3 || x[0] < 0 || (x[0] > 0 && x[0] < 1) {
		return false
	}
	lo, hi := x[0], x[len(x)-1]
	return hi-lo > 100 && x[len(x)/2]-lo < 0.01*(hi-lo)
}

// svgSeries draws one series: a CDF as step curves, a histogram as
// grouped bars. It returns "" for a series with nothing to draw.
func svgSeries(s abi.Series, xlabel string, xlog bool) string {
	if len(s.X) == 0 || len(s.Real) != len(s.X) || len(s.Synthetic) != len(s.X) {
		return ""
	}
	for _, v := range [][]float64{s.X, s.Real, s.Synthetic} {
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return ""
			}
		}
	}
	if s.Kind == "histogram" {
		return svgBars(s)
	}
	if xlabel == "" {
		xlabel = "value"
	}
	return svgCDF(s, xlabel, xlog)
}

func svgOpen(b *strings.Builder, label string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" class="plot">`, plotW, plotH, html.EscapeString(label))
}

func svgCDF(s abi.Series, xlabel string, xlog bool) string {
	var b strings.Builder
	svgOpen(&b, s.Name+" cumulative distribution")
	w, h := float64(plotW-padL-padR), float64(plotH-padT-padB)
	xs := scale{lo: s.X[0], hi: s.X[len(s.X)-1], log: chooseLog(s.X) || (xlog && s.X[0] >= 0 && s.X[len(s.X)-1] > s.X[0]), px: w}
	ys := scale{lo: 0, hi: 1, px: h}
	px := func(v float64) float64 { return padL + xs.at(v) }
	py := func(v float64) float64 { return padT + h - ys.at(v) }
	// Grid and y ticks.
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>`, padL, plotW-padR, py(t), py(t), colGrid)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="tick" text-anchor="end">%g</text>`, padL-6, py(t)+4, t)
	}
	for _, t := range xTicks(xs) {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s"/>`, px(t), px(t), padT, plotH-padB, colGrid)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>`, px(t), plotH-padB+16, html.EscapeString(compact(t)))
	}
	if xs.log {
		xlabel += " (log scale)"
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" text-anchor="middle">%s</text>`, padL+int(w)/2, plotH-6, html.EscapeString(xlabel))
	fmt.Fprintf(&b, `<text x="14" y="%d" class="axis" text-anchor="middle" transform="rotate(-90 14 %d)">share of records ≤ value</text>`, padT+int(h)/2, padT+int(h)/2)
	// Step curves: a CDF holds its value until the next point.
	step := func(y []float64, color, dash string) {
		var p strings.Builder
		fmt.Fprintf(&p, "M%.1f %.1f", px(s.X[0]), py(0))
		for i := range s.X {
			fmt.Fprintf(&p, " H%.1f V%.1f", px(s.X[i]), py(y[i]))
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, p.String(), color, dash)
	}
	step(s.Real, colorReal, "")
	step(s.Synthetic, colorSynth, ` stroke-dasharray="6 3"`)
	legend(&b)
	b.WriteString(`</svg>`)
	return b.String()
}

func svgBars(s abi.Series) string {
	var b strings.Builder
	svgOpen(&b, s.Name+" value shares")
	n := len(s.X)
	w, h := float64(plotW-padL-padR), float64(plotH-padT-padB)
	top := 0.0
	for i := range s.X {
		top = max(top, s.Real[i], s.Synthetic[i])
	}
	top = niceCeil(top)
	ys := scale{lo: 0, hi: top, px: h}
	py := func(v float64) float64 { return padT + h - ys.at(v) }
	for k := 0; k <= 4; k++ {
		t := top * float64(k) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>`, padL, plotW-padR, py(t), py(t), colGrid)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="tick" text-anchor="end">%s</text>`, padL-6, py(t)+4, percent(t))
	}
	slot := w / float64(n)
	bw := min(slot*0.38, 36)
	rotate := n > 8
	for i := range s.X {
		x0 := padL + slot*(float64(i)+0.5) - bw
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>real %s</title></rect>`,
			x0, py(s.Real[i]), bw, padT+h-py(s.Real[i]), colorReal, percent(s.Real[i]))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>synthetic %s</title></rect>`,
			x0+bw, py(s.Synthetic[i]), bw, padT+h-py(s.Synthetic[i]), colorSynth, percent(s.Synthetic[i]))
		label := compact(s.X[i])
		if i < len(s.Labels) {
			label = s.Labels[i]
		}
		label = shorten(label, 14)
		cx := padL + slot*(float64(i)+0.5)
		if rotate {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="end" transform="rotate(-40 %.1f %d)">%s</text>`, cx, plotH-padB+12, cx, plotH-padB+12, html.EscapeString(label))
		} else {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>`, cx, plotH-padB+16, html.EscapeString(label))
		}
	}
	fmt.Fprintf(&b, `<text x="14" y="%d" class="axis" text-anchor="middle" transform="rotate(-90 14 %d)">share of records</text>`, padT+int(h)/2, padT+int(h)/2)
	legend(&b)
	b.WriteString(`</svg>`)
	return b.String()
}

func legend(b *strings.Builder) {
	x := plotW - padR - 190
	y := padT / 2
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/><text x="%d" y="%d" class="tick">real</text>`, x+6, x+28, y, y, colorReal, x+33, y+4)
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3" stroke-dasharray="6 3"/><text x="%d" y="%d" class="tick">synthetic</text>`, x+80, x+102, y, y, colorSynth, x+107, y+4)
}

// xTicks returns tick values: powers of ten on a log axis, else about five
// round numbers.
func xTicks(s scale) []float64 {
	var out []float64
	if s.log {
		if s.lo == 0 {
			out = append(out, 0)
		}
		for p := math.Floor(math.Log10(max(s.lo, 1))); math.Pow(10, p) <= s.hi*1.0001; p++ {
			if t := math.Pow(10, p); t >= s.lo {
				out = append(out, t)
			}
		}
		if len(out) > 8 { // thin out long decades
			var thin []float64
			for i, t := range out {
				if i%2 == 0 {
					thin = append(thin, t)
				}
			}
			out = thin
		}
		return out
	}
	if s.hi <= s.lo {
		return []float64{s.lo}
	}
	step := niceStep((s.hi - s.lo) / 5)
	if math.IsInf(step, 0) || step == 0 {
		return []float64{s.lo, s.hi}
	}
	// Bounded: at a huge magnitude a tiny step may not advance t at all.
	for t, k := math.Ceil(s.lo/step)*step, 0; t <= s.hi+step*1e-9 && k < 12; t, k = t+step, k+1 {
		out = append(out, t)
	}
	return out
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	switch m := x / p; {
	case m <= 1:
		return p
	case m <= 2:
		return 2 * p
	case m <= 5:
		return 5 * p
	}
	return 10 * p
}

// niceCeil rounds a share up to a round axis top.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	return min(1, niceStep(x/4)*4)
}

// shorten keeps a tick label to n characters, counting runes: cutting
// bytes split multi-byte labels such as "17 × other" and wrote invalid
// UTF-8 into the report.
func shorten(label string, n int) string {
	r := []rune(label)
	if len(r) <= n {
		return label
	}
	return string(r[:n-1]) + "…"
}

// compact prints an axis number briefly: 1.5k, 2M, 0.25.
func compact(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.3g", v/1e9) + "G"
	case a >= 1e6:
		return fmt.Sprintf("%.3g", v/1e6) + "M"
	case a >= 1e4:
		return fmt.Sprintf("%.3g", v/1e3) + "k"
	}
	return fmt.Sprintf("%.4g", v)
}

func percent(v float64) string {
	switch {
	case v == 0:
		return "0%"
	case v < 0.001:
		return fmt.Sprintf("%.2g%%", v*100)
	case v < 0.1:
		return fmt.Sprintf("%.1f%%", v*100)
	}
	return fmt.Sprintf("%.0f%%", v*100)
}
