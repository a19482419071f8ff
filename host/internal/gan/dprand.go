package gan

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
)

// privacyRand returns the randomness that DP-SGD's guarantee rests on: the
// Poisson batch draw and the Gaussian noise on the critics' gradients.
//
// DP assumes an adversary who knows every record but one. The pipeline's
// seed is public (it is in the TOML and in every artifact), so noise drawn
// from it could be replayed with and without the target record and
// subtracted out. Under DP this randomness therefore comes from a ChaCha8
// stream keyed with 32 bytes of crypto/rand, a cryptographically strong
// generator (docs/privacy.md, "Where the noise comes from"); the seed still
// drives initialisation, generator noise and generation.
//
// DPConfig.Reproducible replaces the key with one derived from the model's
// seed and step, so that tests can replay a DP run exactly, also across a
// resume. Such a run is not private, and the run's privacy.json and report
// say so.
func (m *Model) privacyRand() *rand.Rand {
	if m.cfg.DP.Reproducible {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[0:], uint64(m.seed))
		binary.LittleEndian.PutUint64(key[8:], uint64(m.step))
		copy(key[16:], "netshare-dp-test")
		return rand.New(rand.NewChaCha8(key))
	}
	if m.dprng == nil {
		m.dprng = rand.New(rand.NewChaCha8(CryptoKey()))
	}
	return m.dprng
}

// CryptoKey returns 32 bytes from crypto/rand, the key of every generator
// whose output must not be predictable from the run's seed.
func CryptoKey() [32]byte {
	var key [32]byte
	// crypto/rand.Read never returns an error on supported platforms and
	// crashes the program irrecoverably where the OS has no entropy source.
	crand.Read(key[:])
	return key
}
