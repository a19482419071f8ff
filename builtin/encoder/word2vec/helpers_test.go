package word2vec

import (
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

// The shared test support: real data from enctest, the wire protocol from
// sdktest.

type wire = sdktest.Wire

func newWire(t testing.TB) *wire                   { return sdktest.NewWire(t) }
func dataDir(t testing.TB) string                  { return enctest.DataDir(t) }
func loadUGR(t testing.TB) *abi.Batch              { return enctest.LoadUGR(t) }
func sub(b *abi.Batch, names ...string) *abi.Batch { return sdktest.Columns(b, names...) }

// envFor is the environment the host gives a word2vec field with default
// params.
func envFor(col string) sdk.Env {
	return sdk.Env{Column: col, Seed: 1, Params: sdk.Params{
		"vector_size": int64(10), "window": int64(5), "negative": int64(5), "epochs": int64(5),
		"alpha": 0.025, "min_alpha": 0.0001, "min_count": int64(1), "sample": 1e-3, "max_sentences": int64(DefaultMaxSentences),
		"sentence": []string{"srcport", "dstport", "proto"},
		"kinds":    map[string]string{"srcport": "port", "dstport": "port", "proto": "proto"},
		"private":  false,
	}}
}

// embeddingOnly are params that turn popular categories off, for tests of
// the embedding and its decode alone.
func embeddingOnly() map[string]any { return map[string]any{"min_flows": int64(0)} }
