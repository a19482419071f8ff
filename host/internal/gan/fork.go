package gan

import "fmt"

// Fork returns a copy of m, weights and optimizer state, whose step count
// starts at zero and whose random numbers come from seed: how a later chunk
// starts from chunk 0's final model. The chunks can train in other
// processes or on other machines from chunk 0's saved checkpoint, with
// identical results.
func (m *Model) Fork(seed int64) (*Model, error) { return m.cloneWith(m.cfg, seed) }

// ChunkSeed is the seed chunk k trains with (its Fork's seed for k > 0),
// so a chunk's result depends only on the run's seed, not on which worker
// trains it or when.
func ChunkSeed(seed int64, k int) int64 { return seed + int64(k)*1_000_003 }

// ForkWith is Fork under another training configuration: the same
// architecture, trained on with cfg's optimiser settings and DP. Public
// pretraining uses it to fine-tune a model trained without privacy on a
// public trace, with DP-SGD on the private one.
func (m *Model) ForkWith(cfg Config, seed int64) (*Model, error) {
	a, b := cfg, m.cfg
	if a.AttrNoiseDim != b.AttrNoiseDim || a.FeatNoiseDim != b.FeatNoiseDim ||
		a.AttrGenLayers != b.AttrGenLayers || a.AttrGenUnits != b.AttrGenUnits ||
		a.LSTMUnits != b.LSTMUnits || a.SampleLen != b.SampleLen ||
		a.CriticLayers != b.CriticLayers || a.CriticUnits != b.CriticUnits ||
		a.AttrCriticLayers != b.AttrCriticLayers || a.AttrCriticUnits != b.AttrCriticUnits ||
		a.LengthBins != b.LengthBins {
		return nil, fmt.Errorf("gan: the pretrained model's architecture differs from this configuration's (layers, units, noise dims, sample_len and length_bins must match)")
	}
	return m.cloneWith(cfg, seed)
}
