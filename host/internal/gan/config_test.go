package gan

import (
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestConfigTOML(t *testing.T) {
	var doc struct {
		Model Config `toml:"model"`
	}
	doc.Model = DefaultConfig()
	src := `
[model]
sample_len = 5
critic_units = 256
learning_rate = 1e-3
`
	if _, err := toml.Decode(src, &doc); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.SampleLen, want.CriticUnits, want.LearningRate = 5, 256, 1e-3
	// DP is not a [model] key: the pipeline sets it from its privacy section.
	if got := doc.Model; got != want {
		t.Fatalf("decoded %+v\nwant    %+v", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*Config)
		errHas string
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero sample_len", func(c *Config) { c.SampleLen = 0 }, "sample_len"},
		{"critic without hidden layer", func(c *Config) { c.CriticLayers = 1 }, "critic_layers"},
		{"bad beta", func(c *Config) { c.Beta2 = 1 }, "adam"},
		{"negative lambda", func(c *Config) { c.GPLambda = -1 }, "gp_lambda"},
		{"dp without clip", func(c *Config) { c.DP = &DPConfig{Noise: 1} }, "dp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.modify(&c)
			err := c.Validate()
			if tc.errHas == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.errHas)
			}
		})
	}
}

// TestTrainDP runs the DP-SGD critic step end to end: it trains, and its
// noise makes it differ from the same run without DP.
func TestTrainDP(t *testing.T) {
	plain, dp := trainedWeights(t, nil, 5), trainedWeights(t, &DPConfig{Clip: 1, Noise: 1}, 5)
	if slices.Equal(plain, dp) {
		t.Fatal("DP training equals non-DP training")
	}
	for _, w := range dp {
		if w != w {
			t.Fatal("DP training produced NaN")
		}
	}
}

// TestPoissonBatch checks the DP batch sampling the accountant assumes:
// each flow joins a batch independently with probability BatchSize/n.
func TestPoissonBatch(t *testing.T) {
	cfg := tinyConfig()
	cfg.BatchSize = 20
	cfg.DP = &DPConfig{Clip: 1, Noise: 1}
	ao, fo := learnOutputs()
	m, err := New(cfg, ao, fo, learnMaxLen, 3)
	if err != nil {
		t.Fatal(err)
	}
	const n, draws = 200, 4000
	q := float64(cfg.BatchSize) / n
	seen := make([]int, n)
	sizes := map[int]bool{}
	total := 0
	for d := 0; d < draws; d++ {
		b := m.poissonBatch(n, m.privacyRand())
		sizes[b] = true
		total += b
		for _, r := range m.batch[:b] {
			seen[r]++
		}
	}
	mean := float64(total) / draws
	// Binomial(200, 0.1): mean 20, sd of the mean over 4000 draws ≈ 0.07.
	if mean < 19.6 || mean > 20.4 {
		t.Errorf("mean batch size %.2f, want 20", mean)
	}
	if len(sizes) < 10 {
		t.Errorf("batch sizes took only %d values: not Poisson sampling", len(sizes))
	}
	for r, c := range seen {
		rate := float64(c) / draws
		if rate < q-0.03 || rate > q+0.03 { // sd ≈ 0.005
			t.Fatalf("row %d joined %.3f of batches, want %.2f", r, rate, q)
		}
	}
	// A chunk smaller than the batch takes every flow every time.
	if b := m.poissonBatch(7, m.privacyRand()); b != 7 {
		t.Errorf("7 flows, batch of %d", b)
	}
}
