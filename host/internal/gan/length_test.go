package gan

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare/netshare/host/internal/tensor"
)

// lengthData is n flows of lengths 1..maxLen in turn, so the 99th
// percentile is the longest.
func lengthData(n int) *tensor.Set {
	ao, fo := learnOutputs()
	s := &tensor.Set{N: n, L: learnMaxLen, AttrOutputs: ao, FeatOutputs: fo,
		Attributes: make([]float32, n*3), Features: make([]float32, n*learnMaxLen), GenFlags: make([]float32, n*learnMaxLen)}
	for i := 0; i < n; i++ {
		s.Attributes[i*3] = 1
		for t := 0; t < i%learnMaxLen+1; t++ {
			s.GenFlags[i*learnMaxLen+t] = 1
		}
	}
	return s
}

// TestLengthWeighting: training draws flows ∝ min(records, cap); Keep
// keeps a flow of n records with probability 1/min(n, cap), which undoes
// it; the cap and mean weight survive a checkpoint; DP refuses it.
func TestLengthWeighting(t *testing.T) {
	cfg := tinyConfig()
	cfg.LengthWeighting = true
	ao, fo := learnOutputs()
	m, err := New(cfg, ao, fo, learnMaxLen, 1)
	if err != nil {
		t.Fatal(err)
	}
	data := lengthData(800)
	p, err := m.prepare(data)
	if err != nil {
		t.Fatal(err)
	}
	// Lengths 1..8 equally often: cap 8, mean weight 4.5.
	if m.lenCap != learnMaxLen || m.lenMean != 4.5 {
		t.Fatalf("cap %d mean %g, want 8 and 4.5", m.lenCap, m.lenMean)
	}
	var drawn [learnMaxLen + 1]int
	const draws = 200000
	for range draws {
		drawn[m.draw(p)%learnMaxLen+1]++
	}
	for l := 1; l <= learnMaxLen; l++ {
		want := draws * float64(l) / 36 // Σ 1..8 = 36
		if math.Abs(float64(drawn[l])-want) > 5*math.Sqrt(want) {
			t.Errorf("flows of %d records drawn %d times, want about %.0f", l, drawn[l], want)
		}
	}
	// FlowWeights weighs each flow as draw does: by its length.
	for i, w := range m.FlowWeights(data.GenFlags, data.N, data.L) {
		l := 0
		for _, v := range data.GenFlags[i*data.L : (i+1)*data.L] {
			l += int(v)
		}
		if w != float64(l) {
			t.Fatalf("flow %d of %d records weighs %g", i, l, w)
		}
	}
	// Generated flows drawn ∝ length come back uniform after Keep.
	rng := rand.New(rand.NewPCG(3, 3))
	n := m.Oversample(2000)
	valid := make([]float32, n*learnMaxLen)
	for j := 0; j < n; j++ {
		u, l := rng.Float64()*36, 1
		for u > float64(l) {
			u -= float64(l)
			l++
		}
		for t := 0; t < l; t++ {
			valid[j*learnMaxLen+t] = 1
		}
	}
	keep := m.Keep(valid, 2000, rng)
	if len(keep) != 2000 {
		t.Fatalf("kept %d of %d generated flows, want 2000: Oversample too small", len(keep), n)
	}
	var kept [learnMaxLen + 1]int
	for _, j := range keep {
		l := 0
		for _, v := range valid[j*learnMaxLen : (j+1)*learnMaxLen] {
			l += int(v)
		}
		kept[l]++
	}
	for l := 1; l <= learnMaxLen; l++ {
		if want := 2000.0 / learnMaxLen; math.Abs(float64(kept[l])-want) > 5*math.Sqrt(want) {
			t.Errorf("kept %d flows of %d records, want about %.0f", kept[l], l, want)
		}
	}
	// Saved and loaded with the model; a model without it keeps the first.
	path := filepath.Join(t.TempDir(), "m.ckpt")
	if err := m.Train(context.Background(), data, TrainOptions{Steps: 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil || l.lenCap != m.lenCap || l.lenMean != m.lenMean {
		t.Fatalf("loaded cap %d mean %g (%v), want %d %g", l.lenCap, l.lenMean, err, m.lenCap, m.lenMean)
	}
	if plain := newTiny(t, 1); len(plain.Keep(valid, 5, rng)) != 5 || plain.Oversample(100) != 100 {
		t.Fatal("a model without length weighting must keep the first flows")
	} else if w := plain.FlowWeights(data.GenFlags, data.N, data.L); w[0] != 1 || w[len(w)-1] != 1 {
		t.Fatalf("a model without length weighting weighs flows %g…%g, want 1", w[0], w[len(w)-1])
	}
	cfg.DP = &DPConfig{Clip: 1, Noise: 1}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "length_weighting with DP-SGD") {
		t.Fatalf("DP with length weighting: %v", err)
	}
}

// TestLengthBins: the length bins follow the encoders' attributes, real
// flows get their own bin, every generated flow ends inside the bin its
// row holds whatever the flags say, EncoderAttributes drops the bins, and
// a model of one-record flows has none.
func TestLengthBins(t *testing.T) {
	cfg := tinyConfig()
	cfg.LengthBins = true
	ao, fo := learnOutputs()
	m, err := New(cfg, ao, fo, learnMaxLen, 1)
	if err != nil {
		t.Fatal(err)
	}
	// 8 records: bins [1], [2,3], [4,7], [8]
	const bins = 4
	if A := m.AttrWidth(); A != 3+bins {
		t.Fatalf("attribute width %d, want 3 + %d bins", A, bins)
	}
	p, err := m.prepare(lengthData(16))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		n := i%learnMaxLen + 1
		want := map[int]int{1: 0, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2, 7: 2, 8: 3}[n]
		row := p.attr[i*(3+bins) : (i+1)*(3+bins)]
		if row[0] != 1 || argmax(row[3:]) != want || row[3+want] != 1 {
			t.Fatalf("flow of %d records: attribute row %v, want cat 0 and bin %d", n, row, want)
		}
	}
	// Flags that always continue run each flow to its bin's longest, flags
	// that always end stop it at the bin's shortest.
	rows := make([]float32, bins*(3+bins))
	for b := range bins {
		rows[b*(3+bins)+b%3], rows[b*(3+bins)+3+b] = 1, 1
	}
	g := m.sampler()
	for _, c := range []struct {
		flag float32 // bias on "continue" minus "end"
		want [bins]int
	}{{100, [bins]int{1, 3, 7, 8}}, {-100, [bins]int{1, 2, 4, 8}}} {
		for s := range cfg.SampleLen {
			g.featHead.b.w[s*g.F+g.D], g.featHead.b.w[s*g.F+g.D+1] = c.flag, 0
		}
		_, valid, err := m.GenerateFeatures(rows, rand.New(rand.NewPCG(5, 5)))
		if err != nil {
			t.Fatal(err)
		}
		for b := range bins {
			n := 0
			for _, v := range valid[b*learnMaxLen : (b+1)*learnMaxLen] {
				n += int(v)
			}
			if n != c.want[b] {
				t.Errorf("flag bias %g, bin %d: %d records, want %d", c.flag, b, n, c.want[b])
			}
		}
	}
	enc := m.EncoderAttributes(rows)
	if len(enc) != bins*3 || enc[3] != 0 || enc[4] != 1 {
		t.Fatalf("EncoderAttributes: %d values, row 1 %v", len(enc), enc[3:6])
	}
	// Saved and loaded with the model.
	path := filepath.Join(t.TempDir(), "m.ckpt")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	if l, err := Load(path); err != nil || l.AttrWidth() != 3+bins {
		t.Fatalf("loaded: %v, width %d", err, l.AttrWidth())
	}
	one, err := New(cfg, ao, fo, 1, 1)
	if err != nil || one.AttrWidth() != 3 {
		t.Fatalf("one-record flows: %v, width %d, want no bins", err, one.AttrWidth())
	}
}

// setLengths gives a DP model with length bins its data's exact length
// distribution, as a test that does not need the release's noise may.
func setLengths(t *testing.T, m *Model, data *tensor.Set) {
	t.Helper()
	if m.cfg.DP == nil || m.LengthBins() == 0 {
		return
	}
	if err := m.SetLengthDist(LengthHistogram(data, m.LengthBins())); err != nil {
		t.Fatal(err)
	}
}

// TestLengthCondition: the length bins are a condition, not an output.
// Training gives the fake batch the real batch's bins; generation draws
// them from the training flows' distribution (weighted as training draws
// flows) and spreads over the rows without multinomial noise; a
// checkpoint keeps the distribution; DP needs it given.
func TestLengthCondition(t *testing.T) {
	const bins = 4 // lengths 1..8: bins [1], [2,3], [4,7], [8]
	for _, tc := range []struct {
		name     string
		weighted bool
		want     [bins]float64 // lengthData(16): lengths 1..8 twice
	}{
		{"uniform draws", false, [bins]float64{2, 4, 8, 2}},
		{"length weighting", true, [bins]float64{2, 2 * (2 + 3), 2 * (4 + 5 + 6 + 7), 2 * 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.LengthBins, cfg.LengthWeighting = true, tc.weighted
			ao, fo := learnOutputs()
			m, err := New(cfg, ao, fo, learnMaxLen, 1)
			if err != nil {
				t.Fatal(err)
			}
			data := lengthData(16)
			p, err := m.prepare(data)
			if err != nil {
				t.Fatal(err)
			}
			if [bins]float64(m.lenDist) != tc.want {
				t.Fatalf("length distribution %v, want %v", m.lenDist, tc.want)
			}
			m.iterate(p)
			g, A := m.gen, m.gen.A
			for r := 0; r < m.cfg.BatchSize; r++ {
				fake, real := g.cache.attrHard[r*A+3:(r+1)*A], m.realAttr[r*A+3:(r+1)*A]
				if [bins]float32(fake) != [bins]float32(real) || [bins]float32(g.cache.attrSoft[r*A+3:(r+1)*A]) != [bins]float32(real) {
					t.Fatalf("fake row %d has bins %v, the real batch's row %v", r, fake, real)
				}
			}
			const n = 20000
			soft, hard := m.GenerateAttributes(n, rand.New(rand.NewPCG(7, 7)))
			var got [bins]float64
			for r := range n {
				k := argmax(hard[r*A+3 : (r+1)*A])
				if hard[r*A+3+k] != 1 || soft[r*A+3+k] != 1 {
					t.Fatalf("row %d: bins soft %v hard %v, want one-hot", r, soft[r*A+3:(r+1)*A], hard[r*A+3:(r+1)*A])
				}
				got[k]++
			}
			// Spread, not drawn independently: each bin's count is its
			// share of n rounded up or down, and the rows are shuffled.
			sum := tc.want[0] + tc.want[1] + tc.want[2] + tc.want[3]
			for k := range bins {
				if want := n * tc.want[k] / sum; math.Abs(got[k]-want) >= 1 {
					t.Errorf("bin %d given to %g rows, want %.2f rounded", k, got[k], want)
				}
			}
			// In order, the bins would change 3 times down the rows;
			// shuffled, n·(1 − Σ p²) ≈ 0.66·n times here.
			changes := 0
			for r := 1; r < n; r++ {
				if argmax(hard[r*A+3:(r+1)*A]) != argmax(hard[(r-1)*A+3:r*A]) {
					changes++
				}
			}
			if changes < n/2 {
				t.Errorf("the bins change %d times down %d rows: not shuffled", changes, n)
			}
			path := filepath.Join(t.TempDir(), "m.ckpt")
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			l, err := Load(path)
			if err != nil || [bins]float64(l.lenDist) != tc.want {
				t.Fatalf("loaded: %v, length distribution %v", err, l.lenDist)
			}
		})
	}

	cfg := tinyConfig()
	cfg.LengthBins, cfg.DP = true, &DPConfig{Clip: 1, Noise: 1, Reproducible: true}
	ao, fo := learnOutputs()
	m, err := New(cfg, ao, fo, learnMaxLen, 1)
	if err != nil {
		t.Fatal(err)
	}
	data := lengthData(16)
	if _, err := m.prepare(data); err == nil || !strings.Contains(err.Error(), "SetLengthDist") {
		t.Fatalf("DP training without a released length distribution: %v", err)
	}
	if err := m.SetLengthDist([]float64{1, 2}); err == nil {
		t.Fatal("a distribution of 2 bins for a model of 4 was accepted")
	}
	// Noise can make counts negative: they count as none.
	if err := m.SetLengthDist([]float64{-3, 0, 5, math.Inf(1)}); err != nil {
		t.Fatal(err)
	}
	p, err := m.prepare(data)
	if err != nil {
		t.Fatal(err)
	}
	m.iterate(p)
	for r := range len(m.cond) / bins {
		if argmax(m.cond[r*bins:(r+1)*bins]) != 2 {
			t.Fatalf("DP fake row %d has bins %v, want all drawn from the given [0 0 5 0]", r, m.cond[r*bins:(r+1)*bins])
		}
	}
	if err := m.SetLengthDist([]float64{-1, -1, 0, -2}); err != nil || [bins]float64(m.lenDist) != [bins]float64{1, 1, 1, 1} {
		t.Fatalf("a distribution with no mass: %v, %v, want uniform", err, m.lenDist)
	}
}
