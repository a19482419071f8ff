package gan

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func newTinyEMA(t *testing.T, seed int64, decay float64) *Model {
	t.Helper()
	return newTinyEMADP(t, seed, decay, nil)
}

func newTinyEMADP(t *testing.T, seed int64, decay float64, dp *DPConfig) *Model {
	t.Helper()
	cfg := tinyConfig()
	cfg.EMA, cfg.DP = decay, dp
	ao, fo := learnOutputs()
	m, err := New(cfg, ao, fo, learnMaxLen, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func genWeights(g *generator[float32]) []float32 {
	var all []float32
	for _, p := range g.params() {
		all = append(all, p.w...)
	}
	return all
}

func sample(t *testing.T, m *Model) []float32 {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	soft, hard := m.GenerateAttributes(40, rng)
	f, v, err := m.GenerateFeatures(hard, rng)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Concat(soft, f, v)
}

// TestEMAUpdate: after every generator step the average is
// d_t·average + (1 − d_t)·weights with d_t = min(decay, (1+t)/(10+t)),
// and training itself is the same with or without it, under DP too (the
// average only reads the generator, post-processing of the noised critics).
func TestEMAUpdate(t *testing.T) {
	dp := func() *DPConfig { return &DPConfig{Clip: 1, Noise: 1, Reproducible: true} }
	for _, tt := range []struct {
		decay float64
		dp    func() *DPConfig
	}{{0.5, nil}, {0.999, nil}, {0.9, dp}} {
		decay := tt.decay
		var cfgDP, plainDP *DPConfig
		if tt.dp != nil {
			cfgDP, plainDP = tt.dp(), tt.dp()
		}
		data := learnData(40, 1)
		m := newTinyEMADP(t, 2, decay, cfgDP)
		plain := newTinyEMADP(t, 2, 0, plainDP)
		setLengths(t, m, data)
		setLengths(t, plain, data)
		step, err := m.Iterator(data)
		if err != nil {
			t.Fatal(err)
		}
		stepPlain, err := plain.Iterator(data)
		if err != nil {
			t.Fatal(err)
		}
		want := genWeights(m.gen)
		if !slices.Equal(want, genWeights(m.ema)) {
			t.Fatalf("decay %g: the average does not start at the initial weights", decay)
		}
		for s := 1; s <= 15; s++ {
			step()
			stepPlain()
			d := float32(min(decay, float64(1+s)/float64(10+s)))
			for i, w := range genWeights(m.gen) {
				want[i] = d*want[i] + (1-d)*w
			}
			if !slices.Equal(want, genWeights(m.ema)) {
				t.Fatalf("decay %g step %d: the average is not the recurrence", decay, s)
			}
		}
		if !slices.Equal(weights(m), weights(plain)) {
			t.Fatalf("decay %g: keeping the average changed training", decay)
		}
		if slices.Equal(genWeights(m.gen), genWeights(m.ema)) {
			t.Fatalf("decay %g: the average equals the trained weights", decay)
		}
		if plain.sampler() != plain.gen || m.sampler() != m.ema {
			t.Fatal("generation does not use the average exactly when there is one")
		}
	}
}

// TestEMAGenerates: generation uses the average, with BatchNorm statistics
// estimated for it: a plain model given the average's weights generates
// the same, once its running statistics are the re-estimated ones.
func TestEMAGenerates(t *testing.T) {
	data := learnData(40, 1)
	m := newTinyEMA(t, 2, 0.9)
	if err := m.Train(context.Background(), data, TrainOptions{Steps: 20}); err != nil {
		t.Fatal(err)
	}
	got := sample(t, m)
	p := newTinyEMA(t, 2, 0)
	_, src := genState(m.ema)
	_, dst := genState(p.gen)
	for i := range src {
		copy(dst[i], src[i])
	}
	p.lenDist = m.lenDist // what training set, which generation draws bins from
	if !slices.Equal(got, sample(t, p)) {
		t.Fatal("generation with the average differs from a model holding its weights")
	}
	// The statistics are the average's own, not the trained generator's.
	if slices.Equal(m.ema.bn[0].runMean, m.gen.bn[0].runMean) {
		t.Fatal("the average's BatchNorm statistics were not re-estimated")
	}
	plain := newTinyEMA(t, 2, 0)
	if err := plain.Train(context.Background(), data, TrainOptions{Steps: 20}); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(got, sample(t, plain)) {
		t.Fatal("the average generates exactly what the trained weights do")
	}
}

// TestEMAResumeAndLoad: the average survives checkpoints: a resumed run
// ends with the same average as an uninterrupted one, and a loaded
// checkpoint generates what the model that saved it does.
func TestEMAResumeAndLoad(t *testing.T) {
	data := learnData(50, 2)
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := newTinyEMA(t, 3, 0.9)
	if err := a.Train(ctx, data, TrainOptions{Steps: 12, CheckpointDir: dirA, CheckpointEvery: 4}); err != nil {
		t.Fatal(err)
	}
	b := newTinyEMA(t, 3, 0.9)
	if err := b.Train(ctx, data, TrainOptions{Steps: 8, CheckpointDir: dirB, CheckpointEvery: 4}); err != nil {
		t.Fatal(err)
	}
	c := newTinyEMA(t, 3, 0.9)
	if err := c.Train(ctx, data, TrainOptions{Steps: 12, CheckpointDir: dirB, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(weights(a), weights(c)) || !slices.Equal(genWeights(a.ema), genWeights(c.ema)) {
		t.Fatal("resumed training differs from uninterrupted training")
	}
	l, err := Load(filepath.Join(dirA, "step-000000012.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sample(t, a), sample(t, l)) || !slices.Equal(sample(t, a), sample(t, c)) {
		t.Fatal("a loaded or resumed model generates differently")
	}

	// A checkpoint without an average cannot resume a model that keeps one.
	dirC := t.TempDir()
	if err := newTinyEMA(t, 3, 0).Save(checkpointPath(dirC, 4)); err != nil {
		t.Fatal(err)
	}
	err = newTinyEMA(t, 3, 0.9).Train(ctx, data, TrainOptions{Steps: 6, CheckpointDir: dirC, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "different model") {
		t.Fatalf("resume without the average: err = %v", err)
	}
}

// TestEMAFork: a fork's average starts from the weights it trains on, so
// a chunk's model is not pulled toward chunk 0's average.
func TestEMAFork(t *testing.T) {
	m := newTinyEMA(t, 3, 0.99)
	if err := m.Train(context.Background(), learnData(40, 1), TrainOptions{Steps: 10}); err != nil {
		t.Fatal(err)
	}
	f, err := m.Fork(ChunkSeed(3, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(genWeights(f.ema), genWeights(m.gen)) || slices.Equal(genWeights(f.ema), genWeights(m.ema)) {
		t.Fatal("the fork's average is not the forked weights")
	}
}

func TestEMAConfig(t *testing.T) {
	for _, d := range []float64{-0.1, 1, 1.5} {
		cfg := tinyConfig()
		cfg.EMA = d
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "ema") {
			t.Errorf("ema %g: err = %v", d, err)
		}
	}
}
