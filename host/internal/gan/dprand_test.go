package gan

import (
	"context"
	"math"
	"slices"
	"testing"
)

// TestDPNoiseUnpredictable is the privacy issue's test: under DP the
// seed, which is public, must not determine the noise. Two DP runs with the
// same seed differ; with Reproducible they are identical, and so are two
// runs without DP.
func TestDPNoiseUnpredictable(t *testing.T) {
	tests := []struct {
		name string
		dp   func() *DPConfig
		same bool
	}{
		{"without DP", func() *DPConfig { return nil }, true},
		{"DP", func() *DPConfig { return &DPConfig{Clip: 1, Noise: 1} }, false},
		{"DP without noise, batches still private", func() *DPConfig { return &DPConfig{Clip: 1, Noise: 0} }, false},
		{"DP, reproducible", func() *DPConfig { return &DPConfig{Clip: 1, Noise: 1, Reproducible: true} }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := trainedWeights(t, tc.dp(), 3), trainedWeights(t, tc.dp(), 3)
			if got := slices.Equal(a, b); got != tc.same {
				t.Errorf("two runs with seed 8 identical: %v, want %v", got, tc.same)
			}
		})
	}
}

// TestReproducibleDPAcrossResume checks that the reproducible key gives the
// same noise whether a run trains straight through or is resumed from a
// checkpoint: its noise is a function of seed and step, not of a stream.
func TestReproducibleDPAcrossResume(t *testing.T) {
	data := learnData(40, 3)
	cfg := tinyConfig()
	cfg.DP = &DPConfig{Clip: 1, Noise: 1, Reproducible: true}
	ao, fo := learnOutputs()
	straight, err := New(cfg, ao, fo, learnMaxLen, 5)
	if err != nil {
		t.Fatal(err)
	}
	setLengths(t, straight, data)
	if err := straight.Train(context.Background(), data, TrainOptions{Steps: 4}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first, err := New(cfg, ao, fo, learnMaxLen, 5)
	if err != nil {
		t.Fatal(err)
	}
	setLengths(t, first, data)
	if err := first.Train(context.Background(), data, TrainOptions{Steps: 2, CheckpointDir: dir, CheckpointEvery: 2}); err != nil {
		t.Fatal(err)
	}
	resumed, err := New(cfg, ao, fo, learnMaxLen, 5)
	if err != nil {
		t.Fatal(err)
	}
	setLengths(t, resumed, data)
	if err := resumed.Train(context.Background(), data, TrainOptions{Steps: 4, CheckpointDir: dir, CheckpointEvery: 2, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(weights(straight), weights(resumed)) {
		t.Error("a resumed reproducible DP run differs from the straight one")
	}
}

// TestCriticDPNoiseScale checks the noise DP-SGD adds to a critic's
// gradient: with a clip norm no example reaches, the DP gradient minus the
// plain one is pure noise, of standard deviation σC/b per coordinate and
// centred on zero.
func TestCriticDPNoiseScale(t *testing.T) {
	f := newCritFixture(actReLU, 3)
	b := f.b
	zeroGrads(f.c.params())
	f.c.lossGrad(f.real, f.fake, f.alpha, b, testLambda, nil)
	var clean []float64
	for _, p := range f.c.params() {
		clean = append(clean, p.g...)
	}
	const sigma, clip = 3.0, 1e9
	m := &Model{cfg: Config{DP: &DPConfig{Clip: clip, Noise: sigma}}}
	var sum, sum2 float64
	n := 0
	for rep := 0; rep < 20; rep++ {
		zeroGrads(f.c.params())
		f.c.lossGrad(f.real, f.fake, f.alpha, b, testLambda, &dpParams{clip: clip, noise: sigma, rng: m.privacyRand()})
		i := 0
		for _, p := range f.c.params() {
			for _, g := range p.g {
				d := g - clean[i]
				sum += d
				sum2 += d * d
				i++
				n++
			}
		}
	}
	want := sigma * clip / float64(b)
	mean, sd := sum/float64(n), math.Sqrt(sum2/float64(n))
	if math.Abs(sd-want) > 0.05*want {
		t.Errorf("noise sd %g, want σC/b = %g", sd, want)
	}
	if math.Abs(mean) > 5*want/math.Sqrt(float64(n)) {
		t.Errorf("noise mean %g, want 0 (±%g)", mean, 5*want/math.Sqrt(float64(n)))
	}
}

// trainedWeights trains the tiny model with seed 8 under dp for steps and
// returns its weights.
func trainedWeights(t *testing.T, dp *DPConfig, steps int) []float32 {
	t.Helper()
	cfg := tinyConfig()
	cfg.DP = dp
	ao, fo := learnOutputs()
	m, err := New(cfg, ao, fo, learnMaxLen, 8)
	if err != nil {
		t.Fatal(err)
	}
	data := learnData(40, 3)
	setLengths(t, m, data)
	if err := m.Train(context.Background(), data, TrainOptions{Steps: steps}); err != nil {
		t.Fatal(err)
	}
	return weights(m)
}
