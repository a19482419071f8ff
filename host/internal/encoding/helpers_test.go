package encoding

import (
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/host/internal/flow"
)

func dataDir(t testing.TB) string     { return enctest.DataDir(t) }
func loadUGR(t testing.TB) *abi.Batch { return enctest.LoadUGR(t) }

// split cuts the records into n fixed-time chunks of 5-tuple flows.
func split(t testing.TB, b *abi.Batch, n int) *flow.Set {
	t.Helper()
	set, err := flow.Split(b, flow.Options{Chunks: n})
	if err != nil {
		t.Fatal(err)
	}
	return set
}
