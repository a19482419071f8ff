package gan

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netshare/netshare/host/internal/tensor"
)

// Synthetic flows with known structure: a categorical attribute with
// probabilities catP, a length range and a feature level per category.
var (
	catP    = []float64{0.6, 0.3, 0.1}
	catLens = [][]int{{1, 2, 3}, {4, 5, 6}, {7, 8}}
	catVal  = []float32{0.2, 0.5, 0.8}
)

const learnMaxLen = 8

func learnOutputs() (attr, feat []tensor.Output) {
	return []tensor.Output{{Name: "cat", Width: 3, Kind: tensor.Discrete, Activation: tensor.Softmax}},
		[]tensor.Output{{Name: "v", Width: 1, Kind: tensor.Continuous, Activation: tensor.Sigmoid}}
}

func learnData(n int, seed uint64) *tensor.Set {
	rng := rand.New(rand.NewPCG(seed, 9))
	ao, fo := learnOutputs()
	s := &tensor.Set{N: n, L: learnMaxLen, AttrOutputs: ao, FeatOutputs: fo,
		Attributes: make([]float32, n*3), Features: make([]float32, n*learnMaxLen), GenFlags: make([]float32, n*learnMaxLen)}
	for i := 0; i < n; i++ {
		u, c := rng.Float64(), 0
		for u > catP[c] {
			u -= catP[c]
			c++
		}
		s.Attributes[i*3+c] = 1
		l := catLens[c][rng.IntN(len(catLens[c]))]
		for t := 0; t < l; t++ {
			s.GenFlags[i*learnMaxLen+t] = 1
			s.Features[i*learnMaxLen+t] = catVal[c] + float32(rng.NormFloat64()*0.03)
		}
	}
	return s
}

func learnConfig() Config {
	cfg := DefaultConfig()
	cfg.AttrGenLayers, cfg.AttrGenUnits = 3, 32
	cfg.LSTMUnits, cfg.SampleLen = 16, 2
	cfg.CriticLayers, cfg.CriticUnits = 3, 64
	cfg.AttrCriticLayers, cfg.AttrCriticUnits = 3, 32
	cfg.LearningRate = 1e-3
	cfg.BatchSize = 64
	cfg.CriticRounds = 2
	return cfg
}

// fidelity measures a model's samples against the known structure: total
// variation on the category, and per category the relative error of the
// mean length and the absolute error of the mean feature value.
func fidelity(t *testing.T, m *Model) (tv, lenErr, valErr float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(77, 1))
	const n = 4000
	_, hard := m.GenerateAttributes(n, rng)
	feat, valid, err := m.GenerateFeatures(hard, rng)
	if err != nil {
		t.Fatal(err)
	}
	A := m.AttrWidth()
	var count [3]float64
	var lenSum, valSum, valN [3]float64
	for i := 0; i < n; i++ {
		c := argmax(hard[i*A : i*A+3])
		count[c]++
		for s := 0; s < learnMaxLen; s++ {
			lenSum[c] += float64(valid[i*learnMaxLen+s])
			if valid[i*learnMaxLen+s] > 0 {
				valSum[c] += float64(feat[i*learnMaxLen+s])
				valN[c]++
			}
		}
	}
	for c := range count {
		tv += math.Abs(count[c]/n-catP[c]) / 2
		want := 0.0
		for _, l := range catLens[c] {
			want += float64(l) / float64(len(catLens[c]))
		}
		if count[c] == 0 {
			lenErr, valErr = math.Inf(1), math.Inf(1)
			continue
		}
		lenErr = max(lenErr, math.Abs(lenSum[c]/count[c]-want)/want)
		if valN[c] > 0 {
			valErr = max(valErr, math.Abs(valSum[c]/valN[c]-float64(catVal[c])))
		}
	}
	return tv, lenErr, valErr
}

// TestLearns trains a small model and checks that it reproduces the
// attribute distribution, the per-category flow lengths and feature levels,
// which the untrained model does not; with and without length bins.
func TestLearns(t *testing.T) {
	for _, bins := range []bool{false, true} {
		t.Run(fmt.Sprintf("length_bins=%v", bins), func(t *testing.T) {
			cfg := learnConfig()
			cfg.LengthBins = bins
			testLearns(t, cfg)
		})
	}
}

func testLearns(t *testing.T, cfg Config) {
	ao, fo := learnOutputs()
	m, err := New(cfg, ao, fo, learnMaxLen, 5)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(tv, lenErr, valErr float64) bool { return tv < 0.1 && lenErr < 0.2 && valErr < 0.1 }
	tv, le, ve := fidelity(t, m)
	t.Logf("untrained: TV %.3f, worst mean-length error %.2f, worst value error %.3f", tv, le, ve)
	if ok(tv, le, ve) {
		t.Fatal("the untrained model already passes: the check cannot tell learning from none")
	}
	steps := 2500
	err = m.Train(context.Background(), learnData(2000, 1), TrainOptions{Steps: steps, ProgressEvery: 500,
		Progress: func(p Progress) {
			t.Logf("step %d: %+v (%.0f steps/s)", p.Step, p.Losses, p.StepsPerSec)
		}})
	if err != nil {
		t.Fatal(err)
	}
	tv, le, ve = fidelity(t, m)
	t.Logf("trained: TV %.3f, worst mean-length error %.2f, worst value error %.3f", tv, le, ve)
	if !ok(tv, le, ve) {
		t.Errorf("trained model: TV %.3f (want < 0.1), mean-length error %.2f (want < 0.2), value error %.3f (want < 0.1)", tv, le, ve)
	}
}
