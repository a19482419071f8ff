// Package gan is the DoppelGANger core of NetShare: an attribute generator,
// an LSTM feature generator with generation flags, and two WGAN-GP critics,
// all with hand-written forward and backward passes over a BLAS sgemm.
package gan

import (
	"errors"
	"fmt"
)

// Config holds every model hyper-parameter; it is the pipeline's [model]
// TOML section. Zero values are not defaults: start from DefaultConfig.
type Config struct {
	AttrNoiseDim  int `toml:"attr_noise_dim"`  // attribute noise z_a
	FeatNoiseDim  int `toml:"feat_noise_dim"`  // feature noise z_f per LSTM step
	AttrGenLayers int `toml:"attr_gen_layers"` // attribute MLP layers, counting the heads
	AttrGenUnits  int `toml:"attr_gen_units"`
	LSTMUnits     int `toml:"lstm_units"`
	SampleLen     int `toml:"sample_len"` // S: records per LSTM step
	CriticLayers  int `toml:"critic_layers"`
	CriticUnits   int `toml:"critic_units"`
	// AttrCriticLayers/Units size the attribute-only critic.
	AttrCriticLayers int     `toml:"attr_critic_layers"`
	AttrCriticUnits  int     `toml:"attr_critic_units"`
	GPLambda         float64 `toml:"gp_lambda"`          // WGAN-GP weight, both critics
	AttrCriticWeight float64 `toml:"attr_critic_weight"` // g_attr_d_coe in the generator loss
	LearningRate     float64 `toml:"learning_rate"`
	Beta1            float64 `toml:"beta1"`
	Beta2            float64 `toml:"beta2"`
	AdamEps          float64 `toml:"adam_eps"`
	BatchSize        int     `toml:"batch_size"`
	CriticRounds     int     `toml:"critic_rounds"` // d_rounds per generator round
	// EMA is the decay of an exponential moving average of the generator's
	// weights that checkpoints keep and generation uses (Yazıcı et al.,
	// ICLR 2019); 0 generates from the trained weights themselves.
	EMA float64 `toml:"ema"`
	// LengthWeighting draws training flows with probability ∝ their
	// records, capped at the 99th percentile of the training flows'
	// lengths, and generation keeps a generated flow of n records with
	// probability 1/min(n, cap), which undoes the weighting (rejection
	// sampling). A trace whose longest flows are a few in thousands (CAIDA:
	// 9 flows of 100+ packets hold 19% of the packets) otherwise shows
	// them to the critic in a quarter of the batches, and the generator
	// drops them. Not under DP, whose accountant assumes uniform sampling.
	LengthWeighting bool `toml:"length_weighting"`
	// LengthBins gives each flow a length category: one per power of two
	// of records ([1], [2,3], [4,7], …, up to the longest flow), drawn
	// from the training flows' distribution (under DP, from the noisy one
	// SetLengthDist gives). Both generators are conditioned on it, and its
	// range bounds where the generation flags may end the flow, so lengths
	// no longer emerge from one end flag per record, which drops a heavy
	// tail (docs/gan.md, "Length bins"). Models of flows of one record
	// have no bins.
	LengthBins bool `toml:"length_bins"`
	// DP turns on DP-SGD on both critics; nil trains without privacy.
	DP *DPConfig `toml:"-"` // set from the pipeline's [privacy] section
}

// DPConfig is per-example clipping to norm Clip of each critic's gradient,
// then Gaussian noise of standard deviation Noise·Clip on the sum.
type DPConfig struct {
	Clip  float64 `toml:"clip"`
	Noise float64 `toml:"noise"`
	// Reproducible derives the noise and the batch draw from the seed
	// instead of crypto/rand: for tests only, since it voids the guarantee
	// (privacyRand says why).
	Reproducible bool `toml:"-"`
}

// DefaultConfig returns NetShare's settings (§3.5 of the notes).
func DefaultConfig() Config {
	return Config{
		AttrNoiseDim: 5, FeatNoiseDim: 5,
		AttrGenLayers: 5, AttrGenUnits: 512,
		LSTMUnits: 100, SampleLen: 10,
		CriticLayers: 5, CriticUnits: 512,
		AttrCriticLayers: 5, AttrCriticUnits: 512,
		GPLambda: 10, AttrCriticWeight: 1,
		LearningRate: 1e-4, Beta1: 0.5, Beta2: 0.999, AdamEps: 1e-8,
		BatchSize: 100, CriticRounds: 5, LengthBins: true,
	}
}

// Validate refuses settings the model cannot run with.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s = %d, want > 0", name, v))
		}
	}
	pos("attr_noise_dim", c.AttrNoiseDim)
	pos("feat_noise_dim", c.FeatNoiseDim)
	pos("attr_gen_layers", c.AttrGenLayers)
	pos("attr_gen_units", c.AttrGenUnits)
	pos("lstm_units", c.LSTMUnits)
	pos("sample_len", c.SampleLen)
	pos("critic_layers", c.CriticLayers)
	pos("attr_critic_layers", c.AttrCriticLayers)
	pos("batch_size", c.BatchSize)
	pos("critic_rounds", c.CriticRounds)
	if c.CriticLayers > 1 {
		pos("critic_units", c.CriticUnits)
	}
	if c.AttrCriticLayers > 1 {
		pos("attr_critic_units", c.AttrCriticUnits)
	}
	if c.CriticLayers < 2 || c.AttrCriticLayers < 2 {
		errs = append(errs, errors.New("critic_layers and attr_critic_layers must be ≥ 2 (at least one hidden layer)"))
	}
	if c.LearningRate <= 0 || c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1 || c.AdamEps <= 0 {
		errs = append(errs, fmt.Errorf("adam: learning_rate %g beta1 %g beta2 %g adam_eps %g out of range",
			c.LearningRate, c.Beta1, c.Beta2, c.AdamEps))
	}
	if c.GPLambda < 0 || c.AttrCriticWeight < 0 {
		errs = append(errs, fmt.Errorf("gp_lambda %g and attr_critic_weight %g must be ≥ 0", c.GPLambda, c.AttrCriticWeight))
	}
	if c.LengthWeighting && c.DP != nil {
		errs = append(errs, errors.New("length_weighting with DP-SGD: the privacy accountant assumes every flow is drawn with the same probability"))
	}
	if c.EMA < 0 || c.EMA >= 1 {
		errs = append(errs, fmt.Errorf("ema %g must be in [0, 1)", c.EMA))
	}
	if c.DP != nil && (c.DP.Clip <= 0 || c.DP.Noise < 0) {
		errs = append(errs, fmt.Errorf("dp: clip %g must be > 0 and noise %g ≥ 0", c.DP.Clip, c.DP.Noise))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gan config: %w", err)
	}
	return nil
}
